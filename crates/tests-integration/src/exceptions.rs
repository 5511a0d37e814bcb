//! The differences between Ignition 2.14 and reignite that the comparison
//! tolerates everywhere, each with the reason. Per-case tolerances (deliberate
//! design differences or open bugs) live in the case files as `known`.
//!
//! Every use of an exception is counted and printed in the test summary, so a
//! tolerance never hides silently.

/// A documented, tolerated difference.
#[derive(Debug, PartialEq, Eq)]
pub struct Exception {
    /// Short identifier used in summaries.
    pub id: &'static str,
    /// Why the difference is not a bug.
    pub reason: &'static str,
}

/// `/etc/.ignition-result.json` holds the time of the run.
pub const RESULT_DATE: Exception = Exception {
    id: "result-date",
    reason: "/etc/.ignition-result.json: `provisioningDate` is the wall-clock time of each run; \
             the rest of the JSON (boot id, userConfigProvided, previousReport) is compared",
};

/// reignite records its generations under `/var/lib/reignite`.
pub const REIGNITE_STATE: Exception = Exception {
    id: "reignite-state",
    reason: "/var/lib/reignite is reignite's own generation record (DESIGN.md §2); Ignition has \
             no such state. Also /var and /var/lib when they exist only to hold it",
};

/// Ignition 2.14 writes preset lines in Go map order.
pub const PRESET_ORDER: Exception = Exception {
    id: "preset-order",
    reason: "20-ignition.preset: Ignition 2.14 writes the lines in Go map order (random); \
             2.15+ sorts them. Compared as a sorted list of lines",
};

/// The shadow "last change" day may differ across midnight.
pub const SHADOW_LASTCHG: Exception = Exception {
    id: "shadow-lastchg",
    reason: "/etc/shadow field 3 (days since 1970 of the last password change) is today's date; \
             a difference of one day is tolerated in case the runs straddle midnight",
};

/// Files shadow-utils leaves behind when Ignition runs `useradd --root`.
pub const SHADOW_UTILS_FILES: Exception = Exception {
    id: "shadow-utils",
    reason: "/etc/.pwd.lock (an empty lock file) and the backups /etc/passwd- shadow- group- \
             gshadow- are side effects of Ignition shelling out to useradd/groupadd/usermod; \
             reignite edits the databases itself, which are compared field by field",
};

/// Report wording that upstream changed after 2.14.
pub const REPORT_WORDING: Exception = Exception {
    id: "report-wording",
    reason: "report entries equal once 2.14's wording is updated to upstream's current one: \
             `Unused key` became `unused key`, and the special-bits warning now reads \
             `not supported or functional in spec versions older than 3.6.0`; 2.14 lists unused \
             keys in Go map order, so those warnings are compared as a sorted list",
};

/// Every global exception, for the summary.
pub const ALL: [&Exception; 6] = [
    &RESULT_DATE,
    &REIGNITE_STATE,
    &PRESET_ORDER,
    &SHADOW_LASTCHG,
    &SHADOW_UTILS_FILES,
    &REPORT_WORDING,
];
