//! A stable-toolchain stand-in for the cargo-fuzz target
//! (`crates/butane/fuzz`): seeded byte and line mutations of valid Butane
//! inputs go through detection, translation and both report formats; none
//! may panic or take long.

use reignite_butane::{format_report, is_butane, translate, Options};

const SEEDS: &[&str] = &[
    "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/motd\n      mode: 0644\n      contents:\n        inline: hi\n",
    "variant: fcos\nversion: 1.6.0\nboot_device:\n  layout: x86_64\n  luks:\n    tpm2: true\n  mirror:\n    devices: [/dev/sda, /dev/sdb]\ngrub:\n  users:\n    - name: root\n      password_hash: x\n",
    "variant: flatcar\nversion: 1.1.0\nsystemd:\n  units:\n    - &u\n      name: a.service\n      enabled: true\n      contents: \"[Install]\\nWantedBy=x\\n\"\n    - <<: *u\n      name: b.service\nstorage:\n  filesystems:\n    - device: /dev/vdb\n      path: /var/x\n      format: xfs\n      with_mount_unit: true\n",
    "variant: fcos\nversion: 1.8.0-experimental\nsystemd:\n  quadlets:\n    - name: a.container\n      contents: x\nignition:\n  config:\n    merge:\n      - inline: '{\"ignition\":{\"version\":\"3.7.0-experimental\"}}'\n",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"&a ",
    b"*a",
    b"<<: ",
    b"- ",
    b": ",
    b"\n",
    b"  ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b"'",
    b"|",
    b">",
    b"0x",
    b"0o7",
    b"~",
    b"null",
    b"yes",
    b"\t",
    b"\xff",
    b"local: ../x",
    b"inline: ",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1).min(v.len());
        match rng.below(4) {
            0 if !v.is_empty() => {
                let end = (at + rng.below(8)).min(v.len());
                v.drain(at.min(end)..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if at < v.len() => v[at] = rng.next() as u8,
            _ => {
                // duplicate a line
                let text = String::from_utf8_lossy(&v).into_owned();
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let l = lines[rng.below(lines.len())];
                    let breaks: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
                    let pos = if breaks.is_empty() {
                        0
                    } else {
                        breaks[rng.below(breaks.len())]
                    };
                    let mut out = text.clone();
                    out.insert_str(pos, &format!("{l}\n"));
                    v = out.into_bytes();
                }
            }
        }
    }
    v
}

#[test]
fn mutated_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x"), "x").unwrap();
    let opts = Options {
        files_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = std::time::Instant::now();
    let (mut ok, mut failed) = (0, 0);
    let iters: usize = std::env::var("FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    for i in 0..iters {
        let seed = SEEDS[i % SEEDS.len()].as_bytes();
        let input = mutate(&mut rng, seed);
        let _ = is_butane(&input);
        let report = match translate(&input, &opts) {
            Ok(t) => {
                ok += 1;
                // Round trip: whatever we emit is a valid Ignition config.
                let parsed = reignite_spec::parse(&t.json).expect("translation output parses");
                assert!(!parsed.report.is_fatal());
                t.report
            }
            Err(e) => {
                failed += 1;
                e.report
            }
        };
        let _ = format_report(&report, false, "f.bu", &input, false);
        let _ = format_report(&report, true, "f.bu", &input, false);
    }
    println!(
        "fuzz smoke: {ok} translated, {failed} rejected in {:?}",
        start.elapsed()
    );
    assert!(
        ok > iters / 30 && failed > iters / 30,
        "mutations too mild or too harsh: {ok}/{failed}"
    );
}
