//! Turns a decoded value of any spec version into the typed newest-shape
//! [`Config`], *before* translation (modes unmasked, `version` as written).
//!
//! Plain (non-pointer) string fields of older versions — 3.0 CA `source`,
//! link `target` and raid `level` before 3.3, clevis `custom.pin`/`config`
//! in 3.2 — become `Some(value)` exactly as upstream's translators do
//! (`util.StrToPtr`), even when empty. A nil 3.2 `clevis`/`custom` pointer
//! becomes the zero struct.

use crate::decode::{GStruct, GVal};
use crate::types::*;

/// A view of a decoded struct; `None` is the zero struct.
#[derive(Clone, Copy)]
struct V<'a>(Option<&'a GStruct>);

static NIL: GVal = GVal::Nil;

impl<'a> V<'a> {
    fn get(self, name: &str) -> &'a GVal {
        let Some(s) = self.0 else { return &NIL };
        s.vals
            .iter()
            .find(|(i, v)| s.def.fields[*i].name == name && !matches!(v, GVal::Nil))
            .map_or(&NIL, |(_, v)| v)
    }

    fn opt_str(self, name: &str) -> Option<String> {
        match self.get(name) {
            GVal::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn str(self, name: &str) -> String {
        self.opt_str(name).unwrap_or_default()
    }

    fn opt_int(self, name: &str) -> Option<i64> {
        match self.get(name) {
            GVal::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn opt_bool(self, name: &str) -> Option<bool> {
        match self.get(name) {
            GVal::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn sub(self, name: &str) -> V<'a> {
        match self.get(name) {
            GVal::Struct(s) => V(Some(s)),
            _ => V(None),
        }
    }

    /// Whether a pointer struct field is non-nil.
    fn has(self, name: &str) -> bool {
        matches!(self.get(name), GVal::Struct(_))
    }

    fn strs(self, name: &str) -> Vec<String> {
        match self.get(name) {
            GVal::List(l) => l
                .live()
                .iter()
                .map(|v| match v {
                    GVal::Str(s) => s.clone(),
                    _ => String::new(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn list<T>(self, name: &str, f: impl Fn(V<'a>) -> T) -> Vec<T> {
        match self.get(name) {
            GVal::List(l) => l
                .live()
                .iter()
                .map(|v| match v {
                    GVal::Struct(s) => f(V(Some(s))),
                    _ => f(V(None)),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Builds the typed config of version `minor` from its decoded value.
pub(crate) fn build(cfg: &GStruct, minor: u8) -> Config {
    let b = Builder { minor };
    b.config(V(Some(cfg)))
}

struct Builder {
    minor: u8,
}

impl Builder {
    fn config(&self, v: V) -> Config {
        let k = v.sub("kernelArguments");
        let p = v.sub("passwd");
        Config {
            ignition: self.ignition(v.sub("ignition")),
            kernel_arguments: KernelArguments {
                should_exist: k.strs("shouldExist"),
                should_not_exist: k.strs("shouldNotExist"),
            },
            passwd: Passwd {
                groups: p.list("groups", |g| PasswdGroup {
                    gid: g.opt_int("gid"),
                    name: g.str("name"),
                    password_hash: g.opt_str("passwordHash"),
                    should_exist: g.opt_bool("shouldExist"),
                    system: g.opt_bool("system"),
                }),
                users: p.list("users", user),
            },
            storage: self.storage(v.sub("storage")),
            systemd: Systemd {
                units: v.sub("systemd").list("units", |u| Unit {
                    contents: u.opt_str("contents"),
                    dropins: u.list("dropins", |d| Dropin {
                        contents: d.opt_str("contents"),
                        name: d.str("name"),
                    }),
                    enabled: u.opt_bool("enabled"),
                    mask: u.opt_bool("mask"),
                    name: u.str("name"),
                }),
            },
        }
    }

    fn ignition(&self, v: V) -> Ignition {
        let c = v.sub("config");
        let x = v.sub("proxy");
        let t = v.sub("timeouts");
        Ignition {
            config: IgnitionConfig {
                merge: c.list("merge", resource),
                replace: resource(c.sub("replace")),
            },
            proxy: Proxy {
                http_proxy: x.opt_str("httpProxy"),
                https_proxy: x.opt_str("httpsProxy"),
                no_proxy: x.strs("noProxy"),
            },
            security: Security {
                tls: Tls {
                    certificate_authorities: v.sub("security").sub("tls").list(
                        "certificateAuthorities",
                        |r| {
                            let mut res = resource(r);
                            if self.minor == 0 {
                                // 3.0 CaReference: plain `source`.
                                res.source = Some(r.str("source"));
                            }
                            res
                        },
                    ),
                },
            },
            timeouts: Timeouts {
                http_response_headers: t.opt_int("httpResponseHeaders"),
                http_total: t.opt_int("httpTotal"),
            },
            version: v.str("version"),
        }
    }

    fn storage(&self, v: V) -> Storage {
        let old_plain = self.minor <= 2;
        Storage {
            directories: v.list("directories", |d| Directory {
                node: node(d),
                mode: d.opt_int("mode"),
            }),
            disks: v.list("disks", |d| Disk {
                device: d.str("device"),
                partitions: d.list("partitions", |p| Partition {
                    guid: p.opt_str("guid"),
                    label: p.opt_str("label"),
                    number: p.opt_int("number").unwrap_or(0),
                    resize: p.opt_bool("resize"),
                    should_exist: p.opt_bool("shouldExist"),
                    size_mib: p.opt_int("sizeMiB"),
                    start_mib: p.opt_int("startMiB"),
                    type_guid: p.opt_str("typeGuid"),
                    wipe_partition_entry: p.opt_bool("wipePartitionEntry"),
                }),
                wipe_table: d.opt_bool("wipeTable"),
            }),
            files: v.list("files", |f| File {
                node: node(f),
                append: f.list("append", resource),
                contents: resource(f.sub("contents")),
                mode: f.opt_int("mode"),
            }),
            filesystems: v.list("filesystems", |f| Filesystem {
                device: f.str("device"),
                format: f.opt_str("format"),
                label: f.opt_str("label"),
                mount_options: f.strs("mountOptions"),
                options: f.strs("options"),
                path: f.opt_str("path"),
                uuid: f.opt_str("uuid"),
                wipe_filesystem: f.opt_bool("wipeFilesystem"),
            }),
            links: v.list("links", |l| Link {
                node: node(l),
                hard: l.opt_bool("hard"),
                target: if old_plain {
                    Some(l.str("target"))
                } else {
                    l.opt_str("target")
                },
            }),
            luks: v.list("luks", |l| self.luks(l)),
            raid: v.list("raid", |r| Raid {
                devices: r.strs("devices"),
                level: if old_plain {
                    Some(r.str("level"))
                } else {
                    r.opt_str("level")
                },
                name: r.str("name"),
                options: r.strs("options"),
                spares: r.opt_int("spares"),
            }),
        }
    }

    fn luks(&self, l: V) -> Luks {
        let c = l.sub("clevis");
        let cu = c.sub("custom");
        let custom = if self.minor <= 2 {
            // 3.2: `*Custom` with plain strings, StrToPtr'd when present.
            if c.has("custom") {
                ClevisCustom {
                    config: Some(cu.str("config")),
                    needs_network: cu.opt_bool("needsNetwork"),
                    pin: Some(cu.str("pin")),
                }
            } else {
                ClevisCustom::default()
            }
        } else {
            ClevisCustom {
                config: cu.opt_str("config"),
                needs_network: cu.opt_bool("needsNetwork"),
                pin: cu.opt_str("pin"),
            }
        };
        Luks {
            cex: Cex {
                enabled: l.sub("cex").opt_bool("enabled"),
            },
            clevis: Clevis {
                custom,
                tang: c.list("tang", |t| Tang {
                    advertisement: t.opt_str("advertisement"),
                    thumbprint: t.opt_str("thumbprint"),
                    url: t.str("url"),
                }),
                threshold: c.opt_int("threshold"),
                tpm2: c.opt_bool("tpm2"),
            },
            device: l.opt_str("device"),
            discard: l.opt_bool("discard"),
            key_file: resource(l.sub("keyFile")),
            label: l.opt_str("label"),
            name: l.str("name"),
            open_options: l.strs("openOptions"),
            options: l.strs("options"),
            uuid: l.opt_str("uuid"),
            wipe_volume: l.opt_bool("wipeVolume"),
        }
    }
}

fn user(u: V) -> PasswdUser {
    PasswdUser {
        gecos: u.opt_str("gecos"),
        groups: u.strs("groups"),
        home_dir: u.opt_str("homeDir"),
        name: u.str("name"),
        no_create_home: u.opt_bool("noCreateHome"),
        no_log_init: u.opt_bool("noLogInit"),
        no_user_group: u.opt_bool("noUserGroup"),
        password_hash: u.opt_str("passwordHash"),
        primary_group: u.opt_str("primaryGroup"),
        shell: u.opt_str("shell"),
        should_exist: u.opt_bool("shouldExist"),
        ssh_authorized_keys: u.strs("sshAuthorizedKeys"),
        system: u.opt_bool("system"),
        uid: u.opt_int("uid"),
    }
}

fn node(v: V) -> Node {
    let u = v.sub("user");
    let g = v.sub("group");
    Node {
        group: NodeGroup {
            id: g.opt_int("id"),
            name: g.opt_str("name"),
        },
        overwrite: v.opt_bool("overwrite"),
        path: v.str("path"),
        user: NodeUser {
            id: u.opt_int("id"),
            name: u.opt_str("name"),
        },
    }
}

fn resource(v: V) -> Resource {
    Resource {
        compression: v.opt_str("compression"),
        http_headers: v.list("httpHeaders", |h| HttpHeader {
            name: h.str("name"),
            value: h.opt_str("value"),
        }),
        source: v.opt_str("source"),
        verification: Verification {
            hash: v.sub("verification").opt_str("hash"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_config;
    use crate::json::parse;

    fn cfg(src: &str, minor: u8) -> Config {
        let mut t = parse(src.as_bytes()).unwrap();
        build(
            &decode_config(&mut t, src.as_bytes(), minor).unwrap(),
            minor,
        )
    }

    #[test]
    fn plain_strings_of_old_versions_become_some() {
        let src = r#"{"storage":{"links":[{"path":"/l"}],"raid":[{"name":"md"}]}}"#;
        let old = cfg(src, 2);
        assert_eq!(old.storage.links[0].target.as_deref(), Some(""));
        assert_eq!(old.storage.raid[0].level.as_deref(), Some(""));
        let new = cfg(src, 3);
        assert_eq!(new.storage.links[0].target, None);
        assert_eq!(new.storage.raid[0].level, None);
        let ca = r#"{"ignition":{"security":{"tls":{"certificateAuthorities":[{}]}}}}"#;
        let c0 = cfg(ca, 0);
        assert_eq!(
            c0.ignition.security.tls.certificate_authorities[0]
                .source
                .as_deref(),
            Some("")
        );
        assert_eq!(
            cfg(ca, 1).ignition.security.tls.certificate_authorities[0].source,
            None
        );
    }

    #[test]
    fn clevis_custom_pointer_of_3_2() {
        let absent = cfg(r#"{"storage":{"luks":[{"name":"l","clevis":{}}]}}"#, 2);
        assert!(absent.storage.luks[0].clevis.custom.is_empty());
        let empty = cfg(
            r#"{"storage":{"luks":[{"name":"l","clevis":{"custom":{}}}]}}"#,
            2,
        );
        let c = &empty.storage.luks[0].clevis.custom;
        assert_eq!(
            (c.pin.as_deref(), c.config.as_deref()),
            (Some(""), Some(""))
        );
    }

    #[test]
    fn fields_of_other_versions_are_ignored() {
        let src = r#"{"kernelArguments":{"shouldExist":["a"]},"storage":{"luks":[{"name":"l","cex":{"enabled":true},"discard":true}]}}"#;
        let c = cfg(src, 4);
        assert_eq!(c.kernel_arguments.should_exist, vec!["a".to_string()]);
        assert_eq!(c.storage.luks[0].discard, Some(true));
        assert_eq!(c.storage.luks[0].cex.enabled, None);
        let c = cfg(src, 2);
        assert!(c.kernel_arguments.should_exist.is_empty());
        assert_eq!(c.storage.luks[0].discard, None);
    }
}
