//! Butane's source-side validation (`base/v0_x/validate.go`, run on the
//! decoded YAML before translation): resource source conflicts, mount-unit
//! prerequisites, decimal-looking modes, `contents` vs `contents_local`,
//! tree `local`, and the embedded Ignition config check for
//! `ignition.config.merge/replace` inline/local contents.
//!
//! Traversal follows vcontext: a struct's own check first, then its fields
//! in declaration order, list items in order.

use crate::decode::{DObj, D};
use crate::diag::{Diag, PathExt, P};
use crate::schema::{self, Ty};
use crate::yaml::Pos;

pub const ERR_TOO_MANY_SOURCES: &str =
    "only one of the following can be set: inline, local, source";
pub const ERR_TOO_MANY_SYSTEMD_SOURCES: &str =
    "only one of the following can be set: contents, contents_local";
pub const ERR_DECIMAL_MODE: &str =
    "unreasonable mode would be reasonable if specified in octal; remember to add a leading zero";

/// A per-struct hook run before the struct's fields are walked.
pub type Hook<'a> = &'a mut dyn FnMut(&DObj, &P, &mut Vec<Diag>);

/// Walks `o` running the base checks, and `extra` for variant checks.
pub fn walk(o: &DObj, p: &P, base: u8, out: &mut Vec<Diag>, extra: Hook<'_>) {
    extra(o, p, out);
    check(o, p, base, out);
    for (f, d) in &o.fields {
        let fp = p.f(f.yaml);
        match (f.ty, d) {
            (Ty::Obj(_), D::Obj(inner)) => walk(inner, &fp, base, out, extra),
            (Ty::ListObj(_), D::List(items)) => {
                for (i, it) in items.iter().enumerate() {
                    if let D::Obj(inner) = it {
                        walk(inner, &fp.i(i), base, out, extra);
                    }
                }
            }
            _ => {}
        }
    }
}

fn check(o: &DObj, p: &P, base: u8, out: &mut Vec<Diag>) {
    let def = o.def;
    if std::ptr::eq(def, &schema::RESOURCE) {
        let mut sources = 0;
        let mut field = "";
        for k in ["local", "inline", "source"] {
            if o.get(k).is_some() {
                sources += 1;
                field = k;
            }
        }
        if sources > 1 {
            out.push(Diag::err(p.f(field), ERR_TOO_MANY_SOURCES));
            return;
        }
        if field == "inline" && p.to_string().starts_with("$.ignition.config") {
            let text = o.str("inline").unwrap_or("");
            let (d, ok) = embedded_config(p, text.as_bytes(), base);
            out.extend(d);
            if !ok {
                out.push(Diag::err(p.f("inline"), "config is not valid"));
            }
        }
    } else if std::ptr::eq(def, &schema::FILESYSTEM) {
        if o.is_true("with_mount_unit") {
            match o.str("format").filter(|s| !s.is_empty()) {
                None => out.push(Diag::err(
                    p.f("format"),
                    "format is required if with_mount_unit is true",
                )),
                Some(f) if f != "swap" && o.str("path").is_none_or(str::is_empty) => {
                    out.push(Diag::err(
                        p.f("path"),
                        "path is required if with_mount_unit is true and format is not swap",
                    ))
                }
                _ => {}
            }
        }
    } else if std::ptr::eq(def, &schema::DIRECTORY) || std::ptr::eq(def, &schema::FILE) {
        if let Some(m) = o.int("mode") {
            if decimal_mode(m, std::ptr::eq(def, &schema::DIRECTORY)) {
                out.push(Diag::warn(p.f("mode"), ERR_DECIMAL_MODE));
            }
        }
    } else if std::ptr::eq(def, &schema::TREE) {
        if o.str("local").is_none_or(str::is_empty) {
            out.push(Diag::err(p, "local is required"));
        }
    } else if std::ptr::eq(def, &schema::QUADLET) {
        crate::quadlet::validate(o, p, out);
    } else if (std::ptr::eq(def, &schema::UNIT) || std::ptr::eq(def, &schema::DROPIN))
        && o.get("contents").is_some()
        && o.get("contents_local").is_some()
    {
        out.push(Diag::err(
            p.f("contents_local"),
            ERR_TOO_MANY_SYSTEMD_SOURCES,
        ));
    }
}

/// `CheckForDecimalMode`: the mode looks wrong but its decimal digits read
/// as octal give a typical mode.
pub fn decimal_mode(mode: i64, dir: bool) -> bool {
    if !(0..=7777).contains(&mode) {
        return false;
    }
    let mut oct = 0;
    let mut div = 1000;
    while div > 0 {
        let digit = (mode / div) % 10;
        if digit > 7 {
            return false;
        }
        oct = (oct << 3) | digit;
        div /= 10;
    }
    !typical_mode(mode, dir) && typical_mode(oct, dir)
}

fn typical_mode(mode: i64, dir: bool) -> bool {
    if mode == 0 {
        return true;
    }
    let perms = [mode & 0o7, (mode & 0o70) >> 3, (mode & 0o700) >> 6];
    let (mut had_r, mut had_w, mut had_x) = (false, false, false);
    for perm in perms {
        let (r, w, x) = (perm & 4 != 0, perm & 2 != 0, perm & 1 != 0);
        if (!r && had_r) || (!w && had_w) || (!x && had_x) {
            return false;
        }
        if x && had_r && !had_x {
            return false;
        }
        if (w || x) && !r {
            return false;
        }
        had_r |= r;
        had_w |= w;
        had_x |= x;
    }
    if !had_r {
        return false;
    }
    if dir {
        if !had_x || mode & 0o4000 != 0 {
            return false;
        }
        if mode & 0o3000 != 0 && !had_w {
            return false;
        }
    } else {
        if mode & 0o6000 != 0 && (!had_x || mode & 2 != 0) {
            return false;
        }
        if mode & 0o1000 != 0 {
            return false;
        }
    }
    true
}

/// The Ignition spec version a base version targets.
pub fn ign_version_of_base(base: u8) -> &'static str {
    match base {
        1 => "3.0.0",
        2 => "3.1.0",
        3 => "3.2.0",
        4 => "3.3.0",
        5 => "3.4.0",
        6 => "3.5.0",
        7 => "3.6.0",
        _ => "3.7.0-experimental",
    }
}

/// `ValidateIgnitionConfig`: the embedded config must be JSON; a version
/// other than the target's only warns. Returns the entries and whether the
/// config parsed.
pub fn embedded_config(c: &P, raw: &[u8], base: u8) -> (Vec<Diag>, bool) {
    let mut out = Vec::new();
    if raw.iter().all(u8::is_ascii_whitespace) {
        out.push(Diag::err(P::root(), "not a config (empty)"));
        return (out, false);
    }
    let parsed = reignite_spec::parse(raw);
    let v: serde_json::Value = match serde_json::from_slice(raw) {
        Ok(v) => v,
        Err(e) => {
            // Butane places JSON syntax errors one column before the
            // offending character (conformance case err-merge-inline-not-json).
            let mut d = Diag::err(P::root(), go_json_message(&e, raw));
            d.pos = Some(Pos {
                line: e.line().max(1),
                col: e.column().saturating_sub(1).max(1),
            });
            out.push(d);
            return (out, false);
        }
    };
    let version = v
        .get("ignition")
        .and_then(|i| i.get("version"))
        .and_then(|s| s.as_str())
        .unwrap_or("");
    if version != ign_version_of_base(base) {
        if is_semver(version) {
            out.push(Diag::warn(
                c.f("version"),
                "skipping validation for the merge/replace ignition config due to an unkown version",
            ));
        } else {
            out.push(Diag::err(
                c.f("version"),
                "invalid config version (couldn't parse)",
            ));
        }
        return (out, true);
    }
    // Same version as the target: Ignition's validation of the embedded
    // config. Its entries keep the embedded config's paths; their positions
    // come from the YAML tree, as Butane's correlation does.
    let entries = match parsed {
        Ok(p) => p.report.entries,
        Err(reignite_spec::ParseError::Invalid(r)) => r.entries,
        Err(e) => {
            out.push(Diag::err(c.f("version"), e.to_string()));
            return (out, true);
        }
    };
    let mut ok = true;
    for x in entries {
        if x.message.starts_with("Unused key") {
            continue;
        }
        if x.message.starts_with("json: cannot unmarshal") {
            ok = false;
        }
        out.push(Diag::new(x.kind, x.path.unwrap_or_default(), x.message));
    }
    (out, ok)
}

fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Go's `encoding/json` wording for the common syntax errors.
fn go_json_message(e: &serde_json::Error, raw: &[u8]) -> String {
    let msg = e.to_string();
    let at = {
        let text = String::from_utf8_lossy(raw);
        text.split('\n')
            .nth(e.line().saturating_sub(1))
            .and_then(|l| l.chars().nth(e.column().saturating_sub(1)))
    };
    let ch = at.map(|c| format!("'{c}'")).unwrap_or_default();
    if e.is_eof() {
        "unexpected end of JSON input".into()
    } else if msg.starts_with("key must be a string") {
        format!("invalid character {ch} looking for beginning of object key string")
    } else if msg.starts_with("expected value") || msg.starts_with("expected ident") {
        format!("invalid character {ch} looking for beginning of value")
    } else if msg.starts_with("trailing characters") {
        format!("invalid character {ch} after top-level value")
    } else if msg.starts_with("expected `,` or `}`") {
        format!("invalid character {ch} after object key:value pair")
    } else if msg.starts_with("expected `:`") {
        format!("invalid character {ch} after object key")
    } else if msg.starts_with("expected `,` or `]`") {
        format!("invalid character {ch} after array element")
    } else {
        msg.split(" at line ").next().unwrap_or(&msg).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_modes() {
        assert!(decimal_mode(644, false));
        assert!(decimal_mode(755, true));
        assert!(!decimal_mode(0o644, false));
        assert!(!decimal_mode(420, false));
        assert!(!decimal_mode(493, true));
    }

    #[test]
    fn embedded_json_errors_read_like_go() {
        let (d, ok) = embedded_config(&P::root(), b"{not json", 4);
        assert!(!ok);
        assert_eq!(
            d[0].msg,
            "invalid character 'n' looking for beginning of object key string"
        );
        assert_eq!(d[0].pos, Some(Pos { line: 1, col: 1 }));
        let (d, ok) = embedded_config(&P::root(), br#"{"ignition":{"version":"3.2.0"}}"#, 4);
        assert!(ok);
        assert_eq!(d.len(), 1);
        let (d, ok) = embedded_config(&P::root(), br#"{"ignition":{"version":"3.3.0"}}"#, 4);
        assert!(ok && d.is_empty());
        // Same version: validated, with the embedded config's own paths.
        let (d, ok) = embedded_config(
            &P::root(),
            br#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"rel"}]}}"#,
            4,
        );
        assert!(ok);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path.to_string(), "$.storage.files.0.path");
        assert_eq!(d[0].msg, "path not absolute");
    }
}
