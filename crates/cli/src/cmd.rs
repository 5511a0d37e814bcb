//! One module per subcommand; each exposes `Args` (clap) and `run`.

pub mod apply;
pub mod boot;
pub mod confirm;
pub mod drift;
pub mod plan;
pub mod reset;
pub mod rollback;
pub mod slots;
pub mod status;
pub mod switch;
pub mod translate;
pub mod validate;
