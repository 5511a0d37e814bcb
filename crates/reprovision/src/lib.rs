//! Reconfiguration without drift: generations, keep-set, plan, switch, reset
//! staging, boot-time execution, trash and rollback.

pub mod failpoint;
pub mod keep;
pub mod scan;
pub mod trash;
pub mod tree;
mod util;
