//! Config assembly against a local HTTP server serving configs: merge and
//! replace chains, the settings in force for children, hashes, limits,
//! base configs and post-merge validation.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use reignite_fetch::{assemble, AssembleError, AssembleOptions, ConfigKind, FetchError};
use serde_json::{json, Value};
use sha2::{Digest, Sha512};

fn opts() -> AssembleOptions {
    let mut o = AssembleOptions::default();
    o.fetch.initial_backoff = Duration::from_millis(5);
    o.fetch.max_backoff = Duration::from_millis(20);
    o.fetch.unlimited_total_bound = Some(Duration::from_secs(3));
    o
}

/// A 3.3.0 config writing one file per name, plus extra `ignition` fields.
fn cfg(files: &[&str], ignition: Value) -> Vec<u8> {
    let mut ign = json!({"version": "3.3.0"});
    if let (Some(dst), Some(src)) = (ign.as_object_mut(), ignition.as_object()) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
    }
    let files: Vec<Value> = files
        .iter()
        .map(|p| json!({"path": p, "contents": {"source": format!("data:,{}", p.trim_start_matches('/'))}}))
        .collect();
    serde_json::to_vec(&json!({"ignition": ign, "storage": {"files": files}})).unwrap()
}

fn serve(configs: Vec<(&str, Vec<u8>)>) -> HttpServer {
    let map: Arc<HashMap<String, Vec<u8>>> = Arc::new(
        configs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    );
    HttpServer::start(move |r| match map.get(&r.path) {
        Some(b) => ok(b.clone()),
        None => status(404),
    })
}

fn paths(c: &reignite_spec::Config) -> Vec<String> {
    c.storage
        .files
        .iter()
        .map(|f| f.node.path.clone())
        .collect()
}

fn merge_refs(urls: &[String]) -> Value {
    json!({"config": {"merge": urls.iter().map(|u| json!({"source": u})).collect::<Vec<_>>()}})
}

#[test]
fn merge_chain_is_rendered_depth_first_child_wins() {
    // user -> [a -> [b], c]; every config writes /shared, the last wins.
    let b = cfg(&["/b", "/shared"], json!({}));
    let c = cfg(&["/c", "/shared"], json!({}));
    // Start the server first: the configs name its URLs.
    let holder: Arc<std::sync::Mutex<HashMap<String, Vec<u8>>>> = Default::default();
    let h2 = holder.clone();
    let srv = HttpServer::start(move |r| match h2.lock().unwrap().get(&r.path) {
        Some(b) => ok(b.clone()),
        None => status(404),
    });
    let a = cfg(&["/a", "/shared"], merge_refs(&[srv.url("/b.ign")]));
    {
        let mut m = holder.lock().unwrap();
        m.insert("/a.ign".into(), a);
        m.insert("/b.ign".into(), b);
        m.insert("/c.ign".into(), c);
    }
    let user = cfg(
        &["/user", "/shared"],
        merge_refs(&[srv.url("/a.ign"), srv.url("/c.ign")]),
    );
    let out = assemble(&user, None, None, &opts()).unwrap();
    assert_eq!(paths(&out.config), ["/user", "/shared", "/a", "/b", "/c"]);
    let shared = out
        .config
        .storage
        .files
        .iter()
        .find(|f| f.node.path == "/shared")
        .unwrap();
    assert_eq!(shared.contents.source.as_deref(), Some("data:,shared"));
    let order: Vec<_> = srv.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(order, ["/a.ign", "/b.ign", "/c.ign"]);
    let kinds: Vec<_> = out.fetched.iter().map(|f| f.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            ConfigKind::User,
            ConfigKind::Referenced,
            ConfigKind::Referenced,
            ConfigKind::Referenced
        ]
    );
    assert_eq!(out.fetched[0].sha512, hex::encode(Sha512::digest(&user)));
    assert_eq!(out.config.ignition.version, "3.7.0-experimental");
}

#[test]
fn replace_discards_the_original() {
    let srv = serve(vec![("/r.ign", cfg(&["/replacement"], json!({})))]);
    let user = cfg(
        &["/original"],
        json!({"config": {"replace": {"source": srv.url("/r.ign")}}}),
    );
    let out = assemble(&user, None, None, &opts()).unwrap();
    assert_eq!(paths(&out.config), ["/replacement"]);
}

#[test]
fn merged_config_hashes_are_lower_case_strings() {
    let child = cfg(&["/child"], json!({}));
    let sum = hex::encode(Sha512::digest(&child));
    let srv = serve(vec![("/c.ign", child)]);
    let with_hash = |h: String| {
        cfg(
            &[],
            json!({"config": {"merge": [{"source": srv.url("/c.ign"), "verification": {"hash": h}}]}}),
        )
    };
    let out = assemble(&with_hash(format!("sha512-{sum}")), None, None, &opts()).unwrap();
    assert_eq!(paths(&out.config), ["/child"]);
    let err = assemble(
        &with_hash(format!("sha512-{}", sum.to_uppercase())),
        None,
        None,
        &opts(),
    )
    .unwrap_err();
    match &err {
        AssembleError::Fetch {
            inner: FetchError::HashMismatch { .. },
            ..
        } => {}
        other => panic!("unexpected: {other}"),
    }
    assert!(chain(&err).contains("hash verification failed"), "{err}");
}

#[test]
fn gzip_compressed_reference() {
    use std::io::Write;
    let child = cfg(&["/gz"], json!({}));
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&child).unwrap();
    let srv = serve(vec![("/c.ign.gz", e.finish().unwrap())]);
    let user = cfg(
        &[],
        json!({"config": {"merge": [{"source": srv.url("/c.ign.gz"), "compression": "gzip"}]}}),
    );
    let out = assemble(&user, None, None, &opts()).unwrap();
    assert_eq!(paths(&out.config), ["/gz"]);
}

#[test]
fn parent_proxy_is_in_force_for_children_and_grandchildren() {
    // Names under .example.invalid resolve nowhere: only the proxy (which
    // tunnels everything to the config server) reaches them.
    let grandchild = cfg(&["/grandchild"], json!({}));
    let child = cfg(
        &["/child"],
        merge_refs(&["http://configs.example.invalid/gc.ign".into()]),
    );
    let srv = serve(vec![("/gc.ign", grandchild), ("/c.ign", child)]);
    let proxy = ForwardProxy::start(srv.addr, false);
    let mut ign = merge_refs(&["http://configs.example.invalid/c.ign".into()]);
    ign["proxy"] = json!({"httpProxy": format!("http://{}", proxy.addr)});
    let user = cfg(&[], ign);
    let out = assemble(&user, None, None, &opts()).unwrap();
    assert_eq!(paths(&out.config), ["/child", "/grandchild"]);
    assert_eq!(proxy.requests.lock().unwrap().len(), 2);
}

#[test]
fn parent_ca_is_in_force_and_rewritten_as_data_url() {
    let p = pki();
    let child = cfg(&["/over-tls"], json!({}));
    let srv = start_https(p.leaf_der.clone(), p.key_der.clone(), move |_| {
        ok(child.clone())
    });
    let ca_srv = serve(vec![("/ca.pem", p.ca_pem.clone().into_bytes())]);
    let url = format!("https://localhost:{}/c.ign", srv.addr.port());
    let mut ign = merge_refs(&[url]);
    ign["security"] =
        json!({"tls": {"certificateAuthorities": [{"source": ca_srv.url("/ca.pem")}]}});
    let out = assemble(&cfg(&[], ign), None, None, &opts()).unwrap();
    assert_eq!(paths(&out.config), ["/over-tls"]);
    let cas = &out.config.ignition.security.tls.certificate_authorities;
    let src = cas[0].source.as_deref().unwrap();
    let b64 = src
        .strip_prefix("data:text/plain;charset=US-ASCII;base64,")
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
        p.ca_pem.as_bytes()
    );
    assert_eq!(out.fetcher.config_cas().len(), 1);
}

#[test]
fn loops_and_depth_are_bounded() {
    let holder: Arc<std::sync::Mutex<HashMap<String, Vec<u8>>>> = Default::default();
    let h2 = holder.clone();
    let srv = HttpServer::start(move |r| match h2.lock().unwrap().get(&r.path) {
        Some(b) => ok(b.clone()),
        None => status(404),
    });
    {
        let mut m = holder.lock().unwrap();
        m.insert(
            "/loop.ign".into(),
            cfg(&[], merge_refs(&[srv.url("/loop.ign")])),
        );
        for i in 0..30 {
            m.insert(
                format!("/d{i}.ign"),
                cfg(&[], merge_refs(&[srv.url(&format!("/d{}.ign", i + 1))])),
            );
        }
    }
    let err = assemble(
        &cfg(&[], merge_refs(&[srv.url("/loop.ign")])),
        None,
        None,
        &opts(),
    )
    .unwrap_err();
    assert!(matches!(err, AssembleError::Loop { .. }), "{err}");
    let err = assemble(
        &cfg(&[], merge_refs(&[srv.url("/d0.ign")])),
        None,
        None,
        &opts(),
    )
    .unwrap_err();
    assert!(
        matches!(err, AssembleError::TooDeep { limit: 10, .. }),
        "{err}"
    );
}

#[test]
fn missing_reference_names_the_url() {
    let srv = serve(vec![]);
    let err = assemble(
        &cfg(&[], merge_refs(&[srv.url("/gone.ign")])),
        None,
        None,
        &opts(),
    )
    .unwrap_err();
    let msg = chain(&err);
    assert!(msg.contains("/gone.ign"), "{msg}");
    assert!(msg.contains("resource not found"), "{msg}");
}

#[test]
fn base_configs_go_under_the_user_config() {
    let d = tempfile::tempdir().unwrap();
    let based = d.path().join("base.d");
    let plat = d.path().join("base.platform.d/qemu");
    std::fs::create_dir_all(&based).unwrap();
    std::fs::create_dir_all(&plat).unwrap();
    std::fs::create_dir_all(d.path().join("base.platform.d/other")).unwrap();
    std::fs::write(based.join("20-b.ign"), cfg(&["/b", "/shared"], json!({}))).unwrap();
    std::fs::write(based.join("10-a.ign"), cfg(&["/a"], json!({}))).unwrap();
    std::fs::write(plat.join("p.ign"), cfg(&["/plat"], json!({}))).unwrap();
    std::fs::write(
        d.path().join("base.platform.d/other/x.ign"),
        cfg(&["/other"], json!({})),
    )
    .unwrap();
    let user = cfg(&["/user", "/shared"], json!({}));
    let out = assemble(&user, Some(d.path()), Some("qemu"), &opts()).unwrap();
    assert_eq!(
        paths(&out.config),
        ["/a", "/b", "/shared", "/plat", "/user"]
    );
    let kinds: Vec<_> = out.fetched.iter().map(|f| f.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            ConfigKind::Base,
            ConfigKind::Base,
            ConfigKind::Base,
            ConfigKind::User
        ]
    );
    // No platform: only base.d.
    let out = assemble(&user, Some(d.path()), None, &opts()).unwrap();
    assert_eq!(paths(&out.config), ["/a", "/b", "/shared", "/user"]);
    // A broken base config is an error naming it.
    std::fs::write(based.join("30-bad.ign"), b"{").unwrap();
    let err = assemble(&user, Some(d.path()), None, &opts()).unwrap_err();
    assert!(err.to_string().contains("30-bad.ign"), "{err}");
}

#[test]
fn empty_user_config_is_an_empty_config() {
    let out = assemble(b"", None, None, &opts()).unwrap();
    assert!(out.config.storage.files.is_empty());
    assert_eq!(out.config.ignition.version, "3.7.0-experimental");
}

#[test]
fn invalid_user_config_is_rejected_with_its_report() {
    let err = assemble(
        br#"{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "rel"}]}}"#,
        None,
        None,
        &opts(),
    )
    .unwrap_err();
    assert!(matches!(err, AssembleError::User { .. }), "{err}");
    let report = err.report().unwrap().to_string();
    assert!(report.contains("path not absolute"), "{report}");
}

#[test]
fn merged_result_is_validated_with_the_newest_rules() {
    // A 3.2.0 link without a target passes 3.2 validation but not the
    // newest rules applied after merging (Ignition 2.14 does the same).
    let child =
        br#"{"ignition": {"version": "3.2.0"}, "storage": {"links": [{"path": "/l"}]}}"#.to_vec();
    let srv = serve(vec![("/c.ign", child)]);
    let user = cfg(&[], merge_refs(&[srv.url("/c.ign")]));
    let err = assemble(&user, None, None, &opts()).unwrap_err();
    assert!(matches!(err, AssembleError::Invalid { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("merging configs resulted in an invalid config"),
        "{msg}"
    );
    assert!(
        msg.contains("error at $.storage.links.0.target: link target is required"),
        "{msg}"
    );
}

#[test]
fn warnings_are_kept_per_config() {
    let child = br#"{"ignition": {"version": "3.3.0"}, "storaeg": {}}"#.to_vec();
    let srv = serve(vec![("/c.ign", child)]);
    let out = assemble(
        &cfg(&[], merge_refs(&[srv.url("/c.ign")])),
        None,
        None,
        &opts(),
    )
    .unwrap();
    assert!(out.fetched[0].report.entries.is_empty());
    let w = out.fetched[1].report.to_string();
    assert!(w.contains("storaeg"), "{w}");
    assert!(out.report.to_string().contains("storaeg"));
}

#[test]
fn parent_timeouts_apply_to_its_references() {
    // Upstream's timeouts.config.merge.timesout: the parent's one-second
    // limits must end the fetch of a reference that never answers, even
    // though the caller's own bound is much longer.
    let srv = HttpServer::start(|_| Reply::Hang);
    let mut ign = merge_refs(&[srv.url("/slow.ign")]);
    ign["timeouts"] = json!({"httpResponseHeaders": 1, "httpTotal": 1});
    let mut o = opts();
    o.fetch.unlimited_total_bound = Some(Duration::from_secs(60));
    let start = std::time::Instant::now();
    let err = assemble(&cfg(&[], ign), None, None, &o).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    match &err {
        AssembleError::Fetch {
            inner: FetchError::Timeout { .. },
            ..
        } => {}
        other => panic!("unexpected: {other}"),
    }
}
