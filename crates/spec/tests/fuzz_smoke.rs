//! A short fuzzing run inside the test suite: a few thousand random and
//! mutated inputs through `reignite_spec::parse`, checked with the same
//! properties as the cargo-fuzz target (`reignite_spec::fuzz_check`).
//! Mutations start from valid configs so that deep paths (validation,
//! translation, round trip) are reached, not only the JSON scanner.

use proptest::prelude::*;

const SEEDS: &[&str] = &[
    r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/motd","mode":420,"contents":{"source":"data:,hello"}}],"links":[{"path":"/l","target":"/t"}],"directories":[{"path":"/d","mode":493}]},"systemd":{"units":[{"name":"a.service","enabled":true,"contents":"[Unit]\n[Install]\nWantedBy=multi-user.target"}]}}"#,
    r#"{"ignition":{"version":"3.0.0","config":{"merge":[{"source":"https://x/y"}]}},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA"],"groups":["wheel"]}]}}"#,
    r#"{"ignition":{"version":"3.4.0","proxy":{"httpProxy":"http://p:3128","noProxy":["a"]}},"storage":{"luks":[{"name":"r","device":"/dev/sda","clevis":{"tang":[{"url":"http://t","thumbprint":"x","advertisement":"{}"}]}}],"disks":[{"device":"/dev/sda","partitions":[{"number":1,"label":"x","sizeMiB":100}]}],"filesystems":[{"device":"/dev/sda1","format":"ext4","path":"/var","options":["-L","x"]}]},"kernelArguments":{"shouldExist":["quiet"]}}"#,
    r#"{"ignition":{"version":"3.6.0"},"storage":{"files":[{"path":"/f","mode":3565,"overwrite":true,"contents":{"source":"data:;base64,aGk=","compression":"","verification":{"hash":"sha256-2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}},"append":[{"source":"data:,x"}]}],"raid":[{"name":"md0","level":"raid1","devices":["/dev/a","/dev/b"]}]}}"#,
];

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "1e3",
    "-0",
    "\"Path\"",
    "\"path\":",
    "\\u00e9",
    "\\ud800",
    "\u{ff}",
    " ",
    "\n",
    "420",
    "\"3.3.0\"",
    "\"mode\":",
    "[null]",
];

fn mutate(seed: &str, ops: &[(usize, u8, usize)]) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for &(pos, op, arg) in ops {
        if b.is_empty() {
            break;
        }
        let p = pos % (b.len() + 1);
        match op % 4 {
            0 => {
                let t = TOKENS[arg % TOKENS.len()].as_bytes();
                b.splice(p..p, t.iter().copied());
            }
            1 => {
                let end = (p + arg % 8).min(b.len());
                b.drain(p..end);
            }
            2 => {
                if p < b.len() {
                    b[p] = (arg % 256) as u8;
                }
            }
            _ => b.truncate(p.max(1)),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs(seed in 0..SEEDS.len(), ops in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 0..6)) {
        let input = mutate(SEEDS[seed], &ops);
        reignite_spec::fuzz_check(&input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        reignite_spec::fuzz_check(&data);
    }
}

#[test]
fn seeds_are_accepted() {
    // Guards the smoke test itself: mutations must start from configs that
    // reach validation and translation.
    for s in SEEDS {
        reignite_spec::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{e}: {}", e.report()));
        reignite_spec::fuzz_check(s.as_bytes());
    }
    println!(
        "fuzz smoke: 2500 mutated configs from {} seeds + 1000 random inputs",
        SEEDS.len()
    );
}
