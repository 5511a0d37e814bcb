//! Merge tests: one per keyed list, per shared handle, and per pointer /
//! plain / zero-struct / concatenation rule of `config/merge/merge.go`.
//! Expected values are written from the Go rules, not from our output.

use super::*;

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn strs(x: &[&str]) -> Vec<String> {
    x.iter().map(|s| s.to_string()).collect()
}

fn file(path: &str, mode: Option<i64>) -> File {
    File {
        node: Node {
            path: path.into(),
            ..Default::default()
        },
        mode,
        ..Default::default()
    }
}

fn res(src: &str) -> Resource {
    Resource {
        source: s(src),
        ..Default::default()
    }
}

fn with_storage(st: Storage) -> Config {
    Config {
        storage: st,
        ..Default::default()
    }
}

#[test]
fn plain_child_wins_even_when_empty_pointer_only_when_set() {
    let parent = Config {
        ignition: Ignition {
            version: "3.7.0-experimental".into(),
            timeouts: Timeouts {
                http_total: Some(5),
                http_response_headers: Some(7),
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let child = Config {
        ignition: Ignition {
            version: String::new(),
            timeouts: Timeouts {
                http_total: Some(0),
                http_response_headers: None,
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let m = merge(&parent, &child);
    // `version` is plain: the child's empty string wins.
    assert_eq!(m.ignition.version, "");
    // Pointers: a child's zero value (Some(0)) wins, None keeps the parent.
    assert_eq!(m.ignition.timeouts.http_total, Some(0));
    assert_eq!(m.ignition.timeouts.http_response_headers, Some(7));
}

#[test]
fn zero_child_struct_keeps_parent_including_plain_fields() {
    let parent = Config {
        ignition: Ignition {
            version: "3.7.0-experimental".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    // A child whose whole `ignition` struct is zero keeps the parent's,
    // plain `version` included.
    let m = merge(&parent, &Config::default());
    assert_eq!(m.ignition.version, "3.7.0-experimental");
    // And a zero parent takes the child's struct as is.
    let m = merge(&Config::default(), &parent);
    assert_eq!(m.ignition.version, "3.7.0-experimental");
}

#[test]
fn overwrite_false_in_child_overrides_true() {
    let mut p = file("/a", None);
    p.node.overwrite = Some(true);
    let mut c = file("/a", None);
    c.node.overwrite = Some(false);
    let m = merge(
        &with_storage(Storage {
            files: vec![p],
            ..Default::default()
        }),
        &with_storage(Storage {
            files: vec![c],
            ..Default::default()
        }),
    );
    assert_eq!(m.storage.files[0].node.overwrite, Some(false));
}

#[test]
fn files_merge_by_path_in_place_and_append_new() {
    let parent = with_storage(Storage {
        files: vec![file("/a", Some(0o644)), file("/b", Some(0o600))],
        ..Default::default()
    });
    let child = with_storage(Storage {
        files: vec![file("/c", None), file("/b", None), file("/a", Some(0o755))],
        ..Default::default()
    });
    let m = merge(&parent, &child);
    let got: Vec<(&str, Option<i64>)> = m
        .storage
        .files
        .iter()
        .map(|f| (f.node.path.as_str(), f.mode))
        .collect();
    // Parent order for merged items, child-only items appended.
    assert_eq!(
        got,
        vec![("/a", Some(0o755)), ("/b", Some(0o600)), ("/c", None)]
    );
}

#[test]
fn node_handle_is_shared_child_link_replaces_parent_file() {
    let parent = with_storage(Storage {
        files: vec![file("/x", Some(0o644)), file("/keep", None)],
        directories: vec![Directory {
            node: Node {
                path: "/d".into(),
                ..Default::default()
            },
            mode: Some(0o755),
        }],
        ..Default::default()
    });
    let child = with_storage(Storage {
        links: vec![Link {
            node: Node {
                path: "/x".into(),
                ..Default::default()
            },
            target: s("/y"),
            hard: None,
        }],
        files: vec![file("/d", None)],
        ..Default::default()
    });
    let m = merge(&parent, &child);
    let files: Vec<&str> = m
        .storage
        .files
        .iter()
        .map(|f| f.node.path.as_str())
        .collect();
    assert_eq!(files, vec!["/keep", "/d"]);
    assert!(m.storage.directories.is_empty());
    assert_eq!(m.storage.links.len(), 1);
    assert_eq!(m.storage.links[0].target, s("/y"));
}

#[test]
fn node_handle_last_child_list_wins_for_a_repeated_key() {
    // The child has /x both as a file and as a link: Go's key map keeps the
    // later list (links), so the parent's file is dropped and the child's
    // file is not appended (its key is in the parent's files).
    let parent = with_storage(Storage {
        files: vec![file("/x", Some(0o644))],
        ..Default::default()
    });
    let child = with_storage(Storage {
        files: vec![file("/x", Some(0o600))],
        links: vec![Link {
            node: Node {
                path: "/x".into(),
                ..Default::default()
            },
            target: s("/t"),
            hard: None,
        }],
        ..Default::default()
    });
    let m = merge(&parent, &child);
    assert!(m.storage.files.is_empty());
    assert_eq!(m.storage.links.len(), 1);
}

#[test]
fn file_append_is_concatenated_contents_merged_as_struct() {
    let mut p = file("/a", None);
    p.append = vec![res("data:,1")];
    p.contents = Resource {
        source: s("http://a/x"),
        compression: s("gzip"),
        ..Default::default()
    };
    let mut c = file("/a", None);
    c.append = vec![res("data:,2"), res("data:,1")];
    // The known trap: a child overriding only `compression`.
    c.contents = Resource {
        compression: s(""),
        ..Default::default()
    };
    let m = merge(
        &with_storage(Storage {
            files: vec![p],
            ..Default::default()
        }),
        &with_storage(Storage {
            files: vec![c],
            ..Default::default()
        }),
    );
    let f = &m.storage.files[0];
    let srcs: Vec<_> = f.append.iter().map(|r| r.source.clone().unwrap()).collect();
    assert_eq!(srcs, strs(&["data:,1", "data:,2", "data:,1"]));
    assert_eq!(f.contents.source, s("http://a/x"));
    assert_eq!(f.contents.compression, s(""));
}

#[test]
fn http_headers_merge_by_name_and_null_value_removes() {
    let h = |n: &str, v: Option<&str>| HttpHeader {
        name: n.into(),
        value: v.map(String::from),
    };
    let parent = Resource {
        source: s("https://x"),
        http_headers: vec![h("A", Some("1")), h("B", Some("2")), h("C", Some("3"))],
        ..Default::default()
    };
    let child = Resource {
        http_headers: vec![h("B", None), h("C", Some("30")), h("D", None)],
        ..Default::default()
    };
    let p = Config {
        ignition: Ignition {
            config: IgnitionConfig {
                replace: parent,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let c = Config {
        ignition: Ignition {
            config: IgnitionConfig {
                replace: child,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let m = merge(&p, &c);
    let r = &m.ignition.config.replace;
    // B removed; C merged in place; D (null, not in parent) appended as is.
    assert_eq!(
        r.http_headers,
        vec![h("A", Some("1")), h("C", Some("30")), h("D", None)]
    );
    assert_eq!(r.source, s("https://x"));
}

#[test]
fn config_merge_and_cas_keyed_by_source() {
    let mut p = Config::default();
    p.ignition.config.merge = vec![res("https://a"), res("https://b")];
    p.ignition.security.tls.certificate_authorities = vec![res("data:,ca1")];
    let mut c = Config::default();
    let mut b = res("https://b");
    b.verification.hash = s("sha512-00");
    c.ignition.config.merge = vec![b, res("https://c")];
    c.ignition.security.tls.certificate_authorities = vec![res("data:,ca2"), res("data:,ca1")];
    let m = merge(&p, &c);
    let srcs: Vec<_> = m.ignition.config.merge.iter().map(resource_key).collect();
    assert_eq!(srcs, strs(&["https://a", "https://b", "https://c"]));
    assert_eq!(m.ignition.config.merge[1].verification.hash, s("sha512-00"));
    let cas: Vec<_> = m
        .ignition
        .security
        .tls
        .certificate_authorities
        .iter()
        .map(resource_key)
        .collect();
    assert_eq!(cas, strs(&["data:,ca1", "data:,ca2"]));
}

#[test]
fn proxy_no_proxy_deduplicated_in_parent_order() {
    let mut p = Config::default();
    p.ignition.proxy.no_proxy = strs(&["a", "b"]);
    p.ignition.proxy.http_proxy = s("http://p");
    let mut c = Config::default();
    c.ignition.proxy.no_proxy = strs(&["c", "a"]);
    c.ignition.proxy.https_proxy = s("https://q");
    let m = merge(&p, &c);
    assert_eq!(m.ignition.proxy.no_proxy, strs(&["a", "b", "c"]));
    assert_eq!(m.ignition.proxy.http_proxy, s("http://p"));
    assert_eq!(m.ignition.proxy.https_proxy, s("https://q"));
}

#[test]
fn kernel_arguments_share_one_handle() {
    let mut p = Config::default();
    p.kernel_arguments.should_exist = strs(&["quiet", "x=1", "keep"]);
    p.kernel_arguments.should_not_exist = strs(&["debug"]);
    let mut c = Config::default();
    c.kernel_arguments.should_not_exist = strs(&["quiet"]);
    c.kernel_arguments.should_exist = strs(&["debug", "new"]);
    let m = merge(&p, &c);
    // A child's shouldNotExist "quiet" removes the parent's shouldExist
    // "quiet" and vice versa for "debug".
    assert_eq!(
        m.kernel_arguments.should_exist,
        strs(&["x=1", "keep", "debug", "new"])
    );
    assert_eq!(m.kernel_arguments.should_not_exist, strs(&["quiet"]));
}

#[test]
fn disks_by_device_partitions_by_number_then_label() {
    let part = |n: i64, l: Option<&str>, size: Option<i64>| Partition {
        number: n,
        label: l.map(String::from),
        size_mib: size,
        ..Default::default()
    };
    let p = with_storage(Storage {
        disks: vec![Disk {
            device: "/dev/vda".into(),
            partitions: vec![
                part(1, Some("one"), Some(10)),
                part(0, Some("lab"), Some(20)),
                part(0, None, Some(30)),
            ],
            wipe_table: Some(true),
        }],
        ..Default::default()
    });
    let c = with_storage(Storage {
        disks: vec![
            Disk {
                device: "/dev/vda".into(),
                partitions: vec![
                    part(1, Some("uno"), None),
                    part(0, Some("lab"), Some(21)),
                    part(0, None, Some(31)),
                    part(2, None, None),
                ],
                wipe_table: None,
            },
            Disk {
                device: "/dev/vdb".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    let m = merge(&p, &c);
    assert_eq!(m.storage.disks.len(), 2);
    let d = &m.storage.disks[0];
    assert_eq!(d.wipe_table, Some(true));
    assert_eq!(
        d.partitions,
        vec![
            part(1, Some("uno"), Some(10)),
            part(0, Some("lab"), Some(21)),
            part(0, None, Some(31)),
            part(2, None, None),
        ]
    );
}

#[test]
fn filesystems_by_device_options_concatenated() {
    let fs = |dev: &str, opts: &[&str], mopts: &[&str], fmt: Option<&str>| Filesystem {
        device: dev.into(),
        options: strs(opts),
        mount_options: strs(mopts),
        format: fmt.map(String::from),
        ..Default::default()
    };
    let p = with_storage(Storage {
        filesystems: vec![fs("/dev/a", &["-L", "x"], &["ro"], Some("ext4"))],
        ..Default::default()
    });
    let c = with_storage(Storage {
        filesystems: vec![fs("/dev/a", &["-L", "y"], &["ro"], None)],
        ..Default::default()
    });
    let m = merge(&p, &c);
    assert_eq!(
        m.storage.filesystems,
        vec![fs(
            "/dev/a",
            &["-L", "x", "-L", "y"],
            &["ro", "ro"],
            Some("ext4")
        )]
    );
}

#[test]
fn raid_by_name_devices_keyed_options_concatenated() {
    let raid = |devs: &[&str], opts: &[&str], level: Option<&str>| Raid {
        name: "md0".into(),
        devices: strs(devs),
        options: strs(opts),
        level: level.map(String::from),
        spares: None,
    };
    let p = with_storage(Storage {
        raid: vec![raid(&["/dev/a", "/dev/b"], &["--x"], Some("raid1"))],
        ..Default::default()
    });
    let c = with_storage(Storage {
        raid: vec![raid(&["/dev/b", "/dev/c"], &["--x"], None)],
        ..Default::default()
    });
    let m = merge(&p, &c);
    assert_eq!(
        m.storage.raid,
        vec![raid(
            &["/dev/a", "/dev/b", "/dev/c"],
            &["--x", "--x"],
            Some("raid1")
        )]
    );
}

#[test]
fn luks_by_name_tang_by_url_options_concatenated_open_options_keyed() {
    let tang = |url: &str, tp: Option<&str>, adv: Option<&str>| Tang {
        url: url.into(),
        thumbprint: tp.map(String::from),
        advertisement: adv.map(String::from),
    };
    let p = with_storage(Storage {
        luks: vec![Luks {
            name: "root".into(),
            device: s("/dev/a"),
            options: strs(&["--o1"]),
            open_options: strs(&["--a", "--b"]),
            clevis: Clevis {
                tang: vec![
                    tang("http://t1", Some("x"), Some("{}")),
                    tang("http://t2", Some("y"), None),
                ],
                threshold: Some(1),
                ..Default::default()
            },
            ..Default::default()
        }],
        ..Default::default()
    });
    let c = with_storage(Storage {
        luks: vec![Luks {
            name: "root".into(),
            options: strs(&["--o1"]),
            open_options: strs(&["--b", "--c"]),
            clevis: Clevis {
                tang: vec![tang("http://t1", Some("z"), None)],
                tpm2: Some(true),
                ..Default::default()
            },
            cex: Cex {
                enabled: Some(false),
            },
            ..Default::default()
        }],
        ..Default::default()
    });
    let m = merge(&p, &c);
    let l = &m.storage.luks[0];
    assert_eq!(l.device, s("/dev/a"));
    assert_eq!(l.options, strs(&["--o1", "--o1"]));
    assert_eq!(l.open_options, strs(&["--a", "--b", "--c"]));
    assert_eq!(
        l.clevis.tang,
        vec![
            tang("http://t1", Some("z"), Some("{}")),
            tang("http://t2", Some("y"), None)
        ]
    );
    assert_eq!((l.clevis.threshold, l.clevis.tpm2), (Some(1), Some(true)));
    assert_eq!(l.cex.enabled, Some(false));
}

#[test]
fn units_and_dropins_by_name() {
    let unit =
        |name: &str, contents: Option<&str>, dropins: Vec<Dropin>, enabled: Option<bool>| Unit {
            name: name.into(),
            contents: contents.map(String::from),
            dropins,
            enabled,
            mask: None,
        };
    let dropin = |n: &str, c: &str| Dropin {
        name: n.into(),
        contents: s(c),
    };
    let p = Config {
        systemd: Systemd {
            units: vec![
                unit(
                    "a.service",
                    Some("[Unit]"),
                    vec![dropin("1.conf", "x"), dropin("2.conf", "y")],
                    Some(true),
                ),
                unit("b.service", None, vec![], None),
            ],
        },
        ..Default::default()
    };
    let c = Config {
        systemd: Systemd {
            units: vec![unit(
                "a.service",
                None,
                vec![dropin("2.conf", "z"), dropin("3.conf", "w")],
                None,
            )],
        },
        ..Default::default()
    };
    let m = merge(&p, &c);
    assert_eq!(
        m.systemd.units,
        vec![
            unit(
                "a.service",
                Some("[Unit]"),
                vec![
                    dropin("1.conf", "x"),
                    dropin("2.conf", "z"),
                    dropin("3.conf", "w")
                ],
                Some(true)
            ),
            unit("b.service", None, vec![], None),
        ]
    );
}

#[test]
fn users_and_groups_by_name_string_lists_keyed() {
    let p = Config {
        passwd: Passwd {
            users: vec![PasswdUser {
                name: "core".into(),
                groups: strs(&["wheel", "docker"]),
                ssh_authorized_keys: strs(&["k1"]),
                uid: Some(500),
                ..Default::default()
            }],
            groups: vec![PasswdGroup {
                name: "g".into(),
                gid: Some(1),
                ..Default::default()
            }],
        },
        ..Default::default()
    };
    let c = Config {
        passwd: Passwd {
            users: vec![
                PasswdUser {
                    name: "core".into(),
                    groups: strs(&["docker", "sudo"]),
                    ssh_authorized_keys: strs(&["k2", "k1"]),
                    shell: s("/bin/zsh"),
                    ..Default::default()
                },
                PasswdUser {
                    name: "other".into(),
                    ..Default::default()
                },
            ],
            groups: vec![PasswdGroup {
                name: "g".into(),
                system: Some(true),
                ..Default::default()
            }],
        },
        ..Default::default()
    };
    let m = merge(&p, &c);
    let u = &m.passwd.users[0];
    assert_eq!(u.groups, strs(&["wheel", "docker", "sudo"]));
    assert_eq!(u.ssh_authorized_keys, strs(&["k1", "k2"]));
    assert_eq!((u.uid, u.shell.clone()), (Some(500), s("/bin/zsh")));
    assert_eq!(m.passwd.users[1].name, "other");
    assert_eq!(
        (m.passwd.groups[0].gid, m.passwd.groups[0].system),
        (Some(1), Some(true))
    );
}

#[test]
fn node_owner_structs_merge_field_by_field() {
    let mut p = file("/a", None);
    p.node.user = NodeUser {
        id: Some(1),
        name: None,
    };
    p.node.group = NodeGroup {
        id: None,
        name: s("wheel"),
    };
    let mut c = file("/a", None);
    c.node.user = NodeUser {
        id: None,
        name: s("core"),
    };
    let m = merge(
        &with_storage(Storage {
            files: vec![p],
            ..Default::default()
        }),
        &with_storage(Storage {
            files: vec![c],
            ..Default::default()
        }),
    );
    let n = &m.storage.files[0].node;
    // Both pointers set in the merged user: an invalid result that the
    // post-merge validation has to catch, exactly as in Ignition.
    assert_eq!(
        n.user,
        NodeUser {
            id: Some(1),
            name: s("core")
        }
    );
    assert_eq!(n.group.name, s("wheel"));
}

#[test]
fn duplicate_keys_in_parent_each_merge_with_child() {
    let parent = with_storage(Storage {
        files: vec![file("/a", Some(1)), file("/a", Some(2))],
        ..Default::default()
    });
    let mut c = file("/a", None);
    c.node.overwrite = Some(true);
    let child = with_storage(Storage {
        files: vec![c],
        ..Default::default()
    });
    let m = merge(&parent, &child);
    let got: Vec<_> = m
        .storage
        .files
        .iter()
        .map(|f| (f.mode, f.node.overwrite))
        .collect();
    assert_eq!(got, vec![(Some(1), Some(true)), (Some(2), Some(true))]);
}
