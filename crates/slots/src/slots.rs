//! The USR slot pair of a table: found by type GUID plus unique GUID or label
//! (never by partition number), and the operations that change their bits.
//! Every operation returns a new entry array and refuses a result from which
//! GRUB could boot nothing, unless forced.

use crate::gpt::{entry, set_attributes, Guid};
use crate::select::{self, SlotBits};
use crate::Error;

/// Partition type GUID of CoreOS/Flatcar USR partitions.
pub const USR_TYPE: &str = "5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6";
/// Unique partition GUID of USR-A in Flatcar images.
pub const USR_A_GUID: &str = "7130c94a-213a-4e5a-8e26-6cce9662f132";
/// Unique partition GUID of USR-B in Flatcar images.
pub const USR_B_GUID: &str = "e03dd35c-7c2d-4a47-b3fe-27f15780a57c";

/// Which of the two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SlotId {
    /// USR-A.
    #[serde(rename = "USR-A")]
    A,
    /// USR-B.
    #[serde(rename = "USR-B")]
    B,
}

impl SlotId {
    /// The other slot.
    pub fn peer(self) -> SlotId {
        match self {
            SlotId::A => SlotId::B,
            SlotId::B => SlotId::A,
        }
    }
    /// "USR-A" or "USR-B".
    pub fn name(self) -> &'static str {
        match self {
            SlotId::A => "USR-A",
            SlotId::B => "USR-B",
        }
    }
    fn idx(self) -> usize {
        match self {
            SlotId::A => 0,
            SlotId::B => 1,
        }
    }
}

impl std::fmt::Display for SlotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One slot as found in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// A or B.
    pub id: SlotId,
    /// 0-based entry index (partition number − 1).
    pub index: usize,
    /// Unique partition GUID.
    pub guid: Guid,
    /// Partition name.
    pub label: String,
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
    /// Raw attribute value.
    pub attrs: u64,
}

impl Slot {
    /// Partition number as tools print it.
    pub fn number(&self) -> usize {
        self.index + 1
    }
    /// Slot fields of the attributes.
    pub fn bits(&self) -> SlotBits {
        SlotBits::from_attrs(self.attrs)
    }
    /// Size in sectors (0 for an inverted range, which a corrupt but
    /// CRC-valid table can hold).
    pub fn sectors(&self) -> u64 {
        (self.last_lba.saturating_add(1)).saturating_sub(self.first_lba)
    }
}

/// The slot pair plus the entry array it came from.
#[derive(Debug, Clone)]
pub struct Slots {
    entries: Vec<u8>,
    entry_size: u32,
    slots: [Slot; 2],
}

fn identify(guid: Guid, label: &str, known: &[Guid; 2]) -> (Option<SlotId>, Option<SlotId>) {
    let by_guid = if guid == known[0] {
        Some(SlotId::A)
    } else if guid == known[1] {
        Some(SlotId::B)
    } else {
        None
    };
    let by_label = match label {
        "USR-A" | "ROOT-A" => Some(SlotId::A),
        "USR-B" | "ROOT-B" => Some(SlotId::B),
        _ => None,
    };
    (by_guid, by_label)
}

impl Slots {
    /// Finds USR-A and USR-B. Refuses a table that is ambiguous: duplicate
    /// unique GUIDs, two entries claiming one slot, a GUID and label that
    /// disagree, a USR-type entry that is neither slot (GRUB would consider
    /// it), or a missing peer.
    pub fn find(entries: &[u8], entry_size: u32) -> Result<Slots, Error> {
        let usr = Guid::parse(USR_TYPE).expect("constant");
        let known = [
            Guid::parse(USR_A_GUID).expect("constant"),
            Guid::parse(USR_B_GUID).expect("constant"),
        ];
        let n = entries.len() / entry_size as usize;
        // A map, not a list: an entry array may hold 32768 used entries,
        // and a quadratic scan of those is a hang for a fuzzer.
        let mut seen: std::collections::HashMap<Guid, usize> = std::collections::HashMap::new();
        let mut found: [Option<Slot>; 2] = [None, None];
        for i in 0..n {
            let e = entry(entries, entry_size, i);
            if !e.is_used() {
                continue;
            }
            let g = e.unique_guid();
            if let Some(j) = seen.get(&g) {
                return Err(Error::Ambiguous(format!(
                    "partitions {} and {} share the unique GUID {g}",
                    j + 1,
                    i + 1
                )));
            }
            seen.insert(g, i);
            if e.type_guid() != usr {
                continue;
            }
            let label = e.name();
            let id = match identify(g, &label, &known) {
                (Some(a), Some(b)) if a != b => {
                    return Err(Error::Ambiguous(format!(
                        "partition {} has the GUID of {a} but the label {label:?}",
                        i + 1
                    )))
                }
                (Some(a), _) | (None, Some(a)) => a,
                (None, None) => {
                    return Err(Error::Ambiguous(format!(
                        "partition {} ({label:?}, {g}) has the USR type but is neither USR-A nor USR-B; GRUB would consider it when choosing",
                        i + 1
                    )))
                }
            };
            if let Some(prev) = &found[id.idx()] {
                return Err(Error::Ambiguous(format!(
                    "partitions {} and {} both identify as {id}",
                    prev.number(),
                    i + 1
                )));
            }
            found[id.idx()] = Some(Slot {
                id,
                index: i,
                guid: g,
                label,
                first_lba: e.first_lba(),
                last_lba: e.last_lba(),
                attrs: e.attributes(),
            });
        }
        let [a, b] = found;
        let missing = |id: SlotId, guid: &str| {
            Error::Ambiguous(format!(
                "no {id} entry (type {USR_TYPE} with GUID {guid} or label {id}); refusing to guess"
            ))
        };
        let a = a.ok_or_else(|| missing(SlotId::A, USR_A_GUID))?;
        let b = b.ok_or_else(|| missing(SlotId::B, USR_B_GUID))?;
        Ok(Slots {
            entries: entries.to_vec(),
            entry_size,
            slots: [a, b],
        })
    }

    /// One slot.
    pub fn get(&self, id: SlotId) -> &Slot {
        &self.slots[id.idx()]
    }

    /// Both slots, in table order.
    pub fn in_table_order(&self) -> Vec<&Slot> {
        let mut v: Vec<&Slot> = self.slots.iter().collect();
        v.sort_by_key(|s| s.index);
        v
    }

    /// The slot GRUB's `gptprio.next` picks on the next boot.
    pub fn next(&self) -> Option<SlotId> {
        let order = self.in_table_order();
        select::next(order.iter().map(|s| (s.index, s.attrs)))
            .and_then(|i| order.iter().find(|s| s.index == i).map(|s| s.id))
    }

    /// The entry array with the slot bits of `id` replaced.
    fn with(&self, changes: &[(SlotId, SlotBits)]) -> Slots {
        let mut s = self.clone();
        for (id, bits) in changes {
            let slot = &mut s.slots[id.idx()];
            slot.attrs = bits.apply(slot.attrs);
            set_attributes(&mut s.entries, s.entry_size, slot.index, slot.attrs);
        }
        s
    }

    /// The raw entry array.
    pub fn entries(&self) -> &[u8] {
        &self.entries
    }

    fn bootable_or_forced(self, force: bool, what: &str) -> Result<Slots, Error> {
        if self.next().is_none() && !force {
            return Err(Error::Refused(format!(
                "{what} would leave no bootable slot and GRUB would halt with \"Reading or updating the GPT failed!\"; pass --force to do it anyway"
            )));
        }
        Ok(self)
    }

    /// Priority that puts `id` strictly above its peer: peer + 1, or 15 with
    /// the peer lowered to 14 when the peer already has 15.
    fn above_peer(&self, id: SlotId) -> (u8, Option<(SlotId, SlotBits)>) {
        let peer = self.get(id.peer()).bits();
        if peer.priority < 15 {
            ((peer.priority + 1).max(1), None)
        } else {
            let lowered = SlotBits {
                priority: 14,
                ..peer
            };
            (15, Some((id.peer(), lowered)))
        }
    }

    /// `activate`: `id` gets a priority above its peer, tries 1, successful 0.
    pub fn activate(&self, id: SlotId) -> Result<Slots, Error> {
        let (p, peer) = self.above_peer(id);
        let mut ch = vec![(
            id,
            SlotBits {
                priority: p,
                tries: 1,
                successful: false,
            },
        )];
        ch.extend(peer);
        self.with(&ch)
            .bootable_or_forced(false, &format!("activating {id}"))
    }

    /// `mark-good`: successful 1, tries 0, and (like flatcar-setgoodroot's
    /// `cgpt prioritize`) above the peer if it was not already.
    pub fn mark_good(&self, id: SlotId) -> Result<Slots, Error> {
        let cur = self.get(id).bits();
        let peer = self.get(id.peer()).bits();
        let mut ch = Vec::new();
        let mut priority = cur.priority;
        if priority <= peer.priority || priority == 0 {
            let (p, lowered) = self.above_peer(id);
            priority = p;
            ch.extend(lowered);
        }
        ch.push((
            id,
            SlotBits {
                priority,
                tries: 0,
                successful: true,
            },
        ));
        self.with(&ch)
            .bootable_or_forced(false, &format!("marking {id} good"))
    }

    /// `mark-bad`: priority 0, tries 0, successful 0.
    pub fn mark_bad(&self, id: SlotId, force: bool) -> Result<Slots, Error> {
        let bad = SlotBits {
            priority: 0,
            tries: 0,
            successful: false,
        };
        self.with(&[(id, bad)])
            .bootable_or_forced(force, &format!("marking {id} bad"))
    }

    /// `rollback`: `id` goes above its peer; allowed only when `id` booted
    /// successfully before, or with `force` (then it gets one try).
    pub fn rollback(&self, id: SlotId, force: bool) -> Result<Slots, Error> {
        let cur = self.get(id).bits();
        if !cur.successful && !force {
            return Err(Error::Refused(format!(
                "{id} never booted successfully (bits {cur}); pass --force to try it once anyway"
            )));
        }
        let (p, lowered) = self.above_peer(id);
        let mut ch: Vec<_> = lowered.into_iter().collect();
        let tries = if cur.successful { cur.tries } else { 1 };
        ch.push((
            id,
            SlotBits {
                priority: p,
                tries: tries.max(u8::from(!cur.successful)),
                successful: cur.successful,
            },
        ));
        self.with(&ch)
            .bootable_or_forced(force, &format!("rolling back to {id}"))
    }

    /// Before a payload is written into `id`: make it unbootable so a crash
    /// mid-write can never boot a half-written slot.
    pub fn disable_for_install(&self, id: SlotId, force: bool) -> Result<Slots, Error> {
        self.mark_bad(id, force)
    }

    /// `--simulate-boots`: the bits after each of `boots` boots, with an
    /// optional mark-good of whatever booted after each boot.
    pub fn simulate(&self, boots: usize, mark_good: bool) -> Vec<BootStep> {
        let mut cur = self.clone();
        let mut steps = Vec::new();
        for n in 1..=boots {
            let order = cur.in_table_order();
            let mut attrs: Vec<u64> = order.iter().map(|s| s.attrs).collect();
            let ids: Vec<SlotId> = order.iter().map(|s| s.id).collect();
            let picked = select::boot_once(&mut attrs).map(|i| ids[i]);
            let ch: Vec<_> = ids
                .iter()
                .zip(&attrs)
                .map(|(id, a)| (*id, SlotBits::from_attrs(*a)))
                .collect();
            cur = cur.with(&ch);
            let mut marked = false;
            if let (Some(p), true) = (picked, mark_good) {
                if let Ok(next) = cur.mark_good(p) {
                    cur = next;
                    marked = true;
                }
            }
            steps.push(BootStep {
                boot: n,
                booted: picked,
                marked_good: marked,
                a: cur.get(SlotId::A).bits(),
                b: cur.get(SlotId::B).bits(),
            });
        }
        steps
    }
}

/// One simulated boot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BootStep {
    /// 1-based boot number.
    pub boot: usize,
    /// What GRUB booted (None: GRUB halts).
    pub booted: Option<SlotId>,
    /// Whether a mark-good followed.
    pub marked_good: bool,
    /// USR-A bits after the boot (and mark-good).
    #[serde(rename = "USR-A")]
    pub a: SlotBits,
    /// USR-B bits after the boot (and mark-good).
    #[serde(rename = "USR-B")]
    pub b: SlotBits,
}

/// Which slot the running system booted, from a kernel command line:
/// `mount.usr=`, `usr=` or `verity.usr=` naming `PARTUUID=`, `PARTLABEL=` or a
/// `/dev/disk/by-part{uuid,label}/` path of one of the slots.
pub fn booted_from_cmdline(cmdline: &str, slots: &Slots) -> Option<SlotId> {
    for tok in cmdline.split_ascii_whitespace() {
        let Some((key, value)) = tok.split_once('=') else {
            continue;
        };
        if !matches!(key, "mount.usr" | "usr" | "verity.usr") {
            continue;
        }
        let value = value.trim_matches('"');
        let (uuid, label) = if let Some(u) = value
            .strip_prefix("PARTUUID=")
            .or_else(|| value.strip_prefix("/dev/disk/by-partuuid/"))
        {
            (Guid::parse(&u.to_ascii_lowercase()), None)
        } else if let Some(l) = value
            .strip_prefix("PARTLABEL=")
            .or_else(|| value.strip_prefix("/dev/disk/by-partlabel/"))
        {
            (None, Some(l))
        } else {
            continue;
        };
        for s in &slots.slots {
            if uuid == Some(s.guid) || label == Some(s.label.as_str()) {
                return Some(s.id);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Slots {
        let mut e = vec![0u8; 4 * 128];
        let usr = Guid::parse(USR_TYPE).unwrap();
        for (i, g, name) in [(2usize, USR_A_GUID, "USR-A"), (3, USR_B_GUID, "USR-B")] {
            let o = i * 128;
            e[o..o + 16].copy_from_slice(&usr.0);
            e[o + 16..o + 32].copy_from_slice(&Guid::parse(g).unwrap().0);
            for (k, u) in name.encode_utf16().enumerate() {
                e[o + 56 + 2 * k..o + 58 + 2 * k].copy_from_slice(&u.to_le_bytes());
            }
        }
        Slots::find(&e, 128).unwrap()
    }

    #[test]
    fn booted_slot_from_kernel_command_lines() {
        let s = pair();
        let cases = [
            ("root=LABEL=ROOT mount.usr=/dev/mapper/usr verity.usr=PARTUUID=7130c94a-213a-4e5a-8e26-6cce9662f132 rw", Some(SlotId::A)),
            ("mount.usr=PARTUUID=E03DD35C-7C2D-4A47-B3FE-27F15780A57C", Some(SlotId::B)),
            ("usr=PARTLABEL=USR-B quiet", Some(SlotId::B)),
            ("mount.usr=/dev/disk/by-partuuid/7130c94a-213a-4e5a-8e26-6cce9662f132", Some(SlotId::A)),
            ("mount.usr=PARTUUID=00000000-0000-0000-0000-000000000009", None),
            ("root=PARTUUID=7130c94a-213a-4e5a-8e26-6cce9662f132", None),
            ("", None),
        ];
        for (cmdline, want) in cases {
            assert_eq!(booted_from_cmdline(cmdline, &s), want, "{cmdline}");
        }
    }

    #[test]
    fn priority_fifteen_is_handled_without_overflow() {
        let s = pair();
        let top = SlotBits {
            priority: 15,
            tries: 0,
            successful: true,
        };
        let s = s.with(&[(SlotId::A, top)]);
        let b = s.activate(SlotId::B).unwrap();
        assert_eq!(b.get(SlotId::B).bits().priority, 15);
        assert_eq!(b.get(SlotId::A).bits().priority, 14);
        assert_eq!(b.next(), Some(SlotId::B));
    }
}
