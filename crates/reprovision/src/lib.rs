//! Reconfiguration without drift: generations, keep-set, plan, switch, reset
//! staging, boot-time execution, trash and rollback.

pub mod boot;
pub mod enable;
pub mod failpoint;
pub mod generations;
pub mod keep;
pub mod owners;
pub mod plan;
pub mod reset;
pub mod rollback;
pub mod scan;
pub mod switch;
pub mod systemd;
pub mod trash;
pub mod tree;
mod util;
