//! `reignite slots` end to end on a small Flatcar-layout image built by
//! sgdisk: output, exit codes, refusals that leave the image unchanged, and
//! the booted-slot logic. Skips with a reason when sgdisk is missing.

use std::path::Path;
use std::process::{Command, Output};

const USR: &str = "5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6";

fn have_sgdisk(test: &str) -> bool {
    let ok = Command::new("sgdisk").arg("--version").output().is_ok();
    if !ok {
        eprintln!("SKIP {test}: sgdisk (Debian package gdisk) is not installed");
    }
    ok
}

fn image(dir: &Path) -> std::path::PathBuf {
    let img = dir.join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let a = format!("3:{USR}");
    let b = format!("4:{USR}");
    let out = Command::new("sgdisk")
        .args([
            "-n",
            "1:2048:+8M",
            "-c",
            "1:EFI-SYSTEM",
            "-n",
            "3:0:+16M",
            "-t",
            &a,
            "-c",
            "3:USR-A",
        ])
        .args([
            "-u",
            "3:7130c94a-213a-4e5a-8e26-6cce9662f132",
            "-A",
            "3:set:48",
            "-A",
            "3:set:56",
        ])
        .args([
            "-n",
            "4:0:+16M",
            "-t",
            &b,
            "-c",
            "4:USR-B",
            "-u",
            "4:e03dd35c-7c2d-4a47-b3fe-27f15780a57c",
        ])
        .args(["-n", "9:0:0", "-c", "9:ROOT"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(out.status.success());
    img
}

fn slots(img: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reignite"))
        .arg("slots")
        .arg("--device")
        .arg(img)
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[test]
fn status_json_next_and_cycle() {
    if !have_sgdisk("status_json_next_and_cycle") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let o = slots(&img, &["status", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["health"], "clean");
    assert_eq!(v["next_boot"], "USR-A");
    assert_eq!(
        v["booted"],
        serde_json::Value::Null,
        "an image file has no booted slot"
    );
    assert_eq!(v["slots"][0]["partition"], 3);
    assert_eq!(v["slots"][0]["attributes"], "0x0101000000000000");
    assert_eq!(v["slots"][1]["size_bytes"], 16 << 20);

    // Without --booted, commands that need it say how to fix it.
    let o = slots(&img, &["activate"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("pass --booted USR-A or --booted USR-B"),
        "{}",
        text(&o.stderr)
    );

    let o = slots(&img, &["--booted", "USR-A", "activate"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("USR-B: P0 T0 S0 -> P2 T1 S0"),
        "{}",
        text(&o.stderr)
    );

    let o = slots(&img, &["next", "--simulate-boots", "2"]);
    assert_eq!(
        text(&o.stdout),
        "USR-B\n\nBOOT  BOOTED  USR-A     USR-B\n0     -       P1 T0 S1  P2 T1 S0\n1     USR-B   P1 T0 S1  P2 T0 S0\n2     USR-A   P1 T0 S1  P2 T0 S0\n"
    );
    let o = slots(&img, &["next", "--simulate-boots", "2", "--mark-good"]);
    assert!(
        text(&o.stdout).contains("2     USR-B   P1 T0 S1  P2 T0 S1  (marked good)"),
        "{}",
        text(&o.stdout)
    );

    let o = slots(&img, &["--booted", "B", "rollback"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("next boot: USR-A"),
        "{}",
        text(&o.stderr)
    );
    let o = slots(&img, &["--booted", "A", "mark-bad", "--slot", "B"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = slots(&img, &["--booted", "A", "mark-bad"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("marking USR-A bad would leave no bootable slot"));
    let o = slots(&img, &["repair"]);
    assert!(text(&o.stderr).contains("nothing to do"));
}

#[test]
fn install_refusals_leave_the_image_alone() {
    if !have_sgdisk("install_refusals_leave_the_image_alone") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path());
    let before = std::fs::read(&img).unwrap();
    let payload = dir.path().join("p");
    std::fs::write(&payload, vec![7u8; 100_000]).unwrap();
    let p = payload.to_str().unwrap();
    let zero = "0".repeat(64);
    let cases: [(&[&str], &str); 4] = [
        (
            &["--booted", "A", "install", p, "--sha256", &zero],
            "expected sha256 0000",
        ),
        (
            &["--booted", "A", "install", p, "--target", "A"],
            "refusing to overwrite USR-A, the booted slot",
        ),
        (&["install", p], "pass --booted"),
        (
            &["--booted", "A", "install", p, "--signature", p],
            "--signature needs --key",
        ),
    ];
    for (args, want) in cases {
        let o = slots(&img, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            text(&o.stderr).contains(want),
            "{args:?}: {}",
            text(&o.stderr)
        );
        assert!(
            std::fs::read(&img).unwrap() == before,
            "{args:?} changed the image"
        );
    }
    let key = dir.path().join("key");
    std::fs::write(&key, [1u8; 32]).unwrap();
    let sig = dir.path().join("sig");
    std::fs::write(&sig, [0u8; 64]).unwrap();
    let o = slots(
        &img,
        &[
            "--booted",
            "A",
            "install",
            p,
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        text(&o.stderr).contains("a detached signature (--signature) is required"),
        "{}",
        text(&o.stderr)
    );
    let o = slots(
        &img,
        &[
            "--booted",
            "A",
            "install",
            p,
            "--key",
            key.to_str().unwrap(),
            "--signature",
            sig.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(std::fs::read(&img).unwrap() == before);

    let o = slots(&img, &["--booted", "A", "install", p, "--activate"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("installed 100000 bytes into USR-B"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("activated for the next boot"));
    assert!(!dir.path().join("disk.img.slots-journal").exists());
}
