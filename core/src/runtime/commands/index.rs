//! The command index: command ids to positions in the frozen command table.
//!
//! Open addressing with linear probing over a power-of-two table kept at most half
//! full, with a hash specialised for short `plugin:name` ids. A string-id dispatch is
//! one hash, usually one probe, and a two-word compare.

use super::CommandEntry;

/// Hashes a command id. Ids are short (`plugin:name`), so up to 16 bytes are read as
/// two overlapping words and mixed with one folded multiply; longer ids fold in every
/// 16-byte block. Quality is ample for a table of trusted ids checked by full compare.
#[inline]
pub(crate) fn id_hash(id: &str) -> u64 {
    const K1: u64 = 0x2d35_8dcc_aa6c_78a5;
    const K2: u64 = 0x8bb8_4b93_962e_acc9;
    #[inline]
    fn fold(a: u64, b: u64) -> u64 {
        let product = u128::from(a ^ K1) * u128::from(b ^ K2);
        (product as u64) ^ ((product >> 64) as u64)
    }
    #[inline]
    fn word(bytes: &[u8]) -> u64 {
        u64::from_le_bytes(bytes[..8].try_into().expect("eight bytes"))
    }
    let bytes = id.as_bytes();
    let len = bytes.len();
    let (a, b) = if len >= 8 {
        (word(bytes), word(&bytes[len - 8..]))
    } else if len >= 4 {
        let half = |at: usize| u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes")));
        (half(0), half(len - 4))
    } else if len > 0 {
        (
            u64::from(bytes[0]) | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]) << 16,
            0,
        )
    } else {
        (0, 0)
    };
    let mut seed = len as u64;
    if len > 16 {
        for block in bytes[8..len - 8].chunks(16) {
            let mut padded = [0u8; 16];
            padded[..block.len()].copy_from_slice(block);
            seed = fold(seed ^ word(&padded), word(&padded[8..]));
        }
    }
    fold(a ^ seed, b)
}

/// String equality with the common id lengths (8 to 16 bytes) compared as two words,
/// instead of a call to `memcmp`.
#[inline]
fn same_id(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if (8..=16).contains(&len) {
        let word = |bytes: &[u8], at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
        word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8)
    } else {
        a == b
    }
}

/// Command ids to positions in `Tables::commands`: open addressing with linear
/// probing over a power-of-two table kept at most half full.
#[derive(Default)]
pub(crate) struct CommandIndex {
    /// `(hash, position + 1)`; a position of 0 marks an empty slot.
    slots: Box<[(u64, usize)]>,
    mask: usize,
}

impl CommandIndex {
    pub(crate) fn build(commands: &[CommandEntry]) -> CommandIndex {
        let capacity = (commands.len() * 2).max(8).next_power_of_two();
        let mut slots = vec![(0_u64, 0_usize); capacity].into_boxed_slice();
        let mask = capacity - 1;
        for (position, command) in commands.iter().enumerate() {
            let hash = id_hash(&command.id);
            let mut index = hash as usize & mask;
            while slots[index].1 != 0 {
                index = (index + 1) & mask;
            }
            slots[index] = (hash, position + 1);
        }
        CommandIndex { slots, mask }
    }

    /// The position of command `id`.
    #[inline]
    pub(crate) fn get(&self, id: &str, commands: &[CommandEntry]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = id_hash(id);
        let mut index = hash as usize & self.mask;
        loop {
            let (slot_hash, position) = self.slots[index];
            if position == 0 {
                return None;
            }
            if slot_hash == hash && same_id(&commands[position - 1].id, id) {
                return Some(position - 1);
            }
            index = (index + 1) & self.mask;
        }
    }
}
