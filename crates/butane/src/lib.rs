//! Butane YAML front end: translates Butane configs (variants `flatcar` and
//! `fcos`) into Ignition JSON exactly as upstream Butane 0.29 does — the
//! same bytes, the same report entries and positions.
//!
//! Pipeline (Butane's `config/util.TranslateBytes`): read `variant` and
//! `version`; decode the YAML against the version's schema (go-yaml v3
//! rules); unused-key warnings; source validation; translation with sugar;
//! variant field filters; Ignition validation of the result; JSON encoding.
//!
//! Other commands accept Butane wherever a config is accepted through
//! [`is_butane`] and [`translate`].

pub mod dataurl;
mod decode;
pub mod diag;
mod fcos;
mod ignval;
pub mod local;
mod merge;
mod out;
mod quadlet;
pub mod schema;
mod translate;
mod validate;
pub mod yaml;

use std::path::PathBuf;

use reignite_spec::report::{Entry, Report};

use crate::decode::{Decoder, D};
use crate::diag::{Diag, PathExt, P};
use crate::translate::Tx;

/// Largest accepted input document.
pub const MAX_INPUT: usize = 64 << 20;

/// Translation options (Butane's `TranslateBytesOptions`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Root for `local:`, `contents_local`, `ssh_authorized_keys_local` and
    /// `storage.trees`; without it those fail.
    pub files_dir: Option<PathBuf>,
    /// Indented output (`--pretty`).
    pub pretty: bool,
    /// Never gzip embedded contents.
    pub no_resource_auto_compression: bool,
}

/// A Butane variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Flatcar,
    Fcos,
}

/// A supported variant/version and what it targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub variant: Variant,
    /// Butane spec version, e.g. `1.1.0`.
    pub version: &'static str,
    /// Ignition spec version produced, e.g. `3.4.0`.
    pub ignition: &'static str,
    /// Butane base package (`v0_N`).
    pub base: u8,
}

/// Every supported variant/version.
pub const SPECS: &[Spec] = &[
    spec(Variant::Flatcar, "1.0.0", "3.3.0", 4),
    spec(Variant::Flatcar, "1.1.0", "3.4.0", 5),
    spec(
        Variant::Flatcar,
        "1.2.0-experimental",
        "3.7.0-experimental",
        8,
    ),
    spec(Variant::Fcos, "1.0.0", "3.0.0", 1),
    spec(Variant::Fcos, "1.1.0", "3.1.0", 2),
    spec(Variant::Fcos, "1.2.0", "3.2.0", 3),
    spec(Variant::Fcos, "1.3.0", "3.2.0", 3),
    spec(Variant::Fcos, "1.4.0", "3.3.0", 4),
    spec(Variant::Fcos, "1.5.0", "3.4.0", 5),
    spec(Variant::Fcos, "1.6.0", "3.5.0", 6),
    spec(Variant::Fcos, "1.7.0", "3.6.0", 7),
    spec(Variant::Fcos, "1.8.0-experimental", "3.7.0-experimental", 8),
];

const fn spec(variant: Variant, version: &'static str, ignition: &'static str, base: u8) -> Spec {
    Spec {
        variant,
        version,
        ignition,
        base,
    }
}

impl Spec {
    /// Minor of the Butane version (fcos 1.6 → 6).
    fn minor(&self) -> u8 {
        self.version.as_bytes()[2] - b'0'
    }
}

/// Why a translation failed; `Display` is Butane's text after
/// `Error translating config: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// YAML syntax or type errors, worded like go-yaml.
    #[error("{0}")]
    Yaml(String),
    #[error("Error unmarshaling yaml: {0}")]
    Unmarshal(String),
    #[error("error parsing variant; must be specified")]
    NoVariant,
    #[error("error parsing version; must be a valid semver")]
    InvalidVersion,
    #[error("No translator exists for variant {variant} with version {version}")]
    UnknownVersion { variant: String, version: String },
    #[error("rhcos variant has been removed; use openshift variant instead: https://coreos.github.io/butane/upgrading-openshift/")]
    RhcosRemoved,
    #[error("source config is invalid")]
    InvalidSource,
    #[error("config generated was invalid")]
    InvalidGenerated,
    #[error("input is larger than {MAX_INPUT} bytes")]
    TooLarge,
}

/// A failed translation: the report gathered so far and the fatal error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct TranslateError {
    pub report: Report,
    pub error: Error,
}

/// A successful translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// Ignition JSON (compact or pretty, no trailing newline).
    pub json: Vec<u8>,
    /// Warnings and infos.
    pub report: Report,
    pub spec: Spec,
}

/// True when `bytes` look like Butane: a YAML mapping with a `variant` key
/// (JSON objects are never Butane).
pub fn is_butane(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') || bytes.len() > MAX_INPUT {
        return false;
    }
    if !text.contains("variant") {
        return false;
    }
    matches!(yaml::parse(text), Ok(Some(n)) if n.resolved().get("variant").is_some())
}

fn fail(error: Error, report: Report) -> TranslateError {
    TranslateError { report, error }
}

fn scalar_field(root: Option<&yaml::Node>, key: &str) -> Result<String, Error> {
    let Some(n) = root.map(yaml::Node::resolved) else {
        return Ok(String::new());
    };
    match &n.kind {
        yaml::Kind::Map(_) => {}
        _ if n.is_null() => return Ok(String::new()),
        _ => {
            return Err(Error::Unmarshal(format!(
                "yaml: unmarshal errors:\n  line {}: cannot unmarshal {} into config.commonFields",
                n.pos.line,
                decode::resolve_tag(n)
            )))
        }
    }
    match n.get(key).map(|v| v.resolved()) {
        None => Ok(String::new()),
        Some(v) if v.is_null() => Ok(String::new()),
        Some(v) => match v.scalar() {
            Some(s) => Ok(s.to_string()),
            None => Err(Error::Unmarshal(format!(
                "yaml: unmarshal errors:\n  line {}: cannot unmarshal {} into string",
                v.pos.line,
                if matches!(v.kind, yaml::Kind::Seq(_)) {
                    "!!seq"
                } else {
                    "!!map"
                }
            ))),
        },
    }
}

/// Parses a semver the way coreos/go-semver does (three numeric parts,
/// optional pre-release and metadata); returns its canonical text.
fn semver(s: &str) -> Option<String> {
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let nums: Vec<u64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    Some(format!("{}.{}.{}{rest}", nums[0], nums[1], nums[2]))
}

/// Translates a Butane config to Ignition JSON.
pub fn translate(bytes: &[u8], opts: &Options) -> Result<Translated, TranslateError> {
    let none = Report::default();
    if bytes.len() > MAX_INPUT {
        return Err(fail(Error::TooLarge, none));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        fail(
            Error::Unmarshal("yaml: invalid leading UTF-8 octet".into()),
            Report::default(),
        )
    })?;
    let root = yaml::parse(text).map_err(|e| fail(Error::Unmarshal(e.0), Report::default()))?;
    let root_ref = root.as_deref();
    let variant = scalar_field(root_ref, "variant").map_err(|e| fail(e, Report::default()))?;
    let version = scalar_field(root_ref, "version").map_err(|e| fail(e, Report::default()))?;
    if variant.is_empty() {
        return Err(fail(Error::NoVariant, none));
    }
    let Some(version) = semver(&version) else {
        return Err(fail(Error::InvalidVersion, none));
    };
    if variant == "rhcos" && version == "0.1.0" {
        return Err(fail(Error::RhcosRemoved, none));
    }
    let spec = SPECS
        .iter()
        .find(|s| {
            s.version == version
                && match s.variant {
                    Variant::Flatcar => variant == "flatcar",
                    Variant::Fcos => variant == "fcos",
                }
        })
        .copied()
        .ok_or_else(|| {
            fail(
                Error::UnknownVersion {
                    variant: variant.clone(),
                    version: version.clone(),
                },
                Report::default(),
            )
        })?;
    run(root_ref, text, spec, opts)
}

fn run(
    root: Option<&yaml::Node>,
    text: &str,
    spec: Spec,
    opts: &Options,
) -> Result<Translated, TranslateError> {
    let fcos = spec.variant == Variant::Fcos;
    let def: &'static schema::Def = if fcos && spec.minor() >= 3 {
        &schema::FCOS_CONFIG
    } else {
        &schema::CONFIG
    };
    let mut dec = Decoder::new(spec.base, pkg_name(spec), count_nodes(root), text.len());
    let cfg = match root {
        Some(n) => dec.decode(n, schema::Ty::Obj(def), false),
        None => D::Null,
    };
    if dec.aliasing {
        return Err(fail(
            Error::Yaml("yaml: document contains excessive aliasing".into()),
            Report::default(),
        ));
    }
    if !dec.errors.is_empty() {
        return Err(fail(
            Error::Yaml(format!(
                "yaml: unmarshal errors:\n  {}",
                dec.errors.join("\n  ")
            )),
            Report::default(),
        ));
    }
    let cfg = match cfg {
        D::Obj(o) => o,
        _ => decode::DObj::empty(def),
    };
    let mut diags: Vec<Diag> = Vec::new();
    if let Some(n) = root {
        decode::unused_keys(n, def, spec.base, &P::root(), &mut diags);
    }
    let done = |diags: &[Diag]| diag::correlate(root, diags);
    let fatal = |diags: &[Diag]| {
        diags
            .iter()
            .any(|d| d.kind == reignite_spec::report::Kind::Error)
    };

    // Source validation.
    let mut hook = fcos::validate_hook(spec.minor());
    let mut noop = |_: &decode::DObj, _: &P, _: &mut Vec<Diag>| {};
    let extra: validate::Hook<'_> = if fcos { &mut hook } else { &mut noop };
    validate::walk(&cfg, &P::root(), spec.base, &mut diags, extra);
    if fatal(&diags) {
        return Err(fail(Error::InvalidSource, done(&diags)));
    }

    // Translation.
    let mut tx = Tx {
        legacy: spec.base <= 3,
        files_dir: opts.files_dir.as_deref(),
        no_compression: opts.no_resource_auto_compression,
        diags: Vec::new(),
        prefetched: Default::default(),
    };
    let mut out = tx.base_config(&cfg, spec.ignition);
    diags.append(&mut tx.diags);
    if fatal(&diags) {
        return Err(fail(Error::InvalidSource, done(&diags)));
    }
    if fcos {
        fcos::process_boot_device(&cfg, &mut out);
        if spec.minor() >= 6 {
            fcos::partition_warnings(&out, &mut diags);
        }
        fcos::process_grub(&cfg, opts.no_resource_auto_compression, &mut out);
    }

    merge::normalize(&mut out, &schema::CONFIG);

    // Field filters.
    if spec.variant == Variant::Flatcar {
        let sp = P::root().f("storage").f("luks");
        let luks = out.get("storage").map(|s| s.arr_at("luks")).unwrap_or(&[]);
        for (i, l) in luks.iter().enumerate() {
            if spec.base < 8 && l.get("clevis").is_some_and(|c| !c.is_zero()) {
                diags.push(ignval::json_diag(
                    &out,
                    &sp.i(i).f("clevis"),
                    false,
                    "clevis is not supported in this spec version",
                ));
            }
            if spec.base >= 8 && l.get("cex").is_some_and(|c| !c.is_zero()) {
                diags.push(ignval::json_diag(
                    &out,
                    &sp.i(i).f("cex"),
                    false,
                    "cex is not currently supported on the target platform",
                ));
            }
        }
        if fatal(&diags) {
            return Err(fail(Error::InvalidSource, done(&diags)));
        }
    }

    // Ignition validation of the result.
    let compact = out::to_json(&out, false);
    diags.extend(ignition_report(&out, &compact));
    if fatal(&diags) {
        return Err(fail(Error::InvalidGenerated, done(&diags)));
    }
    let json = if opts.pretty {
        out::to_json(&out, true).into_bytes()
    } else {
        compact.into_bytes()
    };
    Ok(Translated {
        json,
        report: done(&diags),
        spec,
    })
}

/// Ignition's validation of the generated JSON (`reignite_spec::parse`),
/// with report paths mapped back to the YAML.
fn ignition_report(out: &out::J, json: &str) -> Vec<Diag> {
    let entries = match reignite_spec::parse(json.as_bytes()) {
        Ok(p) => p.report.entries,
        Err(reignite_spec::ParseError::Invalid(r)) => r.entries,
        Err(e) => return vec![Diag::err(P::root(), e.to_string())],
    };
    entries
        .into_iter()
        .map(|e| {
            let path = e.path.unwrap_or_default();
            let mut d = ignval::json_diag(out, &path, false, e.message);
            d.kind = e.kind;
            d
        })
        .collect()
}

fn pkg_name(spec: Spec) -> &'static str {
    match spec.base {
        1 => "v0_1",
        2 => "v0_2",
        3 => "v0_3",
        4 => "v0_4",
        5 => "v0_5",
        6 => "v0_6",
        7 => "v0_7",
        _ => "v0_8_exp",
    }
}

fn count_nodes(n: Option<&yaml::Node>) -> usize {
    fn walk(n: &yaml::Node, c: &mut usize) {
        *c += 1;
        match &n.kind {
            yaml::Kind::Seq(items) => items.iter().for_each(|i| walk(i, c)),
            yaml::Kind::Map(pairs) => pairs.iter().for_each(|(k, v)| {
                walk(k, c);
                walk(v, c);
            }),
            _ => {}
        }
    }
    let mut c = 0;
    if let Some(n) = n {
        walk(n, &mut c);
    }
    c
}

/// Formats a report as Butane prints it to stderr: raw lines, or the
/// pretty format with source excerpts.
pub fn format_report(r: &Report, raw: bool, filename: &str, source: &[u8], color: bool) -> String {
    if raw {
        diag::format_raw(r)
    } else {
        diag::format_pretty(r, filename, &String::from_utf8_lossy(source), color)
    }
}

/// Convenience for callers holding only entries.
pub fn entry_line(e: &Entry) -> String {
    diag::format_raw(&Report {
        entries: vec![e.clone()],
    })
    .trim_end()
    .to_string()
}

/// What `butane`/`reignite translate` prints and returns for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The JSON plus `\n`, when the translation succeeded (and `--strict`
    /// did not reject it).
    pub stdout: Option<Vec<u8>>,
    /// The report (raw or pretty) and the closing error line, if any.
    pub stderr: String,
    /// Exit code: 0 or 1.
    pub code: i32,
}

/// Runs a translation the way Butane's `main` does: report to stderr
/// first, then `Error translating config: …` (exit 1), then the `--strict`
/// check (exit 1 on any entry), then the output.
pub fn run_cli(
    data: &[u8],
    filename: &str,
    opts: &Options,
    strict: bool,
    raw_errors: bool,
    color: bool,
) -> Outcome {
    let result = translate(data, opts);
    let report = match &result {
        Ok(t) => &t.report,
        Err(e) => &e.report,
    };
    let mut stderr = format_report(report, raw_errors, filename, data, color);
    match result {
        Err(e) => {
            stderr.push_str(&format!("Error translating config: {}\n", e.error));
            Outcome {
                stdout: None,
                stderr,
                code: 1,
            }
        }
        Ok(_) if strict && !report_is_empty(report) => {
            stderr.push_str("Config produced warnings and --strict was specified\n");
            Outcome {
                stdout: None,
                stderr,
                code: 1,
            }
        }
        Ok(t) => {
            let mut out = t.json;
            out.push(b'\n');
            Outcome {
                stdout: Some(out),
                stderr,
                code: 0,
            }
        }
    }
}

fn report_is_empty(r: &Report) -> bool {
    r.entries.is_empty()
}
