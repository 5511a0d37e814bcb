//! Version boundaries, table-driven: every field or sugar that a spec
//! version introduces (read off the `yaml:` tags of upstream's
//! `base/v0_N/schema.go` and `config/fcos/v1_N/schema.go`) is rejected by
//! the version before it with Butane's exact diagnostic — the unused-key
//! warning at the key itself (`warning at $.path, line L col C: unused key
//! K`, Ignition's `ValidateUnusedKeys`) — and read by the version that
//! introduces it. Variant field filters (errors at the value) are checked
//! the same way.

use std::path::Path;

use reignite_butane::{translate, Options};

/// A field introduced in `since` (`None`: never, for this variant), absent
/// from `before`. `body` follows the two-line `variant`/`version` header, so
/// its first line is line 3.
struct Row {
    variant: &'static str,
    before: &'static str,
    since: Option<&'static str>,
    body: &'static str,
    path: &'static str,
    line: usize,
    col: usize,
    key: &'static str,
}

const fn row(
    variant: &'static str,
    before: &'static str,
    since: Option<&'static str>,
    body: &'static str,
    at: (&'static str, usize, usize),
    key: &'static str,
) -> Row {
    Row {
        variant,
        before,
        since,
        body,
        path: at.0,
        line: at.1,
        col: at.2,
        key,
    }
}

const LOCAL: &str = "storage:\n  files:\n    - path: /etc/x\n      contents:\n        local: x\n";
const TREES: &str = "storage:\n  trees:\n    - local: t\n";
const MOUNT: &str = "storage:\n  filesystems:\n    - device: /dev/vdb\n      path: /var/x\n      format: xfs\n      with_mount_unit: true\n";
const MOUNT_OPTS: &str = "storage:\n  filesystems:\n    - device: /dev/vdb\n      path: /var/x\n      format: xfs\n      mount_options: [noatime]\n";
const PROXY: &str = "ignition:\n  proxy:\n    https_proxy: https://proxy.example.com\n";
const HEADERS: &str = "storage:\n  files:\n    - path: /etc/x\n      contents:\n        source: https://example.com/x\n        http_headers:\n          - name: A\n            value: b\n";
const LUKS: &str = "storage:\n  luks:\n    - name: d\n      device: /dev/vdb\n";
const RESIZE: &str = "storage:\n  disks:\n    - device: /dev/vda\n      partitions:\n        - number: 5\n          resize: true\n";
const USER_EXISTS: &str = "passwd:\n  users:\n    - name: u\n      should_exist: false\n";
const GROUP_EXISTS: &str = "passwd:\n  groups:\n    - name: g\n      should_exist: false\n";
const BOOT: &str = "boot_device:\n  luks:\n    tpm2: true\n";
const KARGS: &str = "kernel_arguments:\n  should_exist: [quiet]\n";
const UNIT_LOCAL: &str =
    "systemd:\n  units:\n    - name: a.service\n      contents_local: a.service\n";
const DROPIN_LOCAL: &str = "systemd:\n  units:\n    - name: a.service\n      dropins:\n        - name: b.conf\n          contents_local: b.conf\n";
const KEYS_LOCAL: &str =
    "passwd:\n  users:\n    - name: core\n      ssh_authorized_keys_local: [keys]\n";
const DISCARD: &str =
    "storage:\n  luks:\n    - name: d\n      device: /dev/vdb\n      discard: true\n";
const OPEN_OPTS: &str =
    "storage:\n  luks:\n    - name: d\n      device: /dev/vdb\n      open_options: [--allow-discards]\n";
const ADVERTISEMENT: &str = "storage:\n  luks:\n    - name: d\n      device: /dev/vdb\n      clevis:\n        tang:\n          - url: https://tang.example.com\n            thumbprint: abc\n            advertisement: '{\"payload\": \"...\", \"protected\": \"...\", \"signature\": \"...\"}'\n";
const GRUB: &str =
    "grub:\n  users:\n    - name: root\n      password_hash: grub.pbkdf2.sha512.10000.AA.BB\n";
const BOOT_DISCARD: &str = "boot_device:\n  luks:\n    tpm2: true\n    discard: true\n";
const BOOT_DEVICE: &str = "boot_device:\n  luks:\n    tpm2: true\n    device: /dev/sda\n";
const BOOT_CEX: &str =
    "boot_device:\n  layout: s390x-virt\n  luks:\n    cex:\n      enabled: true\n";
const LUKS_CEX: &str =
    "storage:\n  luks:\n    - name: d\n      device: /dev/vdb\n      cex:\n        enabled: true\n";
const TREE_FILE_MODE: &str = "storage:\n  trees:\n    - local: t\n      file_mode: 0600\n";
const TREE_DIR_MODE: &str = "storage:\n  trees:\n    - local: t\n      dir_mode: 0700\n";
const TREE_USER: &str = "storage:\n  trees:\n    - local: t\n      user:\n        name: core\n";
const TREE_GROUP: &str = "storage:\n  trees:\n    - local: t\n      group:\n        name: core\n";
const QUADLETS: &str =
    "systemd:\n  quadlets:\n    - name: a.container\n      rootful: true\n      contents: x\n";

const ROWS: &[Row] = &[
    // fcos 1.1.0 (base v0_2, Ignition 3.1)
    row(
        "fcos",
        "1.0.0",
        Some("1.1.0"),
        LOCAL,
        ("$.storage.files.0.contents.local", 7, 9),
        "local",
    ),
    row(
        "fcos",
        "1.0.0",
        Some("1.1.0"),
        TREES,
        ("$.storage.trees", 4, 3),
        "trees",
    ),
    row(
        "fcos",
        "1.0.0",
        Some("1.1.0"),
        MOUNT,
        ("$.storage.filesystems.0.with_mount_unit", 8, 7),
        "with_mount_unit",
    ),
    row(
        "fcos",
        "1.0.0",
        Some("1.1.0"),
        MOUNT_OPTS,
        ("$.storage.filesystems.0.mount_options", 8, 7),
        "mount_options",
    ),
    row(
        "fcos",
        "1.0.0",
        Some("1.1.0"),
        PROXY,
        ("$.ignition.proxy", 4, 3),
        "proxy",
    ),
    row(
        "fcos",
        "1.0.0",
        Some("1.1.0"),
        HEADERS,
        ("$.storage.files.0.contents.http_headers", 8, 9),
        "http_headers",
    ),
    // fcos 1.2.0 (base v0_3, Ignition 3.2)
    row(
        "fcos",
        "1.1.0",
        Some("1.2.0"),
        LUKS,
        ("$.storage.luks", 4, 3),
        "luks",
    ),
    row(
        "fcos",
        "1.1.0",
        Some("1.2.0"),
        RESIZE,
        ("$.storage.disks.0.partitions.0.resize", 8, 11),
        "resize",
    ),
    row(
        "fcos",
        "1.1.0",
        Some("1.2.0"),
        USER_EXISTS,
        ("$.passwd.users.0.should_exist", 6, 7),
        "should_exist",
    ),
    row(
        "fcos",
        "1.1.0",
        Some("1.2.0"),
        GROUP_EXISTS,
        ("$.passwd.groups.0.should_exist", 6, 7),
        "should_exist",
    ),
    // fcos 1.3.0: boot_device
    row(
        "fcos",
        "1.2.0",
        Some("1.3.0"),
        BOOT,
        ("$.boot_device", 3, 1),
        "boot_device",
    ),
    // fcos 1.4.0 / flatcar 1.0.0 (base v0_4, Ignition 3.3)
    row(
        "fcos",
        "1.3.0",
        Some("1.4.0"),
        KARGS,
        ("$.kernel_arguments", 3, 1),
        "kernel_arguments",
    ),
    // fcos 1.5.0 / flatcar 1.1.0 (base v0_5, Ignition 3.4)
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        UNIT_LOCAL,
        ("$.systemd.units.0.contents_local", 6, 7),
        "contents_local",
    ),
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        DROPIN_LOCAL,
        ("$.systemd.units.0.dropins.0.contents_local", 8, 11),
        "contents_local",
    ),
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        KEYS_LOCAL,
        ("$.passwd.users.0.ssh_authorized_keys_local", 6, 7),
        "ssh_authorized_keys_local",
    ),
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        DISCARD,
        ("$.storage.luks.0.discard", 7, 7),
        "discard",
    ),
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        OPEN_OPTS,
        ("$.storage.luks.0.open_options", 7, 7),
        "open_options",
    ),
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        ADVERTISEMENT,
        ("$.storage.luks.0.clevis.tang.0.advertisement", 11, 13),
        "advertisement",
    ),
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        GRUB,
        ("$.grub", 3, 1),
        "grub",
    ),
    row(
        "fcos",
        "1.4.0",
        Some("1.5.0"),
        BOOT_DISCARD,
        ("$.boot_device.luks.discard", 6, 5),
        "discard",
    ),
    // fcos 1.6.0 (base v0_6, Ignition 3.5)
    row(
        "fcos",
        "1.5.0",
        Some("1.6.0"),
        BOOT_DEVICE,
        ("$.boot_device.luks.device", 6, 5),
        "device",
    ),
    row(
        "fcos",
        "1.5.0",
        Some("1.6.0"),
        BOOT_CEX,
        ("$.boot_device.luks.cex", 6, 5),
        "cex",
    ),
    row(
        "fcos",
        "1.5.0",
        Some("1.6.0"),
        LUKS_CEX,
        ("$.storage.luks.0.cex", 7, 7),
        "cex",
    ),
    // fcos 1.7.0 (base v0_7, Ignition 3.6)
    row(
        "fcos",
        "1.6.0",
        Some("1.7.0"),
        TREE_FILE_MODE,
        ("$.storage.trees.0.file_mode", 6, 7),
        "file_mode",
    ),
    row(
        "fcos",
        "1.6.0",
        Some("1.7.0"),
        TREE_DIR_MODE,
        ("$.storage.trees.0.dir_mode", 6, 7),
        "dir_mode",
    ),
    row(
        "fcos",
        "1.6.0",
        Some("1.7.0"),
        TREE_USER,
        ("$.storage.trees.0.user", 6, 7),
        "user",
    ),
    row(
        "fcos",
        "1.6.0",
        Some("1.7.0"),
        TREE_GROUP,
        ("$.storage.trees.0.group", 6, 7),
        "group",
    ),
    // fcos 1.8.0-experimental (base v0_8_exp)
    row(
        "fcos",
        "1.7.0",
        Some("1.8.0-experimental"),
        QUADLETS,
        ("$.systemd.quadlets", 4, 3),
        "quadlets",
    ),
    // flatcar 1.1.0 (base v0_5); Tang `advertisement` is left out because
    // flatcar 1.0/1.1 filter out clevis altogether.
    row(
        "flatcar",
        "1.0.0",
        Some("1.1.0"),
        UNIT_LOCAL,
        ("$.systemd.units.0.contents_local", 6, 7),
        "contents_local",
    ),
    row(
        "flatcar",
        "1.0.0",
        Some("1.1.0"),
        DROPIN_LOCAL,
        ("$.systemd.units.0.dropins.0.contents_local", 8, 11),
        "contents_local",
    ),
    row(
        "flatcar",
        "1.0.0",
        Some("1.1.0"),
        KEYS_LOCAL,
        ("$.passwd.users.0.ssh_authorized_keys_local", 6, 7),
        "ssh_authorized_keys_local",
    ),
    row(
        "flatcar",
        "1.0.0",
        Some("1.1.0"),
        DISCARD,
        ("$.storage.luks.0.discard", 7, 7),
        "discard",
    ),
    row(
        "flatcar",
        "1.0.0",
        Some("1.1.0"),
        OPEN_OPTS,
        ("$.storage.luks.0.open_options", 7, 7),
        "open_options",
    ),
    // flatcar 1.2.0-experimental (base v0_8_exp)
    row(
        "flatcar",
        "1.1.0",
        Some("1.2.0-experimental"),
        TREE_FILE_MODE,
        ("$.storage.trees.0.file_mode", 6, 7),
        "file_mode",
    ),
    row(
        "flatcar",
        "1.1.0",
        Some("1.2.0-experimental"),
        TREE_DIR_MODE,
        ("$.storage.trees.0.dir_mode", 6, 7),
        "dir_mode",
    ),
    row(
        "flatcar",
        "1.1.0",
        Some("1.2.0-experimental"),
        TREE_USER,
        ("$.storage.trees.0.user", 6, 7),
        "user",
    ),
    row(
        "flatcar",
        "1.1.0",
        Some("1.2.0-experimental"),
        TREE_GROUP,
        ("$.storage.trees.0.group", 6, 7),
        "group",
    ),
    row(
        "flatcar",
        "1.1.0",
        Some("1.2.0-experimental"),
        QUADLETS,
        ("$.systemd.quadlets", 4, 3),
        "quadlets",
    ),
    // `storage.luks.cex` exists from base v0_6 but the flatcar 1.2 field
    // filter rejects it (see FILTERS), so no flatcar version accepts it.
    row(
        "flatcar",
        "1.1.0",
        None,
        LUKS_CEX,
        ("$.storage.luks.0.cex", 7, 7),
        "cex",
    ),
    // fcos-only sugar never exists in flatcar.
    row(
        "flatcar",
        "1.2.0-experimental",
        None,
        BOOT,
        ("$.boot_device", 3, 1),
        "boot_device",
    ),
    row(
        "flatcar",
        "1.2.0-experimental",
        None,
        GRUB,
        ("$.grub", 3, 1),
        "grub",
    ),
];

/// Variant field filters: (variant, version, body, exact error entry).
const FILTERS: &[(&str, &str, &str, &str)] = &[
    ("flatcar", "1.0.0", "storage:\n  luks:\n    - name: d\n      device: /dev/vdb\n      clevis:\n        tpm2: true\n",
     "error at $.storage.luks.0.clevis, line 8 col 9: clevis is not supported in this spec version"),
    ("flatcar", "1.1.0", "storage:\n  luks:\n    - name: d\n      device: /dev/vdb\n      clevis:\n        tpm2: true\n",
     "error at $.storage.luks.0.clevis, line 8 col 9: clevis is not supported in this spec version"),
    ("flatcar", "1.2.0-experimental", LUKS_CEX,
     "error at $.storage.luks.0.cex, line 8 col 9: cex is not currently supported on the target platform"),
];

fn files_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("x"), "x\n").unwrap();
    std::fs::write(p.join("a.service"), "[Service]\nExecStart=/bin/true\n").unwrap();
    std::fs::write(p.join("b.conf"), "[Service]\nNice=1\n").unwrap();
    std::fs::write(p.join("keys"), "ssh-ed25519 AAAA\n").unwrap();
    std::fs::create_dir(p.join("t")).unwrap();
    std::fs::write(p.join("t/f"), "f\n").unwrap();
    d
}

/// Every report entry, whether the translation succeeded or failed, and
/// whether it succeeded.
fn run(variant: &str, version: &str, body: &str, dir: &Path) -> (bool, Vec<String>) {
    let input = format!("variant: {variant}\nversion: {version}\n{body}");
    let opts = Options {
        files_dir: Some(dir.to_path_buf()),
        ..Options::default()
    };
    let (ok, report) = match translate(input.as_bytes(), &opts) {
        Ok(t) => (true, t.report),
        Err(e) => (false, e.report),
    };
    (ok, report.entries.iter().map(|e| e.to_string()).collect())
}

fn entries(variant: &str, version: &str, body: &str, dir: &Path) -> Vec<String> {
    run(variant, version, body, dir).1
}

#[test]
fn every_new_field_is_an_unused_key_in_the_version_before() {
    let dir = files_dir();
    let mut failures = Vec::new();
    for r in ROWS {
        let want = format!(
            "warning at {}, line {} col {}: unused key {}",
            r.path, r.line, r.col, r.key
        );
        let got = entries(r.variant, r.before, r.body, dir.path());
        if !got.contains(&want) {
            failures.push(format!(
                "{} {} ({}): want {want:?}, got {got:?}",
                r.variant, r.before, r.key
            ));
        }
        if let Some(since) = r.since {
            // The introducing version reads the field: a clean translation.
            let (ok, got) = run(r.variant, since, r.body, dir.path());
            if !ok || !got.is_empty() {
                failures.push(format!(
                    "{} {since} ({}): not a clean translation: {got:?}",
                    r.variant, r.key
                ));
            }
        }
    }
    println!("version boundaries: {} fields checked", ROWS.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn variant_field_filters_reject_with_butanes_message() {
    let dir = files_dir();
    for (variant, version, body, want) in FILTERS {
        let got = entries(variant, version, body, dir.path());
        assert!(
            got.iter().any(|e| e == want),
            "{variant} {version}: want {want:?}, got {got:?}"
        );
    }
    // The clevis filter is lifted in flatcar 1.2.0-experimental.
    let got = entries("flatcar", "1.2.0-experimental", FILTERS[0].2, dir.path());
    assert!(got.is_empty(), "{got:?}");
}
