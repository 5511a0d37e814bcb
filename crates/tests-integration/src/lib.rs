//! Differential test harness for `reignite apply` against Debian's Ignition
//! 2.14 on directory roots.
//!
//! A corpus case (see [`case`]) describes a starting root and a config. The
//! [`harness`] builds two identical roots, runs Ignition's `fetch` + `files`
//! stages ([`ignition`]) on one and `reignite apply --root` on the other,
//! snapshots both ([`tree`]) and compares them completely ([`compare`]): every
//! path, type, content, mode, owner, symlink target and hard-link grouping.
//! The validation reports both print are compared entry by entry ([`report`]).
//! The only differences tolerated are listed, with their reasons, in
//! [`exceptions`] (global) or in the case file itself (`known`).
//!
//! [`reset`] checks `reignite reset` + `boot` against a fresh provisioning
//! (by reignite and by Ignition 2.14) of the factory state plus the kept paths.

pub mod case;
pub mod compare;
pub mod exceptions;
pub mod harness;
pub mod ignition;
pub mod passwd;
pub mod report;
pub mod reset;
pub mod tree;

/// True when the process runs with effective uid 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
