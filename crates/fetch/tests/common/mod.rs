//! Test servers on 127.0.0.1 ephemeral ports: a tiny HTTP/1.1 server driven
//! by a handler closure, a CONNECT proxy and a TFTP server. Each runs on
//! its own thread for the life of the test process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler answers.
pub enum Reply {
    /// Status, extra headers, body.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// A body streamed from a reader with a known length.
    Stream(u16, u64, Box<dyn Read + Send>),
    /// Accept the request and never answer.
    Hang,
}

pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
    Reply::Full(200, vec![], body.into())
}

pub fn status(code: u16) -> Reply {
    Reply::Full(code, vec![], format!("status {code}").into_bytes())
}

pub fn redirect(code: u16, location: &str) -> Reply {
    Reply::Full(code, vec![("Location".into(), location.into())], vec![])
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A running HTTP server.
pub struct HttpServer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log2 = log.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                let log = log2.clone();
                thread::spawn(move || serve_conn(stream, &*handler, &log));
            }
        });
        HttpServer { addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

fn serve_conn<S: Read + Write>(stream: S, handler: &Handler, log: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let req = Request { path, headers };
        log.lock().unwrap().push(req.clone());
        let out = reader.get_mut();
        match handler(&req) {
            Reply::Hang => {
                thread::sleep(Duration::from_secs(30));
                return;
            }
            Reply::Full(code, extra, body) => {
                let mut head = format!("HTTP/1.1 {code} X\r\nContent-Length: {}\r\n", body.len());
                for (n, v) in extra {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).is_err()
                    || out.write_all(&body).is_err()
                    || out.flush().is_err()
                {
                    return;
                }
            }
            Reply::Stream(code, len, mut body) => {
                let head = format!("HTTP/1.1 {code} X\r\nContent-Length: {len}\r\n\r\n");
                if out.write_all(head.as_bytes()).is_err() {
                    return;
                }
                if std::io::copy(&mut body, out).is_err() || out.flush().is_err() {
                    return;
                }
            }
        }
    }
}

/// An HTTPS server: the same handler behind rustls with the given chain.
pub fn start_https(
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
) -> HttpServer {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let log2 = log.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let handler = handler.clone();
            let log = log2.clone();
            let config = config.clone();
            thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let tls = rustls::StreamOwned::new(conn, stream);
                serve_conn(tls, &*handler, &log)
            });
        }
    });
    HttpServer { addr, log }
}

/// A CONNECT proxy that tunnels every request to `backend`, whatever host
/// was asked for, and records the CONNECT targets.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    pub targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start(backend: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let t2 = targets.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(client) = stream else { continue };
                let targets = t2.clone();
                thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                    }
                    targets.lock().unwrap().push(line.trim().to_string());
                    let upstream = TcpStream::connect(backend).unwrap();
                    let mut c = client;
                    c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    let mut up_r = upstream.try_clone().unwrap();
                    let mut c_w = c.try_clone().unwrap();
                    thread::spawn(move || {
                        let _ = std::io::copy(&mut up_r, &mut c_w);
                    });
                    let mut up_w = upstream;
                    // Bytes the BufReader already pulled in belong upstream.
                    let buffered = reader.buffer().to_vec();
                    let _ = up_w.write_all(&buffered);
                    let _ = std::io::copy(&mut reader, &mut up_w);
                });
            }
        });
        ConnectProxy { addr, targets }
    }
}

/// TFTP server behaviour knobs.
#[derive(Clone, Default)]
pub struct TftpBehaviour {
    /// Drop the first transmission of this block number (forces a retransmit).
    pub drop_block_once: Option<u16>,
}

/// A TFTP server serving `files` (name as sent in the RRQ → contents).
pub struct TftpServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl TftpServer {
    pub fn start(files: Vec<(String, Vec<u8>)>, behaviour: TftpBehaviour) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let r2 = requests.clone();
        let files = Arc::new(files);
        thread::spawn(move || {
            let mut buf = [0u8; 1024];
            loop {
                let Ok((n, client)) = sock.recv_from(&mut buf) else {
                    return;
                };
                if n < 4 || buf[1] != 1 {
                    continue;
                }
                let name_end = buf[2..n].iter().position(|&b| b == 0).unwrap() + 2;
                let name = String::from_utf8_lossy(&buf[2..name_end]).to_string();
                r2.lock().unwrap().push(name.clone());
                let files = files.clone();
                let behaviour = behaviour.clone();
                thread::spawn(move || serve_tftp(client, &name, &files, behaviour));
            }
        });
        TftpServer { addr, requests }
    }
}

fn serve_tftp(client: SocketAddr, name: &str, files: &[(String, Vec<u8>)], b: TftpBehaviour) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let Some((_, data)) = files.iter().find(|(n, _)| n == name) else {
        let mut e = vec![0, 5, 0, 1];
        e.extend_from_slice(b"File not found\0");
        sock.send_to(&e, client).unwrap();
        return;
    };
    let mut dropped = false;
    let mut block: u16 = 1;
    let mut offset = 0;
    loop {
        let end = (offset + 512).min(data.len());
        let mut pkt = vec![0, 3];
        pkt.extend_from_slice(&block.to_be_bytes());
        pkt.extend_from_slice(&data[offset..end]);
        let mut acked = false;
        for _ in 0..20 {
            if b.drop_block_once == Some(block) && !dropped {
                dropped = true;
            } else {
                sock.send_to(&pkt, client).unwrap();
            }
            let mut ack = [0u8; 16];
            match sock.recv_from(&mut ack) {
                Ok((4, _)) if ack[1] == 4 && u16::from_be_bytes([ack[2], ack[3]]) == block => {
                    acked = true;
                    break;
                }
                _ => continue,
            }
        }
        if !acked {
            return;
        }
        if end - offset < 512 {
            return;
        }
        offset = end;
        block = block.wrapping_add(1);
    }
}

/// A CA and a `localhost` leaf certificate it signed.
pub struct Pki {
    pub ca_pem: String,
    pub leaf_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

pub fn pki() -> Pki {
    pki_for(&["localhost"])
}

/// Like [`pki`] with a leaf certificate for `names`.
pub fn pki_for(names: &[&str]) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "reignite test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        leaf_der: leaf_cert.der().to_vec(),
        key_der: leaf_key.serialize_der(),
    }
}

/// An HTTP forward proxy for absolute-form requests (`GET http://h/p`): it
/// records each request line and its headers, fetches the path from
/// `backend` whatever host was named, and answers with the backend's
/// status and body, re-framed as `chunked` when asked to. One request per
/// connection.
pub struct ForwardProxy {
    pub addr: SocketAddr,
    pub requests: Arc<Recorded>,
}

impl ForwardProxy {
    pub fn start(backend: SocketAddr, chunked: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let r2 = requests.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(client) = stream else { continue };
                let requests = r2.clone();
                thread::spawn(move || forward_one(client, backend, chunked, &requests));
            }
        });
        ForwardProxy { addr, requests }
    }
}

/// Request lines with their (lower-cased) headers.
pub type Recorded = Mutex<Vec<(String, Vec<(String, String)>)>>;

fn read_head_lines<R: BufRead>(r: &mut R) -> (String, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        let (n, v) = h.trim_end().split_once(':').unwrap();
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    (line.trim_end().to_string(), headers)
}

fn forward_one(client: TcpStream, backend: SocketAddr, chunked: bool, log: &Recorded) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let (line, headers) = read_head_lines(&mut reader);
    log.lock().unwrap().push((line.clone(), headers));
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = match target.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or("/".into()),
        None => target,
    };
    let mut up = TcpStream::connect(backend).unwrap();
    write!(up, "GET {path} HTTP/1.1\r\nHost: backend\r\n\r\n").unwrap();
    let mut up_r = BufReader::new(up);
    let (status_line, resp_headers) = read_head_lines(&mut up_r);
    let len: usize = resp_headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    up_r.read_exact(&mut body).unwrap();
    let mut out = client;
    let mut head = format!("{status_line}\r\n");
    for (n, v) in &resp_headers {
        if n != "content-length" {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        out.write_all(head.as_bytes()).unwrap();
        for c in body.chunks(7) {
            write!(out, "{:x}\r\n", c.len()).unwrap();
            out.write_all(c).unwrap();
            out.write_all(b"\r\n").unwrap();
        }
        out.write_all(b"0\r\n\r\n").unwrap();
    } else {
        head.push_str(&format!("Content-Length: {len}\r\n\r\n"));
        out.write_all(head.as_bytes()).unwrap();
        out.write_all(&body).unwrap();
    }
}

/// An error and all its sources, joined as the CLI prints them (`a: b: c`).
#[allow(dead_code)]
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}
