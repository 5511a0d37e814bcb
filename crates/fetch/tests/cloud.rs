//! `s3://`, `arn:` and `gs://` end to end without the internet: an HTTPS
//! proxy tunnels every `CONNECT` to a local TLS server whose certificate
//! (signed by a test CA) names the public endpoints, so the requests the
//! fetcher builds for the cloud schemes can be observed.

mod common;

use std::time::Duration;

use common::*;
use reignite_fetch::{FetchError, FetchOptions, Fetcher};
use reignite_spec::Resource;

struct Cloud {
    fetcher: Fetcher,
    server: HttpServer,
    proxy: ConnectProxy,
}

fn cloud() -> Cloud {
    let p = pki_for(&[
        "bucket.s3.amazonaws.com",
        "s3.amazonaws.com",
        "ap-123456789012.s3-accesspoint.eu-west-1.amazonaws.com",
        "storage.googleapis.com",
    ]);
    let server = start_https(p.leaf_der.clone(), p.key_der.clone(), |r| {
        if r.path.contains("private") {
            status(403)
        } else if r.path.contains("missing") {
            status(404)
        } else {
            ok(format!("object at {}", r.path))
        }
    });
    let proxy = ConnectProxy::start(server.addr);
    let mut o = FetchOptions::default();
    o.proxy.https_proxy = Some(format!("http://{}", proxy.addr));
    o.ca_bundles = vec![p.ca_pem.into_bytes()];
    o.initial_backoff = Duration::from_millis(5);
    o.total_timeout = Some(Duration::from_secs(5));
    Cloud {
        fetcher: Fetcher::new(o).unwrap(),
        server,
        proxy,
    }
}

fn res(url: &str) -> Resource {
    Resource {
        source: Some(url.into()),
        ..Default::default()
    }
}

fn get(c: &Cloud, url: &str) -> Result<String, FetchError> {
    c.fetcher
        .fetch_bytes(&res(url), 1000)
        .map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn public_objects_are_fetched_anonymously() {
    let c = cloud();
    assert_eq!(
        get(&c, "s3://bucket/dir/obj.ign?versionId=v2").unwrap(),
        "object at /dir/obj.ign?versionId=v2"
    );
    assert_eq!(
        get(&c, "s3://my.dotted.bucket/o").unwrap(),
        "object at /my.dotted.bucket/o"
    );
    assert_eq!(
        get(&c, "arn:aws:s3:::bucket/k/x").unwrap(),
        "object at /k/x"
    );
    assert_eq!(
        get(
            &c,
            "arn:aws:s3:eu-west-1:123456789012:accesspoint/ap/object/some/key"
        )
        .unwrap(),
        "object at /some/key"
    );
    assert_eq!(
        get(&c, "gs://gbucket/dir/o.ign").unwrap(),
        "object at /storage/v1/b/gbucket/o/dir%2Fo.ign?alt=media"
    );
    // Tunnels may be reused from the pool, so compare the set of hosts.
    let mut targets = c.proxy.targets.lock().unwrap().clone();
    targets.sort();
    targets.dedup();
    assert_eq!(
        targets,
        [
            "CONNECT ap-123456789012.s3-accesspoint.eu-west-1.amazonaws.com:443 HTTP/1.1",
            "CONNECT bucket.s3.amazonaws.com:443 HTTP/1.1",
            "CONNECT s3.amazonaws.com:443 HTTP/1.1",
            "CONNECT storage.googleapis.com:443 HTTP/1.1",
        ]
    );
    // Cloud requests carry no config headers: there is nowhere to put them.
    assert!(c
        .server
        .requests()
        .iter()
        .all(|r| r.header("x-auth").is_none()));
}

#[test]
fn denied_objects_name_the_missing_credentials() {
    let c = cloud();
    let e = get(&c, "s3://bucket/private.ign").unwrap_err();
    assert!(
        matches!(e, FetchError::CredentialsRequired { status: 403, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("s3://bucket/private.ign"), "{msg}");
    assert!(msg.contains("AWS credentials"), "{msg}");
    let e = get(&c, "gs://b/private").unwrap_err();
    assert!(e.to_string().contains("Google Cloud credentials"), "{e}");
    let e = get(&c, "gs://b/missing").unwrap_err();
    assert!(matches!(e, FetchError::NotFound { .. }), "{e}");
}
