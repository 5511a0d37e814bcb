//! What every stage shares during one apply: the root, the fetcher, the
//! manifest being built, the journal of an interrupted earlier attempt, the
//! event sink and the failure-injection counter; plus the typed error.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

use reignite_spec::Resource;
use reignite_sysutil::{Durability, WriteOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::AccountDb;
use crate::dircache::DirCache;
use crate::manifest::{Manifest, NodeRecord, Origin, RecordKind};
use crate::root::{split_parent, ResolveError, Root};

/// Where resource contents come from. The CLI adapts `reignite_fetch::Fetcher`;
/// tests use in-memory fetchers. Implementations decompress and verify
/// (`verification.hash` over the decompressed bytes) while streaming into
/// `out`, and return the number of bytes written.
pub trait Fetch {
    /// Streams the (decompressed, verified) contents of `resource` into `out`.
    fn fetch_into(
        &self,
        resource: &Resource,
        out: &mut dyn Write,
    ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>>;
}

/// An apply failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The root cannot be used (not a directory, read-only, ...). Raised
    /// before anything is written.
    #[error("target root {root}: {reason}")]
    Root {
        /// The root as given.
        root: String,
        /// What is wrong.
        reason: String,
    },
    /// The root already holds a generation of a different config.
    #[error("target root is already provisioned (generation {generation}, config sha256 {config_sha256}); use `reignite switch` to move to another config")]
    AlreadyProvisioned {
        /// The recorded generation.
        generation: u64,
        /// Its config hash.
        config_sha256: String,
    },
    /// A node conflicts with Ignition's rules; the message is Ignition's.
    #[error("{0}")]
    Conflict(String),
    /// Fetching a resource for a node failed.
    #[error("failed to create file {path:?}: fetching {source_url}: {error}")]
    Fetch {
        /// The node.
        path: String,
        /// The resource URL (data URLs abbreviated).
        source_url: String,
        /// The fetcher's error.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A user or group name is unknown in the target root.
    #[error("failed to determine correct uid and gid for {path}: no such {what} {name:?} in the target root")]
    UnknownAccount {
        /// The node.
        path: String,
        /// "user" or "group".
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Resolving a path inside the root failed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The users/groups step failed.
    #[error("{0}")]
    Accounts(String),
    /// An I/O error, with the operation and path.
    #[error("{context}: {source}")]
    Io {
        /// The operation, naming the path.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A failure injected by [`crate::ApplyOptions::fail_at`] (tests).
    #[error("injected failure at commit point {0}")]
    Injected(usize),
}

/// Adds context to io results.
pub(crate) trait IoContext<T> {
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T, ApplyError>;
}

impl<T, E: Into<io::Error>> IoContext<T> for Result<T, E> {
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T, ApplyError> {
        self.map_err(|e| ApplyError::Io {
            context: f(),
            source: e.into(),
        })
    }
}

/// One progress event (`--format json` prints them as JSON Lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The step: `files`, `units`, `presets`, `users`, `groups`, `ssh-keys`,
    /// `kernel-arguments`, `result`, `generation`.
    pub step: &'static str,
    /// What the step acted on (path, unit, user, ...).
    pub subject: String,
    /// What happened: `created`, `replaced`, `appended`, `unchanged`,
    /// `permissions`, `removed`, `masked`, `written`, `recorded`, ...
    pub action: &'static str,
}

/// One line of the journal of an apply in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub(crate) enum JournalEntry {
    /// The apply is for this config.
    Begin { config_sha256: String },
    /// A node, user, group or home (`user:NAME`, `group:NAME`) was created.
    Created { what: String },
    /// A file is about to be renamed into place with these contents.
    Intent { path: String, sha256: String },
    /// Data is about to be appended in place to the existing file `path`,
    /// which has `size` bytes hashing to `prefix_sha256` now and will have
    /// `len` bytes hashing to `sha256` afterwards (see `crate::append`).
    Append {
        path: String,
        size: u64,
        prefix_sha256: String,
        len: u64,
        sha256: String,
    },
}

/// An in-place append announced by an earlier, interrupted attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppendIntent {
    /// Size before the append.
    pub size: u64,
    /// sha256 of the first `size` bytes.
    pub prefix_sha256: String,
    /// Size after the append.
    pub len: u64,
    /// sha256 of the whole file after the append.
    pub sha256: String,
}

/// Journal state: what an interrupted earlier attempt did, and the open
/// journal of this attempt.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub created: std::collections::HashSet<String>,
    pub intents: HashMap<String, String>,
    /// In-place appends, by resolved path (the last announcement wins).
    pub appends: HashMap<String, AppendIntent>,
    pub file: Option<File>,
    /// fdatasync after every line (with per-file durability), so an intent
    /// is on disk before the rename it announces.
    pub sync: bool,
    /// Lines noted with [`Journal::defer`], written together with the next
    /// appended line.
    pub pending: Vec<u8>,
}

impl Journal {
    /// True when an earlier, interrupted attempt left entries.
    pub fn resumed(&self) -> bool {
        !self.created.is_empty() || !self.intents.is_empty() || !self.appends.is_empty()
    }

    pub fn parse(text: &str) -> Self {
        let mut j = Self::default();
        for line in text.lines() {
            // A torn last line from a crash is ignored.
            match serde_json::from_str::<JournalEntry>(line) {
                Ok(JournalEntry::Created { what }) => {
                    j.created.insert(what);
                }
                Ok(JournalEntry::Intent { path, sha256 }) => {
                    j.intents.insert(path, sha256);
                }
                Ok(JournalEntry::Append {
                    path,
                    size,
                    prefix_sha256,
                    len,
                    sha256,
                }) => {
                    j.appends.insert(
                        path,
                        AppendIntent {
                            size,
                            prefix_sha256,
                            len,
                            sha256,
                        },
                    );
                }
                Ok(JournalEntry::Begin { .. }) | Err(_) => {}
            }
        }
        j
    }

    /// Notes `e` to be written with the next [`Journal::append`], in the same
    /// write. Only for an entry whose node cannot appear before that append
    /// (a file created by [`Ctx::write_file`], whose intent line precedes
    /// the rename); if that append never happens, neither did the node.
    pub fn defer(&mut self, e: &JournalEntry) {
        if self.file.is_some() {
            serde_json::to_writer(&mut self.pending, e).expect("journal entry serialises");
            self.pending.push(b'\n');
        }
    }

    /// Appends to the journal file. `created`/`intents` keep describing the
    /// *earlier* attempt only.
    pub fn append(&mut self, e: &JournalEntry) -> Result<(), ApplyError> {
        if let Some(f) = &mut self.file {
            let mut line = std::mem::take(&mut self.pending);
            serde_json::to_writer(&mut line, e).expect("journal entry serialises");
            line.push(b'\n');
            f.write_all(&line)
                .ctx(|| "appending to the apply journal".to_string())?;
            if self.sync {
                f.sync_data()
                    .ctx(|| "syncing the apply journal".to_string())?;
            }
        }
        Ok(())
    }

    /// Appends several entries in one write (nothing when `es` is empty).
    pub fn append_all(&mut self, es: &[JournalEntry]) -> Result<(), ApplyError> {
        let Some((last, rest)) = es.split_last() else {
            return Ok(());
        };
        for e in rest {
            self.defer(e);
        }
        self.append(last)
    }

    /// [`Journal::append`], then `fdatasync` whatever the durability mode:
    /// for an entry that must be on disk before a change that cannot be
    /// recognised otherwise (an in-place append).
    pub fn append_synced(&mut self, e: &JournalEntry) -> Result<(), ApplyError> {
        self.append(e)?;
        if let (Some(f), false) = (&self.file, self.sync) {
            f.sync_data()
                .ctx(|| "syncing the apply journal".to_string())?;
        }
        Ok(())
    }
}

/// A writer that hashes and counts what passes through.
pub(crate) struct HashingWriter<W> {
    pub inner: W,
    pub hasher: Sha256,
    pub len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// sha256 of a readable file (hex).
pub(crate) fn sha256_of(mut r: impl io::Read) -> io::Result<(String, u64)> {
    let mut w = HashingWriter::new(io::sink());
    io::copy(&mut r, &mut w)?;
    let (_, h, n) = w.finish();
    Ok((h, n))
}

/// A short description of a resource source for messages: data URLs are
/// abbreviated so secrets and megabytes do not end up in logs.
pub(crate) fn describe_source(r: &Resource) -> String {
    match r.source.as_deref() {
        None => "(no source)".into(),
        Some(s) if s.starts_with("data:") => {
            let head: String = s.chars().take(32).collect();
            if s.len() > 32 {
                format!("{head}…")
            } else {
                head
            }
        }
        Some(s) => s.to_string(),
    }
}

/// The shared state of one apply.
pub(crate) struct Ctx<'a> {
    pub root: &'a Root,
    pub fetcher: &'a dyn Fetch,
    pub durability: Durability,
    pub manifest: Manifest,
    pub journal: Journal,
    pub fail_at: Option<usize>,
    pub commits: usize,
    pub on_event: &'a mut dyn FnMut(&Event),
    pub accounts: Option<AccountDb>,
    /// Parent directories already recorded in this run's manifest.
    pub recorded_parents: std::collections::HashSet<String>,
    /// Directories already scanned for stale temporary files.
    pub scanned_dirs: std::collections::HashSet<String>,
    /// Seconds since the epoch, for shadow's last-change field and the result file.
    pub now: i64,
    /// Parent directories opened for nodes, by resolved path, reused by the
    /// later nodes in the same directories. `Some` only while the files stage
    /// runs; emptied before anything is removed, so it never names a
    /// directory this apply replaced. See `crate::dircache` for why a cached
    /// descriptor stays inside the root.
    pub dir_cache: Option<DirCache>,
    /// Files announced in the journal ahead of their creation, by resolved
    /// path (`crate::ahead`).
    pub prepared: HashMap<String, crate::ahead::Prepared>,
}

impl Ctx<'_> {
    /// Marks a point where an interruption could leave partial state; the
    /// failure-injection hook fires here.
    pub fn commit_point(&mut self) -> Result<(), ApplyError> {
        let n = self.commits;
        self.commits += 1;
        if self.fail_at == Some(n) {
            return Err(ApplyError::Injected(n));
        }
        Ok(())
    }

    pub fn event(&mut self, step: &'static str, subject: impl Into<String>, action: &'static str) {
        let e = Event {
            step,
            subject: subject.into(),
            action,
        };
        tracing::info!(step = e.step, subject = %e.subject, action = e.action);
        (self.on_event)(&e);
    }

    pub fn accounts(&mut self) -> Result<&AccountDb, ApplyError> {
        if self.accounts.is_none() {
            self.accounts = Some(AccountDb::load(self.root)?);
        }
        Ok(self.accounts.as_ref().expect("just loaded"))
    }

    /// Was `what` created by an earlier, interrupted attempt of this apply?
    pub fn created_before(&self, what: &str) -> bool {
        self.journal.created.contains(what)
    }

    pub fn note_created(&mut self, what: &str) -> Result<(), ApplyError> {
        self.journal.append(&JournalEntry::Created {
            what: what.to_string(),
        })
    }

    /// [`Ctx::note_created`] for a file about to be written by
    /// [`Ctx::write_file`]: the line goes out in the same write as the
    /// file's intent line, still before the file appears.
    pub fn note_created_for_write(&mut self, what: &str) {
        self.journal.defer(&JournalEntry::Created {
            what: what.to_string(),
        });
    }

    /// Starts (`true`) or ends (`false`) reusing parent directory
    /// descriptors; see [`Ctx::dir_cache`].
    pub fn cache_dirs(&mut self, on: bool) {
        self.dir_cache = on.then(DirCache::default);
    }

    /// Forgets the cached directories (before anything is removed).
    pub fn forget_dirs(&mut self) {
        if let Some(c) = &mut self.dir_cache {
            c.clear();
        }
    }

    fn cached_dir(&self, dir: &str) -> Option<Rc<OwnedFd>> {
        self.dir_cache.as_ref().and_then(|c| c.get(dir))
    }

    fn remember_dir(&mut self, dir: &str, fd: &Rc<OwnedFd>) {
        if let Some(c) = &mut self.dir_cache {
            c.insert(dir, fd);
        }
    }

    /// The descriptor of `path`'s parent directory (resolved), created with
    /// its missing parents as [`Ctx::ensure_parent`] does; from the cache when
    /// it was opened before and nothing needs noting for a resumed apply.
    pub fn parent_dir(&mut self, path: &str) -> Result<Rc<OwnedFd>, ApplyError> {
        let parent = split_parent(path).0;
        match self.cached_dir(parent) {
            // Exists; nothing to create or to note for a resumed apply.
            Some(d) if self.journal.created.is_empty() => Ok(d),
            _ => {
                let d = Rc::new(self.ensure_parent(path)?);
                self.remember_dir(parent, &d);
                Ok(d)
            }
        }
    }

    /// [`Root::lstat`], through the cached parent directory.
    pub fn lstat(&mut self, path: &str) -> io::Result<Option<rustix::fs::Stat>> {
        Ok(self.root_lstat_parent_missing(path)?.0)
    }

    /// [`Ctx::lstat`], also telling whether `path`'s parent is missing.
    pub fn root_lstat_parent_missing(
        &mut self,
        path: &str,
    ) -> io::Result<(Option<rustix::fs::Stat>, bool)> {
        if self.dir_cache.is_none() || path == "/" {
            return Ok((self.root.lstat(path)?, false));
        }
        let (parent, name) = split_parent(path);
        let dir = match self.cached_dir(parent) {
            Some(d) => d,
            None => match self.root.open_dir(parent) {
                Ok(d) => {
                    let d = Rc::new(d);
                    self.remember_dir(parent, &d);
                    d
                }
                Err(e)
                    if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error())
                        || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
                {
                    return Ok((None, true))
                }
                Err(e) => return Err(e),
            },
        };
        Ok((crate::root::lstat_at(dir.as_fd(), name)?, false))
    }

    /// Creates the parent directories of `path` (resolved) as needed, records
    /// them, and returns the parent's descriptor.
    pub fn ensure_parent(&mut self, path: &str) -> Result<OwnedFd, ApplyError> {
        let (parent, _) = split_parent(path);
        self.ensure_dir(parent)
    }

    /// Creates directory `dir` (resolved) and missing parents (0755, 0:0).
    pub fn ensure_dir(&mut self, dir: &str) -> Result<OwnedFd, ApplyError> {
        let (fd, created) = self
            .root
            .mkdir_all(dir, 0o755)
            .ctx(|| format!("creating directory {dir}"))?;
        if !self.journal.created.is_empty() {
            // Directories an interrupted earlier attempt created on the way.
            self.note_parents(dir, true)?;
        }
        for c in created {
            self.note_created(&c)?;
            self.recorded_parents.insert(c.clone());
            self.record(&c, None, RecordKind::Directory, Origin::Parent, true, None)?;
        }
        Ok(fd)
    }

    /// Removes temporary files an interrupted earlier attempt (killed while
    /// writing) left in `dir`; each directory is scanned once per run.
    fn remove_stale_temps(&mut self, dir: &str, fd: &OwnedFd) -> Result<(), ApplyError> {
        if !self.scanned_dirs.insert(dir.to_string()) {
            return Ok(());
        }
        let it = rustix::fs::Dir::read_from(fd).ctx(|| format!("reading {dir}"))?;
        let mut stale = Vec::new();
        for e in it {
            let e = e.ctx(|| format!("reading {dir}"))?;
            let name = e.file_name().to_bytes();
            if name.starts_with(reignite_sysutil::TEMP_PREFIX.as_bytes()) {
                stale.push(e.file_name().to_owned());
            }
        }
        for n in stale {
            tracing::info!(
                "removing {dir}/{} left by an interrupted apply",
                n.to_string_lossy()
            );
            match rustix::fs::unlinkat(fd, n.as_c_str(), rustix::fs::AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(e).ctx(|| format!("removing a temporary file in {dir}")),
            }
        }
        Ok(())
    }

    /// Records, once, the ancestors of `path` (and `path` itself with
    /// `inclusive`) that an interrupted earlier attempt of this apply created,
    /// so the manifest of a completed re-run lists them as a clean run would.
    pub fn note_parents(&mut self, path: &str, inclusive: bool) -> Result<(), ApplyError> {
        let mut prefixes = Vec::new();
        let mut p = String::new();
        for c in path.split('/').filter(|c| !c.is_empty()) {
            p.push('/');
            p.push_str(c);
            prefixes.push(p.clone());
        }
        if !inclusive {
            prefixes.pop();
        }
        for p in prefixes {
            if self.journal.created.contains(&p) && !self.recorded_parents.contains(&p) {
                if self.root.lstat(&p).ok().flatten().is_none() {
                    continue;
                }
                self.recorded_parents.insert(p.clone());
                self.record(&p, None, RecordKind::Directory, Origin::Parent, true, None)?;
            }
        }
        Ok(())
    }

    /// Writes a whole file atomically with `fill`, records the intent in the
    /// journal before the rename, and returns (sha256, size).
    pub fn write_file(
        &mut self,
        path: &str,
        opts: WriteOptions,
        fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), ApplyError>,
    ) -> Result<(String, u64), ApplyError> {
        self.write_file_with(path, opts, false, None, fill)
    }

    /// [`Ctx::write_file`] for a path found absent: the file is linked in
    /// from an unnamed temporary file (`O_TMPFILE`) where possible.
    pub fn write_new_file(
        &mut self,
        path: &str,
        opts: WriteOptions,
        fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), ApplyError>,
    ) -> Result<(String, u64), ApplyError> {
        self.write_file_with(path, opts, true, None, fill)
    }

    /// [`Ctx::write_new_file`] for a file announced ahead
    /// (`crate::ahead`): its contents are known and already journaled.
    pub fn write_prepared_file(
        &mut self,
        path: &str,
        opts: WriteOptions,
        prepared: &crate::ahead::Prepared,
    ) -> Result<(String, u64), ApplyError> {
        let data = &prepared.data;
        self.write_file_with(path, opts, true, Some(&prepared.sha256), &mut |w| {
            w.write_all(data).ctx(|| format!("writing {path}"))
        })
    }

    fn write_file_with(
        &mut self,
        path: &str,
        opts: WriteOptions,
        new: bool,
        journaled: Option<&str>,
        fill: &mut dyn FnMut(&mut dyn Write) -> Result<(), ApplyError>,
    ) -> Result<(String, u64), ApplyError> {
        let dir = self.parent_dir(path)?;
        if self.journal.resumed() {
            self.remove_stale_temps(split_parent(path).0, &dir)?;
        }
        self.commit_point()?;
        let (_, name) = split_parent(path);
        let mut failure: Option<ApplyError> = None;
        let mut result = None;
        let journal = &mut self.journal;
        let write = if new {
            reignite_sysutil::atomic_create_at
        } else {
            reignite_sysutil::atomic_write_at
        };
        let r = write(
            dir.as_fd(),
            std::ffi::OsStr::new(name),
            &opts,
            |file: &mut std::fs::File| {
                let mut w = HashingWriter::new(io::BufWriter::with_capacity(1 << 16, &mut *file));
                if let Err(e) = fill(&mut w) {
                    failure = Some(e);
                    return Err(io::Error::other("aborted"));
                }
                let (buf, sha, len) = w.finish();
                buf.into_inner().map_err(|e| e.into_error())?;
                if let Some(announced) = journaled {
                    if announced != sha {
                        return Err(io::Error::other(format!(
                            "contents changed since they were announced (sha256 {sha}, announced {announced})"
                        )));
                    }
                } else if let Err(e) = journal.append(&JournalEntry::Intent {
                    path: path.to_string(),
                    sha256: sha.clone(),
                }) {
                    failure = Some(e);
                    return Err(io::Error::other("aborted"));
                }
                result = Some((sha, len));
                Ok(())
            },
        );
        if let Some(e) = failure {
            return Err(e);
        }
        r.ctx(|| format!("writing {path}"))?;
        Ok(result.expect("set on success"))
    }

    /// Appends a manifest record for `path` (resolved), reading mode and
    /// owner from the node as it is now.
    pub fn record(
        &mut self,
        path: &str,
        config_path: Option<&str>,
        kind: RecordKind,
        origin: Origin,
        created: bool,
        content: Option<(String, u64)>,
    ) -> Result<(), ApplyError> {
        let st = self
            .lstat(path)
            .ctx(|| format!("inspecting {path}"))?
            .ok_or_else(|| ApplyError::Io {
                context: format!("inspecting {path}"),
                source: io::Error::from(io::ErrorKind::NotFound),
            })?;
        let target = match kind {
            RecordKind::Symlink => {
                let (parent, name) = split_parent(path);
                let dir = self
                    .root
                    .open_dir(parent)
                    .ctx(|| format!("opening {parent}"))?;
                Some(
                    rustix::fs::readlinkat(&dir, name, Vec::new())
                        .ctx(|| format!("reading link {path}"))?
                        .to_string_lossy()
                        .into_owned(),
                )
            }
            _ => None,
        };
        let (sha256, size) = match content {
            Some((h, n)) => (Some(h), Some(n)),
            None => (None, None),
        };
        self.manifest.nodes.push(NodeRecord {
            path: path.to_string(),
            config_path: config_path.filter(|c| *c != path).map(str::to_string),
            kind,
            origin,
            created,
            sha256,
            size,
            target,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_parses_and_ignores_torn_lines() {
        let text = concat!(
            "{\"op\":\"begin\",\"config-sha256\":\"ab\"}\n",
            "{\"op\":\"created\",\"what\":\"/a\"}\n",
            "{\"op\":\"intent\",\"path\":\"/a/f\",\"sha256\":\"00\"}\n",
            "{\"op\":\"append\",\"path\":\"/a/g\",\"size\":3,\"prefix_sha256\":\"11\",\"len\":5,\"sha256\":\"22\"}\n",
            "{\"op\":\"crea"
        );
        let j = Journal::parse(text);
        assert_eq!(
            j.appends["/a/g"],
            AppendIntent {
                size: 3,
                prefix_sha256: "11".into(),
                len: 5,
                sha256: "22".into()
            }
        );
        assert!(j.created.contains("/a"));
        assert_eq!(j.intents["/a/f"], "00");
        assert_eq!(j.created.len(), 1);
    }

    #[test]
    fn hashing_writer_hashes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (v, h, n) = w.finish();
        assert_eq!(v, b"abc");
        assert_eq!(n, 3);
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn data_urls_are_abbreviated() {
        let r = Resource {
            source: Some(format!("data:,{}", "x".repeat(100))),
            ..Default::default()
        };
        assert!(describe_source(&r).chars().count() <= 33);
    }
}
