//! Config assembly: base configs, `ignition.config.merge`/`replace` chains
//! and post-merge validation. (Being written; see `assemble`.)

use std::path::Path;

use reignite_spec::Config;

use crate::{FetchError, FetchOptions};

/// Options for [`assemble`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AssembleOptions {
    /// Base fetch options (user agent, backoff, bounds).
    pub fetch: FetchOptions,
}

/// One config fetched while assembling.
#[derive(Debug, Clone)]
pub struct FetchedConfig {
    /// Its `source` URL.
    pub source: String,
    /// Its raw bytes.
    pub raw: Vec<u8>,
}

/// The assembled config.
#[derive(Debug, Clone)]
pub struct Assembled {
    pub config: Config,
    pub fetched: Vec<FetchedConfig>,
}

/// Why assembly failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    #[error("config assembly is not implemented yet")]
    NotImplemented,
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Not implemented yet: returns [`AssembleError::NotImplemented`].
pub fn assemble(
    _user_config: &[u8],
    _base_dir: Option<&Path>,
    _platform: Option<&str>,
    _opts: &AssembleOptions,
) -> Result<Assembled, AssembleError> {
    Err(AssembleError::NotImplemented)
}
