//! Differential test against Debian's `ignition-validate` (Ignition 2.14,
//! specs 3.0.0–3.3.0): every fixture under `tests/differential/` is judged by
//! both, and the exit status and the (severity, `$.path`) pairs must agree,
//! in order (unknown-key warnings, which Go emits in map order, compared as
//! a multiset), and so must the `line L col C` positions. The known differences between Ignition 2.14 and the upstream
//! HEAD rules reignite implements are applied explicitly by
//! [`KNOWN_DIFFERENCES`]; anything else fails the test.
//!
//! Skips with a printed reason when `ignition-validate` is not installed
//! (`apt-get install ignition`).

use std::path::{Path, PathBuf};
use std::process::Command;

use reignite_spec::report::Entry;
use reignite_spec::ParseError;

/// One report line reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pair {
    severity: String,
    path: Option<String>,
    /// `line L col C`, when the entry has a position.
    position: Option<String>,
    message: String,
}

/// A known, documented difference between Ignition 2.14 and reignite (which
/// follows upstream HEAD). `ours` entries with one of these messages are
/// dropped from reignite's report and `theirs` entries from 2.14's before
/// comparing; exit statuses are recomputed from what is left.
struct Known {
    message: &'static str,
    side: Side,
    reason: &'static str,
}

#[derive(PartialEq, Eq)]
enum Side {
    /// Rule added after 2.14: only reignite reports it.
    Ours,
    /// Rule removed after 2.14: only Ignition 2.14 reports it.
    Theirs,
}

const KNOWN_DIFFERENCES: &[Known] = &[
    Known {
        message: "path conflicts with systemd unit or dropin",
        side: Side::Ours,
        reason: "rule added in Ignition 2.15",
    },
    Known {
        message: "user/group ignored for hard link",
        side: Side::Ours,
        reason: "rule added in Ignition 2.15",
    },
    Known {
        message: "doesn't have Install section",
        side: Side::Ours,
        reason: "template-unit warning added in Ignition 2.15",
    },
    Known {
        message: "filesystem overwrites partitioned device",
        side: Side::Ours,
        reason: "warning added in Ignition 2.15",
    },
    Known {
        message: "device matches disk with wipeTable enabled; filesystem will be wiped",
        side: Side::Ours,
        reason: "warning added in Ignition 2.15",
    },
    Known {
        message: "shouldExist is false for a partition and other partition(s) has start or size 0",
        side: Side::Theirs,
        reason: "check removed upstream (PR #2234); reignite follows HEAD",
    },
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

fn oracle() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/ignition-validate");
    p.exists().then_some(p)
}

/// Parses one line of Ignition's report: `<sev> at $.p, line L col C: msg`,
/// `<sev> at line L col C: msg`, `<sev> at $.p: msg`, `<sev>: msg`.
fn parse_line(line: &str) -> Option<Pair> {
    let (severity, rest) = line.split_once(' ')?;
    if !matches!(severity, "error" | "warning" | "info") {
        return None;
    }
    let rest = rest.strip_prefix("at ")?;
    let (loc, message) = rest.split_once(": ")?;
    let path = loc
        .starts_with('$')
        .then(|| loc.split(", line ").next().unwrap_or(loc).to_string());
    let position = loc.find("line ").map(|i| loc[i..].to_string());
    Some(Pair {
        severity: severity.to_string(),
        path,
        position,
        message: message.to_string(),
    })
}

struct Outcome {
    exit: i32,
    pairs: Vec<Pair>,
}

fn run_oracle(bin: &Path, bytes: &[u8]) -> Outcome {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(bin)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ignition-validate");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("feed ignition-validate");
    let out = child
        .wait_with_output()
        .expect("wait for ignition-validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // ignition-validate prints its report through Printf *as the format*,
    // so a message ending in `%` turns the newline into a verb and the next
    // line starts with `(MISSING)`; undo that.
    let pairs = stdout
        .lines()
        .map(|l| l.strip_prefix("(MISSING)").unwrap_or(l))
        .filter_map(parse_line)
        .collect();
    Outcome {
        exit: out.status.code().unwrap_or(-1),
        pairs,
    }
}

/// reignite's judgement: `Ok(entries)` when the config was judged (exit 1
/// iff an entry is an error), `Err(())` when it could not be parsed at all
/// (exit 1, reason on stderr, like `ignition-validate`).
fn our_report(bytes: &[u8]) -> Result<Vec<Entry>, ()> {
    match reignite_spec::parse(bytes) {
        Ok(parsed) => Ok(parsed.report.entries),
        Err(ParseError::Invalid(report)) => Ok(report.entries),
        Err(_) => Err(()),
    }
}

fn run_ours(bytes: &[u8]) -> Outcome {
    let (failed, entries) = match our_report(bytes) {
        Ok(e) => (false, e),
        Err(()) => (true, Vec::new()),
    };
    let pairs: Vec<Pair> = entries
        .iter()
        .map(|e| parse_line(&e.to_string()).expect("our report line parses"))
        .collect();
    let exit = i32::from(failed || pairs.iter().any(|p| p.severity == "error"));
    Outcome { exit, pairs }
}

/// Drops the entries of known differences on `side` and recomputes the exit
/// status. A failure without error entries (a parse failure reported on
/// stderr) keeps its status.
fn adjust(o: Outcome, side: Side) -> (i32, Vec<Pair>) {
    let had_errors = o.pairs.iter().any(|p| p.severity == "error");
    let pairs: Vec<Pair> = o
        .pairs
        .into_iter()
        .filter(|p| {
            !KNOWN_DIFFERENCES
                .iter()
                .any(|k| k.side == side && p.message.contains(k.message))
        })
        .collect();
    let exit = if o.exit != 0 && !had_errors {
        o.exit
    } else {
        i32::from(pairs.iter().any(|p| p.severity == "error"))
    };
    (exit, pairs)
}

fn is_unknown_key(p: &Pair) -> bool {
    p.message.to_ascii_lowercase().starts_with("unused key ")
}

/// (severity, path, position) in order, unknown-key warnings sorted at the
/// end; positions are only included when `with_positions`.
fn key(pairs: &[Pair], with_positions: bool) -> Vec<(String, Option<String>, Option<String>)> {
    let k = |p: &Pair| {
        let pos = if with_positions {
            p.position.clone()
        } else {
            None
        };
        (p.severity.clone(), p.path.clone(), pos)
    };
    let mut main: Vec<_> = pairs.iter().filter(|p| !is_unknown_key(p)).map(k).collect();
    let mut unknown: Vec<_> = pairs.iter().filter(|p| is_unknown_key(p)).map(k).collect();
    unknown.sort();
    main.extend(unknown);
    main
}

/// Running totals of one differential run.
#[derive(Default)]
struct Tally {
    configs: usize,
    valid: usize,
    invalid: usize,
    warned: usize,
    adjusted: usize,
    applied: Vec<usize>,
    failures: Vec<String>,
}

impl Tally {
    /// Judges `bytes` with both validators and records any disagreement.
    fn judge(&mut self, bin: &Path, name: &str, bytes: &[u8]) {
        if self.applied.is_empty() {
            self.applied = vec![0; KNOWN_DIFFERENCES.len()];
        }
        self.configs += 1;
        let theirs_raw = run_oracle(bin, bytes);
        let ours_raw = run_ours(bytes);
        if theirs_raw.exit == 0 {
            self.valid += 1;
        } else {
            self.invalid += 1;
        }
        if theirs_raw.pairs.iter().any(|p| p.severity == "warning") {
            self.warned += 1;
        }
        let n = (theirs_raw.pairs.len(), ours_raw.pairs.len());
        for (k, count) in KNOWN_DIFFERENCES.iter().zip(self.applied.iter_mut()) {
            let side = if k.side == Side::Ours {
                &ours_raw
            } else {
                &theirs_raw
            };
            *count += side
                .pairs
                .iter()
                .filter(|p| p.message.contains(k.message))
                .count();
        }
        let (their_exit, theirs) = adjust(theirs_raw, Side::Theirs);
        let (our_exit, ours) = adjust(ours_raw, Side::Ours);
        if (theirs.len(), ours.len()) != n {
            self.adjusted += 1;
        }
        if their_exit != our_exit || key(&theirs, false) != key(&ours, false) {
            self.failures.push(format!(
                "{name}:\n  ignition-validate exit {their_exit}: {theirs:?}\n  reignite          exit {our_exit}: {ours:?}"
            ));
        } else if key(&theirs, true) != key(&ours, true) {
            self.failures.push(format!(
                "{name}: same entries, different line/col:\n  ignition-validate: {theirs:?}\n  reignite:          {ours:?}"
            ));
        }
    }

    fn finish(self, what: &str) {
        println!(
            "differential ({what}): {} configs ({} valid, {} invalid, {} with warnings; {} needed a known-difference adjustment)",
            self.configs, self.valid, self.invalid, self.warned, self.adjusted
        );
        for (k, n) in KNOWN_DIFFERENCES.iter().zip(&self.applied) {
            println!(
                "  known difference applied {n}x: {:?} ({})",
                k.message, k.reason
            );
        }
        assert!(
            self.failures.is_empty(),
            "{} of {} configs disagree:\n{}",
            self.failures.len(),
            self.configs,
            self.failures.join("\n")
        );
    }
}

#[test]
fn agrees_with_ignition_validate_2_14() {
    let Some(bin) = oracle() else {
        println!("SKIPPED: /usr/bin/ignition-validate not installed (apt-get install ignition)");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ign"))
        .collect();
    files.sort();
    assert!(files.len() >= 150, "only {} fixtures", files.len());
    let mut tally = Tally::default();
    for f in &files {
        let bytes = std::fs::read(f).expect("read fixture");
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        tally.judge(&bin, &name, &bytes);
    }
    tally.finish("own fixtures");
}

/// The same comparison over every distinct spec 3.0–3.3 config of upstream's
/// blackbox suite (`shared/conformance/ignition-blackbox.json`), positive
/// and negative.
#[test]
fn agrees_on_the_blackbox_corpus() {
    let Some(bin) = oracle() else {
        println!("SKIPPED: /usr/bin/ignition-validate not installed (apt-get install ignition)");
        return;
    };
    let corpus = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
        .join("conformance/ignition-blackbox.json");
    let Ok(text) = std::fs::read_to_string(&corpus) else {
        println!("SKIPPED: {} not found", corpus.display());
        return;
    };
    let data: serde_json::Value = serde_json::from_str(&text).expect("corpus is JSON");
    let mut seen = std::collections::HashSet::new();
    let mut tally = Tally::default();
    for kind in ["positive", "negative"] {
        for t in data[kind].as_array().into_iter().flatten() {
            let version = t["ConfigVersion"].as_str().unwrap_or("");
            let Some(config) = t["Config"].as_str() else {
                continue;
            };
            if !matches!(version, "3.0.0" | "3.1.0" | "3.2.0" | "3.3.0")
                || config.is_empty()
                || !seen.insert(config.to_string())
            {
                continue;
            }
            let name = format!("{kind} {}", t["Name"].as_str().unwrap_or("?"));
            tally.judge(&bin, &name, config.as_bytes());
        }
    }
    assert!(tally.configs > 100, "only {} corpus configs", tally.configs);
    tally.finish("blackbox corpus");
}

/// The same comparison over configs generated from a fixed seed, built from
/// pieces that stress the emulated Go parsers: URLs and data URLs (sources,
/// proxies, tang, key files) and systemd unit contents.
#[test]
fn agrees_on_generated_configs() {
    let Some(bin) = oracle() else {
        println!("SKIPPED: /usr/bin/ignition-validate not installed (apt-get install ignition)");
        return;
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    const URL_STARTS: &[&str] = &[
        "http://",
        "https://",
        "data:",
        "s3://",
        "gs://",
        "arn:aws:s3:::",
        "tftp://",
        "",
        "data:text/plain;",
        "data:;base64,",
        "HTTP://",
    ];
    const URL_PIECES: &[&str] = &[
        "http",
        "s3",
        "data",
        "arn",
        ":",
        "//",
        "/",
        "?",
        "#",
        "%",
        "%2",
        "%zz",
        "%41",
        "@",
        "[",
        "]",
        "::1",
        "%25en0",
        "a",
        "b",
        "\u{e9}",
        " ",
        "\"",
        "'",
        ";",
        ",",
        "=",
        "base64",
        "text",
        "plain",
        "x-",
        "\\",
        "80",
        "host",
        ".",
        "..",
        "versionId=",
        "&",
        "-",
        "{",
        "|",
        "^",
        "+",
        "QUJD",
        "QQ==",
        "\n",
    ];
    const UNIT_PIECES: &[&str] = &[
        "[Unit]",
        "[Service]",
        "[Install]",
        "\n",
        "\r\n",
        " ",
        "\t",
        "#",
        "; c",
        "A=b",
        "=",
        "\\",
        "\\\n",
        "x",
        "]",
        "[",
        "WantedBy=x",
        " x",
        "\u{e9}",
    ];
    let mut tally = Tally::default();
    for i in 0..150 {
        let url = |next: &mut dyn FnMut(usize) -> usize| {
            let mut s = URL_STARTS[next(URL_STARTS.len())].to_string();
            for _ in 0..next(9) {
                s.push_str(URL_PIECES[next(URL_PIECES.len())]);
            }
            s
        };
        let unit = |next: &mut dyn FnMut(usize) -> usize| {
            (0..next(13))
                .map(|_| UNIT_PIECES[next(UNIT_PIECES.len())])
                .collect::<String>()
        };
        let minor = next(4);
        let mut cfg = serde_json::json!({
            "ignition": {"version": format!("3.{minor}.0")},
            "storage": {"files": [
                {"path": "/a", "contents": {"source": url(&mut next)}},
                {"path": "/b", "append": [{"source": url(&mut next)}]}
            ]},
            "systemd": {"units": [
                {"name": "u.service", "enabled": next(2) == 0, "contents": unit(&mut next),
                 "dropins": [{"name": "d.conf", "contents": unit(&mut next)}]}
            ]}
        });
        if minor >= 1 {
            cfg["ignition"]["proxy"] =
                serde_json::json!({"httpProxy": url(&mut next), "httpsProxy": url(&mut next)});
        }
        if minor >= 2 {
            cfg["storage"]["luks"] = serde_json::json!([{
                "name": "l", "device": "/dev/l", "keyFile": {"source": url(&mut next)},
                "clevis": {"tang": [{"url": url(&mut next), "thumbprint": "t"}]}
            }]);
        }
        let bytes = serde_json::to_vec(&cfg).expect("encode");
        tally.judge(&bin, &format!("generated #{i}: {cfg}"), &bytes);
    }
    tally.finish("generated configs");
}

/// Seeded random storage/passwd structures: paths, modes, owners, links and
/// hard links, disks and partitions, filesystems, RAID and duplicate keys,
/// which exercises rule order and the cross-entry checks.
#[test]
fn agrees_on_generated_storage_configs() {
    use serde_json::{json, Value};
    let Some(bin) = oracle() else {
        println!("SKIPPED: /usr/bin/ignition-validate not installed (apt-get install ignition)");
        return;
    };
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    const PATHS: &[&str] = &[
        "/a", "/a/b", "a", "/a/", "/a//b", "/a/./b", "/a/../b", "", "/", "/dev/sda", "/x/y/z",
        "/l", "/l/m", "/\u{e9}",
    ];
    fn pick<T: Clone>(next: &mut dyn FnMut(usize) -> usize, xs: &[T]) -> T {
        xs[next(xs.len())].clone()
    }
    /// An object of the given optional fields, each present with chance 1/2.
    fn obj(fields: Vec<(&str, Value)>, next: &mut dyn FnMut(usize) -> usize) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in fields {
            if next(2) == 0 {
                m.insert(k.to_string(), v);
            }
        }
        Value::Object(m)
    }
    let mut tally = Tally::default();
    for i in 0..100 {
        let n = &mut next;
        let minor = n(4);
        let files: Vec<Value> = (0..n(4))
            .map(|_| {
                let mut f = obj(
                    vec![
                        ("mode", json!(pick(n, &[420, 2541, 4096, -1, 0, 511]))),
                        ("overwrite", json!(n(2) == 0)),
                        ("contents", json!({"source": "data:,x"})),
                        ("user", json!({"id": 1, "name": pick(n, &["", "u"])})),
                        ("group", json!({"name": "g"})),
                    ],
                    n,
                );
                f["path"] = json!(pick(n, PATHS));
                f
            })
            .collect();
        let dirs: Vec<Value> = (0..n(3))
            .map(|_| json!({"path": pick(n, PATHS), "mode": pick(n, &[493, 1023, 99999])}))
            .collect();
        let links: Vec<Value> = (0..n(4))
            .map(|_| {
                let mut l = obj(
                    vec![
                        (
                            "target",
                            json!(pick(n, &["/a", "", "../a", "/dev/sda", "/a/b"])),
                        ),
                        ("hard", json!(n(2) == 0)),
                        ("user", json!({"id": 0})),
                    ],
                    n,
                );
                l["path"] = json!(pick(n, PATHS));
                l
            })
            .collect();
        let parts: Vec<Value> = (0..n(5))
            .map(|_| {
                obj(
                    vec![
                        ("number", json!(n(5))),
                        (
                            "label",
                            json!(pick(
                                n,
                                &["a", "b", "x:y", "", "0123456789012345678901234567890123456"]
                            )),
                        ),
                        ("startMiB", json!(n(30))),
                        ("sizeMiB", json!(n(15))),
                        ("shouldExist", json!(n(2) == 0)),
                        (
                            "guid",
                            json!(pick(
                                n,
                                &["", "bad", "01234567-89AB-CDEF-EDCB-A98765432101"]
                            )),
                        ),
                    ],
                    n,
                )
            })
            .collect();
        let fss: Vec<Value> = (0..n(3))
            .map(|_| {
                let mut f = obj(
                    vec![
                        (
                            "format",
                            json!(pick(n, &["ext4", "xfs", "vfat", "swap", "none", "zfs", ""])),
                        ),
                        (
                            "label",
                            json!(pick(n, &["L", "xxxxxxxxxxxxx", "xxxxxxxxxxxxxxxxx", ""])),
                        ),
                        ("path", json!(pick(n, &["/var", "var", ""]))),
                        ("wipeFilesystem", json!(n(2) == 0)),
                    ],
                    n,
                );
                f["device"] = json!(pick(n, &["/dev/sda", "/dev/sdc", "dev"]));
                f
            })
            .collect();
        let raid: Vec<Value> = (0..n(3))
            .map(|_| {
                let mut r = obj(
                    vec![
                        (
                            "level",
                            json!(pick(n, &["raid0", "raid1", "linear", "5", "bogus", ""])),
                        ),
                        ("devices", json!([pick(n, PATHS), pick(n, PATHS)])),
                        ("spares", json!(n(3))),
                    ],
                    n,
                );
                r["name"] = json!(pick(n, &["r", "r", "s/x"]));
                r
            })
            .collect();
        let users: Vec<Value> = (0..n(3))
            .map(|_| json!({"name": pick(n, &["u", "v"]), "groups": ["a", pick(n, &["a", "b"])]}))
            .collect();
        let disk = json!({"device": pick(n, &["/dev/sda", "", "sdb"]), "wipeTable": n(2) == 0, "partitions": parts});
        let cfg = json!({
            "ignition": {"version": format!("3.{minor}.0")},
            "storage": {"files": files, "directories": dirs, "links": links, "disks": [disk],
                        "filesystems": fss, "raid": raid},
            "passwd": {"users": users}
        });
        let bytes = serde_json::to_vec(&cfg).expect("encode");
        tally.judge(&bin, &format!("generated storage #{i}: {cfg}"), &bytes);
    }
    tally.finish("generated storage configs");
}
