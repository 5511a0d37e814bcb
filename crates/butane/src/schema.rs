//! The Butane input schema: every struct of the `base/v0_x` packages with
//! its YAML key, the Ignition JSON key it becomes, its type and the base
//! version that introduced it. Fields are listed in Ignition's JSON output
//! order (Go struct order), so the generic translation emits them in the
//! order Butane does. Sugar fields have an empty `json` name.

/// Field types, as the Go structs declare them.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    Int,
    Bool,
    Obj(&'static Def),
    ListStr,
    ListObj(&'static Def),
}

/// One struct field.
#[derive(Debug)]
pub struct F {
    pub yaml: &'static str,
    /// Ignition key; empty for Butane-only sugar.
    pub json: &'static str,
    pub ty: Ty,
    /// First base version (`v0_N`) with this field.
    pub since: u8,
    /// Go pointer (`*T`): an explicit zero value is still emitted.
    pub ptr: bool,
}

/// One struct.
#[derive(Debug)]
pub struct Def {
    /// Go type name, for go-yaml's type error messages.
    pub name: &'static str,
    pub fields: &'static [F],
}

impl Def {
    /// The field named `yaml` available in base version `base`.
    pub fn field(&self, yaml: &str, base: u8) -> Option<&'static F>
    where
        Self: 'static,
    {
        self.fields
            .iter()
            .find(|f| f.yaml == yaml && f.since <= base)
    }

    /// Position of a JSON key in output order.
    pub fn order(&self, json: &str) -> usize {
        self.fields
            .iter()
            .position(|f| f.json == json)
            .unwrap_or(usize::MAX)
    }
}

const fn p(yaml: &'static str, json: &'static str, ty: Ty, since: u8) -> F {
    F {
        yaml,
        json,
        ty,
        since,
        ptr: true,
    }
}
const fn v(yaml: &'static str, json: &'static str, ty: Ty, since: u8) -> F {
    F {
        yaml,
        json,
        ty,
        since,
        ptr: false,
    }
}
const fn sugar(yaml: &'static str, ty: Ty, since: u8) -> F {
    F {
        yaml,
        json: "",
        ty,
        since,
        ptr: true,
    }
}

use Ty::*;

pub static VERIFICATION: Def = Def {
    name: "Verification",
    fields: &[p("hash", "hash", Str, 1)],
};
pub static HTTP_HEADER: Def = Def {
    name: "HTTPHeader",
    fields: &[v("name", "name", Str, 2), p("value", "value", Str, 2)],
};
pub static RESOURCE: Def = Def {
    name: "Resource",
    fields: &[
        p("compression", "compression", Str, 1),
        v("http_headers", "httpHeaders", ListObj(&HTTP_HEADER), 2),
        p("source", "source", Str, 1),
        v("verification", "verification", Obj(&VERIFICATION), 1),
        sugar("inline", Str, 1),
        sugar("local", Str, 2),
    ],
};
pub static IGNITION_CONFIG: Def = Def {
    name: "IgnitionConfig",
    fields: &[
        v("merge", "merge", ListObj(&RESOURCE), 1),
        v("replace", "replace", Obj(&RESOURCE), 1),
    ],
};
pub static PROXY: Def = Def {
    name: "Proxy",
    fields: &[
        p("http_proxy", "httpProxy", Str, 2),
        p("https_proxy", "httpsProxy", Str, 2),
        v("no_proxy", "noProxy", ListStr, 2),
    ],
};
pub static TLS: Def = Def {
    name: "TLS",
    fields: &[v(
        "certificate_authorities",
        "certificateAuthorities",
        ListObj(&RESOURCE),
        1,
    )],
};
pub static SECURITY: Def = Def {
    name: "Security",
    fields: &[v("tls", "tls", Obj(&TLS), 1)],
};
pub static TIMEOUTS: Def = Def {
    name: "Timeouts",
    fields: &[
        p("http_response_headers", "httpResponseHeaders", Int, 1),
        p("http_total", "httpTotal", Int, 1),
    ],
};
pub static IGNITION: Def = Def {
    name: "Ignition",
    fields: &[
        v("config", "config", Obj(&IGNITION_CONFIG), 1),
        v("proxy", "proxy", Obj(&PROXY), 2),
        v("security", "security", Obj(&SECURITY), 1),
        v("timeouts", "timeouts", Obj(&TIMEOUTS), 1),
    ],
};
pub static KERNEL_ARGUMENTS: Def = Def {
    name: "KernelArguments",
    fields: &[
        v("should_exist", "shouldExist", ListStr, 4),
        v("should_not_exist", "shouldNotExist", ListStr, 4),
    ],
};
pub static PASSWD_GROUP: Def = Def {
    name: "PasswdGroup",
    fields: &[
        p("gid", "gid", Int, 1),
        v("name", "name", Str, 1),
        p("password_hash", "passwordHash", Str, 1),
        p("should_exist", "shouldExist", Bool, 3),
        p("system", "system", Bool, 1),
    ],
};
pub static PASSWD_USER: Def = Def {
    name: "PasswdUser",
    fields: &[
        p("gecos", "gecos", Str, 1),
        v("groups", "groups", ListStr, 1),
        p("home_dir", "homeDir", Str, 1),
        v("name", "name", Str, 1),
        p("no_create_home", "noCreateHome", Bool, 1),
        p("no_log_init", "noLogInit", Bool, 1),
        p("no_user_group", "noUserGroup", Bool, 1),
        p("password_hash", "passwordHash", Str, 1),
        p("primary_group", "primaryGroup", Str, 1),
        v("ssh_authorized_keys", "sshAuthorizedKeys", ListStr, 1),
        p("shell", "shell", Str, 1),
        p("should_exist", "shouldExist", Bool, 3),
        p("system", "system", Bool, 1),
        p("uid", "uid", Int, 1),
        sugar("ssh_authorized_keys_local", ListStr, 5),
    ],
};
pub static PASSWD: Def = Def {
    name: "Passwd",
    fields: &[
        v("groups", "groups", ListObj(&PASSWD_GROUP), 1),
        v("users", "users", ListObj(&PASSWD_USER), 1),
    ],
};
pub static NODE_USER: Def = Def {
    name: "NodeUser",
    fields: &[p("id", "id", Int, 1), p("name", "name", Str, 1)],
};
pub static NODE_GROUP: Def = Def {
    name: "NodeGroup",
    fields: &[p("id", "id", Int, 1), p("name", "name", Str, 1)],
};
pub static DIRECTORY: Def = Def {
    name: "Directory",
    fields: &[
        v("group", "group", Obj(&NODE_GROUP), 1),
        p("overwrite", "overwrite", Bool, 1),
        v("path", "path", Str, 1),
        v("user", "user", Obj(&NODE_USER), 1),
        p("mode", "mode", Int, 1),
    ],
};
pub static PARTITION: Def = Def {
    name: "Partition",
    fields: &[
        p("guid", "guid", Str, 1),
        p("label", "label", Str, 1),
        v("number", "number", Int, 1),
        p("resize", "resize", Bool, 3),
        p("should_exist", "shouldExist", Bool, 1),
        p("size_mib", "sizeMiB", Int, 1),
        p("start_mib", "startMiB", Int, 1),
        p("type_guid", "typeGuid", Str, 1),
        p("wipe_partition_entry", "wipePartitionEntry", Bool, 1),
    ],
};
pub static DISK: Def = Def {
    name: "Disk",
    fields: &[
        v("device", "device", Str, 1),
        v("partitions", "partitions", ListObj(&PARTITION), 1),
        p("wipe_table", "wipeTable", Bool, 1),
    ],
};
pub static FILE: Def = Def {
    name: "File",
    fields: &[
        v("group", "group", Obj(&NODE_GROUP), 1),
        p("overwrite", "overwrite", Bool, 1),
        v("path", "path", Str, 1),
        v("user", "user", Obj(&NODE_USER), 1),
        v("append", "append", ListObj(&RESOURCE), 1),
        v("contents", "contents", Obj(&RESOURCE), 1),
        p("mode", "mode", Int, 1),
    ],
};
pub static FILESYSTEM: Def = Def {
    name: "Filesystem",
    fields: &[
        v("device", "device", Str, 1),
        p("format", "format", Str, 1),
        p("label", "label", Str, 1),
        v("mount_options", "mountOptions", ListStr, 2),
        v("options", "options", ListStr, 1),
        p("path", "path", Str, 1),
        p("uuid", "uuid", Str, 1),
        p("wipe_filesystem", "wipeFilesystem", Bool, 1),
        sugar("with_mount_unit", Bool, 2),
    ],
};
pub static LINK: Def = Def {
    name: "Link",
    fields: &[
        v("group", "group", Obj(&NODE_GROUP), 1),
        p("overwrite", "overwrite", Bool, 1),
        v("path", "path", Str, 1),
        v("user", "user", Obj(&NODE_USER), 1),
        p("hard", "hard", Bool, 1),
        p("target", "target", Str, 1),
    ],
};
pub static CEX: Def = Def {
    name: "Cex",
    fields: &[p("enabled", "enabled", Bool, 6)],
};
pub static TANG: Def = Def {
    name: "Tang",
    fields: &[
        p("advertisement", "advertisement", Str, 5),
        p("thumbprint", "thumbprint", Str, 3),
        v("url", "url", Str, 3),
    ],
};
pub static CLEVIS_CUSTOM: Def = Def {
    name: "ClevisCustom",
    fields: &[
        p("config", "config", Str, 3),
        p("needs_network", "needsNetwork", Bool, 3),
        p("pin", "pin", Str, 3),
    ],
};
pub static CLEVIS: Def = Def {
    name: "Clevis",
    fields: &[
        v("custom", "custom", Obj(&CLEVIS_CUSTOM), 3),
        v("tang", "tang", ListObj(&TANG), 3),
        p("threshold", "threshold", Int, 3),
        p("tpm2", "tpm2", Bool, 3),
    ],
};
pub static LUKS: Def = Def {
    name: "Luks",
    fields: &[
        v("cex", "cex", Obj(&CEX), 6),
        v("clevis", "clevis", Obj(&CLEVIS), 3),
        p("device", "device", Str, 3),
        p("discard", "discard", Bool, 5),
        v("key_file", "keyFile", Obj(&RESOURCE), 3),
        p("label", "label", Str, 3),
        v("name", "name", Str, 3),
        v("open_options", "openOptions", ListStr, 5),
        v("options", "options", ListStr, 3),
        p("uuid", "uuid", Str, 3),
        p("wipe_volume", "wipeVolume", Bool, 3),
    ],
};
pub static RAID: Def = Def {
    name: "Raid",
    fields: &[
        v("devices", "devices", ListStr, 1),
        p("level", "level", Str, 1),
        v("name", "name", Str, 1),
        v("options", "options", ListStr, 1),
        p("spares", "spares", Int, 1),
    ],
};
pub static TREE: Def = Def {
    name: "Tree",
    fields: &[
        sugar("group", Obj(&NODE_GROUP), 7),
        F {
            yaml: "local",
            json: "",
            ty: Str,
            since: 2,
            ptr: false,
        },
        sugar("path", Str, 2),
        sugar("user", Obj(&NODE_USER), 7),
        sugar("file_mode", Int, 7),
        sugar("dir_mode", Int, 7),
    ],
};
pub static STORAGE: Def = Def {
    name: "Storage",
    fields: &[
        v("directories", "directories", ListObj(&DIRECTORY), 1),
        v("disks", "disks", ListObj(&DISK), 1),
        v("files", "files", ListObj(&FILE), 1),
        v("filesystems", "filesystems", ListObj(&FILESYSTEM), 1),
        v("links", "links", ListObj(&LINK), 1),
        v("luks", "luks", ListObj(&LUKS), 3),
        v("raid", "raid", ListObj(&RAID), 1),
        sugar("trees", ListObj(&TREE), 2),
    ],
};
pub static DROPIN: Def = Def {
    name: "Dropin",
    fields: &[
        p("contents", "contents", Str, 1),
        v("name", "name", Str, 1),
        sugar("contents_local", Str, 5),
    ],
};
pub static UNIT: Def = Def {
    name: "Unit",
    fields: &[
        p("contents", "contents", Str, 1),
        v("dropins", "dropins", ListObj(&DROPIN), 1),
        p("enabled", "enabled", Bool, 1),
        p("mask", "mask", Bool, 1),
        v("name", "name", Str, 1),
        sugar("contents_local", Str, 5),
    ],
};
pub static QUADLET: Def = Def {
    name: "Quadlet",
    fields: &[
        sugar("contents", Str, 8),
        sugar("contents_local", Str, 8),
        F {
            yaml: "name",
            json: "",
            ty: Str,
            since: 8,
            ptr: false,
        },
        F {
            yaml: "rootful",
            json: "",
            ty: Bool,
            since: 8,
            ptr: false,
        },
        sugar("dropins", ListObj(&DROPIN), 8),
    ],
};
pub static SYSTEMD: Def = Def {
    name: "Systemd",
    fields: &[
        v("units", "units", ListObj(&UNIT), 1),
        sugar("quadlets", ListObj(&QUADLET), 8),
    ],
};

// FCOS-only sugar (config/fcos/v1_x).
pub static BOOT_DEVICE_LUKS: Def = Def {
    name: "BootDeviceLuks",
    fields: &[
        sugar("cex", Obj(&CEX), 6),
        sugar("discard", Bool, 5),
        sugar("device", Str, 6),
        sugar("tang", ListObj(&TANG), 3),
        sugar("threshold", Int, 3),
        sugar("tpm2", Bool, 3),
    ],
};
pub static BOOT_DEVICE_MIRROR: Def = Def {
    name: "BootDeviceMirror",
    fields: &[sugar("devices", ListStr, 3)],
};
pub static BOOT_DEVICE: Def = Def {
    name: "BootDevice",
    fields: &[
        sugar("layout", Str, 3),
        sugar("luks", Obj(&BOOT_DEVICE_LUKS), 3),
        sugar("mirror", Obj(&BOOT_DEVICE_MIRROR), 3),
    ],
};
pub static GRUB_USER: Def = Def {
    name: "GrubUser",
    fields: &[
        F {
            yaml: "name",
            json: "",
            ty: Str,
            since: 5,
            ptr: false,
        },
        sugar("password_hash", Str, 5),
    ],
};
pub static GRUB: Def = Def {
    name: "Grub",
    fields: &[sugar("users", ListObj(&GRUB_USER), 5)],
};

/// Fields of the top-level config common to every variant.
pub static CONFIG: Def = Def {
    name: "Config",
    fields: &[
        v("version", "", Str, 1),
        v("variant", "", Str, 1),
        v("ignition", "ignition", Obj(&IGNITION), 1),
        v(
            "kernel_arguments",
            "kernelArguments",
            Obj(&KERNEL_ARGUMENTS),
            4,
        ),
        v("passwd", "passwd", Obj(&PASSWD), 1),
        v("storage", "storage", Obj(&STORAGE), 1),
        v("systemd", "systemd", Obj(&SYSTEMD), 1),
    ],
};

/// Top-level config of the `fcos` variant (adds `boot_device`, `grub`).
pub static FCOS_CONFIG: Def = Def {
    name: "Config",
    fields: &[
        v("version", "", Str, 1),
        v("variant", "", Str, 1),
        v("ignition", "ignition", Obj(&IGNITION), 1),
        v(
            "kernel_arguments",
            "kernelArguments",
            Obj(&KERNEL_ARGUMENTS),
            4,
        ),
        v("passwd", "passwd", Obj(&PASSWD), 1),
        v("storage", "storage", Obj(&STORAGE), 1),
        v("systemd", "systemd", Obj(&SYSTEMD), 1),
        v("boot_device", "", Obj(&BOOT_DEVICE), 3),
        v("grub", "", Obj(&GRUB), 5),
    ],
};

/// Butane's `Camel()`: `a_b` → `aB`, `_mib` suffix → `MiB`.
pub fn camel(s: &str) -> String {
    let (stem, mib) = match s.strip_suffix("_mib") {
        Some(st) => (st, true),
        None => (s, false),
    };
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for (i, c) in stem.chars().enumerate() {
        if c == '_' && i > 0 {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else if c != '_' {
            out.push(c);
        }
    }
    if mib {
        out.push_str("MiB");
    }
    out
}

/// Butane's `Snake()`: camelCase → snake_case, `MiB` → `_mib`.
pub fn snake(s: &str) -> String {
    let s = s.replace("MiB", "\u{0}mib");
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c == '\u{0}' {
            out.push('_');
        } else if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_and_snake() {
        assert_eq!(camel("size_mib"), "sizeMiB");
        assert_eq!(camel("http_response_headers"), "httpResponseHeaders");
        assert_eq!(camel("type_guid"), "typeGuid");
        assert_eq!(snake("sizeMiB"), "size_mib");
        assert_eq!(snake("sshAuthorizedKeys"), "ssh_authorized_keys");
    }

    /// Every non-sugar JSON key is the Camel() of its YAML key, as Butane's
    /// generic translator assumes.
    #[test]
    fn json_names_are_camel_of_yaml_names() {
        let defs: &[&Def] = &[
            &RESOURCE,
            &IGNITION,
            &PROXY,
            &TIMEOUTS,
            &PASSWD_USER,
            &PASSWD_GROUP,
            &FILE,
            &DIRECTORY,
            &LINK,
            &PARTITION,
            &DISK,
            &FILESYSTEM,
            &LUKS,
            &CLEVIS,
            &TANG,
            &CLEVIS_CUSTOM,
            &RAID,
            &UNIT,
            &DROPIN,
            &KERNEL_ARGUMENTS,
            &STORAGE,
            &TLS,
        ];
        for d in defs {
            for f in d.fields {
                if !f.json.is_empty() {
                    assert_eq!(camel(f.yaml), f.json, "{}.{}", d.name, f.yaml);
                }
            }
        }
    }
}
