//! Ignition config model, spec 3.0.0 – 3.7.0-experimental: parsing with
//! positions, validation with Ignition's exact reports, translation up to the
//! newest version and parent/child merging. Pure: no I/O.
//!
//! # API
//!
//! * [`parse`]`(bytes) -> Result<`[`Parsed`]`, `[`ParseError`]`>` does what
//!   Ignition's `ParseCompatibleVersion` does: JSON with Go's quirks
//!   (case-insensitive keys, last duplicate key wins and merges, `null` =
//!   absent, strict `int`s), exact version dispatch, decoding under that
//!   version's schema, validation and translation. [`Parsed::config`] is the
//!   config translated to [`NEWEST_VERSION`], [`Parsed::version`] the source
//!   version, [`Parsed::report`] the warnings. An invalid config gives
//!   [`ParseError::Invalid`] with the full report; its `Display` lines are
//!   Ignition's (`error at $.storage.files.0.path, line 5 col 15: path not
//!   absolute`). Report order is Ignition's: validation rules, duplicates,
//!   unused keys; each entry has the line/column of the deepest JSON node
//!   that exists on its path.
//! * [`merge()`]`(parent, child)` merges two translated configs with
//!   Ignition's rules (the child wins); [`validate_merged`] then applies the
//!   newest version's rules without duplicates or positions, as Ignition's
//!   fetch stage does after merging.
//! * [`types`] (re-exported at the root) is the newest-shape model and
//!   [`report`] the report types.
//!
//! ```
//! let p = reignite_spec::parse(br#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"Path":"/etc/motd"}]}}"#)
//!     .expect("valid");
//! assert_eq!(p.version.to_string(), "3.3.0");
//! assert_eq!(p.config.storage.files[0].node.path, "/etc/motd"); // keys match case-insensitively
//! assert_eq!(
//!     p.report.to_string(),
//!     "warning at $.storage.files.0.Path, line 1 col 54: unused key Path\n"
//! );
//! let err = reignite_spec::parse(br#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"etc"}]}}"#)
//!     .unwrap_err();
//! assert_eq!(
//!     err.report().to_string(),
//!     "error at $.storage.files.0.path, line 1 col 61: path not absolute\n"
//! );
//! ```

mod build;
mod decode;
mod fuzzcheck;
mod json;
pub mod merge;
mod parse;
pub mod report;
mod schema;
pub mod types;
mod unused;
pub mod validate;

#[doc(hidden)]
pub use fuzzcheck::fuzz_check;
pub use merge::merge;
pub use parse::{parse, validate_merged, ParseError, Parsed, NEWEST_VERSION, SUPPORTED_VERSIONS};
pub use types::*;
