//! Failpoints at the commit points of a transition.
//!
//! `hit("trash::rename")` returns an error when that failpoint is armed, so a
//! test can stop an operation at any commit point and then check recovery.
//! Arming:
//! * in tests, per thread: [`arm`] a name, or `"*"` with a countdown to fail
//!   at the N-th failpoint of any name (used to crash at *every* step in turn);
//! * from the environment, for whole-binary tests: `REIGNITE_FAILPOINTS` is a
//!   comma-separated list of `name` (return an error) or `name=abort` (abort
//!   the process, as close to `kill -9` as a process can do to itself).

use std::cell::RefCell;

/// The error a tripped failpoint returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failpoint {0} triggered")]
pub struct Failpoint(pub String);

thread_local! {
    static ARMED: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

/// Arms failpoint `name` (or `"*"` for any) on this thread so that its
/// `nth` hit (1-based) fails. Replaces any earlier arming.
pub fn arm(name: &str, nth: u32) {
    ARMED.with(|a| *a.borrow_mut() = Some((name.to_string(), nth.max(1))));
}

/// Disarms this thread's failpoint; returns whether it was still armed
/// (i.e. never tripped).
pub fn disarm() -> bool {
    ARMED.with(|a| a.borrow_mut().take().is_some())
}

/// Passes failpoint `name`: an error if it is armed and due.
pub fn hit(name: &str) -> Result<(), Failpoint> {
    let tripped = ARMED.with(|a| {
        let mut a = a.borrow_mut();
        match a.as_mut() {
            Some((n, count)) if n == name || n == "*" => {
                *count -= 1;
                if *count == 0 {
                    *a = None;
                    true
                } else {
                    false
                }
            }
            _ => false,
        }
    });
    if tripped {
        return Err(Failpoint(name.to_string()));
    }
    if let Ok(env) = std::env::var("REIGNITE_FAILPOINTS") {
        for item in env.split(',') {
            let (n, action) = item.split_once('=').unwrap_or((item, "return"));
            if n == name {
                if action == "abort" {
                    eprintln!("failpoint {name}: aborting");
                    std::process::abort();
                }
                return Err(Failpoint(name.to_string()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arming_counts_hits() {
        assert!(hit("a").is_ok());
        arm("a", 2);
        assert!(hit("b").is_ok());
        assert!(hit("a").is_ok());
        assert_eq!(hit("a"), Err(Failpoint("a".into())));
        assert!(hit("a").is_ok(), "trips once");
        arm("*", 2);
        assert!(hit("x").is_ok());
        assert!(hit("y").is_err());
        arm("z", 1);
        assert!(disarm());
        assert!(!disarm());
    }
}
