//! Per-sugar and per-version-boundary tests. Expected outputs are written
//! by hand from Butane's documented semantics (docs/translate.md and the
//! upstream Go code), never captured from this translator.

use std::path::Path;

use reignite_butane::{is_butane, translate, Error, Options};

fn ok(yaml: &str) -> (String, Vec<String>) {
    ok_in(yaml, None)
}

fn ok_in(yaml: &str, dir: Option<&Path>) -> (String, Vec<String>) {
    let opts = Options {
        files_dir: dir.map(Path::to_path_buf),
        ..Options::default()
    };
    match translate(yaml.as_bytes(), &opts) {
        Ok(t) => (
            String::from_utf8(t.json).unwrap(),
            t.report.entries.iter().map(|e| e.to_string()).collect(),
        ),
        Err(e) => panic!("translation failed: {} {:?}", e.error, e.report),
    }
}

fn err(yaml: &str) -> (Error, Vec<String>) {
    err_in(yaml, None)
}

fn err_in(yaml: &str, dir: Option<&Path>) -> (Error, Vec<String>) {
    let opts = Options {
        files_dir: dir.map(Path::to_path_buf),
        ..Options::default()
    };
    match translate(yaml.as_bytes(), &opts) {
        Ok(t) => panic!("unexpected success: {}", String::from_utf8_lossy(&t.json)),
        Err(e) => (
            e.error,
            e.report.entries.iter().map(|e| e.to_string()).collect(),
        ),
    }
}

fn has(report: &[String], needle: &str) -> bool {
    report.iter().any(|l| l.contains(needle))
}

#[test]
fn flatcar_getting_started_pair() {
    // The input/output pair published on the Flatcar website.
    let (json, report) = ok("variant: flatcar\nversion: 1.0.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n        - ssh-rsa AAAAB3NzaC1yc...\n");
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-rsa AAAAB3NzaC1yc..."]}]}}"#
    );
    assert!(report.is_empty());
}

#[test]
fn inline_contents_become_escaped_data_urls_with_explicit_compression() {
    let (json, _) = ok("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/motd\n      mode: 0644\n      contents:\n        inline: \"hello\\n\"\n");
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/motd","contents":{"compression":"","source":"data:,hello%0A"},"mode":420}]}}"#
    );
}

#[test]
fn go_escaping_of_html_characters() {
    let (json, _) = ok("variant: flatcar\nversion: 1.0.0\nsystemd:\n  units:\n    - name: x.service\n      contents: \"[Service]\\nExecStart=/bin/sh -c 'a && b > /tmp/x'\\n\"\n");
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"systemd":{"units":[{"contents":"[Service]\nExecStart=/bin/sh -c 'a \u0026\u0026 b \u003e /tmp/x'\n","name":"x.service"}]}}"#
    );
}

#[test]
fn pretty_output_uses_two_space_indent() {
    let opts = Options {
        pretty: true,
        ..Options::default()
    };
    let t = translate(b"variant: fcos\nversion: 1.4.0\n", &opts).unwrap();
    assert_eq!(
        String::from_utf8(t.json).unwrap(),
        "{\n  \"ignition\": {\n    \"version\": \"3.3.0\"\n  }\n}"
    );
}

#[test]
fn yaml_1_1_booleans_on_bool_fields() {
    let (json, _) = ok("variant: flatcar\nversion: 1.0.0\nsystemd:\n  units:\n    - name: a.service\n      mask: yes\n      enabled: off\n");
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"systemd":{"units":[{"enabled":false,"mask":true,"name":"a.service"}]}}"#
    );
}

#[test]
fn scalars_into_strings_keep_raw_text() {
    let (json, _) = ok("variant: flatcar\nversion: 1.0.0\npasswd:\n  users:\n    - name: u\n      password_hash: 0755\n      gecos: true\n");
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"gecos":"true","name":"u","passwordHash":"0755"}]}}"#
    );
}

#[test]
fn contents_local_and_ssh_keys_local_need_flatcar_1_1() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("keys"),
        "ssh-ed25519 AAAA one\r\n\nssh-rsa BBBB two\n",
    )
    .unwrap();
    let body = "systemd:\n  units:\n    - name: a.service\n      contents_local: a.service\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys_local: [keys]\n";
    let (json, report) = ok_in(
        &format!("variant: flatcar\nversion: 1.0.0\n{body}"),
        Some(d.path()),
    );
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core"}]},"systemd":{"units":[{"name":"a.service"}]}}"#
    );
    assert!(has(
        &report,
        "warning at $.systemd.units.0.contents_local, line 6 col 7: unused key contents_local"
    ));
    assert!(has(&report, "unused key ssh_authorized_keys_local"));
    let (json, report) = ok_in(
        &format!("variant: flatcar\nversion: 1.1.0\n{body}"),
        Some(d.path()),
    );
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA one","ssh-rsa BBBB two"]}]},"systemd":{"units":[{"contents":"[Service]\nExecStart=/bin/true\n","name":"a.service"}]}}"#
    );
    assert!(report.is_empty(), "{report:?}");
}

#[test]
fn luks_discard_needs_flatcar_1_1() {
    let body = "storage:\n  luks:\n    - name: data\n      device: /dev/vdb\n      discard: true\n";
    let (json, report) = ok(&format!("variant: flatcar\nversion: 1.0.0\n{body}"));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"storage":{"luks":[{"device":"/dev/vdb","name":"data"}]}}"#
    );
    assert!(has(&report, "unused key discard"));
    let (json, _) = ok(&format!("variant: flatcar\nversion: 1.1.0\n{body}"));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.4.0"},"storage":{"luks":[{"device":"/dev/vdb","discard":true,"name":"data"}]}}"#
    );
}

#[test]
fn kernel_arguments_need_fcos_1_4() {
    let body =
        "kernel_arguments:\n  should_exist: [quiet]\n  should_not_exist: [\"console=tty0\"]\n";
    let (json, report) = ok(&format!("variant: fcos\nversion: 1.3.0\n{body}"));
    assert_eq!(json, r#"{"ignition":{"version":"3.2.0"}}"#);
    assert!(has(
        &report,
        "warning at $.kernel_arguments, line 3 col 1: unused key kernel_arguments"
    ));
    let (json, _) = ok(&format!("variant: fcos\nversion: 1.4.0\n{body}"));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["quiet"],"shouldNotExist":["console=tty0"]}}"#
    );
}

#[test]
fn boot_device_is_fcos_1_3_only() {
    let body = "boot_device:\n  luks:\n    tpm2: true\n";
    for (variant, version) in [
        ("fcos", "1.2.0"),
        ("flatcar", "1.0.0"),
        ("flatcar", "1.1.0"),
    ] {
        let (json, report) = ok(&format!("variant: {variant}\nversion: {version}\n{body}"));
        assert!(!json.contains("luks"), "{variant} {version}: {json}");
        assert!(
            has(&report, "unused key boot_device"),
            "{variant} {version}"
        );
    }
    let (json, _) = ok(&format!("variant: fcos\nversion: 1.3.0\n{body}"));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.2.0"},"storage":{"filesystems":[{"device":"/dev/mapper/root","format":"xfs","label":"root","wipeFilesystem":true}],"luks":[{"clevis":{"tpm2":true},"device":"/dev/disk/by-partlabel/root","label":"luks-root","name":"root","wipeVolume":true}]}}"#
    );
}

#[test]
fn grub_users_need_fcos_1_5() {
    let body =
        "grub:\n  users:\n    - name: root\n      password_hash: grub.pbkdf2.sha512.10000.AA.BB\n";
    let (json, report) = ok(&format!("variant: fcos\nversion: 1.4.0\n{body}"));
    assert_eq!(json, r#"{"ignition":{"version":"3.3.0"}}"#);
    assert!(has(&report, "unused key grub"));
    let (json, _) = ok(&format!("variant: fcos\nversion: 1.5.0\n{body}"));
    // "# Generated by Butane\n\nset superusers=\"root\"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.AA.BB\n"
    // is shorter percent-escaped than base64 or gzip.
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/boot/grub2/user.cfg","append":[{"compression":"","source":"data:,%23%20Generated%20by%20Butane%0A%0Aset%20superusers%3D%22root%22%0Apassword_pbkdf2%20root%20grub.pbkdf2.sha512.10000.AA.BB%0A"}]}],"filesystems":[{"device":"/dev/disk/by-label/boot","format":"ext4","path":"/boot"}]}}"#
    );
    let (e, report) = err("variant: fcos\nversion: 1.5.0\ngrub:\n  users:\n    - name: root\n");
    assert_eq!(e, Error::InvalidSource);
    assert!(has(&report, "error at $.grub.users.0.password_hash, line 5 col 7: field \"password_hash\" is required"), "{report:?}");
}

#[test]
fn s390x_layouts_need_fcos_1_6() {
    let body = "boot_device:\n  layout: s390x-virt\n  luks:\n    tpm2: true\n";
    let (e, report) = err(&format!("variant: fcos\nversion: 1.5.0\n{body}"));
    assert_eq!(e, Error::InvalidSource);
    assert!(has(
        &report,
        "layout must be one of: aarch64, ppc64le, x86_64"
    ));
    let (json, _) = ok(&format!("variant: fcos\nversion: 1.6.0\n{body}"));
    assert!(
        json.contains(r#""device":"/dev/disk/by-partlabel/root""#),
        "{json}"
    );
}

#[test]
fn clevis_is_filtered_before_flatcar_1_2_experimental() {
    let body = "storage:\n  luks:\n    - name: data\n      device: /dev/vdb\n      clevis:\n        tpm2: true\n";
    let (e, report) = err(&format!("variant: flatcar\nversion: 1.0.0\n{body}"));
    assert_eq!(e, Error::InvalidSource);
    assert!(has(&report, "error at $.storage.luks.0.clevis, line 8 col 9: clevis is not supported in this spec version"), "{report:?}");
    let (json, _) = ok(&format!(
        "variant: flatcar\nversion: 1.2.0-experimental\n{body}"
    ));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.7.0-experimental"},"storage":{"luks":[{"clevis":{"tpm2":true},"device":"/dev/vdb","name":"data"}]}}"#
    );
}

#[test]
fn local_resources_need_fcos_1_1() {
    let body = "storage:\n  files:\n    - path: /etc/x\n      contents:\n        local: x\n";
    let (json, report) = ok(&format!("variant: fcos\nversion: 1.0.0\n{body}"));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/etc/x"}]}}"#
    );
    assert!(has(&report, "unused key local"));
    let (e, report) = err(&format!("variant: fcos\nversion: 1.1.0\n{body}"));
    assert_eq!(e, Error::InvalidSource);
    assert!(has(&report, "local file paths are relative to a files directory that must be specified with -d/--files-dir"));
}

#[test]
fn mount_units_for_swap_and_tang_volumes() {
    let (json, _) = ok("variant: flatcar\nversion: 1.0.0\nstorage:\n  filesystems:\n    - device: /dev/disk/by-partlabel/swap\n      format: swap\n      with_mount_unit: true\n");
    assert_eq!(
        json,
        r##"{"ignition":{"version":"3.3.0"},"storage":{"filesystems":[{"device":"/dev/disk/by-partlabel/swap","format":"swap"}]},"systemd":{"units":[{"contents":"# Generated by Butane\n[Swap]\nWhat=/dev/disk/by-partlabel/swap\n\n[Install]\nRequiredBy=swap.target","enabled":true,"name":"dev-disk-by\\x2dpartlabel-swap.swap"}]}}"##
    );
    let (json, _) = ok("variant: flatcar\nversion: 1.2.0-experimental\nstorage:\n  luks:\n    - name: data\n      device: /dev/vdb\n      clevis:\n        tang:\n          - url: https://tang.example.com\n            thumbprint: abc\n  filesystems:\n    - device: /dev/mapper/data\n      path: /var/data\n      format: ext4\n      with_mount_unit: true\n      mount_options: [noatime]\n");
    assert!(json.contains(r#"Type=ext4\nOptions=noatime,_netdev\n\n[Install]\nRequiredBy=remote-fs.target","enabled":true,"name":"var-data.mount""#), "{json}");
}

#[test]
fn mount_unit_prerequisites() {
    let (e, report) = err("variant: flatcar\nversion: 1.0.0\nstorage:\n  filesystems:\n    - device: /dev/vdb\n      with_mount_unit: true\n");
    assert_eq!(e, Error::InvalidSource);
    assert!(has(
        &report,
        "format is required if with_mount_unit is true"
    ));
    let (_, report) = err("variant: flatcar\nversion: 1.0.0\nstorage:\n  filesystems:\n    - device: /dev/vdb\n      format: xfs\n      with_mount_unit: true\n");
    assert!(has(
        &report,
        "path is required if with_mount_unit is true and format is not swap"
    ));
}

#[test]
fn user_units_merge_into_generated_mount_units() {
    let (json, _) = ok("variant: flatcar\nversion: 1.0.0\nsystemd:\n  units:\n    - name: other.service\n    - name: srv.mount\n      enabled: false\nstorage:\n  filesystems:\n    - device: /dev/vdb\n      path: /srv\n      format: xfs\n      with_mount_unit: true\n");
    // Generated units come first; the user's same-named unit overrides fields.
    let units = &json[json.find(r#""units""#).unwrap()..];
    let srv = units.find(r#""name":"srv.mount""#).unwrap();
    let other = units.find(r#""name":"other.service""#).unwrap();
    assert!(srv < other, "{units}");
    assert!(
        units.contains(r#"RequiredBy=local-fs.target","enabled":false,"name":"srv.mount""#),
        "{units}"
    );
}

#[test]
fn trees_with_ownership_need_fcos_1_7() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("t/sub")).unwrap();
    std::fs::write(d.path().join("t/sub/f"), "x").unwrap();
    let body = "storage:\n  trees:\n    - local: t\n      path: /opt\n      file_mode: 0600\n      dir_mode: 0700\n      user:\n        name: core\n";
    let (json, report) = ok_in(
        &format!("variant: fcos\nversion: 1.6.0\n{body}"),
        Some(d.path()),
    );
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.5.0"},"storage":{"files":[{"path":"/opt/sub/f","contents":{"compression":"","source":"data:,x"},"mode":420}]}}"#
    );
    assert!(has(&report, "unused key file_mode") && has(&report, "unused key user"));
    let (json, _) = ok_in(
        &format!("variant: fcos\nversion: 1.7.0\n{body}"),
        Some(d.path()),
    );
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.6.0"},"storage":{"directories":[{"path":"/opt","user":{"name":"core"},"mode":448},{"path":"/opt/sub","user":{"name":"core"},"mode":448}],"files":[{"path":"/opt/sub/f","user":{"name":"core"},"contents":{"compression":"","source":"data:,x"},"mode":384}]}}"#
    );
}

#[test]
fn tree_conflicts_with_declared_contents() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("t/etc")).unwrap();
    std::fs::write(d.path().join("t/etc/a"), "x").unwrap();
    let (e, report) = err_in("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/a\n      contents:\n        inline: y\n  trees:\n    - local: t\n", Some(d.path()));
    assert_eq!(e, Error::InvalidSource);
    assert!(has(&report, "error at $.storage.trees.0, line 9 col 7: matching filesystem node has existing contents or different type"), "{report:?}");
}

#[test]
fn quadlets_need_the_experimental_specs() {
    let body = "systemd:\n  quadlets:\n    - name: web.container\n      rootful: true\n      contents: \"[Container]\\nImage=x\\n\"\n    - name: web@8080.container\n";
    let (json, report) = ok(&format!("variant: fcos\nversion: 1.7.0\n{body}"));
    assert_eq!(json, r#"{"ignition":{"version":"3.6.0"}}"#);
    assert!(has(&report, "unused key quadlets"));
    let (json, _) = ok(&format!(
        "variant: fcos\nversion: 1.8.0-experimental\n{body}"
    ));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.7.0-experimental"},"storage":{"files":[{"path":"/etc/containers/systemd/web.container","contents":{"compression":"","source":"data:,%5BContainer%5D%0AImage%3Dx%0A"},"mode":420}],"links":[{"path":"/etc/containers/systemd/users/web@8080.container","target":"web@.container"}]}}"#
    );
    let (e, report) = err("variant: flatcar\nversion: 1.2.0-experimental\nsystemd:\n  quadlets:\n    - name: web.service\n");
    assert_eq!(e, Error::InvalidSource);
    assert!(has(&report, "unsupported file extension for quadlet"));
}

#[test]
fn plain_go_strings_are_always_emitted() {
    // `path` is a non-pointer string without omitempty in Ignition's Go
    // types, so a file without one still gets `"path":""` (then fails
    // validation); link `target` is one too before Ignition 3.3.
    let (e, report) =
        err("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - mode: 0644\n");
    assert_eq!(e, Error::InvalidGenerated);
    assert!(
        has(
            &report,
            "error at $.storage.files.0.path, line 5 col 7: path not specified"
        ),
        "{report:?}"
    );
    let body = "storage:\n  links:\n    - path: /a\n      hard: true\n";
    let (json, _) = ok(&format!("variant: fcos\nversion: 1.2.0\n{body}"));
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.2.0"},"storage":{"links":[{"path":"/a","hard":true,"target":""}]}}"#
    );
    // From 3.3 on `target` is a pointer: absent, and then required.
    let (_, report) = err(&format!("variant: fcos\nversion: 1.4.0\n{body}"));
    assert!(has(&report, "link target is required"), "{report:?}");
}

#[test]
fn embedded_configs_of_the_target_version_are_validated() {
    // The embedded config's own paths are reported; Butane correlates them
    // with the YAML tree, where only the root exists here.
    let (e, report) = err("variant: flatcar\nversion: 1.0.0\nignition:\n  config:\n    replace:\n      inline: '{\"ignition\":{\"version\":\"3.3.0\"},\"storage\":{\"files\":[{\"path\":\"rel\"}]}}'\n");
    assert_eq!(e, Error::InvalidSource);
    assert_eq!(
        report,
        vec!["error at $.storage.files.0.path, line 1 col 1: path not absolute".to_string()]
    );
}

#[test]
fn unknown_keys_warn_at_the_key() {
    let (_, report) = ok("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/x\n      bogus: 1\n");
    assert_eq!(
        report,
        vec!["warning at $.storage.files.0.bogus, line 6 col 7: unused key bogus".to_string()]
    );
}

#[test]
fn yaml_errors_read_like_go_yaml() {
    let (e, _) = err("variant: flatcar\nversion: 1.0.0\nstorage: [1]\n");
    assert_eq!(
        e.to_string(),
        "yaml: unmarshal errors:\n  line 3: cannot unmarshal !!seq into v0_4.Storage"
    );
    let (e, _) = err(
        "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /a\n      path: /b\n",
    );
    assert_eq!(
        e.to_string(),
        "yaml: unmarshal errors:\n  line 6: mapping key \"path\" already defined at line 5"
    );
    let (e, _) = err(
        "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /a\n      mode: 1.5\n",
    );
    assert_eq!(
        e.to_string(),
        "yaml: unmarshal errors:\n  line 6: cannot unmarshal !!float `1.5` into int"
    );
    assert_eq!(err("version: 1.0.0\n").0, Error::NoVariant);
    assert_eq!(
        err("- variant\n").0.to_string(),
        "Error unmarshaling yaml: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into config.commonFields"
    );
    assert_eq!(
        err("variant: rhcos\nversion: 0.1.0\n").0,
        Error::RhcosRemoved
    );
    assert_eq!(
        err("variant: flatcar\nversion: 1.0\n").0,
        Error::InvalidVersion
    );
    assert_eq!(
        err("variant: fcos\nversion: 1.9.0\n").0.to_string(),
        "No translator exists for variant fcos with version 1.9.0"
    );
    assert!(err("variant: flatcar\n  version: [\n")
        .0
        .to_string()
        .starts_with("Error unmarshaling yaml: yaml: line"));
}

#[test]
fn merge_keys_apply_and_warn() {
    let (json, report) = ok("variant: flatcar\nversion: 1.0.0\nsystemd:\n  units:\n    - &u\n      name: a.service\n      mask: true\n    - <<: *u\n      name: b.service\n");
    assert_eq!(
        json,
        r#"{"ignition":{"version":"3.3.0"},"systemd":{"units":[{"mask":true,"name":"a.service"},{"mask":true,"name":"b.service"}]}}"#
    );
    assert_eq!(
        report,
        vec!["warning at $.systemd.units.1.<<, line 8 col 7: unused key <<".to_string()]
    );
}

#[test]
fn files_dir_is_a_sandbox() {
    let d = tempfile::tempdir().unwrap();
    let files = d.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(d.path().join("secret"), "s").unwrap();
    std::os::unix::fs::symlink(d.path().join("secret"), files.join("link")).unwrap();
    for local in ["../secret", "link", "sub/../../secret"] {
        let (e, report) = err_in(
            &format!("variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /x\n      contents:\n        local: {local}\n"),
            Some(&files),
        );
        assert_eq!(e, Error::InvalidSource, "{local}");
        assert!(
            has(
                &report,
                "local file path traverses outside the files directory"
            ),
            "{local}: {report:?}"
        );
    }
}

#[test]
fn alias_bombs_fail_fast() {
    // 1,000 resources aliased from each of 1,000 files (and those files
    // aliased 1,000 times again): 10^9 nodes if expanded naively.
    let mut yaml = String::from("variant: flatcar\nversion: 1.0.0\n");
    yaml.push_str("ignition:\n  config:\n    merge: &m [");
    yaml.push_str(&vec!["{source: \"https://x\"}"; 1000].join(","));
    yaml.push_str("]\nstorage:\n  files: &f [");
    let file = "{path: /x, append: *m}";
    yaml.push_str(&vec![file; 1000].join(","));
    yaml.push_str("]\n  directories: [");
    yaml.push_str(&vec!["*f"; 1000].join(","));
    yaml.push_str("]\n");
    let start = std::time::Instant::now();
    let (e, _) = err(&yaml);
    assert!(start.elapsed().as_secs() < 10, "took {:?}", start.elapsed());
    assert!(e.to_string().contains("excessive aliasing"), "{e}");
}

#[test]
fn aliased_big_strings_are_budgeted() {
    // One 1 MiB string aliased 100,000 times would need 100 GB.
    let big = "x".repeat(1 << 20);
    let yaml = format!(
        "variant: flatcar\nversion: 1.0.0\nx: &s \"{big}\"\nignition:\n  proxy:\n    no_proxy: [{}]\n",
        vec!["*s"; 100_000].join(",")
    );
    let (e, _) = err(&yaml);
    assert!(e.to_string().contains("excessive aliasing"), "{e}");
}

#[test]
fn deep_nesting_fails_cleanly() {
    for depth in [300, 100_000] {
        let yaml = format!(
            "variant: flatcar\nversion: 1.0.0\nx: {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let (e, _) = err(&yaml);
        let msg = e.to_string();
        assert!(
            msg.starts_with("Error unmarshaling yaml: yaml: line 3: "),
            "{msg}"
        );
        assert!(
            msg.contains("depth") || msg.contains("recursion limit"),
            "{msg}"
        );
    }
}

#[test]
fn butane_detection() {
    assert!(is_butane(b"variant: flatcar\nversion: 1.0.0\n"));
    assert!(is_butane(
        b"# comment\n---\nversion: 1.6.0\nvariant: fcos\n"
    ));
    assert!(!is_butane(br#"{"ignition":{"version":"3.3.0"}}"#));
    assert!(!is_butane(b"ignition:\n  version: 3.3.0\n"));
    assert!(!is_butane(b"variant: [unclosed\n"));
    assert!(!is_butane(&[0xff, 0xfe]));
}
