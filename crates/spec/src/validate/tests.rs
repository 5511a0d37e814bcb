//! Rule-by-rule tests of [`super::validate`] and [`super::duplicates`]:
//! every rule of the reference's §3.4 and every version boundary, with the
//! expected messages and paths taken from upstream's Go sources.

use serde_json::json;

use super::{duplicates, validate};
use crate::types::Config;

fn cfg(v: serde_json::Value) -> Config {
    serde_json::from_value(v).expect("test config decodes")
}

/// The report of `body` (merged into a config of `version`) as lines
/// without positions.
fn report(version: &str, body: serde_json::Value) -> Vec<String> {
    let mut v = body;
    v["ignition"]["version"] = json!(version);
    let c = cfg(v);
    let ver = semver::Version::parse(version).unwrap();
    let mut out: Vec<String> = validate(&c, &ver).iter().map(|e| e.to_string()).collect();
    out.extend(duplicates(&c).iter().map(|e| e.to_string()));
    out
}

fn e(path: &str, msg: &str) -> String {
    format!("error at {path}: {msg}")
}

fn w(path: &str, msg: &str) -> String {
    format!("warning at {path}: {msg}")
}

const ALL: [&str; 8] = [
    "3.0.0",
    "3.1.0",
    "3.2.0",
    "3.3.0",
    "3.4.0",
    "3.5.0",
    "3.6.0",
    "3.7.0-experimental",
];

#[test]
fn empty_config_is_valid_in_every_version() {
    for v in ALL {
        assert_eq!(report(v, json!({})), Vec::<String>::new(), "{v}");
    }
}

#[test]
fn version_mismatch() {
    let c = cfg(json!({"ignition": {"version": "3.3"}}));
    let r = validate(&c, &semver::Version::new(3, 3, 0));
    assert_eq!(
        r[0].to_string(),
        e(
            "$.ignition.version",
            "invalid config version (couldn't parse)"
        )
    );
    let c = cfg(json!({"ignition": {"version": "3.2.0"}}));
    let r = validate(&c, &semver::Version::new(3, 3, 0));
    assert_eq!(
        r[0].to_string(),
        e("$.ignition.version", "unsupported config version")
    );
}

#[test]
fn paths() {
    let body = json!({"storage": {"files": [
        {"path": ""}, {"path": "rel"}, {"path": "/a/"}, {"path": "/a//b"},
        {"path": "/a/./b"}, {"path": "/a/../b"}, {"path": "/ok"}
    ]}});
    let r = report("3.3.0", body);
    let f = "$.storage.files";
    assert_eq!(
        r,
        vec![
            e(&format!("{f}.0.path"), "path not specified"),
            e(&format!("{f}.1.path"), "path not absolute"),
            e(&format!("{f}.2.path"), "path is not fully simplified"),
            e(&format!("{f}.3.path"), "path is not fully simplified"),
            e(&format!("{f}.4.path"), "path is not fully simplified"),
            e(&format!("{f}.5.path"), "path is not fully simplified"),
        ]
    );
}

#[test]
fn modes_and_special_bits_per_version() {
    let body = json!({"storage": {
        "directories": [{"path": "/d", "mode": 1023}],
        "files": [{"path": "/f", "mode": 4096}, {"path": "/g", "mode": -1}, {"path": "/h", "mode": 2541}]
    }});
    let sb = "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0";
    for v in ["3.0.0", "3.3.0", "3.5.0"] {
        assert_eq!(
            report(v, body.clone()),
            vec![
                w("$.storage.directories.0.mode", sb),
                e("$.storage.files.0.mode", "illegal file mode"),
                e("$.storage.files.1.mode", "illegal file mode"),
                w("$.storage.files.1.mode", sb),
                w("$.storage.files.2.mode", sb),
            ],
            "{v}"
        );
    }
    for v in ["3.6.0", "3.7.0-experimental"] {
        assert_eq!(
            report(v, body.clone()),
            vec![
                e("$.storage.files.0.mode", "illegal file mode"),
                e("$.storage.files.1.mode", "illegal file mode"),
            ],
            "{v}"
        );
    }
}

#[test]
fn overwrite_owner_and_order_within_a_file() {
    let body = json!({"storage": {"files": [{
        "path": "x", "overwrite": true, "mode": 99999,
        "user": {"id": 1, "name": "u"}, "group": {"id": 2, "name": "g"},
        "contents": {"compression": "xz"}
    }]}});
    let f = "$.storage.files.0";
    assert_eq!(
        report("3.6.0", body),
        vec![
            e(&format!("{f}.path"), "path not absolute"),
            e(&format!("{f}.mode"), "illegal file mode"),
            e(
                &format!("{f}.overwrite"),
                "overwrite must be false if source is unspecified"
            ),
            e(&format!("{f}.group"), "cannot set both id and name"),
            e(&format!("{f}.user"), "cannot set both id and name"),
            e(
                &format!("{f}.contents.compression"),
                "invalid compression method"
            ),
        ]
    );
    // An empty name with an id is fine, and an empty source is a source.
    let body = json!({"storage": {"files": [{
        "path": "/x", "overwrite": true, "user": {"id": 1, "name": ""},
        "contents": {"source": ""}
    }]}});
    assert!(report("3.6.0", body).is_empty());
}

#[test]
fn links_in_paths_and_targets() {
    let body = json!({"storage": {
        "directories": [{"path": "/l/d"}, {"path": "/dir"}],
        "files": [{"path": "/l/f"}, {"path": "/lx"}],
        "links": [
            {"path": "/l", "target": "/t"},
            {"path": "/l/m", "target": "/t"},
            {"path": "/n"},
            {"path": "/h", "hard": true, "target": "/dir"},
            // Relative hard-link targets are joined to the link's own path.
            {"path": "/dir/h2", "hard": true, "target": "../../dir", "user": {"id": 0}, "group": {"name": "g"}}
        ]
    }});
    let s = "$.storage";
    let mut want = vec![
        e(
            &format!("{s}.directories.0"),
            "directory path includes link in config",
        ),
        e(&format!("{s}.files.0"), "file path includes link in config"),
        e(&format!("{s}.links.1"), "link path includes link in config"),
        e(&format!("{s}.links.2.target"), "link target is required"),
        e(&format!("{s}.links.3"), "hard link target is a directory"),
        e(&format!("{s}.links.4"), "hard link target is a directory"),
        w(
            &format!("{s}.links.4.user.id"),
            "user/group ignored for hard link",
        ),
        w(
            &format!("{s}.links.4.group.name"),
            "user/group ignored for hard link",
        ),
    ];
    assert_eq!(report("3.3.0", body.clone()), want);
    // Before 3.3 a missing target is not an error.
    want.remove(3);
    assert_eq!(report("3.2.0", body), want);
}

#[test]
fn systemd_path_conflicts_come_first() {
    let body = json!({
        "storage": {"files": [{"path": "/etc/systemd/system/a.service"}],
                    "links": [{"path": "/etc/systemd/system/a.service.d/x.conf", "target": "/t"}],
                    "directories": [{"path": "/etc/systemd/system/b.service"}]},
        "systemd": {"units": [
            {"name": "a.service", "contents": "[Unit]", "dropins": [{"name": "x.conf", "contents": "[Unit]"}]},
            {"name": "b.service", "contents": ""}
        ]}
    });
    let msg = "path conflicts with systemd unit or dropin";
    assert_eq!(
        report("3.0.0", body),
        vec![
            e("$.storage.files.0.path", msg),
            e("$.storage.links.0.path", msg),
        ]
    );
}

#[test]
fn resources_and_hashes() {
    let sha512 = format!("sha512-{}", "a".repeat(128));
    let sha256 = format!("sha256-{}", "A".repeat(64));
    let body = json!({"storage": {"files": [
        {"path": "/a", "contents": {"verification": {"hash": "nodash"}}},
        {"path": "/b", "contents": {"source": "data:,x", "verification": {"hash": "md5-00"}}},
        {"path": "/c", "contents": {"source": "data:,x", "verification": {"hash": "sha512-00"}}},
        {"path": "/d", "contents": {"source": "data:,x", "verification": {"hash": sha512}}},
        {"path": "/e", "contents": {"source": "data:,x", "verification": {"hash": sha256}}}
    ]}});
    let f = "$.storage.files";
    let mut want = vec![
        e(
            &format!("{f}.0.contents.verification.hash"),
            "source must be specified if verification is specified",
        ),
        e(
            &format!("{f}.0.contents.verification.hash"),
            "malformed hash specifier",
        ),
        e(
            &format!("{f}.1.contents.verification.hash"),
            "unrecognized hash function",
        ),
        e(
            &format!("{f}.2.contents.verification.hash"),
            "incorrect size for hash sum",
        ),
    ];
    assert_eq!(report("3.1.0", body.clone()), want);
    want.push(e(
        &format!("{f}.4.contents.verification.hash"),
        "unrecognized hash function",
    ));
    assert_eq!(report("3.0.0", body), want);
}

#[test]
fn urls_schemes_and_data_urls_per_version() {
    let body = json!({"storage": {"files": [
        {"path": "/a", "contents": {"source": "gs://b/o"}},
        {"path": "/b", "contents": {"source": "arn:aws:s3:::b/k"}},
        {"path": "/c", "contents": {"source": "ftp://x/y"}},
        {"path": "/d", "contents": {"source": "data:text"}},
        {"path": "/e", "contents": {"source": "http://a b/"}},
        {"path": "/f", "contents": {"source": "s3://b/k?versionId="}},
        {"path": "/g", "append": [{"source": "data:;base64,QQ"}]}
    ]}});
    let f = "$.storage.files";
    let tail = vec![
        e(&format!("{f}.2.contents.source"), "invalid url scheme"),
        e(
            &format!("{f}.3.contents.source"),
            "missing media type slash",
        ),
        e(&format!("{f}.4.contents.source"), "unable to parse url"),
        e(
            &format!("{f}.5.contents.source"),
            "invalid S3 object VersionId",
        ),
        e(
            &format!("{f}.6.append.0.source"),
            "illegal base64 data at input byte 0",
        ),
    ];
    let with = |head: Vec<String>| head.into_iter().chain(tail.clone()).collect::<Vec<_>>();
    assert_eq!(
        report("3.1.0", body.clone()),
        with(vec![
            e(&format!("{f}.0.contents.source"), "invalid url scheme"),
            e(&format!("{f}.1.contents.source"), "invalid url scheme"),
        ])
    );
    assert_eq!(
        report("3.3.0", body.clone()),
        with(vec![e(
            &format!("{f}.1.contents.source"),
            "invalid url scheme"
        )])
    );
    assert_eq!(report("3.4.0", body), with(vec![]));
}

#[test]
fn http_headers() {
    let body = json!({"storage": {"files": [
        {"path": "/a", "contents": {"source": "https://x/", "httpHeaders": [
            {"name": "", "value": "v"}, {"name": "A", "value": ""}, {"name": "B"}, {"name": "A", "value": "w"}
        ]}},
        {"path": "/b", "contents": {"source": "data:,x", "httpHeaders": [{"name": "A", "value": "v"}]}},
        {"path": "/c", "contents": {"httpHeaders": [{"name": "A", "value": "v"}]}}
    ]}});
    let f = "$.storage.files";
    assert_eq!(
        report("3.1.0", body),
        vec![
            e(
                &format!("{f}.0.contents.httpHeaders.0.name"),
                "HTTP header name can't be empty"
            ),
            e(
                &format!("{f}.0.contents.httpHeaders.1.value"),
                "unable to parse HTTP header"
            ),
            e(
                &format!("{f}.1.contents.httpHeaders"),
                "cannot use HTTP headers with this source scheme"
            ),
            e(
                &format!("{f}.2.contents.httpHeaders"),
                "unable to parse url"
            ),
            e(
                &format!("{f}.0.contents.httpHeaders.3"),
                "duplicate entry defined"
            ),
        ]
    );
}

#[test]
fn merge_replace_and_cas_per_version() {
    let body = json!({"ignition": {
        "config": {"merge": [{}, {"source": "ftp://x"}, {"verification": {"hash": "x"}}],
                   "replace": {"source": "data:"}},
        "security": {"tls": {"certificateAuthorities": [{}]}}
    }});
    let ic = "$.ignition.config";
    let ca = "$.ignition.security.tls.certificateAuthorities.0";
    assert_eq!(
        report("3.0.0", body.clone()),
        vec![
            e(&format!("{ic}.merge.1.source"), "invalid url scheme"),
            e(
                &format!("{ic}.merge.2.verification.hash"),
                "malformed hash specifier"
            ),
            e(&format!("{ic}.replace.source"), "missing comma before data"),
            e(&format!("{ca}.source"), "invalid url scheme"),
            e(&format!("{ic}.merge.2"), "duplicate entry defined"),
        ]
    );
    assert_eq!(
        report("3.1.0", body),
        vec![
            e(&format!("{ic}.merge.0"), "source is required"),
            e(&format!("{ic}.merge.1"), "invalid url scheme"),
            e(&format!("{ic}.merge.2"), "source is required"),
            e(&format!("{ic}.merge.1.source"), "invalid url scheme"),
            e(
                &format!("{ic}.merge.2.verification.hash"),
                "source must be specified if verification is specified"
            ),
            e(
                &format!("{ic}.merge.2.verification.hash"),
                "malformed hash specifier"
            ),
            e(&format!("{ic}.replace.source"), "missing comma before data"),
            e(ca, "source is required"),
            e(&format!("{ic}.merge.2"), "duplicate entry defined"),
        ]
    );
}

#[test]
fn proxies() {
    let body = json!({"ignition": {"proxy": {"httpProxy": "ftp://p", "httpsProxy": "http://p"}}});
    assert_eq!(
        report("3.1.0", body),
        vec![
            e("$.ignition.proxy.httpProxy", "proxies must be http(s)"),
            w(
                "$.ignition.proxy.httpsProxy",
                "insecure plaintext HTTP proxy specified for HTTPS resources"
            ),
        ]
    );
    let body = json!({"ignition": {"proxy": {"httpProxy": "http://a b", "httpsProxy": "https://p", "noProxy": ["a", "a"]}}});
    assert_eq!(
        report("3.1.0", body),
        vec![
            e("$.ignition.proxy.httpProxy", "unable to parse url"),
            e("$.ignition.proxy.noProxy.1", "duplicate entry defined"),
        ]
    );
}

#[test]
fn units_and_dropins() {
    let body = json!({"systemd": {"units": [
        {"name": "a.conf", "contents": "[Unit", "dropins": [{"name": "x", "contents": "[Service] x"}]},
        {"name": "b.service", "enabled": true, "contents": "[Unit]\nDescription=b"},
        {"name": "c.service", "enabled": true, "contents": "[Install]\nWantedBy=x"},
        {"name": "d.service", "enabled": true},
        {"name": "e@.service", "contents": "[Service]\nExecStart=/bin/true"},
        {"name": "e@x.service", "enabled": true},
        {"name": "f@.service", "contents": "[Install]\nWantedBy=y"},
        {"name": "f@y.service", "enabled": true}
    ]}});
    let u = "$.systemd.units";
    assert_eq!(
        report("3.0.0", body),
        vec![
            w(
                &format!("{u}.5.contents"),
                "template unit \"e@.service\" for \"e@x.service\" doesn't have Install section"
            ),
            e(&format!("{u}.0.name"), "invalid systemd unit extension"),
            e(
                &format!("{u}.0.contents"),
                "invalid unit content: unable to find end of section"
            ),
            e(
                &format!("{u}.0.dropins.0.contents"),
                "invalid unit content: found garbage after section name : \"x\""
            ),
            e(
                &format!("{u}.0.dropins.0.name"),
                "invalid systemd drop-in extension"
            ),
            w(
                &format!("{u}.1.contents"),
                "unit \"b.service\" is enabled, but has no install section so enable does nothing"
            ),
        ]
    );
}

#[test]
fn disks_and_partitions() {
    let body = json!({"storage": {"disks": [
        {"device": ""},
        {"device": "/dev/sda", "partitions": [
            {"number": 1, "startMiB": 10, "sizeMiB": 10},
            {"number": 1, "startMiB": 15, "sizeMiB": 10},
            {"label": "a"},
            {"label": "a"},
            {"shouldExist": false, "number": 5, "guid": "x"},
            {"label": "this-label-is-way-too-long-for-a-gpt-entry"},
            {"label": "has:colon", "typeGuid": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}
        ]},
        {"device": "dev/sdb", "partitions": [{}]}
    ]}});
    let d = "$.storage.disks";
    assert_eq!(
        report("3.3.0", body),
        vec![
            e(&format!("{d}.0.device"), "disk device is required"),
            e(&format!("{d}.1.partitions.1"), "partition numbers collide"),
            e(&format!("{d}.1.partitions.1"), "partitions overlap"),
            e(
                &format!("{d}.1.partitions.3"),
                "cannot use the same partition label twice"
            ),
            e(
                &format!("{d}.1.partitions.4"),
                "shouldExist specified false with other options also specified"
            ),
            e(
                &format!("{d}.1.partitions.4.guid"),
                "doesn't match the form \"01234567-89AB-CDEF-EDCB-A98765432101\""
            ),
            e(
                &format!("{d}.1.partitions.5.label"),
                "partition labels may not exceed 36 characters"
            ),
            e(
                &format!("{d}.1.partitions.6.label"),
                "partition label will be truncated to text before the colon"
            ),
            e(&format!("{d}.2.device"), "path not absolute"),
            e(
                &format!("{d}.2.partitions.0"),
                "a partition number >= 1 or a label must be specified"
            ),
            e(&format!("{d}.1.partitions.1"), "duplicate entry defined"),
            e(&format!("{d}.1.partitions.3"), "duplicate entry defined"),
        ]
    );
}

#[test]
fn filesystems_per_version() {
    let body = json!({"storage": {
        "disks": [{"device": "/dev/sda", "partitions": [{"number": 1}]}, {"device": "/dev/sdb", "wipeTable": true}],
        "filesystems": [
            {"device": "/dev/sda", "path": "/var", "format": "none"},
            {"device": "/dev/sdb", "format": "ext4", "label": "a-very-long-ext4-label"},
            {"device": "/dev/sdc", "label": "x"},
            {"device": "/dev/sdd", "format": "zfs"},
            {"device": "/dev/sde", "format": "vfat", "label": "TWELVE_CHARS", "wipeFilesystem": true}
        ]
    }});
    let f = "$.storage.filesystems";
    let head = vec![
        w(
            &format!("{f}.0.device"),
            "filesystem overwrites partitioned device",
        ),
        w(
            &format!("{f}.1.device"),
            "device matches disk with wipeTable enabled; filesystem will be wiped",
        ),
    ];
    let none_err = e(&format!("{f}.0.format"), "invalid filesystem format");
    let tail = vec![
        e(&format!("{f}.1.label"), "filesystem labels cannot be longer than 16 characters when using ext4"),
        e(&format!("{f}.2.format"), "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified"),
        e(&format!("{f}.2.label"), "filesystem must specify format if label is specified"),
        e(&format!("{f}.3.format"), "invalid filesystem format"),
        e(&format!("{f}.4.label"), "filesystem labels cannot be longer than 11 characters when using vfat"),
    ];
    let mut want32 = head.clone();
    want32.push(none_err);
    want32.extend(tail.clone());
    assert_eq!(report("3.2.0", body.clone()), want32);
    let want33: Vec<String> = head.into_iter().chain(tail).collect();
    assert_eq!(report("3.3.0", body), want33);
}

#[test]
fn virtiofs_only_in_3_7() {
    let body = json!({"storage": {"filesystems": [
        {"device": "myfs", "format": "virtiofs", "path": "/mnt"},
        {"device": "a-tag-that-is-longer-than-thirty-six-bytes", "format": "virtiofs",
         "label": "l", "uuid": "u", "wipeFilesystem": true, "options": ["-x"]}
    ]}});
    let f = "$.storage.filesystems";
    assert_eq!(
        report("3.7.0-experimental", body.clone()),
        vec![
            e(
                &format!("{f}.1.device"),
                "virtiofs device tag cannot be longer than 36 bytes"
            ),
            e(
                &format!("{f}.1.label"),
                "filesystem labels cannot be set when using virtiofs"
            ),
            e(
                &format!("{f}.1.uuid"),
                "filesystem uuid cannot be set for non-block-device filesystems"
            ),
            e(
                &format!("{f}.1.wipeFilesystem"),
                "wipeFilesystem cannot be set for non-block-device filesystems"
            ),
            e(
                &format!("{f}.1.options"),
                "filesystem options (mkfs) cannot be set for non-block-device filesystems"
            ),
        ]
    );
    assert_eq!(
        report("3.6.0", body),
        vec![
            e(&format!("{f}.0.device"), "path not absolute"),
            e(&format!("{f}.0.format"), "invalid filesystem format"),
            e(&format!("{f}.1.device"), "path not absolute"),
            e(&format!("{f}.1.format"), "invalid filesystem format"),
        ]
    );
}

#[test]
fn raid_per_version() {
    let body = json!({"storage": {"raid": [
        {"name": "a"},
        {"name": "b", "level": "raid0", "spares": 1, "devices": ["/dev/a", "dev/b", "/dev/a"]},
        {"name": "c", "level": "raid7", "devices": ["/dev/c"]}
    ]}});
    let r = "$.storage.raid";
    let tail = vec![
        e(&format!("{r}.0.devices"), "raid devices required"),
        e(
            &format!("{r}.1.level"),
            "spares unsupported for linear and raid0 arrays",
        ),
        e(&format!("{r}.1.devices.1"), "path not absolute"),
        e(&format!("{r}.2.level"), "unrecognized raid level"),
        e(&format!("{r}.1.devices.2"), "duplicate entry defined"),
    ];
    let mut want = vec![e(&format!("{r}.0.level"), "raid level is required")];
    want.extend(tail.clone());
    assert_eq!(report("3.3.0", body.clone()), want);
    let mut want = vec![e(&format!("{r}.0.level"), "unrecognized raid level")];
    want.extend(tail);
    assert_eq!(report("3.2.0", body), want);
}

#[test]
fn luks_clevis_tang_cex_per_version() {
    let body = json!({"storage": {"luks": [
        {"name": "a/b", "label": "x".repeat(48), "keyFile": {"source": "ftp://k"}},
        {"name": "c", "device": "/dev/c", "clevis": {"tpm2": true, "custom": {"pin": "magic", "config": "{}"}}},
        {"name": "d", "device": "/dev/d", "clevis": {"custom": {"config": "{}", "needsNetwork": true}}},
        {"name": "e", "device": "/dev/e", "clevis": {"tang": [
            {"url": "ftp://t"}, {"url": "http://t", "thumbprint": "x", "advertisement": "{nope"}
        ]}}
    ]}});
    let l = "$.storage.luks";
    let common_head = vec![
        e(
            &format!("{l}.0.name"),
            "device names cannot contain slashes",
        ),
        e(
            &format!("{l}.0.label"),
            "luks device labels cannot be longer than 47 characters",
        ),
        e(&format!("{l}.0.device"), "disk device is required"),
        e(&format!("{l}.0.keys"), "invalid key-file source"),
        e(&format!("{l}.0.keyFile.source"), "invalid url scheme"),
        e(
            &format!("{l}.1.clevis"),
            "cannot use custom clevis config with tpm2, tang, or threshold",
        ),
    ];
    let tang = vec![
        e(&format!("{l}.3.clevis.tang.0.url"), "invalid url scheme"),
        e(
            &format!("{l}.3.clevis.tang.0.thumbprint"),
            "thumbprint is required",
        ),
    ];
    let adv = e(
        &format!("{l}.3.clevis.tang.1.advertisement"),
        "advertisement is not valid JSON",
    );
    // 3.2: an empty pin is "unsupported", needsNetwork does not matter.
    let mut want = common_head.clone();
    want.push(e(
        &format!("{l}.1.clevis.custom.pin"),
        "unsupported clevis pin",
    ));
    want.push(e(
        &format!("{l}.2.clevis.custom.pin"),
        "unsupported clevis pin",
    ));
    want.extend(tang.clone());
    assert_eq!(report("3.2.0", body.clone()), want);
    // 3.3–3.5: missing pin is reported as such; 3.4+ checks advertisements.
    let mut want = common_head.clone();
    want.push(e(
        &format!("{l}.1.clevis.custom.pin"),
        "unsupported clevis pin",
    ));
    want.push(e(
        &format!("{l}.2.clevis.custom.pin"),
        "missing required custom clevis pin",
    ));
    want.extend(tang.clone());
    assert_eq!(report("3.3.0", body.clone()), want);
    want.push(adv.clone());
    assert_eq!(report("3.5.0", body.clone()), want);
    // 3.6: custom pins are no longer checked.
    let mut want = common_head;
    want.push(e(
        &format!("{l}.2.clevis.custom.pin"),
        "missing required custom clevis pin",
    ));
    want.extend(tang);
    want.push(adv);
    assert_eq!(report("3.6.0", body), want);
}

#[test]
fn cex_since_3_5() {
    let body = json!({"storage": {"luks": [
        {"name": "a", "device": "/dev/a", "cex": {"enabled": true}, "clevis": {"tpm2": true},
         "keyFile": {"source": "data:,k"}}
    ]}});
    let l = "$.storage.luks.0";
    assert_eq!(
        report("3.5.0", body.clone()),
        vec![
            e(&format!("{l}.cex"), "cannot use cex with clevis"),
            e(&format!("{l}.cex"), "cannot use key file with cex"),
        ]
    );
    assert!(report("3.4.0", body).is_empty());
}

#[test]
fn duplicates_in_every_keyed_list() {
    let body = json!({
        "ignition": {"security": {"tls": {"certificateAuthorities": [{"source": "data:,a"}, {"source": "data:,a"}]}}},
        "kernelArguments": {"shouldExist": ["a", "b"], "shouldNotExist": ["b"]},
        "passwd": {
            "groups": [{"name": "g"}, {"name": "g"}],
            "users": [{"name": "u", "groups": ["x", "x"], "sshAuthorizedKeys": ["k", "k"]}, {"name": "u"}]
        },
        "storage": {
            "directories": [{"path": "/p"}],
            "disks": [{"device": "/dev/a"}, {"device": "/dev/a"}],
            "files": [{"path": "/p", "append": [{"source": "data:,a"}, {"source": "data:,a"}]}],
            "filesystems": [{"device": "/dev/b", "format": "ext4", "options": ["-a", "-a"], "mountOptions": ["ro", "ro"]},
                            {"device": "/dev/b", "format": "ext4"}],
            "links": [{"path": "/p", "target": "/t"}],
            "luks": [{"name": "l", "device": "/dev/l", "openOptions": ["o", "o"], "options": ["x", "x"],
                      "clevis": {"tang": [{"url": "http://t", "thumbprint": "t"}, {"url": "http://t", "thumbprint": "t"}]}},
                     {"name": "l", "device": "/dev/m"}]
        },
        "systemd": {"units": [{"name": "a.service", "dropins": [{"name": "a.conf"}, {"name": "a.conf"}]}, {"name": "a.service"}]}
    });
    let dup = "duplicate entry defined";
    let r = report("3.4.0", body);
    assert_eq!(
        r,
        vec![
            e("$.ignition.security.tls.certificateAuthorities.1", dup),
            e("$.kernelArguments.shouldNotExist.0", dup),
            e("$.passwd.groups.1", dup),
            e("$.passwd.users.1", dup),
            e("$.passwd.users.0.groups.1", dup),
            e("$.passwd.users.0.sshAuthorizedKeys.1", dup),
            e("$.storage.disks.1", dup),
            e("$.storage.files.0", dup),
            e("$.storage.filesystems.1", dup),
            e("$.storage.links.0", dup),
            e("$.storage.luks.1", dup),
            e("$.storage.luks.0.openOptions.1", dup),
            e("$.storage.luks.0.clevis.tang.1", dup),
            e("$.systemd.units.1", dup),
            e("$.systemd.units.0.dropins.1", dup),
        ]
    );
}

#[test]
fn template_prefix_matches_go_regexp() {
    use super::template_prefix;
    assert_eq!(template_prefix("foo@bar.service"), Some("foo"));
    assert_eq!(template_prefix("foo@.service"), None);
    assert_eq!(template_prefix("@bar.service"), None);
    assert_eq!(template_prefix("@a@b.service"), Some("@a"));
    assert_eq!(template_prefix("a@b@c.service"), Some("a"));
    assert_eq!(template_prefix("a@b.socket"), None);
}

#[test]
fn tang_advertisement_from_3_4() {
    // Cases from upstream's tang_test.go: empty is fine, "{{" is not JSON.
    let body = json!({"storage": {"luks": [{"name": "t", "device": "/dev/t", "clevis": {"tang": [
        {"url": "http://example.com", "thumbprint": "abc", "advertisement": ""},
        {"url": "http://example.com/2", "thumbprint": "abc", "advertisement": "{{"},
        {"url": "http://example.com/3", "thumbprint": "abc", "advertisement": "{\"payload\": \"x\"}"},
        {"url": "httasfdsafadsf", "thumbprint": "abc"}
    ]}}]}});
    let t = "$.storage.luks.0.clevis.tang";
    let scheme = e(&format!("{t}.3.url"), "invalid url scheme");
    assert_eq!(report("3.3.0", body.clone()), vec![scheme.clone()]);
    assert_eq!(
        report("3.4.0", body),
        vec![
            e(
                &format!("{t}.1.advertisement"),
                "advertisement is not valid JSON"
            ),
            scheme
        ]
    );
}

#[test]
fn virtiofs_device_tag_required() {
    let body = json!({"storage": {"filesystems": [
        {"device": "", "format": "virtiofs"},
        {"device": "myshare", "format": "virtiofs", "mountOptions": ["dax"]}
    ]}});
    assert_eq!(
        report("3.7.0-experimental", body),
        vec![e("$.storage.filesystems.0.device", "device not specified")]
    );
}
