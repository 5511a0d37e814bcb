//! GPT A/B slot manager for Flatcar-style hosts: reads and writes the GPT of a
//! block device or image file without ever renumbering entries or dropping
//! bits it does not own, predicts exactly what Flatcar's GRUB `gptprio.next`
//! boots, commits attribute changes crash-safely with an intent journal, and
//! installs verified payloads into the passive slot.
//!
//! Layers: [`gpt`] (codec) → [`dev`] (block access, fault injection) →
//! [`disk`] (both copies, commit protocol, repair, recovery) → [`select`]
//! (bits and the GRUB rule) → [`slots`] (the USR pair and its operations) →
//! [`install`] (payload streaming and verification).

pub mod dev;
pub mod disk;
#[doc(hidden)]
pub mod fuzzing;
pub mod gpt;
pub mod install;
pub mod journal;
pub mod select;
pub mod slots;

pub use dev::{BlockDev, FileDev, MemDev};
pub use disk::{Disk, Health};
pub use journal::Journal;
pub use select::SlotBits;
pub use slots::{booted_from_cmdline, SlotId, Slots};

/// Errors of the slot manager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed; `context` names the step and place.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Neither GPT copy is usable.
    #[error("no valid GPT: primary: {primary}; backup: {backup}")]
    NoValidGpt {
        /// Why the primary is unusable.
        primary: String,
        /// Why the backup is unusable.
        backup: String,
    },
    /// A change was asked for while the copies disagree.
    #[error("the GPT must be repaired before it is changed ({0}); run `reignite slots repair`")]
    NeedsRepair(String),
    /// A precondition failed; nothing was written.
    #[error("refusing: {0}")]
    Refused(String),
    /// The slot table cannot be interpreted unambiguously.
    #[error("ambiguous slot table: {0}")]
    Ambiguous(String),
    /// The payload does not fit the slot.
    #[error(
        "payload is {payload} bytes but {slot} holds only {capacity} bytes; nothing was written"
    )]
    PayloadTooLarge {
        /// Payload size.
        payload: u64,
        /// Target slot.
        slot: SlotId,
        /// Slot size in bytes.
        capacity: u64,
    },
    /// A SHA-256 did not match.
    #[error("{what}: expected sha256 {expected}, got {actual}")]
    HashMismatch {
        /// Which check.
        what: String,
        /// Expected digest, hex.
        expected: String,
        /// Actual digest, hex.
        actual: String,
    },
    /// Signature missing, malformed or wrong.
    #[error("signature: {0}")]
    Signature(String),
    /// The read-back check after a write failed.
    #[error("verification failed: {0}")]
    Verify(String),
    /// The intent journal is unusable.
    #[error("journal {path}: {reason}")]
    Journal {
        /// Journal file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
