//! Ignition's stages against a target root: files (nodes, units, users and
//! groups, SSH keys) and kernel arguments; confined, idempotent and durable.
//!
//! The public surface: [`manifest`] (what an apply produced; consumed by
//! reprovision).

pub mod manifest;

pub use manifest::Manifest;
