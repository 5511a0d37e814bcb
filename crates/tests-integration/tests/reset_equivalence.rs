//! `reignite reset` + `boot` + `confirm` through the real command line (so
//! with the real engine, wired as the CLI wires it) against a fresh
//! provisioning of the factory state plus exactly the kept paths — by
//! `reignite apply`, and for configs ≤ 3.3 by Debian's Ignition 2.14. See
//! `src/reset.rs` for the model, what is compared and what is not.
//!
//! `REIGNITE_RESET_CASES` sets the number of generated scenarios (24).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reignite_tests_integration::harness::Harness;
use reignite_tests_integration::reset::*;

fn reignite_bin() -> PathBuf {
    std::env::var_os("REIGNITE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_reignite-under-test").into())
}

fn ignition() -> bool {
    match reignite_tests_integration::ignition::unavailable() {
        Some(reason) => {
            eprintln!("note: not comparing with Ignition 2.14: {reason}");
            false
        }
        None => true,
    }
}

fn image(dir: &Path) -> PathBuf {
    let img = dir.join("image");
    build_image(&img).unwrap();
    img
}

fn report(title: &str, cov: &Coverage) {
    eprintln!("== {title}\n{}", cov.summary());
    eprintln!("not compared:");
    for (p, why) in NOT_COMPARED {
        eprintln!("  {p}: {why}");
    }
}

/// Three configs, every kind of drift, every keep pattern.
#[test]
fn reset_sequence_with_every_drift_kind() {
    let root = reignite_tests_integration::is_root();
    let users = if root { 0b11 } else { 0 };
    let d = tempfile::tempdir().unwrap();
    let img = image(d.path());
    let h = Harness::new(reignite_bin()).unwrap();
    let sc = Scenario {
        gens: vec![
            Gen {
                version: "3.3.0",
                files: vec![(0, 0, 0), (1, 0, 1), (3, 0, 2), (4, 0, 0)],
                dirs: 0b11,
                links: 0b11,
                users,
                unit: true,
                keep: 0b11111,
            },
            Gen {
                version: "3.3.0",
                files: vec![(0, 1, 0), (2, 1, 0), (5, 1, 1)],
                dirs: 0b10,
                links: 0b01,
                users: users & 0b01,
                unit: false,
                keep: 0b00111,
            },
            Gen {
                version: "3.4.0",
                files: vec![(1, 2, 0), (3, 2, 2)],
                dirs: 0b01,
                links: 0b10,
                users,
                unit: true,
                keep: 0b11010,
            },
        ],
        drift: vec![
            Drift {
                extra: (1 << EXTRA.len()) - 1,
                managed: 0b11_10_01,
                new_user: true,
            },
            Drift {
                extra: 0b10_1010_1010_1010,
                managed: 0b01_10,
                new_user: false,
            },
        ],
    };
    let mut cov = Coverage::default();
    let fails = run_scenario(&h, &img, &d.path().join("w"), &sc, ignition(), &mut cov).unwrap();
    report("reset sequence with every drift kind", &cov);
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    assert_eq!(cov.resets, 2);
}

fn gen_strategy(users: bool) -> impl Strategy<Value = Gen> {
    (
        0usize..5,
        proptest::collection::btree_map(0..FILES.len(), (0u8..3, 0..MODES.len()), 0..=FILES.len()),
        0u32..(1 << DIRS.len()),
        0u32..(1 << LINKS.len()),
        0u32..(1 << USERS.len()),
        any::<bool>(),
        0u32..(1 << KEEP.len()),
    )
        .prop_map(move |(v, files, dirs, links, u, unit, keep)| Gen {
            version: ["3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0"][v],
            files: files.into_iter().map(|(i, (c, m))| (i, c, m)).collect(),
            dirs,
            links,
            users: if users { u } else { 0 },
            unit,
            keep,
        })
}

fn drift_strategy() -> impl Strategy<Value = Drift> {
    (0u32..(1 << EXTRA.len()), any::<u32>(), any::<bool>()).prop_map(
        |(extra, managed, new_user)| Drift {
            extra,
            managed,
            new_user,
        },
    )
}

#[test]
fn generated_resets_equal_fresh_provisioning_plus_kept() {
    let cases: u32 = std::env::var("REIGNITE_RESET_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let users = reignite_tests_integration::is_root();
    if !users {
        eprintln!("note: not root: configs declare no users and drift chowns nothing");
    }
    let ign = ignition();
    let d = tempfile::tempdir().unwrap();
    let img = image(d.path());
    let h = Harness::new(reignite_bin()).unwrap();
    let strategy = proptest::collection::vec((gen_strategy(users), drift_strategy()), 2..=3)
        .prop_map(|v| {
            let (gens, mut drift): (Vec<Gen>, Vec<Drift>) = v.into_iter().unzip();
            drift.pop();
            Scenario { gens, drift }
        });
    let cov = std::cell::RefCell::new(Coverage::default());
    let n = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |sc| {
        n.set(n.get() + 1);
        let w = d.path().join(format!("case{}", n.get()));
        let fails = run_scenario(&h, &img, &w, &sc, ign, &mut cov.borrow_mut()).unwrap();
        let _ = std::fs::remove_dir_all(&w);
        prop_assert!(fails.is_empty(), "{}", fails.join("\n"));
        Ok(())
    });
    report(
        &format!(
            "generated resets ({cases} scenarios asked, {} run including shrinking)",
            n.get()
        ),
        &cov.borrow(),
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
