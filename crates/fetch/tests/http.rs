//! HTTP fetching against a local server: headers, statuses, retries,
//! redirects, timeouts, proxy, compression and verification.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use reignite_fetch::{FetchError, FetchOptions, Fetcher, LastAttempt};
use reignite_spec::{HttpHeader, Resource};
use sha2::{Digest, Sha512};

fn fast() -> FetchOptions {
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

#[test]
fn default_headers_and_config_overrides() {
    let srv = HttpServer::start(|_| ok("body"));
    let f = Fetcher::new(fast()).unwrap();
    assert_eq!(f.fetch_bytes(&res(&srv.url("/a")), 100).unwrap(), b"body");
    let mut r = res(&srv.url("/b"));
    r.http_headers = vec![
        HttpHeader {
            name: "user-agent".into(),
            value: Some("mine".into()),
        },
        HttpHeader {
            name: "X-Token".into(),
            value: Some("t0k".into()),
        },
    ];
    f.fetch_bytes(&r, 100).unwrap();
    let reqs = srv.requests();
    let a = &reqs[0];
    assert!(a.header("user-agent").unwrap().starts_with("Ignition/"));
    assert_eq!(a.header("accept-encoding"), Some("identity"));
    assert!(a
        .header("accept")
        .unwrap()
        .starts_with("application/vnd.coreos.ignition+json"));
    let b = &reqs[1];
    assert_eq!(b.header("user-agent"), Some("mine"));
    assert_eq!(b.header("x-token"), Some("t0k"));
    assert_eq!(
        b.headers.iter().filter(|(n, _)| n == "user-agent").count(),
        1
    );
}

#[test]
fn statuses() {
    let srv = HttpServer::start(|r| match r.path.as_str() {
        "/204" => Reply::Full(204, vec![], vec![]),
        "/404" => status(404),
        "/403" => status(403),
        _ => ok("x"),
    });
    let f = Fetcher::new(fast()).unwrap();
    assert_eq!(f.fetch_bytes(&res(&srv.url("/204")), 10).unwrap(), b"");
    let e = f.fetch_bytes(&res(&srv.url("/404")), 10).unwrap_err();
    assert!(e.to_string().starts_with("resource not found"), "{e}");
    assert!(e.to_string().contains("/404"), "{e}");
    let e = f.fetch_bytes(&res(&srv.url("/403")), 10).unwrap_err();
    assert!(
        matches!(e, FetchError::HttpStatus { status: 403, .. }),
        "{e}"
    );
    assert!(e.to_string().starts_with("failed to fetch resource"), "{e}");
    // 4xx is not retried.
    assert_eq!(
        srv.requests().iter().filter(|r| r.path == "/403").count(),
        1
    );
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let n = Arc::new(AtomicU32::new(0));
    let n2 = n.clone();
    let srv = HttpServer::start(move |_| {
        if n2.fetch_add(1, Ordering::SeqCst) < 3 {
            status(503)
        } else {
            ok("finally")
        }
    });
    let f = Fetcher::new(fast()).unwrap();
    assert_eq!(
        f.fetch_bytes(&res(&srv.url("/x")), 100).unwrap(),
        b"finally"
    );
    assert_eq!(n.load(Ordering::SeqCst), 4);
}

#[test]
fn retries_stop_at_the_total_timeout_naming_the_last_status() {
    let srv = HttpServer::start(|_| status(500));
    let mut o = fast();
    o.total_timeout = Some(Duration::from_millis(300));
    let f = Fetcher::new(o).unwrap();
    let start = Instant::now();
    let e = f.fetch_bytes(&res(&srv.url("/x")), 100).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3));
    match &e {
        FetchError::Timeout { attempts, last, .. } => {
            assert!(*attempts > 2, "{e}");
            assert_eq!(*last, LastAttempt::Status(500));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(e.http_status(), Some(500));
    assert!(e
        .to_string()
        .starts_with("unable to fetch resource in time"));
    assert!(e.to_string().contains(&srv.url("/x")), "{e}");
}

#[test]
fn unreachable_url_fails_with_the_cli_bound() {
    // A port that was just free: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut o = fast();
    o.total_timeout = None;
    o.unlimited_total_bound = Some(Duration::from_millis(200));
    let f = Fetcher::new(o).unwrap();
    let e = f
        .fetch_bytes(&res(&format!("http://127.0.0.1:{port}/c.ign")), 100)
        .unwrap_err();
    assert!(
        matches!(
            &e,
            FetchError::Timeout {
                last: LastAttempt::Transport(_),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn response_header_timeout_applies_per_attempt() {
    let n = Arc::new(AtomicU32::new(0));
    let n2 = n.clone();
    let srv = HttpServer::start(move |_| {
        if n2.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::Hang
        } else {
            ok("second")
        }
    });
    let mut o = fast();
    o.response_header_timeout = Some(Duration::from_millis(150));
    let f = Fetcher::new(o).unwrap();
    let start = Instant::now();
    assert_eq!(f.fetch_bytes(&res(&srv.url("/x")), 100).unwrap(), b"second");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn redirects_drop_headers() {
    let srv = HttpServer::start(|r| match r.path.as_str() {
        "/start" => redirect(302, "/next"),
        "/next" => redirect(307, "/final"),
        "/loop" => redirect(301, "/loop"),
        _ => ok("landed"),
    });
    let f = Fetcher::new(fast()).unwrap();
    let mut r = res(&srv.url("/start"));
    r.http_headers = vec![HttpHeader {
        name: "Authorization".into(),
        value: Some("secret".into()),
    }];
    assert_eq!(f.fetch_bytes(&r, 100).unwrap(), b"landed");
    let reqs = srv.requests();
    let paths: Vec<_> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/start", "/next", "/final"]);
    assert_eq!(reqs[0].header("authorization"), Some("secret"));
    assert_eq!(reqs[1].header("authorization"), None);
    assert_eq!(reqs[2].header("authorization"), None);
    assert_eq!(reqs[2].header("user-agent"), None);
    let e = f.fetch_bytes(&res(&srv.url("/loop")), 100).unwrap_err();
    assert!(e.to_string().contains("redirects"), "{e}");
}

#[test]
fn gzip_and_sha512_over_http() {
    let data = b"compressed payload\n".repeat(1000);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&data).unwrap();
    let gz = enc.finish().unwrap();
    let srv = HttpServer::start(move |_| ok(gz.clone()));
    let f = Fetcher::new(fast()).unwrap();
    let mut r = res(&srv.url("/f.gz"));
    r.compression = Some("gzip".into());
    r.verification.hash = Some(format!("sha512-{}", hex::encode(Sha512::digest(&data))));
    let mut out = Vec::new();
    assert_eq!(f.fetch_into(&r, &mut out).unwrap(), data.len() as u64);
    assert_eq!(out, data);
    r.verification.hash = Some(format!("sha512-{}", "ab".repeat(64)));
    let e = f.fetch_into(&r, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, FetchError::HashMismatch { .. }), "{e}");
}

#[test]
fn http_goes_to_the_proxy_in_absolute_form() {
    let backend = HttpServer::start(|r| ok(format!("via {}", r.path)));
    for chunked in [false, true] {
        let proxy = ForwardProxy::start(backend.addr, chunked);
        let mut o = fast();
        o.proxy.http_proxy = Some(format!("http://user:p%40ss@{}", proxy.addr));
        let f = Fetcher::new(o.clone()).unwrap();
        // A name that does not resolve: only the proxy can reach it.
        let mut r = res("http://config.example.invalid:8080/c.ign");
        r.http_headers = vec![HttpHeader {
            name: "X-Token".into(),
            value: Some("t".into()),
        }];
        assert_eq!(f.fetch_bytes(&r, 100).unwrap(), b"via /c.ign");
        let reqs = proxy.requests.lock().unwrap().clone();
        assert_eq!(
            reqs[0].0,
            "GET http://config.example.invalid:8080/c.ign HTTP/1.1"
        );
        let h = |n: &str| {
            reqs[0]
                .1
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("host").as_deref(), Some("config.example.invalid:8080"));
        assert_eq!(h("x-token").as_deref(), Some("t"));
        assert_eq!(h("accept-encoding").as_deref(), Some("identity"));
        // user:p@ss
        assert_eq!(
            h("proxy-authorization").as_deref(),
            Some("Basic dXNlcjpwQHNz")
        );
        // Loopback never goes through the proxy (Go's httpproxy rule).
        f.fetch_bytes(&res(&backend.url("/direct")), 100).unwrap();
        assert_eq!(proxy.requests.lock().unwrap().len(), 1);
        // noProxy sends the host direct: it cannot resolve, so it fails.
        o.proxy.no_proxy = vec![".example.invalid".into()];
        o.total_timeout = Some(Duration::from_millis(100));
        let f = Fetcher::new(o).unwrap();
        assert!(f
            .fetch_bytes(&res("http://config.example.invalid/c.ign"), 100)
            .is_err());
        assert_eq!(proxy.requests.lock().unwrap().len(), 1);
    }
}

#[test]
fn https_goes_through_a_connect_tunnel() {
    let p = pki_for(&["tls.example.invalid"]);
    let srv = start_https(p.leaf_der.clone(), p.key_der.clone(), |r| {
        ok(format!("tls {}", r.path))
    });
    let proxy = ConnectProxy::start(srv.addr);
    let mut o = fast();
    o.proxy.https_proxy = Some(format!("http://{}", proxy.addr));
    o.ca_bundles = vec![p.ca_pem.clone().into_bytes()];
    let f = Fetcher::new(o).unwrap();
    // The name resolves nowhere: the tunnel ends at the test server, whose
    // certificate is for that name.
    let body = f
        .fetch_bytes(&res("https://tls.example.invalid/x"), 100)
        .unwrap();
    assert_eq!(body, b"tls /x");
    assert_eq!(
        proxy.targets.lock().unwrap().clone(),
        ["CONNECT tls.example.invalid:443 HTTP/1.1"]
    );
}

#[test]
fn proxy_status_codes_and_redirects() {
    let backend = HttpServer::start(|r| match r.path.as_str() {
        "/moved" => redirect(302, "/here"),
        "/here" => ok("here"),
        _ => status(404),
    });
    let proxy = ForwardProxy::start(backend.addr, false);
    let mut o = fast();
    o.proxy.http_proxy = Some(proxy.addr.to_string());
    let f = Fetcher::new(o).unwrap();
    assert_eq!(
        f.fetch_bytes(&res("http://h.example.invalid/moved"), 100)
            .unwrap(),
        b"here"
    );
    let e = f
        .fetch_bytes(&res("http://h.example.invalid/none"), 100)
        .unwrap_err();
    assert!(matches!(e, FetchError::NotFound { .. }), "{e}");
    let lines: Vec<_> = proxy
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert_eq!(
        lines,
        [
            "GET http://h.example.invalid/moved HTTP/1.1",
            "GET http://h.example.invalid/here HTTP/1.1",
            "GET http://h.example.invalid/none HTTP/1.1"
        ]
    );
}

#[test]
fn fetch_bytes_enforces_its_limit() {
    let srv = HttpServer::start(|_| ok(vec![b'x'; 1000]));
    let f = Fetcher::new(fast()).unwrap();
    let e = f.fetch_bytes(&res(&srv.url("/big")), 999).unwrap_err();
    assert!(matches!(e, FetchError::TooLarge { limit: 999, .. }), "{e}");
}
