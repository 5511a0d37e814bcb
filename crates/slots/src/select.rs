//! Slot attribute bits and the boot-time choice of Flatcar's GRUB
//! `gptprio.next` (ab-slots.md §1, §4). Every command that predicts or changes
//! what boots goes through [`next`] and [`boot_once`], so there is exactly one
//! definition of the rule.

/// Bit offset of the 4-bit priority field.
pub const PRIORITY_SHIFT: u32 = 48;
/// Bit offset of the 4-bit tries-left field.
pub const TRIES_SHIFT: u32 = 52;
/// Bit offset of the successful flag.
pub const SUCCESSFUL_SHIFT: u32 = 56;
/// Every bit the slot manager owns; all others are preserved.
pub const SLOT_MASK: u64 = (0xF << PRIORITY_SHIFT) | (0xF << TRIES_SHIFT) | (1 << SUCCESSFUL_SHIFT);

/// The slot fields of a GPT attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SlotBits {
    /// 0–15; 0 never boots.
    pub priority: u8,
    /// 0–15 boot attempts left.
    pub tries: u8,
    /// Set once a boot was confirmed good.
    pub successful: bool,
}

impl SlotBits {
    /// Extracts the slot fields from a raw attribute value.
    pub fn from_attrs(attrs: u64) -> SlotBits {
        SlotBits {
            priority: ((attrs >> PRIORITY_SHIFT) & 0xF) as u8,
            tries: ((attrs >> TRIES_SHIFT) & 0xF) as u8,
            successful: (attrs >> SUCCESSFUL_SHIFT) & 1 == 1,
        }
    }

    /// Writes the slot fields into `attrs`, keeping every other bit.
    /// Values above 15 are clamped to 15.
    pub fn apply(self, attrs: u64) -> u64 {
        (attrs & !SLOT_MASK)
            | (u64::from(self.priority.min(15)) << PRIORITY_SHIFT)
            | (u64::from(self.tries.min(15)) << TRIES_SHIFT)
            | (u64::from(self.successful) << SUCCESSFUL_SHIFT)
    }

    /// GRUB considers the entry at all: tries left or known good.
    pub fn eligible(self) -> bool {
        self.tries > 0 || self.successful
    }
}

impl std::fmt::Display for SlotBits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "P{} T{} S{}",
            self.priority,
            self.tries,
            u8::from(self.successful)
        )
    }
}

/// GRUB's `gptprio.next` choice over the USR-type entries, given as
/// `(entry index, attribute value)`: the highest priority among
/// entries with tries > 0 or successful, compared strictly from 0 (so priority
/// 0 never boots) and ties going to the lowest index. `None` means GRUB prints
/// "Reading or updating the GPT failed!" and halts.
pub fn next<I>(usr_entries: I) -> Option<usize>
where
    I: IntoIterator<Item = (usize, u64)>,
{
    let mut best: Option<usize> = None;
    let mut best_priority = 0u8;
    for (index, attrs) in usr_entries {
        let b = SlotBits::from_attrs(attrs);
        // GRUB scans in table order with a strict `>`, so the lowest index
        // wins a tie; the explicit index test keeps that true whatever order
        // the caller passes the entries in.
        let wins = b.priority > best_priority
            || (b.priority == best_priority && best.is_some_and(|i| index < i));
        if b.eligible() && wins {
            best_priority = b.priority;
            best = Some(index);
        }
    }
    best
}

/// One boot as GRUB performs it: picks [`next`] and, if the pick has tries
/// left, decrements them (GRUB then rewrites the GPT). `attrs` is indexed by
/// position in `usr`; returns the position of the pick.
pub fn boot_once(attrs: &mut [u64]) -> Option<usize> {
    let pick = next(attrs.iter().copied().enumerate())?;
    let mut b = SlotBits::from_attrs(attrs[pick]);
    if b.tries > 0 {
        b.tries -= 1;
        attrs[pick] = b.apply(attrs[pick]);
    }
    Some(pick)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(p: u8, t: u8, s: bool) -> u64 {
        SlotBits {
            priority: p,
            tries: t,
            successful: s,
        }
        .apply(0)
    }

    #[test]
    fn worked_values_from_the_reference_table() {
        assert_eq!(a(1, 0, true), 0x0101_0000_0000_0000);
        assert_eq!(a(2, 1, false), 0x0012_0000_0000_0000);
        assert_eq!(a(2, 0, false), 0x0002_0000_0000_0000);
        assert_eq!(a(2, 0, true), 0x0102_0000_0000_0000);
    }

    #[test]
    fn apply_preserves_foreign_bits() {
        let foreign = (1u64 << 60) | (1 << 63) | 0b111 | (1 << 57);
        let v = SlotBits::from_attrs(a(3, 2, true)).apply(foreign | SLOT_MASK);
        assert_eq!(v & !SLOT_MASK, foreign);
        assert_eq!(SlotBits::from_attrs(v), SlotBits::from_attrs(a(3, 2, true)));
    }

    #[test]
    fn grub_cases() {
        // Fresh image: A boots.
        assert_eq!(next([(2, a(1, 0, true)), (3, 0)]), Some(2));
        // Staged B: B boots and loses its try.
        let mut t = [a(1, 0, true), a(2, 1, false)];
        assert_eq!(boot_once(&mut t), Some(1));
        assert_eq!(t[1], a(2, 0, false));
        // B failed before mark-good: fall back to A, whose tries stay 0.
        assert_eq!(boot_once(&mut t), Some(0));
        assert_eq!(t, [a(1, 0, true), a(2, 0, false)]);
        // Priority 0 never boots, even if successful (cgpt differs here).
        assert_eq!(next([(0, a(0, 0, true)), (1, a(0, 5, false))]), None);
        // Ties go to the lowest index.
        assert_eq!(next([(4, a(3, 0, true)), (7, a(3, 1, false))]), Some(4));
        assert_eq!(next([(7, a(3, 1, false)), (4, a(3, 0, true))]), Some(4));
    }
}
