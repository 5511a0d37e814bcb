//! A TFTP client (RFC 1350, read requests in `octet` mode, no option
//! negotiation) exposed as a `Read`, so a transfer streams block by block.
//! Like Ignition, `tftp://host/path` defaults to port 69 and sends the URL
//! path, leading `/` included, as the file name.

use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use crate::error::{display_url, FetchError};
use crate::FetchOptions;

const OP_RRQ: u16 = 1;
const OP_DATA: u16 = 3;
const OP_ACK: u16 = 4;
const OP_ERROR: u16 = 5;
const BLOCK: usize = 512;

/// Starts a transfer and returns a reader of the file's bytes. The first
/// block is awaited here so that "file not found" is reported as such.
pub(crate) fn open(source: &str, opts: &FetchOptions) -> Result<Box<dyn Read + Send>, FetchError> {
    let shown = display_url(source);
    let fail = |reason: String| FetchError::Tftp {
        url: shown.clone(),
        reason,
    };
    let url = url::Url::parse(source).map_err(|e| FetchError::InvalidUrl {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    let host = url
        .host_str()
        .ok_or_else(|| fail("missing host".into()))?
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port().unwrap_or(69);
    let server = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("resolving {host}: {e}")))?
        .next()
        .ok_or_else(|| fail(format!("no address for {host}")))?;
    let path = percent_decode(url.path());
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind).map_err(|e| fail(format!("binding a UDP socket: {e}")))?;
    sock.set_read_timeout(Some(opts.tftp_timeout))
        .map_err(|e| fail(e.to_string()))?;
    let mut rrq = Vec::with_capacity(path.len() + 10);
    rrq.extend_from_slice(&OP_RRQ.to_be_bytes());
    rrq.extend_from_slice(&path);
    rrq.push(0);
    rrq.extend_from_slice(b"octet\0");
    let mut reader = TftpReader {
        sock,
        server,
        peer: None,
        last_sent: rrq,
        next_block: 1,
        buf: Vec::new(),
        pos: 0,
        done: false,
        retries: opts.tftp_retries,
        url: shown.clone(),
    };
    reader.send_last().map_err(|e| fail(e.to_string()))?;
    match reader.fill() {
        Ok(()) => Ok(Box::new(reader)),
        Err(TftpError::NotFound(msg)) => {
            let _ = msg;
            Err(FetchError::NotFound {
                url: shown,
                status: None,
            })
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

#[derive(Debug)]
enum TftpError {
    NotFound(String),
    Remote(u16, String),
    Io(io::Error),
    TimedOut(u32),
}

impl std::fmt::Display for TftpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TftpError::NotFound(m) => write!(f, "file not found: {m}"),
            TftpError::Remote(c, m) => write!(f, "server error {c}: {m}"),
            TftpError::Io(e) => write!(f, "{e}"),
            TftpError::TimedOut(n) => write!(f, "no answer after {n} retransmissions"),
        }
    }
}

struct TftpReader {
    sock: UdpSocket,
    server: SocketAddr,
    /// The server's transfer port, learnt from its first DATA packet.
    peer: Option<SocketAddr>,
    last_sent: Vec<u8>,
    next_block: u16,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    retries: u32,
    url: String,
}

impl TftpReader {
    fn send_last(&self) -> io::Result<()> {
        let to = self.peer.unwrap_or(self.server);
        self.sock.send_to(&self.last_sent, to).map(|_| ())
    }

    /// Receives the next DATA block into `buf` and acknowledges it.
    fn fill(&mut self) -> Result<(), TftpError> {
        let mut pkt = [0u8; 4 + BLOCK + 4];
        let mut timeouts = 0;
        loop {
            let (n, from) = match self.sock.recv_from(&mut pkt) {
                Ok(r) => r,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    timeouts += 1;
                    if timeouts > self.retries {
                        return Err(TftpError::TimedOut(self.retries));
                    }
                    self.send_last().map_err(TftpError::Io)?;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TftpError::Io(e)),
            };
            match self.peer {
                None if from.ip() == self.server.ip() => self.peer = Some(from),
                Some(p) if p == from => {}
                // A stray packet from another TID: tell it off and go on
                // (RFC 1350 §4).
                _ => {
                    let mut err = OP_ERROR.to_be_bytes().to_vec();
                    err.extend_from_slice(&5u16.to_be_bytes());
                    err.extend_from_slice(b"Unknown transfer ID\0");
                    let _ = self.sock.send_to(&err, from);
                    continue;
                }
            }
            if n < 4 {
                continue;
            }
            let op = u16::from_be_bytes([pkt[0], pkt[1]]);
            let arg = u16::from_be_bytes([pkt[2], pkt[3]]);
            match op {
                OP_DATA if arg == self.next_block => {
                    self.buf.clear();
                    self.buf.extend_from_slice(&pkt[4..n]);
                    self.pos = 0;
                    self.done = n - 4 < BLOCK;
                    let mut ack = OP_ACK.to_be_bytes().to_vec();
                    ack.extend_from_slice(&arg.to_be_bytes());
                    self.last_sent = ack;
                    self.send_last().map_err(TftpError::Io)?;
                    self.next_block = self.next_block.wrapping_add(1);
                    return Ok(());
                }
                // A duplicate of the previous block: our ACK was lost.
                OP_DATA if arg == self.next_block.wrapping_sub(1) => {
                    self.send_last().map_err(TftpError::Io)?;
                }
                OP_ERROR => {
                    let msg = String::from_utf8_lossy(&pkt[4..n])
                        .trim_end_matches('\0')
                        .to_string();
                    return Err(if arg == 1 {
                        TftpError::NotFound(msg)
                    } else {
                        TftpError::Remote(arg, msg)
                    });
                }
                _ => {}
            }
        }
    }
}

impl Read for TftpReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.fill().map_err(|e| {
                io::Error::other(format!("tftp transfer of {} failed: {e}", self.url))
            })?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = (b[i + 1] as char).to_digit(16);
            let l = (b[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(percent_decode("/a%20b/c%2"), b"/a b/c%2");
        assert_eq!(percent_decode("/x%41"), b"/xA");
    }
}
