//! Rules for `storage`: the storage-level cross checks (paths under links,
//! link targets, hard links, filesystems on whole disks), then each list in
//! field order: directories, disks and partitions, files, filesystems, links,
//! LUKS (clevis, tang, cex) and RAID, with Ignition's messages and paths.

use std::collections::HashMap;

use super::{at, check_path, gopath, is_true, nil_or_empty, not_empty, root, url, Validator};
use crate::report::ConfigPath;
use crate::types::{Disk, Filesystem, Luks, Partition, Raid, Storage};

impl Validator<'_> {
    pub(crate) fn storage(&mut self, s: &Storage) {
        let p = root().field("storage");
        self.storage_level(s, &p);
        for (i, d) in s.directories.iter().enumerate() {
            let dp = p.field("directories").index(i);
            self.on_err(dp.field("path"), check_path(&d.node.path));
            self.mode(d.mode, dp.field("mode"));
            self.owner(&d.node.user, &d.node.group, &dp);
        }
        for (i, d) in s.disks.iter().enumerate() {
            self.disk(d, &p.field("disks").index(i));
        }
        for (i, f) in s.files.iter().enumerate() {
            let fp = p.field("files").index(i);
            self.on_err(fp.field("path"), check_path(&f.node.path));
            self.mode(f.mode, fp.field("mode"));
            if is_true(f.node.overwrite) && f.contents.source.is_none() {
                self.err(
                    fp.field("overwrite"),
                    "overwrite must be false if source is unspecified",
                );
            }
            self.owner(&f.node.user, &f.node.group, &fp);
            for (k, a) in f.append.iter().enumerate() {
                self.file_contents(a, &fp.field("append").index(k));
            }
            self.file_contents(&f.contents, &fp.field("contents"));
        }
        for (i, f) in s.filesystems.iter().enumerate() {
            self.filesystem(f, &p.field("filesystems").index(i));
        }
        for (i, l) in s.links.iter().enumerate() {
            let lp = p.field("links").index(i);
            self.on_err(lp.field("path"), check_path(&l.node.path));
            self.owner(&l.node.user, &l.node.group, &lp);
        }
        for (i, l) in s.luks.iter().enumerate() {
            self.luks(l, &p.field("luks").index(i));
        }
        for (i, r) in s.raid.iter().enumerate() {
            self.raid(r, &p.field("raid").index(i));
        }
    }

    fn file_contents(&mut self, r: &crate::types::Resource, p: &ConfigPath) {
        // 3.0's FileContents has no httpHeaders; they cannot be set there
        // (unknown key), so the 3.1+ Resource rules give the same result.
        self.resource_default(r, p);
    }

    /// `Storage.Validate`.
    fn storage_level(&mut self, s: &Storage, p: &ConfigPath) {
        // A node path "includes" a link once per configured link whose path
        // is a prefix ending right before one of its slashes; counting link
        // paths keeps this linear instead of nodes x links.
        let mut links: HashMap<&str, usize> = HashMap::new();
        for l in &s.links {
            *links.entry(l.node.path.as_str()).or_default() += 1;
        }
        let under_links = |path: &str| -> usize {
            path.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'/')
                .map(|(i, _)| links.get(&path[..i]).copied().unwrap_or(0))
                .sum()
        };
        for (i, d) in s.directories.iter().enumerate() {
            for _ in 0..under_links(&d.node.path) {
                self.err(
                    p.field("directories").index(i),
                    "directory path includes link in config",
                );
            }
        }
        for (i, f) in s.files.iter().enumerate() {
            for _ in 0..under_links(&f.node.path) {
                self.err(
                    p.field("files").index(i),
                    "file path includes link in config",
                );
            }
        }
        let mut dirs: HashMap<&str, usize> = HashMap::new();
        for d in &s.directories {
            *dirs.entry(d.node.path.as_str()).or_default() += 1;
        }
        for (i, l1) in s.links.iter().enumerate() {
            let lp = p.field("links").index(i);
            for _ in 0..under_links(&l1.node.path) {
                self.err(lp.clone(), "link path includes link in config");
            }
            if self.rules.optional_target_level() && nil_or_empty(&l1.target) {
                self.err(lp.field("target"), "link target is required");
                continue;
            }
            if !is_true(l1.hard) {
                continue;
            }
            let raw = l1.target.as_deref().unwrap_or("");
            let mut target = gopath::clean(raw);
            if !gopath::is_abs(&target) {
                target = gopath::join(&l1.node.path, raw);
            }
            for _ in 0..dirs.get(target.as_str()).copied().unwrap_or(0) {
                self.err(lp.clone(), "hard link target is a directory");
            }
            let warn = "user/group ignored for hard link";
            if l1.node.user.id.is_some() {
                self.warn(at(&lp, &["user", "id"]), warn);
            }
            if l1.node.user.name.is_some() {
                self.warn(at(&lp, &["user", "name"]), warn);
            }
            if l1.node.group.id.is_some() {
                self.warn(at(&lp, &["group", "id"]), warn);
            }
            if l1.node.group.name.is_some() {
                self.warn(at(&lp, &["group", "name"]), warn);
            }
        }
        let mut disks: HashMap<&str, &Disk> = HashMap::new();
        for d in &s.disks {
            disks.insert(d.device.as_str(), d);
        }
        for (i, f) in s.filesystems.iter().enumerate() {
            if let Some(d) = disks.get(f.device.as_str()) {
                let fp = at(&p.field("filesystems").index(i), &["device"]);
                if !d.partitions.is_empty() {
                    self.warn(fp, "filesystem overwrites partitioned device");
                } else if !is_true(f.wipe_filesystem) && is_true(d.wipe_table) {
                    self.warn(
                        fp,
                        "device matches disk with wipeTable enabled; filesystem will be wiped",
                    );
                }
            }
        }
    }

    fn disk(&mut self, d: &Disk, p: &ConfigPath) {
        if d.device.is_empty() {
            self.err(p.field("device"), "disk device is required");
        } else {
            self.on_err(p.field("device"), check_path(&d.device));
            let pp = p.field("partitions");
            if let Some(i) = numbers_collide(&d.partitions) {
                self.err(pp.index(i), "partition numbers collide");
            }
            if let Some(i) = partitions_overlap(&d.partitions) {
                self.err(pp.index(i), "partitions overlap");
            }
            if let Some(i) = labels_collide(&d.partitions) {
                self.err(pp.index(i), "cannot use the same partition label twice");
            }
        }
        for (j, part) in d.partitions.iter().enumerate() {
            self.partition(part, &p.field("partitions").index(j));
        }
    }

    fn partition(&mut self, part: &Partition, p: &ConfigPath) {
        if part.should_exist == Some(false)
            && (part.label.is_some()
                || not_empty(&part.type_guid)
                || not_empty(&part.guid)
                || part.start_mib.is_some()
                || part.size_mib.is_some())
        {
            self.err(
                p.clone(),
                "shouldExist specified false with other options also specified",
            );
        }
        if part.number == 0 && part.label.is_none() {
            self.err(
                p.clone(),
                "a partition number >= 1 or a label must be specified",
            );
        }
        if let Some(l) = &part.label {
            if l.len() > 36 {
                self.err(
                    p.field("label"),
                    "partition labels may not exceed 36 characters",
                );
            } else if l.contains(':') {
                self.err(
                    p.field("label"),
                    "partition label will be truncated to text before the colon",
                );
            }
        }
        let guid_msg = "doesn't match the form \"01234567-89AB-CDEF-EDCB-A98765432101\"";
        if part.guid.as_deref().is_some_and(|g| !guid_ok(g)) {
            self.err(p.field("guid"), guid_msg);
        }
        if part.type_guid.as_deref().is_some_and(|g| !guid_ok(g)) {
            self.err(p.field("typeGuid"), guid_msg);
        }
    }

    fn filesystem(&mut self, f: &Filesystem, p: &ConfigPath) {
        if not_empty(&f.path) {
            self.on_err(p.field("path"), check_path(f.path.as_deref().unwrap_or("")));
        }
        let format = f.format.as_deref().unwrap_or("");
        let virtiofs = self.rules.virtiofs() && format == "virtiofs";
        if virtiofs {
            if f.device.is_empty() {
                self.err(p.field("device"), "device not specified");
            } else if f.device.len() > 36 {
                self.err(
                    p.field("device"),
                    "virtiofs device tag cannot be longer than 36 bytes",
                );
            }
        } else {
            self.on_err(p.field("device"), check_path(&f.device));
        }
        if format.is_empty() {
            if not_empty(&f.path)
                || not_empty(&f.label)
                || not_empty(&f.uuid)
                || is_true(f.wipe_filesystem)
                || !f.mount_options.is_empty()
                || !f.options.is_empty()
            {
                self.err(
                    p.field("format"),
                    "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified",
                );
            }
        } else {
            let known = match format {
                "ext4" | "btrfs" | "xfs" | "swap" | "vfat" => true,
                "none" => self.rules.format_none(),
                "virtiofs" => self.rules.virtiofs(),
                _ => false,
            };
            if !known {
                self.err(p.field("format"), "invalid filesystem format");
            }
        }
        if not_empty(&f.label) {
            let len = f.label.as_deref().unwrap_or("").len();
            let limit = match format {
                "" => {
                    self.err(
                        p.field("label"),
                        "filesystem must specify format if label is specified",
                    );
                    None
                }
                "ext4" => Some((16, "ext4")),
                "btrfs" => Some((256, "btrfs")),
                "xfs" => Some((12, "xfs")),
                "swap" => Some((15, "swap")),
                "vfat" => Some((11, "vfat")),
                "virtiofs" if self.rules.virtiofs() => {
                    self.err(
                        p.field("label"),
                        "filesystem labels cannot be set when using virtiofs",
                    );
                    None
                }
                _ => None,
            };
            if let Some((max, fs)) = limit {
                if len > max {
                    self.err(
                        p.field("label"),
                        format!("filesystem labels cannot be longer than {max} characters when using {fs}"),
                    );
                }
            }
        }
        if virtiofs {
            if not_empty(&f.uuid) {
                self.err(
                    p.field("uuid"),
                    "filesystem uuid cannot be set for non-block-device filesystems",
                );
            }
            if is_true(f.wipe_filesystem) {
                self.err(
                    p.field("wipeFilesystem"),
                    "wipeFilesystem cannot be set for non-block-device filesystems",
                );
            }
            if !f.options.is_empty() {
                self.err(
                    p.field("options"),
                    "filesystem options (mkfs) cannot be set for non-block-device filesystems",
                );
            }
        }
    }

    fn luks(&mut self, l: &Luks, p: &ConfigPath) {
        if l.name.contains('/') {
            self.err(p.field("name"), "device names cannot contain slashes");
        }
        if l.label.as_deref().is_some_and(|s| s.len() > 47) {
            self.err(
                p.field("label"),
                "luks device labels cannot be longer than 47 characters",
            );
        }
        match l.device.as_deref() {
            None | Some("") => self.err(p.field("device"), "disk device is required"),
            Some(d) => self.on_err(p.field("device"), check_path(d)),
        }
        let c = &l.clevis;
        let others = !c.tang.is_empty() || is_true(c.tpm2) || c.threshold.is_some_and(|t| t != 0);
        let custom = if self.rules.clevis_custom_pointer() {
            !c.custom.is_empty()
        } else {
            not_empty(&c.custom.pin)
        };
        if custom && others {
            self.err(
                p.field("clevis"),
                "cannot use custom clevis config with tpm2, tang, or threshold",
            );
        }
        if url::validate_url_nil_ok(l.key_file.source.as_deref(), &self.rules).is_err() {
            self.err(p.field("keys"), "invalid key-file source");
        }
        if self.rules.cex() && is_true(l.cex.enabled) {
            let clevis_present = not_empty(&c.custom.pin) || others;
            if clevis_present {
                self.err(p.field("cex"), "cannot use cex with clevis");
            }
            if not_empty(&l.key_file.source) {
                self.err(p.field("cex"), "cannot use key file with cex");
            }
        }
        self.clevis_custom(l, &at(p, &["clevis", "custom"]));
        for (j, t) in c.tang.iter().enumerate() {
            let tp = at(p, &["clevis", "tang"]).index(j);
            match url::scheme_of(&t.url) {
                Err(()) => self.err(tp.field("url"), url::ERR_INVALID_URL),
                Ok(s) if s != "http" && s != "https" => {
                    self.err(tp.field("url"), url::ERR_INVALID_SCHEME)
                }
                Ok(_) => {}
            }
            if nil_or_empty(&t.thumbprint) {
                self.err(tp.field("thumbprint"), "thumbprint is required");
            }
            if self.rules.tang_advertisement() && not_empty(&t.advertisement) {
                let adv = t.advertisement.as_deref().unwrap_or("");
                if serde_json::from_str::<serde::de::IgnoredAny>(adv).is_err() {
                    self.err(tp.field("advertisement"), "advertisement is not valid JSON");
                }
            }
        }
        self.resource_default(&l.key_file, &p.field("keyFile"));
    }

    fn clevis_custom(&mut self, l: &Luks, p: &ConfigPath) {
        let cu = &l.clevis.custom;
        let pins = ["tpm2", "tang", "sss"];
        if self.rules.clevis_custom_pointer() {
            // 3.2 `Custom` is a pointer with plain-string pin and config.
            if cu.is_empty() {
                return;
            }
            let pin = cu.pin.as_deref().unwrap_or("");
            let config = cu.config.as_deref().unwrap_or("");
            if pin.is_empty() && config.is_empty() {
                return;
            }
            if !pins.contains(&pin) {
                self.err(p.field("pin"), "unsupported clevis pin");
            }
            if config.is_empty() {
                self.err(p.field("config"), "missing required custom clevis config");
            }
            return;
        }
        if nil_or_empty(&cu.pin) && nil_or_empty(&cu.config) && !is_true(cu.needs_network) {
            return;
        }
        if nil_or_empty(&cu.pin) {
            self.err(p.field("pin"), "missing required custom clevis pin");
        } else if self.rules.clevis_pin_check() && !pins.contains(&cu.pin.as_deref().unwrap_or(""))
        {
            self.err(p.field("pin"), "unsupported clevis pin");
        }
        if nil_or_empty(&cu.config) {
            self.err(p.field("config"), "missing required custom clevis config");
        }
    }

    fn raid(&mut self, r: &Raid, p: &ConfigPath) {
        let level = r.level.as_deref().unwrap_or("");
        let res = if self.rules.optional_target_level() && level.is_empty() {
            Err("raid level is required")
        } else {
            match level {
                "linear" | "raid0" | "0" | "stripe" => {
                    if r.spares.is_some_and(|s| s != 0) {
                        Err("spares unsupported for linear and raid0 arrays")
                    } else {
                        Ok(())
                    }
                }
                "raid1" | "1" | "mirror" | "raid4" | "4" | "raid5" | "5" | "raid6" | "6"
                | "raid10" | "10" => Ok(()),
                _ => Err("unrecognized raid level"),
            }
        };
        self.on_err(p.field("level"), res);
        if r.devices.is_empty() {
            self.err(p.field("devices"), "raid devices required");
        }
        for (j, d) in r.devices.iter().enumerate() {
            self.on_err(p.field("devices").index(j), check_path(d));
        }
    }
}

fn guid_ok(g: &str) -> bool {
    if g.is_empty() {
        return true;
    }
    let groups: Vec<&str> = g.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(s, n)| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Index of the first partition whose non-zero number was already used.
/// (Go iterates a map here, so with several colliding numbers upstream's
/// choice among them is random.)
fn numbers_collide(parts: &[Partition]) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    parts
        .iter()
        .enumerate()
        .find(|(_, p)| p.number != 0 && !seen.insert(p.number))
        .map(|(i, _)| i)
}

fn labels_collide(parts: &[Partition]) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    for (i, p) in parts.iter().enumerate() {
        if let Some(l) = &p.label {
            if !seen.insert(l.as_str()) {
                return Some(i);
            }
        }
    }
    None
}

/// Go's `partitionsOverlap`: the index of the first partition `o` that
/// overlaps the first partition `p` (in order) overlapping anything.
/// Partitions without start or size, or with start 0, are skipped. Go's
/// `int` arithmetic wraps, and so does this.
fn partitions_overlap(parts: &[Partition]) -> Option<usize> {
    let end = |start: i64, size: i64| {
        if size == 0 {
            start
        } else {
            start.wrapping_add(size).wrapping_sub(1)
        }
    };
    // (index, start, end) of the partitions taking part.
    let cand: Vec<(usize, i64, i64)> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match (p.start_mib, p.size_mib) {
            (Some(s), Some(z)) if s != 0 => Some((i, s, end(s, z))),
            _ => None,
        })
        .collect();
    let go_overlap = |(_, ps, pe): (usize, i64, i64), (_, os, oe): (usize, i64, i64)| {
        (ps >= os && ps <= oe) || (pe >= os && pe <= oe) || (ps < os && pe > oe)
    };
    let first_partner = |p: (usize, i64, i64)| {
        cand.iter()
            .find(|o| o.0 != p.0 && go_overlap(p, **o))
            .map(|o| o.0)
    };
    if cand.len() < 64 || cand.iter().any(|&(_, s, e)| e < s) {
        // Small, or with inverted ranges: Go's nested loops as they are.
        return cand.iter().find_map(|&p| first_partner(p));
    }
    // All ranges proper: Go's test is closed-interval intersection. Sort by
    // start and keep the two largest ends of every prefix, to tell for each
    // partition in O(log n) whether another one intersects it.
    let mut by_start = cand.clone();
    by_start.sort_by_key(|c| c.1);
    let mut top2: Vec<[(i64, usize); 2]> = Vec::with_capacity(by_start.len());
    let mut best = [(i64::MIN, usize::MAX); 2];
    for &(i, _, e) in &by_start {
        if e > best[0].0 {
            best = [(e, i), best[0]];
        } else if e > best[1].0 {
            best[1] = (e, i);
        }
        top2.push(best);
    }
    let hit = cand.iter().copied().find(|&(i, s, e)| {
        let k = by_start.partition_point(|c| c.1 <= e);
        k > 0 && {
            let [a, b] = top2[k - 1];
            let max_other = if a.1 == i { b.0 } else { a.0 };
            max_other >= s
        }
    })?;
    first_partner(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: i64, size: i64) -> Partition {
        Partition {
            start_mib: Some(start),
            size_mib: Some(size),
            ..Default::default()
        }
    }

    #[test]
    fn overlap_fast_path_agrees_with_go_loops() {
        // Deterministic pseudo-random layouts, large enough for the fast path.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for round in 0..200 {
            let n = 64 + next(40) as usize;
            let spread = 1 + next(20_000) as i64;
            let parts: Vec<Partition> = (0..n)
                .map(|_| part(next(spread as u64) as i64, next(60) as i64))
                .collect();
            let cand: Vec<(usize, i64, i64)> = parts
                .iter()
                .enumerate()
                .filter(|(_, p)| p.start_mib != Some(0))
                .map(|(i, p)| {
                    let (s, z) = (p.start_mib.unwrap(), p.size_mib.unwrap());
                    (i, s, if z == 0 { s } else { s + z - 1 })
                })
                .collect();
            let slow = cand.iter().find_map(|&(pi, ps, pe)| {
                cand.iter()
                    .find(|&&(oi, os, oe)| {
                        oi != pi
                            && ((ps >= os && ps <= oe)
                                || (pe >= os && pe <= oe)
                                || (ps < os && pe > oe))
                    })
                    .map(|o| o.0)
            });
            assert_eq!(partitions_overlap(&parts), slow, "round {round}");
        }
        // Huge values wrap like Go's int instead of panicking: the first
        // range ends at -3, and [1, 1] "straddles" it by Go's third test.
        assert_eq!(
            partitions_overlap(&[part(i64::MAX, i64::MAX), part(1, 1)]),
            Some(0)
        );
    }

    #[test]
    fn present_empty_custom_in_3_2_conflicts_with_tpm2() {
        // The parser hands a present 3.2 `custom: {}` over as empty strings.
        let cfg: crate::types::Config = serde_json::from_value(serde_json::json!({
            "ignition": {"version": "3.2.0"},
            "storage": {"luks": [
                {"name": "a", "device": "/dev/a", "clevis": {"tpm2": true, "custom": {"pin": "", "config": ""}}},
                {"name": "b", "device": "/dev/b", "clevis": {"tpm2": true}}
            ]}
        }))
        .unwrap();
        let r: Vec<String> = super::super::validate(&cfg, &semver::Version::new(3, 2, 0))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            r,
            vec!["error at $.storage.luks.0.clevis: cannot use custom clevis config with tpm2, tang, or threshold"]
        );
    }

    #[test]
    fn node_under_link_is_counted_per_link() {
        let cfg: crate::types::Config = serde_json::from_value(serde_json::json!({
            "ignition": {"version": "3.3.0"},
            "storage": {"links": [{"path": "/a", "target": "/t"}, {"path": "/a", "target": "/u"},
                                  {"path": "", "target": "/v"}],
                        "files": [{"path": "/a/b/c"}]}
        }))
        .unwrap();
        let r = super::super::validate(&cfg, &semver::Version::new(3, 3, 0));
        let under = r
            .iter()
            .filter(|e| e.message == "file path includes link in config")
            .count();
        // Two links at /a, and the empty link path is a prefix of "/".
        assert_eq!(under, 3);
    }
}
