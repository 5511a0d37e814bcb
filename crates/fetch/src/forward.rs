//! Plain-`http` requests through an `http` proxy in absolute form
//! (`GET http://host/path HTTP/1.1`), as Go's transport sends them. ureq
//! only tunnels with `CONNECT`, which many proxies refuse for port 80
//! (Squid's default `deny CONNECT !SSL_ports`) and which Ignition's own
//! proxy tests do not expect. HTTPS targets keep using ureq's `CONNECT`,
//! as Go does.
//!
//! One request per connection (`Connection: close`); bodies framed by
//! `Content-Length`, `chunked` or the end of the connection.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// A response read through the proxy.
pub(crate) struct Forwarded {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: Box<dyn Read + Send>,
}

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Sends `GET target` to `proxy` and reads the response head. Errors are
/// transport errors (retried by the caller).
pub(crate) fn get(
    proxy: &url::Url,
    target: &url::Url,
    headers: &[(String, String)],
    connect_timeout: Option<Duration>,
    header_timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<Forwarded, String> {
    let host = proxy.host_str().ok_or("proxy URL without host")?;
    let port = proxy.port_or_known_default().unwrap_or(80);
    let addrs: Vec<_> = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving proxy {host}: {e}"))?
        .collect();
    let remaining = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let connect_limit = min_opt(connect_timeout, remaining()).unwrap_or(Duration::from_secs(30));
    let mut last_err = format!("no address for proxy {host}");
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, connect_limit.max(Duration::from_millis(1))) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("connecting to proxy {a}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_err)?;

    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n",
        target.as_str(),
        host_header(target)
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !proxy.username().is_empty() {
        let creds = format!(
            "{}:{}",
            percent_decode(proxy.username()),
            percent_decode(proxy.password().unwrap_or(""))
        );
        req.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(creds)
        ));
    }
    req.push_str("Connection: close\r\n\r\n");
    stream
        .set_write_timeout(remaining().or(Some(Duration::from_secs(30))))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("sending request to proxy: {e}"))?;

    stream
        .set_read_timeout(nonzero(min_opt(header_timeout, remaining())))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let (status, head) = loop {
        let (status, head) = read_head(&mut reader)?;
        // Skip interim responses (100 Continue and friends).
        if !(100..200).contains(&status) {
            break (status, head);
        }
    };
    reader
        .get_ref()
        .set_read_timeout(nonzero(remaining()))
        .map_err(|e| e.to_string())?;
    let header = |name: &str| {
        head.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let location = header("location");
    let chunked =
        header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body: Box<dyn Read + Send> = if chunked {
        Box::new(Deadline {
            inner: Chunked::new(reader),
            deadline,
        })
    } else if let Some(len) = header("content-length") {
        let len: u64 = len
            .trim()
            .parse()
            .map_err(|_| format!("bad Content-Length {len:?} from proxy"))?;
        Box::new(Deadline {
            inner: Exact {
                inner: reader.take(len),
                left: len,
            },
            deadline,
        })
    } else {
        Box::new(Deadline {
            inner: reader,
            deadline,
        })
    };
    Ok(Forwarded {
        status,
        location,
        body,
    })
}

fn host_header(u: &url::Url) -> String {
    let host = u.host_str().unwrap_or("");
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `set_read_timeout` rejects zero; a spent budget becomes 1 ms.
fn nonzero(d: Option<Duration>) -> Option<Duration> {
    d.map(|d| d.max(Duration::from_millis(1)))
}

fn read_head<R: BufRead>(r: &mut R) -> Result<(u16, Vec<(String, String)>), String> {
    let mut total = 0;
    let mut line = String::new();
    let mut next = |line: &mut String| -> Result<(), String> {
        line.clear();
        let n = r
            .read_line(line)
            .map_err(|e| format!("reading the response from the proxy: {e}"))?;
        if n == 0 {
            return Err("proxy closed the connection before answering".into());
        }
        total += n;
        if total > MAX_HEAD {
            return Err("response head from proxy too large".into());
        }
        Ok(())
    };
    next(&mut line)?;
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| version.starts_with("HTTP/"))
        .ok_or_else(|| format!("malformed status line from proxy: {:?}", line.trim_end()))?;
    let mut headers = Vec::new();
    loop {
        next(&mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// A `Content-Length` body that must not end early.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed with {} body bytes missing", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Fails reads once the total deadline has passed.
struct Deadline<R> {
    inner: R,
    deadline: Option<Instant>,
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "unable to fetch resource in time",
            ));
        }
        self.inner.read(buf)
    }
}

/// `Transfer-Encoding: chunked` decoding (trailers skipped).
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Self {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut l = String::new();
        if self.inner.read_line(&mut l)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            ));
        }
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let size_line = self.line()?;
            let size = size_line.split(';').next().unwrap_or("").trim();
            self.left = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {size:?}"),
                )
            })?;
            if self.left == 0 {
                // Trailers up to the empty line.
                while !self.line()?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        self.left -= n as u64;
        if self.left == 0 {
            // The CRLF after the chunk data.
            let _ = self.line()?;
        }
        Ok(n)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (
                (b[i + 1] as char).to_digit(16),
                (b[i + 2] as char).to_digit(16),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
        let mut out = String::new();
        Chunked::new(&raw[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello, world");
        let cut = b"5\r\nhel";
        let err = Chunked::new(&cut[..])
            .read_to_string(&mut String::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn heads_parse_and_short_bodies_fail() {
        let raw = b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n";
        let (status, head) = read_head(&mut &raw[..]).unwrap();
        assert_eq!(status, 302);
        assert_eq!(head[0], ("Location".to_string(), "/x".to_string()));
        assert!(read_head(&mut &b"garbage\r\n\r\n"[..]).is_err());
        let mut e = Exact {
            inner: &b"abc"[..],
            left: 5,
        };
        let err = e.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
