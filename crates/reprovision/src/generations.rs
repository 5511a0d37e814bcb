//! The generation store under `<root>/var/lib/reignite/` (owned here; the
//! engine produces the [`Manifest`], the CLI's `apply` records generation 1
//! through [`Store::record`]).
//!
//! Layout, all JSON, every file written atomically:
//! ```text
//! var/lib/reignite/state.json                 {"format":1,"current":N,"confirmed":M,"try-deadline":T,"rolled-back":[..]}
//! var/lib/reignite/generations/<N>/meta.json  number, command, created (unix s), from, config-sha256
//! var/lib/reignite/generations/<N>/config.json   the canonical config (0600: may hold secrets)
//! var/lib/reignite/generations/<N>/manifest.json reignite_engine::Manifest (0600: holds shadow lines)
//! var/lib/reignite/generations/<N>/keep.json     keep-set in force
//! ```
//! Compatibility with the engine's first apply (`reignite_engine::apply`
//! writes `generations/1/{config,manifest}.json` and a `current` file holding
//! the number): without `state.json` the store reads `current` (current and
//! confirmed), a generation without `meta.json` gets one derived from its
//! files, and every state change rewrites `current` too.
//!
//! A generation directory is built as `generations/.N.tmp` and renamed into
//! place, then `state.json` is replaced: a crash leaves either no generation N
//! or a complete one that state.json may not point to yet (ignored, and its
//! number reused).
//!
//! States shown by `status`: `active` (current and confirmed), `trying`
//! (current, not yet confirmed), `previous` (confirmed, while another is
//! tried), `rolled-back`, `superseded`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::keep::KeepPattern;
use crate::util;

/// State directory relative to the root.
pub const STATE_REL: &str = "var/lib/reignite";

/// Errors of the generation store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// I/O on a store file.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Which file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A generation is missing.
    #[error("generation {0} does not exist in the store")]
    Missing(u64),
    /// Nothing to confirm.
    #[error("nothing to confirm: generation {0} is already confirmed")]
    NothingToConfirm(u64),
    /// No generation recorded yet.
    #[error(
        "no generation is recorded under /var/lib/reignite; provision with `reignite apply` first"
    )]
    Empty,
}

/// The store's pointer file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct State {
    /// Format version (1).
    pub format: u32,
    /// The generation whose config is on the root.
    pub current: Option<u64>,
    /// The last confirmed generation.
    pub confirmed: Option<u64>,
    /// When `current != confirmed`: unix time after which the try reverts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub try_deadline: Option<u64>,
    /// Generations that were rolled back.
    #[serde(default)]
    pub rolled_back: Vec<u64>,
}

impl State {
    /// The highest generation number the pointer file knows of (0 if none);
    /// directories above it are orphans of a crash and get reused.
    pub fn highest(&self) -> u64 {
        self.rolled_back
            .iter()
            .copied()
            .chain(self.current)
            .chain(self.confirmed)
            .max()
            .unwrap_or(0)
    }
}

/// Per-generation metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Meta {
    /// Generation number.
    pub number: u64,
    /// `apply`, `switch`, `reset`, `rollback`.
    pub command: String,
    /// Unix seconds.
    pub created: u64,
    /// The generation active before.
    pub from: Option<u64>,
    /// sha256 of the canonical config.
    pub config_sha256: String,
}

/// One row of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct GenerationInfo {
    /// Metadata.
    #[serde(flatten)]
    pub meta: Meta,
    /// `active`, `trying`, `previous`, `rolled-back`, `superseded`.
    pub state: &'static str,
}

/// What to record. `M` is the engine's manifest type (kept generic so the
/// store does not depend on the engine's build).
#[derive(Debug)]
pub struct NewGeneration<'a, M> {
    /// Canonical config JSON.
    pub config: &'a [u8],
    /// sha256 of `config`.
    pub config_sha256: &'a str,
    /// The engine's manifest.
    pub manifest: &'a M,
    /// Keep-set in force.
    pub keep: &'a [KeepPattern],
    /// `apply`, `switch`, `reset`.
    pub command: &'a str,
    /// `Some(deadline)` records the generation as tried, not confirmed.
    pub try_deadline: Option<u64>,
}

/// The generation store of one root.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Unix time now, in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Store {
    /// The store of target root `root`.
    pub fn new(root: &Path) -> Self {
        Store {
            dir: root.join(STATE_REL),
        }
    }

    fn gen_dir(&self, n: u64) -> PathBuf {
        self.dir.join("generations").join(n.to_string())
    }

    /// The pointer file (default when absent).
    pub fn state(&self) -> Result<State, StoreError> {
        let p = self.dir.join("state.json");
        if let Some(s) = util::read_json(&p).map_err(|source| StoreError::Io {
            op: "reading",
            path: p,
            source,
        })? {
            return Ok(s);
        }
        let c = self.dir.join("current");
        let current = match std::fs::read_to_string(&c) {
            Ok(t) => t.trim().parse().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(StoreError::Io {
                    op: "reading",
                    path: c,
                    source,
                })
            }
        };
        Ok(State {
            format: 1,
            current,
            confirmed: current,
            ..State::default()
        })
    }

    fn save_state(&self, s: &State) -> Result<(), StoreError> {
        util::write_json(&self.dir, "state.json", s, 0o644).map_err(|source| StoreError::Io {
            op: "writing",
            path: self.dir.join("state.json"),
            source,
        })?;
        if let Some(c) = s.current {
            util::write_bytes(&self.dir, "current", format!("{c}\n").as_bytes(), 0o644).map_err(
                |source| StoreError::Io {
                    op: "writing",
                    path: self.dir.join("current"),
                    source,
                },
            )?;
        }
        crate::failpoint::hit("store::state").map_err(|e| StoreError::Io {
            op: "writing",
            path: self.dir.join("state.json"),
            source: std::io::Error::other(e),
        })
    }

    /// Generation numbers present, ascending.
    pub fn numbers(&self) -> Result<Vec<u64>, StoreError> {
        let d = self.dir.join("generations");
        let mut v: Vec<u64> = match std::fs::read_dir(&d) {
            Ok(rd) => rd
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(StoreError::Io {
                    op: "reading",
                    path: d,
                    source,
                })
            }
        };
        v.sort_unstable();
        Ok(v)
    }

    /// The number the next generation gets.
    pub fn next_number(&self) -> Result<u64, StoreError> {
        Ok(self.state()?.highest() + 1)
    }

    /// Records a generation and makes it current (and confirmed unless
    /// `try_deadline` is set). Returns its number.
    pub fn record<M: Serialize>(&self, g: &NewGeneration<'_, M>) -> Result<u64, StoreError> {
        let n = self.next_number()?;
        self.record_as(n, g)?;
        Ok(n)
    }

    /// Records generation `n` (the number a transition reserved).
    pub fn record_as<M: Serialize>(
        &self,
        n: u64,
        g: &NewGeneration<'_, M>,
    ) -> Result<(), StoreError> {
        let st = self.state()?;
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { op, path, source }
        };
        let gens = self.dir.join("generations");
        let tmp = gens.join(format!(".{n}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io("creating", &tmp))?;
        let meta = Meta {
            number: n,
            command: g.command.to_string(),
            created: now(),
            from: st.current,
            config_sha256: g.config_sha256.to_string(),
        };
        util::write_json(&tmp, "meta.json", &meta, 0o644).map_err(io("writing", &tmp))?;
        util::write_bytes(&tmp, "config.json", g.config, 0o600).map_err(io("writing", &tmp))?;
        util::write_json(&tmp, "manifest.json", g.manifest, 0o600).map_err(io("writing", &tmp))?;
        util::write_json(&tmp, "keep.json", &g.keep, 0o644).map_err(io("writing", &tmp))?;
        let dst = self.gen_dir(n);
        if dst.exists() {
            // An orphan of a crash between rename and state update.
            std::fs::remove_dir_all(&dst).map_err(io("removing", &dst))?;
        }
        std::fs::rename(&tmp, &dst).map_err(io("renaming", &tmp))?;
        util::sync_fs(&self.dir).map_err(io("syncing", &self.dir))?;
        let mut st = st;
        st.format = 1;
        st.current = Some(n);
        st.rolled_back.retain(|r| *r != n);
        match g.try_deadline {
            Some(d) => st.try_deadline = Some(d),
            None => {
                st.confirmed = Some(n);
                st.try_deadline = None;
            }
        }
        self.save_state(&st)
    }

    /// Confirms the current generation.
    pub fn confirm(&self) -> Result<u64, StoreError> {
        let mut st = self.state()?;
        let cur = st.current.ok_or(StoreError::Empty)?;
        if st.confirmed == Some(cur) {
            return Err(StoreError::NothingToConfirm(cur));
        }
        st.confirmed = Some(cur);
        st.try_deadline = None;
        self.save_state(&st)?;
        Ok(cur)
    }

    /// Marks the current generation rolled back and makes `to` current and
    /// confirmed.
    pub fn mark_rolled_back(&self, to: u64) -> Result<(), StoreError> {
        let mut st = self.state()?;
        if let Some(cur) = st.current.filter(|c| *c != to) {
            if !st.rolled_back.contains(&cur) {
                st.rolled_back.push(cur);
            }
        }
        st.current = Some(to);
        st.confirmed = Some(to);
        st.try_deadline = None;
        self.save_state(&st)
    }

    /// Metadata of generation `n`.
    pub fn meta(&self, n: u64) -> Result<Meta, StoreError> {
        let p = self.gen_dir(n).join("meta.json");
        if let Some(m) = util::read_json(&p).map_err(|source| StoreError::Io {
            op: "reading",
            path: p,
            source,
        })? {
            return Ok(m);
        }
        // A generation recorded by the engine's first apply.
        let cfg = self.gen_dir(n).join("config.json");
        let md = std::fs::metadata(&cfg).map_err(|_| StoreError::Missing(n))?;
        let manifest: serde_json::Value = self.manifest(n)?;
        Ok(Meta {
            number: n,
            command: "apply".into(),
            created: md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
            from: None,
            config_sha256: manifest["config-sha256"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// The manifest of generation `n`.
    pub fn manifest<M: serde::de::DeserializeOwned>(&self, n: u64) -> Result<M, StoreError> {
        let p = self.gen_dir(n).join("manifest.json");
        util::read_json(&p)
            .map_err(|source| StoreError::Io {
                op: "reading",
                path: p,
                source,
            })?
            .ok_or(StoreError::Missing(n))
    }

    /// The canonical config of generation `n`.
    pub fn config(&self, n: u64) -> Result<Vec<u8>, StoreError> {
        let p = self.gen_dir(n).join("config.json");
        std::fs::read(&p).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::Missing(n),
            _ => StoreError::Io {
                op: "reading",
                path: p,
                source,
            },
        })
    }

    /// The keep-set of generation `n`.
    pub fn keep(&self, n: u64) -> Result<Vec<KeepPattern>, StoreError> {
        let p = self.gen_dir(n).join("keep.json");
        Ok(util::read_json(&p)
            .map_err(|source| StoreError::Io {
                op: "reading",
                path: p,
                source,
            })?
            .unwrap_or_default())
    }

    /// Every recorded generation with its state, oldest first. Generations
    /// newer than `current` that state.json never pointed to are omitted.
    pub fn list(&self) -> Result<Vec<GenerationInfo>, StoreError> {
        let st = self.state()?;
        let top = st.highest();
        let mut out = Vec::new();
        for n in self.numbers()?.into_iter().filter(|n| *n <= top) {
            let state = if st.rolled_back.contains(&n) {
                "rolled-back"
            } else if Some(n) == st.current && st.confirmed == Some(n) {
                "active"
            } else if Some(n) == st.current {
                "trying"
            } else if Some(n) == st.confirmed {
                "previous"
            } else {
                "superseded"
            };
            out.push(GenerationInfo {
                meta: self.meta(n)?,
                state,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &Store, try_deadline: Option<u64>) -> u64 {
        let m = serde_json::json!({"config-sha256": "abc"});
        s.record(&NewGeneration {
            config: b"{}",
            config_sha256: "abc",
            manifest: &m,
            keep: &[],
            command: "apply",
            try_deadline,
        })
        .unwrap()
    }

    #[test]
    fn lifecycle_states() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path());
        assert!(s.list().unwrap().is_empty());
        assert_eq!(rec(&s, None), 1);
        assert_eq!(rec(&s, Some(now() + 60)), 2);
        let states: Vec<_> = s.list().unwrap().iter().map(|g| g.state).collect();
        assert_eq!(states, ["previous", "trying"]);
        s.mark_rolled_back(1).unwrap();
        let states: Vec<_> = s.list().unwrap().iter().map(|g| g.state).collect();
        assert_eq!(states, ["active", "rolled-back"]);
        assert_eq!(
            rec(&s, Some(now() + 60)),
            3,
            "a rolled-back number is not reused"
        );
        assert_eq!(s.confirm().unwrap(), 3);
        assert!(matches!(s.confirm(), Err(StoreError::NothingToConfirm(3))));
        let states: Vec<_> = s.list().unwrap().iter().map(|g| g.state).collect();
        assert_eq!(states, ["superseded", "rolled-back", "active"]);
        assert_eq!(s.meta(3).unwrap().from, Some(1));
        assert_eq!(s.config(2).unwrap(), b"{}");
        assert_eq!(
            s.manifest::<serde_json::Value>(3).unwrap()["config-sha256"],
            "abc"
        );
    }

    #[test]
    fn reads_the_engines_first_generation() {
        let d = tempfile::tempdir().unwrap();
        let g = d.path().join(STATE_REL).join("generations/1");
        std::fs::create_dir_all(&g).unwrap();
        std::fs::write(g.join("config.json"), "{}").unwrap();
        std::fs::write(g.join("manifest.json"), r#"{"config-sha256":"feed"}"#).unwrap();
        std::fs::write(d.path().join(STATE_REL).join("current"), "1\n").unwrap();
        let s = Store::new(d.path());
        let l = s.list().unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(
            (l[0].state, l[0].meta.config_sha256.as_str()),
            ("active", "feed")
        );
        assert_eq!(rec(&s, None), 2);
        assert_eq!(
            std::fs::read_to_string(d.path().join(STATE_REL).join("current")).unwrap(),
            "2\n"
        );
    }

    #[test]
    fn crash_before_state_update_leaves_previous_generation_current() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path());
        rec(&s, None);
        crate::failpoint::arm("store::state", 1);
        let m = serde_json::json!({});
        let r = s.record(&NewGeneration {
            config: b"{}",
            config_sha256: "x",
            manifest: &m,
            keep: &[],
            command: "switch",
            try_deadline: None,
        });
        assert!(r.is_err());
        // The failpoint sits after the write: state.json already points to 2.
        assert_eq!(s.state().unwrap().current, Some(2));
        // Simulate the crash one step earlier: state.json still says 1.
        let mut st = s.state().unwrap();
        st.current = Some(1);
        st.confirmed = Some(1);
        util::write_json(&d.path().join(STATE_REL), "state.json", &st, 0o644).unwrap();
        assert_eq!(
            s.list().unwrap().len(),
            1,
            "orphan generation 2 is not listed"
        );
        assert_eq!(rec(&s, None), 2, "and its number is reused");
    }
}
