//! Bad input on the real binary and engine (issue 4, Proof: "an invalid new
//! config never starts a wipe; a missing keep-set file, unreadable root, full
//! disk during apply → clear error, previous generation intact").
//!
//! Each test provisions generation 1 with `reignite apply` (declared files, a
//! keep-set file `/etc/reignite/keep.d/10-data` keeping `/var/lib/data/**`,
//! and data under it), snapshots the tree (every path's kind, mode, owner,
//! contents or link target) and `reignite status --format json`, runs the bad
//! operation, and checks: non-zero exit, stderr naming the cause, the tree
//! equal to the snapshot (apart from reignite state the test names and
//! justifies), generation 1 still active, and that the next good operation
//! works. Privileged: the full-disk cases mount a small tmpfs as the root;
//! every test skips with a printed reason when not run as root.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn reignite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reignite"))
        .args(args)
        .output()
        .expect("running reignite")
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a failure (exit 1, not a usage error or a crash) and returns
/// stderr.
fn fails(out: Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// One node of a tree snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
}

type Tree = BTreeMap<String, Node>;

fn snapshot(root: &Path) -> Tree {
    fn walk(root: &Path, rel: &str, out: &mut Tree) {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let p = root.join(&r);
            let md = std::fs::symlink_metadata(&p).unwrap();
            let ft = md.file_type();
            let kind = if ft.is_dir() {
                Kind::Dir
            } else if ft.is_file() {
                Kind::File(std::fs::read(&p).unwrap())
            } else if ft.is_symlink() {
                Kind::Link(std::fs::read_link(&p).unwrap())
            } else {
                Kind::Other
            };
            out.insert(
                r.clone(),
                Node {
                    kind: kind.clone(),
                    mode: md.mode(),
                    uid: md.uid(),
                    gid: md.gid(),
                },
            );
            if kind == Kind::Dir {
                walk(root, &r, out);
            }
        }
    }
    let mut t = Tree::new();
    walk(root, "", &mut t);
    t
}

/// Paths whose node differs between `a` and `b` (added, removed, changed),
/// except those `allowed` accepts.
fn diff(a: &Tree, b: &Tree, allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for (p, n) in a {
        if allowed(p) {
            continue;
        }
        match b.get(p) {
            None => out.push(format!("removed {p}")),
            Some(m) if m != n => out.push(format!("changed {p}: {n:?} -> {m:?}")),
            _ => {}
        }
    }
    for p in b.keys() {
        if !allowed(p) && !a.contains_key(p) {
            out.push(format!("added {p}"));
        }
    }
    out
}

fn file(path: &str, contents: &str) -> serde_json::Value {
    serde_json::json!({"path": path, "mode": 0o644, "contents": {"source": format!("data:,{contents}")}})
}

const KEEP_FILE: &str = "/etc/reignite/keep.d/10-data";

/// A config with /etc/motd = `name`, the keep-set file (unless `keep` is
/// false) and `extra` file entries.
fn config(dir: &Path, name: &str, keep: bool, extra: Vec<serde_json::Value>) -> String {
    let mut files = vec![file("/etc/motd", name), file("/etc/app.conf", "port%3D80")];
    if keep {
        files.push(file(KEEP_FILE, "%2Fvar%2Flib%2Fdata%2F**%0A"));
    }
    files.extend(extra);
    write_config(
        dir,
        name,
        serde_json::json!({
            "ignition": {"version": "3.4.0"},
            "storage": {"files": files},
        }),
    )
}

fn write_config(dir: &Path, name: &str, v: serde_json::Value) -> String {
    let p = dir.join(format!("{name}.ign"));
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p.display().to_string()
}

/// A file entry whose gzip-compressed data URL (a few KiB) expands to
/// `mib` MiB.
fn big_file(dir: &Path, path: &str, mib: usize) -> serde_json::Value {
    let raw = dir.join("big.raw");
    std::fs::write(&raw, vec![b'x'; mib << 20]).unwrap();
    let out = Command::new("gzip").args(["-9", "-f"]).arg(&raw).output();
    let out = out.expect("running gzip");
    assert!(out.status.success(), "gzip: {}", show(&out));
    let gz = std::fs::read(dir.join("big.raw.gz")).unwrap();
    assert!(gz.len() < 64 << 10, "the config stays small");
    let b64 = Command::new("base64")
        .args(["-w0"])
        .arg(dir.join("big.raw.gz"))
        .output()
        .expect("running base64");
    serde_json::json!({
        "path": path,
        "contents": {
            "compression": "gzip",
            "source": format!("data:;base64,{}", String::from_utf8(b64.stdout).unwrap()),
        },
    })
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct Host {
    dir: tempfile::TempDir,
    root: PathBuf,
    _mount: Option<Mount>,
}

impl Host {
    fn r(&self) -> String {
        self.root.display().to_string()
    }

    fn cfg(&self, name: &str, keep: bool, extra: Vec<serde_json::Value>) -> String {
        config(self.dir.path(), name, keep, extra)
    }

    fn status(&self) -> serde_json::Value {
        let out = ok(reignite(&[
            "status",
            "--root",
            &self.r(),
            "--format",
            "json",
        ]));
        serde_json::from_str(&out).unwrap()
    }

    /// The active generation's number, from `status`.
    fn active(&self) -> u64 {
        let s = self.status();
        let gens = s["generations"].as_array().cloned().unwrap_or_default();
        let active: Vec<_> = gens.iter().filter(|g| g["state"] == "active").collect();
        assert_eq!(active.len(), 1, "{s}");
        active[0]["number"].as_u64().unwrap()
    }

    fn kept_data(&self) -> Tree {
        snapshot(&self.root.join("var/lib/data"))
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| format!("<{e}>"))
    }
}

/// Generation 1 on a fresh root (a tmpfs of `tmpfs_mib` MiB when given),
/// with kept data under /var/lib/data.
fn host(tmpfs_mib: Option<u32>) -> Option<Host> {
    if !is_root() {
        eprintln!("skipped: needs root (mounts a tmpfs, chowns kept data)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mount = tmpfs_mib.map(|mib| {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&root)
            .output()
            .expect("running mount");
        assert!(out.status.success(), "mount: {}", show(&out));
        Mount(root.clone())
    });
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let h = Host {
        dir,
        root,
        _mount: mount,
    };
    let gen1 = h.cfg("gen1", true, vec![]);
    ok(reignite(&[
        "apply",
        "--format",
        "json",
        "--root",
        &h.r(),
        &gen1,
    ]));
    let data = h.root.join("var/lib/data");
    std::fs::create_dir_all(data.join("db")).unwrap();
    std::fs::write(data.join("db/table"), "rows\n").unwrap();
    std::fs::write(data.join("secret"), "s3cr3t").unwrap();
    std::os::unix::fs::symlink("db/table", data.join("current")).unwrap();
    std::os::unix::fs::lchown(data.join("db/table"), Some(4321), Some(4321)).unwrap();
    std::fs::set_permissions(
        data.join("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    assert_eq!(h.active(), 1);
    Some(h)
}

/// What an undone transition leaves: the (empty) trash directory itself —
/// its journal and the moved nodes are gone once the renames are undone.
/// Anything inside it still counts as a difference.
fn trash_of_undone(p: &str) -> bool {
    p == ".reignite-trash"
}

#[test]
fn full_disk_during_switch_restores_generation_1() {
    let Some(h) = host(Some(8)) else { return };
    let before = snapshot(&h.root);
    let status = h.status();
    let data = h.kept_data();

    let gen2 = h.cfg(
        "gen2",
        true,
        vec![big_file(h.dir.path(), "/opt/big.img", 32)],
    );
    let err = fails(reignite(&["switch", "--root", &h.r(), &gen2]));
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("/opt/big.img"), "names the file: {err}");
    assert!(err.contains("previous generation was restored"), "{err}");

    let after = snapshot(&h.root);
    let d = diff(&before, &after, trash_of_undone);
    assert!(d.is_empty(), "tree differs from generation 1: {d:#?}");
    assert_eq!(h.status(), status, "status after the undo");
    assert_eq!(h.active(), 1);
    assert_eq!(h.kept_data(), data);

    let fits = h.cfg(
        "gen2",
        true,
        vec![big_file(h.dir.path(), "/opt/big.img", 1)],
    );
    ok(reignite(&["switch", "--root", &h.r(), &fits]));
    assert_eq!(h.active(), 2);
    assert_eq!(h.read("etc/motd"), "gen2");
    assert_eq!(
        std::fs::metadata(h.root.join("opt/big.img")).unwrap().len(),
        1 << 20
    );
    assert_eq!(h.kept_data(), data);
}

#[test]
fn full_disk_during_boot_of_a_reset_returns_to_generation_1_and_stays_staged() {
    let Some(h) = host(Some(8)) else { return };
    let before = snapshot(&h.root);
    let data = h.kept_data();

    let gen2 = h.cfg(
        "gen2",
        true,
        vec![big_file(h.dir.path(), "/opt/big.img", 32)],
    );
    ok(reignite(&["reset", "--root", &h.r(), &gen2]));
    let staged = snapshot(&h.root);
    // Staging adds exactly reignite's staging and flatcar-reset's markers.
    let staging = |p: &str| {
        p == "selective-os-reset"
            || p == "boot"
            || p.starts_with("boot/")
            || p.starts_with("var/lib/reignite/staged")
    };
    let d = diff(&before, &staged, staging);
    assert!(d.is_empty(), "staging changed more: {d:#?}");
    let status = h.status();

    // docs/boot.md step 7: on failure the previous generation is renamed
    // back and the error reported; the staging stays, so the next boot
    // tries again.
    let err = fails(reignite(&["boot", "--root", &h.r()]));
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("/opt/big.img"), "names the file: {err}");
    assert!(err.contains("previous generation was restored"), "{err}");
    let after = snapshot(&h.root);
    let d = diff(&staged, &after, trash_of_undone);
    assert!(d.is_empty(), "tree differs from generation 1: {d:#?}");
    assert_eq!(h.status(), status, "status after the undo");
    assert_eq!(h.active(), 1);
    assert_eq!(h.kept_data(), data);

    // Still staged: the same failure again, never a mix.
    let err = fails(reignite(&["boot", "--root", &h.r()]));
    assert!(err.contains("No space left on device"), "{err}");
    let d = diff(&staged, &snapshot(&h.root), trash_of_undone);
    assert!(d.is_empty(), "second boot: {d:#?}");

    // `reset -S` ends it: nothing staged, boot is a no-op.
    ok(reignite(&["reset", "--root", &h.r(), "-S"]));
    assert!(!h.root.join("selective-os-reset").exists());
    assert!(!h.root.join("var/lib/reignite/staged").exists());
    let out = reignite(&["boot", "--root", &h.r()]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stderr).contains("nothing to do"),
        "{}",
        show(&out)
    );
    assert_eq!(h.active(), 1);

    // The next good operation: restage a config that fits, boot.
    let fits = h.cfg(
        "gen2",
        true,
        vec![big_file(h.dir.path(), "/opt/big.img", 1)],
    );
    ok(reignite(&["reset", "--root", &h.r(), &fits]));
    let out = ok(reignite(&["boot", "--root", &h.r()]));
    assert!(out.contains("provisioned"), "{out}");
    assert_eq!(h.read("etc/motd"), "gen2");
    assert_ne!(h.active(), 1);
    assert_eq!(h.kept_data(), data);
    assert!(!h.root.join("selective-os-reset").exists());
}

/// Staging that must be refused: nothing at all is written.
fn refused_reset(h: &Host, args: &[&str], expect: &[&str]) {
    let before = snapshot(&h.root);
    let status = h.status();
    let r = h.r();
    let mut all = vec!["reset", "--root", &r];
    all.extend_from_slice(args);
    let err = fails(reignite(&all));
    for e in expect {
        assert!(err.contains(e), "stderr should name {e:?}: {err}");
    }
    let d = diff(&before, &snapshot(&h.root), |_| false);
    assert!(d.is_empty(), "a refused reset wrote: {d:#?}");
    assert!(!h.root.join("selective-os-reset").exists());
    assert!(!h.root.join("boot/flatcar/first_boot").exists());
    assert_eq!(h.status(), status);
    // Nothing staged: boot is a no-op.
    let out = reignite(&["boot", "--root", &h.r()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing to do"),
        "{}",
        show(&out)
    );
    let d = diff(&before, &snapshot(&h.root), |_| false);
    assert!(d.is_empty(), "boot after a refused reset wrote: {d:#?}");
}

#[test]
fn invalid_new_config_never_stages_a_wipe() {
    let Some(h) = host(None) else { return };
    let data = h.kept_data();
    // A relative path: the report names the field.
    let rel = h.cfg("bad-path", true, vec![file("etc/relative", "x")]);
    refused_reset(
        &h,
        &[&rel],
        &["bad-path.ign", "$.storage.files.3.path", "not absolute"],
    );
    // Not JSON at all.
    let junk = h.dir.path().join("junk.ign");
    std::fs::write(&junk, "{\"ignition\": ").unwrap();
    refused_reset(&h, &[&junk.display().to_string()], &["junk.ign"]);
    // An unsupported spec version.
    let v9 = write_config(
        h.dir.path(),
        "v9",
        serde_json::json!({"ignition": {"version": "9.0.0"}}),
    );
    refused_reset(&h, &[&v9], &["v9.ign", "unsupported config version"]);
    // Butane with an invalid value (a relative path) names the YAML field.
    let bu = h.dir.path().join("bad.bu");
    std::fs::write(
        &bu,
        "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: etc/relative-bu\n      contents:\n        inline: x\n",
    )
    .unwrap();
    refused_reset(
        &h,
        &[&bu.display().to_string()],
        &["bad.bu", "$.storage.files.0.path", "line 5"],
    );
    // The same configs through switch change nothing either.
    let before = snapshot(&h.root);
    let err = fails(reignite(&["switch", "--root", &h.r(), &rel]));
    assert!(err.contains("storage.files"), "{err}");
    assert!(diff(&before, &snapshot(&h.root), |_| false).is_empty());
    assert_eq!(h.kept_data(), data);
    // The next good operation works.
    let good = h.cfg("gen2", true, vec![]);
    ok(reignite(&["reset", "--root", &h.r(), &good]));
    ok(reignite(&["boot", "--root", &h.r()]));
    assert_eq!(h.read("etc/motd"), "gen2");
    assert_eq!(h.kept_data(), data);
}

#[test]
fn keep_set_files_that_cannot_be_read_stage_nothing() {
    let Some(h) = host(None) else { return };
    let data = h.kept_data();
    // The new config's keep-set file is not inline: it cannot be known
    // before the wipe.
    let remote = h.cfg(
        "remote-keep",
        false,
        vec![serde_json::json!({
            "path": KEEP_FILE,
            "contents": {"source": "https://example.invalid/keep"},
        })],
    );
    refused_reset(&h, &[&remote], &[KEEP_FILE, "inline"]);
    // A keep-set file with a pattern under /usr.
    let usr = h.cfg(
        "usr-keep",
        false,
        vec![file(
            KEEP_FILE,
            "%2Fvar%2Flib%2Fdata%2F**%0A%2Fusr%2Flib%2F**",
        )],
    );
    refused_reset(&h, &[&usr], &[KEEP_FILE, "/usr"]);
    // The new config no longer declares the keep-set file: generation 1's
    // keep-set (its config's keep.d, as `apply` records no keep.json) must
    // still protect the data.
    let dropped = h.cfg("no-keep", false, vec![]);
    refused_reset(
        &h,
        &[&dropped],
        &["/var/lib/data", "--allow-data-loss", "nothing was staged"],
    );
    // Generation 1's recorded keep-set is unreadable (a directory where
    // the file is expected): refused, naming it.
    let kj = h.root.join("var/lib/reignite/generations/1/keep.json");
    let had_file = kj.exists();
    let saved = std::fs::read(&kj).ok();
    let _ = std::fs::remove_file(&kj);
    std::fs::create_dir(&kj).unwrap();
    let same = h.cfg("gen2", true, vec![]);
    refused_reset(&h, &[&same], &["keep.json"]);
    std::fs::remove_dir(&kj).unwrap();
    if let (true, Some(s)) = (had_file, saved) {
        std::fs::write(&kj, s).unwrap();
    }
    // A keep.d file on the host replaced by a dangling link does not
    // matter: the keep-set comes from the configs, not from the host.
    std::fs::remove_file(h.root.join(KEEP_FILE.trim_start_matches('/'))).unwrap();
    std::os::unix::fs::symlink(
        "/nonexistent",
        h.root.join(KEEP_FILE.trim_start_matches('/')),
    )
    .unwrap();
    ok(reignite(&["reset", "--root", &h.r(), &same]));
    ok(reignite(&["boot", "--root", &h.r()]));
    assert_eq!(
        h.read(KEEP_FILE.trim_start_matches('/')),
        "/var/lib/data/**\n"
    );
    assert_eq!(h.kept_data(), data);
}

#[test]
fn bad_roots_are_named_and_nothing_is_written() {
    if !is_root() {
        eprintln!("skipped: needs root (consistent with the other bad-input tests)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "gen1", true, vec![]);
    let missing = dir.path().join("no-such-root");
    let regular = dir.path().join("regular-file");
    std::fs::write(&regular, "not a root").unwrap();
    let empty = dir.path().join("empty-root");
    std::fs::create_dir(&empty).unwrap();
    for cmd in ["switch", "reset", "boot"] {
        for root in [&missing, &regular] {
            let r = root.display().to_string();
            let mut args = vec![cmd, "--root", &r];
            if cmd != "boot" {
                args.push(&cfg);
            }
            let err = fails(reignite(&args));
            assert!(err.contains(&r), "{cmd} names the root {r}: {err}");
        }
        assert!(!missing.exists(), "{cmd} created the missing root");
        assert_eq!(std::fs::read_to_string(&regular).unwrap(), "not a root");
    }
    // A directory without generation 1: switch has nothing to switch from.
    let r = empty.display().to_string();
    let err = fails(reignite(&["switch", "--root", &r, &cfg]));
    assert!(err.contains(&r), "{err}");
    assert!(err.contains("reignite apply"), "{err}");
    assert!(snapshot(&empty).is_empty(), "{:?}", snapshot(&empty));
    // `reset` stages there on purpose: flatcar-reset's use on a host that
    // Ignition, not reignite, provisioned.
    ok(reignite(&["reset", "--root", &r, &cfg]));
    assert!(empty.join("selective-os-reset").exists());
}

/// Fills the filesystem of `root` with `/filler` until a write fails.
fn fill(root: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(root.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn full_disk_during_reset_staging_leaves_nothing_staged() {
    let Some(h) = host(Some(8)) else { return };
    let data = h.kept_data();
    // An earlier staging of another config: a failed restaging must not
    // leave a mix of the two behind.
    let earlier = h.cfg("earlier", true, vec![]);
    ok(reignite(&["reset", "--root", &h.r(), &earlier]));
    fill(&h.root);
    let before = snapshot(&h.root);
    let status = h.status();
    let gen2 = h.cfg("gen2", true, vec![file("/etc/extra", "x")]);
    let err = fails(reignite(&["reset", "--root", &h.r(), &gen2]));
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("nothing is staged"), "{err}");
    let after = snapshot(&h.root);
    let staging = |p: &str| {
        p == "selective-os-reset"
            || p.starts_with("boot/flatcar")
            || p.starts_with("var/lib/reignite/staged")
    };
    let d = diff(&before, &after, staging);
    assert!(d.is_empty(), "failed staging changed more: {d:#?}");
    assert!(!h.root.join("selective-os-reset").exists());
    assert!(!h.root.join("boot/flatcar/first_boot").exists());
    assert!(!h.root.join("var/lib/reignite/staged").exists());
    assert_eq!(h.status(), status);
    let out = ok(reignite(&["boot", "--root", &h.r()]));
    assert!(out.is_empty(), "{out}");
    assert_eq!(h.active(), 1);
    assert_eq!(h.kept_data(), data);
    // With space again, staging and boot work.
    std::fs::remove_file(h.root.join("filler")).unwrap();
    ok(reignite(&["reset", "--root", &h.r(), &gen2]));
    ok(reignite(&["boot", "--root", &h.r()]));
    assert_eq!(h.read("etc/extra"), "x");
    assert_eq!(h.kept_data(), data);
}
