//! Golden tests: examples from Flatcar's and Fedora CoreOS's (Butane's)
//! documentation, written out under `tests/golden/<case>/` as our own test
//! inputs, each with an `expected.json` derived **by hand** from Butane's
//! documented semantics and upstream source (see the case's `NOTES.md`),
//! never captured from this translator.
//!
//! A case is a directory holding `input.bu`, `expected.json` (Butane's
//! compact output, with or without the trailing newline), `NOTES.md` (doc
//! source and the rules applied) and optionally `files/` (the
//! `--files-dir`). The translation must succeed with an empty report and
//! equal the expectation as a JSON value and byte for byte; where the
//! expectation has gzip data URLs (whose deflate bytes are Go's, not ours),
//! those are compared decoded and the bytes are not compared.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use reignite_butane::{translate, Options};
use serde_json::Value;

/// Replaces each gzip data URL by its decoded contents; returns how many.
fn gunzip_sources(v: &mut Value, case: &str) -> usize {
    match v {
        Value::Object(m) => {
            let mut n = 0;
            if m.get("compression").and_then(Value::as_str) == Some("gzip") {
                if let Some(Value::String(s)) = m.get_mut("source") {
                    if let Some(b) = s.strip_prefix("data:;base64,") {
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(b)
                            .unwrap_or_else(|e| panic!("{case}: bad base64 in {s}: {e}"));
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(&raw[..])
                            .read_to_end(&mut out)
                            .unwrap_or_else(|e| panic!("{case}: bad gzip in {s}: {e}"));
                        *s = format!("gunzipped:{}", String::from_utf8_lossy(&out));
                        n += 1;
                    }
                }
            }
            n + m
                .values_mut()
                .map(|v| gunzip_sources(v, case))
                .sum::<usize>()
        }
        Value::Array(a) => a.iter_mut().map(|v| gunzip_sources(v, case)).sum(),
        _ => 0,
    }
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Checks one case; `Err` says what is wrong.
fn check(dir: &Path) -> Result<&'static str, String> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    let input = read("input.bu")?;
    let expected = read("expected.json")?;
    read("NOTES.md")?;
    let files = dir.join("files");
    let opts = Options {
        files_dir: files.is_dir().then_some(files),
        ..Options::default()
    };
    let t = translate(&input, &opts)
        .map_err(|e| format!("translation failed: {} {:?}", e.error, e.report))?;
    if !t.report.entries.is_empty() {
        return Err(format!("unexpected report: {:?}", t.report));
    }
    let want_text = expected.strip_suffix(b"\n").unwrap_or(&expected);
    let mut want: Value =
        serde_json::from_slice(want_text).map_err(|e| format!("expected.json is not JSON: {e}"))?;
    let mut got: Value = serde_json::from_slice(&t.json).map_err(|e| format!("output: {e}"))?;
    let gz_want = gunzip_sources(&mut want, &dir.display().to_string());
    let gz_got = gunzip_sources(&mut got, &dir.display().to_string());
    let got_text = String::from_utf8_lossy(&t.json);
    if got != want {
        return Err(format!(
            "value differs\n  want: {}\n  got:  {got_text}",
            String::from_utf8_lossy(want_text)
        ));
    }
    if gz_want == 0 && gz_got == 0 {
        if t.json != want_text {
            return Err(format!(
                "bytes differ (order or escaping)\n  want: {}\n  got:  {got_text}",
                String::from_utf8_lossy(want_text)
            ));
        }
        Ok("exact")
    } else {
        Ok("decoded")
    }
}

#[test]
fn documented_examples_match_hand_computed_outputs() {
    let cases = cases();
    let (mut exact, mut decoded, mut failures) = (0, 0, Vec::new());
    for dir in &cases {
        match check(dir) {
            Ok("exact") => exact += 1,
            Ok(_) => decoded += 1,
            Err(e) => failures.push(format!(
                "{}: {e}",
                dir.file_name().unwrap().to_string_lossy()
            )),
        }
    }
    println!(
        "golden: {} cases checked, {exact} byte-exact, {decoded} with gzip compared decoded, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 40, "only {} golden cases", cases.len());
}

#[test]
fn a_case_without_expected_output_fails() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("input.bu"),
        "variant: flatcar\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(d.path().join("NOTES.md"), "x\n").unwrap();
    let e = check(d.path()).unwrap_err();
    assert!(e.contains("expected.json"), "{e}");
    std::fs::write(
        d.path().join("expected.json"),
        "{\"ignition\":{\"version\":\"3.3.0\"}}\n",
    )
    .unwrap();
    assert_eq!(check(d.path()), Ok("exact"));
    // A wrong field order is caught by the byte comparison.
    std::fs::write(
        d.path().join("input.bu"),
        "variant: flatcar\nversion: 1.0.0\npasswd:\n  users:\n    - name: a\n      uid: 1\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("expected.json"),
        "{\"ignition\":{\"version\":\"3.3.0\"},\"passwd\":{\"users\":[{\"uid\":1,\"name\":\"a\"}]}}",
    )
    .unwrap();
    assert!(check(d.path()).unwrap_err().contains("bytes differ"));
}
