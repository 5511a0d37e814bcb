//! The Ignition output tree and its JSON encoding, byte-compatible with
//! Go's `encoding/json` as Butane uses it: struct field order, `<`, `>`,
//! `&`, U+2028 and U+2029 escaped as `\u003c` etc., `MarshalIndent` with
//! two spaces for `--pretty`.
//!
//! Every node remembers the YAML path it was translated from, Butane's
//! `TranslationSet`, so reports on the output can point into the input.

use crate::diag::P;
use crate::schema::Def;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum JV {
    Str(String),
    Int(i64),
    Bool(bool),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// A JSON value with its YAML origin.
#[derive(Debug, Clone, PartialEq)]
pub struct J {
    pub v: JV,
    pub from: Option<P>,
    /// A zero value of a non-pointer Go field (emitted, but it does not make
    /// the enclosing struct non-empty for `omitempty`).
    pub weak: bool,
}

impl J {
    pub fn new(v: JV, from: Option<P>) -> Self {
        Self {
            v,
            from,
            weak: false,
        }
    }
    pub fn str(s: impl Into<String>, from: Option<P>) -> Self {
        Self::new(JV::Str(s.into()), from)
    }
    pub fn int(i: i64, from: Option<P>) -> Self {
        Self::new(JV::Int(i), from)
    }
    pub fn bool(b: bool, from: Option<P>) -> Self {
        Self::new(JV::Bool(b), from)
    }
    pub fn obj(from: Option<P>) -> Self {
        Self::new(JV::Obj(Vec::new()), from)
    }
    pub fn arr(items: Vec<J>, from: Option<P>) -> Self {
        Self::new(JV::Arr(items), from)
    }

    /// True for an object whose fields are all weak or zero (omitted under
    /// clarketm/json's `omitempty`).
    pub fn is_zero(&self) -> bool {
        match &self.v {
            JV::Obj(fields) => fields.iter().all(|(_, j)| j.weak || j.is_zero()),
            JV::Arr(a) => a.is_empty(),
            _ => false,
        }
    }

    pub fn get(&self, key: &str) -> Option<&J> {
        match &self.v {
            JV::Obj(f) => f.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut J> {
        match &mut self.v {
            JV::Obj(f) => f.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            JV::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(J::as_str)
    }
    pub fn get_int(&self, key: &str) -> Option<i64> {
        match self.get(key).map(|j| &j.v) {
            Some(JV::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key).map(|j| &j.v) {
            Some(JV::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn items(&self) -> &[J] {
        match &self.v {
            JV::Arr(a) => a,
            _ => &[],
        }
    }
    pub fn arr_at(&self, key: &str) -> &[J] {
        self.get(key).map(J::items).unwrap_or(&[])
    }

    /// Sets `key`, keeping `def`'s field order.
    pub fn set(&mut self, def: &Def, key: &str, val: J) {
        let JV::Obj(fields) = &mut self.v else { return };
        if let Some(slot) = fields.iter_mut().find(|(k, _)| k == key) {
            slot.1 = val;
            return;
        }
        let ord = def.order(key);
        let at = fields
            .iter()
            .position(|(k, _)| def.order(k) > ord)
            .unwrap_or(fields.len());
        fields.insert(at, (key.to_string(), val));
    }

    /// Mutable list under `key`, created (at `def`'s position) if absent.
    pub fn list_mut(&mut self, def: &Def, key: &str) -> &mut Vec<J> {
        if self.get(key).is_none() {
            self.set(def, key, J::arr(Vec::new(), None));
        }
        match self.get_mut(key).map(|j| &mut j.v) {
            Some(JV::Arr(a)) => a,
            _ => unreachable!("list_mut on a non-list"),
        }
    }

    /// Mutable object under `key`, created (at `def`'s position) if absent.
    pub fn obj_mut(&mut self, def: &Def, key: &str) -> &mut J {
        if self.get(key).is_none() {
            self.set(def, key, J::obj(None));
        }
        self.get_mut(key).expect("just set")
    }
}

/// Appends `s` as a Go-escaped JSON string.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Encodes the tree; `pretty` = `MarshalIndent(v, "", "  ")`.
pub fn to_json(j: &J, pretty: bool) -> String {
    let mut out = String::with_capacity(4096);
    write(&mut out, j, pretty, 0);
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write(out: &mut String, j: &J, pretty: bool, depth: usize) {
    match &j.v {
        JV::Str(s) => write_str(out, s),
        JV::Int(i) => out.push_str(&i.to_string()),
        JV::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JV::Arr(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (n, it) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                if pretty {
                    newline(out, depth + 1);
                }
                write(out, it, pretty, depth + 1);
            }
            if pretty {
                newline(out, depth);
            }
            out.push(']');
        }
        JV::Obj(fields) => {
            if fields.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (n, (k, v)) in fields.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                if pretty {
                    newline(out, depth + 1);
                }
                write_str(out, k);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write(out, v, pretty, depth + 1);
            }
            if pretty {
                newline(out, depth);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping() {
        let mut s = String::new();
        write_str(&mut s, "a<b>&c\"\\\n\u{1}\u{2028}é");
        assert_eq!(s, r#""a\u003cb\u003e\u0026c\"\\\n\u0001\u2028é""#);
    }

    #[test]
    fn pretty_layout() {
        let mut o = J::obj(None);
        if let JV::Obj(f) = &mut o.v {
            f.push(("a".into(), J::arr(vec![J::int(1, None)], None)));
            f.push(("b".into(), J::str("x", None)));
        }
        assert_eq!(to_json(&o, false), r#"{"a":[1],"b":"x"}"#);
        assert_eq!(
            to_json(&o, true),
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": \"x\"\n}"
        );
    }
}
