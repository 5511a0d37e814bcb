//! HTTPS with a CA generated for the test: refused with the system roots
//! alone, accepted once `ignition.security.tls.certificateAuthorities`
//! carries the CA (inline as a data URL, or fetched over HTTP).

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use reignite_fetch::{FetchError, FetchOptions, Fetcher};
use reignite_spec::{Config, Resource};

fn base() -> FetchOptions {
    let mut o = FetchOptions::default();
    o.initial_backoff = Duration::from_millis(5);
    o.max_backoff = Duration::from_millis(20);
    o.total_timeout = Some(Duration::from_secs(5));
    o
}

fn res(url: &str) -> Resource {
    Resource {
        source: Some(url.into()),
        ..Default::default()
    }
}

fn ca_config(source: String) -> Config {
    let mut cfg = Config::default();
    cfg.ignition.timeouts.http_total = Some(5);
    cfg.ignition
        .security
        .tls
        .certificate_authorities
        .push(res(&source));
    cfg
}

#[test]
fn custom_ca_is_required_and_sufficient() {
    let p = pki();
    let srv = start_https(p.leaf_der.clone(), p.key_der.clone(), |_| {
        ok("secret config")
    });
    let url = format!("https://localhost:{}/c.ign", srv.addr.port());

    let mut o = base();
    o.total_timeout = Some(Duration::from_millis(300));
    let plain = Fetcher::new(o).unwrap();
    let e = plain.fetch_bytes(&res(&url), 100).unwrap_err();
    assert!(matches!(e, FetchError::Timeout { .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    let data_url = format!(
        "data:;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&p.ca_pem)
    );
    let f = Fetcher::new(base())
        .unwrap()
        .with_config(&ca_config(data_url))
        .unwrap();
    assert_eq!(f.fetch_bytes(&res(&url), 100).unwrap(), b"secret config");
    assert_eq!(f.config_cas().len(), 1);
}

#[test]
fn ca_fetched_over_http() {
    let p = pki();
    let pem = p.ca_pem.clone();
    let ca_srv = HttpServer::start(move |_| ok(pem.clone()));
    let srv = start_https(p.leaf_der.clone(), p.key_der.clone(), |_| ok("ok"));
    let f = Fetcher::new(base())
        .unwrap()
        .with_config(&ca_config(ca_srv.url("/ca.pem")))
        .unwrap();
    let url = format!("https://localhost:{}/x", srv.addr.port());
    assert_eq!(f.fetch_bytes(&res(&url), 100).unwrap(), b"ok");
}

#[test]
fn bad_ca_bundles_fail_clearly() {
    let e = Fetcher::new(base())
        .unwrap()
        .with_config(&ca_config("data:,not%20a%20pem".into()))
        .unwrap_err();
    assert!(
        e.to_string().starts_with("unable to decode PEM block"),
        "{e}"
    );
    let srv = HttpServer::start(|_| status(404));
    let e = Fetcher::new(base())
        .unwrap()
        .with_config(&ca_config(srv.url("/missing.pem")))
        .unwrap_err();
    assert!(chain(&e).contains("resource not found"), "{e}");
}

#[test]
fn ip_address_certificates_and_multi_cert_bundles() {
    // Upstream's TLS tests serve from https://127.0.0.1:PORT with a bundle
    // whose matching CA is not the first certificate.
    let other = pki();
    let p = pki_for(&["127.0.0.1"]);
    let srv = start_https(p.leaf_der.clone(), p.key_der.clone(), |_| ok("by ip"));
    let bundle = format!("{}{}", other.ca_pem, p.ca_pem);
    let data_url = format!(
        "data:;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bundle)
    );
    let f = Fetcher::new(base())
        .unwrap()
        .with_config(&ca_config(data_url))
        .unwrap();
    let url = format!("https://127.0.0.1:{}/x", srv.addr.port());
    assert_eq!(f.fetch_bytes(&res(&url), 100).unwrap(), b"by ip");
    // A later config without CAs keeps the CAs in force (Ignition only
    // replaces the pool when the new config lists some).
    let f2 = f.with_config(&Config::default()).unwrap();
    assert_eq!(f2.fetch_bytes(&res(&url), 100).unwrap(), b"by ip");
}
