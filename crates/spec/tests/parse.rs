//! End-to-end tests of `reignite_spec::parse`: Ignition's error texts and
//! positions for bad input (checked against `ignition-validate` 2.14 where it
//! applies), per-version schema boundaries (a field added in 3.x is an
//! unknown key in 3.x-1), translation, and bounded behaviour on hostile input.

use reignite_spec::{parse, ParseError};

fn lines(src: &str) -> Vec<String> {
    match parse(src.as_bytes()) {
        Ok(p) => p.report.entries.iter().map(|e| e.to_string()).collect(),
        Err(ParseError::Invalid(r)) => r.entries.iter().map(|e| e.to_string()).collect(),
        Err(e) => vec![format!("couldn't parse config: {e}")],
    }
}

#[test]
fn bad_input_messages_like_ignition() {
    // Each expected line was produced by Debian's ignition-validate 2.14
    // (with `Unused key` lower-cased as upstream HEAD prints it).
    let cases: &[(&str, &[&str])] = &[
        ("", &["couldn't parse config: not a config (empty)"]),
        ("   ", &["error at line 0 col 0: unexpected end of JSON input"]),
        ("{\"ignition\":", &["error at line 0 col 0: unexpected end of JSON input"]),
        (
            "[]",
            &["error at line 1 col 2: json: cannot unmarshal array into Go value of type util.versionStub"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"}} true"#,
            &["error at line 1 col 35: invalid character 't' after top-level value"],
        ),
        (
            r#"{"ignition":{"version":"3.3"}}"#,
            &["couldn't parse config: invalid config version (couldn't parse)"],
        ),
        (
            r#"{"ignition":{"version":"2.3.0"}}"#,
            &["couldn't parse config: unsupported config version"],
        ),
        (
            r#"{"ignition":{"version":3}}"#,
            &["error at line 1 col 25: json: cannot unmarshal number into Go struct field .Ignition.Version of type string"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/foo","mode":"420"}]}}"#,
            &["error at line 1 col 80: json: cannot unmarshal string into Go struct field File.storage.files.mode of type int"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/foo","mode":1e3}]}}"#,
            &["error at line 1 col 78: json: cannot unmarshal number 1e3 into Go struct field File.storage.files.mode of type int"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/foo","mode":null,"contents":{"source":5}}]}}"#,
            &["error at line 1 col 102: json: cannot unmarshal number into Go struct field Resource.storage.files.contents.source of type string"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":{"path":"/foo"}}}"#,
            &["error at line 1 col 53: json: cannot unmarshal object into Go struct field Storage.storage.files of type []types.File"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a", "mode": 420, }]}}"#,
            &["error at line 1 col 81: invalid character '}' looking for beginning of object key string"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"foo","Path":"/bar","mode":420}]}}"#,
            &["warning at $.storage.files.0.Path, line 1 col 67: unused key Path"],
        ),
        (
            "{\"ignition\":{\"version\":\"3.3.0\"},\n\"storage\":{\"files\":[{\"path\":\"/foo\", \"extra\": {\"a\":[1,2]}}]}}",
            &["warning at $.storage.files.0.extra, line 2 col 37: unused key extra"],
        ),
        (
            r#"{"Ignition":{"VERSION":"3.3.0"}}"#,
            &["warning at $.Ignition, line 1 col 2: unused key Ignition"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/foo"}],"directories":[{"path":"/d1"}]},"storage":{"directories":[{"path":"d2"}]}}"#,
            &["error at $.storage.directories.0.path, line 1 col 136: path not absolute"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","overwrite":true}],"files":[{"path":"/b"}]}}"#,
            &["error at $.storage.files.0.overwrite, line 1 col 95: overwrite must be false if source is unspecified"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","user":{"id":1}, "user":{"name":"x"}}]}}"#,
            &["error at $.storage.files.0.user, line 1 col 91: cannot set both id and name"],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":null}"#,
            &["warning at $.storage, line 1 col 43: context tree does not match content tree at $.storage. Line and column reporting may be inconsistent. Unused keys may not be reported."],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[null]}}"#,
            &[
                "error at $.storage.files.0.path, line 1 col 53: path not specified",
                "warning at $.storage.files.0, line 1 col 53: context tree does not match content tree at $.storage.files.0. Line and column reporting may be inconsistent. Unused keys may not be reported.",
            ],
        ),
        (
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/foo","mode":-1}]}}"#,
            &[
                "error at $.storage.files.0.mode, line 1 col 75: illegal file mode",
                "warning at $.storage.files.0.mode, line 1 col 75: setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0",
            ],
        ),
    ];
    for (src, want) in cases {
        assert_eq!(&lines(src), want, "input: {src}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(10_001), "]".repeat(10_001));
    assert_eq!(
        lines(&deep),
        vec!["error at line 1 col 10002: invalid character '[' exceeded max depth"]
    );
    // Valid JSON 10,000 deep inside an unknown key: accepted with a warning.
    let body = format!("{}1{}", "{\"a\":".repeat(9_998), "}".repeat(9_998));
    let src = format!(r#"{{"ignition":{{"version":"3.3.0"}},"x":{body}}}"#);
    let l = lines(&src);
    assert_eq!(l.len(), 1);
    assert!(l[0].ends_with("unused key x"), "{l:?}");
}

/// A field added in spec 3.N is an unknown key in 3.(N-1) and accepted in
/// 3.N: one case per schema boundary of §1.6.
#[test]
fn version_boundaries() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (version without, version with, storage/other JSON, unused key path)
        (
            "3.0.0",
            "3.1.0",
            r#""ignition":{"VERSION","proxy":{}}"#,
            "$.ignition.proxy",
        ),
        (
            "3.0.0",
            "3.1.0",
            r#""ignition":{"VERSION","config":{"replace":{"source":"https://x","httpHeaders":[]}}}"#,
            "$.ignition.config.replace.httpHeaders",
        ),
        (
            "3.0.0",
            "3.1.0",
            r#""ignition":{"VERSION","config":{"replace":{"compression":""}}}"#,
            "$.ignition.config.replace.compression",
        ),
        (
            "3.0.0",
            "3.1.0",
            r#""ignition":{"VERSION"},"storage":{"filesystems":[{"device":"/dev/sda","format":"ext4","mountOptions":["ro"]}]}"#,
            "$.storage.filesystems.0.mountOptions",
        ),
        (
            "3.1.0",
            "3.2.0",
            r#""ignition":{"VERSION"},"storage":{"luks":[]}"#,
            "$.storage.luks",
        ),
        (
            "3.1.0",
            "3.2.0",
            r#""ignition":{"VERSION"},"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"resize":true}]}]}"#,
            "$.storage.disks.0.partitions.0.resize",
        ),
        (
            "3.1.0",
            "3.2.0",
            r#""ignition":{"VERSION"},"passwd":{"users":[{"name":"u","shouldExist":true}]}"#,
            "$.passwd.users.0.shouldExist",
        ),
        (
            "3.2.0",
            "3.3.0",
            r#""ignition":{"VERSION"},"kernelArguments":{}"#,
            "$.kernelArguments",
        ),
        (
            "3.3.0",
            "3.4.0",
            r#""ignition":{"VERSION"},"storage":{"luks":[{"name":"l","device":"/dev/sda","discard":true}]}"#,
            "$.storage.luks.0.discard",
        ),
        (
            "3.3.0",
            "3.4.0",
            r#""ignition":{"VERSION"},"storage":{"luks":[{"name":"l","device":"/dev/sda","openOptions":["--x"]}]}"#,
            "$.storage.luks.0.openOptions",
        ),
        (
            "3.3.0",
            "3.4.0",
            r#""ignition":{"VERSION"},"storage":{"luks":[{"name":"l","device":"/dev/sda","clevis":{"tang":[{"url":"http://t","thumbprint":"x","advertisement":"{}"}]}}]}"#,
            "$.storage.luks.0.clevis.tang.0.advertisement",
        ),
        (
            "3.4.0",
            "3.5.0",
            r#""ignition":{"VERSION"},"storage":{"luks":[{"name":"l","device":"/dev/sda","cex":{}}]}"#,
            "$.storage.luks.0.cex",
        ),
    ];
    for (old, new, body, path) in cases {
        let mk = |v: &str| {
            format!(
                "{{{}}}",
                body.replace("\"VERSION\"", &format!("\"version\":\"{v}\""))
            )
        };
        let before = lines(&mk(old));
        assert!(
            before
                .iter()
                .any(|l| l.starts_with(&format!("warning at {path},"))
                    && l.ends_with(&format!("unused key {}", path.rsplit('.').next().unwrap()))),
            "{old}: {before:?}"
        );
        let after =
            parse(mk(new).as_bytes()).unwrap_or_else(|e| panic!("{new}: {e} {:?}", e.report()));
        assert!(
            !after
                .report
                .entries
                .iter()
                .any(|e| e.message.starts_with("unused key")),
            "{new}: {:?}",
            after.report
        );
    }
}

#[test]
fn translation_masks_special_bits_below_3_6_and_keeps_advertisement() {
    let cfg = |v: &str| {
        format!(
            r#"{{"ignition":{{"version":"{v}"}},"storage":{{"files":[{{"path":"/f","mode":3565}}],"directories":[{{"path":"/d","mode":1023}}]}}}}"#
        )
    };
    for (v, fmode, dmode) in [
        ("3.5.0", 0o755, 0o777),
        ("3.0.0", 0o755, 0o777),
        ("3.6.0", 0o6755, 0o1777),
    ] {
        let p = parse(cfg(v).as_bytes()).unwrap();
        assert_eq!(p.version.to_string(), v);
        assert_eq!(p.config.ignition.version, reignite_spec::NEWEST_VERSION);
        assert_eq!(p.config.storage.files[0].mode, Some(fmode), "{v}");
        assert_eq!(p.config.storage.directories[0].mode, Some(dmode), "{v}");
    }
    let tang = r#"{"ignition":{"version":"3.4.0"},"storage":{"luks":[{"name":"l","device":"/dev/sda","clevis":{"tang":[{"url":"http://t","thumbprint":"x","advertisement":"{\"k\":1}"}]}}]}}"#;
    let p = parse(tang.as_bytes()).unwrap();
    assert_eq!(
        p.config.storage.luks[0].clevis.tang[0]
            .advertisement
            .as_deref(),
        Some("{\"k\":1}")
    );
}

#[test]
fn old_plain_fields_become_pointers_like_upstream_translation() {
    let src = r#"{"ignition":{"version":"3.2.0","security":{"tls":{"certificateAuthorities":[{"source":"data:,x"}]}}},"storage":{"links":[{"path":"/l","target":"/t"}],"raid":[{"name":"md","level":"raid1","devices":["/dev/a","/dev/b"]}],"luks":[{"name":"l","device":"/dev/sda","clevis":{"custom":{"pin":"tpm2","config":"{}"}}}]}}"#;
    let p = parse(src.as_bytes()).unwrap();
    let c = &p.config;
    assert_eq!(c.storage.links[0].target.as_deref(), Some("/t"));
    assert_eq!(c.storage.raid[0].level.as_deref(), Some("raid1"));
    assert_eq!(c.storage.luks[0].clevis.custom.pin.as_deref(), Some("tpm2"));
    assert_eq!(
        c.storage.luks[0].clevis.custom.config.as_deref(),
        Some("{}")
    );
}

#[test]
fn merged_link_without_target_fails_newest_rules() {
    // §3.3: valid as 3.2.0, invalid after merging under the newest rules.
    let src = r#"{"ignition":{"version":"3.2.0"},"storage":{"links":[{"path":"/l"}]}}"#;
    let p = parse(src.as_bytes()).unwrap();
    // 3.0–3.2 translate an absent target to Some("").
    let merged = reignite_spec::merge(&reignite_spec::Config::default(), &p.config);
    let r = reignite_spec::validate_merged(&merged);
    assert_eq!(
        r.to_string(),
        "error at $.storage.links.0.target: link target is required\n"
    );
}

#[test]
fn big_config_in_bounded_time() {
    // 50 MB: a 48 MB string under an unknown key (scanned, kept out of
    // the typed config) plus 20,000 files.
    let blob = "a".repeat(48 << 20);
    let mut src = String::with_capacity(52 << 20);
    src.push_str(&format!(
        r#"{{"ignition":{{"version":"3.3.0"}},"x":"{blob}","#
    ));
    src.push_str(r#""storage":{"files":[{"path":"/big"}"#);
    for i in 0..20_000 {
        src.push_str(&format!(
            r#",{{"path":"/f/{i}","mode":420,"contents":{{"source":"data:,x"}}}}"#
        ));
    }
    src.push_str("]}}");
    let t = std::time::Instant::now();
    let p = parse(src.as_bytes()).unwrap();
    let dt = t.elapsed();
    println!(
        "parsed {} MB with {} files in {dt:?}",
        src.len() >> 20,
        p.config.storage.files.len()
    );
    assert_eq!(p.config.storage.files.len(), 20_001);
    assert_eq!(
        p.report.to_string(),
        "warning at $.x, line 1 col 33: unused key x\n"
    );
    assert!(dt.as_secs() < 60, "{dt:?}");
}

#[test]
fn clevis_custom_present_but_empty_in_3_2() {
    // 3.2's `custom` is a pointer: `{}` is present. ignition-validate 2.14:
    let src = r#"{"ignition":{"version":"3.2.0"},"storage":{"luks":[{"name":"l","device":"/dev/sda","clevis":{"custom":{},"tpm2":true}}]}}"#;
    assert_eq!(
        lines(src),
        vec!["error at $.storage.luks.0.clevis, line 1 col 94: cannot use custom clevis config with tpm2, tang, or threshold"]
    );
}
