//! Shared helpers for the slot manager's integration tests: Flatcar-layout
//! disk images built by `sgdisk`, and `sgdisk` as an independent oracle.
#![allow(dead_code)]

pub mod build;

use std::path::Path;
use std::process::Command;

pub const USR: &str = "5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6";
pub const USR_A: &str = "7130c94a-213a-4e5a-8e26-6cce9662f132";
pub const USR_B: &str = "e03dd35c-7c2d-4a47-b3fe-27f15780a57c";

/// Sectors of the classic (2023-07 … 2025-09) Flatcar image.
pub const CLASSIC_SECTORS: u64 = 9_289_728;

/// True when sgdisk is installed; prints why a test is skipped otherwise.
pub fn have_sgdisk(test: &str) -> bool {
    let ok = Command::new("sgdisk").arg("--version").output().is_ok();
    if !ok {
        eprintln!("SKIP {test}: sgdisk (Debian package gdisk) is not installed");
    }
    ok
}

pub fn sgdisk(args: &[&str], image: &Path) -> std::process::Output {
    Command::new("sgdisk")
        .args(args)
        .arg(image)
        .output()
        .expect("running sgdisk")
}

/// Creates the classic Flatcar layout (ab-slots.md §3) as a sparse image:
/// partitions 1, 2, 3, 4, 6, 7, 9 with gaps at 5 and 8, USR-A P1 S1.
pub fn flatcar_classic(image: &Path, extra: &[&str]) {
    let f = std::fs::File::create(image).unwrap();
    f.set_len(CLASSIC_SECTORS * 512).unwrap();
    drop(f);
    let usr_a_type = format!("3:{USR}");
    let usr_b_type = format!("4:{USR}");
    let usr_a_guid = format!("3:{USR_A}");
    let usr_b_guid = format!("4:{USR_B}");
    let mut args = vec![
        "--disk-guid=00000000-0000-0000-0000-000000000001",
        "-n",
        "1:4096:266239",
        "-t",
        "1:c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
        "-c",
        "1:EFI-SYSTEM",
        "-n",
        "2:266240:270335",
        "-t",
        "2:21686148-6449-6e6f-744e-656564454649",
        "-c",
        "2:BIOS-BOOT",
        "-n",
        "3:270336:2367487",
        "-t",
        &usr_a_type,
        "-c",
        "3:USR-A",
        "-u",
        &usr_a_guid,
        "-A",
        "3:set:48",
        "-A",
        "3:set:56",
        "-n",
        "4:2367488:4464639",
        "-t",
        &usr_b_type,
        "-c",
        "4:USR-B",
        "-u",
        &usr_b_guid,
        "-n",
        "6:4464640:4726783",
        "-t",
        "6:0fc63daf-8483-4772-8e79-3d69d8477de4",
        "-c",
        "6:OEM",
        "-n",
        "7:4726784:4857855",
        "-t",
        "7:c95dc21a-df0e-4340-8d7b-26cbfa9a03e0",
        "-c",
        "7:OEM-CONFIG",
        "-n",
        "9:4857856:9285631",
        "-t",
        "9:3884dd41-8582-4404-b9a8-e9b84f2df50e",
        "-c",
        "9:ROOT",
    ];
    args.extend_from_slice(extra);
    let out = sgdisk(&args, image);
    assert!(
        out.status.success(),
        "sgdisk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small disk (64 MiB) with Flatcar's partition set scaled down, for tests
/// that write payloads or copy whole images. `extra` goes to sgdisk as is.
pub fn flatcar_small(image: &Path, extra: &[&str]) {
    let f = std::fs::File::create(image).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    let a_t = format!("3:{USR}");
    let b_t = format!("4:{USR}");
    let a_g = format!("3:{USR_A}");
    let b_g = format!("4:{USR_B}");
    let mut args = vec![
        "--disk-guid=00000000-0000-0000-0000-000000000001",
        "-n",
        "1:2048:+8M",
        "-t",
        "1:c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
        "-c",
        "1:EFI-SYSTEM",
        "-n",
        "2:0:+1M",
        "-t",
        "2:21686148-6449-6e6f-744e-656564454649",
        "-c",
        "2:BIOS-BOOT",
        "-n",
        "3:0:+16M",
        "-t",
        &a_t,
        "-c",
        "3:USR-A",
        "-u",
        &a_g,
        "-A",
        "3:set:48",
        "-A",
        "3:set:56",
        "-n",
        "4:0:+16M",
        "-t",
        &b_t,
        "-c",
        "4:USR-B",
        "-u",
        &b_g,
        "-n",
        "6:0:+4M",
        "-t",
        "6:0fc63daf-8483-4772-8e79-3d69d8477de4",
        "-c",
        "6:OEM",
        "-n",
        "7:0:+2M",
        "-t",
        "7:c95dc21a-df0e-4340-8d7b-26cbfa9a03e0",
        "-c",
        "7:OEM-CONFIG",
        "-n",
        "9:0:0",
        "-t",
        "9:3884dd41-8582-4404-b9a8-e9b84f2df50e",
        "-c",
        "9:ROOT",
    ];
    args.extend_from_slice(extra);
    let out = sgdisk(&args, image);
    assert!(
        out.status.success(),
        "sgdisk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sgdisk -v` found no problems.
pub fn sgdisk_clean(image: &Path) -> bool {
    let out = sgdisk(&["-v"], image);
    String::from_utf8_lossy(&out.stdout).contains("No problems found")
}

/// What `sgdisk -i N` says about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub type_guid: String,
    pub unique_guid: String,
    pub first: u64,
    pub last: u64,
    pub attributes: u64,
    pub name: String,
}

pub fn sgdisk_info(image: &Path, n: usize) -> Option<Info> {
    let out = sgdisk(&["-i", &n.to_string()], image);
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |key: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    let first_word = |s: String| s.split_whitespace().next().unwrap_or("").to_string();
    Some(Info {
        type_guid: first_word(field("Partition GUID code:")?).to_lowercase(),
        unique_guid: field("Partition unique GUID:")?.to_lowercase(),
        first: first_word(field("First sector:")?).parse().ok()?,
        last: first_word(field("Last sector:")?).parse().ok()?,
        attributes: u64::from_str_radix(&field("Attribute flags:")?, 16).ok()?,
        name: field("Partition name:")?.trim_matches('\'').to_string(),
    })
}

/// sgdisk's view of every Flatcar partition number.
pub fn sgdisk_all(image: &Path) -> Vec<(usize, Option<Info>)> {
    [1, 2, 3, 4, 6, 7, 9]
        .iter()
        .map(|&n| (n, sgdisk_info(image, n)))
        .collect()
}
