//! The `reignite` command line, built inside this test crate so that the
//! integration tests get a binary via `CARGO_BIN_EXE_*` (a binary of another
//! package is not built for them). Identical to `crates/cli/src/main.rs`.

fn main() {
    std::process::exit(reignite::run(std::env::args_os()));
}
