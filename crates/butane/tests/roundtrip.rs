//! Round-trip property over generated Butane documents (proptest): every
//! generated config — files with inline contents, appends and modes,
//! directories, links, a `storage.trees` directory written to a scratch
//! files-dir, units and users, in every variant/version that has trees —
//! translates with an empty report, parses with `reignite_spec::parse`
//! without errors, and the parsed config holds exactly the declared node
//! set: the same file, directory and link paths, each file's contents and
//! appends decoding (data URL, base64, gzip — decoded here, not by the
//! translator) to the declared bytes, the declared or tree-default modes and
//! the declared link targets.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use proptest::prelude::*;
use reignite_butane::{translate, Options};

const SPECS: &[(&str, &str)] = &[
    ("flatcar", "1.0.0"),
    ("flatcar", "1.1.0"),
    ("flatcar", "1.2.0-experimental"),
    ("fcos", "1.1.0"),
    ("fcos", "1.2.0"),
    ("fcos", "1.3.0"),
    ("fcos", "1.4.0"),
    ("fcos", "1.5.0"),
    ("fcos", "1.6.0"),
    ("fcos", "1.7.0"),
    ("fcos", "1.8.0-experimental"),
];

const MODES: &[u32] = &[0o644, 0o600, 0o640, 0o755, 0o700, 0o444];

#[derive(Debug, Clone)]
struct GenFile {
    contents: Option<String>,
    append: Vec<String>,
    mode: Option<u32>,
    overwrite: Option<bool>,
}

#[derive(Debug, Clone)]
struct TreeFile {
    rel: String,
    bytes: Vec<u8>,
    exec: bool,
}

#[derive(Debug, Clone)]
struct Doc {
    spec: (&'static str, &'static str),
    files: Vec<GenFile>,
    dirs: Vec<Option<u32>>,
    links: Vec<String>,
    tree: Vec<TreeFile>,
    tree_link: Option<String>,
    units: Vec<(String, Option<bool>)>,
    users: Vec<Vec<String>>,
}

/// Text with the characters that stress encoding: `%`-escaping, Go's
/// `<>&` escaping, multi-byte UTF-8, and repetition that makes gzip win.
fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        8 => proptest::char::range('a', 'z'),
        2 => Just(' '),
        2 => Just('\n'),
        1 => proptest::sample::select(vec!['<', '>', '&', '%', '"', '\\', '\t', '=', '/', '#', ':', 'é', '😀', '\u{2028}']),
    ];
    let plain =
        proptest::collection::vec(ch, 0..120).prop_map(|v| v.into_iter().collect::<String>());
    prop_oneof![
        3 => plain.clone(),
        1 => (plain, 1usize..40).prop_map(|(s, n)| s.repeat(n)),
    ]
}

fn gen_file() -> impl Strategy<Value = GenFile> {
    (
        proptest::option::of(text()),
        proptest::collection::vec(text(), 0..3),
        proptest::option::of(proptest::sample::select(MODES)),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(contents, append, mode, overwrite)| GenFile {
            // Ignition: "overwrite must be false if source is unspecified"
            overwrite: overwrite.filter(|_| contents.is_some()),
            contents,
            append,
            mode,
        })
}

fn tree() -> impl Strategy<Value = Vec<TreeFile>> {
    proptest::collection::btree_map(
        "(sub/)?[a-z]{1,6}(\\.conf)?",
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<bool>(),
        ),
        0..6,
    )
    .prop_map(|m| {
        // a name cannot be both a file and the `sub` directory
        m.into_iter()
            .filter(|(rel, _)| rel != "sub")
            .map(|(rel, (bytes, exec))| TreeFile { rel, bytes, exec })
            .collect()
    })
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        proptest::sample::select(SPECS),
        proptest::collection::vec(gen_file(), 0..5),
        proptest::collection::vec(proptest::option::of(proptest::sample::select(MODES)), 0..3),
        proptest::collection::vec("(/etc/gen/f0|[a-z]{1,8}|/usr/bin/[a-z]{1,5})", 0..3),
        tree(),
        proptest::option::of("[a-z]{1,8}"),
        proptest::collection::vec(("[a-z]{1,10}", proptest::option::of(any::<bool>())), 0..3),
        proptest::collection::vec(
            proptest::collection::vec("ssh-ed25519 [A-Za-z0-9+/]{4,20}", 0..3),
            0..3,
        ),
    )
        .prop_map(
            |(spec, files, dirs, links, tree, tree_link, units, users)| Doc {
                spec,
                files,
                dirs,
                links,
                tree,
                tree_link,
                units,
                users,
            },
        )
}

/// A YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\L"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn yaml(d: &Doc) -> String {
    let mut y = format!("variant: {}\nversion: {}\n", d.spec.0, d.spec.1);
    if !d.users.is_empty() {
        y.push_str("passwd:\n  users:\n");
        for (i, keys) in d.users.iter().enumerate() {
            y.push_str(&format!("    - name: user{i}\n"));
            if !keys.is_empty() {
                y.push_str("      ssh_authorized_keys:\n");
                for k in keys {
                    y.push_str(&format!("        - {}\n", quoted(k)));
                }
            }
        }
    }
    y.push_str("storage:\n");
    if !d.files.is_empty() {
        y.push_str("  files:\n");
        for (i, f) in d.files.iter().enumerate() {
            y.push_str(&format!("    - path: /etc/gen/f{i}\n"));
            if let Some(m) = f.mode {
                y.push_str(&format!("      mode: 0{m:o}\n"));
            }
            if let Some(o) = f.overwrite {
                y.push_str(&format!("      overwrite: {o}\n"));
            }
            if let Some(c) = &f.contents {
                y.push_str(&format!("      contents:\n        inline: {}\n", quoted(c)));
            }
            if !f.append.is_empty() {
                y.push_str("      append:\n");
                for a in &f.append {
                    y.push_str(&format!("        - inline: {}\n", quoted(a)));
                }
            }
        }
    }
    if !d.dirs.is_empty() {
        y.push_str("  directories:\n");
        for (i, m) in d.dirs.iter().enumerate() {
            y.push_str(&format!("    - path: /srv/gen/d{i}\n"));
            if let Some(m) = m {
                y.push_str(&format!("      mode: 0{m:o}\n"));
            }
        }
    }
    if !d.links.is_empty() {
        y.push_str("  links:\n");
        for (i, t) in d.links.iter().enumerate() {
            y.push_str(&format!(
                "    - path: /opt/gen/l{i}\n      target: {}\n",
                quoted(t)
            ));
        }
    }
    y.push_str("  trees:\n    - local: tree\n      path: /var/tree\n");
    if !d.units.is_empty() {
        y.push_str("systemd:\n  units:\n");
        for (i, (word, enabled)) in d.units.iter().enumerate() {
            y.push_str(&format!("    - name: gen{i}.service\n"));
            if let Some(e) = enabled {
                y.push_str(&format!("      enabled: {e}\n"));
            }
            y.push_str(&format!(
                "      contents: {}\n",
                quoted(&format!(
                    "[Service]\nExecStart=/bin/echo {word}\n[Install]\nWantedBy=multi-user.target\n"
                ))
            ));
        }
    }
    y
}

fn write_tree(d: &Doc, root: &Path) {
    let t = root.join("tree");
    std::fs::create_dir_all(t.join("sub")).unwrap();
    for f in &d.tree {
        use std::os::unix::fs::PermissionsExt as _;
        let p = t.join(&f.rel);
        std::fs::write(&p, &f.bytes).unwrap();
        let mode = if f.exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    if let Some(target) = &d.tree_link {
        std::os::unix::fs::symlink(target, t.join("sub/link")).unwrap();
    }
}

/// Decodes a data URL as Ignition would (percent-escapes or base64, then
/// gzip when `compression` says so).
fn decode(source: &str, compression: Option<&str>) -> Result<Vec<u8>, String> {
    let rest = source.strip_prefix("data:").ok_or("not a data URL")?;
    let (meta, data) = rest.split_once(',').ok_or("no comma")?;
    let raw = if meta.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| e.to_string())?
    } else {
        let b = data.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(h, 16).map_err(|e| e.to_string())?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    };
    match compression {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|e| e.to_string())?;
            Ok(out)
        }
        Some("") | None => Ok(raw),
        Some(c) => Err(format!("compression {c}")),
    }
}

/// What a file should end up as: (contents, appends, mode).
type Want = (Option<Vec<u8>>, Vec<Vec<u8>>, Option<i64>);

fn check(d: &Doc) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    write_tree(d, dir.path());
    let input = yaml(d);
    let opts = Options {
        files_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let t = translate(input.as_bytes(), &opts)
        .map_err(|e| TestCaseError::fail(format!("{input}\n{} {:?}", e.error, e.report)))?;
    prop_assert!(t.report.entries.is_empty(), "{input}\n{:?}", t.report);
    let parsed = reignite_spec::parse(&t.json).map_err(|e| {
        TestCaseError::fail(format!(
            "{}\nspec parse: {e}",
            String::from_utf8_lossy(&t.json)
        ))
    })?;
    prop_assert!(!parsed.report.is_fatal(), "{:?}", parsed.report);
    let st = &parsed.config.storage;

    let mut want_files: BTreeMap<String, Want> = BTreeMap::new();
    for (i, f) in d.files.iter().enumerate() {
        want_files.insert(
            format!("/etc/gen/f{i}"),
            (
                f.contents.as_ref().map(|c| c.clone().into_bytes()),
                f.append.iter().map(|a| a.clone().into_bytes()).collect(),
                f.mode.map(i64::from),
            ),
        );
    }
    for f in &d.tree {
        let mode = if f.exec { 0o755 } else { 0o644 };
        want_files.insert(
            format!("/var/tree/{}", f.rel),
            (Some(f.bytes.clone()), Vec::new(), Some(mode)),
        );
    }
    let mut got_files: BTreeMap<String, Want> = BTreeMap::new();
    for f in &st.files {
        let dec = |r: &reignite_spec::Resource| {
            decode(r.source.as_deref().unwrap_or(""), r.compression.as_deref())
                .map_err(|e| TestCaseError::fail(format!("{}: {e}", f.node.path)))
        };
        let contents = match &f.contents.source {
            Some(_) => Some(dec(&f.contents)?),
            None => None,
        };
        let append = f.append.iter().map(dec).collect::<Result<Vec<_>, _>>()?;
        got_files.insert(f.node.path.clone(), (contents, append, f.mode));
    }
    prop_assert_eq!(got_files, want_files);

    let want_dirs: BTreeMap<String, Option<i64>> = d
        .dirs
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("/srv/gen/d{i}"), m.map(i64::from)))
        .collect();
    let got_dirs: BTreeMap<String, Option<i64>> = st
        .directories
        .iter()
        .map(|x| (x.node.path.clone(), x.mode))
        .collect();
    prop_assert_eq!(got_dirs, want_dirs);

    let mut want_links: BTreeMap<String, Option<String>> = d
        .links
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("/opt/gen/l{i}"), Some(t.clone())))
        .collect();
    if let Some(t) = &d.tree_link {
        want_links.insert("/var/tree/sub/link".into(), Some(t.clone()));
    }
    let got_links: BTreeMap<String, Option<String>> = st
        .links
        .iter()
        .map(|l| (l.node.path.clone(), l.target.clone()))
        .collect();
    prop_assert_eq!(got_links, want_links);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn translate_then_spec_parse_keeps_the_declared_nodes(d in doc()) {
        check(&d)?;
    }
}
