//! Equivalence of `reignite reset` + `boot` (with the real engine, through
//! the command line) with a fresh provisioning of the factory state.
//!
//! A [`Scenario`] is a sequence of configs with drift between them. The host
//! starts as a copy of the image and gets the first config with `reignite
//! apply`; then for each next config: drift is made, the tree is captured
//! (*before*), `reignite reset --allow-data-loss`, `reignite boot` and
//! `reignite confirm` run, and the tree (*after*) must equal
//!
//! * a copy of the image provisioned with `reignite apply` of that config,
//!   plus the nodes of *before* that the config's keep-set keeps and their
//!   parent directories; and, for configs ≤ 3.3,
//! * the same with Debian's Ignition 2.14 provisioning the copy instead.
//!
//! Which paths a pattern keeps is written out by hand here ([`KEEP`]), not
//! computed by reignite's keep-set code. The image is the tests' base tree
//! (see [`crate::case::populate_base`]) whose every top-level directory but
//! `/usr` is also its factory tree (`/usr/share/factory`), so the "factory
//! state" a reset returns to is exactly the image.
//!
//! Not compared (listed in [`NOT_COMPARED`]): reignite's generation record,
//! the empty trash directory left by `confirm`, and the next-boot marker under
//! `/boot`. The comparison itself is [`crate::compare::compare_trees`], with
//! its global exceptions, each counted in the [`Coverage`].

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compare::{compare_trees, Comparison};
use crate::harness::Harness;
use crate::tree::Tree;

/// Files a config may declare: path; contents vary by a variant number.
pub const FILES: &[&str] = &[
    "/etc/hostname",
    "/etc/app.conf",
    "/etc/app/extra.conf",
    "/opt/tool/bin/run",
    "/etc/motd",
    "/var/www/index.html",
];
/// File modes a declared file may get.
pub const MODES: &[u32] = &[0o644, 0o600, 0o755];
/// Directories a config may declare, with their mode.
pub const DIRS: &[(&str, u32)] = &[("/opt/tool", 0o755), ("/var/lib/app", 0o750)];
/// Symlinks a config may declare, with their target.
pub const LINKS: &[(&str, &str)] = &[("/etc/alias", "app.conf"), ("/opt/latest", "/opt/tool/bin")];
/// Users a config may declare (root only: owners and account files).
pub const USERS: &[&str] = &[
    r#"{"name": "alice", "uid": 1001, "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice"]}"#,
    r#"{"name": "bob"}"#,
];
/// The unit a config may declare (enabled).
pub const UNIT: &str = "[Unit]\nDescription=app\n[Service]\nExecStart=/usr/bin/true\n[Install]\nWantedBy=multi-user.target\n";

/// A keep pattern and, written independently of reignite, which absolute
/// paths it keeps (their parents are kept too, with their metadata).
pub type KeepRule = (&'static str, fn(&str) -> bool);

/// Keep patterns a config may write to `/etc/reignite/keep.d/50-test`.
pub const KEEP: &[KeepRule] = &[
    ("/var/lib/data/**", |p| p.starts_with("/var/lib/data/")),
    ("regex:/etc/ssh/ssh_host_.*", |p| {
        p.starts_with("/etc/ssh/ssh_host_")
    }),
    // A glob naming a directory keeps its whole subtree.
    ("/home/*/notes", |p| {
        let c: Vec<&str> = p.split('/').collect();
        c.len() >= 4 && c[1] == "home" && !c[2].is_empty() && c[3] == "notes"
    }),
    ("/srv/**", |p| p.starts_with("/srv/")),
    // flatcar-reset's regex meaning: the directory itself, not its contents.
    ("regex:/var/cache$", |p| p == "/var/cache"),
];

/// Drift: extra nodes made on the host between two configs.
pub const EXTRA: &[(&str, Extra)] = &[
    ("/etc/stray.conf", Extra::File(0o644)),
    ("/opt/other/f", Extra::File(0o644)),
    ("/var/cache/c", Extra::File(0o644)),
    ("/root/.bash_history", Extra::File(0o600)),
    ("/home/core/notes/todo", Extra::File(0o644)),
    ("/srv/www/index", Extra::File(0o644)),
    ("/var/lib/data/db", Extra::File(0o640)),
    ("/var/lib/data/sub/x", Extra::File(0o644)),
    ("/etc/ssh/ssh_host_rsa_key", Extra::File(0o600)),
    ("/etc/ssh/sshd_config", Extra::File(0o644)),
    ("/etc/stray-link", Extra::Link("/etc/passwd")),
    ("/var/empty-dir", Extra::Dir),
    ("/home/core/.profile", Extra::File(0o644)),
    ("/var/lib/data/owned", Extra::Owned(1234)),
];

/// Paths left out of every comparison, with the reason.
pub const NOT_COMPARED: &[(&str, &str)] = &[
    (
        "/var/lib/reignite",
        "reignite's generation record: the reset host has generations 1..n, a fresh apply only 1",
    ),
    (
        "/.reignite-trash",
        "the trash directory itself; it must be empty after `confirm` (checked)",
    ),
    (
        "/boot",
        "`reset` writes flatcar's next-boot marker /boot/flatcar/first_boot (the host's /boot is never reset)",
    ),
];

/// An extra node.
#[derive(Debug, Clone, Copy)]
pub enum Extra {
    /// A regular file with this mode.
    File(u32),
    /// A symlink to this target.
    Link(&'static str),
    /// An empty directory.
    Dir,
    /// A file owned by this uid:gid (root only; a plain file otherwise).
    Owned(u32),
}

/// One config of a scenario.
#[derive(Debug, Clone)]
pub struct Gen {
    /// Spec version, `3.0.0` to `3.4.0`.
    pub version: &'static str,
    /// Declared files: index in [`FILES`], contents variant, index in [`MODES`].
    pub files: Vec<(usize, u8, usize)>,
    /// Bit mask over [`DIRS`].
    pub dirs: u32,
    /// Bit mask over [`LINKS`].
    pub links: u32,
    /// Bit mask over [`USERS`].
    pub users: u32,
    /// Declares the enabled unit.
    pub unit: bool,
    /// Bit mask over [`KEEP`].
    pub keep: u32,
}

/// The drift made before a reset.
#[derive(Debug, Clone, Default)]
pub struct Drift {
    /// Bit mask over [`EXTRA`].
    pub extra: u32,
    /// Per declared file of the current config (two bits each): 1 edit the
    /// contents, 2 remove it, 3 change its mode.
    pub managed: u32,
    /// Add a user `mallory` to the account files behind reignite's back,
    /// with a home directory.
    pub new_user: bool,
}

/// A sequence of configs with the drift before each reset.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The first is applied, each next one reached by a reset.
    pub gens: Vec<Gen>,
    /// `drift[i]` is made before the reset to `gens[i + 1]`.
    pub drift: Vec<Drift>,
}

fn bits(mask: u32, n: usize) -> impl Iterator<Item = usize> {
    (0..n).filter(move |i| mask & (1 << i) != 0)
}

fn data_url(s: &str) -> String {
    let mut out = String::from("data:,");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/._-".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl Gen {
    /// Whether Ignition 2.14 provisions this config (spec ≤ 3.3).
    pub fn ignition_comparable(&self) -> bool {
        self.version <= "3.3.0"
    }

    /// The Ignition config.
    pub fn config(&self) -> String {
        let mut files: Vec<serde_json::Value> = self
            .files
            .iter()
            .map(|&(i, v, m)| {
                serde_json::json!({"path": FILES[i], "mode": MODES[m], "overwrite": true,
                    "contents": {"source": data_url(&format!("{} v{v}\n", FILES[i]))}})
            })
            .collect();
        let keep: Vec<&str> = bits(self.keep, KEEP.len()).map(|i| KEEP[i].0).collect();
        if !keep.is_empty() {
            files.push(
                serde_json::json!({"path": "/etc/reignite/keep.d/50-test", "mode": 0o644,
                "contents": {"source": data_url(&(keep.join("\n") + "\n"))}}),
            );
        }
        let dirs: Vec<_> = bits(self.dirs, DIRS.len())
            .map(|i| serde_json::json!({"path": DIRS[i].0, "mode": DIRS[i].1}))
            .collect();
        let links: Vec<_> = bits(self.links, LINKS.len())
            .map(|i| serde_json::json!({"path": LINKS[i].0, "target": LINKS[i].1}))
            .collect();
        let users: Vec<serde_json::Value> = bits(self.users, USERS.len())
            .map(|i| serde_json::from_str(USERS[i]).expect("user JSON"))
            .collect();
        let units: Vec<_> = self
            .unit
            .then(|| serde_json::json!({"name": "app.service", "enabled": true, "contents": UNIT}))
            .into_iter()
            .collect();
        serde_json::json!({"ignition": {"version": self.version},
            "storage": {"files": files, "directories": dirs, "links": links},
            "passwd": {"users": users}, "systemd": {"units": units}})
        .to_string()
    }

    /// Whether `path` is kept by this config's keep-set (parents aside).
    pub fn keeps(&self, path: &str) -> bool {
        bits(self.keep, KEEP.len()).any(|i| (KEEP[i].1)(path))
    }
}

/// What the runs covered, for the printed summary.
#[derive(Debug, Default)]
pub struct Coverage {
    /// Scenarios run.
    pub scenarios: usize,
    /// Resets compared with a fresh `reignite apply`.
    pub resets: usize,
    /// Of which also compared with Ignition 2.14.
    pub ignition_compared: usize,
    /// Nodes compared (after trees, summed).
    pub nodes: usize,
    /// Of which regular files.
    pub files: usize,
    /// Kept nodes (with their parents) carried into the expectations.
    pub kept_nodes: usize,
    /// Drift kinds made, by name.
    pub drift: BTreeMap<String, usize>,
    /// Declared node kinds, by name.
    pub declared: BTreeMap<&'static str, usize>,
    /// Spec versions of the reset-to configs.
    pub versions: BTreeMap<&'static str, usize>,
    /// Global exceptions applied, by id.
    pub excused: BTreeMap<&'static str, usize>,
}

impl Coverage {
    /// The printed summary.
    pub fn summary(&self) -> String {
        format!(
            "covered: {} scenarios, {} resets compared with a fresh `reignite apply` ({} also with Ignition 2.14), \
             {} nodes compared ({} regular files; {} kept nodes or their parents carried over)\n  \
             spec versions: {:?}\n  declared: {:?}\n  drift: {:?}\n  global exceptions applied: {:?}",
            self.scenarios,
            self.resets,
            self.ignition_compared,
            self.nodes,
            self.files,
            self.kept_nodes,
            self.versions,
            self.declared,
            self.drift,
            self.excused
        )
    }
}

/// Builds the image in `root`: the base tree, and everything but `/usr` also
/// as the factory tree.
pub fn build_image(root: &Path) -> std::io::Result<()> {
    crate::case::populate_base(root)?;
    let factory = root.join("usr/share/factory");
    fs::create_dir_all(&factory)?;
    for e in fs::read_dir(root)? {
        let e = e?;
        if e.file_name() != "usr" {
            copy_tree(&e.path(), &factory.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// `cp -a SRC DST` (DST must not exist).
pub fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    let st = Command::new("cp").arg("-a").arg(src).arg(dst).status()?;
    if !st.success() {
        return Err(std::io::Error::other(format!(
            "cp -a {} {} failed",
            src.display(),
            dst.display()
        )));
    }
    Ok(())
}

fn write_extra(root: &Path, path: &str, extra: Extra, step: usize) -> std::io::Result<()> {
    let p = root.join(&path[1..]);
    fs::create_dir_all(p.parent().expect("extra paths have parents"))?;
    match extra {
        Extra::File(mode) => {
            fs::write(&p, format!("drift {step}\n"))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        }
        Extra::Owned(id) => {
            fs::write(&p, format!("owned drift {step}\n"))?;
            if crate::is_root() {
                lchown(&p, Some(id), Some(id))?;
            }
        }
        Extra::Link(target) => {
            let _ = fs::remove_file(&p);
            symlink(target, &p)?;
        }
        Extra::Dir => fs::create_dir_all(&p)?,
    }
    Ok(())
}

fn append(root: &Path, rel: &str, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new().append(true).open(root.join(rel))?;
    f.write_all(line.as_bytes())
}

/// Makes `drift` on `root`, whose current config is `cur`.
pub fn make_drift(
    root: &Path,
    cur: &Gen,
    drift: &Drift,
    step: usize,
    cov: &mut Coverage,
) -> std::io::Result<()> {
    let mut count = |k: String| *cov.drift.entry(k).or_default() += 1;
    for i in bits(drift.extra, EXTRA.len()) {
        let (path, extra) = EXTRA[i];
        write_extra(root, path, extra, step)?;
        count(match extra {
            Extra::File(_) => "extra file".into(),
            Extra::Link(_) => "extra symlink".into(),
            Extra::Dir => "extra directory".into(),
            Extra::Owned(_) => "extra file owned by an unknown uid".into(),
        });
        if KEEP.iter().any(|(_, keeps)| keeps(path)) {
            count("extra node under a keepable path".into());
        }
    }
    for (k, &(i, _, _)) in cur.files.iter().enumerate() {
        let p = root.join(&FILES[i][1..]);
        match (drift.managed >> (2 * k)) & 3 {
            1 => {
                fs::write(&p, "edited behind reignite's back\n")?;
                count("edited managed file".into());
            }
            2 => {
                fs::remove_file(&p)?;
                count("removed managed file".into());
            }
            3 => {
                fs::set_permissions(&p, fs::Permissions::from_mode(0o666))?;
                count("managed file mode changed".into());
            }
            _ => {}
        }
    }
    if drift.new_user {
        append(
            root,
            "etc/passwd",
            "mallory:x:1500:1500::/home/mallory:/bin/sh\n",
        )?;
        append(root, "etc/group", "mallory:x:1500:\n")?;
        append(root, "etc/shadow", "mallory:!:19000:0:99999:7:::\n")?;
        append(root, "etc/gshadow", "mallory:!::\n")?;
        let home = root.join("home/mallory/notes");
        fs::create_dir_all(&home)?;
        fs::write(home.join("plan"), "world domination\n")?;
        count("new user (account files + home)".into());
    }
    Ok(())
}

/// Drops the paths of [`NOT_COMPARED`] from `t`.
fn comparable(mut t: Tree) -> Tree {
    t.nodes.retain(|k, _| {
        !NOT_COMPARED
            .iter()
            .any(|(p, _)| k == p || k.starts_with(&format!("{p}/")))
    });
    t
}

/// `fresh` plus the nodes of `before` kept by `gen`, with their parents.
fn expected(fresh: Tree, before: &Tree, gen: &Gen, cov: &mut Coverage) -> Tree {
    let mut kept = std::collections::BTreeSet::new();
    for path in before.nodes.keys().filter(|p| gen.keeps(p)) {
        kept.insert(path.as_str());
        let mut a = path.as_str();
        while let Some((parent, _)) = a.rsplit_once('/') {
            let parent = if parent.is_empty() { "/" } else { parent };
            kept.insert(parent);
            if parent == "/" {
                break;
            }
            a = parent;
        }
    }
    cov.kept_nodes += kept.len();
    let mut exp = fresh;
    for path in kept {
        exp.nodes
            .insert(path.to_string(), before.nodes[path].clone());
    }
    exp
}

fn render(title: &str, c: &Comparison, cov: &mut Coverage) -> Option<String> {
    for e in &c.excused {
        *cov.excused.entry(e.exception.id).or_default() += 1;
    }
    if c.differences.is_empty() {
        return None;
    }
    let mut s = format!("{title} (in the lines below \"ignition\" is the expected tree, \"reignite\" the tree after the reset):\n");
    for d in &c.differences {
        let _ = writeln!(s, "  {d}");
    }
    Some(s)
}

/// Runs `scenario` under `work` with `h`'s reignite binary; returns the
/// failures (empty when the reset was equivalent every time).
pub fn run_scenario(
    h: &Harness,
    image: &Path,
    work: &Path,
    sc: &Scenario,
    ignition: bool,
    cov: &mut Coverage,
) -> std::io::Result<Vec<String>> {
    cov.scenarios += 1;
    let mut fails = Vec::new();
    fs::create_dir_all(work)?;
    let host = work.join("host");
    copy_tree(image, &host)?;
    let rei = |args: &[&OsStr], tag: &str| h.reignite(work, args, tag);
    let write_config = |n: usize| -> std::io::Result<PathBuf> {
        let p = work.join(format!("gen{n}.ign"));
        fs::write(&p, sc.gens[n].config())?;
        Ok(p)
    };
    let c0 = write_config(0)?;
    let o = rei(
        &[
            "apply".as_ref(),
            "--root".as_ref(),
            host.as_os_str(),
            c0.as_os_str(),
        ],
        "apply-0",
    );
    if !o.success {
        return Ok(vec![format!(
            "apply of config 0 failed: {}\n{}",
            o.reason(),
            o.log
        )]);
    }
    for n in 1..sc.gens.len() {
        let gen = &sc.gens[n];
        make_drift(&host, &sc.gens[n - 1], &sc.drift[n - 1], n, cov)?;
        let before = Tree::capture(&host)?;
        let cfg = write_config(n)?;
        let steps: [(&str, Vec<&OsStr>); 3] = [
            (
                "reset",
                vec![
                    "reset".as_ref(),
                    "--root".as_ref(),
                    host.as_os_str(),
                    "--allow-data-loss".as_ref(),
                    cfg.as_os_str(),
                ],
            ),
            (
                "boot",
                vec!["boot".as_ref(), "--root".as_ref(), host.as_os_str()],
            ),
            (
                "confirm",
                vec!["confirm".as_ref(), "--root".as_ref(), host.as_os_str()],
            ),
        ];
        for (tag, args) in &steps {
            let o = rei(args, &format!("{tag}-{n}"));
            if !o.success {
                fails.push(format!(
                    "reset to config {n}: `{tag}` failed: {}\n{}",
                    o.reason(),
                    o.log
                ));
                return Ok(fails);
            }
        }
        let after = Tree::capture(&host)?;
        let trash: Vec<&String> = after
            .nodes
            .keys()
            .filter(|k| k.starts_with("/.reignite-trash/"))
            .collect();
        if !trash.is_empty() {
            fails.push(format!(
                "config {n}: the trash is not empty after confirm: {trash:?}"
            ));
        }
        let boot: Vec<&String> = after
            .nodes
            .keys()
            .filter(|k| k.starts_with("/boot/") && !before.nodes.contains_key(*k))
            .filter(|k| !["/boot/flatcar", "/boot/flatcar/first_boot"].contains(&k.as_str()))
            .collect();
        if !boot.is_empty() {
            fails.push(format!(
                "config {n}: unexpected new nodes under /boot: {boot:?}"
            ));
        }
        let after = comparable(after);
        cov.resets += 1;
        *cov.versions.entry(gen.version).or_default() += 1;
        cov.nodes += after.nodes.len();
        cov.files += after
            .nodes
            .values()
            .filter(|n| matches!(n.kind, crate::tree::Kind::File(_)))
            .count();
        for (k, on) in [
            ("file", !gen.files.is_empty()),
            ("directory", gen.dirs != 0),
            ("symlink", gen.links != 0),
            ("user", gen.users != 0),
            ("enabled unit", gen.unit),
            ("keep.d", gen.keep != 0),
        ] {
            if on {
                *cov.declared.entry(k).or_default() += 1;
            }
        }
        // Fresh `reignite apply` of the config on the image.
        let fresh = work.join(format!("fresh{n}"));
        copy_tree(image, &fresh)?;
        let o = rei(
            &[
                "apply".as_ref(),
                "--root".as_ref(),
                fresh.as_os_str(),
                cfg.as_os_str(),
            ],
            &format!("fresh-apply-{n}"),
        );
        if !o.success {
            fails.push(format!("fresh apply of config {n} failed: {}", o.reason()));
            return Ok(fails);
        }
        let exp = comparable(expected(Tree::capture(&fresh)?, &before, gen, cov));
        if let Some(f) = render(
            &format!("config {n}: reset differs from a fresh `reignite apply` plus the kept paths"),
            &compare_trees(&exp, &after),
            cov,
        ) {
            fails.push(f);
        }
        // Fresh Ignition 2.14 provisioning of the config on the image.
        if ignition && gen.ignition_comparable() {
            let iw = work.join(format!("ignition{n}"));
            fs::create_dir_all(&iw)?;
            let iroot = iw.join("root");
            copy_tree(image, &iroot)?;
            let o = crate::ignition::run(&iw, &iroot, &cfg, h.path_env());
            if !o.success {
                fails.push(format!(
                    "Ignition 2.14 failed on config {n}: {}",
                    o.reason()
                ));
                return Ok(fails);
            }
            cov.ignition_compared += 1;
            let exp = comparable(expected(Tree::capture(&iroot)?, &before, gen, cov));
            if let Some(f) = render(
                &format!("config {n}: reset differs from Ignition 2.14 provisioning the image plus the kept paths"),
                &compare_trees(&exp, &after),
                cov,
            ) {
                fails.push(f);
            }
        }
        if !fails.is_empty() {
            let _ = writeln!(
                fails[0],
                "  config {n}: {}\n  drift: {:?}",
                sc.gens[n].config(),
                sc.drift[n - 1]
            );
            return Ok(fails);
        }
    }
    Ok(fails)
}
