//! Reconfiguration without drift: generations, keep-set, plan, switch, reset
//! staging, boot-time execution, trash and rollback.

pub mod keep;
