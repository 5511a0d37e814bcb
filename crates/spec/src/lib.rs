//! Ignition config model, spec 3.0.0 – 3.7.0-experimental: parsing with
//! positions, validation with Ignition's exact reports, translation up to the
//! newest version and parent/child merging. Pure: no I/O.

pub mod report;
pub mod types;
pub mod validate;

pub use types::*;
