//! The one way reignite runs external tools: [`CommandRunExt`] on
//! [`std::process::Command`]. Stdin is null, stderr is captured, and a failure
//! carries the full command line and the last KiB of its stderr.

use std::process::{Command, Output, Stdio};

/// How much of a failed tool's stderr an error keeps.
const STDERR_TAIL: usize = 1024;

/// Running an external tool failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The tool could not be started (e.g. not installed).
    #[error("running {command}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// The tool ran and exited unsuccessfully.
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status as text.
        status: String,
        /// The last KiB of its stderr, trimmed.
        stderr: String,
    },
    /// Its output was not UTF-8.
    #[error("{command} printed output that is not UTF-8")]
    NotUtf8 {
        /// The command line.
        command: String,
    },
}

/// Extension methods for running a [`Command`] with captured diagnostics.
pub trait CommandRunExt {
    /// The command line as text, for messages.
    fn display(&self) -> String;
    /// Runs to completion; error unless it exits 0.
    fn run(&mut self) -> Result<(), CommandError>;
    /// Runs to completion and returns stdout; error unless it exits 0.
    fn run_get_string(&mut self) -> Result<String, CommandError>;
    /// Runs to completion and returns the raw output; error unless it exits 0.
    fn run_get_output(&mut self) -> Result<Output, CommandError>;
}

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

impl CommandRunExt for Command {
    fn display(&self) -> String {
        let mut s = self.get_program().to_string_lossy().into_owned();
        for a in self.get_args() {
            s.push(' ');
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
                s.push('\'');
                s.push_str(&a.replace('\'', "'\\''"));
                s.push('\'');
            } else {
                s.push_str(&a);
            }
        }
        s
    }

    fn run(&mut self) -> Result<(), CommandError> {
        self.run_get_output().map(|_| ())
    }

    fn run_get_string(&mut self) -> Result<String, CommandError> {
        let out = self.run_get_output()?;
        String::from_utf8(out.stdout).map_err(|_| CommandError::NotUtf8 {
            command: self.display(),
        })
    }

    fn run_get_output(&mut self) -> Result<Output, CommandError> {
        let command = self.display();
        tracing::debug!(%command, "running");
        let out = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| CommandError::Spawn {
                command: command.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(CommandError::Failed {
                command,
                status: out.status.to_string(),
                stderr: tail(&out.stderr),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_returns_stdout() {
        let s = Command::new("sh")
            .args(["-c", "echo hi"])
            .run_get_string()
            .unwrap();
        assert_eq!(s, "hi\n");
    }

    #[test]
    fn failure_names_command_and_stderr() {
        let e = Command::new("sh")
            .args(["-c", "echo boom >&2; exit 3"])
            .run()
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("sh -c 'echo boom >&2; exit 3'"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert!(msg.contains('3'), "{msg}");
    }

    #[test]
    fn long_stderr_is_truncated_to_tail() {
        let e = Command::new("sh")
            .args([
                "-c",
                "head -c 5000 /dev/zero | tr '\\0' a >&2; echo END >&2; exit 1",
            ])
            .run()
            .unwrap_err();
        match e {
            CommandError::Failed { stderr, .. } => {
                assert!(stderr.len() <= STDERR_TAIL);
                assert!(stderr.ends_with("END"));
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn missing_tool_is_spawn_error() {
        let e = Command::new("/nonexistent/tool").run().unwrap_err();
        assert!(matches!(e, CommandError::Spawn { .. }));
        assert!(e.to_string().contains("/nonexistent/tool"));
    }
}
