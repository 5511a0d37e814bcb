//! Replays the directory-root-eligible cases of upstream Ignition's blackbox
//! suite (`shared/conformance/ignition-blackbox.json`, ignition-semantics.md
//! §8.1–8.2): builds each case's `In` layout of the ROOT partition in a
//! temporary directory, assembles the config (parse, merge/replace chains)
//! and applies it, then checks `Out` and `RemovedNodes` as upstream's
//! validator does (contents if non-empty, mode if non-zero, owner, symlink
//! target or hard-link inode). Negative cases pass when assembly or apply
//! fails.
//!
//! Excluded, with the reason counted and printed: cases needing disks,
//! filesystems, LUKS or RAID (`$disk`, `$uuid`, non-ROOT nodes), remote
//! sources (the HTTP/TFTP/S3 servers of upstream's `servers.go` are not
//! reproduced here), base-config directories, environment variables, and
//! kernel arguments. Skips with a printed reason when the corpus is absent.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use reignite_engine::{apply, ApplyOptions, Event, Fetch, Root};
use serde_json::Value;

#[path = "common/servers.rs"]
mod servers;

/// Known, explained failures: (case name without version, reason).
/// reignite matches Debian's shadow-utils 4.13 on these cases' own `In`
/// roots — same success or failure, identical databases — as
/// `accounts_differential.rs` (`blackbox_passwd_cases_match_shadow_utils`)
/// checks against the real tools; upstream's `Out` comes from Fedora's
/// shadow-utils. Distro differences, not reignite bugs.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    (
        "groups.add",
        "Debian's groupadd --system (no login.defs: system gids 101-999) allocates 149, one below \
         the lowest used system gid; upstream's Out (Fedora) expects 201",
    ),
    (
        "groups.delete",
        "Debian's groupdel refuses to remove the primary group of user 'jenkins' (exit 8)",
    ),
    (
        "users.delete",
        "Debian's userdel --remove exits 12 because jenkins' home / is not owned by jenkins, \
         and keeps the jenkins group without USERGROUPS_ENAB",
    ),
];

struct RealFetcher(reignite_fetch::Fetcher);

impl Fetch for RealFetcher {
    fn fetch_into(
        &self,
        r: &reignite_spec::Resource,
        out: &mut dyn Write,
    ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_into(r, out).map_err(Into::into)
    }
}

fn corpus_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/ignition-blackbox.json")
}

fn partitions(disks: &Value) -> impl Iterator<Item = &Value> {
    disks
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["Partitions"].as_array().into_iter().flatten())
}

fn has_nodes(p: &Value) -> bool {
    ["Files", "Directories", "Links", "RemovedNodes"]
        .iter()
        .any(|k| p[*k].as_array().is_some_and(|a| !a.is_empty()))
}

fn nonempty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Every remote URL in a config (http, https, tftp, s3, gs, arn).
fn regex_free_urls(cfg: &str) -> Vec<String> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://", "tftp://", "s3://", "gs://", "arn:"] {
        let mut rest = cfg;
        while let Some(i) = rest.find(scheme) {
            let tail = &rest[i..];
            let end = tail.find('"').unwrap_or(tail.len());
            out.push(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    out
}

/// URLs the stand-ins in `common/servers.rs` answer as upstream's servers do.
fn served_locally(url: &str) -> bool {
    if let Some(path) = url.strip_prefix("http://127.0.0.1:8080/") {
        let name = path.split('?').next().unwrap_or("");
        return name == "asdf" || name.starts_with("contents") || name.starts_with("config");
    }
    url.starts_with("tftp://127.0.0.1:69/")
}

/// Why a case cannot run against a directory root, if it cannot.
fn exclusion(case: &Value) -> Option<&'static str> {
    let cfg = case["Config"].as_str().unwrap_or("");
    if cfg.trim().is_empty() {
        return Some("no config");
    }
    if cfg.contains("$disk") || cfg.contains("$uuid") {
        return Some("needs disks ($disk/$uuid)");
    }
    let local = regex_free_urls(cfg);
    if local.iter().any(|u| !served_locally(u)) {
        return Some("needs upstream's per-test TLS/HTTP servers, fixture keys or S3/GS");
    }
    if !local.is_empty() {
        if let Err(_why) = servers::start() {
            return Some("the local HTTP (:8080) / TFTP (:69) servers could not start");
        }
    }
    if [
        "SystemDirFiles",
        "SystemRuntimeDirFiles",
        "SystemLocalDirFiles",
    ]
    .iter()
    .any(|k| nonempty(&case[*k]))
    {
        return Some("needs base-config directories");
    }
    if nonempty(&case["Env"]) {
        return Some("needs environment variables");
    }
    if nonempty(&case["MntDevices"]) {
        return Some("needs mount devices");
    }
    if let Ok(v) = serde_json::from_str::<Value>(cfg) {
        let s = &v["storage"];
        if ["disks", "filesystems", "luks", "raid"]
            .iter()
            .any(|k| nonempty(&s[*k]))
        {
            return Some("needs disks/filesystems/LUKS/RAID");
        }
        if nonempty(&v["kernelArguments"]) {
            return Some("needs the kargs stage");
        }
    }
    for side in ["In", "Out"] {
        if partitions(&case[side]).any(|p| p["Label"] != "ROOT" && has_nodes(p)) {
            return Some("nodes on non-ROOT partitions");
        }
    }
    None
}

fn root_part(disks: &Value) -> Option<&Value> {
    partitions(disks).find(|p| p["Label"] == "ROOT")
}

/// The node's path under `root`. Upstream's `Directory` may be absolute
/// ("/", "/etc/..."): it is relative to the partition, never to the host.
fn node_path(root: &Path, n: &Value) -> PathBuf {
    let dir = n["Directory"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('/');
    let name = n["Name"].as_str().unwrap_or("").trim_start_matches('/');
    let p = root.join(dir).join(name);
    assert!(p.starts_with(root), "{} escapes the test root", p.display());
    p
}

/// Builds `In` as upstream's `filesystem.go` does (umask 022).
fn build_in(root: &Path, p: &Value) -> Result<(), String> {
    let e = |e: std::io::Error| e.to_string();
    for f in p["Files"].as_array().into_iter().flatten() {
        let path = node_path(root, f);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(e)?;
        std::fs::write(&path, f["Contents"].as_str().unwrap_or("")).map_err(e)?;
        let mode = f["Mode"].as_u64().unwrap_or(0) as u32 & !0o022;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(e)?;
        std::os::unix::fs::chown(
            &path,
            Some(f["User"].as_u64().unwrap_or(0) as u32),
            Some(f["Group"].as_u64().unwrap_or(0) as u32),
        )
        .map_err(e)?;
    }
    for d in p["Directories"].as_array().into_iter().flatten() {
        let path = node_path(root, d);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(e)?;
        std::fs::create_dir(&path).map_err(e)?;
        let mode = d["Mode"].as_u64().unwrap_or(0) as u32 & !0o022;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(e)?;
    }
    for l in p["Links"].as_array().into_iter().flatten() {
        let path = node_path(root, l);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(e)?;
        let target = l["Target"].as_str().unwrap_or("");
        if l["Hard"] == Value::Bool(true) {
            std::fs::hard_link(root.join(target.trim_start_matches('/')), &path).map_err(e)?;
        } else {
            std::os::unix::fs::symlink(target, &path).map_err(e)?;
        }
    }
    Ok(())
}

fn check_node(md: &std::fs::Metadata, n: &Value, what: &str) -> Result<(), String> {
    let (u, g) = (
        n["User"].as_u64().unwrap_or(0),
        n["Group"].as_u64().unwrap_or(0),
    );
    if (md.uid() as u64, md.gid() as u64) != (u, g) {
        return Err(format!(
            "{what}: owner {}:{} != {u}:{g}",
            md.uid(),
            md.gid()
        ));
    }
    Ok(())
}

fn check_mode(md: &std::fs::Metadata, n: &Value, what: &str) -> Result<(), String> {
    let want = n["Mode"].as_u64().unwrap_or(0) as u32;
    if want != 0 && md.mode() & 0o7777 != want & 0o7777 {
        return Err(format!(
            "{what}: mode {:o} != {:o}",
            md.mode() & 0o7777,
            want
        ));
    }
    Ok(())
}

/// Checks `Out` as upstream's `validator.go` does.
fn check_out(root: &Path, p: &Value) -> Result<(), String> {
    for f in p["Files"].as_array().into_iter().flatten() {
        let path = node_path(root, f);
        let what = format!("file {}", path.display());
        let md = std::fs::symlink_metadata(&path).map_err(|e| format!("{what}: {e}"))?;
        let want = f["Contents"].as_str().unwrap_or("");
        if !want.is_empty() {
            let got = std::fs::read(&path).map_err(|e| format!("{what}: {e}"))?;
            if got != want.as_bytes() {
                return Err(format!(
                    "{what}: contents {:?} != {want:?}",
                    String::from_utf8_lossy(&got)
                ));
            }
        }
        check_mode(&md, f, &what)?;
        check_node(&md, f, &what)?;
    }
    for d in p["Directories"].as_array().into_iter().flatten() {
        let path = node_path(root, d);
        let what = format!("directory {}", path.display());
        let md = std::fs::symlink_metadata(&path).map_err(|e| format!("{what}: {e}"))?;
        if !md.is_dir() {
            return Err(format!("{what}: not a directory"));
        }
        check_mode(&md, d, &what)?;
        check_node(&md, d, &what)?;
    }
    for l in p["Links"].as_array().into_iter().flatten() {
        let path = node_path(root, l);
        let what = format!("link {}", path.display());
        let md = std::fs::symlink_metadata(&path).map_err(|e| format!("{what}: {e}"))?;
        let target = l["Target"].as_str().unwrap_or("");
        if l["Hard"] == Value::Bool(true) {
            let tmd = std::fs::symlink_metadata(root.join(target.trim_start_matches('/')))
                .map_err(|e| format!("{what}: target: {e}"))?;
            if tmd.ino() != md.ino() {
                return Err(format!("{what}: not the same inode as {target}"));
            }
        } else {
            let got = std::fs::read_link(&path).map_err(|e| format!("{what}: {e}"))?;
            if got.to_str() != Some(target) {
                return Err(format!("{what}: target {} != {target}", got.display()));
            }
        }
        check_node(&md, l, &what)?;
    }
    for r in p["RemovedNodes"].as_array().into_iter().flatten() {
        let path = node_path(root, r);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(format!("{} should have been removed", path.display()));
        }
    }
    Ok(())
}

/// Runs one case; `Ok` when the case's expectation is met.
fn run_case(case: &Value, negative: bool) -> Result<(), String> {
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = t.path();
    if let Some(p) = root_part(&case["In"]) {
        build_in(root, p).map_err(|e| format!("building In: {e}"))?;
    }
    let cfg = case["Config"].as_str().unwrap_or("");
    let result = (|| -> Result<(), String> {
        let assembled = reignite_fetch::assemble(
            cfg.as_bytes(),
            None,
            None,
            &reignite_fetch::AssembleOptions::default(),
        )
        .map_err(|e| format!("assembling: {e}"))?;
        let fetcher = reignite_fetch::Fetcher::from_config(&assembled.config)
            .map_err(|e| format!("fetcher: {e}"))?;
        let f = RealFetcher(fetcher);
        let r = Root::open(root).map_err(|e| e.to_string())?;
        let mut o = ApplyOptions::new(&f);
        o.boot_id = Some("00000000-0000-0000-0000-000000000000".into());
        apply(&r, &assembled.config, o, &mut |_: &Event| {})
            .map(|_| ())
            .map_err(|e| format!("apply: {e}"))
    })();
    match (negative, result) {
        (true, Err(_)) => Ok(()),
        (true, Ok(())) => Err("negative case succeeded".into()),
        (false, Err(e)) => Err(e),
        (false, Ok(())) => match root_part(&case["Out"]) {
            Some(p) => check_out(root, p),
            None => Ok(()),
        },
    }
}

#[test]
fn upstream_blackbox_corpus_on_directory_roots() {
    let path = corpus_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipping upstream_blackbox_corpus_on_directory_roots: {} is absent",
            path.display()
        );
        return;
    };
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "skipping upstream_blackbox_corpus_on_directory_roots: needs root (cases chown nodes)"
        );
        return;
    }
    let corpus: Value = serde_json::from_str(&text).expect("corpus parses");
    let mut excluded: BTreeMap<&str, usize> = BTreeMap::new();
    // (kind, version) -> (passed, total)
    let mut tally: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut expected_seen = Vec::new();
    for (kind, negative) in [("positive", false), ("negative", true)] {
        for case in corpus[kind].as_array().expect("list") {
            let name = case["Name"].as_str().unwrap_or("?");
            if let Some(reason) = exclusion(case) {
                *excluded.entry(reason).or_default() += 1;
                continue;
            }
            let version = case["ConfigVersion"].as_str().unwrap_or("?").to_string();
            let e = tally.entry((kind.to_string(), version)).or_default();
            e.1 += 1;
            let base = name.rsplit_once(' ').map_or(name, |(b, _)| b);
            match run_case(case, negative) {
                Ok(()) => e.0 += 1,
                Err(why) => {
                    if EXPECTED_FAILURES.iter().any(|(n, _)| *n == base) {
                        expected_seen.push(name.to_string());
                    } else {
                        unexpected.push(format!("{kind} {name}: {why}"));
                    }
                }
            }
        }
    }
    eprintln!("blackbox corpus, directory-root subset:");
    for ((kind, version), (passed, total)) in &tally {
        eprintln!("  {kind:8} {version:20} {passed:4}/{total}");
    }
    let (p, t) = tally.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    eprintln!(
        "  total: {p}/{t} pass; {} expected failures:",
        expected_seen.len()
    );
    for (name, why) in EXPECTED_FAILURES {
        let n = expected_seen
            .iter()
            .filter(|s| s.rsplit_once(' ').map(|x| x.0) == Some(*name))
            .count();
        eprintln!("    {name} ({n} instances): {why}");
    }
    for (reason, n) in &excluded {
        eprintln!("  excluded {n:4}: {reason}");
    }
    for u in &unexpected {
        eprintln!("  FAIL {u}");
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected failures (listed above)",
        unexpected.len()
    );
}
