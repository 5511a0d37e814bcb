//! Shared system utilities: the one atomic-write helper (`atomic`) and the one
//! wrapper for running external tools (`command`). Everything that writes a
//! file into a target root or runs a tool goes through here, so durability and
//! error reporting are decided in one place.

pub mod atomic;
pub mod command;

pub use atomic::{
    atomic_create_at, atomic_write_at, scratch_file_in, sync_filesystem, AtomicWriteError,
    Durability, WriteOptions, TEMP_PREFIX,
};
pub use command::{CommandError, CommandRunExt};
