//! Local stand-ins for the fixed-payload servers of upstream's blackbox suite
//! (`tests/servers/servers.go`): HTTP on 127.0.0.1:8080 serving `/contents`,
//! `/config`, their `_compressed`, `_headers`, `_headers_redirect(ed)` and
//! `_headers_overwrite` variants with the same header checks, and TFTP on
//! 127.0.0.1:69 serving any name containing `contents` or `config`. The
//! payloads are upstream's constants. The certificate endpoints are not
//! reproduced (they need upstream's fixture keys).

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::OnceLock;
use std::time::Duration;

/// Upstream's `servedConfig`, byte for byte.
pub const SERVED_CONFIG: &str = "{\n\t\"ignition\": { \"version\": \"3.0.0\" },\n\t\"storage\": {\n\t\t\"files\": [{\n\t\t\t\"path\": \"/foo/bar\",\n\t\t\t\"contents\": { \"source\": \"data:,example%20file%0A\" }\n\t\t}]\n\t}\n}";
/// Upstream's `servedContents`.
pub const SERVED_CONTENTS: &str = "asdf\nfdsa";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Starts both servers once; returns why they are unavailable, if they are.
pub fn start() -> Result<(), String> {
    static STATE: OnceLock<Result<(), String>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let http = TcpListener::bind("127.0.0.1:8080")
                .map_err(|e| format!("cannot listen on 127.0.0.1:8080: {e}"))?;
            let tftp = UdpSocket::bind("127.0.0.1:69")
                .map_err(|e| format!("cannot listen on 127.0.0.1:69: {e}"))?;
            std::thread::spawn(move || {
                for conn in http.incoming().flatten() {
                    std::thread::spawn(move || {
                        let _ = serve_http(conn);
                    });
                }
            });
            std::thread::spawn(move || serve_tftp(tftp));
            Ok(())
        })
        .clone()
}

fn header_check(h: &[(String, String)], checks: &[(&str, &str)]) -> Option<String> {
    let get = |k: &str| {
        h.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    for (k, want) in checks {
        match get(k) {
            Some(v) if v == *want => {}
            Some(_) => return Some(format!("{k} header value is incorrect")),
            None => return Some(format!("{k} header is missing")),
        }
    }
    None
}

fn serve_http(mut conn: std::net::TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let name = path.trim_start_matches('/');
    let (kind, variant) = match name.split_once('_') {
        Some((k, v)) => (k, v),
        None => (name, ""),
    };
    let payload: Option<Vec<u8>> = match kind {
        "contents" => Some(SERVED_CONTENTS.as_bytes().to_vec()),
        "config" => Some(SERVED_CONFIG.as_bytes().to_vec()),
        _ => None,
    };
    let (status, extra, body) = match (payload, variant) {
        (None, _) => (
            "404 Not Found",
            String::new(),
            b"404 page not found\n".to_vec(),
        ),
        (Some(p), "") => ("200 OK", String::new(), p),
        (Some(p), "compressed") => ("200 OK", String::new(), gzip(&p)),
        (Some(p), "headers") => {
            let mut err = header_check(
                &headers,
                &[
                    ("X-Auth", "r8ewap98gfh4d8"),
                    ("Keep-Alive", "300"),
                    (
                        "Accept",
                        "application/vnd.coreos.ignition+json;version=3.6.0, */*;q=0.1",
                    ),
                    ("Accept-Encoding", "identity"),
                ],
            );
            let ua = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"));
            if err.is_none() && !ua.is_some_and(|(_, v)| v.starts_with("Ignition/")) {
                err = Some("User-Agent header value is incorrect".into());
            }
            match err {
                // Upstream writes the error and then the payload as well.
                Some(e) => (
                    "400 Bad Request",
                    String::new(),
                    [e.into_bytes(), p].concat(),
                ),
                None => ("200 OK", String::new(), p),
            }
        }
        (Some(p), "headers_redirect") => (
            "302 Found",
            format!("Location: http://127.0.0.1:8080/{kind}_headers_redirected\r\n"),
            p,
        ),
        (Some(p), "headers_redirected") => {
            let has = |k: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(k));
            if has("X-Auth") || has("Keep-Alive") {
                (
                    "400 Bad Request",
                    String::new(),
                    b"Found redundant header".to_vec(),
                )
            } else {
                ("200 OK", String::new(), p)
            }
        }
        (Some(p), "headers_overwrite") => {
            match header_check(
                &headers,
                &[
                    ("Keep-Alive", "1000"),
                    ("Accept", "application/json"),
                    ("Accept-Encoding", "identity, compress"),
                    ("User-Agent", "MyUA"),
                ],
            ) {
                Some(e) => (
                    "400 Bad Request",
                    String::new(),
                    [e.into_bytes(), p].concat(),
                ),
                None => ("200 OK", String::new(), p),
            }
        }
        (Some(_), _) => (
            "404 Not Found",
            String::new(),
            b"404 page not found\n".to_vec(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(&body)?;
    conn.flush()
}

fn serve_tftp(sock: UdpSocket) {
    let mut buf = [0u8; 1024];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if n < 4 || buf[..2] != [0, 1] {
            continue;
        }
        let name = String::from_utf8_lossy(&buf[2..n])
            .split('\0')
            .next()
            .unwrap_or("")
            .to_string();
        std::thread::spawn(move || {
            let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let data: Vec<u8> = if name.contains("contents") {
                SERVED_CONTENTS.as_bytes().to_vec()
            } else if name.contains("config") {
                SERVED_CONFIG.as_bytes().to_vec()
            } else {
                let mut e = vec![0, 5, 0, 1];
                e.extend_from_slice(format!("no such file {name:?}").as_bytes());
                e.push(0);
                let _ = s.send_to(&e, peer);
                return;
            };
            let mut block: u16 = 1;
            let mut off = 0;
            loop {
                let end = (off + 512).min(data.len());
                let mut pkt = vec![0, 3];
                pkt.extend_from_slice(&block.to_be_bytes());
                pkt.extend_from_slice(&data[off..end]);
                let mut acked = false;
                for _ in 0..5 {
                    if s.send_to(&pkt, peer).is_err() {
                        return;
                    }
                    let mut ack = [0u8; 516];
                    if let Ok((m, _)) = s.recv_from(&mut ack) {
                        if m >= 4 && ack[..2] == [0, 4] && ack[2..4] == block.to_be_bytes() {
                            acked = true;
                            break;
                        }
                    }
                }
                if !acked || end - off < 512 {
                    return;
                }
                off = end;
                block = block.wrapping_add(1);
            }
        });
    }
}
