//! Ignition's semantic validation rules, with its exact messages, `$.path`
//! locations and report order.
//!
//! Ignition validates a config with the rules of the config's *source*
//! version before translating it up, walking the typed config pre-order and
//! depth-first through struct fields in (alphabetical) field order, a parent
//! before its children. [`validate`] reproduces that walk on the newest-shape
//! [`Config`] and switches rules by source version (see [`Rules`]). The
//! duplicate-key check runs as a second walk ([`duplicates`]), as in
//! Ignition; unknown-key warnings and line/column positions belong to the
//! parser.
//!
//! Contract with the parser: `cfg` must be the config **as decoded from its
//! source version, before translation**: in particular modes must not yet be
//! masked with `&^ 07000`, or the special-bits warning of specs < 3.6 can never
//! fire. Plain (non-pointer) Go fields of old versions are expected as
//! upstream's translation makes them: a present 3.2 `clevis.custom` carries
//! `Some("")` pin and config (so `custom: {}` is distinguishable from an
//! absent one), and 3.0–3.2 link `target` / raid `level` may be `Some("")`.

mod dataurl;
mod dups;
mod gopath;
mod storage;
mod unit;
mod url;

use crate::report::{ConfigPath, Entry};
use crate::types::{Config, HttpHeader, Ignition, NodeGroup, NodeUser, Resource, Systemd};

pub use dups::duplicates;

/// Which rules apply, derived from the config's source spec version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    minor: u64,
}

impl Rules {
    /// Rules of spec `3.<minor>` (3.7.0-experimental counts as 3.7).
    pub fn for_version(version: &semver::Version) -> Self {
        Self {
            minor: version.minor,
        }
    }

    /// 3.0 has separate `FileContents`/`ConfigReference`/`CaReference` types.
    fn unified_resource(&self) -> bool {
        self.minor >= 1
    }
    fn sha256(&self) -> bool {
        self.minor >= 1
    }
    pub(crate) fn gs_scheme(&self) -> bool {
        self.minor >= 2
    }
    pub(crate) fn arn_scheme(&self) -> bool {
        self.minor >= 4
    }
    fn special_bits_warning(&self) -> bool {
        self.minor < 6
    }
    /// 3.3 made link `target`, raid `level` and clevis `custom` optional in
    /// the schema and added the explicit "required" checks.
    fn optional_target_level(&self) -> bool {
        self.minor >= 3
    }
    fn format_none(&self) -> bool {
        self.minor >= 3
    }
    fn virtiofs(&self) -> bool {
        self.minor >= 7
    }
    fn clevis_custom_pointer(&self) -> bool {
        self.minor <= 2
    }
    fn clevis_pin_check(&self) -> bool {
        (2..=5).contains(&self.minor)
    }
    fn tang_advertisement(&self) -> bool {
        self.minor >= 4
    }
    fn cex(&self) -> bool {
        self.minor >= 5
    }
}

/// Validates `cfg` (decoded from spec `version`, not yet translated) with
/// Ignition's default validators, in Ignition's report order. Positions are
/// not set. The duplicate check is separate: [`duplicates`].
pub fn validate(cfg: &Config, version: &semver::Version) -> Vec<Entry> {
    let mut v = Validator {
        rules: Rules::for_version(version),
        version,
        out: Vec::new(),
    };
    v.config(cfg);
    v.out
}

/// Validates, then checks duplicates: the whole of Ignition's report except
/// unknown keys and positions.
pub fn validate_all(cfg: &Config, version: &semver::Version) -> Vec<Entry> {
    let mut out = validate(cfg, version);
    out.extend(duplicates(cfg));
    out
}

pub(crate) fn root() -> ConfigPath {
    ConfigPath::root()
}

/// Extends a path by fields and indexes: `at(&p, &["files"]).index(0)`.
pub(crate) fn at(p: &ConfigPath, fields: &[&str]) -> ConfigPath {
    let mut p = p.clone();
    for f in fields {
        p = p.field(f);
    }
    p
}

pub(crate) fn not_empty(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

pub(crate) fn nil_or_empty(s: &Option<String>) -> bool {
    !not_empty(s)
}

fn is_true(b: Option<bool>) -> bool {
    b == Some(true)
}

/// `validatePath`.
pub(crate) fn check_path(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("path not specified");
    }
    if !gopath::is_abs(p) {
        return Err("path not absolute");
    }
    if gopath::clean(p) != p {
        return Err("path is not fully simplified");
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ResKind {
    /// 3.1+ `Resource`.
    Resource,
    /// 3.0 `ConfigReference` (merge and replace).
    ConfigRef,
    /// 3.0 `CaReference`: `source` is a required plain string.
    CaRef,
}

pub(crate) struct Validator<'a> {
    pub(crate) rules: Rules,
    version: &'a semver::Version,
    pub(crate) out: Vec<Entry>,
}

impl Validator<'_> {
    pub(crate) fn err(&mut self, p: ConfigPath, msg: impl Into<String>) {
        self.out.push(Entry::error(p, msg));
    }

    pub(crate) fn warn(&mut self, p: ConfigPath, msg: impl Into<String>) {
        self.out.push(Entry::warning(p, msg));
    }

    pub(crate) fn on_err<E: Into<String>>(&mut self, p: ConfigPath, r: Result<(), E>) {
        if let Err(e) = r {
            self.err(p, e);
        }
    }

    fn config(&mut self, cfg: &Config) {
        self.path_conflicts(cfg);
        self.ignition(&cfg.ignition);
        // kernelArguments and passwd have no default validators.
        self.storage(&cfg.storage);
        self.systemd(&cfg.systemd);
    }

    /// `Config.Validate`: nodes at the paths where units or drop-ins with
    /// contents are written.
    fn path_conflicts(&mut self, cfg: &Config) {
        let mut unit_paths = std::collections::HashSet::new();
        for u in &cfg.systemd.units {
            if not_empty(&u.contents) {
                unit_paths.insert(format!("/etc/systemd/system/{}", u.name));
            }
            for d in &u.dropins {
                if not_empty(&d.contents) {
                    unit_paths.insert(format!("/etc/systemd/system/{}.d/{}", u.name, d.name));
                }
            }
        }
        let s = root().field("storage");
        let msg = "path conflicts with systemd unit or dropin";
        for (i, f) in cfg.storage.files.iter().enumerate() {
            if unit_paths.contains(&f.node.path) {
                self.err(s.field("files").index(i).field("path"), msg);
            }
        }
        for (i, d) in cfg.storage.directories.iter().enumerate() {
            if unit_paths.contains(&d.node.path) {
                self.err(s.field("directories").index(i).field("path"), msg);
            }
        }
        for (i, l) in cfg.storage.links.iter().enumerate() {
            if unit_paths.contains(&l.node.path) {
                self.err(s.field("links").index(i).field("path"), msg);
            }
        }
    }

    fn ignition(&mut self, ign: &Ignition) {
        let p = root().field("ignition");
        let vp = p.field("version");
        match semver::Version::parse(&ign.version) {
            Err(_) => self.err(vp, "invalid config version (couldn't parse)"),
            Ok(v) if &v != self.version => self.err(vp, "unsupported config version"),
            Ok(_) => {}
        }
        let cp = p.field("config");
        let unified = self.rules.unified_resource();
        if unified {
            for (i, m) in ign.config.merge.iter().enumerate() {
                let r = self.required_source(m);
                self.on_err(cp.field("merge").index(i), r);
            }
        }
        let kind = if unified {
            ResKind::Resource
        } else {
            ResKind::ConfigRef
        };
        for (i, m) in ign.config.merge.iter().enumerate() {
            self.resource(m, &cp.field("merge").index(i), kind);
        }
        self.resource(&ign.config.replace, &cp.field("replace"), kind);

        let pp = p.field("proxy");
        self.proxy_url(ign.proxy.http_proxy.as_deref(), pp.field("httpProxy"), true);
        self.proxy_url(
            ign.proxy.https_proxy.as_deref(),
            pp.field("httpsProxy"),
            false,
        );

        let tp = at(&p, &["security", "tls", "certificateAuthorities"]);
        let cas = &ign.security.tls.certificate_authorities;
        if unified {
            for (i, ca) in cas.iter().enumerate() {
                let r = self.required_source(ca);
                self.on_err(tp.index(i), r);
            }
        }
        let kind = if unified {
            ResKind::Resource
        } else {
            ResKind::CaRef
        };
        for (i, ca) in cas.iter().enumerate() {
            self.resource(ca, &tp.index(i), kind);
        }
    }

    /// `validateRequiredSource` of merged configs and CAs (3.1+).
    fn required_source(&self, r: &Resource) -> Result<(), String> {
        match r.source.as_deref() {
            None | Some("") => Err("source is required".into()),
            Some(s) => url::validate_url(s, &self.rules),
        }
    }

    fn proxy_url(&mut self, s: Option<&str>, p: ConfigPath, http_ok: bool) {
        let Some(s) = s else { return };
        match url::scheme_of(s) {
            Err(()) => self.err(p, url::ERR_INVALID_URL),
            Ok(scheme) if scheme != "http" && scheme != "https" => {
                self.err(p, "proxies must be http(s)")
            }
            Ok(scheme) if scheme == "http" && !http_ok => self.warn(
                p,
                "insecure plaintext HTTP proxy specified for HTTPS resources",
            ),
            Ok(_) => {}
        }
    }

    pub(crate) fn resource_default(&mut self, r: &Resource, p: &ConfigPath) {
        self.resource(r, p, ResKind::Resource);
    }

    fn resource(&mut self, r: &Resource, p: &ConfigPath, kind: ResKind) {
        match kind {
            ResKind::ConfigRef => {
                let res = url::validate_url_nil_ok(r.source.as_deref(), &self.rules);
                self.on_err(p.field("source"), res);
            }
            ResKind::CaRef => {
                let res = url::validate_url(r.source.as_deref().unwrap_or(""), &self.rules);
                self.on_err(p.field("source"), res);
            }
            ResKind::Resource => {
                if let Some(c) = r.compression.as_deref() {
                    if !c.is_empty() && c != "gzip" {
                        self.err(p.field("compression"), "invalid compression method");
                    }
                }
                if r.verification.hash.is_some() && r.source.is_none() {
                    self.err(
                        at(p, &["verification", "hash"]),
                        "source must be specified if verification is specified",
                    );
                }
                let res = url::validate_url_nil_ok(r.source.as_deref(), &self.rules);
                self.on_err(p.field("source"), res);
                if kind == ResKind::Resource && !r.http_headers.is_empty() {
                    let res = match r.source.as_deref() {
                        None | Some("") => Err(url::ERR_INVALID_URL),
                        Some(s) => match url::scheme_of(s) {
                            Err(()) => Err(url::ERR_INVALID_URL),
                            Ok(sc) if sc == "http" || sc == "https" => Ok(()),
                            Ok(_) => Err("cannot use HTTP headers with this source scheme"),
                        },
                    };
                    self.on_err(p.field("httpHeaders"), res);
                }
            }
        }
        for (i, h) in r.http_headers.iter().enumerate() {
            self.header(h, &p.field("httpHeaders").index(i));
        }
        self.hash(
            r.verification.hash.as_deref(),
            at(p, &["verification", "hash"]),
        );
    }

    fn header(&mut self, h: &HttpHeader, p: &ConfigPath) {
        if h.name.is_empty() {
            self.err(p.field("name"), "HTTP header name can't be empty");
        }
        if h.value.as_deref() == Some("") {
            self.err(p.field("value"), "unable to parse HTTP header");
        }
    }

    /// `Verification.Validate`.
    fn hash(&mut self, hash: Option<&str>, p: ConfigPath) {
        let Some(h) = hash else { return };
        let Some((function, sum)) = h.split_once('-') else {
            return self.err(p, "malformed hash specifier");
        };
        let size = match function {
            "sha512" => 128,
            "sha256" if self.rules.sha256() => 64,
            _ => return self.err(p, "unrecognized hash function"),
        };
        if sum.len() != size {
            self.err(p, "incorrect size for hash sum");
        }
    }

    /// `validateMode` and, before 3.6, the special-bits warning.
    pub(crate) fn mode(&mut self, mode: Option<i64>, p: ConfigPath) {
        let Some(m) = mode else { return };
        if !(0..=0o7777).contains(&m) {
            self.err(p.clone(), "illegal file mode");
        }
        if self.rules.special_bits_warning() && (m as u32) & 0o7000 != 0 {
            self.warn(
                p,
                "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0",
            );
        }
    }

    /// `NodeUser.Validate` / `NodeGroup.Validate`.
    pub(crate) fn owner(&mut self, user: &NodeUser, group: &NodeGroup, p: &ConfigPath) {
        let both = "cannot set both id and name";
        if group.id.is_some() && not_empty(&group.name) {
            self.err(p.field("group"), both);
        }
        if user.id.is_some() && not_empty(&user.name) {
            self.err(p.field("user"), both);
        }
    }

    fn systemd(&mut self, sd: &Systemd) {
        let p = root().field("systemd").field("units");
        self.template_units(sd, &p);
        for (i, u) in sd.units.iter().enumerate() {
            let up = p.index(i);
            let ext = gopath::ext(&u.name);
            if !matches!(
                ext,
                ".service"
                    | ".socket"
                    | ".device"
                    | ".mount"
                    | ".automount"
                    | ".swap"
                    | ".target"
                    | ".path"
                    | ".timer"
                    | ".snapshot"
                    | ".slice"
                    | ".scope"
            ) {
                self.err(up.field("name"), "invalid systemd unit extension");
            }
            let cp = up.field("contents");
            match unit::parse_unit_contents(u.contents.as_deref()) {
                Err(e) => self.err(cp, e),
                Ok(opts) => {
                    if is_true(u.enabled)
                        && not_empty(&u.contents)
                        && !opts.iter().any(|o| o.section == "Install")
                    {
                        self.warn(
                            cp,
                            format!(
                                "unit {} is enabled, but has no install section so enable does nothing",
                                unit::go_quote(u.name.as_bytes())
                            ),
                        );
                    }
                }
            }
            for (j, d) in u.dropins.iter().enumerate() {
                let dp = up.field("dropins").index(j);
                if let Err(e) = unit::parse_unit_contents(d.contents.as_deref()) {
                    self.err(dp.field("contents"), e);
                }
                if gopath::ext(&d.name) != ".conf" {
                    self.err(dp.field("name"), "invalid systemd drop-in extension");
                }
            }
        }
    }

    /// `Systemd.Validate`: enabled instances of a template whose contents
    /// lack an `[Install]` section.
    fn template_units(&mut self, sd: &Systemd, p: &ConfigPath) {
        let mut units = std::collections::HashMap::new();
        for u in &sd.units {
            units.insert(u.name.as_str(), u);
        }
        for (i, u) in sd.units.iter().enumerate() {
            if !is_true(u.enabled) {
                continue;
            }
            let Some(prefix) = template_prefix(&u.name) else {
                continue;
            };
            let template = format!("{prefix}@.service");
            let Some(t) = units.get(template.as_str()) else {
                continue;
            };
            if !not_empty(&t.contents) {
                continue;
            }
            let Ok(opts) = unit::parse_unit_contents(t.contents.as_deref()) else {
                continue;
            };
            if !opts.iter().any(|o| o.section == "Install") {
                self.warn(
                    p.index(i).field("contents"),
                    format!(
                        "template unit {} for {} doesn't have Install section",
                        unit::go_quote(template.as_bytes()),
                        unit::go_quote(u.name.as_bytes())
                    ),
                );
            }
        }
    }
}

/// Group 1 of `^(.+?)@(.+?)\.service$` (Go regexp, `.` excludes `\n`).
fn template_prefix(name: &str) -> Option<&str> {
    if name.contains('\n') {
        return None;
    }
    let stem = name.strip_suffix(".service")?;
    stem.char_indices()
        .filter(|&(i, c)| c == '@' && i > 0)
        .map(|(i, _)| i)
        .find(|&i| i + 1 < stem.len())
        .map(|i| &name[..i])
}

#[cfg(test)]
mod tests;
