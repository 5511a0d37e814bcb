//! Independent oracles for translated configs:
//!
//! * Debian's `ignition-validate` (Ignition 2.14, specs ≤ 3.3) accepts every
//!   translation of a `flatcar` 1.0.0 or `fcos` ≤ 1.4 input (skips when the
//!   binary is absent);
//! * round trip: every translation parses with `reignite_spec::parse`
//!   without errors, and its set of files, directories and links equals
//!   the set declared in the Butane input (explicit entries plus the nodes
//!   of `storage.trees`, found by walking the files directory here, plus
//!   the GRUB `user.cfg` of `grub.users`).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use reignite_butane::yaml::{self, Kind, Node};
use reignite_butane::{translate, Options};

/// Extra inputs covering each sugar in the versions ignition-validate knows.
const EXTRA: &[&str] = &[
    "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/motd\n      mode: 0644\n      contents:\n        inline: |\n          hello <world> & friends\n    - path: /etc/big\n      contents:\n        inline: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n    - path: /etc/hosts\n      append:\n        - inline: \"127.0.0.1 x\\n\"\n",
    "variant: flatcar\nversion: 1.0.0\nstorage:\n  luks:\n    - name: data\n      device: /dev/vdb\n      key_file:\n        inline: secret\n  filesystems:\n    - device: /dev/mapper/data\n      path: /var/lib/data\n      format: ext4\n      with_mount_unit: true\n      mount_options: [noatime]\n    - device: /dev/vdc\n      format: swap\n      with_mount_unit: true\n",
    "variant: flatcar\nversion: 1.0.0\nignition:\n  config:\n    merge:\n      - inline: '{\"ignition\": {\"version\": \"3.3.0\"}}'\n  security:\n    tls:\n      certificate_authorities:\n        - inline: \"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\"\nkernel_arguments:\n  should_exist: [quiet]\n",
    "variant: fcos\nversion: 1.4.0\nboot_device:\n  layout: x86_64\n  luks:\n    tang:\n      - url: https://tang.example.com\n        thumbprint: abc\n    threshold: 1\n  mirror:\n    devices: [/dev/sda, /dev/sdb]\n",
    "variant: fcos\nversion: 1.3.0\nboot_device:\n  layout: ppc64le\n  mirror:\n    devices: [/dev/sda, /dev/sdb]\n",
    "variant: fcos\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/a\n      contents:\n        inline: a\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys: [\"ssh-ed25519 AAAA\"]\n",
    "variant: fcos\nversion: 1.2.0\nstorage:\n  luks:\n    - name: data\n      device: /dev/vdb\n      clevis:\n        tpm2: true\n",
];

struct Input {
    name: String,
    bytes: Vec<u8>,
    files_dir: Option<PathBuf>,
}

fn inputs(scratch: &Path) -> Vec<Input> {
    let mut v: Vec<Input> = EXTRA
        .iter()
        .enumerate()
        .map(|(i, y)| Input {
            name: format!("extra-{i}"),
            bytes: y.as_bytes().to_vec(),
            files_dir: None,
        })
        .collect();
    v.extend(golden_inputs());
    match common::manifest() {
        None => eprintln!("note: conformance cases absent; oracle runs on built-in inputs only"),
        Some(m) => {
            for case in m["cases"].as_array().unwrap() {
                let name = case["name"].as_str().unwrap().to_string();
                let dir = scratch.join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                let files_dir = common::materialize(case, &dir).map(|b| dir.join(b));
                v.push(Input {
                    bytes: common::input(case),
                    name,
                    files_dir,
                });
            }
        }
    }
    v
}

/// The documentation examples of `tests/golden/` (our own inputs; their
/// optional `files/` directory is the `--files-dir`).
fn golden_inputs() -> Vec<Input> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| Input {
            name: format!("golden-{}", d.file_name().unwrap().to_string_lossy()),
            bytes: std::fs::read(d.join("input.bu")).unwrap(),
            files_dir: Some(d.join("files")).filter(|f| f.is_dir()),
        })
        .collect()
}

fn translated(inp: &Input) -> Option<(String, Vec<u8>)> {
    let opts = Options {
        files_dir: inp.files_dir.clone(),
        ..Options::default()
    };
    let t = translate(&inp.bytes, &opts).ok()?;
    Some((format!("{:?} {}", t.spec.variant, t.spec.version), t.json))
}

#[test]
fn ignition_validate_accepts_translations_up_to_3_3() {
    if Command::new("ignition-validate")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: ignition-validate not installed (Debian package `ignition`)");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for inp in inputs(scratch.path()) {
        let Some((spec, json)) = translated(&inp) else {
            continue;
        };
        let old =
            spec == "Flatcar 1.0.0" || (spec.starts_with("Fcos 1.") && spec.as_bytes()[7] <= b'4');
        if !old {
            continue;
        }
        let f = scratch.path().join(format!("{}.ign", inp.name));
        std::fs::write(&f, &json).unwrap();
        let out = Command::new("ignition-validate").arg(&f).output().unwrap();
        checked += 1;
        if !out.status.success() {
            failures.push(format!(
                "{} ({spec}): {}{}",
                inp.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    println!(
        "ignition-validate: {} of {checked} translations accepted",
        checked - failures.len()
    );
    assert!(
        checked >= EXTRA.len(),
        "only {checked} translations checked"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

fn str_at<'a>(n: &'a Node, key: &str) -> Option<&'a str> {
    n.resolved().get(key).and_then(|v| v.resolved().scalar())
}

fn items(n: Option<&std::rc::Rc<Node>>) -> Vec<&Node> {
    match n.map(|n| &n.resolved().kind) {
        Some(Kind::Seq(items)) => items.iter().map(|i| i.resolved()).collect(),
        _ => Vec::new(),
    }
}

fn walk(dir: &Path, dest: &str, files: &mut BTreeSet<String>, links: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let d = if dest.ends_with('/') {
            format!("{dest}{name}")
        } else {
            format!("{dest}/{name}")
        };
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(&e.path(), &d, files, links);
        } else if ft.is_symlink() {
            links.insert(d);
        } else {
            files.insert(d);
        }
    }
}

/// (files, directories, links) the Butane input declares.
fn declared(inp: &Input) -> [BTreeSet<String>; 3] {
    let text = String::from_utf8(inp.bytes.clone()).unwrap();
    let root = yaml::parse(&text).unwrap().unwrap();
    let storage = root.get("storage").map(|s| s.resolved());
    let paths = |key: &str| -> BTreeSet<String> {
        storage
            .map(|s| {
                items(s.get(key))
                    .into_iter()
                    .filter_map(|i| str_at(i, "path"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (mut files, dirs, mut links) = (paths("files"), paths("directories"), paths("links"));
    if let Some(s) = storage {
        for t in items(s.get("trees")) {
            let local = str_at(t, "local").unwrap();
            let dest = str_at(t, "path").unwrap_or("/").to_string();
            let dest = if dest.len() > 1 {
                dest.trim_end_matches('/').to_string()
            } else {
                dest
            };
            walk(
                &inp.files_dir.as_ref().unwrap().join(local),
                &dest,
                &mut files,
                &mut links,
            );
        }
    }
    // Podman quadlets (fcos 1.8 / flatcar 1.2 experimental): a file under
    // /etc/containers/systemd (rootful) or .../users, each drop-in a file in
    // `<name>.d/`, and a template instance (`a@b.ext`) a link instead.
    if let Some(sd) = root.get("systemd") {
        for q in items(sd.resolved().get("quadlets")) {
            let name = str_at(q, "name").unwrap();
            let rootful = str_at(q, "rootful") == Some("true");
            let dir = if rootful {
                "/etc/containers/systemd"
            } else {
                "/etc/containers/systemd/users"
            };
            let instance = name.contains('@') && !name.contains("@.");
            if instance {
                links.insert(format!("{dir}/{name}"));
            } else {
                files.insert(format!("{dir}/{name}"));
            }
            for d in items(q.get("dropins")) {
                files.insert(format!("{dir}/{name}.d/{}", str_at(d, "name").unwrap()));
            }
        }
    }
    if root.get("grub").is_some() {
        files.insert("/boot/grub2/user.cfg".into());
    }
    [files, dirs, links]
}

#[test]
fn round_trip_through_spec_parse_keeps_the_declared_nodes() {
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for inp in inputs(scratch.path()) {
        let Some((spec, json)) = translated(&inp) else {
            continue;
        };
        let parsed = match reignite_spec::parse(&json) {
            Ok(p) => p,
            Err(e) => panic!(
                "{} ({spec}): spec parse failed: {e} {:?}",
                inp.name,
                e.report()
            ),
        };
        assert!(
            !parsed.report.is_fatal(),
            "{}: {:?}",
            inp.name,
            parsed.report
        );
        let st = &parsed.config.storage;
        let got = [
            st.files
                .iter()
                .map(|f| f.node.path.clone())
                .collect::<BTreeSet<_>>(),
            st.directories.iter().map(|f| f.node.path.clone()).collect(),
            st.links.iter().map(|f| f.node.path.clone()).collect(),
        ];
        assert_eq!(got, declared(&inp), "{} ({spec})", inp.name);
        checked += 1;
    }
    println!("round trip: {checked} translations parsed with declared node sets");
    assert!(checked >= EXTRA.len());
}
