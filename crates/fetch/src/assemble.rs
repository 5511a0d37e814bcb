//! Config assembly, as Ignition's fetch stage does it (`engine.go`,
//! `config_fetcher.go`, the system base config):
//!
//! 1. The user config is parsed; an empty one counts as an empty config.
//! 2. It is *rendered*: if `ignition.config.replace.source` is set, the
//!    replacement is fetched, parsed and rendered instead; otherwise each
//!    `ignition.config.merge[i]` is fetched, parsed, rendered depth first and
//!    merged over the configs before it (the child wins). Before a child's
//!    own references are fetched, the timeouts, CAs and proxy of
//!    `merge(merged, child)` take effect. As in Ignition the fetch settings
//!    are not restored afterwards: the next sibling is fetched with the
//!    settings last put in force.
//! 3. The rendered config's CA sources are rewritten as `data:` URLs (so the
//!    assembled config no longer needs the network for them) and it is
//!    validated with the newest version's rules (`validate_merged`).
//! 4. Base configs, `base.d/*.ign` in name order and then
//!    `base.platform.d/<platform>/*.ign`, are merged in order, and the final
//!    config is `merge(empty, merge(base, rendered))`.
//!
//! Unlike Ignition, which follows references forever, chains deeper than
//! [`AssembleOptions::max_depth`] and reference loops fail with an error.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use reignite_spec::report::Report;
use reignite_spec::{Config, ParseError, Resource};
use sha2::{Digest, Sha512};

use crate::error::display_url;
use crate::{FetchError, FetchOptions, Fetcher};

/// Options for [`assemble`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AssembleOptions {
    /// Base fetch options (user agent, backoff, bounds, extra CAs). The
    /// user config's settings are applied on top.
    pub fetch: FetchOptions,
    /// Deepest chain of `merge`/`replace` references followed.
    pub max_depth: usize,
    /// Most referenced configs fetched in all.
    pub max_configs: usize,
    /// Largest referenced config accepted, in bytes (after decompression).
    pub max_config_size: usize,
}

impl Default for AssembleOptions {
    fn default() -> Self {
        AssembleOptions {
            fetch: FetchOptions::default(),
            max_depth: 10,
            max_configs: 100,
            max_config_size: 64 << 20,
        }
    }
}

/// Where a config that went into the result came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigKind {
    /// A system base config file.
    Base,
    /// The user config given to [`assemble`].
    User,
    /// A config referenced by `ignition.config.merge` or `replace`.
    Referenced,
}

/// One config that went into the result, in the order they were read.
#[derive(Debug, Clone)]
pub struct FetchedConfig {
    pub kind: ConfigKind,
    /// A path for base configs, `"user"` for the user config, the source
    /// URL (shortened, credentials removed) for referenced ones.
    pub source: String,
    /// Lower-case hex sha512 of the raw (decompressed) bytes.
    pub sha512: String,
    /// The spec version it was written in (`None` for an empty user config).
    pub version: Option<semver::Version>,
    /// This config's own parse warnings (also in [`Assembled::report`]).
    pub report: Report,
}

/// The assembled config.
#[derive(Debug)]
pub struct Assembled {
    /// The final config: `merge(empty, merge(base, rendered user config))`.
    pub config: Config,
    /// Warnings of every config read, in reading order, then those of the
    /// post-merge validation. [`FetchedConfig::report`] has them per config.
    pub report: Report,
    /// Every config read, in order.
    pub fetched: Vec<FetchedConfig>,
    /// A fetcher configured as Ignition's later stages configure theirs:
    /// with the rendered user config's timeouts, CAs and proxy.
    pub fetcher: Fetcher,
}

/// Why assembly failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    /// The user config does not parse or is invalid.
    #[error("parsing the user config")]
    User {
        #[source]
        source: ParseError,
    },
    /// A base config could not be read.
    #[error("reading base config {path}")]
    ReadBase {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A base config does not parse or is invalid.
    #[error("parsing base config {path}")]
    Base {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
    /// A referenced config could not be fetched (includes hash mismatches).
    #[error("fetching referenced config {source_url}")]
    Fetch {
        source_url: String,
        #[source]
        inner: FetchError,
    },
    /// A referenced config does not parse or is invalid.
    #[error("parsing referenced config {source_url}")]
    Referenced {
        source_url: String,
        #[source]
        inner: ParseError,
    },
    /// A reference without `source` (validation normally catches it).
    #[error("referenced config has no source")]
    SourceRequired,
    /// Applying a config's timeouts, CAs or proxy failed.
    #[error("applying the fetch settings of {config}")]
    Settings {
        config: String,
        #[source]
        inner: FetchError,
    },
    /// A reference chain deeper than the limit.
    #[error("config references nested deeper than {limit} levels: {chain}")]
    TooDeep { limit: usize, chain: String },
    /// More referenced configs than the limit.
    #[error("more than {limit} referenced configs")]
    TooMany { limit: usize },
    /// A config that (indirectly) references itself.
    #[error("config reference loop: {chain}")]
    Loop { chain: String },
    /// The merged config breaks the newest version's rules.
    #[error("merging configs resulted in an invalid config:\n{report}")]
    Invalid { report: Report },
}

impl AssembleError {
    /// The validation report behind a parse or post-merge failure, if any.
    pub fn report(&self) -> Option<Report> {
        match self {
            AssembleError::User { source }
            | AssembleError::Base { source, .. }
            | AssembleError::Referenced { inner: source, .. } => Some(source.report()),
            AssembleError::Invalid { report } => Some(report.clone()),
            _ => None,
        }
    }
}

/// Assembles the config Ignition's fetch stage would produce from
/// `user_config` (raw bytes of any supported spec version), the base
/// configs under `base_dir` (Ignition: `/usr/lib/ignition`; `None` = none)
/// and `platform` (selects `base.platform.d/<platform>`).
pub fn assemble(
    user_config: &[u8],
    base_dir: Option<&Path>,
    platform: Option<&str>,
    opts: &AssembleOptions,
) -> Result<Assembled, AssembleError> {
    let mut state = State {
        opts,
        report: Report::default(),
        fetched: Vec::new(),
        referenced: 0,
    };

    // System base configs first: Ignition reads them before the user config.
    let base = match base_dir {
        Some(dir) => state.base_configs(dir, platform)?,
        None => None,
    };

    let (user, version, report) = match reignite_spec::parse(user_config) {
        Ok(p) => (p.config, Some(p.version), p.report),
        // Ignition ignores an empty user config and goes on with an empty one.
        Err(ParseError::Empty) => (empty_config(), None, Report::default()),
        Err(source) => return Err(AssembleError::User { source }),
    };
    state.report.merge(report.clone());
    state.fetched.push(FetchedConfig {
        kind: ConfigKind::User,
        source: "user".into(),
        sha512: sha512_hex(user_config),
        version,
        report,
    });

    let base_fetcher =
        Fetcher::new(opts.fetch.clone()).map_err(|inner| AssembleError::Settings {
            config: "the base fetch options".into(),
            inner,
        })?;
    let fetcher = base_fetcher
        .with_config(&user)
        .map_err(|inner| AssembleError::Settings {
            config: "the user config".into(),
            inner,
        })?;
    let mut chain = vec!["user".to_string()];
    let (mut rendered, fetcher) = state.render(user, fetcher, &mut chain)?;

    // Ignition updates the fetcher with the rendered config, rewrites its CA
    // sources as data URLs and validates it.
    let fetcher = fetcher
        .with_config(&rendered)
        .map_err(|inner| AssembleError::Settings {
            config: "the rendered config".into(),
            inner,
        })?;
    for ca in &mut rendered.ignition.security.tls.certificate_authorities {
        if let Some(blob) = fetcher.cached_ca(ca) {
            ca.source = Some(encode_data_url(&blob));
        }
    }
    let post = reignite_spec::validate_merged(&rendered);
    if post.is_fatal() {
        return Err(AssembleError::Invalid { report: post });
    }
    state.report.merge(post);

    let with_base = match base {
        Some(b) => reignite_spec::merge(&b, &rendered),
        None => reignite_spec::merge(&Config::default(), &rendered),
    };
    let config = reignite_spec::merge(&empty_config(), &with_base);
    Ok(Assembled {
        config,
        report: state.report,
        fetched: state.fetched,
        fetcher,
    })
}

struct State<'a> {
    opts: &'a AssembleOptions,
    report: Report,
    fetched: Vec<FetchedConfig>,
    referenced: usize,
}

impl State<'_> {
    /// `base.d/*.ign`, then `base.platform.d/<platform>/*.ign`, merged in
    /// order; `None` when there are none.
    fn base_configs(
        &mut self,
        dir: &Path,
        platform: Option<&str>,
    ) -> Result<Option<Config>, AssembleError> {
        let mut dirs = vec![dir.join("base.d")];
        if let Some(p) = platform {
            dirs.push(dir.join("base.platform.d").join(p));
        }
        let mut merged: Option<Config> = None;
        for d in dirs {
            for path in ign_files(&d)? {
                let raw = fs::read(&path).map_err(|source| AssembleError::ReadBase {
                    path: path.clone(),
                    source,
                })?;
                let parsed = reignite_spec::parse(&raw).map_err(|source| AssembleError::Base {
                    path: path.clone(),
                    source,
                })?;
                self.report.merge(parsed.report.clone());
                self.fetched.push(FetchedConfig {
                    kind: ConfigKind::Base,
                    source: path.display().to_string(),
                    sha512: sha512_hex(&raw),
                    version: Some(parsed.version),
                    report: parsed.report,
                });
                merged = Some(match merged {
                    Some(m) => reignite_spec::merge(&m, &parsed.config),
                    None => parsed.config,
                });
            }
        }
        Ok(merged)
    }

    /// Ignition's `RenderConfig`: returns the rendered config and the
    /// fetcher last put in force.
    fn render(
        &mut self,
        cfg: Config,
        fetcher: Fetcher,
        chain: &mut Vec<String>,
    ) -> Result<(Config, Fetcher), AssembleError> {
        let replace = cfg.ignition.config.replace.clone();
        if replace.source.is_some() {
            let child = self.fetch_referenced(&replace, &fetcher, chain)?;
            let next = fetcher
                .with_config(&child)
                .map_err(|inner| settings_error(chain, inner))?;
            let out = self.render(child, next, chain);
            chain.pop();
            return out;
        }
        let refs = cfg.ignition.config.merge.clone();
        let mut merged = cfg;
        let mut fetcher = fetcher;
        for r in &refs {
            let child = self.fetch_referenced(r, &fetcher, chain)?;
            let settings = reignite_spec::merge(&merged, &child);
            let next = fetcher
                .with_config(&settings)
                .map_err(|inner| settings_error(chain, inner))?;
            let (rendered, last) = self.render(child, next, chain)?;
            chain.pop();
            merged = reignite_spec::merge(&merged, &rendered);
            fetcher = last;
        }
        Ok((merged, fetcher))
    }

    /// Fetches, verifies and parses one reference; pushes it on `chain`.
    fn fetch_referenced(
        &mut self,
        r: &Resource,
        fetcher: &Fetcher,
        chain: &mut Vec<String>,
    ) -> Result<Config, AssembleError> {
        let source = r.source.as_deref().ok_or(AssembleError::SourceRequired)?;
        let shown = display_url(source);
        // `chain` holds full sources (shortened ones could collide).
        if chain.iter().skip(1).any(|c| c == source) {
            chain.push(source.to_string());
            return Err(AssembleError::Loop {
                chain: show_chain(chain),
            });
        }
        if chain.len() > self.opts.max_depth {
            chain.push(source.to_string());
            return Err(AssembleError::TooDeep {
                limit: self.opts.max_depth,
                chain: show_chain(chain),
            });
        }
        self.referenced += 1;
        if self.referenced > self.opts.max_configs {
            return Err(AssembleError::TooMany {
                limit: self.opts.max_configs,
            });
        }
        let raw = fetcher
            .fetch_config(r, self.opts.max_config_size)
            .map_err(|inner| AssembleError::Fetch {
                source_url: shown.clone(),
                inner,
            })?;
        let parsed = reignite_spec::parse(&raw).map_err(|inner| AssembleError::Referenced {
            source_url: shown.clone(),
            inner,
        })?;
        self.report.merge(parsed.report.clone());
        self.fetched.push(FetchedConfig {
            kind: ConfigKind::Referenced,
            source: shown.clone(),
            sha512: sha512_hex(&raw),
            version: Some(parsed.version),
            report: parsed.report,
        });
        chain.push(source.to_string());
        Ok(parsed.config)
    }
}

fn settings_error(chain: &[String], inner: FetchError) -> AssembleError {
    AssembleError::Settings {
        config: chain.last().map(|c| display_url(c)).unwrap_or_default(),
        inner,
    }
}

fn show_chain(chain: &[String]) -> String {
    chain
        .iter()
        .map(|c| display_url(c))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Ignition's `emptyConfig`: nothing but the newest version.
fn empty_config() -> Config {
    let mut c = Config::default();
    c.ignition.version = reignite_spec::NEWEST_VERSION.to_string();
    c
}

/// Regular files named `*.ign` in `dir`, sorted by name (Go's
/// `os.ReadDir` order); a missing directory has none.
fn ign_files(dir: &Path) -> Result<Vec<PathBuf>, AssembleError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AssembleError::ReadBase {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| AssembleError::ReadBase {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "ign") && path.is_file() {
            out.push(path);
        }
    }
    out.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(out)
}

fn sha512_hex(b: &[u8]) -> String {
    hex::encode(Sha512::digest(b))
}

/// Go's `dataurl.EncodeBytes`.
fn encode_data_url(b: &[u8]) -> String {
    format!(
        "data:text/plain;charset=US-ASCII;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(b)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_files_are_sorted_and_filtered() {
        let d = tempfile::tempdir().unwrap();
        for n in ["b.ign", "a.ign", "c.json", "0.ign.bak"] {
            fs::write(d.path().join(n), "{}").unwrap();
        }
        fs::create_dir(d.path().join("dir.ign")).unwrap();
        let names: Vec<_> = ign_files(d.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.ign", "b.ign"]);
        assert!(ign_files(&d.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn data_url_round_trip() {
        let u = encode_data_url(b"-----BEGIN CERTIFICATE-----\n");
        assert_eq!(
            crate::dataurl::decode(&u).unwrap(),
            b"-----BEGIN CERTIFICATE-----\n"
        );
    }
}
