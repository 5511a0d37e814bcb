//! Access to the shared Butane conformance cases for integration tests:
//! each case's files directory is materialized in a scratch directory with
//! the symlinks and executable bits the manifest records (the shared copy
//! cannot carry them).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn conformance_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/butane"
    ))
}

pub fn manifest() -> Option<Value> {
    let bytes = std::fs::read(conformance_dir().join("manifest.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_dir(&e.path(), &to);
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &to).unwrap();
        } else {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::copy(e.path(), &to).unwrap();
            let mut p = std::fs::metadata(&to).unwrap().permissions();
            p.set_mode(p.mode() | 0o200);
            std::fs::set_permissions(&to, p).unwrap();
        }
    }
}

/// Copies the case's files directory into `into`, applying the manifest's
/// symlinks and executables; returns the copy's name (relative to `into`).
pub fn materialize(case: &Value, into: &Path) -> Option<PathBuf> {
    let fd = case["files_dir"].as_str()?;
    let base = PathBuf::from(Path::new(fd).file_name().unwrap());
    copy_dir(&conformance_dir().join(fd), &into.join(&base));
    if let Some(links) = case["symlinks"].as_object() {
        for (p, t) in links {
            let at = into.join(&base).join(p);
            let _ = std::fs::remove_file(&at);
            std::os::unix::fs::symlink(t.as_str().unwrap(), &at).unwrap();
        }
    }
    if let Some(ex) = case["executables"].as_array() {
        use std::os::unix::fs::PermissionsExt as _;
        for p in ex {
            let at = into.join(&base).join(p.as_str().unwrap());
            std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    Some(base)
}

pub fn input(case: &Value) -> Vec<u8> {
    std::fs::read(conformance_dir().join(case["input"].as_str().unwrap())).unwrap()
}
