//! `--files-dir` access: Butane's `ReadLocalFile` with its lexical
//! containment check, tightened into a sandbox — the resolved path (after
//! symlinks) must also stay inside the files directory — and Go's error
//! texts (`open DIR/x: no such file or directory`).

use std::io;
use std::path::{Path, PathBuf};

pub const ERR_NO_FILES_DIR: &str =
    "local file paths are relative to a files directory that must be specified with -d/--files-dir";
pub const ERR_ESCAPE: &str = "local file path traverses outside the files directory";

/// Go's `path.Clean` on a slash-separated path.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Go's `filepath.Join`.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

fn abs(p: &str) -> String {
    if p.starts_with('/') {
        clean(p)
    } else {
        let cwd = std::env::current_dir()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into());
        join(&cwd, p)
    }
}

/// Go's wording of an OS error.
pub fn os_msg(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "is a directory".into(),
        io::ErrorKind::NotADirectory => "not a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// `EnsurePathWithinFilesDir` plus the symlink check.
pub fn ensure_within(path: &str, files_dir: &str) -> Result<(), String> {
    let base = abs(files_dir);
    let p = abs(path);
    if p != base && !p.starts_with(&format!("{}/", base.trim_end_matches('/'))) {
        return Err(ERR_ESCAPE.into());
    }
    // Sandbox: after resolving symlinks the file must still be inside.
    if let (Ok(rb), Ok(rp)) = (
        std::fs::canonicalize(files_dir),
        std::fs::canonicalize(Path::new(path)),
    ) {
        if !rp.starts_with(&rb) {
            return Err(ERR_ESCAPE.into());
        }
    }
    Ok(())
}

/// Reads `rel` from the files directory.
pub fn read(rel: &str, files_dir: Option<&Path>, max: u64) -> Result<Vec<u8>, String> {
    let Some(dir) = files_dir else {
        return Err(ERR_NO_FILES_DIR.into());
    };
    let dir = dir.to_string_lossy();
    let joined = join(&dir, rel);
    ensure_within(&joined, &dir)?;
    let path = PathBuf::from(&joined);
    let meta = std::fs::metadata(&path).map_err(|e| format!("open {joined}: {}", os_msg(&e)))?;
    if meta.is_dir() {
        return Err(format!("read {joined}: is a directory"));
    }
    if meta.len() > max {
        return Err(format!("read {joined}: file too large"));
    }
    std::fs::read(&path).map_err(|e| format!("open {joined}: {}", os_msg(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean() {
        assert_eq!(clean("a/./b/../c/"), "a/c");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("../a"), "../a");
        assert_eq!(
            join("common.files", "ghost.service"),
            "common.files/ghost.service"
        );
        assert_eq!(join("/etc/nginx/", "conf.d/x"), "/etc/nginx/conf.d/x");
    }

    #[test]
    fn escapes_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("files");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(d.path().join("secret"), "s").unwrap();
        std::fs::write(dir.join("ok"), "fine").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.path().join("secret"), dir.join("link")).unwrap();
        assert_eq!(read("ok", Some(&dir), 1 << 20).unwrap(), b"fine");
        assert_eq!(
            read("../secret", Some(&dir), 1 << 20).unwrap_err(),
            ERR_ESCAPE
        );
        #[cfg(unix)]
        assert_eq!(read("link", Some(&dir), 1 << 20).unwrap_err(), ERR_ESCAPE);
        assert_eq!(read("ok", None, 1 << 20).unwrap_err(), ERR_NO_FILES_DIR);
        let e = read("missing", Some(&dir), 1 << 20).unwrap_err();
        assert!(e.ends_with("/missing: no such file or directory"), "{e}");
    }
}
