//! The `butane-config` examples of Butane's documentation (examples.md,
//! getting-started.md, upgrading-fcos.md, upgrading-flatcar.md), written
//! out under `tests/data/docs-examples/`. Upstream documents — and checks
//! in its own test script — that each of them translates with `--strict`
//! (no warnings at all) against a files directory holding the files the
//! examples reference; that is the expectation here.

use std::path::Path;

use reignite_butane::{run_cli, Options};

fn files_dir(d: &Path) {
    for (name, body) in [
        ("config.ign", ""),
        ("ca.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
        ("example.conf", "[Service]\nEnvironment=A=B\n"),
        ("example.service", "[Unit]\nDescription=Example\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"),
        ("file", "file contents\n"),
        ("file-epilogue", "epilogue\n"),
        ("local-file3", "local file 3\n"),
        ("id_rsa.pub", "ssh-rsa AAAA"),
        ("id_ed25519.pub", "ssh-ed25519 AAAA"),
        ("ignition.ign", "{\"ignition\": {\"version\": \"3.5.0\"}}"),
    ] {
        std::fs::write(d.join(name), body).unwrap();
    }
    std::fs::create_dir(d.join("tree")).unwrap();
}

#[test]
fn documented_examples_translate_strictly() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/docs-examples");
    let dir = tempfile::tempdir().unwrap();
    files_dir(dir.path());
    let opts = Options {
        files_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let mut names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for p in &names {
        let input = std::fs::read(p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let out = run_cli(&input, &name, &opts, true, true, false);
        if out.code != 0 {
            failures.push(format!("{name}:\n{}", out.stderr));
        }
    }
    println!(
        "docs examples: {} of {} translate under --strict",
        names.len() - failures.len(),
        names.len()
    );
    assert!(names.len() >= 50);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `variant: flatcar` snippets of the Flatcar website
/// (`content/docs/latest/**`), written out under
/// `tests/data/flatcar-website/` — all except those that embed files from a
/// files directory the docs do not provide and two snippets that are not
/// valid Butane (an old Container Linux Config layout and a mis-indented
/// list). Published as working configs: each must translate with an empty
/// report, and every 1.0.0 translation must pass Debian's
/// `ignition-validate` silently when it is installed.
#[test]
fn flatcar_website_examples_translate_cleanly() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flatcar-website");
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        files_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let validator = std::process::Command::new("ignition-validate")
        .arg("--version")
        .output()
        .is_ok();
    if !validator {
        eprintln!("note: ignition-validate not installed; checking translations only");
    }
    let mut names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let (mut validated, mut failures) = (0, Vec::new());
    for p in &names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let t = match reignite_butane::translate(&std::fs::read(p).unwrap(), &opts) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: {} {:?}", e.error, e.report));
                continue;
            }
        };
        if !t.report.entries.is_empty() {
            failures.push(format!("{name}: {:?}", t.report));
        }
        if validator && t.spec.version == "1.0.0" {
            let f = dir.path().join("out.ign");
            std::fs::write(&f, &t.json).unwrap();
            let o = std::process::Command::new("ignition-validate")
                .arg(&f)
                .output()
                .unwrap();
            if !o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty() {
                failures.push(format!(
                    "{name}: ignition-validate: {}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
            validated += 1;
        }
    }
    println!(
        "flatcar website: {} snippets translated, {validated} validated by ignition-validate, {} failures",
        names.len(),
        failures.len()
    );
    assert!(names.len() >= 140);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
