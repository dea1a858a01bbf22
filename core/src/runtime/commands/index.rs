//! The command index: command ids to positions in the frozen command table, built when
//! the tables freeze.
//!
//! Open addressing with linear probing over a power-of-two table kept at most half
//! full. Each slot holds what a lookup compares, so a hit touches only the slot: an id
//! of up to 16 bytes (`plugin:name` ids mostly are) is held as two words and its length,
//! which determine its bytes, so equal words are an equal id and the id is compared
//! once, by three word compares, without reading the command's own string. A longer id
//! is held as its hash and compared in full on a hash match. The slot is picked by the
//! high bits of one multiply of the same words, folded together with the length.

use super::CommandEntry;

const K1: u64 = 0x2d35_8dcc_aa6c_78a5;
const K2: u64 = 0x8bb8_4b93_962e_acc9;

/// One folded multiply: the hash of two words.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a ^ K1) * u128::from(b ^ K2);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// The slot an id's words start probing at: the high bits of one multiply (Fibonacci
/// hashing) of the words and the length folded together. Cheap rather than strong: the
/// lookup it starts is a handful of instructions, and ids that fold alike only probe on.
#[inline(always)]
fn start(a: u64, b: u64, len: usize, shift: u32) -> usize {
    ((a ^ len as u64 ^ b.rotate_left(32)).wrapping_mul(K1) >> shift) as usize
}

/// An id as a slot holds it: `(a, b)` are its bytes when it has at most 16 (the first
/// and the last eight, overlapping; zero-extended below eight), or its hash and 0 when
/// longer.
fn key_of(id: &str) -> (u64, u64) {
    let bytes = id.as_bytes();
    let len = bytes.len();
    if (8..=16).contains(&len) {
        (word_at(bytes, 0), word_at(bytes, len - 8))
    } else {
        key_of_other(bytes)
    }
}

/// [`key_of`] for ids shorter than 8 bytes or longer than 16.
fn key_of_other(bytes: &[u8]) -> (u64, u64) {
    if bytes.len() < 8 {
        let mut padded = [0u8; 8];
        padded[..bytes.len()].copy_from_slice(bytes);
        (u64::from_le_bytes(padded), 0)
    } else {
        (long_hash(bytes), 0)
    }
}

/// The hash of an id longer than 16 bytes: every 16-byte block folded in.
fn long_hash(bytes: &[u8]) -> u64 {
    let mut seed = bytes.len() as u64;
    for block in bytes.chunks(16) {
        let mut padded = [0u8; 16];
        padded[..block.len()].copy_from_slice(block);
        seed = fold(seed ^ word_at(&padded, 0), word_at(&padded, 8));
    }
    seed
}

/// A slot of the index; `len == EMPTY` marks an empty one.
#[derive(Clone, Copy)]
struct Slot {
    a: u64,
    b: u64,
    len: u32,
    position: u32,
}

const EMPTY: u32 = u32::MAX;

/// What [`CommandIndex::probe`] returns for an id that is not there.
const ABSENT: usize = usize::MAX;

/// Command ids to positions in `Tables::commands`.
pub(crate) struct CommandIndex {
    slots: Box<[Slot]>,
    mask: usize,
    /// `64 - log2(slots.len())`: the hash's high bits pick the first slot.
    shift: u32,
}

impl Default for CommandIndex {
    fn default() -> CommandIndex {
        CommandIndex::build(&[])
    }
}

impl CommandIndex {
    /// The index of `commands`, whose ids are distinct (registration refuses a second
    /// command of one id).
    pub(crate) fn build(commands: &[CommandEntry]) -> CommandIndex {
        CommandIndex::of_ids(commands.iter().map(|command| command.id.as_str()), commands.len())
    }

    fn of_ids<'a>(ids: impl Iterator<Item = &'a str>, count: usize) -> CommandIndex {
        let capacity = (count * 2).max(8).next_power_of_two();
        let empty = Slot {
            a: 0,
            b: 0,
            len: EMPTY,
            position: 0,
        };
        let mut slots = vec![empty; capacity].into_boxed_slice();
        let mask = capacity - 1;
        let shift = 64 - capacity.trailing_zeros();
        for (position, id) in ids.enumerate() {
            let (a, b) = key_of(id);
            let mut index = start(a, b, id.len(), shift);
            while slots[index].len != EMPTY {
                index = (index + 1) & mask;
            }
            slots[index] = Slot {
                a,
                b,
                // Ids are command ids a plugin registered; none is 4 GiB long.
                len: u32::try_from(id.len()).expect("a command id is shorter than 4 GiB"),
                position: u32::try_from(position).expect("fewer than 4 billion commands"),
            };
        }
        CommandIndex { slots, mask, shift }
    }

    /// The position of command `id`.
    #[inline(always)]
    pub(crate) fn get(&self, id: &str, commands: &[CommandEntry]) -> Option<usize> {
        self.find(id, |position| commands[position].id.as_str())
    }

    /// The position of `id`, where `id_at` gives the id at a position (read only for ids
    /// longer than 16 bytes, whose slots hold a hash). The common lengths (8 to 16 bytes:
    /// `plugin:name` ids mostly are) are one range test and two loads, inlined; the
    /// others are out of line, so that the lookup they are inlined into makes no call.
    #[inline(always)]
    fn find<'a>(&self, id: &str, id_at: impl Fn(usize) -> &'a str) -> Option<usize> {
        let bytes = id.as_bytes();
        let len = bytes.len();
        if !(8..=16).contains(&len) {
            return self.find_other(id, id_at);
        }
        // Up to 16 bytes, the slot's words are the id: equal words, equal id.
        let position = self.probe(word_at(bytes, 0), word_at(bytes, len - 8), len, |_| true);
        (position != ABSENT).then_some(position)
    }

    /// [`CommandIndex::find`] for an id shorter than 8 bytes (its slot holds its bytes) or
    /// longer than 16 (its slot holds a hash: the bytes decide on a match).
    #[cold]
    #[inline(never)]
    fn find_other<'a>(&self, id: &str, id_at: impl Fn(usize) -> &'a str) -> Option<usize> {
        let (a, b) = key_of_other(id.as_bytes());
        let long = id.len() > 16;
        let position = self.probe(a, b, id.len(), |position| !long || id_at(position) == id);
        (position != ABSENT).then_some(position)
    }

    /// The position whose slot holds the words `(a, b)` of an id of `len` bytes and that
    /// `confirm` accepts, or [`ABSENT`]: a plain word rather than an `Option`, which the
    /// inlined loop kept materialising.
    #[inline(always)]
    fn probe(&self, a: u64, b: u64, len: usize, confirm: impl Fn(usize) -> bool) -> usize {
        let mut index = start(a, b, len, self.shift);
        loop {
            // SAFETY: `index` is masked to the table's length, a power of two, or comes
            // from a hash shifted right by `64 - log2(len)`, which is below it.
            let slot = unsafe { self.slots.get_unchecked(index) };
            if slot.a == a && slot.b == b && slot.len as usize == len {
                let position = slot.position as usize;
                if confirm(position) {
                    return position;
                }
            } else if slot.len == EMPTY {
                return ABSENT;
            }
            index = (index + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(ids: &[&str]) -> CommandIndex {
        CommandIndex::of_ids(ids.iter().copied(), ids.len())
    }

    /// Looks `id` up among `ids`.
    fn find(index: &CommandIndex, ids: &[&str], id: &str) -> Option<usize> {
        index.find(id, |position| ids[position])
    }

    #[test]
    fn every_id_is_found_at_its_position_and_no_other_is() {
        let long = "a-plugin-with-a-long-name:and-a-long-command-name";
        let owned: Vec<String> = (0..1_000).map(|i| format!("bench:cmd{i}")).collect();
        let mut ids: Vec<&str> = owned.iter().map(String::as_str).collect();
        ids.extend([
            "",
            "a",
            "ab:c",
            "sevenby",
            "eightbyt",
            "sixteen-bytes-id",
            "seventeen-bytes-i",
            long,
        ]);
        let index = positions(&ids);
        for (position, id) in ids.iter().enumerate() {
            assert_eq!(find(&index, &ids, id), Some(position), "{id}");
        }
        for missing in [
            "bench:cmd1000",
            "bench:cmd",
            "sevenbY",
            "a-plugin-with-a-long-name:and-a-long-command-namE",
            "b",
            "sixteen-bytes-iD",
        ] {
            assert_eq!(find(&index, &ids, missing), None, "{missing}");
        }
    }

    #[test]
    fn ids_that_differ_only_past_the_held_words_are_told_apart() {
        // Two ids of 40 bytes with the same first and last eight bytes: held as hashes.
        let a = "prefix00-the-middle-differs-AAA-suffix00";
        let b = "prefix00-the-middle-differs-BBB-suffix00";
        let index = positions(&[a, b]);
        assert_eq!(find(&index, &[a, b], a), Some(0));
        assert_eq!(find(&index, &[a, b], b), Some(1));
    }

    /// How far past its start slot each id sits, for ids of the shapes commands have.
    fn probe_lengths(ids: &[&str]) -> Vec<usize> {
        let index = positions(ids);
        ids.iter()
            .map(|id| {
                let (a, b) = key_of(id);
                let first = start(a, b, id.len(), index.shift);
                let at = (0..index.slots.len())
                    .map(|step| (first + step) & index.mask)
                    .find(|&slot| index.slots[slot].a == a && index.slots[slot].b == b)
                    .expect("every id is in the index");
                (at + index.slots.len() - first) & index.mask
            })
            .collect()
    }

    #[test]
    fn the_cheap_hash_spreads_command_ids_of_one_shape() {
        for shape in [
            "bench:cmd{}",
            "kv-store:get{}",
            "p{}:run",
            "{}:x",
            "plugin-number-{}:command",
        ] {
            let owned: Vec<String> = (0..10_000).map(|i| shape.replace("{}", &i.to_string())).collect();
            let ids: Vec<&str> = owned.iter().map(String::as_str).collect();
            let lengths = probe_lengths(&ids);
            let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
            // A table at most half full with a uniform hash probes 0.5 slots on average;
            // these shapes measured 0.17 to 0.23, and at most 9.
            assert!(mean < 0.5, "{shape}: mean probe length {mean}");
            assert!(
                *lengths.iter().max().unwrap() < 16,
                "{shape}: longest probe {:?}",
                lengths.iter().max()
            );
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index = positions(&[]);
        assert_eq!(find(&index, &[], "x:y"), None);
        assert_eq!(find(&index, &[], ""), None);
    }
}
