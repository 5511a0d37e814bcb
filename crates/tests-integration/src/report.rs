//! Compares the validation reports both engines print: every line of the form
//! `error at $.path, line L col C: msg` or `warning at …`, in order. Ignition
//! logs them as `CRITICAL : …`/`WARNING  : …`, reignite as `FILE: …`; only the
//! part from `error at`/`warning at` on is compared.

use crate::compare::{Difference, Excused};
use crate::exceptions::REPORT_WORDING;

/// The report entries in `log`, in order, without repeats.
pub fn entries(log: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in log.lines() {
        let start = ["error at $", "warning at $"]
            .iter()
            .filter_map(|m| line.find(m))
            .min();
        if let Some(i) = start {
            let entry = line[i..].trim_end().to_string();
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    out
}

/// Ignition 2.14's wording rewritten to upstream's current wording (see
/// [`REPORT_WORDING`]).
pub fn upstream_wording(entry: &str) -> String {
    entry
        .replace(": Unused key ", ": unused key ")
        .replace(
            "setuid/setgid/sticky bits are not supported in spec versions older than 3.4.0",
            "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0",
        )
}

/// Entries with the unused-key warnings sorted among themselves: Ignition
/// 2.14 reports them in Go map order (random); every other entry keeps its
/// place.
fn canonical(entries: &[String]) -> (Vec<&String>, Vec<&String>) {
    let unused = |e: &&String| e.contains(": unused key ");
    let mut keys: Vec<&String> = entries.iter().filter(unused).collect();
    keys.sort();
    (entries.iter().filter(|e| !unused(e)).collect(), keys)
}

/// The outcome of comparing two reports.
#[derive(Debug, PartialEq, Eq)]
pub enum ReportComparison {
    /// Identical entries.
    Same,
    /// Identical once 2.14's wording is updated.
    Excused(Excused),
    /// Different.
    Differs(Difference),
}

/// Compares Ignition's log with reignite's.
pub fn compare(ignition_log: &str, reignite_log: &str) -> ReportComparison {
    let (a, b) = (entries(ignition_log), entries(reignite_log));
    if a == b {
        return ReportComparison::Same;
    }
    let detail = format!(
        "report entries differ\n    ignition: {}\n    reignite: {}",
        a.join("\n              "),
        b.join("\n              ")
    );
    let difference = Difference {
        path: "(report)".into(),
        detail,
    };
    let a2: Vec<String> = a.iter().map(|e| upstream_wording(e)).collect();
    if canonical(&a2) == canonical(&b) {
        ReportComparison::Excused(Excused {
            exception: &REPORT_WORDING,
            difference,
        })
    } else {
        ReportComparison::Differs(difference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IGN: &str = "INFO     : Stage: fetch\n\
        CRITICAL : error at $.storage.files.0.path, line 1 col 61: path not absolute\n\
        WARNING  : warning at $.storage.files.0.colour, line 1 col 82: Unused key colour\n\
        CRITICAL : failed to acquire config: config is not valid\n";

    #[test]
    fn extracts_entries_from_both_log_formats() {
        let rei = "/tmp/c.ign: error at $.storage.files.0.path, line 1 col 61: path not absolute\n\
                   error: config /tmp/c.ign is not usable\n";
        assert_eq!(
            entries(IGN),
            [
                "error at $.storage.files.0.path, line 1 col 61: path not absolute",
                "warning at $.storage.files.0.colour, line 1 col 82: Unused key colour",
            ]
        );
        assert_eq!(entries(rei).len(), 1);
        assert_eq!(entries("a\nerror at $.x: m\nerror at $.x: m\n").len(), 1);
    }

    #[test]
    fn excuses_only_the_wording_changed_after_2_14() {
        let same = "f: error at $.storage.files.0.path, line 1 col 61: path not absolute\n\
                    f: warning at $.storage.files.0.colour, line 1 col 82: unused key colour\n";
        assert!(matches!(compare(IGN, same), ReportComparison::Excused(_)));
        let swapped = "f: warning at $.b, line 1 col 9: unused key b\n\
                       f: warning at $.a, line 1 col 2: unused key a\n";
        let ign = "WARNING : warning at $.a, line 1 col 2: Unused key a\n\
                   WARNING : warning at $.b, line 1 col 9: Unused key b\n";
        assert!(matches!(
            compare(ign, swapped),
            ReportComparison::Excused(_)
        ));
        let other = "f: error at $.storage.files.0.path, line 1 col 62: path not absolute\n";
        match compare(IGN, other) {
            ReportComparison::Differs(d) => assert!(d.detail.contains("col 62")),
            r => panic!("{r:?}"),
        }
        assert_eq!(compare("", "no report here"), ReportComparison::Same);
    }
}
