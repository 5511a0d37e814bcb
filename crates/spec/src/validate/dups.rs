//! Ignition's `ValidateDups`: within each struct, every list is checked for
//! repeated keys (the later entry gets `duplicate entry defined`), walking
//! the config pre-order in field order. Lists marked `IgnoreDuplicates`
//! (`files[].append`, filesystem `options`/`mountOptions`, luks `options`,
//! raid `options`) are exempt; `directories`/`files`/`links` share the "Node"
//! key space and `kernelArguments.shouldExist`/`shouldNotExist` share one too.
//! Keys are those of `Key()` in upstream (§5.3 of the reference).

use std::collections::HashSet;

use super::{at, root};
use crate::report::{ConfigPath, Entry};
use crate::types::{Config, Partition, Resource};

const DUP: &str = "duplicate entry defined";

struct Dups {
    out: Vec<Entry>,
}

impl Dups {
    /// Checks one list against (and adds its keys to) `seen`.
    fn list<'a, T: 'a>(
        &mut self,
        seen: &mut HashSet<String>,
        items: impl IntoIterator<Item = &'a T>,
        key: impl Fn(&T) -> String,
        p: &ConfigPath,
    ) {
        for (i, it) in items.into_iter().enumerate() {
            if !seen.insert(key(it)) {
                self.out.push(Entry::error(p.index(i), DUP));
            }
        }
    }

    fn strings(&mut self, items: &[String], p: &ConfigPath) {
        self.list(&mut HashSet::new(), items, |s| s.clone(), p);
    }

    fn resource(&mut self, r: &Resource, p: &ConfigPath) {
        self.list(
            &mut HashSet::new(),
            &r.http_headers,
            |h| h.name.clone(),
            &p.field("httpHeaders"),
        );
    }
}

fn source_key(r: &Resource) -> String {
    r.source.clone().unwrap_or_default()
}

fn partition_key(p: &Partition) -> String {
    if p.number != 0 {
        format!("number:{}", p.number)
    } else if let Some(l) = &p.label {
        format!("label:{l}")
    } else {
        String::new()
    }
}

/// Duplicate-key errors of `cfg` in Ignition's report order, positions
/// unset.
pub fn duplicates(cfg: &Config) -> Vec<Entry> {
    let mut d = Dups { out: Vec::new() };
    let new = HashSet::new;

    // ignition
    let ip = root().field("ignition");
    let ic = &cfg.ignition.config;
    let cp = ip.field("config");
    d.list(&mut new(), &ic.merge, source_key, &cp.field("merge"));
    for (i, m) in ic.merge.iter().enumerate() {
        d.resource(m, &cp.field("merge").index(i));
    }
    d.resource(&ic.replace, &cp.field("replace"));
    d.strings(
        &cfg.ignition.proxy.no_proxy,
        &at(&ip, &["proxy", "noProxy"]),
    );
    let tp = at(&ip, &["security", "tls", "certificateAuthorities"]);
    let cas = &cfg.ignition.security.tls.certificate_authorities;
    d.list(&mut new(), cas, source_key, &tp);
    for (i, ca) in cas.iter().enumerate() {
        d.resource(ca, &tp.index(i));
    }

    // kernelArguments: one shared key space
    let kp = root().field("kernelArguments");
    let ka = &cfg.kernel_arguments;
    let mut kargs = new();
    d.list(
        &mut kargs,
        &ka.should_exist,
        String::clone,
        &kp.field("shouldExist"),
    );
    d.list(
        &mut kargs,
        &ka.should_not_exist,
        String::clone,
        &kp.field("shouldNotExist"),
    );

    // passwd
    let pp = root().field("passwd");
    let pw = &cfg.passwd;
    d.list(
        &mut new(),
        &pw.groups,
        |g| g.name.clone(),
        &pp.field("groups"),
    );
    d.list(
        &mut new(),
        &pw.users,
        |u| u.name.clone(),
        &pp.field("users"),
    );
    for (i, u) in pw.users.iter().enumerate() {
        let up = pp.field("users").index(i);
        d.strings(&u.groups, &up.field("groups"));
        d.strings(&u.ssh_authorized_keys, &up.field("sshAuthorizedKeys"));
    }

    // storage
    let sp = root().field("storage");
    let s = &cfg.storage;
    let mut nodes = new();
    d.list(
        &mut nodes,
        &s.directories,
        |x| x.node.path.clone(),
        &sp.field("directories"),
    );
    d.list(
        &mut new(),
        &s.disks,
        |x| x.device.clone(),
        &sp.field("disks"),
    );
    d.list(
        &mut nodes,
        &s.files,
        |x| x.node.path.clone(),
        &sp.field("files"),
    );
    d.list(
        &mut new(),
        &s.filesystems,
        |x| x.device.clone(),
        &sp.field("filesystems"),
    );
    d.list(
        &mut nodes,
        &s.links,
        |x| x.node.path.clone(),
        &sp.field("links"),
    );
    d.list(&mut new(), &s.luks, |x| x.name.clone(), &sp.field("luks"));
    d.list(&mut new(), &s.raid, |x| x.name.clone(), &sp.field("raid"));
    for (i, disk) in s.disks.iter().enumerate() {
        let p = sp.field("disks").index(i).field("partitions");
        d.list(&mut new(), &disk.partitions, partition_key, &p);
    }
    for (i, f) in s.files.iter().enumerate() {
        let fp = sp.field("files").index(i);
        for (k, a) in f.append.iter().enumerate() {
            d.resource(a, &fp.field("append").index(k));
        }
        d.resource(&f.contents, &fp.field("contents"));
    }
    for (i, l) in s.luks.iter().enumerate() {
        let lp = sp.field("luks").index(i);
        d.strings(&l.open_options, &lp.field("openOptions"));
        let tp = at(&lp, &["clevis", "tang"]);
        d.list(&mut new(), &l.clevis.tang, |t| t.url.clone(), &tp);
        d.resource(&l.key_file, &lp.field("keyFile"));
    }
    for (i, r) in s.raid.iter().enumerate() {
        d.strings(&r.devices, &sp.field("raid").index(i).field("devices"));
    }

    // systemd
    let up = root().field("systemd").field("units");
    let units = &cfg.systemd.units;
    d.list(&mut new(), units, |u| u.name.clone(), &up);
    for (i, u) in units.iter().enumerate() {
        let dp = up.index(i).field("dropins");
        d.list(&mut new(), &u.dropins, |x| x.name.clone(), &dp);
    }
    d.out
}
