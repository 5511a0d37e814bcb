//! A chain of threads that a small, fixed set of buffers circulates through.
//!
//! A source fills each buffer in payload order; every stage then sees every
//! buffer, in order, on its own thread; the last stage hands the buffer back
//! to the source. So reading chunk n+2, hashing chunk n+1 and writing chunk n
//! happen at the same time, memory is `buffers × chunk` and nothing is
//! allocated per chunk. Throughput is that of the slowest stage.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::dev::AlignedBuf;
use crate::Error;

/// Fills `buf` with the bytes at payload offset `off`. `buf` is the chunk
/// length rounded up to the chain's alignment; only the first
/// `min(chunk, total - off)` bytes are passed on.
pub(crate) type Source<'a> = Box<dyn FnMut(u64, &mut [u8]) -> Result<(), Error> + Send + 'a>;
/// Consumes the chunk at payload offset `off`.
pub(crate) type Stage<'a> = Box<dyn FnMut(u64, &[u8]) -> Result<(), Error> + Send + 'a>;

/// Shape of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chain {
    /// Bytes to move.
    pub total: u64,
    /// Bytes per chunk.
    pub chunk: usize,
    /// Buffers in circulation (at least 2).
    pub buffers: usize,
    /// Alignment of buffer addresses and of the length handed to the source
    /// (1, or the direct-I/O alignment).
    pub align: usize,
}

struct Buf {
    mem: AlignedBuf,
    off: u64,
    len: usize,
}

fn panicked(what: &str) -> Error {
    Error::Io {
        context: format!("{what} thread"),
        source: std::io::Error::other("panicked"),
    }
}

impl Chain {
    /// Runs `source` over `[0, total)` and every chunk through `stages`.
    /// The first error in chain order is returned (a stage that stops
    /// because a later one failed does not mask that failure).
    pub(crate) fn run(&self, mut source: Source<'_>, stages: Vec<Stage<'_>>) -> Result<(), Error> {
        let align = self.align.max(1);
        let cap = self.chunk.div_ceil(align) * align;
        let buffers = self.buffers.max(2);
        let (total, chunk) = (self.total, self.chunk);
        std::thread::scope(|scope| {
            let (pool_tx, pool_rx) = sync_channel::<Buf>(buffers);
            for _ in 0..buffers {
                pool_tx
                    .send(Buf {
                        mem: AlignedBuf::new(cap, align),
                        off: 0,
                        len: 0,
                    })
                    .expect("the pool holds every buffer");
            }
            // Channel i feeds stage i; the pool is the last "stage".
            let mut txs: Vec<SyncSender<Buf>> = Vec::new();
            let mut rxs: Vec<Receiver<Buf>> = Vec::new();
            for _ in 0..stages.len() {
                let (tx, rx) = sync_channel::<Buf>(buffers);
                txs.push(tx);
                rxs.push(rx);
            }
            txs.push(pool_tx);
            let mut txs = txs.into_iter();
            let first_tx = txs.next().expect("at least the pool");
            let src = scope.spawn(move || -> Result<(), Error> {
                let mut off = 0u64;
                while off < total {
                    // A closed pool means a stage failed; its error wins.
                    let Ok(mut b) = pool_rx.recv() else {
                        return Ok(());
                    };
                    let n = (total - off).min(chunk as u64) as usize;
                    let padded = n.div_ceil(align) * align;
                    source(off, &mut b.mem.as_mut_slice()[..padded])?;
                    b.off = off;
                    b.len = n;
                    if first_tx.send(b).is_err() {
                        return Ok(());
                    }
                    off += n as u64;
                }
                Ok(())
            });
            let last = stages.len();
            let mut handles = Vec::new();
            for ((i, mut stage), (rx, tx)) in
                stages.into_iter().enumerate().zip(rxs.into_iter().zip(txs))
            {
                handles.push(scope.spawn(move || -> Result<(), Error> {
                    for b in rx {
                        stage(b.off, &b.mem.as_slice()[..b.len])?;
                        // The pool closes once the source is done; later
                        // buffers still need this stage, so only a closed
                        // next *stage* (which failed) stops this one.
                        if tx.send(b).is_err() && i + 1 < last {
                            return Ok(());
                        }
                    }
                    Ok(())
                }));
            }
            let mut result = src.join().unwrap_or_else(|_| Err(panicked("reader")));
            for h in handles {
                let r = h.join().unwrap_or_else(|_| Err(panicked("pipeline stage")));
                if result.is_ok() {
                    result = r;
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<u8> {
        (0..100_000u32).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn every_stage_sees_every_chunk_in_order() {
        let data = data();
        for (chunk, buffers, align) in [(4096, 2, 1), (7000, 3, 1), (4096, 4, 512), (1000, 2, 4096)]
        {
            let (mut a, mut b, mut offs) = (Vec::new(), Vec::new(), Vec::new());
            let src = &data;
            Chain {
                total: data.len() as u64,
                chunk,
                buffers,
                align,
            }
            .run(
                Box::new(|off, buf| {
                    assert_eq!(buf.as_ptr() as usize % align, 0);
                    assert_eq!(buf.len() % align, 0);
                    let n = buf.len().min(src.len() - off as usize);
                    buf[..n].copy_from_slice(&src[off as usize..off as usize + n]);
                    Ok(())
                }),
                vec![
                    Box::new(|off, c: &[u8]| {
                        offs.push(off);
                        a.extend_from_slice(c);
                        Ok(())
                    }),
                    Box::new(|_, c: &[u8]| {
                        b.extend_from_slice(c);
                        Ok(())
                    }),
                ],
            )
            .unwrap();
            assert_eq!(a, data, "chunk {chunk}");
            assert_eq!(b, data, "chunk {chunk}");
            let want: Vec<u64> = (0..data.len() as u64).step_by(chunk).collect();
            assert_eq!(offs, want);
        }
    }

    #[test]
    fn the_failing_stage_is_reported_and_the_chain_stops() {
        let mut seen = 0u64;
        let r = Chain {
            total: 1 << 30,
            chunk: 4096,
            buffers: 2,
            align: 1,
        }
        .run(
            Box::new(|_, _| Ok(())),
            vec![
                Box::new(|_, _: &[u8]| {
                    seen += 1;
                    Ok(())
                }),
                Box::new(|off, _: &[u8]| {
                    if off >= 8192 {
                        Err(Error::Refused("boom".into()))
                    } else {
                        Ok(())
                    }
                }),
            ],
        );
        assert_eq!(r.unwrap_err().to_string(), "refusing: boom");
        assert!(seen < 100, "the chain ran on after the failure ({seen})");
    }

    #[test]
    fn a_source_failure_is_reported() {
        let r = Chain {
            total: 10_000,
            chunk: 4096,
            buffers: 2,
            align: 1,
        }
        .run(
            Box::new(|off, _| {
                if off > 0 {
                    Err(Error::Refused(format!("read at {off}")))
                } else {
                    Ok(())
                }
            }),
            vec![Box::new(|_, _: &[u8]| Ok(()))],
        );
        assert_eq!(r.unwrap_err().to_string(), "refusing: read at 4096");
    }

    #[test]
    fn no_stages_and_empty_totals_work() {
        let mut calls = 0;
        Chain {
            total: 10,
            chunk: 4,
            buffers: 2,
            align: 1,
        }
        .run(
            Box::new(|_, _| {
                calls += 1;
                Ok(())
            }),
            vec![],
        )
        .unwrap();
        assert_eq!(calls, 3);
        Chain {
            total: 0,
            chunk: 4,
            buffers: 2,
            align: 1,
        }
        .run(Box::new(|_, _| unreachable!()), vec![])
        .unwrap();
    }
}
