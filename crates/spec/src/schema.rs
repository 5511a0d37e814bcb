//! The config schema of every spec version 3.0.0 – 3.7.0-experimental as one
//! data table: for each Go struct of upstream's generated `schema.go`, its
//! fields in Go field order with JSON name, kind, pointer-ness, the range of
//! versions that have the field, and the Go type name Go's JSON errors print.
//!
//! **Deliberate deviation from style rule 7** ("one module per spec version,
//! generated types"): the eight schemas differ in about twenty fields, so
//! eight copies of ~35 structs would be ~90% duplicate. One table with
//! `since`/`until` per field is much smaller, makes the version boundaries
//! reviewable in one place, and drives both decoding (Go `encoding/json`
//! semantics, see `decode.rs`) and the unused-key walk. Every version is
//! still decoded under exactly its own field set and then translated up.
//!
//! Versions are numbered by minor: 0 = 3.0.0 … 6 = 3.6.0,
//! 7 = 3.7.0-experimental.

/// A Go struct of the schema.
#[derive(Debug)]
pub(crate) struct StructDef {
    /// Go type name (`File`), printed in `Go struct field File.…`.
    pub go: &'static str,
    /// Go type as printed in `of type types.File`.
    pub go_ty: &'static str,
    /// Fields in Go order, embedded structs flattened.
    pub fields: &'static [Field],
}

/// Kind of a field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Int,
    Bool,
    Struct(&'static StructDef),
    /// A slice of named strings (`[]types.Group`); the element's Go type.
    StrList(&'static str),
    StructList(&'static StructDef),
}

/// One struct field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub ty: Ty,
    /// Go pointer: `null` resets it, absent means unset.
    pub ptr: bool,
    pub since: u8,
    pub until: u8,
    /// Go type of the field as printed in errors (`[]types.File`, `int`).
    pub go: &'static str,
}

impl Field {
    /// Whether the field exists in version `minor`.
    pub(crate) fn in_version(&self, minor: u8) -> bool {
        (self.since..=self.until).contains(&minor)
    }

    const fn since(mut self, v: u8) -> Self {
        self.since = v;
        self
    }

    const fn until(mut self, v: u8) -> Self {
        self.until = v;
        self
    }
}

/// Newest version index.
pub(crate) const NEWEST: u8 = 7;

const fn field(name: &'static str, ty: Ty, ptr: bool, go: &'static str) -> Field {
    Field {
        name,
        ty,
        ptr,
        since: 0,
        until: NEWEST,
        go,
    }
}
/// `*string`
const fn s(name: &'static str) -> Field {
    field(name, Ty::Str, true, "string")
}
/// `string`
const fn ps(name: &'static str) -> Field {
    field(name, Ty::Str, false, "string")
}
/// `*int`
const fn i(name: &'static str) -> Field {
    field(name, Ty::Int, true, "int")
}
/// `*bool`
const fn b(name: &'static str) -> Field {
    field(name, Ty::Bool, true, "bool")
}
/// A non-pointer struct.
const fn st(name: &'static str, def: &'static StructDef) -> Field {
    field(name, Ty::Struct(def), false, def.go_ty)
}
/// A slice of structs.
const fn list(name: &'static str, def: &'static StructDef, go: &'static str) -> Field {
    field(name, Ty::StructList(def), false, go)
}
/// A slice of named strings.
const fn slist(name: &'static str, elem: &'static str, go: &'static str) -> Field {
    field(name, Ty::StrList(elem), false, go)
}

pub(crate) static CONFIG: StructDef = StructDef {
    go: "Config",
    go_ty: "types.Config",
    fields: &[
        st("ignition", &IGNITION),
        st("kernelArguments", &KERNEL_ARGUMENTS).since(3),
        st("passwd", &PASSWD),
        st("storage", &STORAGE),
        st("systemd", &SYSTEMD),
    ],
};

static IGNITION: StructDef = StructDef {
    go: "Ignition",
    go_ty: "types.Ignition",
    fields: &[
        st("config", &IGNITION_CONFIG),
        st("proxy", &PROXY).since(1),
        st("security", &SECURITY),
        st("timeouts", &TIMEOUTS),
        ps("version"),
    ],
};

static IGNITION_CONFIG: StructDef = StructDef {
    go: "IgnitionConfig",
    go_ty: "types.IgnitionConfig",
    fields: &[
        list("merge", &CONFIG_REFERENCE, "[]types.ConfigReference").until(0),
        list("merge", &RESOURCE, "[]types.Resource").since(1),
        st("replace", &CONFIG_REFERENCE).until(0),
        st("replace", &RESOURCE).since(1),
    ],
};

/// 3.0 `ConfigReference`.
static CONFIG_REFERENCE: StructDef = StructDef {
    go: "ConfigReference",
    go_ty: "types.ConfigReference",
    fields: &[s("source"), st("verification", &VERIFICATION)],
};

/// 3.0 `CaReference`: `source` is a plain string.
static CA_REFERENCE: StructDef = StructDef {
    go: "CaReference",
    go_ty: "types.CaReference",
    fields: &[ps("source"), st("verification", &VERIFICATION)],
};

/// 3.0 `FileContents`.
static FILE_CONTENTS: StructDef = StructDef {
    go: "FileContents",
    go_ty: "types.FileContents",
    fields: &[
        s("compression"),
        s("source"),
        st("verification", &VERIFICATION),
    ],
};

/// 3.1+ `Resource`.
static RESOURCE: StructDef = StructDef {
    go: "Resource",
    go_ty: "types.Resource",
    fields: &[
        s("compression"),
        list("httpHeaders", &HTTP_HEADER, "types.HTTPHeaders"),
        s("source"),
        st("verification", &VERIFICATION),
    ],
};

static HTTP_HEADER: StructDef = StructDef {
    go: "HTTPHeader",
    go_ty: "types.HTTPHeader",
    fields: &[ps("name"), s("value")],
};

static VERIFICATION: StructDef = StructDef {
    go: "Verification",
    go_ty: "types.Verification",
    fields: &[s("hash")],
};

static PROXY: StructDef = StructDef {
    go: "Proxy",
    go_ty: "types.Proxy",
    fields: &[
        s("httpProxy"),
        s("httpsProxy"),
        slist("noProxy", "types.NoProxyItem", "[]types.NoProxyItem"),
    ],
};

static SECURITY: StructDef = StructDef {
    go: "Security",
    go_ty: "types.Security",
    fields: &[st("tls", &TLS)],
};

static TLS: StructDef = StructDef {
    go: "TLS",
    go_ty: "types.TLS",
    fields: &[
        list(
            "certificateAuthorities",
            &CA_REFERENCE,
            "[]types.CaReference",
        )
        .until(0),
        list("certificateAuthorities", &RESOURCE, "[]types.Resource").since(1),
    ],
};

static TIMEOUTS: StructDef = StructDef {
    go: "Timeouts",
    go_ty: "types.Timeouts",
    fields: &[i("httpResponseHeaders"), i("httpTotal")],
};

static KERNEL_ARGUMENTS: StructDef = StructDef {
    go: "KernelArguments",
    go_ty: "types.KernelArguments",
    fields: &[
        slist(
            "shouldExist",
            "types.KernelArgument",
            "[]types.KernelArgument",
        ),
        slist(
            "shouldNotExist",
            "types.KernelArgument",
            "[]types.KernelArgument",
        ),
    ],
};

static PASSWD: StructDef = StructDef {
    go: "Passwd",
    go_ty: "types.Passwd",
    fields: &[
        list("groups", &PASSWD_GROUP, "[]types.PasswdGroup"),
        list("users", &PASSWD_USER, "[]types.PasswdUser"),
    ],
};

static PASSWD_GROUP: StructDef = StructDef {
    go: "PasswdGroup",
    go_ty: "types.PasswdGroup",
    fields: &[
        i("gid"),
        ps("name"),
        s("passwordHash"),
        b("shouldExist").since(2),
        b("system"),
    ],
};

static PASSWD_USER: StructDef = StructDef {
    go: "PasswdUser",
    go_ty: "types.PasswdUser",
    fields: &[
        s("gecos"),
        slist("groups", "types.Group", "[]types.Group"),
        s("homeDir"),
        ps("name"),
        b("noCreateHome"),
        b("noLogInit"),
        b("noUserGroup"),
        s("passwordHash"),
        s("primaryGroup"),
        slist(
            "sshAuthorizedKeys",
            "types.SSHAuthorizedKey",
            "[]types.SSHAuthorizedKey",
        ),
        s("shell"),
        b("shouldExist").since(2),
        b("system"),
        i("uid"),
    ],
};

static STORAGE: StructDef = StructDef {
    go: "Storage",
    go_ty: "types.Storage",
    fields: &[
        list("directories", &DIRECTORY, "[]types.Directory"),
        list("disks", &DISK, "[]types.Disk"),
        list("files", &FILE, "[]types.File"),
        list("filesystems", &FILESYSTEM, "[]types.Filesystem"),
        list("links", &LINK, "[]types.Link"),
        list("luks", &LUKS, "[]types.Luks").since(2),
        list("raid", &RAID, "[]types.Raid"),
    ],
};

static NODE_GROUP: StructDef = StructDef {
    go: "NodeGroup",
    go_ty: "types.NodeGroup",
    fields: &[i("id"), s("name")],
};

static NODE_USER: StructDef = StructDef {
    go: "NodeUser",
    go_ty: "types.NodeUser",
    fields: &[i("id"), s("name")],
};

static DIRECTORY: StructDef = StructDef {
    go: "Directory",
    go_ty: "types.Directory",
    fields: &[
        st("group", &NODE_GROUP),
        b("overwrite"),
        ps("path"),
        st("user", &NODE_USER),
        i("mode"),
    ],
};

static FILE: StructDef = StructDef {
    go: "File",
    go_ty: "types.File",
    fields: &[
        st("group", &NODE_GROUP),
        b("overwrite"),
        ps("path"),
        st("user", &NODE_USER),
        list("append", &FILE_CONTENTS, "[]types.FileContents").until(0),
        list("append", &RESOURCE, "[]types.Resource").since(1),
        st("contents", &FILE_CONTENTS).until(0),
        st("contents", &RESOURCE).since(1),
        i("mode"),
    ],
};

static LINK: StructDef = StructDef {
    go: "Link",
    go_ty: "types.Link",
    fields: &[
        st("group", &NODE_GROUP),
        b("overwrite"),
        ps("path"),
        st("user", &NODE_USER),
        b("hard"),
        ps("target").until(2),
        s("target").since(3),
    ],
};

static DISK: StructDef = StructDef {
    go: "Disk",
    go_ty: "types.Disk",
    fields: &[
        ps("device"),
        list("partitions", &PARTITION, "[]types.Partition"),
        b("wipeTable"),
    ],
};

static PARTITION: StructDef = StructDef {
    go: "Partition",
    go_ty: "types.Partition",
    fields: &[
        s("guid"),
        s("label"),
        field("number", Ty::Int, false, "int"),
        b("resize").since(2),
        b("shouldExist"),
        i("sizeMiB"),
        i("startMiB"),
        s("typeGuid"),
        b("wipePartitionEntry"),
    ],
};

static FILESYSTEM: StructDef = StructDef {
    go: "Filesystem",
    go_ty: "types.Filesystem",
    fields: &[
        ps("device"),
        s("format"),
        s("label"),
        slist("mountOptions", "types.MountOption", "[]types.MountOption").since(1),
        slist(
            "options",
            "types.FilesystemOption",
            "[]types.FilesystemOption",
        ),
        s("path"),
        s("uuid"),
        b("wipeFilesystem"),
    ],
};

static LUKS: StructDef = StructDef {
    go: "Luks",
    go_ty: "types.Luks",
    fields: &[
        st("cex", &CEX).since(5),
        field("clevis", Ty::Struct(&CLEVIS), true, "types.Clevis").until(2),
        st("clevis", &CLEVIS).since(3),
        s("device"),
        b("discard").since(4),
        st("keyFile", &RESOURCE),
        s("label"),
        ps("name"),
        slist("openOptions", "types.OpenOption", "[]types.OpenOption").since(4),
        slist("options", "types.LuksOption", "[]types.LuksOption"),
        s("uuid"),
        b("wipeVolume"),
    ],
};

static CEX: StructDef = StructDef {
    go: "Cex",
    go_ty: "types.Cex",
    fields: &[b("enabled")],
};

static CLEVIS: StructDef = StructDef {
    go: "Clevis",
    go_ty: "types.Clevis",
    fields: &[
        field("custom", Ty::Struct(&CUSTOM_3_2), true, "types.Custom").until(2),
        st("custom", &CLEVIS_CUSTOM).since(3),
        list("tang", &TANG, "[]types.Tang"),
        i("threshold"),
        b("tpm2"),
    ],
};

/// 3.2 `Custom` (a pointer in `Clevis`, with plain strings).
static CUSTOM_3_2: StructDef = StructDef {
    go: "Custom",
    go_ty: "types.Custom",
    fields: &[ps("config"), b("needsNetwork"), ps("pin")],
};

static CLEVIS_CUSTOM: StructDef = StructDef {
    go: "ClevisCustom",
    go_ty: "types.ClevisCustom",
    fields: &[s("config"), b("needsNetwork"), s("pin")],
};

static TANG: StructDef = StructDef {
    go: "Tang",
    go_ty: "types.Tang",
    fields: &[s("advertisement").since(4), s("thumbprint"), ps("url")],
};

static RAID: StructDef = StructDef {
    go: "Raid",
    go_ty: "types.Raid",
    fields: &[
        slist("devices", "types.Device", "[]types.Device"),
        ps("level").until(2),
        s("level").since(3),
        ps("name"),
        slist("options", "types.RaidOption", "[]types.RaidOption"),
        i("spares"),
    ],
};

static SYSTEMD: StructDef = StructDef {
    go: "Systemd",
    go_ty: "types.Systemd",
    fields: &[list("units", &UNIT, "[]types.Unit")],
};

static UNIT: StructDef = StructDef {
    go: "Unit",
    go_ty: "types.Unit",
    fields: &[
        s("contents"),
        list("dropins", &DROPIN, "[]types.Dropin"),
        b("enabled"),
        b("mask"),
        ps("name"),
    ],
};

static DROPIN: StructDef = StructDef {
    go: "Dropin",
    go_ty: "types.Dropin",
    fields: &[s("contents"), ps("name")],
};

/// Go's case-insensitive key match (`bytes.EqualFold` plus the two
/// non-ASCII folds Go's encoding/json knows for ASCII names: `ſ` → `s`,
/// Kelvin sign → `k`).
pub(crate) fn fold_eq(key: &str, name: &str) -> bool {
    let mut k = key.chars();
    for n in name.bytes() {
        let Some(c) = k.next() else { return false };
        let c = match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c if c.is_ascii() => c.to_ascii_lowercase(),
            _ => return false,
        };
        if c as u8 != n.to_ascii_lowercase() {
            return false;
        }
    }
    k.next().is_none()
}

/// Finds the field a JSON key decodes into in version `minor`: an exact
/// name match first, else a case-insensitive one (Go's rule).
pub(crate) fn find_field(def: &StructDef, key: &str, minor: u8) -> Option<usize> {
    let live = || {
        def.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.in_version(minor))
    };
    live()
        .find(|(_, f)| f.name == key)
        .or_else(|| live().find(|(_, f)| fold_eq(key, f.name)))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert!(fold_eq("PATH", "path"));
        assert!(fold_eq("ſtorage", "storage"));
        assert!(fold_eq("\u{212a}ernelArguments", "kernelArguments"));
        assert!(!fold_eq("pat", "path"));
        assert!(!fold_eq("paths", "path"));
        assert!(!fold_eq("päth", "path"));
    }

    #[test]
    fn version_boundaries_in_table() {
        let luks = find_field(&STORAGE, "luks", 1);
        assert!(luks.is_none());
        assert!(find_field(&STORAGE, "luks", 2).is_some());
        assert!(find_field(&CONFIG, "kernelArguments", 2).is_none());
        assert!(find_field(&CONFIG, "KernelArguments", 3).is_some());
        assert!(find_field(&TANG, "advertisement", 3).is_none());
        assert!(find_field(&TANG, "advertisement", 4).is_some());
        assert!(find_field(&LUKS, "cex", 4).is_none());
        assert!(find_field(&LUKS, "cex", 5).is_some());
        // Both version variants of `target` resolve to distinct entries.
        let old = find_field(&LINK, "target", 2).unwrap();
        let new = find_field(&LINK, "target", 3).unwrap();
        assert!(!LINK.fields[old].ptr && LINK.fields[new].ptr);
    }

    /// Every struct lists its fields in Go order (alphabetical by Go name,
    /// which for these JSON names is alphabetical ignoring case), except
    /// where an older variant is listed right before its replacement.
    #[test]
    fn fields_in_go_order() {
        fn check(def: &StructDef) {
            // Go compares `SSHAuthorizedKeys` < `Shell` byte-wise; map that
            // one name so a lower-case comparison agrees.
            let key = |n: &str| match n {
                "sshAuthorizedKeys" => "sa".to_string(),
                n => n.to_lowercase(),
            };
            let names: Vec<String> = def.fields.iter().map(|f| key(f.name)).collect();
            // File/Directory/Link: Node fields first, then the embedded ones.
            let (node, rest) = if ["File", "Directory", "Link"].contains(&def.go) {
                names.split_at(4)
            } else {
                names.split_at(0)
            };
            for part in [node, rest] {
                for w in part.windows(2) {
                    assert!(w[0] <= w[1], "{}: {} before {}", def.go, w[0], w[1]);
                }
            }
            for f in def.fields {
                match f.ty {
                    Ty::Struct(d) | Ty::StructList(d) => check(d),
                    _ => {}
                }
            }
        }
        check(&CONFIG);
    }
}
