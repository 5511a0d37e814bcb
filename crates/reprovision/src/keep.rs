//! The keep-set: the declared data paths that survive every reconfiguration.
//!
//! Patterns come from `/etc/reignite/keep.d/*` (written by the config itself),
//! from `--keep` and from flatcar-reset's `-K` entries. Syntax:
//! * a glob (`/var/lib/docker/**`, `/etc/ssh/ssh_host_*`); a glob that matches
//!   a directory keeps the whole subtree;
//! * `regex:ERE` — a whole-path POSIX ERE with exactly flatcar-reset's meaning
//!   (`find -regextype egrep -regex`): a directory matched by the regex is kept
//!   but its contents only if they match too (`regex:/etc/mypath$`);
//! * a flatcar-reset `-K` entry: an ERE to which `/.*` is auto-appended as in
//!   flatcar-reset's `generate_regex` (see [`KeepPattern::flatcar`]).
//!
//! Every path that has a kept descendant is kept as well (with its metadata),
//! `/var/lib/reignite` is always kept, and a pattern that can only name paths
//! under `/usr` is an error.
//!
//! All patterns are compiled into one anchored multi-pattern DFA. Walking a
//! tree feeds each name into the DFA state of its parent, which answers in
//! O(name) both "is this path kept, and by which pattern" and, from the state
//! after `path/`, "can anything below be kept" (dead state) and "is everything
//! below kept" (universal state) — so a reset never descends into kept
//! subtrees nor into subtrees that are removed whole.

mod translate;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use regex_automata::dfa::{dense, Automaton};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{nfa::thompson, util::syntax, Anchored, MatchKind};
use serde::{Deserialize, Serialize};

pub(crate) use translate::ere_to_regex;

/// The directory, relative to the target root, that holds keep-set files.
pub const KEEP_D: &str = "etc/reignite/keep.d";
/// reignite's own state; always kept.
pub const STATE_DIR: &str = "/var/lib/reignite";

/// Errors of keep-set parsing and compilation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeepError {
    /// A pattern is not valid.
    #[error("invalid keep pattern {pattern:?} ({origin}): {reason}")]
    Invalid {
        /// The pattern as written.
        pattern: String,
        /// Where it came from.
        origin: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A pattern names paths under `/usr`, which belongs to the image.
    #[error("keep pattern {pattern:?} ({origin}) names paths under /usr, which belongs to the read-only image and is never reset; remove it")]
    UnderUsr {
        /// The pattern as written.
        pattern: String,
        /// Where it came from.
        origin: String,
    },
    /// Reading a keep.d file failed.
    #[error("reading keep-set file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The patterns are too complex to compile.
    #[error("compiling the keep-set: {0}")]
    Compile(String),
}

/// Which syntax a pattern is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Syntax {
    /// A reignite glob.
    Glob,
    /// `regex:` whole-path POSIX ERE.
    Regex,
    /// A flatcar-reset `-K` entry (ERE with the `/.*` auto-append rule).
    Flatcar,
    /// Built in (reignite's own state).
    Builtin,
}

/// One keep pattern with its origin. Deserialising re-compiles it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PatternRepr")]
pub struct KeepPattern {
    /// The pattern as the user wrote it (with `regex:` prefix if any).
    pub text: String,
    /// Its syntax.
    pub syntax: Syntax,
    /// Where it was declared: a keep.d file path, `--keep`, `-K`, `builtin`.
    pub origin: String,
    /// The translated regexes (the language of kept paths is their union).
    #[serde(skip)]
    regexes: Vec<String>,
}

/// The serialised form of a [`KeepPattern`].
#[derive(Deserialize)]
struct PatternRepr {
    text: String,
    syntax: Syntax,
    origin: String,
}

impl TryFrom<PatternRepr> for KeepPattern {
    type Error = KeepError;
    fn try_from(r: PatternRepr) -> Result<Self, KeepError> {
        KeepPattern {
            text: r.text,
            syntax: r.syntax,
            origin: r.origin,
            regexes: Vec::new(),
        }
        .reparse()
    }
}

impl KeepPattern {
    /// Parses a keep.d line or a `--keep` value: `regex:ERE` or a glob.
    pub fn parse(text: &str, origin: &str) -> Result<Self, KeepError> {
        let invalid = |reason: String| KeepError::Invalid {
            pattern: text.to_string(),
            origin: origin.to_string(),
            reason,
        };
        let (syntax, regexes) = if let Some(ere) = text.strip_prefix("regex:") {
            if !ere.starts_with(['/', '\\', '(', '{', '[', '$', '^']) || ere.starts_with("./") {
                return Err(invalid(
                    "must be an absolute path or a regex for an absolute path".into(),
                ));
            }
            (Syntax::Regex, vec![ere_to_regex(ere).map_err(invalid)?])
        } else {
            (
                Syntax::Glob,
                vec![translate::glob_to_regex(text).map_err(invalid)?],
            )
        };
        let p = KeepPattern {
            text: text.to_string(),
            syntax,
            origin: origin.to_string(),
            regexes,
        };
        p.check_usr()?;
        Ok(p)
    }

    /// Parses a flatcar-reset `--keep-paths` entry with its exact rules:
    /// rejected if it starts with `./` or its first character is not one of
    /// `/ \ ( { [ $ ^`; one trailing `/` stripped; if it starts with `/` and
    /// does not end in one of `$ ) * ] ?`, `ENTRY/.*` is kept too.
    pub fn flatcar(entry: &str) -> Result<Self, KeepError> {
        let invalid = |reason: String| KeepError::Invalid {
            pattern: entry.to_string(),
            origin: "-K".into(),
            reason,
        };
        if entry.starts_with("./") || !entry.starts_with(['/', '\\', '(', '{', '[', '$', '^']) {
            return Err(invalid(
                "must be an absolute path or a regex for an absolute path".into(),
            ));
        }
        let e = entry.strip_suffix('/').unwrap_or(entry);
        let mut regexes = Vec::new();
        if e.starts_with('/') && !e.ends_with(['$', ')', '*', ']', '?']) {
            regexes.push(ere_to_regex(&format!("{e}/.*")).map_err(invalid)?);
        }
        regexes.push(ere_to_regex(e).map_err(invalid)?);
        let p = KeepPattern {
            text: entry.to_string(),
            syntax: Syntax::Flatcar,
            origin: "-K".into(),
            regexes,
        };
        p.check_usr()?;
        Ok(p)
    }

    fn builtin(text: &str, regex: &str) -> Self {
        KeepPattern {
            text: text.into(),
            syntax: Syntax::Builtin,
            origin: "builtin".into(),
            regexes: vec![regex.into()],
        }
    }

    fn check_usr(&self) -> Result<(), KeepError> {
        for r in &self.regexes {
            let lit = translate::literal_prefix(r);
            if lit == "/usr" || lit.starts_with("/usr/") {
                return Err(KeepError::UnderUsr {
                    pattern: self.text.clone(),
                    origin: self.origin.clone(),
                });
            }
        }
        Ok(())
    }

    /// Re-creates the compiled form after deserialisation.
    pub fn reparse(&self) -> Result<Self, KeepError> {
        match self.syntax {
            Syntax::Flatcar => Self::flatcar(&self.text),
            Syntax::Builtin => Ok(builtins()
                .into_iter()
                .find(|b| b.text == self.text)
                .unwrap_or_else(|| self.clone())),
            _ => Self::parse(&self.text, &self.origin),
        }
    }
}

fn builtins() -> Vec<KeepPattern> {
    vec![KeepPattern::builtin(
        STATE_DIR,
        r"/var/lib/reignite(?:/.*)?",
    )]
}

/// Parses the text of one keep.d file: one pattern per line, `#` comments and
/// blank lines ignored, surrounding whitespace trimmed.
pub fn parse_keep_file(text: &str, origin: &str) -> Result<Vec<KeepPattern>, KeepError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| KeepPattern::parse(l, origin))
        .collect()
}

/// Reads every file in `<root>/etc/reignite/keep.d/` (sorted by name). A
/// missing directory is an empty keep-set; an unreadable file is an error.
pub fn load_keep_d(root: &Path) -> Result<Vec<KeepPattern>, KeepError> {
    let dir = root.join(KEEP_D);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(KeepError::Read {
                path: dir,
                source: e,
            })
        }
    };
    let mut names: Vec<_> = rd
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(|e| KeepError::Read {
            path: dir.clone(),
            source: e,
        })?;
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let p = dir.join(&n);
        let text = std::fs::read_to_string(&p).map_err(|e| KeepError::Read {
            path: p.clone(),
            source: e,
        })?;
        out.extend(parse_keep_file(
            &text,
            &format!("/{KEEP_D}/{}", n.to_string_lossy()),
        )?);
    }
    Ok(out)
}

/// How a path relates to the keep-set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Below {
    /// Nothing below the path can be kept.
    Nothing,
    /// Something below may be kept: walk it.
    Some,
    /// Everything below is kept (by the given pattern index).
    All(usize),
}

/// The verdict for one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Index of the first pattern that keeps the path itself.
    pub kept_by: Option<usize>,
    /// What may be kept below it.
    pub below: Below,
    /// The DFA state after `path/`, to classify children.
    pub(crate) child_state: StateID,
}

/// A compiled keep-set.
#[derive(Debug)]
pub struct KeepSet {
    patterns: Vec<KeepPattern>,
    /// Regex index → pattern index.
    owner: Vec<usize>,
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
    universal: HashSet<StateID>,
}

impl KeepSet {
    /// Compiles `patterns` plus the built-in ones.
    pub fn new(patterns: Vec<KeepPattern>) -> Result<Self, KeepError> {
        let mut all = builtins();
        all.extend(patterns);
        let mut regexes = Vec::new();
        let mut owner = Vec::new();
        for (i, p) in all.iter().enumerate() {
            for r in &p.regexes {
                regexes.push(r.clone());
                owner.push(i);
            }
        }
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(regex_automata::dfa::StartKind::Anchored)
                    .dfa_size_limit(Some(64 << 20)),
            )
            .syntax(
                syntax::Config::new()
                    .unicode(false)
                    .utf8(false)
                    .dot_matches_new_line(true),
            )
            .thompson(thompson::Config::new().utf8(false))
            .build_many(&regexes)
            .map_err(|e| KeepError::Compile(e.to_string()))?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|e| KeepError::Compile(e.to_string()))?;
        let universal = universal_states(&dfa, start);
        Ok(KeepSet {
            patterns: all,
            owner,
            dfa,
            start,
            universal,
        })
    }

    /// The patterns, built-ins first.
    pub fn patterns(&self) -> &[KeepPattern] {
        &self.patterns
    }

    /// The user-declared patterns (without built-ins).
    pub fn declared(&self) -> impl Iterator<Item = &KeepPattern> {
        self.patterns.iter().filter(|p| p.syntax != Syntax::Builtin)
    }

    /// The verdict for the root directory `/` (its children are classified
    /// with [`KeepSet::child`]).
    pub fn root(&self) -> Verdict {
        self.verdict(self.start)
    }

    /// Classifies child `name` of a directory whose verdict is `parent`.
    pub fn child(&self, parent: &Verdict, name: &[u8]) -> Verdict {
        let mut s = parent.child_state;
        for &b in name {
            s = self.dfa.next_state(s, b);
        }
        self.verdict(s)
    }

    fn verdict(&self, s: StateID) -> Verdict {
        let kept_by = self.first_match(self.dfa.next_eoi_state(s));
        let child_state = self.dfa.next_state(s, b'/');
        let below = if self.dfa.is_dead_state(child_state) {
            Below::Nothing
        } else if self.universal.contains(&child_state) {
            Below::All(
                self.first_match(self.dfa.next_eoi_state(child_state))
                    .unwrap_or(0),
            )
        } else {
            Below::Some
        };
        Verdict {
            kept_by,
            below,
            child_state,
        }
    }

    fn first_match(&self, eoi: StateID) -> Option<usize> {
        if !self.dfa.is_match_state(eoi) {
            return None;
        }
        (0..self.dfa.match_len(eoi))
            .map(|i| self.owner[self.dfa.match_pattern(eoi, i).as_usize()])
            .min()
    }

    /// Whether the absolute path (e.g. `/var/log/x`) is kept, and by which
    /// pattern; a path is also kept when any ancestor's subtree is.
    pub fn matches(&self, path: &str) -> Option<usize> {
        let mut v = self.root();
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            if let Below::All(p) = v.below {
                return Some(p);
            }
            v = self.child(&v, comp.as_bytes());
        }
        v.kept_by
    }
}

/// States from which every continuation (followed by end of input) matches:
/// the greatest fixpoint of "end of input matches and all successors are
/// universal" over the states reachable from `start`.
fn universal_states(dfa: &dense::DFA<Vec<u32>>, start: StateID) -> HashSet<StateID> {
    let mut seen: HashMap<StateID, usize> = HashMap::new();
    let mut order = Vec::new();
    let mut queue = VecDeque::from([start]);
    seen.insert(start, 0);
    order.push(start);
    let mut succ: Vec<Vec<StateID>> = Vec::new();
    while let Some(s) = queue.pop_front() {
        let mut next = Vec::with_capacity(8);
        for b in 0..=255u8 {
            let t = dfa.next_state(s, b);
            if !next.contains(&t) {
                next.push(t);
            }
            if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(t) {
                e.insert(order.len());
                order.push(t);
                queue.push_back(t);
            }
        }
        let idx = seen[&s];
        if succ.len() <= idx {
            succ.resize(idx + 1, Vec::new());
        }
        succ[idx] = next;
    }
    succ.resize(order.len(), Vec::new());
    let mut good: Vec<bool> = order
        .iter()
        .map(|&s| dfa.is_match_state(dfa.next_eoi_state(s)))
        .collect();
    loop {
        let mut changed = false;
        for i in 0..order.len() {
            if good[i] && succ[i].iter().any(|t| !good[seen[t]]) {
                good[i] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    order
        .into_iter()
        .zip(good)
        .filter(|(_, g)| *g)
        .map(|(s, _)| s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pats: &[&str]) -> KeepSet {
        KeepSet::new(
            pats.iter()
                .map(|p| KeepPattern::parse(p, "test").unwrap())
                .collect(),
        )
        .unwrap()
    }

    fn fset(entries: &[&str]) -> KeepSet {
        KeepSet::new(
            entries
                .iter()
                .map(|p| KeepPattern::flatcar(p).unwrap())
                .collect(),
        )
        .unwrap()
    }

    fn kept(s: &KeepSet, p: &str) -> bool {
        s.matches(p).is_some()
    }

    #[test]
    fn globs_keep_subtrees() {
        let s = set(&["/var/lib/docker/**", "/etc/ssh/ssh_host_*", "/home/*/.ssh"]);
        for p in [
            "/var/lib/docker",
            "/var/lib/docker/x/y",
            "/etc/ssh/ssh_host_rsa_key",
            "/home/core/.ssh/authorized_keys",
        ] {
            assert!(kept(&s, p), "{p}");
        }
        for p in [
            "/var/lib",
            "/var/lib/dockerx",
            "/etc/ssh/sshd_config",
            "/home/core/.bashrc",
            "/etc/ssh",
        ] {
            assert!(!kept(&s, p), "{p}");
        }
        assert!(kept(&s, "/var/lib/reignite/generations/1"), "builtin");
    }

    #[test]
    fn flatcar_rules() {
        // Examples from flatcar-reset's help text and docs.
        let s = fset(&[
            "/etc/ssh/ssh_host_.*",
            "/var/log",
            "/etc/mypath$",
            "/opt/x/",
        ]);
        assert!(kept(&s, "/etc/ssh/ssh_host_ed25519_key"));
        assert!(kept(&s, "/etc/ssh/ssh_host_ed25519_key.pub"));
        assert!(!kept(&s, "/etc/ssh/sshd_config"));
        assert!(kept(&s, "/var/log"));
        assert!(kept(&s, "/var/log/journal/x"));
        assert!(!kept(&s, "/var/logs"));
        assert!(kept(&s, "/etc/mypath"));
        assert!(
            !kept(&s, "/etc/mypath/child"),
            "'$' suppresses the auto-append"
        );
        assert!(
            kept(&s, "/opt/x/y"),
            "one trailing slash stripped, then auto-append"
        );
        let s = fset(&["/etc/mypat[h]", "(/etc/other)", "^/etc/third"]);
        assert!(kept(&s, "/etc/mypath") && !kept(&s, "/etc/mypath/c"));
        assert!(kept(&s, "/etc/other") && !kept(&s, "/etc/other/c"));
        assert!(
            kept(&s, "/etc/third") && !kept(&s, "/etc/third/c"),
            "no auto-append unless it starts with '/'"
        );
        assert!(KeepPattern::flatcar("./x").is_err());
        assert!(KeepPattern::flatcar("etc").is_err());
        assert!(KeepPattern::flatcar("[/]etc").is_ok());
    }

    #[test]
    fn regex_prefix_has_flatcar_meaning_without_auto_append() {
        let s = set(&["regex:/var/log", "regex:/srv/.*"]);
        assert!(kept(&s, "/var/log") && !kept(&s, "/var/log/x"));
        assert!(kept(&s, "/srv/a/b") && !kept(&s, "/srv"));
        assert!(KeepPattern::parse("regex:var", "t").is_err());
    }

    #[test]
    fn usr_is_an_error() {
        for p in ["/usr/share/x", "/usr/**", "regex:/usr/.*", "regex:^/usr"] {
            assert!(
                matches!(KeepPattern::parse(p, "t"), Err(KeepError::UnderUsr { .. })),
                "{p}"
            );
        }
        assert!(matches!(
            KeepPattern::flatcar("/usr/lib"),
            Err(KeepError::UnderUsr { .. })
        ));
        assert!(KeepPattern::parse("/usrdata", "t").is_ok());
    }

    #[test]
    fn below_analysis() {
        let s = set(&[
            "/var/lib/docker/**",
            "regex:/etc/ssh/ssh_host_.*",
            "regex:/etc/mypath$",
        ]);
        let root = s.root();
        let var = s.child(&root, b"var");
        assert_eq!(var.kept_by, None);
        assert_eq!(var.below, Below::Some);
        let opt = s.child(&root, b"opt");
        assert_eq!(opt.below, Below::Nothing, "nothing under /opt can be kept");
        let lib = s.child(&var, b"lib");
        let docker = s.child(&lib, b"docker");
        assert!(docker.kept_by.is_some());
        assert!(
            matches!(docker.below, Below::All(_)),
            "no need to descend into /var/lib/docker"
        );
        let etc = s.child(&root, b"etc");
        let mypath = s.child(&etc, b"mypath");
        assert!(mypath.kept_by.is_some());
        assert_eq!(mypath.below, Below::Nothing);
        let ssh = s.child(&etc, b"ssh");
        let key = s.child(&ssh, b"ssh_host_rsa_key");
        assert!(
            matches!(key.below, Below::All(_)),
            "'.*' keeps anything below a matched path"
        );
    }

    #[test]
    fn keep_file_parsing() {
        let text = "# data\n/var/lib/docker/**\n\n  regex:/etc/ssh/ssh_host_.*  \n";
        let pats = parse_keep_file(text, "/etc/reignite/keep.d/10-data").unwrap();
        assert_eq!(pats.len(), 2);
        assert_eq!(pats[1].syntax, Syntax::Regex);
        assert!(parse_keep_file("/usr/x\n", "f").is_err());
    }

    #[test]
    fn keep_d_is_read_sorted_and_missing_dir_is_empty() {
        let d = tempfile::tempdir().unwrap();
        assert!(load_keep_d(d.path()).unwrap().is_empty());
        std::fs::create_dir_all(d.path().join(KEEP_D)).unwrap();
        std::fs::write(d.path().join(KEEP_D).join("20-b"), "/b\n").unwrap();
        std::fs::write(d.path().join(KEEP_D).join("10-a"), "/a\n").unwrap();
        let p = load_keep_d(d.path()).unwrap();
        assert_eq!(
            p.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
            ["/a", "/b"]
        );
        assert_eq!(p[0].origin, "/etc/reignite/keep.d/10-a");
    }

    #[test]
    fn reparse_round_trips_through_json() {
        let p = KeepPattern::flatcar("/var/log").unwrap();
        let j = serde_json::to_string(&p).unwrap();
        let back: KeepPattern = serde_json::from_str(&j).unwrap();
        assert_eq!(back, p);
        let s = KeepSet::new(vec![back]).unwrap();
        assert!(kept(&s, "/var/log/x"));
    }
}
