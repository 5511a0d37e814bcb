//! `reignite plan --switch` on the shipped examples: planning the config a
//! root already has changes nothing, and planning the next generation removes
//! exactly the leftovers (regression: parent directories still needed by the
//! new config were listed as leftovers, and unchanged files as updates).

use std::path::Path;
use std::process::Command;

fn reignite(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reignite"))
        .args(args)
        .output()
        .expect("running reignite")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

fn plan(root: &str, config: &str) -> Vec<(String, String)> {
    let out = reignite(&[
        "plan", "--switch", "--format", "json", "--root", root, config,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn same_config_plans_no_node_changes_and_next_removes_only_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    let out = reignite(&[
        "apply",
        "--format",
        "json",
        "--root",
        &root,
        &example("webserver-v1.bu"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let same = plan(&root, &example("webserver-v1.ign"));
    let node_changes: Vec<_> = same
        .iter()
        .filter(|(a, p)| a != "keep" && p.starts_with('/'))
        .collect();
    assert!(node_changes.is_empty(), "{node_changes:?}");

    let next = plan(&root, &example("webserver-v2.ign"));
    let removed: Vec<&str> = next
        .iter()
        .filter(|(a, _)| a == "remove")
        .map(|(_, p)| p.as_str())
        .collect();
    for gone in [
        "/etc/nginx",
        "/etc/nginx/site.conf",
        "/etc/systemd/system/web.service",
    ] {
        assert!(removed.contains(&gone), "{gone} not removed: {next:?}");
    }
    for kept in [
        "/etc/systemd",
        "/etc/systemd/system",
        "/etc/reignite",
        "/home",
        "/etc/hostname",
    ] {
        assert!(!removed.contains(&kept), "{kept} wrongly removed: {next:?}");
    }
    assert!(next.contains(&("create".to_string(), "/etc/caddy/Caddyfile".to_string())));
}
