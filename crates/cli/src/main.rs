//! The `reignite` binary: sets up logging and hands over to the library.

fn main() {
    std::process::exit(reignite::run(std::env::args_os()));
}
