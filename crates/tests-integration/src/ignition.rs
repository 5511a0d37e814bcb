//! Runs Debian's Ignition 2.14 engine (`fetch` then `files`, `-platform file`)
//! against a directory root, as described in ignition-semantics.md §8.4, and
//! the shared process plumbing for both engines.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Where Debian's `ignition` package installs the engine.
pub const ENGINE: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";
/// The host directory Ignition reads base configs from, whatever `-root` is.
pub const HOST_BASE_CONFIGS: &str = "/usr/lib/ignition";
/// A run that takes longer than this is killed and counted as a failure.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Why the oracle cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !Path::new(ENGINE).exists() {
        return Some(format!(
            "Debian's Ignition engine {ENGINE} is missing (apt-get install ignition)"
        ));
    }
    if !Path::new("/proc/sys/kernel/random/boot_id").exists() {
        return Some("/proc/sys/kernel/random/boot_id is missing; Ignition needs it".into());
    }
    // Base configs on the host would be merged into every run and make the
    // comparison meaningless.
    for p in ["base.d", "base.platform.d/file", "user.ign"] {
        let p = Path::new(HOST_BASE_CONFIGS).join(p);
        let non_empty = fs::read_dir(&p)
            .map(|mut d| d.next().is_some())
            .unwrap_or(p.is_file());
        if non_empty {
            return Some(format!(
                "{} exists on the host: Ignition would merge it into every config",
                p.display()
            ));
        }
    }
    None
}

/// Exit status and combined output of one engine run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit status 0.
    pub success: bool,
    /// Exit code, `None` if killed.
    pub code: Option<i32>,
    /// stdout followed by stderr.
    pub log: String,
}

impl Outcome {
    /// The line that best says why a run failed: Ignition's first CRITICAL
    /// line, else the first line starting with `error`, else the last line.
    pub fn reason(&self) -> String {
        let lines: Vec<&str> = self.log.lines().filter(|l| !l.trim().is_empty()).collect();
        lines
            .iter()
            .find(|l| l.starts_with("CRITICAL"))
            .or_else(|| lines.iter().find(|l| l.to_lowercase().starts_with("error")))
            .or(lines.last())
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| "(no output)".into())
    }
}

/// Runs `cmd` with output captured in files under `work` (named `tag`), killing
/// it after [`TIMEOUT`].
pub fn run_captured(mut cmd: Command, work: &Path, tag: &str) -> Outcome {
    let out_path = work.join(format!("{tag}.out"));
    let err_path = work.join(format!("{tag}.err"));
    let mut spawn = || -> std::io::Result<Option<std::process::ExitStatus>> {
        cmd.stdout(File::create(&out_path)?)
            .stderr(File::create(&err_path)?)
            .stdin(std::process::Stdio::null());
        let mut child = cmd.spawn()?;
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            if start.elapsed() > TIMEOUT {
                child.kill()?;
                child.wait()?;
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let result = spawn();
    let mut log = fs::read_to_string(&out_path).unwrap_or_default();
    log.push_str(&fs::read_to_string(&err_path).unwrap_or_default());
    match result {
        Ok(Some(status)) => Outcome {
            success: status.success(),
            code: status.code(),
            log,
        },
        Ok(None) => Outcome {
            success: false,
            code: None,
            log: format!("{log}\nkilled after {TIMEOUT:?}"),
        },
        Err(e) => Outcome {
            success: false,
            code: None,
            log: format!("could not run {cmd:?}: {e}"),
        },
    }
}

/// Runs Ignition's `fetch` and, if it succeeds, `files` stage on `root` with
/// the config at `config`. `path_env` must put a `setfiles` stub first.
pub fn run(work: &Path, root: &Path, config: &Path, path_env: &OsStr) -> Outcome {
    let stage = |name: &str| {
        let mut cmd = Command::new(ENGINE);
        cmd.env_clear()
            .env("PATH", path_env)
            .env("IGNITION_CONFIG_FILE", config)
            .current_dir(work)
            .args(["-platform", "file", "-stage", name, "-root"])
            .arg(root)
            .arg("-config-cache")
            .arg(work.join("ignition.json"))
            .arg("-state-file")
            .arg(work.join("ignition.state"))
            .arg("-log-to-stdout");
        run_captured(cmd, work, &format!("ignition-{name}"))
    };
    let fetch = stage("fetch");
    if !fetch.success {
        return fetch;
    }
    let mut files = stage("files");
    files.log = format!("{}{}", fetch.log, files.log);
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_prefers_critical_then_error_then_last_line() {
        let o = |log: &str| Outcome {
            success: false,
            code: Some(1),
            log: log.into(),
        };
        assert_eq!(
            o("INFO: a\nCRITICAL : boom\nCRITICAL : x\n").reason(),
            "CRITICAL : boom"
        );
        assert_eq!(o("warn\nerror: bad\nmore\n").reason(), "error: bad");
        assert_eq!(o("a\nb\n\n").reason(), "b");
        assert_eq!(o("").reason(), "(no output)");
    }

    #[test]
    fn captures_output_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let o = run_captured(cmd, dir.path(), "t");
        assert_eq!(
            (o.success, o.code, o.log.as_str()),
            (false, Some(3), "out\nerr\n")
        );
    }
}
