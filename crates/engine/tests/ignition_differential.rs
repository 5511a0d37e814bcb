//! Differential test against Debian's Ignition 2.14 (ignition-semantics.md
//! §8.4): each config (spec 3.0–3.3) is applied to two identical scratch
//! roots, once by Ignition's `fetch` + `files` stages (`-platform file`) and
//! once by `apply`; the trees must be identical (contents, modes, owners,
//! link targets, account databases), except for the accepted differences
//! normalised in [`normalise`], each with its reason. Configs where Ignition
//! fails must fail in reignite too.
//!
//! Skips with a reason when not root or when Ignition 2.14 is not installed
//! (Debian package `ignition`).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const IGNITION: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";

fn b64(s: &[u8]) -> String {
    format!(
        "data:;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

fn pct(s: &str) -> String {
    let mut out = String::from("data:,");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn gz(s: &str) -> String {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(s.as_bytes()).unwrap();
    b64(&e.finish().unwrap())
}

fn sha512(s: &str) -> String {
    use sha2::Digest;
    format!("sha512-{}", hex::encode(sha2::Sha512::digest(s.as_bytes())))
}

fn sha256(s: &str) -> String {
    use sha2::Digest;
    format!("sha256-{}", hex::encode(sha2::Sha256::digest(s.as_bytes())))
}

/// The pre-existing tree every case starts from.
fn base_tree(root: &Path) {
    selinux_stub(root);
    for d in ["etc/systemd/system", "existing/dir", "usr/share"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    // An installed unit enabled for two targets, and another unit's link.
    std::fs::write(
        root.join("etc/systemd/system/foo.service"),
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target other.target\n",
    )
    .unwrap();
    // Links systemctl disable finds by name, by destination (absolute,
    // relative, through another link, at any depth), and a masked unit's.
    std::fs::create_dir_all(root.join("usr/lib/systemd/system")).unwrap();
    std::fs::write(
        root.join("usr/lib/systemd/system/masked.service"),
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    for (link, target) in [
        (
            "multi-user.target.wants/foo.service",
            "/etc/systemd/system/foo.service",
        ),
        (
            "other.target.wants/foo.service",
            "/etc/systemd/system/foo.service",
        ),
        (
            "other.target.wants/bar.service",
            "/etc/systemd/system/bar.service",
        ),
        ("fa.service", "/etc/systemd/system/foo.service"),
        ("chain.service", "fa.service"),
        ("x.target.wants/renamed.service", "../foo.service"),
        ("deep/er/y.service", "/etc/systemd/system/foo.service"),
        ("deep/notaunit", "/etc/systemd/system/foo.service"),
        ("masked.service", "/dev/null"),
        (
            "multi-user.target.wants/masked.service",
            "/usr/lib/systemd/system/masked.service",
        ),
    ] {
        let l = root.join("etc/systemd/system").join(link);
        std::fs::create_dir_all(l.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, l).unwrap();
    }
    std::fs::write(root.join("existing/file"), "old\n").unwrap();
    std::fs::write(root.join("existing/owned"), "owned\n").unwrap();
    std::os::unix::fs::chown(root.join("existing/owned"), Some(1234), Some(2345)).unwrap();
    std::os::unix::fs::symlink("/existing/file", root.join("existing/link")).unwrap();
    std::os::unix::fs::symlink("/usr/share", root.join("share")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:Core:/home/core:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nwheel:x:10:\nusers:x:100:\ncore:x:500:\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/shadow"),
        "root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/gshadow"),
        "root:*::\nwheel:*::\nusers:*::\ncore:!::\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/login.defs"),
        "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nUSERGROUPS_ENAB yes\nUMASK 022\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 7\n",
    )
    .unwrap();
}

/// Base configs (the `storage`/`systemd`/`passwd` part); each is run at
/// every version from its minimum up to 3.3.0.
fn cases() -> Vec<(&'static str, &'static str, Value)> {
    let c = "hello world\n";
    vec![
        (
            "file.plain",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/etc/motd", "contents": {"source": pct(c)}}]}}),
        ),
        (
            "file.base64.mode",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/opt/bin/tool", "contents": {"source": b64(b"#!/bin/sh\n")}, "mode": 493}]}}),
        ),
        (
            "file.owner.ids",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/home/x/f", "contents": {"source": pct(c)}, "user": {"id": 1500}, "group": {"id": 1600}}]}}),
        ),
        (
            "file.empty",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/etc/empty"}]}}),
        ),
        (
            "file.gzip",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/etc/gz", "contents": {"source": gz(c), "compression": "gzip"}}]}}),
        ),
        (
            "file.sha512",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/etc/h", "contents": {"source": pct(c), "verification": {"hash": sha512(c)}}}]}}),
        ),
        (
            "file.sha256",
            "3.1.0",
            json!({"storage": {"files": [{"path": "/etc/h", "contents": {"source": pct(c), "verification": {"hash": sha256(c)}}}]}}),
        ),
        (
            "file.badhash",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/etc/h", "contents": {"source": pct(c), "verification": {"hash": sha512("other")}}}]}}),
        ),
        (
            "file.append.new",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/etc/a", "append": [{"source": pct("one\n")}, {"source": pct("two\n")}]}]}}),
        ),
        (
            "file.contents.append",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/etc/a", "contents": {"source": pct("base\n")}, "append": [{"source": pct("more\n")}], "mode": 384}]}}),
        ),
        (
            "file.append.existing",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/existing/owned", "append": [{"source": pct("+\n")}]}]}}),
        ),
        (
            "file.existing.perms",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/existing/file", "mode": 384, "user": {"id": 7}}]}}),
        ),
        (
            "file.existing.conflict",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/existing/file", "contents": {"source": pct(c)}}]}}),
        ),
        (
            "file.overwrite",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/existing/file", "contents": {"source": pct(c)}, "overwrite": true}]}}),
        ),
        (
            "file.over.dir",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/existing/dir", "contents": {"source": pct(c)}}]}}),
        ),
        (
            "file.through.symlink",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/share/doc/x", "contents": {"source": pct(c)}}]}}),
        ),
        (
            "dir.mode",
            "3.0.0",
            json!({"storage": {"directories": [{"path": "/var/lib/app", "mode": 448}, {"path": "/var/lib", "mode": 493}]}}),
        ),
        (
            "dir.owner",
            "3.0.0",
            json!({"storage": {"directories": [{"path": "/srv/data", "user": {"id": 1000}, "group": {"id": 100}}]}}),
        ),
        (
            "dir.existing",
            "3.0.0",
            json!({"storage": {"directories": [{"path": "/existing/dir", "mode": 456}]}}),
        ),
        (
            "dir.over.file",
            "3.0.0",
            json!({"storage": {"directories": [{"path": "/existing/file"}]}}),
        ),
        (
            "dir.overwrite.file",
            "3.0.0",
            json!({"storage": {"directories": [{"path": "/existing/file", "overwrite": true, "mode": 493}]}}),
        ),
        (
            "link.abs",
            "3.0.0",
            json!({"storage": {"links": [{"path": "/etc/localtime", "target": "/usr/share/zoneinfo/UTC"}]}}),
        ),
        (
            "link.rel",
            "3.0.0",
            json!({"storage": {"links": [{"path": "/opt/l", "target": "../existing/file"}]}}),
        ),
        (
            "link.same",
            "3.0.0",
            json!({"storage": {"links": [{"path": "/existing/link", "target": "/existing/file"}]}}),
        ),
        (
            "link.different",
            "3.0.0",
            json!({"storage": {"links": [{"path": "/existing/link", "target": "/elsewhere"}]}}),
        ),
        (
            "link.overwrite",
            "3.0.0",
            json!({"storage": {"links": [{"path": "/existing/link", "target": "/elsewhere", "overwrite": true}]}}),
        ),
        (
            "link.hard",
            "3.0.0",
            json!({"storage": {"files": [{"path": "/a/f", "contents": {"source": pct(c)}}], "links": [{"path": "/b/h", "target": "/a/f", "hard": true}]}}),
        ),
        (
            "link.hard.existing",
            "3.0.0",
            json!({"storage": {"links": [{"path": "/h", "target": "/existing/file", "hard": true}]}}),
        ),
        (
            "link.owner",
            "3.0.0",
            json!({"storage": {"links": [{"path": "/l2", "target": "/existing/owned", "user": {"id": 5}, "group": {"id": 6}}]}}),
        ),
        (
            "mixed.ordering",
            "3.0.0",
            json!({"storage": {
            "files": [{"path": "/m/a/b/c", "contents": {"source": pct("c")}}, {"path": "/m/x", "contents": {"source": pct("x")}}],
            "directories": [{"path": "/m/a/b", "mode": 448}, {"path": "/m/a", "mode": 457}],
            "links": [{"path": "/m/a/l", "target": "b/c"}]}}),
        ),
        (
            "units.basic",
            "3.0.0",
            json!({"systemd": {"units": [
            {"name": "a.service", "contents": "[Service]\nExecStart=/bin/true\n", "enabled": true},
            {"name": "b.service", "dropins": [{"name": "10-x.conf", "contents": "[Service]\n"}, {"name": "empty.conf", "contents": ""}]}]}}),
        ),
        (
            "units.mask",
            "3.0.0",
            json!({"systemd": {"units": [{"name": "m.service", "mask": true}, {"name": "n.service", "contents": "[Unit]\n", "mask": true}]}}),
        ),
        (
            "units.presets",
            "3.0.0",
            json!({"systemd": {"units": [
            {"name": "z.service", "enabled": true}, {"name": "y.timer", "enabled": true}, {"name": "x.socket", "enabled": true}]}}),
        ),
        (
            "units.disable",
            "3.0.0",
            json!({"systemd": {"units": [{"name": "foo.service", "enabled": false}]}}),
        ),
        (
            "units.disable.all.links",
            "3.0.0",
            json!({"systemd": {"units": [
            {"name": "foo.service", "contents": "[Service]\nExecStart=/bin/false\n", "enabled": false},
            {"name": "bar.service", "enabled": false}]}}),
        ),
        (
            "units.disable.masked",
            "3.0.0",
            json!({"systemd": {"units": [{"name": "masked.service", "enabled": false}]}}),
        ),
        (
            "units.mask.and.disable",
            "3.0.0",
            json!({"systemd": {"units": [{"name": "foo.service", "mask": true, "enabled": false}]}}),
        ),
        (
            "units.disable.absent",
            "3.0.0",
            json!({"systemd": {"units": [{"name": "gone.service", "enabled": false}]}}),
        ),
        (
            "units.enable.installed",
            "3.0.0",
            json!({"systemd": {"units": [{"name": "foo.service", "enabled": true}, {"name": "bar.service", "enabled": false}]}}),
        ),
        (
            "users.basic",
            "3.0.0",
            json!({"passwd": {"users": [{"name": "alice", "sshAuthorizedKeys": ["ssh-ed25519 AAAA alice"]}]}}),
        ),
        (
            "users.full",
            "3.0.0",
            json!({"passwd": {"users": [{"name": "bob", "uid": 2000, "gecos": "Bob", "groups": ["wheel"], "homeDir": "/var/home/bob", "shell": "/bin/sh", "passwordHash": "$6$x$y"}]}}),
        ),
        (
            "users.system",
            "3.0.0",
            json!({"passwd": {"users": [{"name": "svc", "system": true, "noCreateHome": true}]}}),
        ),
        (
            "users.core.keys",
            "3.0.0",
            json!({"passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["k1", "k2"]}]}}),
        ),
        (
            "groups.add",
            "3.0.0",
            json!({"passwd": {"groups": [{"name": "g1", "gid": 3000}]}}),
        ),
    ]
}

const VERSIONS: [&str; 4] = ["3.0.0", "3.1.0", "3.2.0", "3.3.0"];

fn run_ignition(work: &Path, root: &Path, config: &str) -> Result<(), String> {
    let path = ignition_workdir(work, config);
    for stage in ["fetch", "files"] {
        let out = ignition_stage(&mut Command::new(IGNITION), work, root, stage, &path)
            .env("SOURCE_DATE_EPOCH", "1795636555")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{stage}: {}",
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    Ok(())
}

fn run_reignite(root: &Path, config: &str) -> Result<(), String> {
    let assembled = reignite_fetch::assemble(config.as_bytes(), None, None, &Default::default())
        .map_err(|e| e.to_string())?;
    let f = RealFetcher(
        reignite_fetch::Fetcher::from_config(&assembled.config).map_err(|e| e.to_string())?,
    );
    let r = reignite_engine::Root::open(root).map_err(|e| e.to_string())?;
    let mut o = reignite_engine::ApplyOptions::new(&f);
    o.boot_id = Some("x".into());
    o.now = Some(1_795_636_555);
    reignite_engine::apply(&r, &assembled.config, o, &mut |_| {})
        .map(|_| ())
        .map_err(|e| e.to_string())
}

struct RealFetcher(reignite_fetch::Fetcher);

impl reignite_engine::Fetch for RealFetcher {
    fn fetch_into(
        &self,
        r: &reignite_spec::Resource,
        out: &mut dyn Write,
    ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_into(r, out).map_err(Into::into)
    }
}

/// Accepted differences, each with its reason:
/// * `/var/lib/reignite` is reignite's own state (not compared);
/// * `/etc/.ignition-result.json` differs in date and boot id (only mode and
///   owner are compared, via the snapshot's "(result)" placeholder);
/// * the preset file's lines are compared sorted: Ignition 2.14 writes them
///   in Go map order (random), reignite sorted as Ignition ≥ 2.15;
/// * `/etc/.pwd.lock` and `*-` database backups are left by shadow-utils only;
/// * 2.14 runs `groupadd --password '*'`, so its gshadow lines carry `*`
///   where reignite (and Ignition ≥ 2.15) leave groupadd's `!`;
/// * Ignition's fetch stage caches nothing inside the root, so nothing else
///   needs normalising.
fn normalise(mut snap: BTreeMap<String, String>) -> BTreeMap<String, String> {
    snap.retain(|k, _| {
        !k.starts_with("/var/lib/reignite")
            && k != "/etc/.pwd.lock"
            && ![
                "/etc/passwd-",
                "/etc/shadow-",
                "/etc/group-",
                "/etc/gshadow-",
            ]
            .contains(&k.as_str())
    });
    // `var` and `var/lib` exist only because of reignite's state directory.
    for k in ["/var", "/var/lib"] {
        if snap.get(k).is_some_and(|v| v.starts_with("dir 755 0:0"))
            && !snap
                .keys()
                .any(|p| p.starts_with(&format!("{k}/")) && !p.starts_with("/var/lib"))
        {
            snap.remove(k);
        }
    }
    for (k, v) in snap.iter_mut() {
        if k.ends_with("20-ignition.preset") {
            // `file MODE U:G "line\nline\n"`: sort the lines inside the quotes.
            if let (Some(a), Some(b)) = (v.find('"'), v.rfind('"')) {
                let mut lines: Vec<&str> =
                    v[a + 1..b].split("\\n").filter(|l| !l.is_empty()).collect();
                lines.sort();
                *v = format!("{}{:?}", &v[..a], lines);
            }
        }
        if k == "/etc/gshadow" {
            *v = v.replace(":*::", ":!::").replace(":*:\\n", ":!:\\n");
        }
    }
    snap
}

#[test]
fn trees_match_ignition_2_14() {
    if !is_root() {
        eprintln!("skipping trees_match_ignition_2_14: needs root");
        return;
    }
    if !Path::new(IGNITION).exists() {
        eprintln!(
            "skipping trees_match_ignition_2_14: {IGNITION} absent (Debian package `ignition`)"
        );
        return;
    }
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, min, body) in cases() {
        for version in VERSIONS.iter().filter(|v| **v >= min) {
            total += 1;
            let mut cfg = body.clone();
            cfg["ignition"] = json!({"version": version});
            let config = cfg.to_string();
            let w = tempfile::tempdir().unwrap();
            let (a, b) = (w.path().join("a/root"), w.path().join("b/root"));
            base_tree(&a);
            base_tree(&b);
            let ign = run_ignition(&w.path().join("a"), &a, &config);
            let rei = run_reignite(&b, &config);
            let label = format!("{name} {version}");
            match (&ign, &rei) {
                (Err(_), Err(_)) => continue,
                (Ok(()), Ok(())) => {}
                _ => {
                    failures.push(format!("{label}: ignition {ign:?}, reignite {rei:?}"));
                    continue;
                }
            }
            let (sa, sb) = (
                normalise(snapshot(&a, false)),
                normalise(snapshot(&b, false)),
            );
            if sa != sb {
                let keys: std::collections::BTreeSet<_> = sa.keys().chain(sb.keys()).collect();
                let diff: Vec<String> = keys
                    .into_iter()
                    .filter(|k| sa.get(*k) != sb.get(*k))
                    .map(|k| format!("  {k}: ignition {:?} / reignite {:?}", sa.get(k), sb.get(k)))
                    .collect();
                failures.push(format!("{label}:\n{}", diff.join("\n")));
            }
        }
    }
    eprintln!(
        "ignition 2.14 differential: {}/{total} configs identical",
        total - failures.len()
    );
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(total >= 60, "only {total} configs");
    assert!(
        failures.is_empty(),
        "{} differences (listed above)",
        failures.len()
    );
}
