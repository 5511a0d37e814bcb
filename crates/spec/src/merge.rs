//! Parent/child config merging with Ignition's rules
//! (`config/merge/merge.go`), on newest-version configs. The child wins:
//!
//! * plain (non-pointer) fields — `path`, `name`, `device`, `number`,
//!   `version`, `url` … — are always the child's, even when empty;
//! * pointer fields (`Option`) are the child's when set, else the parent's;
//! * struct fields: a zero child keeps the parent's, a zero parent takes the
//!   child's, otherwise they merge field by field;
//! * `files[].append`, filesystem `options`/`mountOptions`, luks `options`
//!   and raid `options` are concatenated;
//! * every other list merges by key (§5.3 of the reference): parent items
//!   whose key the child has in the *same* list are merged in place, those
//!   the child has in *another list of the same handle* (files/directories/
//!   links share "Node", `shouldExist`/`shouldNotExist` share
//!   "KernelArgument") are dropped, the rest are kept; then child items whose
//!   key is not in that parent list are appended. A child HTTP header with a
//!   `null` value removes the parent's header.
//!
//! Within a handle, a key the child uses twice resolves to its last
//! occurrence, as Go's map does.

use std::collections::{HashMap, HashSet};

use crate::types::*;

/// Merges `child` into `parent` (both translated to the newest version).
/// The result may be invalid; check it with [`crate::validate_merged`].
pub fn merge(parent: &Config, child: &Config) -> Config {
    Config {
        ignition: sub(&parent.ignition, &child.ignition, ignition),
        kernel_arguments: sub(&parent.kernel_arguments, &child.kernel_arguments, kargs),
        passwd: sub(&parent.passwd, &child.passwd, |p, c| Passwd {
            groups: keyed_list(
                &p.groups,
                &c.groups,
                |g| g.name.clone(),
                |p, c| Some(group(p, c)),
            ),
            users: keyed_list(
                &p.users,
                &c.users,
                |u| u.name.clone(),
                |p, c| Some(user(p, c)),
            ),
        }),
        storage: sub(&parent.storage, &child.storage, storage),
        systemd: sub(&parent.systemd, &child.systemd, |p, c| Systemd {
            units: keyed_list(
                &p.units,
                &c.units,
                |u| u.name.clone(),
                |p, c| Some(unit(p, c)),
            ),
        }),
    }
}

/// A pointer field: the child's when set.
fn ptr<T: Clone>(p: &Option<T>, c: &Option<T>) -> Option<T> {
    c.clone().or_else(|| p.clone())
}

/// A struct field with Go's zero-value rules.
fn sub<T: Clone + Default + PartialEq>(p: &T, c: &T, f: impl Fn(&T, &T) -> T) -> T {
    let zero = T::default();
    if *c == zero {
        p.clone()
    } else if *p == zero {
        c.clone()
    } else {
        f(p, c)
    }
}

/// A list in `IgnoreDuplicates`: parent items, then child items.
fn concat<T: Clone>(p: &[T], c: &[T]) -> Vec<T> {
    p.iter().chain(c).cloned().collect()
}

/// Where each key of a handle lives in the child: list number and index of
/// its last occurrence.
type KeyMap = HashMap<String, (u8, usize)>;

fn add_keys<T>(map: &mut KeyMap, list: u8, items: &[T], key: impl Fn(&T) -> String) {
    for (i, it) in items.iter().enumerate() {
        map.insert(key(it), (list, i));
    }
}

/// Keyed merge of one list whose handle may be shared with other lists:
/// `map` indexes the child's lists of the handle, `list` is this one.
/// `m` merges a parent item with the matching child item (`None` drops it).
fn keyed<T: Clone>(
    p: &[T],
    c: &[T],
    list: u8,
    map: &KeyMap,
    key: impl Fn(&T) -> String,
    m: impl Fn(&T, &T) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(p.len() + c.len());
    for pi in p {
        match map.get(&key(pi)) {
            Some(&(l, j)) if l == list => out.extend(m(pi, &c[j])),
            Some(_) => {} // the child has it in another list of the handle
            None => out.push(pi.clone()),
        }
    }
    let parent_keys: HashSet<String> = p.iter().map(&key).collect();
    out.extend(
        c.iter()
            .filter(|ci| !parent_keys.contains(&key(ci)))
            .cloned(),
    );
    out
}

/// Keyed merge of a list with its own handle.
fn keyed_list<T: Clone>(
    p: &[T],
    c: &[T],
    key: impl Fn(&T) -> String,
    m: impl Fn(&T, &T) -> Option<T>,
) -> Vec<T> {
    let mut map = KeyMap::new();
    add_keys(&mut map, 0, c, &key);
    keyed(p, c, 0, &map, key, m)
}

/// A list of strings keyed by value (the child's string is taken).
fn strings(p: &[String], c: &[String]) -> Vec<String> {
    keyed_list(p, c, String::clone, |_, c| Some(c.clone()))
}

fn ignition(p: &Ignition, c: &Ignition) -> Ignition {
    Ignition {
        config: sub(&p.config, &c.config, |p, c| IgnitionConfig {
            merge: keyed_list(&p.merge, &c.merge, resource_key, |p, c| {
                Some(resource(p, c))
            }),
            replace: sub(&p.replace, &c.replace, resource),
        }),
        proxy: sub(&p.proxy, &c.proxy, |p, c| Proxy {
            http_proxy: ptr(&p.http_proxy, &c.http_proxy),
            https_proxy: ptr(&p.https_proxy, &c.https_proxy),
            no_proxy: strings(&p.no_proxy, &c.no_proxy),
        }),
        security: sub(&p.security, &c.security, |p, c| Security {
            tls: sub(&p.tls, &c.tls, |p, c| Tls {
                certificate_authorities: keyed_list(
                    &p.certificate_authorities,
                    &c.certificate_authorities,
                    resource_key,
                    |p, c| Some(resource(p, c)),
                ),
            }),
        }),
        timeouts: sub(&p.timeouts, &c.timeouts, |p, c| Timeouts {
            http_response_headers: ptr(&p.http_response_headers, &c.http_response_headers),
            http_total: ptr(&p.http_total, &c.http_total),
        }),
        version: c.version.clone(),
    }
}

fn resource_key(r: &Resource) -> String {
    r.source.clone().unwrap_or_default()
}

fn resource(p: &Resource, c: &Resource) -> Resource {
    Resource {
        compression: ptr(&p.compression, &c.compression),
        http_headers: keyed_list(
            &p.http_headers,
            &c.http_headers,
            |h| h.name.clone(),
            |p, c| {
                // A null value in the child removes the parent's header.
                c.value.as_ref()?;
                Some(HttpHeader {
                    name: c.name.clone(),
                    value: ptr(&p.value, &c.value),
                })
            },
        ),
        source: ptr(&p.source, &c.source),
        verification: sub(&p.verification, &c.verification, |p, c| Verification {
            hash: ptr(&p.hash, &c.hash),
        }),
    }
}

fn kargs(p: &KernelArguments, c: &KernelArguments) -> KernelArguments {
    let mut map = KeyMap::new();
    add_keys(&mut map, 0, &c.should_exist, String::clone);
    add_keys(&mut map, 1, &c.should_not_exist, String::clone);
    let take = |_: &String, c: &String| Some(c.clone());
    KernelArguments {
        should_exist: keyed(
            &p.should_exist,
            &c.should_exist,
            0,
            &map,
            String::clone,
            take,
        ),
        should_not_exist: keyed(
            &p.should_not_exist,
            &c.should_not_exist,
            1,
            &map,
            String::clone,
            take,
        ),
    }
}

fn group(p: &PasswdGroup, c: &PasswdGroup) -> PasswdGroup {
    PasswdGroup {
        gid: ptr(&p.gid, &c.gid),
        name: c.name.clone(),
        password_hash: ptr(&p.password_hash, &c.password_hash),
        should_exist: ptr(&p.should_exist, &c.should_exist),
        system: ptr(&p.system, &c.system),
    }
}

fn user(p: &PasswdUser, c: &PasswdUser) -> PasswdUser {
    PasswdUser {
        gecos: ptr(&p.gecos, &c.gecos),
        groups: strings(&p.groups, &c.groups),
        home_dir: ptr(&p.home_dir, &c.home_dir),
        name: c.name.clone(),
        no_create_home: ptr(&p.no_create_home, &c.no_create_home),
        no_log_init: ptr(&p.no_log_init, &c.no_log_init),
        no_user_group: ptr(&p.no_user_group, &c.no_user_group),
        password_hash: ptr(&p.password_hash, &c.password_hash),
        primary_group: ptr(&p.primary_group, &c.primary_group),
        shell: ptr(&p.shell, &c.shell),
        should_exist: ptr(&p.should_exist, &c.should_exist),
        ssh_authorized_keys: strings(&p.ssh_authorized_keys, &c.ssh_authorized_keys),
        system: ptr(&p.system, &c.system),
        uid: ptr(&p.uid, &c.uid),
    }
}

fn unit(p: &Unit, c: &Unit) -> Unit {
    Unit {
        contents: ptr(&p.contents, &c.contents),
        dropins: keyed_list(
            &p.dropins,
            &c.dropins,
            |d| d.name.clone(),
            |p, c| {
                Some(Dropin {
                    contents: ptr(&p.contents, &c.contents),
                    name: c.name.clone(),
                })
            },
        ),
        enabled: ptr(&p.enabled, &c.enabled),
        mask: ptr(&p.mask, &c.mask),
        name: c.name.clone(),
    }
}

fn node(p: &Node, c: &Node) -> Node {
    sub(p, c, |p, c| Node {
        group: sub(&p.group, &c.group, |p, c| NodeGroup {
            id: ptr(&p.id, &c.id),
            name: ptr(&p.name, &c.name),
        }),
        overwrite: ptr(&p.overwrite, &c.overwrite),
        path: c.path.clone(),
        user: sub(&p.user, &c.user, |p, c| NodeUser {
            id: ptr(&p.id, &c.id),
            name: ptr(&p.name, &c.name),
        }),
    })
}

fn partition_key(p: &Partition) -> String {
    if p.number != 0 {
        format!("number:{}", p.number)
    } else if let Some(l) = &p.label {
        format!("label:{l}")
    } else {
        String::new()
    }
}

fn storage(p: &Storage, c: &Storage) -> Storage {
    // files, directories and links share the "Node" handle.
    let path = |n: &Node| n.path.clone();
    let mut nodes = KeyMap::new();
    add_keys(&mut nodes, 0, &c.directories, |d| path(&d.node));
    add_keys(&mut nodes, 1, &c.files, |f| path(&f.node));
    add_keys(&mut nodes, 2, &c.links, |l| path(&l.node));
    Storage {
        directories: keyed(
            &p.directories,
            &c.directories,
            0,
            &nodes,
            |d| path(&d.node),
            |p, c| {
                Some(Directory {
                    node: node(&p.node, &c.node),
                    mode: ptr(&p.mode, &c.mode),
                })
            },
        ),
        disks: keyed_list(
            &p.disks,
            &c.disks,
            |d| d.device.clone(),
            |p, c| {
                Some(Disk {
                    device: c.device.clone(),
                    partitions: keyed_list(&p.partitions, &c.partitions, partition_key, |p, c| {
                        Some(Partition {
                            guid: ptr(&p.guid, &c.guid),
                            label: ptr(&p.label, &c.label),
                            number: c.number,
                            resize: ptr(&p.resize, &c.resize),
                            should_exist: ptr(&p.should_exist, &c.should_exist),
                            size_mib: ptr(&p.size_mib, &c.size_mib),
                            start_mib: ptr(&p.start_mib, &c.start_mib),
                            type_guid: ptr(&p.type_guid, &c.type_guid),
                            wipe_partition_entry: ptr(
                                &p.wipe_partition_entry,
                                &c.wipe_partition_entry,
                            ),
                        })
                    }),
                    wipe_table: ptr(&p.wipe_table, &c.wipe_table),
                })
            },
        ),
        files: keyed(
            &p.files,
            &c.files,
            1,
            &nodes,
            |f| path(&f.node),
            |p, c| {
                Some(File {
                    node: node(&p.node, &c.node),
                    append: concat(&p.append, &c.append),
                    contents: sub(&p.contents, &c.contents, resource),
                    mode: ptr(&p.mode, &c.mode),
                })
            },
        ),
        filesystems: keyed_list(
            &p.filesystems,
            &c.filesystems,
            |f| f.device.clone(),
            |p, c| {
                Some(Filesystem {
                    device: c.device.clone(),
                    format: ptr(&p.format, &c.format),
                    label: ptr(&p.label, &c.label),
                    mount_options: concat(&p.mount_options, &c.mount_options),
                    options: concat(&p.options, &c.options),
                    path: ptr(&p.path, &c.path),
                    uuid: ptr(&p.uuid, &c.uuid),
                    wipe_filesystem: ptr(&p.wipe_filesystem, &c.wipe_filesystem),
                })
            },
        ),
        links: keyed(
            &p.links,
            &c.links,
            2,
            &nodes,
            |l| path(&l.node),
            |p, c| {
                Some(Link {
                    node: node(&p.node, &c.node),
                    hard: ptr(&p.hard, &c.hard),
                    target: ptr(&p.target, &c.target),
                })
            },
        ),
        luks: keyed_list(
            &p.luks,
            &c.luks,
            |l| l.name.clone(),
            |p, c| Some(luks(p, c)),
        ),
        raid: keyed_list(
            &p.raid,
            &c.raid,
            |r| r.name.clone(),
            |p, c| {
                Some(Raid {
                    devices: strings(&p.devices, &c.devices),
                    level: ptr(&p.level, &c.level),
                    name: c.name.clone(),
                    options: concat(&p.options, &c.options),
                    spares: ptr(&p.spares, &c.spares),
                })
            },
        ),
    }
}

fn luks(p: &Luks, c: &Luks) -> Luks {
    Luks {
        cex: sub(&p.cex, &c.cex, |p, c| Cex {
            enabled: ptr(&p.enabled, &c.enabled),
        }),
        clevis: sub(&p.clevis, &c.clevis, |p, c| Clevis {
            custom: sub(&p.custom, &c.custom, |p, c| ClevisCustom {
                config: ptr(&p.config, &c.config),
                needs_network: ptr(&p.needs_network, &c.needs_network),
                pin: ptr(&p.pin, &c.pin),
            }),
            tang: keyed_list(
                &p.tang,
                &c.tang,
                |t| t.url.clone(),
                |p, c| {
                    Some(Tang {
                        advertisement: ptr(&p.advertisement, &c.advertisement),
                        thumbprint: ptr(&p.thumbprint, &c.thumbprint),
                        url: c.url.clone(),
                    })
                },
            ),
            threshold: ptr(&p.threshold, &c.threshold),
            tpm2: ptr(&p.tpm2, &c.tpm2),
        }),
        device: ptr(&p.device, &c.device),
        discard: ptr(&p.discard, &c.discard),
        key_file: sub(&p.key_file, &c.key_file, resource),
        label: ptr(&p.label, &c.label),
        name: c.name.clone(),
        open_options: strings(&p.open_options, &c.open_options),
        options: concat(&p.options, &c.options),
        uuid: ptr(&p.uuid, &c.uuid),
        wipe_volume: ptr(&p.wipe_volume, &c.wipe_volume),
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
