//! Ignition's stages against a target root: files (nodes, units, users and
//! groups, SSH keys) and kernel arguments; confined, idempotent and durable.
//!
//! The public surface: [`apply()`] (first boot, records generation 1) and
//! [`provision()`] (the stages alone, for callers that record generations
//! themselves) with [`ApplyOptions`] and the [`Fetch`]
//! trait it reads contents through, the [`Root`] it works in, the
//! [`Manifest`] it produces (consumed by reprovision), and the state layout
//! constants ([`STATE_DIR`], [`generation_dir`], [`CURRENT`]).

pub(crate) mod accounts;
mod ahead;
mod append;
mod apply;
mod context;
mod dircache;
mod files;
mod home;
pub mod manifest;
mod passwd;
pub mod root;
mod ssh;
mod units;

pub use apply::{
    apply, canonical_config, clear_journal, current_generation, generation_dir, provision,
    ApplyOptions, Outcome, CURRENT, JOURNAL, KARGS_PATH, RESULT_PATH, STATE_DIR,
};
pub use context::{ApplyError, Event, Fetch};
pub use manifest::Manifest;
pub use root::Root;
pub use units::{PRESET_PATH, UNITS_DIR};
