//! Upstream Ignition's blackbox corpus (`shared/conformance/ignition-blackbox.json`)
//! as a parse/validation oracle.
//!
//! Which negative cases fail at parse/validation time is decided the way
//! upstream's own runner decides it (`tests/blackbox_test.go`): a case with
//! `ConfigShouldBeBad: true` skips the runner's `config.Parse` pre-check
//! because its config is expected not to parse; every other case, positive
//! or negative, must pass `config.Parse` before Ignition runs (negatives then
//! fail at fetch/disks/files time). So:
//!
//! * every negative case with `ConfigShouldBeBad` must be **rejected** by
//!   [`reignite_spec::parse`] (a syntax error, or an unsupported version);
//! * every case without it must be **accepted** (no error entries), after the
//!   runner's substitutions (`MntDevices` tokens, `$diskN`, `$uuidN`).
//!
//! Skips with a printed reason when the shared corpus is absent.

use std::path::Path;

use serde_json::Value;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/ignition-blackbox.json"
);

fn load() -> Option<Value> {
    if !Path::new(CORPUS).exists() {
        println!("skipping: {CORPUS} not found");
        return None;
    }
    let text = std::fs::read_to_string(CORPUS).expect("read corpus");
    Some(serde_json::from_str(&text).expect("corpus is JSON"))
}

/// The runner's placeholders, replaced by plausible absolute device paths
/// and UUIDs: each `MntDevices[].Substitution` token (`$DEVICE`, `DEVICE`,
/// `$devN`…), then `$diskN` and `$uuidN`.
fn substitute(cfg: &str, mnt: &[String]) -> String {
    let mut out = cfg.to_string();
    for (k, token) in mnt.iter().enumerate() {
        out = out.replace(token.as_str(), &format!("/dev/loop9p{}", k + 1));
    }
    for i in (0..10).rev() {
        out = out
            .replace(&format!("$disk{i}"), &format!("/dev/loop{i}"))
            .replace(
                &format!("$uuid{i}"),
                &format!("{i}{i}{i}{i}{i}{i}{i}{i}-1111-2222-3333-444455556666"),
            );
    }
    out
}

struct Case {
    name: String,
    config: String,
    bad: bool,
    mnt: Vec<String>,
}

fn cases(v: &Value, kind: &str) -> Vec<Case> {
    v[kind]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| Case {
            name: c["Name"].as_str().unwrap_or("").to_string(),
            config: c["Config"].as_str().unwrap_or("").to_string(),
            bad: c["ConfigShouldBeBad"].as_bool().unwrap_or(false),
            mnt: c["MntDevices"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|d| d["Substitution"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

#[test]
fn negative_cases_that_fail_validation_are_rejected() {
    let Some(v) = load() else { return };
    let mut rejected = 0;
    for c in cases(&v, "negative") {
        if !c.bad {
            continue;
        }
        let name = &c.name;
        let r = reignite_spec::parse(substitute(&c.config, &c.mnt).as_bytes());
        let Err(e) = r else {
            panic!("{name}: accepted but must be rejected")
        };
        println!(
            "{name}: rejected: {e}: {}",
            e.report().to_string().trim_end()
        );
        rejected += 1;
    }
    println!("{rejected} negative parse/validation cases rejected");
    assert_eq!(rejected, 10, "the corpus has 10 such instances");
}

#[test]
fn every_config_upstream_prevalidates_is_accepted() {
    let Some(v) = load() else { return };
    let mut accepted = 0;
    let mut failures = Vec::new();
    for kind in ["positive", "negative"] {
        for c in cases(&v, kind) {
            if c.bad || c.config.is_empty() {
                continue;
            }
            match reignite_spec::parse(substitute(&c.config, &c.mnt).as_bytes()) {
                Ok(_) => accepted += 1,
                Err(e) => failures.push(format!("{kind} {}: {e}\n{}", c.name, e.report())),
            }
        }
    }
    println!("{accepted} configs accepted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
