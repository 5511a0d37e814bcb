//! Applies a config to a root through the engine alone (no CLI), printing
//! the wall time: `cargo run --release -p reignite-engine --example
//! apply_root -- ROOT CONFIG`. Used to benchmark the files stage against
//! Ignition 2.14 on the same machine.

use std::io::Write;

struct RealFetcher(reignite_fetch::Fetcher);

impl reignite_engine::Fetch for RealFetcher {
    fn fetch_into(
        &self,
        r: &reignite_spec::Resource,
        out: &mut dyn Write,
    ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_into(r, out).map_err(Into::into)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, root, config] = args.as_slice() else {
        eprintln!("usage: apply_root ROOT CONFIG");
        std::process::exit(2);
    };
    let start = std::time::Instant::now();
    let bytes = std::fs::read(config).expect("reading the config");
    let assembled = reignite_fetch::assemble(&bytes, None, None, &Default::default())
        .unwrap_or_else(|e| panic!("assembling {config}: {e}"));
    let fetcher = RealFetcher(
        reignite_fetch::Fetcher::from_config(&assembled.config).expect("setting up fetching"),
    );
    let r = reignite_engine::Root::open(std::path::Path::new(root)).expect("opening the root");
    let out = reignite_engine::apply(
        &r,
        &assembled.config,
        reignite_engine::ApplyOptions::new(&fetcher),
        &mut |_| {},
    );
    match out {
        Ok(_) => eprintln!("applied in {:.3} s", start.elapsed().as_secs_f64()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
