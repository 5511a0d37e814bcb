//! Field-by-field comparison of the account databases (`/etc/passwd`,
//! `shadow`, `group`, `gshadow` and their `-` backups), so that a difference
//! reads as "entry core: field shell ..." instead of a line diff.

use crate::exceptions::{Exception, SHADOW_LASTCHG};

/// Field names of the colon-separated database at `path`, if it is one.
pub fn fields_of(path: &str) -> Option<&'static [&'static str]> {
    match path.strip_suffix('-').unwrap_or(path) {
        "/etc/passwd" => Some(&["name", "password", "uid", "gid", "gecos", "home", "shell"]),
        "/etc/shadow" => Some(&[
            "name", "password", "lastchg", "min", "max", "warn", "inactive", "expire", "reserved",
        ]),
        "/etc/group" => Some(&["name", "password", "gid", "members"]),
        "/etc/gshadow" => Some(&["name", "password", "admins", "members"]),
        _ => None,
    }
}

/// Differences found, and differences excused by an exception.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FieldDiffs {
    /// Real differences, one line each.
    pub differences: Vec<String>,
    /// Tolerated differences.
    pub excused: Vec<(&'static Exception, String)>,
}

fn entries(text: &str) -> Vec<(String, Vec<&str>)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0].to_string(), f)
        })
        .collect()
}

/// Compares two versions (Ignition's `a`, reignite's `b`) of the database at
/// `path` with field names `fields`.
pub fn compare(path: &str, fields: &[&str], a: &str, b: &str) -> FieldDiffs {
    let mut out = FieldDiffs::default();
    let (ea, eb) = (entries(a), entries(b));
    for (name, fa) in &ea {
        let Some((_, fb)) = eb.iter().find(|(n, _)| n == name) else {
            out.differences
                .push(format!("entry {name} only in ignition: {}", fa.join(":")));
            continue;
        };
        for i in 0..fa.len().max(fb.len()) {
            let (va, vb) = (fa.get(i).copied(), fb.get(i).copied());
            if va == vb {
                continue;
            }
            let field = fields.get(i).copied().unwrap_or("extra");
            let line = format!(
                "entry {name}: field {field} {:?} (ignition) vs {:?} (reignite)",
                va.unwrap_or("<missing>"),
                vb.unwrap_or("<missing>")
            );
            if field == "lastchg" && path.starts_with("/etc/shadow") && near_days(va, vb) {
                out.excused.push((&SHADOW_LASTCHG, line));
            } else {
                out.differences.push(line);
            }
        }
    }
    for (name, fb) in &eb {
        if !ea.iter().any(|(n, _)| n == name) {
            out.differences
                .push(format!("entry {name} only in reignite: {}", fb.join(":")));
        }
    }
    let order = |e: &[(String, Vec<&str>)], other: &[(String, Vec<&str>)]| -> Vec<String> {
        e.iter()
            .filter(|(n, _)| other.iter().any(|(m, _)| m == n))
            .map(|(n, _)| n.clone())
            .collect()
    };
    let (oa, ob) = (order(&ea, &eb), order(&eb, &ea));
    if oa != ob {
        out.differences.push(format!(
            "entry order {} (ignition) vs {} (reignite)",
            oa.join(","),
            ob.join(",")
        ));
    }
    out
}

fn near_days(a: Option<&str>, b: Option<&str>) -> bool {
    match (
        a.and_then(|s| s.parse::<i64>().ok()),
        b.and_then(|s| s.parse::<i64>().ok()),
    ) {
        (Some(x), Some(y)) => (x - y).abs() <= 1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:Core:/home/core:/bin/bash\n";

    #[test]
    fn knows_the_databases() {
        assert_eq!(fields_of("/etc/group").unwrap()[2], "gid");
        assert_eq!(fields_of("/etc/shadow-").unwrap()[2], "lastchg");
        assert!(fields_of("/etc/hosts").is_none());
    }

    #[test]
    fn equal_databases_have_no_differences() {
        let f = fields_of("/etc/passwd").unwrap();
        assert_eq!(compare("/etc/passwd", f, PW, PW), FieldDiffs::default());
    }

    #[test]
    fn reports_fields_missing_entries_and_order() {
        let f = fields_of("/etc/passwd").unwrap();
        let b = "core:x:500:100:Core:/home/core:/bin/sh\nroot:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:\n";
        let d = compare("/etc/passwd", f, PW, b);
        assert_eq!(
            d.differences,
            [
                "entry core: field gid \"500\" (ignition) vs \"100\" (reignite)",
                "entry core: field shell \"/bin/bash\" (ignition) vs \"/bin/sh\" (reignite)",
                "entry bob only in reignite: bob:x:1000:1000::/home/bob:",
                "entry order root,core (ignition) vs core,root (reignite)",
            ]
        );
    }

    #[test]
    fn tolerates_one_day_of_lastchg_only() {
        let f = fields_of("/etc/shadow").unwrap();
        let near = compare(
            "/etc/shadow",
            f,
            "u:*:20000:0:99999:7:::\n",
            "u:*:20001:0:99999:7:::\n",
        );
        assert!(near.differences.is_empty());
        assert_eq!(near.excused.len(), 1);
        let far = compare(
            "/etc/shadow",
            f,
            "u:*:20000:0:99999:7:::\n",
            "u:*::0:99999:7:::\n",
        );
        assert_eq!(far.differences.len(), 1);
    }
}
