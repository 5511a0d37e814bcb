//! Property: for generated configs, keep-sets and drift (extra files, edited
//! and removed managed files, data under kept paths), `reset` + `boot` gives
//! exactly a fresh apply of the new config on the image plus the kept paths
//! (with their parents), and `rollback` gives back the tree from before.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use reignite_reprovision::boot::{self, BootOptions, Provisioner};
use reignite_reprovision::keep::KeepSet;
use reignite_reprovision::reset::{self, OemEdits};
use reignite_reprovision::rollback;
use reignite_reprovision::tree::{snapshot, NodeState};

const DECLARABLE: &[&str] = &[
    "/etc/hostname",
    "/etc/app.conf",
    "/etc/app/extra.conf",
    "/opt/tool/bin",
    "/etc/motd",
];
const DRIFTABLE: &[&str] = &[
    "/etc/stray",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/sshd_config",
    "/var/lib/data/db",
    "/var/lib/data/sub/x",
    "/var/cache/c",
    "/srv/www/index",
    "/home/u/.ssh/authorized_keys",
    "/home/u/.profile",
    "/opt/other/f",
];
const PATTERNS: &[&str] = &[
    "/var/lib/data/**",
    "regex:/etc/ssh/ssh_host_.*",
    "/home/*/.ssh",
    "/srv/**",
    "regex:/var/cache$",
];

fn comparable(mut t: BTreeMap<String, NodeState>) -> BTreeMap<String, NodeState> {
    t.retain(|k, _| {
        !k.starts_with(".reignite-trash")
            && !k.starts_with("var/lib/reignite")
            && k != "boot"
            && !k.starts_with("boot/")
    });
    t
}

fn pick<'a>(all: &[&'a str], mask: u32) -> Vec<&'a str> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, p)| *p)
        .collect()
}

fn run_case(
    decl0: u32,
    decl1: u32,
    drift: u32,
    keep: u32,
    edits: u32,
    seed: u8,
) -> Result<(), TestCaseError> {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = tempfile::tempdir().unwrap();
    let r = h.path();
    copy_tree(img.path(), r);
    let keep_p = pick(PATTERNS, keep);
    let files0: Vec<(&str, String)> = pick(DECLARABLE, decl0)
        .into_iter()
        .map(|p| (p, format!("v0-{seed}")))
        .collect();
    let files1: Vec<(&str, String)> = pick(DECLARABLE, decl1)
        .into_iter()
        .map(|p| (p, format!("v1-{seed}")))
        .collect();
    let c0 = config(
        &files0
            .iter()
            .map(|(p, c)| (*p, c.as_str()))
            .collect::<Vec<_>>(),
        &keep_p,
    );
    let c1 = config(
        &files1
            .iter()
            .map(|(p, c)| (*p, c.as_str()))
            .collect::<Vec<_>>(),
        &keep_p,
    );
    // Generation 1.
    provision(r, &c0);
    let p = TestProvisioner::default();
    // Drift.
    for d in pick(DRIFTABLE, drift) {
        let f = r.join(d.trim_start_matches('/'));
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, format!("drift {seed}")).unwrap();
    }
    for (i, (path, _)) in files0.iter().enumerate() {
        let f = r.join(path.trim_start_matches('/'));
        match (edits >> (2 * i)) & 3 {
            1 => std::fs::write(&f, "edited").unwrap(),
            2 => std::fs::remove_file(&f).unwrap(),
            _ => {}
        }
    }
    let before = snapshot(r, &[]).unwrap();
    let staged = staged_request(Some(1), true, false, None);
    reset::stage(r, &staged, Some(&c1), &OemEdits::default()).unwrap();
    boot::boot(r, &p, &BootOptions::default()).unwrap();
    // Expected: fresh apply + kept paths of before, with parents.
    let fresh = tempfile::tempdir().unwrap();
    copy_tree(img.path(), fresh.path());
    boot::restore_factory(fresh.path(), "usr/share/factory").unwrap();
    let c1c = p.validate(&c1).unwrap();
    p.apply(fresh.path(), &c1c).unwrap();
    let mut exp = snapshot(fresh.path(), &[]).unwrap();
    let ks = KeepSet::new(boot::config_keep_patterns(&c1c).unwrap()).unwrap();
    for (path, st) in &before {
        if ks.matches(&format!("/{path}")).is_some() {
            exp.insert(path.clone(), st.clone());
            let mut a = path.as_str();
            while let Some((parent, _)) = a.rsplit_once('/') {
                exp.insert(parent.to_string(), before[parent].clone());
                a = parent;
            }
        }
    }
    prop_assert_eq!(comparable(snapshot(r, &[]).unwrap()), comparable(exp));
    prop_assert_eq!(rollback::rollback_latest(r).unwrap(), Some(1));
    prop_assert_eq!(
        comparable(snapshot(r, &[]).unwrap()),
        comparable(before.clone())
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
    #[test]
    fn reset_is_fresh_apply_plus_kept(
        decl0 in 0u32..32, decl1 in 0u32..32, drift in 0u32..1024, keep in 0u32..32, edits in 0u32..1024, seed in any::<u8>()
    ) {
        run_case(decl0, decl1, drift, keep, edits, seed)?;
    }
}
