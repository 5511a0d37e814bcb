//! `reignite validate`: parses and validates Ignition configs (or Butane
//! YAML, translated first) and prints
//! Ignition's report, so results can be compared line by line with
//! `ignition-validate`, plus a human format that shows the offending line
//! with a caret and a JSON format for tools. `--strict` turns warnings
//! (unknown keys above all: upstream's typo trap) into errors.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use reignite_spec::report::{Entry, Kind};

/// Arguments of `reignite validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Treat warnings (e.g. unknown keys, which Ignition ignores) as errors.
    #[arg(long)]
    pub strict: bool,

    /// Output format; `human` on a terminal, else `raw` (Ignition's lines).
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Directory for Butane `local:` files (only used for Butane YAML input).
    #[arg(long, short = 'd', value_name = "DIR")]
    pub files_dir: Option<PathBuf>,

    /// Ignition JSON or Butane YAML configs to validate (`-` reads stdin).
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Each entry with the offending source line and a caret (not for parsing).
    Human,
    /// A JSON array of entries with their file name.
    Json,
    /// Ignition's report lines, as `ignition-validate` prints them.
    Raw,
}

/// What validating one config produced.
#[derive(Debug)]
struct Judged {
    /// Report entries in Ignition's order, with positions.
    entries: Vec<Entry>,
    /// Why the config could not be parsed at all when no error entry says
    /// it, e.g. `unsupported config version`.
    failure: Option<String>,
}

/// Parses and validates one config. Butane YAML (detected by content) is
/// translated and judged by Butane's report, whose positions point into the
/// YAML; Butane validates the Ignition config it generates.
fn judge(bytes: &[u8], files_dir: Option<&PathBuf>) -> Judged {
    if reignite_butane::is_butane(bytes) {
        let opts = reignite_butane::Options {
            files_dir: files_dir.cloned(),
            ..Default::default()
        };
        return match reignite_butane::translate(bytes, &opts) {
            Ok(t) => Judged {
                entries: t.report.entries,
                failure: None,
            },
            Err(e) => {
                let has_error = e.report.entries.iter().any(|x| x.kind == Kind::Error);
                Judged {
                    entries: e.report.entries,
                    failure: (!has_error).then(|| e.error.to_string()),
                }
            }
        };
    }
    use reignite_spec::ParseError;
    match reignite_spec::parse(bytes) {
        Ok(parsed) => Judged {
            entries: parsed.report.entries,
            failure: None,
        },
        Err(ParseError::Invalid(report)) => Judged {
            entries: report.entries,
            failure: None,
        },
        Err(e) => Judged {
            entries: Vec::new(),
            failure: Some(e.to_string()),
        },
    }
}

/// One judged file, ready for output.
struct FileReport {
    name: String,
    source: Vec<u8>,
    judged: Judged,
}

impl FileReport {
    fn is_fatal(&self) -> bool {
        self.judged.failure.is_some() || self.judged.entries.iter().any(|e| e.kind == Kind::Error)
    }
}

fn read_input(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading config from standard input")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading config {}", path.display()))
}

/// Runs `reignite validate`.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Human
    } else {
        Format::Raw
    });
    let mut reports = Vec::new();
    for path in &args.configs {
        let source = read_input(path)?;
        let mut judged = judge(&source, args.files_dir.as_ref());
        if args.strict {
            for e in &mut judged.entries {
                if e.kind == Kind::Warning {
                    e.kind = Kind::Error;
                }
            }
        }
        let name = if path.as_os_str() == "-" {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        reports.push(FileReport {
            name,
            source,
            judged,
        });
    }
    let multi = reports.len() > 1;
    let text = match format {
        Format::Raw => render_raw(&reports, multi),
        Format::Human => render_human(&reports),
        Format::Json => render_json(&reports)?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).context("writing report")?;
    out.flush().context("writing report")?;
    for r in &reports {
        if let Some(f) = &r.judged.failure {
            if format != Format::Human {
                eprintln!("{}: couldn't parse config: {f}", r.name);
            }
        }
    }
    Ok(i32::from(reports.iter().any(FileReport::is_fatal)))
}

/// Ignition's lines; with several files each line is prefixed by the file
/// name and `: `.
fn render_raw(reports: &[FileReport], multi: bool) -> String {
    let mut s = String::new();
    for r in reports {
        for e in &r.judged.entries {
            if multi {
                s.push_str(&r.name);
                s.push_str(": ");
            }
            s.push_str(&e.to_string());
            s.push('\n');
        }
    }
    s
}

#[derive(serde::Serialize)]
struct JsonEntry<'a> {
    file: &'a str,
    kind: Kind,
    path: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
}

/// A JSON array of all entries, plus one `error` entry without a path per
/// file that could not be parsed at all.
fn render_json(reports: &[FileReport]) -> anyhow::Result<String> {
    let mut all = Vec::new();
    for r in reports {
        for e in &r.judged.entries {
            all.push(JsonEntry {
                file: &r.name,
                kind: e.kind,
                path: e.path.as_ref().map(ToString::to_string),
                line: e.line,
                column: e.column,
                message: &e.message,
            });
        }
        if let Some(f) = &r.judged.failure {
            if r.judged.entries.is_empty() {
                all.push(JsonEntry {
                    file: &r.name,
                    kind: Kind::Error,
                    path: None,
                    line: None,
                    column: None,
                    message: f,
                });
            }
        }
    }
    let mut s = serde_json::to_string_pretty(&all).context("encoding JSON report")?;
    s.push('\n');
    Ok(s)
}

/// `file:line:col: severity: message`, the path, and the source line with a
/// caret under the column; a summary line per file.
fn render_human(reports: &[FileReport]) -> String {
    let mut s = String::new();
    for r in reports {
        let text = String::from_utf8_lossy(&r.source);
        let lines: Vec<&str> = text.split('\n').collect();
        for e in &r.judged.entries {
            let loc = match (e.line, e.column) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}", r.name),
                _ => r.name.clone(),
            };
            s.push_str(&format!("{loc}: {}: {}\n", e.kind, e.message));
            if let Some(p) = &e.path {
                s.push_str(&format!("  at {p}\n"));
            }
            if let (Some(l), Some(c)) = (e.line, e.column) {
                if let Some(src) = l.checked_sub(1).and_then(|i| lines.get(i)) {
                    s.push_str(&caret(src, l, c));
                }
            }
            if let Some(h) = unknown_key_hint(e) {
                s.push_str(&format!("  hint: {h}\n"));
            }
        }
        let errors = r
            .judged
            .entries
            .iter()
            .filter(|e| e.kind == Kind::Error)
            .count();
        let warnings = r
            .judged
            .entries
            .iter()
            .filter(|e| e.kind == Kind::Warning)
            .count();
        match &r.judged.failure {
            Some(f) => s.push_str(&format!(
                "{}: invalid: couldn't parse config: {f}\n",
                r.name
            )),
            None if errors > 0 => s.push_str(&format!(
                "{}: invalid: {errors} error(s), {warnings} warning(s)\n",
                r.name
            )),
            None => s.push_str(&format!("{}: valid, {warnings} warning(s)\n", r.name)),
        }
    }
    s
}

/// Field names of Ignition's objects (all spec versions), keyed by the JSON
/// name under which the object appears. Used only for hints.
const FIELDS: &[(&str, &[&str])] = &[
    (
        "$",
        &[
            "ignition",
            "kernelArguments",
            "passwd",
            "storage",
            "systemd",
        ],
    ),
    (
        "ignition",
        &["config", "proxy", "security", "timeouts", "version"],
    ),
    ("config", &["merge", "replace"]),
    ("proxy", &["httpProxy", "httpsProxy", "noProxy"]),
    ("security", &["tls"]),
    ("tls", &["certificateAuthorities"]),
    ("timeouts", &["httpResponseHeaders", "httpTotal"]),
    ("merge", RESOURCE),
    ("replace", RESOURCE),
    ("certificateAuthorities", RESOURCE),
    ("contents", RESOURCE),
    ("append", RESOURCE),
    ("keyFile", RESOURCE),
    ("httpHeaders", &["name", "value"]),
    ("verification", &["hash"]),
    ("kernelArguments", &["shouldExist", "shouldNotExist"]),
    ("passwd", &["groups", "users"]),
    (
        "users",
        &[
            "gecos",
            "groups",
            "homeDir",
            "name",
            "noCreateHome",
            "noLogInit",
            "noUserGroup",
            "passwordHash",
            "primaryGroup",
            "shell",
            "shouldExist",
            "sshAuthorizedKeys",
            "system",
            "uid",
        ],
    ),
    (
        "groups",
        &["gid", "name", "passwordHash", "shouldExist", "system"],
    ),
    (
        "storage",
        &[
            "directories",
            "disks",
            "files",
            "filesystems",
            "links",
            "luks",
            "raid",
        ],
    ),
    (
        "directories",
        &["group", "overwrite", "path", "user", "mode"],
    ),
    (
        "files",
        &[
            "group",
            "overwrite",
            "path",
            "user",
            "append",
            "contents",
            "mode",
        ],
    ),
    (
        "links",
        &["group", "overwrite", "path", "user", "hard", "target"],
    ),
    ("user", &["id", "name"]),
    ("group", &["id", "name"]),
    ("disks", &["device", "partitions", "wipeTable"]),
    (
        "partitions",
        &[
            "guid",
            "label",
            "number",
            "resize",
            "shouldExist",
            "sizeMiB",
            "startMiB",
            "typeGuid",
            "wipePartitionEntry",
        ],
    ),
    (
        "filesystems",
        &[
            "device",
            "format",
            "label",
            "mountOptions",
            "options",
            "path",
            "uuid",
            "wipeFilesystem",
        ],
    ),
    (
        "luks",
        &[
            "cex",
            "clevis",
            "device",
            "discard",
            "keyFile",
            "label",
            "name",
            "openOptions",
            "options",
            "uuid",
            "wipeVolume",
        ],
    ),
    ("cex", &["enabled"]),
    ("clevis", &["custom", "tang", "threshold", "tpm2"]),
    ("custom", &["config", "needsNetwork", "pin"]),
    ("tang", &["advertisement", "thumbprint", "url"]),
    ("raid", &["devices", "level", "name", "options", "spares"]),
    ("systemd", &["units"]),
    ("units", &["contents", "dropins", "enabled", "mask", "name"]),
    ("dropins", &["contents", "name"]),
];

const RESOURCE: &[&str] = &["compression", "httpHeaders", "source", "verification"];

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A "did you mean" for an unknown-key warning: the field in another letter
/// case (which Ignition applies anyway), a near miss, a field of a newer
/// spec, or a field that belongs to another object.
fn unknown_key_hint(e: &Entry) -> Option<String> {
    let key = e
        .message
        .strip_prefix("unused key ")
        .or_else(|| e.message.strip_prefix("Unused key "))?;
    let path = e.path.as_ref()?;
    let parent = path
        .0
        .iter()
        .rev()
        .skip(1)
        .find_map(|p| match p {
            reignite_spec::report::PathElem::Field(f) => Some(f.as_str()),
            reignite_spec::report::PathElem::Index(_) => None,
        })
        .unwrap_or("$");
    let fields = FIELDS.iter().find(|(k, _)| *k == parent).map(|(_, f)| *f)?;
    if fields.contains(&key) {
        return Some(format!(
            "`{key}` exists only in newer spec versions than this config's `ignition.version`"
        ));
    }
    if let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(key)) {
        return Some(format!(
            "Ignition matches keys case-insensitively and applies this value as `{f}`; write `{f}`"
        ));
    }
    let near = fields
        .iter()
        .map(|f| {
            (
                levenshtein(&key.to_ascii_lowercase(), &f.to_ascii_lowercase()),
                *f,
            )
        })
        .filter(|&(d, f)| d <= (f.len() / 3).max(1))
        .min();
    if let Some((_, f)) = near {
        return Some(format!("did you mean `{f}`? (the key is ignored)"));
    }
    let owner = FIELDS
        .iter()
        .find(|(_, fs)| fs.iter().any(|f| f.eq_ignore_ascii_case(key)))
        .map(|(k, _)| *k)?;
    Some(format!(
        "`{key}` is a field of `{owner}`, not of this object (the key is ignored)"
    ))
}

/// The source line (shortened around the column when very long) and a caret
/// under byte column `col` (1-based).
fn caret(src: &str, line: usize, col: usize) -> String {
    const WIDTH: usize = 100;
    let src = src.strip_suffix('\r').unwrap_or(src);
    let byte = (col.saturating_sub(1)).min(src.len());
    let byte = (0..=byte)
        .rev()
        .find(|&b| src.is_char_boundary(b))
        .unwrap_or(0);
    let before: Vec<char> = src[..byte].chars().collect();
    let after: Vec<char> = src[byte..].chars().collect();
    let skip = before.len().saturating_sub(WIDTH / 2);
    let shown_before: String = before[skip..].iter().collect();
    let shown_after: String = after.iter().take(WIDTH / 2).collect();
    let prefix = if skip > 0 { "..." } else { "" };
    let gutter = format!("{line:>5} | ");
    let pad = " ".repeat(gutter.len() - 2);
    let indent: String = shown_before
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!(
        "{gutter}{prefix}{shown_before}{shown_after}\n{pad}| {}{indent}^\n",
        " ".repeat(prefix.len())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reignite_spec::report::ConfigPath;

    fn entry(kind: Kind, line: usize, col: usize, msg: &str) -> Entry {
        let mut e = match kind {
            Kind::Error => Entry::error(ConfigPath::root().field("storage"), msg),
            _ => Entry::warning(ConfigPath::root().field("storage"), msg),
        };
        e.line = Some(line);
        e.column = Some(col);
        e
    }

    fn report(entries: Vec<Entry>, failure: Option<&str>) -> FileReport {
        FileReport {
            name: "c.ign".into(),
            source: b"{\n  \"storage\": 1\n}\n".to_vec(),
            judged: Judged {
                entries,
                failure: failure.map(String::from),
            },
        }
    }

    #[test]
    fn raw_is_ignitions_format_and_prefixed_for_several_files() {
        let r = report(vec![entry(Kind::Error, 2, 3, "boom")], None);
        assert_eq!(
            render_raw(std::slice::from_ref(&r), false),
            "error at $.storage, line 2 col 3: boom\n"
        );
        assert_eq!(
            render_raw(&[r], true),
            "c.ign: error at $.storage, line 2 col 3: boom\n"
        );
    }

    #[test]
    fn human_shows_line_and_caret() {
        let r = report(vec![entry(Kind::Warning, 2, 3, "some warning")], None);
        let h = render_human(&[r]);
        assert_eq!(
            h,
            "c.ign:2:3: warning: some warning\n  at $.storage\n    2 |   \"storage\": 1\n      |   ^\nc.ign: valid, 1 warning(s)\n"
        );
    }

    #[test]
    fn json_lists_entries_and_failures() {
        let a = report(vec![entry(Kind::Error, 2, 3, "boom")], None);
        let b = report(vec![], Some("unsupported config version"));
        let v: serde_json::Value = serde_json::from_str(&render_json(&[a, b]).unwrap()).unwrap();
        assert_eq!(v[0]["file"], "c.ign");
        assert_eq!(v[0]["kind"], "error");
        assert_eq!(v[0]["path"], "$.storage");
        assert_eq!(v[0]["line"], 2);
        assert_eq!(v[1]["message"], "unsupported config version");
        assert!(v[1]["path"].is_null());
    }

    #[test]
    fn judges_ignition_and_butane() {
        let j = judge(
            br#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"x"}]}}"#,
            None,
        );
        assert_eq!(j.entries.len(), 1);
        assert_eq!(j.entries[0].message, "path not absolute");
        assert!(j.failure.is_none());
        let j = judge(br#"{"ignition":{"version":"2.2.0"}}"#, None);
        assert_eq!(j.failure.as_deref(), Some("unsupported config version"));
        let bu = b"variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: x\n";
        let j = judge(bu, None);
        assert_eq!(j.entries.len(), 1, "{:?}", j.entries);
        assert_eq!(j.entries[0].line, Some(5), "position in the YAML");
    }

    #[test]
    fn strict_turns_warnings_into_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("typo.ign");
        std::fs::write(&f, r#"{"ignition":{"version":"3.3.0"},"storge":{}}"#).unwrap();
        let args = |strict| Args {
            strict,
            format: Some(Format::Json),
            files_dir: None,
            configs: vec![f.clone()],
        };
        assert_eq!(run(args(false)).unwrap(), 0);
        assert_eq!(run(args(true)).unwrap(), 1);
        let missing = Args {
            configs: vec![dir.path().join("nope.ign")],
            ..args(false)
        };
        let err = run(missing).unwrap_err().to_string();
        assert!(err.contains("nope.ign"), "{err}");
    }

    #[test]
    fn hints_for_unknown_keys() {
        let hint = |path: &[&str], key: &str| {
            let mut p = ConfigPath::root();
            for f in path {
                p = match f.parse::<usize>() {
                    Ok(i) => p.index(i),
                    Err(_) => p.field(f),
                };
            }
            unknown_key_hint(&Entry::warning(p.field(key), format!("unused key {key}")))
        };
        assert_eq!(
            hint(&["storage", "files", "0"], "contnts").as_deref(),
            Some("did you mean `contents`? (the key is ignored)")
        );
        assert!(hint(&["storage", "files", "0"], "Path")
            .unwrap()
            .contains("as `path`"));
        assert!(hint(&[], "filesystems")
            .unwrap()
            .contains("field of `storage`"));
        assert!(hint(&[], "kernelArguments").unwrap().contains("newer spec"));
        assert_eq!(hint(&["storage"], "zzzzzzzz"), None);
    }

    #[test]
    fn caret_handles_long_and_multibyte_lines() {
        let c = caret("é\"x\"", 1, 3);
        assert_eq!(c, "    1 | é\"x\"\n      |  ^\n");
        let long = format!("{}X{}", "a".repeat(300), "b".repeat(300));
        let c = caret(&long, 7, 301);
        let lines: Vec<&str> = c.lines().collect();
        let caret_col = lines[1].find('^').unwrap();
        assert_eq!(lines[0].as_bytes()[caret_col], b'X');
    }
}
