//! Speed benchmark of issue 2: validating a 2,000-file config (about
//! 230 KB: 2,000 data-URL files in 350 directories, 100 directories, 100
//! symlinks, spec 3.3.0) with `reignite_spec::parse` versus Debian's
//! `ignition-validate` on the same file, in the same run. Prints both times,
//! the ratio (target: at least 20×) and this process's peak memory (target:
//! below 30 MB). Not a test: it never fails on the figures.
//!
//! Run with `cargo bench -p reignite-spec --bench validate`.

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

fn config() -> String {
    let mut files = Vec::new();
    for i in 0..2_000 {
        files.push(format!(
            r#"{{"path":"/srv/d{}/file-{i:04}.conf","mode":420,"contents":{{"source":"data:,setting%3D{i}%0Aother%3Dvalue%0A"}}}}"#,
            i % 350
        ));
    }
    let dirs: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"path":"/opt/dir{i}","mode":493}}"#))
        .collect();
    let links: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"path":"/opt/link{i}","target":"/srv/d{i}"}}"#))
        .collect();
    format!(
        r#"{{"ignition":{{"version":"3.3.0"}},"storage":{{"files":[{}],"directories":[{}],"links":[{}]}}}}"#,
        files.join(","),
        dirs.join(","),
        links.join(",")
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let cfg = config();
    println!("config: {} bytes", cfg.len());

    let ours: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            let p = reignite_spec::parse(cfg.as_bytes()).expect("benchmark config is valid");
            assert_eq!(p.config.storage.files.len(), 2_000);
            t.elapsed()
        })
        .collect();
    let ours = median(ours);
    println!("reignite_spec::parse: {ours:?} (median of 21)");
    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS of this process: {:.1} MB", kib as f64 / 1024.0);
    }

    let mut f = tempfile_path();
    std::fs::File::create(&f.0)
        .and_then(|mut h| h.write_all(cfg.as_bytes()))
        .expect("write config");
    let theirs: Vec<Duration> = (0..5)
        .filter_map(|_| {
            let t = Instant::now();
            let out = Command::new("ignition-validate").arg(&f.0).output().ok()?;
            out.status.success().then(|| t.elapsed())
        })
        .collect();
    f.cleanup();
    if theirs.is_empty() {
        println!("ignition-validate: not available (apt-get install ignition); no ratio");
        return;
    }
    let theirs = median(theirs);
    println!("ignition-validate: {theirs:?} (median of 5)");
    println!(
        "ratio: {:.1}x faster (target: >= 20x)",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}

/// A scratch file path removed at the end.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn cleanup(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tempfile_path() -> Scratch {
    Scratch(std::env::temp_dir().join(format!("reignite-bench-{}.ign", std::process::id())))
}
