//! Translation benchmark (prints figures; not a test): a Butane config with
//! 2,000 inline files and a 5,000-file `storage.trees`. Target: < 0.3 s and
//! < 100 MB peak RSS. Run with `cargo bench -p reignite-butane`.

use std::time::Instant;

use reignite_butane::{translate, Options};

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of the whole process in seconds, all threads
/// included; less sensitive than wall time to a loaded machine.
fn cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().next().unwrap_or("?").to_string())
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    for d in 0..50 {
        let sub = tree.join(format!("d{d:02}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        for f in 0..100 {
            std::fs::write(
                sub.join(format!("f{f:03}.conf")),
                format!("key{d}={f}\nvalue = \"{}\"\n", d * 100 + f),
            )
            .expect("write");
        }
    }
    let mut yaml = String::from("variant: flatcar\nversion: 1.1.0\nstorage:\n  trees:\n    - local: tree\n      path: /opt/tree\n  files:\n");
    for i in 0..2000 {
        yaml.push_str(&format!(
            "    - path: /etc/bench/file-{i}.conf\n      mode: 0644\n      contents:\n        inline: |\n          # generated file {i}\n          setting_{i} = {}\n",
            i * 7
        ));
    }
    let opts = Options {
        files_dir: Some(dir.path().to_path_buf()),
        no_resource_auto_compression: std::env::var_os("BENCH_NO_GZIP").is_some(),
        ..Options::default()
    };
    let before = peak_rss_kb().unwrap_or(0);
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut size = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let cpu0 = cpu_s().unwrap_or(0.0);
        let t = translate(yaml.as_bytes(), &opts).expect("translation");
        best = best.min(start.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_s().unwrap_or(0.0) - cpu0);
        size = t.json.len();
    }
    let peak = peak_rss_kb().unwrap_or(0);
    println!(
        "butane translate: 2000 inline files + 5000-file tree ({} KiB YAML -> {} KiB JSON): best of 3 {:.3} s wall, {:.2} s CPU (all threads), peak RSS {:.1} MB (before: {:.1} MB), load {}; targets < 0.3 s, < 100 MB",
        yaml.len() / 1024,
        size / 1024,
        best,
        best_cpu,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        load()
    );
}
