//! Typed decoding of the YAML tree against the Butane schema, with go-yaml
//! v3's rules: any scalar into a string keeps its raw text, integers go
//! through `strconv.ParseInt(s, 0, 64)` after stripping `_` (so `0644` is
//! octal), bool targets also take YAML 1.1 `yes`/`on`/`y`, `<<` merge keys
//! are applied (explicit keys win), duplicate keys and type mismatches are
//! collected as `yaml: unmarshal errors:`. Also the unused-key check.

use std::rc::Rc;

use crate::diag::{Diag, PathExt, P};
use crate::schema::{Def, Ty, F};
use crate::yaml::{Kind, Node, Style};

/// A decoded value.
#[derive(Debug, Clone)]
pub enum D {
    Null,
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<D>),
    Obj(DObj),
}

/// A decoded struct: the fields present in the input, in schema order.
#[derive(Debug, Clone)]
pub struct DObj {
    pub def: &'static Def,
    pub fields: Vec<(&'static F, D)>,
}

impl DObj {
    pub fn empty(def: &'static Def) -> Self {
        Self {
            def,
            fields: Vec::new(),
        }
    }
    /// A present, non-null field.
    pub fn get(&self, yaml: &str) -> Option<&D> {
        self.fields
            .iter()
            .find(|(f, d)| f.yaml == yaml && !matches!(d, D::Null))
            .map(|(_, d)| d)
    }
    pub fn str(&self, yaml: &str) -> Option<&str> {
        match self.get(yaml) {
            Some(D::Str(s)) => Some(s),
            _ => None,
        }
    }
    pub fn int(&self, yaml: &str) -> Option<i64> {
        match self.get(yaml) {
            Some(D::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn bool(&self, yaml: &str) -> Option<bool> {
        match self.get(yaml) {
            Some(D::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn is_true(&self, yaml: &str) -> bool {
        self.bool(yaml) == Some(true)
    }
    pub fn obj(&self, yaml: &str) -> Option<&DObj> {
        match self.get(yaml) {
            Some(D::Obj(o)) => Some(o),
            _ => None,
        }
    }
    pub fn list(&self, yaml: &str) -> &[D] {
        match self.get(yaml) {
            Some(D::List(l)) => l,
            _ => &[],
        }
    }
    pub fn strs(&self, yaml: &str) -> Vec<&str> {
        self.list(yaml)
            .iter()
            .map(|d| match d {
                D::Str(s) => s.as_str(),
                _ => "",
            })
            .collect()
    }
    pub fn objs(&self, yaml: &str) -> Vec<&DObj> {
        self.list(yaml)
            .iter()
            .filter_map(|d| match d {
                D::Obj(o) => Some(o),
                _ => None,
            })
            .collect()
    }
}

/// Decoder state.
pub struct Decoder {
    pub base: u8,
    pub pkg: &'static str,
    pub errors: Vec<String>,
    decoded: usize,
    via_alias: usize,
    budget: usize,
    alias_bytes: usize,
    byte_budget: usize,
    pub aliasing: bool,
}

impl Decoder {
    /// `parsed_nodes` and `input_len` size the alias-expansion budgets: at
    /// most as many nodes as the document has (100,000 at least) and four
    /// times its bytes (16 MiB at least) may come from aliases.
    pub fn new(base: u8, pkg: &'static str, parsed_nodes: usize, input_len: usize) -> Self {
        Self {
            base,
            pkg,
            errors: Vec::new(),
            decoded: 0,
            via_alias: 0,
            budget: parsed_nodes.max(100_000),
            alias_bytes: 0,
            byte_budget: input_len.saturating_mul(4).max(16 << 20),
            aliasing: false,
        }
    }

    fn type_name(&self, ty: Ty) -> String {
        match ty {
            Ty::Str => "string".into(),
            Ty::Int => "int".into(),
            Ty::Bool => "bool".into(),
            Ty::Obj(d) => format!("{}.{}", self.pkg, d.name),
            Ty::ListStr => "[]string".into(),
            Ty::ListObj(d) => format!("[]{}.{}", self.pkg, d.name),
        }
    }

    fn terror(&mut self, n: &Node, ty: Ty) {
        let (tag, val) = match &n.kind {
            Kind::Scalar { value, .. } => {
                let v = if value.chars().count() > 10 {
                    format!(" `{}...`", value.chars().take(7).collect::<String>())
                } else {
                    format!(" `{value}`")
                };
                (resolve_tag(n), v)
            }
            Kind::Seq(_) => ("!!seq".to_string(), String::new()),
            Kind::Map(_) => ("!!map".to_string(), String::new()),
            Kind::Alias(_) => ("!!str".to_string(), String::new()),
        };
        let name = self.type_name(ty);
        self.errors.push(format!(
            "line {}: cannot unmarshal {tag}{val} into {name}",
            n.pos.line
        ));
    }

    /// Decodes `n` as `ty`.
    pub fn decode(&mut self, n: &Node, ty: Ty, through_alias: bool) -> D {
        self.decoded += 1;
        if through_alias {
            self.via_alias += 1;
            if self.via_alias > self.budget {
                self.aliasing = true;
            }
        }
        if self.aliasing {
            return D::Null;
        }
        if let Kind::Alias(t) = &n.kind {
            let t = t.clone();
            return self.decode(&t, ty, true);
        }
        if n.is_null() {
            return D::Null;
        }
        match ty {
            Ty::Str => match &n.kind {
                Kind::Scalar { value, .. } => {
                    if through_alias {
                        self.alias_bytes += value.len();
                        if self.alias_bytes > self.byte_budget {
                            self.aliasing = true;
                            return D::Null;
                        }
                    }
                    D::Str(value.clone())
                }
                _ => {
                    self.terror(n, ty);
                    D::Null
                }
            },
            Ty::Int => match scalar_int(n) {
                Some(i) => D::Int(i),
                None => {
                    self.terror(n, ty);
                    D::Null
                }
            },
            Ty::Bool => match scalar_bool(n) {
                Some(b) => D::Bool(b),
                None => {
                    self.terror(n, ty);
                    D::Null
                }
            },
            Ty::ListStr | Ty::ListObj(_) => match &n.kind {
                Kind::Seq(items) => {
                    let ity = match ty {
                        Ty::ListObj(d) => Ty::Obj(d),
                        _ => Ty::Str,
                    };
                    D::List(
                        items
                            .iter()
                            .map(|i| {
                                let d = self.decode(i, ity, through_alias);
                                // go-yaml leaves a zero value for null items
                                match (d, ity) {
                                    (D::Null, Ty::Obj(def)) => D::Obj(DObj::empty(def)),
                                    (D::Null, _) => D::Str(String::new()),
                                    (d, _) => d,
                                }
                            })
                            .collect(),
                    )
                }
                _ => {
                    self.terror(n, ty);
                    D::Null
                }
            },
            Ty::Obj(def) => match &n.kind {
                Kind::Map(_) => D::Obj(self.decode_struct(n, def, through_alias)),
                _ => {
                    self.terror(n, ty);
                    D::Null
                }
            },
        }
    }

    fn decode_struct(&mut self, n: &Node, def: &'static Def, through_alias: bool) -> DObj {
        let Kind::Map(pairs) = &n.kind else {
            return DObj::empty(def);
        };
        let mut out = DObj::empty(def);
        let mut seen: Vec<(&str, usize)> = Vec::new();
        let mut merges: Vec<Rc<Node>> = Vec::new();
        for (k, v) in pairs {
            let Some(key) = k.scalar() else { continue };
            if key == "<<"
                && matches!(
                    k.kind,
                    Kind::Scalar {
                        style: Style::Plain,
                        ..
                    }
                )
            {
                merges.push(v.clone());
                continue;
            }
            if let Some((_, line)) = seen.iter().find(|(s, _)| *s == key) {
                self.errors.push(format!(
                    "line {}: mapping key \"{key}\" already defined at line {line}",
                    k.pos.line
                ));
                continue;
            }
            seen.push((key, k.pos.line));
            if let Some(f) = def.field(key, self.base) {
                let d = self.decode(v, f.ty, through_alias);
                out.fields.push((f, d));
            }
        }
        for m in merges {
            let m = m.clone();
            let targets: Vec<(Rc<Node>, bool)> = match &m.kind {
                Kind::Alias(t) => vec![(t.clone(), true)],
                Kind::Map(_) => vec![(m.clone(), through_alias)],
                Kind::Seq(items) => items
                    .iter()
                    .map(|i| match &i.kind {
                        Kind::Alias(t) => (t.clone(), true),
                        _ => (i.clone(), through_alias),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for (t, al) in targets {
                if !matches!(t.kind, Kind::Map(_)) {
                    self.errors.push(format!(
                        "line {}: map merge requires map or sequence of maps as the value",
                        m.pos.line
                    ));
                    continue;
                }
                let merged = self.decode_struct(&t, def, al);
                for (f, d) in merged.fields {
                    if !out.fields.iter().any(|(g, _)| g.yaml == f.yaml) {
                        out.fields.push((f, d));
                    }
                }
            }
        }
        out.fields
            .sort_by_key(|(f, _)| def.fields.iter().position(|g| g.yaml == f.yaml));
        out
    }
}

/// go-yaml's implicit tag of a scalar, for error messages.
pub fn resolve_tag(n: &Node) -> String {
    let Kind::Scalar { value, style, tag } = &n.kind else {
        return match n.kind {
            Kind::Seq(_) => "!!seq".into(),
            _ => "!!map".into(),
        };
    };
    if let Some(t) = tag {
        return t.clone();
    }
    if *style != Style::Plain {
        return "!!str".into();
    }
    if n.is_null() {
        return "!!null".into();
    }
    if matches!(
        value.as_str(),
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    ) {
        return "!!bool".into();
    }
    if parse_go_int(value).is_some() {
        return "!!int".into();
    }
    if parse_float(value).is_some() {
        return "!!float".into();
    }
    "!!str".into()
}

/// `strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)`, plus go-yaml's
/// `0b` handling.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match plain.as_bytes().first() {
        Some(b'-') => (true, &plain[1..]),
        Some(b'+') => (false, &plain[1..]),
        _ => (false, plain.as_str()),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, r)
    } else if let Some(r) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -mag } else { mag };
    i64::try_from(v).ok()
}

fn parse_float(s: &str) -> Option<f64> {
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    match plain.as_str() {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    if !plain
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    plain.parse::<f64>().ok()
}

fn scalar_int(n: &Node) -> Option<i64> {
    let Kind::Scalar { value, style, tag } = &n.kind else {
        return None;
    };
    if *style != Style::Plain && tag.as_deref() != Some("!!int") {
        return None;
    }
    if let Some(i) = parse_go_int(value) {
        return Some(i);
    }
    let f = parse_float(value)?;
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return Some(f as i64);
    }
    None
}

fn scalar_bool(n: &Node) -> Option<bool> {
    let Kind::Scalar { value, style, .. } = &n.kind else {
        return None;
    };
    if *style != Style::Plain {
        return None;
    }
    match value.as_str() {
        "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// Butane's unused-key check: warns "unused key X" for every mapping key the
/// schema of this version does not know, at the key's position. Aliased
/// subtrees are skipped (vcontext sees them as leaves).
pub fn unused_keys(n: &Node, def: &'static Def, base: u8, path: &P, out: &mut Vec<Diag>) {
    let Kind::Map(pairs) = &n.kind else { return };
    for (k, _) in pairs {
        let Some(key) = k.scalar() else { continue };
        if def.field(key, base).is_none() {
            out.push(Diag::warn(path.key(key), format!("unused key {key}")));
        }
    }
    for f in def.fields.iter().filter(|f| f.since <= base) {
        let Some(v) = n.get(f.yaml) else { continue };
        match f.ty {
            Ty::Obj(d) => unused_keys(v, d, base, &path.f(f.yaml), out),
            Ty::ListObj(d) => {
                if let Kind::Seq(items) = &v.kind {
                    for (i, item) in items.iter().enumerate() {
                        unused_keys(item, d, base, &path.f(f.yaml).i(i), out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_int_rules() {
        assert_eq!(parse_go_int("0644"), Some(420));
        assert_eq!(parse_go_int("0o750"), Some(488));
        assert_eq!(parse_go_int("0x1ed"), Some(493));
        assert_eq!(parse_go_int("0_644"), Some(420));
        assert_eq!(parse_go_int("1_000"), Some(1000));
        assert_eq!(parse_go_int("0b101"), Some(5));
        assert_eq!(parse_go_int("-12"), Some(-12));
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("09"), None);
        assert_eq!(parse_go_int("12a"), None);
    }
}
