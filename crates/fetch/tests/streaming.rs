//! A large file streams through fetch, gzip and sha512 without being held
//! in memory. Its own test binary so peak RSS is not mixed with other tests.

mod common;

use std::io::{self, Read, Write};
use std::time::Duration;

use common::{HttpServer, Reply};
use reignite_fetch::{FetchOptions, Fetcher};
use reignite_spec::Resource;
use sha2::{Digest, Sha512};

const SIZE: u64 = 128 << 20;

/// Deterministic bytes without storing them.
struct Pattern {
    left: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One 253-byte period copied around: varied bytes, no per-byte
        // arithmetic in this unoptimised test binary.
        const PERIOD: [u8; 253] = {
            let mut p = [0u8; 253];
            let mut i = 0;
            while i < 253 {
                p[i] = i as u8;
                i += 1;
            }
            p
        };
        let n = buf.len().min(self.left as usize);
        for chunk in buf[..n].chunks_mut(PERIOD.len()) {
            chunk.copy_from_slice(&PERIOD[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

struct Sink(u64);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn large_file_streams_in_bounded_memory() {
    let mut h = Sha512::new();
    io::copy(&mut Pattern { left: SIZE }, &mut HashWriter(&mut h)).unwrap();
    let digest = hex::encode(h.finalize());
    let srv = HttpServer::start(|_| Reply::Stream(200, SIZE, Box::new(Pattern { left: SIZE })));
    let mut o = FetchOptions::default();
    o.total_timeout = Some(Duration::from_secs(120));
    let f = Fetcher::new(o).unwrap();
    let before = peak_rss_kib();
    let mut sink = Sink(0);
    let res = Resource {
        source: Some(srv.url("/big")),
        verification: reignite_spec::Verification {
            hash: Some(format!("sha512-{digest}")),
        },
        ..Default::default()
    };
    assert_eq!(f.fetch_into(&res, &mut sink).unwrap(), SIZE);
    assert_eq!(sink.0, SIZE);
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "peak RSS grew by {grown} KiB");
}

struct HashWriter<'a>(&'a mut Sha512);

impl Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
