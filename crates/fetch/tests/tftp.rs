//! TFTP fetching against a local RFC 1350 server.

mod common;

use std::time::Duration;

use common::{TftpBehaviour, TftpServer};
use reignite_fetch::{FetchError, FetchOptions, Fetcher};
use reignite_spec::Resource;

fn fetcher() -> Fetcher {
    let mut o = FetchOptions::default();
    o.tftp_timeout = Duration::from_millis(100);
    o.tftp_retries = 5;
    Fetcher::new(o).unwrap()
}

fn res(url: String) -> Resource {
    Resource {
        source: Some(url),
        ..Default::default()
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn block_boundaries() {
    let files = vec![
        ("/small".to_string(), b"hello tftp".to_vec()),
        ("/exact".to_string(), pattern(1024)),
        ("/multi".to_string(), pattern(1500)),
        ("/empty".to_string(), vec![]),
        ("/dir/with space".to_string(), b"spaced".to_vec()),
    ];
    let srv = TftpServer::start(files.clone(), TftpBehaviour::default());
    let f = fetcher();
    for (name, data) in &files {
        let url = format!("tftp://{}{}", srv.addr, name.replace(' ', "%20"));
        assert_eq!(&f.fetch_bytes(&res(url), 1 << 20).unwrap(), data, "{name}");
    }
    // Ignition sends the URL path, leading slash included.
    assert_eq!(srv.requests.lock().unwrap()[0], "/small");
}

#[test]
fn lost_packets_are_retransmitted() {
    let data = pattern(3000);
    let srv = TftpServer::start(
        vec![("/f".into(), data.clone())],
        TftpBehaviour {
            drop_block_once: Some(3),
        },
    );
    let got = fetcher()
        .fetch_bytes(&res(format!("tftp://{}/f", srv.addr)), 1 << 20)
        .unwrap();
    assert_eq!(got, data);
}

#[test]
fn missing_file_is_not_found() {
    let srv = TftpServer::start(vec![], TftpBehaviour::default());
    let e = fetcher()
        .fetch_bytes(&res(format!("tftp://{}/nope", srv.addr)), 100)
        .unwrap_err();
    assert!(matches!(e, FetchError::NotFound { .. }), "{e}");
    assert!(e.to_string().starts_with("resource not found"));
}

#[test]
fn silent_server_times_out() {
    // A bound socket that never answers.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let e = fetcher()
        .fetch_bytes(
            &res(format!("tftp://{}/x", sock.local_addr().unwrap())),
            100,
        )
        .unwrap_err();
    assert!(matches!(e, FetchError::Tftp { .. }), "{e}");
    assert!(e.to_string().contains("no answer"), "{e}");
}
