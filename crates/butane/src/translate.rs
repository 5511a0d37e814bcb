//! Base translation (`base/v0_x/translate.go`): the generic snake_case →
//! camelCase copy in Ignition field order, plus the sugar every variant
//! has: `inline`/`local` resources, unit and drop-in `contents_local`,
//! `ssh_authorized_keys_local`, `with_mount_unit` and `storage.trees`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dataurl;
use crate::decode::{DObj, D};
use crate::diag::{Diag, PathExt, P};
use crate::local;
use crate::merge;
use crate::out::{J, JV};
use crate::schema::{self, Def, Ty};

/// Largest local file we embed.
pub const MAX_LOCAL_FILE: u64 = 256 << 20;

/// Translation state.
pub struct Tx<'a> {
    /// Base v0_1–v0_3 (Ignition ≤ 3.2), where link `target`, RAID `level`
    /// and custom Clevis `config`/`pin` are plain strings, always emitted.
    pub legacy: bool,
    pub files_dir: Option<&'a Path>,
    pub no_compression: bool,
    pub diags: Vec<Diag>,
    /// Tree files read and encoded ahead of the (ordered) walk, in parallel.
    pub prefetched: HashMap<PathBuf, (dataurl::DataUrl, bool)>,
}

impl Tx<'_> {
    /// Generic struct conversion with sugar hooks.
    pub fn conv_obj(&mut self, o: &DObj, yp: &P) -> J {
        let mut j = J::obj(Some(yp.clone()));
        let JV::Obj(fields) = &mut j.v else {
            unreachable!()
        };
        for (f, d) in &o.fields {
            if f.json.is_empty() {
                continue;
            }
            let ptr = f.ptr && !(self.legacy && legacy_plain(o.def, f.yaml));
            let f = &schema::F { ptr, ..**f };
            let fp = yp.f(f.yaml);
            let val = match (f.ty, d) {
                (Ty::Str, D::Null) if !f.ptr && f.yaml != "url" => {
                    let mut w = J::str("", Some(fp));
                    w.weak = true;
                    Some(w)
                }
                (_, D::Null) => None,
                (Ty::Str, D::Str(s)) => {
                    if !f.ptr && s.is_empty() && f.yaml == "url" {
                        None
                    } else {
                        let mut w = J::str(s.clone(), Some(fp));
                        w.weak = !f.ptr && s.is_empty();
                        Some(w)
                    }
                }
                (Ty::Int, D::Int(i)) => {
                    if !f.ptr && *i == 0 {
                        None
                    } else {
                        Some(J::int(*i, Some(fp)))
                    }
                }
                (Ty::Bool, D::Bool(b)) => Some(J::bool(*b, Some(fp))),
                (Ty::Obj(_), D::Obj(inner)) => {
                    let c = self.conv_obj(inner, &fp);
                    (!c.is_zero()).then_some(c)
                }
                (Ty::ListStr, D::List(items)) => {
                    let a: Vec<J> = items
                        .iter()
                        .enumerate()
                        .map(|(i, d)| match d {
                            D::Str(s) => J::str(s.clone(), Some(fp.i(i))),
                            _ => J::str("", Some(fp.i(i))),
                        })
                        .collect();
                    (!a.is_empty()).then(|| J::arr(a, Some(fp)))
                }
                (Ty::ListObj(def), D::List(items)) => {
                    let a: Vec<J> = items
                        .iter()
                        .enumerate()
                        .map(|(i, d)| match d {
                            D::Obj(o) => self.conv_obj(o, &fp.i(i)),
                            _ => self.conv_obj(&DObj::empty(def), &fp.i(i)),
                        })
                        .collect();
                    (!a.is_empty()).then(|| J::arr(a, Some(fp)))
                }
                _ => None,
            };
            if let Some(v) = val {
                fields.push((f.json.to_string(), v));
            }
        }
        // Go's non-pointer strings without omitempty are emitted even when
        // the key is absent.
        for f in o.def.fields {
            let plain = !f.ptr || (self.legacy && legacy_plain(o.def, f.yaml));
            if plain
                && matches!(f.ty, Ty::Str)
                && !f.json.is_empty()
                && f.yaml != "url"
                && !o.fields.iter().any(|(g, _)| g.yaml == f.yaml)
            {
                let mut w = J::str("", Some(yp.f(f.yaml)));
                w.weak = true;
                j.set(o.def, f.json, w);
            }
        }
        let def = o.def;
        if std::ptr::eq(def, &schema::RESOURCE) {
            self.resource(o, yp, &mut j);
        } else if std::ptr::eq(def, &schema::UNIT) || std::ptr::eq(def, &schema::DROPIN) {
            self.contents_local(o, yp, &mut j, def);
        } else if std::ptr::eq(def, &schema::PASSWD_USER) {
            self.ssh_keys_local(o, yp, &mut j);
        }
        j
    }

    pub(crate) fn data_url(&self, contents: &[u8], j: &mut J, from: &P) {
        let user = j.get_str("compression").map(str::to_string);
        let d = dataurl::make(contents, user.as_deref(), !self.no_compression);
        j.set(
            &schema::RESOURCE,
            "source",
            J::str(d.url, Some(from.clone())),
        );
        if let Some(c) = d.compression {
            j.set(
                &schema::RESOURCE,
                "compression",
                J::str(c, Some(from.clone())),
            );
        }
    }

    fn resource(&mut self, o: &DObj, yp: &P, j: &mut J) {
        if let Some(rel) = o.str("local") {
            let c = yp.f("local");
            match local::read(rel, self.files_dir, MAX_LOCAL_FILE) {
                Err(e) => {
                    self.diags.push(Diag::err(&c, e));
                    return;
                }
                Ok(contents) => {
                    // Butane validates embedded configs only for `inline`:
                    // its check for `local` tests a relative path that never
                    // starts with `$.ignition.config`.
                    self.data_url(&contents, j, &c);
                }
            }
        }
        if let Some(text) = o.str("inline") {
            self.data_url(text.as_bytes(), j, &yp.f("inline"));
        }
    }

    fn contents_local(&mut self, o: &DObj, yp: &P, j: &mut J, def: &Def) {
        let Some(rel) = o.str("contents_local").filter(|s| !s.is_empty()) else {
            return;
        };
        let c = yp.f("contents_local");
        match local::read(rel, self.files_dir, MAX_LOCAL_FILE) {
            Err(e) => self.diags.push(Diag::err(&c, e)),
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                j.set(def, "contents", J::str(text, Some(c)));
            }
        }
    }

    fn ssh_keys_local(&mut self, o: &DObj, yp: &P, j: &mut J) {
        let files = o.strs("ssh_authorized_keys_local");
        if files.is_empty() {
            return;
        }
        let c = yp.f("ssh_authorized_keys_local");
        if self.files_dir.is_none() {
            self.diags.push(Diag::err(&c, local::ERR_NO_FILES_DIR));
            return;
        }
        for (i, rel) in files.iter().enumerate() {
            match local::read(rel, self.files_dir, MAX_LOCAL_FILE) {
                Err(e) => self.diags.push(Diag::err(c.i(i), e)),
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let keys = j.list_mut(&schema::PASSWD_USER, "sshAuthorizedKeys");
                    for line in text.split('\n') {
                        let line = line.strip_suffix('\r').unwrap_or(line);
                        if !line.is_empty() {
                            keys.push(J::str(line, Some(c.i(i))));
                        }
                    }
                }
            }
        }
        if let Some(k) = j.get_mut("sshAuthorizedKeys") {
            if k.from.is_none() {
                k.from = Some(c);
            }
        }
    }

    /// Translates the base config: `ignition`, `kernel_arguments`,
    /// `passwd`, `storage`, `systemd`, then mount units and trees.
    pub fn base_config(&mut self, cfg: &DObj, ign_version: &str) -> J {
        let root_p = P::root();
        let mut root = J::obj(Some(root_p.clone()));
        let ign_d = cfg
            .obj("ignition")
            .cloned()
            .unwrap_or(DObj::empty(&schema::IGNITION));
        let mut ign = self.conv_obj(&ign_d, &root_p.f("ignition"));
        if let JV::Obj(f) = &mut ign.v {
            f.push((
                "version".into(),
                J::str(ign_version, Some(root_p.f("version"))),
            ));
        }
        root.set(&schema::CONFIG, "ignition", ign);
        for key in ["kernel_arguments", "passwd", "storage", "systemd"] {
            if let Some(o) = cfg.obj(key) {
                let j = self.conv_obj(o, &root_p.f(key));
                if !j.is_zero() {
                    root.set(&schema::CONFIG, &schema::camel(key), j);
                }
            }
        }
        self.mount_units(cfg, &mut root);
        self.trees(cfg, &mut root);
        crate::quadlet::process(self, cfg, &mut root);
        root
    }

    fn mount_units(&mut self, cfg: &DObj, root: &mut J) {
        let Some(storage) = cfg.obj("storage") else {
            return;
        };
        let luks = storage.objs("luks");
        let mut units = Vec::new();
        for (i, fs) in storage.objs("filesystems").into_iter().enumerate() {
            if !fs.is_true("with_mount_unit") {
                continue;
            }
            let from = P::root()
                .f("storage")
                .f("filesystems")
                .i(i)
                .f("with_mount_unit");
            let device = fs.str("device").unwrap_or("");
            let mut remote = false;
            if device.starts_with("/dev/mapper/") || device.starts_with("/dev/disk/by-id/dm-name-")
            {
                for l in &luks {
                    let name = l.str("name").unwrap_or("");
                    if device == format!("/dev/mapper/{name}")
                        || device == format!("/dev/disk/by-id/dm-name-{name}")
                    {
                        let tang = l.obj("clevis").map(|c| c.list("tang").len()).unwrap_or(0);
                        if tang > 0 {
                            remote = true;
                            break;
                        }
                    }
                }
            }
            let format = fs.str("format").unwrap_or("");
            let swap = format == "swap";
            let opts = fs.strs("mount_options");
            let options = if !opts.is_empty() || remote {
                let mut o = opts.join(",");
                if remote {
                    if !opts.is_empty() {
                        o.push(',');
                    }
                    o.push_str("_netdev");
                }
                format!("\nOptions={o}")
            } else {
                String::new()
            };
            let esc_dev = unit_name_path_escape(device);
            let (contents, name) = if swap {
                (
                    format!("# Generated by Butane\n[Swap]\nWhat={device}{options}\n\n[Install]\nRequiredBy=swap.target"),
                    format!("{esc_dev}.swap"),
                )
            } else {
                let path = fs.str("path").unwrap_or("");
                let req = if remote {
                    "remote-fs.target"
                } else {
                    "local-fs.target"
                };
                (
                    format!(
                        "# Generated by Butane\n[Unit]\nRequires=systemd-fsck@{esc_dev}.service\nAfter=systemd-fsck@{esc_dev}.service\n\n[Mount]\nWhere={path}\nWhat={device}\nType={format}{options}\n\n[Install]\nRequiredBy={req}"
                    ),
                    format!("{}.mount", unit_name_path_escape(path)),
                )
            };
            let mut u = J::obj(Some(from.clone()));
            if let JV::Obj(f) = &mut u.v {
                f.push(("contents".into(), J::str(contents, Some(from.clone()))));
                f.push(("enabled".into(), J::bool(true, Some(from.clone()))));
                f.push(("name".into(), J::str(name, Some(from.clone()))));
            }
            units.push(u);
        }
        if units.is_empty() {
            return;
        }
        let fsp = P::root().f("storage").f("filesystems");
        let mut parent = J::obj(None);
        let systemd = parent.obj_mut(&schema::CONFIG, "systemd");
        systemd.from = Some(fsp.clone());
        systemd.set(&schema::SYSTEMD, "units", J::arr(units, Some(fsp)));
        let child = std::mem::replace(root, J::obj(None));
        *root = merge::merge(parent, child);
    }

    fn trees(&mut self, cfg: &DObj, root: &mut J) {
        let Some(storage) = cfg.obj("storage") else {
            return;
        };
        let trees = storage.objs("trees");
        if trees.is_empty() {
            return;
        }
        let mut st = std::mem::replace(root.obj_mut(&schema::CONFIG, "storage"), J::obj(None));
        if st.from.is_none() {
            st.from = Some(P::root().f("storage"));
        }
        let mut tracker = Tracker::new(&st);
        for (i, tree) in trees.into_iter().enumerate() {
            let yp = P::root().f("storage").f("trees").i(i);
            let Some(dir) = self.files_dir else {
                self.diags.push(Diag::err(&yp, local::ERR_NO_FILES_DIR));
                break;
            };
            let dir = dir.to_string_lossy();
            let src = local::join(&dir, tree.str("local").unwrap_or(""));
            if let Err(e) = local::ensure_within(&src, &dir) {
                self.diags.push(Diag::err(&yp, e));
                continue;
            }
            match std::fs::metadata(&src) {
                Err(e) => {
                    self.diags
                        .push(Diag::err(&yp, format!("stat {src}: {}", local::os_msg(&e))));
                    continue;
                }
                Ok(m) if !m.is_dir() => {
                    self.diags
                        .push(Diag::err(&yp, "root of tree must be a directory"));
                    continue;
                }
                Ok(_) => {}
            }
            let dest = tree.str("path").filter(|s| !s.is_empty()).unwrap_or("/");
            let mut owner = |key: &str| {
                tree.obj(key)
                    .map(|o| self.conv_obj(o, &yp.f(key)))
                    .filter(|j| !j.is_zero())
            };
            let topts = TreeOpts {
                user: owner("user"),
                group: owner("group"),
                file_mode: tree.int("file_mode"),
                dir_mode: tree.int("dir_mode"),
            };
            self.prefetch(Path::new(&src));
            self.walk(
                &yp,
                &mut st,
                &mut tracker,
                Path::new(&src),
                "",
                dest,
                &topts,
            );
            self.prefetched.clear();
        }
        *root.obj_mut(&schema::CONFIG, "storage") = st;
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        yp: &P,
        st: &mut J,
        t: &mut Tracker,
        dir: &Path,
        rel: &str,
        dest_base: &str,
        topts: &TreeOpts,
    ) {
        if topts.dir_mode.is_some() || topts.user.is_some() || topts.group.is_some() {
            let dest = local::join(dest_base, rel);
            if t.exists(&dest) {
                self.diags.push(Diag::err(yp, ERR_NODE_EXISTS));
            } else {
                let mut d = topts.node(&schema::DIRECTORY, &dest, yp);
                let mode = topts.dir_mode.unwrap_or(0o755);
                d.set(&schema::DIRECTORY, "mode", J::int(mode, Some(yp.clone())));
                let dirs = st.list_mut(&schema::STORAGE, "directories");
                dirs.push(d);
                t.dirs.insert(dest, dirs.len() - 1);
            }
        }
        let mut entries: Vec<(String, std::fs::FileType)> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    Some((
                        e.file_name().to_string_lossy().into_owned(),
                        e.file_type().ok()?,
                    ))
                })
                .collect(),
            Err(e) => {
                self.diags.push(Diag::err(
                    yp,
                    format!("open {}: {}", dir.display(), local::os_msg(&e)),
                ));
                return;
            }
        };
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (name, ft) in entries {
            let src = dir.join(&name);
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let dest = local::join(dest_base, &rel_path);
            if ft.is_dir() {
                self.walk(yp, st, t, &src, &rel_path, dest_base, topts);
            } else if ft.is_file() {
                self.tree_file(yp, st, t, &src, &dest, topts);
            } else if ft.is_symlink() {
                self.tree_link(yp, st, t, &src, &dest, topts);
            } else {
                self.diags.push(Diag::err(
                    yp,
                    "trees may only contain files, directories, and symlinks",
                ));
            }
        }
    }

    fn tree_file(
        &mut self,
        yp: &P,
        st: &mut J,
        t: &mut Tracker,
        src: &Path,
        dest: &str,
        topts: &TreeOpts,
    ) {
        let idx = match t.files.get(dest) {
            Some(&i) => {
                let f = &st.arr_at("files")[i];
                if f.get("contents")
                    .and_then(|c| c.get_str("source"))
                    .is_some_and(|s| !s.is_empty())
                {
                    self.diags.push(Diag::err(yp, ERR_NODE_EXISTS));
                    return;
                }
                i
            }
            None => {
                if t.exists(dest) {
                    self.diags.push(Diag::err(yp, ERR_NODE_EXISTS));
                    return;
                }
                let files = st.list_mut(&schema::STORAGE, "files");
                files.push(topts.node(&schema::FILE, dest, yp));
                t.files.insert(dest.to_string(), files.len() - 1);
                files.len() - 1
            }
        };
        let user = st.arr_at("files")[idx]
            .get("contents")
            .and_then(|c| c.get_str("compression"))
            .map(str::to_string);
        let pre = self.prefetched.remove(src);
        let (url, exec) = match pre {
            Some(v) if user.as_deref().is_none_or(str::is_empty) => v,
            _ => match read_with_mode(src) {
                Ok((contents, exec)) => (
                    dataurl::make(&contents, user.as_deref(), !self.no_compression),
                    exec,
                ),
                Err(e) => {
                    self.diags.push(Diag::err(
                        yp,
                        format!("open {}: {}", src.display(), local::os_msg(&e)),
                    ));
                    return;
                }
            },
        };
        let files = st.list_mut(&schema::STORAGE, "files");
        let f = &mut files[idx];
        let mut res = f
            .get("contents")
            .cloned()
            .unwrap_or_else(|| J::obj(Some(yp.clone())));
        res.set(
            &schema::RESOURCE,
            "source",
            J::str(url.url, Some(yp.clone())),
        );
        if let Some(c) = url.compression {
            res.set(
                &schema::RESOURCE,
                "compression",
                J::str(c, Some(yp.clone())),
            );
        }
        f.set(&schema::FILE, "contents", res);
        if f.get("mode").is_none() {
            let mode = topts.file_mode.unwrap_or(if exec { 0o755 } else { 0o644 });
            f.set(&schema::FILE, "mode", J::int(mode, Some(yp.clone())));
        }
    }

    /// Reads and encodes every regular file under `dir` on a few threads,
    /// so the ordered walk only assembles results.
    fn prefetch(&mut self, dir: &Path) {
        fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.filter_map(Result::ok) {
                match e.file_type() {
                    Ok(ft) if ft.is_dir() => collect(&e.path(), out),
                    Ok(ft) if ft.is_file() => out.push(e.path()),
                    _ => {}
                }
            }
        }
        let mut files = Vec::new();
        collect(dir, &mut files);
        let allow = !self.no_compression;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let chunk = files.len().div_ceil(threads).max(1);
        let results: Vec<Vec<(PathBuf, (dataurl::DataUrl, bool))>> = std::thread::scope(|sc| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    sc.spawn(move || {
                        part.iter()
                            .filter_map(|p| {
                                let (contents, exec) = read_with_mode(p).ok()?;
                                Some((p.clone(), (dataurl::make(&contents, None, allow), exec)))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        self.prefetched.extend(results.into_iter().flatten());
    }

    fn tree_link(
        &mut self,
        yp: &P,
        st: &mut J,
        t: &mut Tracker,
        src: &Path,
        dest: &str,
        topts: &TreeOpts,
    ) {
        let idx = match t.links.get(dest) {
            Some(&i) => {
                if st.arr_at("links")[i]
                    .get_str("target")
                    .is_some_and(|s| !s.is_empty())
                {
                    self.diags.push(Diag::err(yp, ERR_NODE_EXISTS));
                    return;
                }
                i
            }
            None => {
                if t.exists(dest) {
                    self.diags.push(Diag::err(yp, ERR_NODE_EXISTS));
                    return;
                }
                let links = st.list_mut(&schema::STORAGE, "links");
                links.push(topts.node(&schema::LINK, dest, yp));
                t.links.insert(dest.to_string(), links.len() - 1);
                links.len() - 1
            }
        };
        let target = match std::fs::read_link(src) {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => {
                self.diags.push(Diag::err(yp, local::os_msg(&e)));
                return;
            }
        };
        let links = st.list_mut(&schema::STORAGE, "links");
        links[idx].set(&schema::LINK, "target", J::str(target, Some(yp.clone())));
    }
}

/// Ownership and modes for tree nodes (base v0_7+).
pub(crate) struct TreeOpts {
    pub user: Option<J>,
    pub group: Option<J>,
    pub file_mode: Option<i64>,
    pub dir_mode: Option<i64>,
}

impl TreeOpts {
    /// Butane's `createNode`: path plus the tree's user and group.
    pub fn node(&self, def: &Def, dest: &str, yp: &P) -> J {
        let mut n = J::obj(Some(yp.clone()));
        n.set(def, "path", J::str(dest, Some(yp.clone())));
        if let Some(u) = &self.user {
            n.set(def, "user", u.clone());
        }
        if let Some(g) = &self.group {
            n.set(def, "group", g.clone());
        }
        n
    }
}

pub const ERR_NODE_EXISTS: &str =
    "matching filesystem node has existing contents or different type";

/// Paths already declared in `storage`.
pub(crate) struct Tracker {
    pub files: HashMap<String, usize>,
    pub dirs: HashMap<String, usize>,
    pub links: HashMap<String, usize>,
}

impl Tracker {
    pub fn new(st: &J) -> Self {
        let index = |key: &str| {
            st.arr_at(key)
                .iter()
                .enumerate()
                .filter_map(|(i, n)| Some((n.get_str("path")?.to_string(), i)))
                .collect()
        };
        Self {
            files: index("files"),
            dirs: index("directories"),
            links: index("links"),
        }
    }
    pub fn exists(&self, p: &str) -> bool {
        self.files.contains_key(p) || self.dirs.contains_key(p) || self.links.contains_key(p)
    }
}

/// Fields that were non-pointer strings before Ignition 3.3.
fn legacy_plain(def: &Def, yaml: &str) -> bool {
    (std::ptr::eq(def, &schema::LINK) && yaml == "target")
        || (std::ptr::eq(def, &schema::RAID) && yaml == "level")
        || (std::ptr::eq(def, &schema::CLEVIS_CUSTOM) && (yaml == "config" || yaml == "pin"))
}

/// Reads a file and whether any execute bit is set, with one open.
fn read_with_mode(p: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mut f = std::fs::File::open(p)?;
    let meta = f.metadata()?;
    if meta.len() > MAX_LOCAL_FILE {
        return Err(std::io::Error::other("file too large"));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut buf)?;
    Ok((buf, meta.permissions().mode() & 0o111 != 0))
}

/// go-systemd's `UnitNamePathEscape`.
pub fn unit_name_path_escape(p: &str) -> String {
    let c = local::clean(p);
    if c == "/" {
        return "-".into();
    }
    let t = c.trim_matches('/');
    let mut out = String::with_capacity(t.len());
    for (i, b) in t.bytes().enumerate() {
        if b == b'/' {
            out.push('-');
        } else if (b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'.')
            && !(i == 0 && b == b'.')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_path_escaping() {
        assert_eq!(unit_name_path_escape("/var/lib/data"), "var-lib-data");
        assert_eq!(
            unit_name_path_escape("/dev/disk/by-partlabel/var"),
            "dev-disk-by\\x2dpartlabel-var"
        );
        assert_eq!(unit_name_path_escape("/"), "-");
        assert_eq!(unit_name_path_escape("/.hidden/x"), "\\x2ehidden-x");
    }
}
