//! FCOS-only sugar (`config/fcos/v1_x`): `boot_device` (LUKS with Tang,
//! TPM2 or CEX, RAID1 mirroring, per-architecture layouts), `grub.users`,
//! their validation, and the fcos 1.6+ partition warnings.

use crate::decode::DObj;
use crate::diag::{Diag, PathExt, P};
use crate::ignval::json_diag;
use crate::merge;
use crate::out::{J, JV};
use crate::schema;
use crate::translate::Tx;

const ROOT_DEVICE: &str = "/dev/disk/by-id/coreos-boot-disk";

/// Source-side checks of the fcos config (`Config.Validate`,
/// `BootDevice.Validate`, `BootDeviceMirror.Validate`, `GrubUser.Validate`).
pub fn validate_hook(minor: u8) -> impl FnMut(&DObj, &P, &mut Vec<Diag>) {
    move |o: &DObj, p: &P, out: &mut Vec<Diag>| {
        let def = o.def;
        if std::ptr::eq(def, &schema::FCOS_CONFIG) && minor >= 6 {
            top_level(o, p, out);
        } else if std::ptr::eq(def, &schema::BOOT_DEVICE) {
            boot_device(o, p, minor, out);
        } else if std::ptr::eq(def, &schema::BOOT_DEVICE_MIRROR) {
            mirror(o, p, out);
        } else if std::ptr::eq(def, &schema::GRUB_USER) {
            if o.str("name").is_none_or(str::is_empty) {
                out.push(Diag::err(p.f("name"), "field \"name\" is required"));
            }
            if o.str("password_hash").is_none_or(str::is_empty) {
                out.push(Diag::err(
                    p.f("password_hash"),
                    "field \"password_hash\" is required",
                ));
            }
        }
    }
}

fn top_level(o: &DObj, p: &P, out: &mut Vec<Diag>) {
    let storage = o.obj("storage");
    let mirror_devs: Vec<String> = o
        .obj("boot_device")
        .and_then(|b| b.obj("mirror"))
        .map(|m| m.strs("devices").iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    if let Some(st) = storage {
        for (i, disk) in st.objs("disks").into_iter().enumerate() {
            let dev = disk.str("device").unwrap_or("");
            if dev != ROOT_DEVICE
                && !disk.is_true("wipe_table")
                && !mirror_devs.iter().any(|d| d == dev)
            {
                for (n, part) in disk.objs("partitions").into_iter().enumerate() {
                    if part.int("number").unwrap_or(0) == 0 && part.get("label").is_some() {
                        out.push(Diag::warn(
                            p.f("storage").f("disks").i(i).f("partitions").i(n).f("number"),
                            "partitions cannot be reused by label; number must be specified except on boot disk (/dev/disk/by-id/coreos-boot-disk) or when wipe_table is true",
                        ));
                    }
                }
            }
        }
        for (i, fs) in st.objs("filesystems").into_iter().enumerate() {
            if let Some(path) = fs.str("path") {
                let allowed = ["/etc", "/var"]
                    .iter()
                    .any(|r| path == *r || path.starts_with(&format!("{r}/")));
                if !allowed && fs.is_true("with_mount_unit") {
                    out.push(Diag::err(
                        p.f("storage").f("filesystems").i(i).f("path"),
                        "path must be under /etc or /var if with_mount_unit is true",
                    ));
                }
            }
        }
    }
}

fn boot_device(o: &DObj, p: &P, minor: u8, out: &mut Vec<Diag>) {
    let mirror_devs = o
        .obj("mirror")
        .map(|m| m.list("devices").len())
        .unwrap_or(0);
    let layout = o.str("layout");
    if mirror_devs > 0 && layout.is_none() {
        out.push(Diag::warn(
            p.f("mirror"),
            "boot_device.layout should be specified when boot_device.mirror is specified",
        ));
    }
    let luks = o.obj("luks");
    let luks_dev = luks.and_then(|l| l.str("device")).filter(|s| !s.is_empty());
    if let Some(l) = layout {
        if minor < 6 {
            if !matches!(l, "aarch64" | "ppc64le" | "x86_64") {
                out.push(Diag::err(
                    p.f("layout"),
                    "layout must be one of: aarch64, ppc64le, x86_64",
                ));
            }
        } else {
            match l {
                "aarch64" | "ppc64le" | "x86_64" | "s390x-virt" => {}
                "s390x-eckd" | "s390x-zfcp" => {
                    let prefix = if l == "s390x-eckd" { "/dev/dasd" } else { "/dev/sd" };
                    match luks_dev {
                        None => out.push(Diag::err(
                            p.f("layout"),
                            "device is required for layouts: s390x-eckd, s390x-zfcp",
                        )),
                        Some(d) => {
                            let ok = d
                                .strip_prefix(prefix)
                                .is_some_and(|r| r.len() == 1 && r.as_bytes()[0].is_ascii_lowercase());
                            if !ok {
                                out.push(Diag::err(
                                    p.f("layout"),
                                    "device name must start with /dev/dasd on s390x-eckd layout or /dev/sd on s390x-zfcp layout",
                                ));
                            }
                        }
                    }
                }
                _ => out.push(Diag::err(
                    p.f("layout"),
                    "layout must be one of: aarch64, ppc64le, s390x-eckd, s390x-virt, s390x-zfcp, x86_64",
                )),
            }
            if l.starts_with("s390x") && mirror_devs > 0 {
                out.push(Diag::err(
                    p.f("layout"),
                    "mirroring not supported on layouts: s390x-eckd, s390x-zfcp, s390x-virt",
                ));
            }
        }
    }
    if minor >= 6 {
        if let Some(l) = luks {
            if l.obj("cex").is_some_and(|c| c.is_true("enabled")) {
                match layout {
                    None => out.push(Diag::err(
                        p.f("luks").f("cex"),
                        "when using cex the targeted architecture must match s390x",
                    )),
                    Some(ly) if !ly.starts_with("s390x") => out.push(Diag::err(
                        p.f("layout"),
                        "when using cex the targeted architecture must match s390x",
                    )),
                    _ => {}
                }
                if !l.list("tang").is_empty() || l.is_true("tpm2") {
                    out.push(Diag::err(p.f("luks"), "cannot use cex with clevis"));
                }
            }
        }
    }
    // BootDevice.Validate calls the mirror's check itself, and the walk
    // calls it again: Butane reports mirror errors twice.
    if let Some(m) = o.obj("mirror") {
        mirror(m, &p.f("mirror"), out);
    }
}

fn mirror(o: &DObj, p: &P, out: &mut Vec<Diag>) {
    if o.list("devices").len() == 1 {
        out.push(Diag::err(
            p.f("devices"),
            "mirroring requires at least two devices",
        ));
    }
}

fn part(label: String, size: Option<i64>, guid: Option<&str>, from: &P) -> J {
    let mut j = J::obj(Some(from.clone()));
    if let JV::Obj(f) = &mut j.v {
        f.push(("label".into(), J::str(label, Some(from.clone()))));
        if let Some(s) = size {
            f.push(("sizeMiB".into(), J::int(s, Some(from.clone()))));
        }
        if let Some(g) = guid {
            f.push(("typeGuid".into(), J::str(g, Some(from.clone()))));
        }
    }
    j
}

fn fs(device: String, format: &str, label: String, from: &P) -> J {
    let mut j = J::obj(Some(from.clone()));
    if let JV::Obj(f) = &mut j.v {
        f.push(("device".into(), J::str(device, Some(from.clone()))));
        f.push(("format".into(), J::str(format, Some(from.clone()))));
        f.push(("label".into(), J::str(label, Some(from.clone()))));
        f.push(("wipeFilesystem".into(), J::bool(true, Some(from.clone()))));
    }
    j
}

const BIOS_GUID: &str = "21686148-6449-6E6F-744E-656564454649";
const PREP_GUID: &str = "9E1A2D38-C612-4316-AA26-8B49521E5A8B";
const ESP_GUID: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const RESERVED_GUID: &str = "8DA63339-0007-60C0-C436-083AC8230908";

/// `processBootDevice`: renders the boot device config and merges the
/// user's config into it.
pub fn process_boot_device(cfg: &DObj, root: &mut J) {
    let Some(bd) = cfg.obj("boot_device") else {
        return;
    };
    let luks = bd.obj("luks");
    let cex = luks
        .and_then(|l| l.obj("cex"))
        .is_some_and(|c| c.is_true("enabled"));
    let want_luks = luks.is_some_and(|l| l.is_true("tpm2") || !l.list("tang").is_empty()) || cex;
    let devices = bd
        .obj("mirror")
        .map(|m| m.strs("devices"))
        .unwrap_or_default();
    let want_mirror = !devices.is_empty();
    if !want_luks && !want_mirror {
        return;
    }
    let layout = bd.str("layout");
    let (bios, efi, prep) = match layout {
        None | Some("x86_64") => (true, true, false),
        Some("aarch64") => (false, true, false),
        Some("ppc64le") => (false, false, true),
        _ => (false, false, false),
    };
    let bp = P::root().f("boot_device");
    let mut disks = Vec::new();
    let mut filesystems = Vec::new();
    let mut raid = Vec::new();
    if want_mirror {
        for (i, dev) in devices.iter().enumerate() {
            let from = bp.f("mirror").f("devices").i(i);
            let n = i + 1;
            let mut parts = Vec::new();
            if bios {
                parts.push(part(format!("bios-{n}"), Some(1), Some(BIOS_GUID), &from));
            } else if prep {
                parts.push(part(format!("prep-{n}"), Some(4), Some(PREP_GUID), &from));
            } else {
                parts.push(part(
                    format!("reserved-{n}"),
                    Some(1),
                    Some(RESERVED_GUID),
                    &from,
                ));
            }
            if efi {
                parts.push(part(format!("esp-{n}"), Some(127), Some(ESP_GUID), &from));
            } else {
                parts.push(part(
                    format!("reserved-{n}"),
                    Some(1),
                    Some(RESERVED_GUID),
                    &from,
                ));
            }
            parts.push(part(format!("boot-{n}"), Some(384), None, &from));
            parts.push(part(format!("root-{n}"), None, None, &from));
            let mut d = J::obj(Some(from.clone()));
            if let JV::Obj(f) = &mut d.v {
                f.push(("device".into(), J::str(*dev, Some(from.clone()))));
                f.push(("partitions".into(), J::arr(parts, Some(from.clone()))));
                f.push(("wipeTable".into(), J::bool(true, Some(from.clone()))));
            }
            disks.push(d);
            if efi {
                filesystems.push(fs(
                    format!("/dev/disk/by-partlabel/esp-{n}"),
                    "vfat",
                    format!("esp-{n}"),
                    &from,
                ));
            }
        }
        let mp = bp.f("mirror");
        let devs = |prefix: &str| {
            J::arr(
                (1..=devices.len())
                    .map(|i| {
                        J::str(
                            format!("/dev/disk/by-partlabel/{prefix}-{i}"),
                            Some(mp.clone()),
                        )
                    })
                    .collect(),
                Some(mp.clone()),
            )
        };
        for (name, prefix, opts) in [("md-boot", "boot", true), ("md-root", "root", false)] {
            let mut r = J::obj(Some(mp.clone()));
            if let JV::Obj(f) = &mut r.v {
                f.push(("devices".into(), devs(prefix)));
                f.push(("level".into(), J::str("raid1", Some(mp.clone()))));
                f.push(("name".into(), J::str(name, Some(mp.clone()))));
                if opts {
                    f.push((
                        "options".into(),
                        J::arr(
                            vec![J::str("--metadata=1.0", Some(mp.clone()))],
                            Some(mp.clone()),
                        ),
                    ));
                }
            }
            raid.push(r);
        }
        filesystems.push(fs("/dev/md/md-boot".into(), "ext4", "boot".into(), &mp));
    }
    let mut luks_list = Vec::new();
    if want_luks {
        let l = luks.expect("want_luks implies luks");
        let lp = bp.f("luks");
        let device = match layout {
            Some("s390x-eckd") => format!("{}2", l.str("device").unwrap_or("")),
            Some("s390x-zfcp") => format!("{}4", l.str("device").unwrap_or("")),
            _ if want_mirror => "/dev/md/md-root".into(),
            _ => "/dev/disk/by-partlabel/root".into(),
        };
        let mut lj = J::obj(Some(lp.clone()));
        if cex {
            let mut c = J::obj(Some(lp.f("cex")));
            c.set(
                &schema::CEX,
                "enabled",
                J::bool(true, Some(lp.f("cex").f("enabled"))),
            );
            lj.set(&schema::LUKS, "cex", c);
        } else {
            let mut tx = Tx {
                legacy: false,
                files_dir: None,
                no_compression: true,
                diags: Vec::new(),
                prefetched: Default::default(),
            };
            let mut clevis = J::obj(Some(lp.clone()));
            let tang = l.objs("tang");
            if !tang.is_empty() {
                let items = tang
                    .iter()
                    .enumerate()
                    .map(|(i, t)| tx.conv_obj(t, &lp.f("tang").i(i)))
                    .collect();
                clevis.set(&schema::CLEVIS, "tang", J::arr(items, Some(lp.f("tang"))));
            }
            if let Some(t) = l.int("threshold") {
                clevis.set(
                    &schema::CLEVIS,
                    "threshold",
                    J::int(t, Some(lp.f("threshold"))),
                );
            }
            if let Some(t) = l.bool("tpm2") {
                clevis.set(&schema::CLEVIS, "tpm2", J::bool(t, Some(lp.f("tpm2"))));
            }
            if !clevis.is_zero() {
                lj.set(&schema::LUKS, "clevis", clevis);
            }
        }
        lj.set(&schema::LUKS, "device", J::str(device, Some(lp.clone())));
        if let Some(d) = l.bool("discard") {
            lj.set(&schema::LUKS, "discard", J::bool(d, Some(lp.f("discard"))));
        }
        lj.set(
            &schema::LUKS,
            "label",
            J::str("luks-root", Some(lp.clone())),
        );
        lj.set(&schema::LUKS, "name", J::str("root", Some(lp.clone())));
        lj.set(&schema::LUKS, "wipeVolume", J::bool(true, Some(lp.clone())));
        luks_list.push(lj);
    }
    let root_dev = if want_luks {
        "/dev/mapper/root"
    } else {
        "/dev/md/md-root"
    };
    filesystems.push(fs(root_dev.into(), "xfs", "root".into(), &bp));

    let mut parent = J::obj(None);
    let st = parent.obj_mut(&schema::CONFIG, "storage");
    st.from = Some(bp.clone());
    for (key, list) in [
        ("disks", disks),
        ("filesystems", filesystems),
        ("luks", luks_list),
        ("raid", raid),
    ] {
        if !list.is_empty() {
            st.set(&schema::STORAGE, key, J::arr(list, Some(bp.clone())));
        }
    }
    let child = std::mem::replace(root, J::obj(None));
    *root = merge::merge(parent, child);
}

/// fcos 1.6+ partition warnings on the translated config.
pub fn partition_warnings(root: &J, out: &mut Vec<Diag>) {
    let Some(st) = root.get("storage") else {
        return;
    };
    for (i, disk) in st.arr_at("disks").iter().enumerate() {
        let parts = disk.arr_at("partitions");
        for (p, part) in parts.iter().enumerate() {
            let Some(label) = part.get_str("label") else {
                continue;
            };
            let jp = P::root().f("storage").f("disks").i(i).f("partitions").i(p);
            let number = part.get_int("number").unwrap_or(0);
            if label == "root" {
                let size = part.get_int("sizeMiB").unwrap_or(0);
                if size == 0 {
                    let constrained = parts
                        .iter()
                        .enumerate()
                        .any(|(idx, q)| idx != p && q.get_int("startMiB").unwrap_or(0) == 0);
                    if constrained {
                        out.push(json_diag(root, &jp.f("label"), true,
                            "root partition cannot expand; it is set to fill available space but is followed by an auto-positioned partition"));
                    }
                } else if size < 8192 {
                    out.push(json_diag(
                        root,
                        &jp.f("size_mib"),
                        true,
                        "root should have 8GiB of space assigned",
                    ));
                }
            }
            if disk.get_bool("wipeTable") != Some(true) {
                let wrong = matches!((label, number), ("BIOS-BOOT", n) | ("PowerPC-PReP-boot", n) if n != 1)
                    || (label == "EFI-SYSTEM" && number != 2)
                    || (label == "boot" && number != 3)
                    || (label == "root" && number != 4);
                if wrong {
                    out.push(json_diag(root, &jp.f("label"), true,
                        "incorrect partition number; a new partition will be created using reserved label"));
                }
            }
        }
    }
}

/// `handleUserGrubCfg`: a `/boot` filesystem and an append to
/// `/boot/grub2/user.cfg`, merged in front of the config.
pub fn process_grub(cfg: &DObj, no_compression: bool, root: &mut J) {
    let Some(users) = cfg.obj("grub").map(|g| g.objs("users")) else {
        return;
    };
    if users.is_empty() {
        return;
    }
    let gp = P::root().f("grub").f("users");
    let names: Vec<&str> = users.iter().map(|u| u.str("name").unwrap_or("")).collect();
    let cmds: Vec<String> = users
        .iter()
        .map(|u| {
            format!(
                "password_pbkdf2 {} {}",
                u.str("name").unwrap_or(""),
                u.str("password_hash").unwrap_or("")
            )
        })
        .collect();
    let text = format!(
        "# Generated by Butane\n\nset superusers=\"{}\"\n{}\n",
        names.join(" "),
        cmds.join("\n")
    );
    let d = crate::dataurl::make(text.as_bytes(), None, !no_compression);
    let mut res = J::obj(Some(gp.clone()));
    if let Some(c) = d.compression {
        res.set(
            &schema::RESOURCE,
            "compression",
            J::str(c, Some(gp.clone())),
        );
    }
    res.set(&schema::RESOURCE, "source", J::str(d.url, Some(gp.clone())));
    let mut file = J::obj(Some(gp.clone()));
    file.set(
        &schema::FILE,
        "path",
        J::str("/boot/grub2/user.cfg", Some(gp.clone())),
    );
    file.set(&schema::FILE, "append", J::arr(vec![res], Some(gp.clone())));
    let mut bootfs = J::obj(Some(gp.clone()));
    bootfs.set(
        &schema::FILESYSTEM,
        "device",
        J::str("/dev/disk/by-label/boot", Some(gp.clone())),
    );
    bootfs.set(
        &schema::FILESYSTEM,
        "format",
        J::str("ext4", Some(gp.clone())),
    );
    bootfs.set(
        &schema::FILESYSTEM,
        "path",
        J::str("/boot", Some(gp.clone())),
    );
    let mut parent = J::obj(None);
    let st = parent.obj_mut(&schema::CONFIG, "storage");
    st.from = Some(gp.clone());
    st.set(
        &schema::STORAGE,
        "files",
        J::arr(vec![file], Some(gp.clone())),
    );
    st.set(
        &schema::STORAGE,
        "filesystems",
        J::arr(vec![bootfs], Some(gp.clone())),
    );
    let child = std::mem::replace(root, J::obj(None));
    *root = merge::merge(parent, child);
}
