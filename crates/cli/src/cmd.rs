//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod apply;
pub mod slots;
pub mod translate;
pub mod validate;
