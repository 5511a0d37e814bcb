//! Ignition's stages against a target root: files (nodes, units, users and
//! groups, SSH keys) and kernel arguments; confined, idempotent and durable.
