//! `apply`: the whole first-boot provisioning of a target root from a merged,
//! validated config — users and groups, nodes, units, kernel-argument record,
//! result file — followed by the generation record.
//!
//! Durability and re-runs: before the first write, a journal is opened under
//! `/var/lib/reignite/`; it notes every node, user and group created and, for
//! each file, the sha256 of the contents about to be renamed into place. After
//! the last node, generation 1 (canonical config + manifest) is written
//! beside them and one `syncfs` flushes everything; then `current` is written
//! and synced, renamed into place, the journal is removed and the state
//! directory is synced (two fsyncs after the syncfs). An apply interrupted
//! anywhere can simply be run again: nodes matching the journal are
//! recognised as reignite's own, and a generation without `current` is
//! written again. Running a completed apply again is a no-op.

use std::io::Write;
use std::os::fd::AsFd;

use reignite_spec::Config;
use reignite_sysutil::{Durability, WriteOptions};
use sha2::{Digest, Sha256};

use crate::accounts::read_text;
use crate::context::{ApplyError, Ctx, Event, Fetch, IoContext, Journal, JournalEntry};
use crate::manifest::{KernelArgumentsRecord, Manifest, Origin, RecordKind};
use crate::root::{split_parent, Root};
use crate::{files, passwd, units};

/// reignite's state directory inside the root (always kept).
pub const STATE_DIR: &str = "/var/lib/reignite";
/// The journal of an apply in progress.
pub const JOURNAL: &str = "/var/lib/reignite/apply.journal";
/// The file naming the current generation.
pub const CURRENT: &str = "/var/lib/reignite/current";
/// Where kernel arguments are recorded for the boot integration.
pub const KARGS_PATH: &str = "/etc/reignite/kargs.json";
/// Ignition's result file.
pub const RESULT_PATH: &str = "/etc/.ignition-result.json";

/// The directory of generation `n`, holding `config.json` and `manifest.json`.
pub fn generation_dir(n: u64) -> String {
    format!("{STATE_DIR}/generations/{n}")
}

/// How to apply.
pub struct ApplyOptions<'a> {
    /// Where resource contents come from.
    pub fetcher: &'a dyn Fetch,
    /// Per-file fsync, or one `syncfs` at the end (default).
    pub durability: Durability,
    /// Test hook: fail at the n-th commit point (0-based).
    pub fail_at: Option<usize>,
    /// Boot id for the result file; read from `/proc` when `None`.
    pub boot_id: Option<String>,
    /// Whether a user config (not only base configs) was provided.
    pub user_config_provided: bool,
    /// Seconds since the epoch ("now"); the system clock when `None`.
    pub now: Option<i64>,
}

impl std::fmt::Debug for ApplyOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("durability", &self.durability)
            .field("fail_at", &self.fail_at)
            .field("boot_id", &self.boot_id)
            .field("user_config_provided", &self.user_config_provided)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<'a> ApplyOptions<'a> {
    /// Defaults: deferred durability with one syncfs, no failure injection.
    pub fn new(fetcher: &'a dyn Fetch) -> Self {
        Self {
            fetcher,
            durability: Durability::Deferred,
            fail_at: None,
            boot_id: None,
            user_config_provided: true,
            now: None,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The config was applied and recorded as `generation`.
    Applied {
        /// The generation number (1 for a first apply).
        generation: u64,
        /// What it produced.
        manifest: Box<Manifest>,
    },
    /// The same config was already applied; nothing was changed.
    AlreadyApplied {
        /// The recorded generation.
        generation: u64,
    },
}

/// The canonical form of a config (struct-ordered JSON) and its sha256.
pub fn canonical_config(config: &Config) -> (String, String) {
    let json = serde_json::to_string(config).expect("config serialises");
    let sha = hex::encode(Sha256::digest(json.as_bytes()));
    (json, sha)
}

/// Reads the current generation and its manifest, if any.
pub fn current_generation(root: &Root) -> Result<Option<(u64, Manifest)>, ApplyError> {
    let Some(cur) = read_text(root, CURRENT)? else {
        return Ok(None);
    };
    let n: u64 = cur.trim().parse().map_err(|_| ApplyError::Io {
        context: format!("reading {CURRENT}"),
        source: std::io::Error::other(format!("not a generation number: {cur:?}")),
    })?;
    let path = format!("{}/manifest.json", generation_dir(n));
    let text = read_text(root, &path)?.ok_or_else(|| ApplyError::Io {
        context: format!("reading {path}"),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    })?;
    let m = Manifest::from_json(&text).map_err(|e| ApplyError::Io {
        context: format!("parsing {path}"),
        source: std::io::Error::other(e),
    })?;
    Ok(Some((n, m)))
}

/// Writes one of reignite's state files. With `Durability::Deferred` the
/// caller syncs later; `sync_data` additionally syncs the file's data before
/// it is renamed into place but leaves the directory to the caller.
fn write_state_file(
    root: &Root,
    path: &str,
    text: &str,
    mode: u32,
    durability: Durability,
    sync_data: bool,
) -> Result<(), ApplyError> {
    let (parent, name) = split_parent(path);
    let (dir, _) = root
        .mkdir_all(parent, 0o755)
        .ctx(|| format!("creating {parent}"))?;
    reignite_sysutil::atomic_write_at(
        dir.as_fd(),
        std::ffi::OsStr::new(name),
        &WriteOptions {
            mode,
            owner: root_owner(),
            durability,
        },
        |f| {
            f.write_all(text.as_bytes())?;
            if sync_data {
                f.sync_data()?;
            }
            Ok(())
        },
    )
    .ctx(|| format!("writing {path}"))
}

/// The owner of reignite's state files and the result file: 0:0 when
/// running as root; otherwise the files keep the user's ids (non-root applies
/// to a root the user owns, where no chown is possible or needed).
fn root_owner() -> Option<(u32, u32)> {
    rustix::process::geteuid().is_root().then_some((0, 0))
}

/// Applies `config` (merged and validated) to `root`.
pub fn apply(
    root: &Root,
    config: &Config,
    opts: ApplyOptions<'_>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Outcome, ApplyError> {
    check_root(root)?;
    let (canonical, sha) = canonical_config(config);
    if let Some((generation, m)) = current_generation(root)? {
        if m.config_sha256 == sha {
            on_event(&Event {
                step: "generation",
                subject: generation.to_string(),
                action: "already-applied",
            });
            return Ok(Outcome::AlreadyApplied { generation });
        }
        return Err(ApplyError::AlreadyProvisioned {
            generation,
            config_sha256: m.config_sha256,
        });
    }
    let generation = 1;
    let (manifest, next_point) = provision_inner(
        root,
        config,
        &sha,
        &opts,
        on_event,
        Some((generation, &canonical)),
    )?;
    let mut fail = FailAt {
        fail_at: opts.fail_at,
        next: next_point,
    };
    fail.point()?;
    // The generation's files went out with the syncfs; `current` is synced
    // before it is renamed into place, and the removal of the journal syncs
    // the directory holding both.
    write_state_file(
        root,
        CURRENT,
        &format!("{generation}\n"),
        0o644,
        Durability::Deferred,
        true,
    )?;
    clear_journal(root)?;
    on_event(&Event {
        step: "generation",
        subject: generation.to_string(),
        action: "recorded",
    });
    Ok(Outcome::Applied {
        generation,
        manifest: Box::new(manifest),
    })
}

/// The failure-injection counter continued after the stages.
struct FailAt {
    fail_at: Option<usize>,
    next: usize,
}

impl FailAt {
    fn point(&mut self) -> Result<(), ApplyError> {
        let n = self.next;
        self.next += 1;
        if self.fail_at == Some(n) {
            return Err(ApplyError::Injected(n));
        }
        Ok(())
    }
}

/// Runs every stage on `root` (users and groups, nodes, units, kernel
/// arguments, result file) and one `syncfs`, without any generation
/// bookkeeping: for callers that record generations themselves (reset,
/// switch). The journal (`JOURNAL`) is left in place so that a crash before
/// the caller has recorded its generation can be completed by running
/// `provision` again; call [`clear_journal`] once the generation is recorded.
/// `opts.now`/`boot_id` as for [`apply`]; the root is checked as in `apply`.
pub fn provision(
    root: &Root,
    config: &Config,
    opts: ApplyOptions<'_>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Manifest, ApplyError> {
    check_root(root)?;
    let (_, sha) = canonical_config(config);
    Ok(provision_inner(root, config, &sha, &opts, on_event, None)?.0)
}

/// Removes the journal of a finished apply/provision and syncs its directory.
pub fn clear_journal(root: &Root) -> Result<(), ApplyError> {
    let state_dir = match root.open_dir(STATE_DIR) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("opening {STATE_DIR}")),
    };
    match rustix::fs::unlinkat(&state_dir, "apply.journal", rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e).ctx(|| format!("removing {JOURNAL}")),
    }
    rustix::fs::fsync(&state_dir).ctx(|| format!("syncing {STATE_DIR}"))
}

fn check_root(root: &Root) -> Result<(), ApplyError> {
    root.check_writable().map_err(|e| ApplyError::Root {
        root: root.display().display().to_string(),
        reason: format!("not writable ({e}); nothing was changed"),
    })
}

/// The stages with the journal; returns the manifest and the next commit
/// point number. With `record` = (generation, canonical config), that
/// generation's `config.json` and `manifest.json` are written before the one
/// `syncfs`, which makes them durable with everything else (`current` is
/// left to the caller).
fn provision_inner(
    root: &Root,
    config: &Config,
    sha: &str,
    opts: &ApplyOptions<'_>,
    on_event: &mut dyn FnMut(&Event),
    record: Option<(u64, &str)>,
) -> Result<(Manifest, usize), ApplyError> {
    let root_name = root.display().display().to_string();
    // The state directory is reignite's own and never part of the manifest.
    let (state_dir, _) = root
        .mkdir_all(STATE_DIR, 0o755)
        .ctx(|| format!("creating {STATE_DIR}"))?;
    let mut journal = match read_text(root, JOURNAL)? {
        Some(t) => Journal::parse(&t),
        None => Journal::default(),
    };
    let jfd = rustix::fs::openat(
        &state_dir,
        "apply.journal",
        rustix::fs::OFlags::WRONLY
            | rustix::fs::OFlags::APPEND
            | rustix::fs::OFlags::CREATE
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .ctx(|| format!("opening {JOURNAL}"))?;
    journal.file = Some(std::fs::File::from(jfd));
    journal.sync = opts.durability == Durability::Fsync;
    journal.append(&JournalEntry::Begin {
        config_sha256: sha.to_string(),
    })?;
    let now = opts.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let mut ctx = Ctx {
        root,
        fetcher: opts.fetcher,
        durability: opts.durability,
        manifest: Manifest::new(sha),
        journal,
        fail_at: opts.fail_at,
        commits: 0,
        on_event,
        accounts: None,
        recorded_parents: Default::default(),
        scanned_dirs: Default::default(),
        dir_cache: None,
        prepared: Default::default(),
        now,
    };
    passwd::run(&mut ctx, &config.passwd)?;
    files::run(&mut ctx, config)?;
    units::run(&mut ctx, &config.systemd)?;
    kernel_arguments(&mut ctx, config)?;
    result_file(&mut ctx, opts.boot_id.as_deref(), opts.user_config_provided)?;

    ctx.commit_point()?;
    if let Some((generation, canonical)) = record {
        let gdir = generation_dir(generation);
        let deferred = Durability::Deferred;
        write_state_file(
            root,
            &format!("{gdir}/config.json"),
            canonical,
            0o600,
            deferred,
            false,
        )?;
        let manifest = ctx.manifest.to_json();
        write_state_file(
            root,
            &format!("{gdir}/manifest.json"),
            &manifest,
            0o600,
            deferred,
            false,
        )?;
    }
    reignite_sysutil::sync_filesystem(root.fd()).ctx(|| format!("syncing {root_name}"))?;
    Ok((ctx.manifest, ctx.commits))
}

fn kernel_arguments(ctx: &mut Ctx<'_>, config: &Config) -> Result<(), ApplyError> {
    let k = &config.kernel_arguments;
    ctx.manifest.kernel_arguments = KernelArgumentsRecord {
        should_exist: k.should_exist.clone(),
        should_not_exist: k.should_not_exist.clone(),
    };
    if k.is_empty() {
        return Ok(());
    }
    let text = serde_json::to_string_pretty(&ctx.manifest.kernel_arguments)
        .expect("kargs serialise")
        + "\n";
    units::write_simple(ctx, KARGS_PATH, &text, Origin::KernelArguments)?;
    ctx.event("kernel-arguments", KARGS_PATH, "recorded");
    Ok(())
}

/// RFC 3339 UTC timestamp of `secs` since the epoch.
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn result_file(
    ctx: &mut Ctx<'_>,
    boot_id: Option<&str>,
    user_config_provided: bool,
) -> Result<(), ApplyError> {
    let resolved = ctx.root.resolve(RESULT_PATH)?;
    let previous = read_text(ctx.root, RESULT_PATH)?;
    let ours = ctx.created_before(&resolved);
    let boot_id = match boot_id {
        Some(b) => b.to_string(),
        None => std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ctx(|| "reading /proc/sys/kernel/random/boot_id".to_string())?
            .trim()
            .to_string(),
    };
    let mut obj = serde_json::Map::new();
    obj.insert("provisioningBootID".into(), boot_id.into());
    obj.insert("provisioningDate".into(), rfc3339(ctx.now).into());
    obj.insert("userConfigProvided".into(), user_config_provided.into());
    if let (Some(prev), false) = (&previous, ours) {
        tracing::warn!("Ignition has already run on this system ({RESULT_PATH} exists)");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(prev) {
            obj.insert("previousReport".into(), v);
        }
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(obj)).expect("json") + "\n";
    if previous.is_none() {
        ctx.note_created(&resolved)?;
    }
    let created = previous.is_none() || ours;
    let opts = WriteOptions {
        mode: 0o600,
        owner: root_owner(),
        durability: ctx.durability,
    };
    let content = ctx.write_file(&resolved, opts, &mut |w| {
        w.write_all(text.as_bytes())
            .ctx(|| format!("writing {RESULT_PATH}"))
    })?;
    ctx.record(
        &resolved,
        Some(RESULT_PATH),
        RecordKind::File,
        Origin::Result,
        created,
        Some(content),
    )?;
    ctx.event("result", RESULT_PATH, "written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_636_555), "2026-11-25T19:55:55Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
