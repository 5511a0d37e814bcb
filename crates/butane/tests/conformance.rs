//! The Butane v0.29.0 conformance cases from `shared/conformance/butane/`:
//! every case is run strict and non-strict, compact and pretty, with raw and
//! pretty reports, exactly as the manifest's command line did (inside a
//! scratch copy of `cases/` so relative paths in messages match). Scores:
//! exit codes, output JSON byte-exact, output JSON with gzip data URLs
//! compared decoded, raw stderr, pretty stderr, report entries.
//!
//! Skips (with a message) when the shared directory is absent.

use std::io::Read as _;

use base64::Engine as _;
use reignite_butane::{run_cli, translate, Options};
use serde_json::Value;

mod common;

/// Replaces gzip data URLs by their decoded contents so that Go's and
/// flate2's deflate streams compare equal.
fn decode_gzip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let gz = m.get("compression").and_then(Value::as_str) == Some("gzip");
            if gz {
                if let Some(Value::String(s)) = m.get_mut("source") {
                    if let Some(b) = s.strip_prefix("data:;base64,") {
                        let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(&raw[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        *s = format!("GUNZIPPED:{}", String::from_utf8_lossy(&out));
                    }
                }
            }
            m.values_mut().for_each(decode_gzip);
        }
        Value::Array(a) => a.iter_mut().for_each(decode_gzip),
        _ => {}
    }
}

fn decoded(bytes: &[u8]) -> Option<String> {
    let mut v: Value = serde_json::from_slice(bytes).ok()?;
    decode_gzip(&mut v);
    Some(serde_json::to_string(&v).unwrap())
}

/// kind, path, line, column, message
type EntryKey = (String, Option<String>, Option<usize>, Option<usize>, String);

#[derive(Default, Debug)]
struct Score {
    runs: usize,
    rc: usize,
    json_exact: usize,
    json_decoded: usize,
    json_total: usize,
    pretty_exact: usize,
    pretty_decoded: usize,
    raw_stderr: usize,
    pretty_stderr: usize,
    entries: usize,
    failures: Vec<String>,
}

#[test]
fn butane_conformance() {
    let root = common::conformance_dir();
    let Some(manifest) = common::manifest() else {
        eprintln!("SKIP: {} not found", root.display());
        return;
    };
    let cases = manifest["cases"].as_array().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut s = Score::default();
    let mut case_ok = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let dir = scratch.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let files_dir = common::materialize(case, &dir);
        std::env::set_current_dir(&dir).unwrap();
        let input = std::fs::read(root.join(case["input"].as_str().unwrap())).unwrap();
        let filename = format!("{name}.bu");
        let mut all = true;
        for mode in ["strict", "nonstrict"] {
            let exp = &case[mode];
            let strict = mode == "strict";
            let read = |k: &str| {
                exp[k]
                    .as_str()
                    .map(|p| std::fs::read(root.join(p)).unwrap())
            };
            let opts = Options {
                files_dir: files_dir.clone(),
                ..Options::default()
            };
            let compact = run_cli(&input, &filename, &opts, strict, true, false);
            let pretty_opts = Options {
                pretty: true,
                ..opts.clone()
            };
            let pretty = run_cli(&input, &filename, &pretty_opts, strict, false, false);
            s.runs += 1;
            let mut fail = |what: &str, detail: String| {
                all = false;
                s.failures.push(format!("{name} [{mode}] {what}: {detail}"));
            };
            if compact.code as i64 == exp["rc"].as_i64().unwrap() {
                s.rc += 1;
            } else {
                fail("rc", format!("got {} want {}", compact.code, exp["rc"]));
            }
            let want_ign = read("ign");
            if let Some(w) = &want_ign {
                s.json_total += 1;
                let got = compact.stdout.clone().unwrap_or_default();
                if &got == w {
                    s.json_exact += 1;
                }
                if decoded(&got).is_some() && decoded(&got) == decoded(w) {
                    s.json_decoded += 1;
                } else {
                    fail(
                        "json",
                        format!(
                            "\n  got  {}\n  want {}",
                            String::from_utf8_lossy(&got).trim_end(),
                            String::from_utf8_lossy(w).trim_end()
                        ),
                    );
                }
                let wp = read("pretty").unwrap();
                let gp = pretty.stdout.clone().unwrap_or_default();
                if gp == wp {
                    s.pretty_exact += 1;
                }
                if decoded(&gp).is_some()
                    && decoded(&gp) == decoded(&wp)
                    && gp.iter().filter(|&&b| b == b'\n').count()
                        == wp.iter().filter(|&&b| b == b'\n').count()
                {
                    s.pretty_decoded += 1;
                } else {
                    fail("pretty json", String::new());
                }
            } else if compact.stdout.is_some() {
                fail("json", "output produced where none expected".into());
            }
            let raw = read("raw_stderr").unwrap();
            if compact.stderr.as_bytes() == raw.as_slice() {
                s.raw_stderr += 1;
            } else {
                fail(
                    "raw stderr",
                    format!(
                        "\n  got  {:?}\n  want {:?}",
                        compact.stderr,
                        String::from_utf8_lossy(&raw)
                    ),
                );
            }
            let ps = read("stderr").unwrap();
            if pretty.stderr.as_bytes() == ps.as_slice() {
                s.pretty_stderr += 1;
            } else {
                fail(
                    "pretty stderr",
                    format!(
                        "\n  got  {:?}\n  want {:?}",
                        pretty.stderr,
                        String::from_utf8_lossy(&ps)
                    ),
                );
            }
            // Report entries as a set (the manifest lists them deduplicated).
            let r = match translate(&input, &opts) {
                Ok(t) => t.report,
                Err(e) => e.report,
            };
            let mut got: Vec<EntryKey> = r
                .entries
                .iter()
                .map(|e| {
                    (
                        e.kind.to_string(),
                        e.path.as_ref().map(|p| p.to_string()),
                        e.line,
                        e.column,
                        e.message.clone(),
                    )
                })
                .collect();
            got.sort();
            got.dedup();
            let mut want: Vec<_> = exp["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["kind"].as_str().unwrap().to_string(),
                        e["path"].as_str().map(str::to_string),
                        e["line"].as_u64().map(|x| x as usize),
                        e["col"].as_u64().map(|x| x as usize),
                        e["message"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            want.sort();
            want.dedup();
            if got == want {
                s.entries += 1;
            } else {
                fail("entries", format!("\n  got  {got:?}\n  want {want:?}"));
            }
        }
        if all {
            case_ok += 1;
        }
    }
    println!(
        "butane conformance: {case_ok}/{} cases fully passing",
        cases.len()
    );
    println!(
        "  runs {} | rc {} | json decoded {}/{} exact {}/{} | pretty decoded {}/{} exact {}/{} | raw stderr {} | pretty stderr {} | entries {}",
        s.runs, s.rc, s.json_decoded, s.json_total, s.json_exact, s.json_total, s.pretty_decoded,
        s.json_total, s.pretty_exact, s.json_total, s.raw_stderr, s.pretty_stderr, s.entries
    );
    for f in &s.failures {
        println!("FAIL {f}");
    }
    assert!(
        s.failures.is_empty(),
        "{} conformance failures",
        s.failures.len()
    );
}
