//! The type index: a frozen map from a `TypeId` to what the tables keep for that type
//! (an event type's subscribers, a service's providers), built when the tables freeze.
//!
//! A publish by type looks its subscribers up on every call, so the lookup is the
//! cheapest one a `TypeId` allows: the type's own 64-bit hash (which the compiler folds
//! to a constant at the call site, since the type is known there) picks a slot of an
//! open-addressed table kept at most half full, and one compare of the slot's `TypeId`
//! decides. An index of up to 32 types has 64 slots exactly, so that the slot's offset
//! is a constant too; an empty slot holds a private type's id and a default value, so
//! that a hit is not tested for emptiness first. A general hash map probes a group of
//! control bytes first; at one subscriber that probe was a fifth of a publish.

use std::any::TypeId;
use std::hash::{Hash, Hasher};

/// The 64 bits a `TypeId` hashes to, multiplied so that the high bits (which pick the
/// slot) depend on all of them.
#[inline(always)]
fn hash_of(id: TypeId) -> u64 {
    /// Keeps what `TypeId`'s `Hash` writes (one `u64`: the id is already a hash).
    struct Capture(u64);
    impl Hasher for Capture {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(byte);
            }
        }
        fn write_u64(&mut self, word: u64) {
            self.0 ^= word;
        }
    }
    let mut capture = Capture(0);
    id.hash(&mut capture);
    capture.finish().wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The capacity of every index that holds from one to 32 types (most applications'
/// events and services): 64 slots.
const COMMON_CAPACITY: usize = 64;
/// `64 - log2(COMMON_CAPACITY)`.
const COMMON_SHIFT: u32 = 64 - COMMON_CAPACITY.trailing_zeros();

/// The key of an empty slot: a private type, which no caller can name, so no caller's
/// type has this id.
struct Vacant;

/// `TypeId` -> `V`, frozen. An empty slot holds [`Vacant`]'s id and `V::default()`, so
/// that a lookup that hits compares one id and reads its value with no test for an
/// empty slot first, and [`TypeIndex::get_or_default`] answers a miss with that value.
#[derive(Clone)]
pub(crate) struct TypeIndex<V> {
    slots: Slots<V>,
}

/// The slots of a [`TypeIndex`], kept at most half full.
#[derive(Clone)]
enum Slots<V> {
    /// From one to 32 types: `COMMON_CAPACITY` slots, so that a lookup of a type known
    /// where it is inlined reads the type's slot at an offset the compiler computed.
    Common(Box<[(TypeId, V); COMMON_CAPACITY]>),
    /// No type, or more than 32.
    Other {
        slots: Box<[(TypeId, V)]>,
        /// `64 - log2(slots.len())`.
        shift: u32,
    },
}

impl<V: Default> Default for TypeIndex<V> {
    fn default() -> TypeIndex<V> {
        TypeIndex::build(std::iter::empty())
    }
}

impl<V: Default> TypeIndex<V> {
    /// The index of `entries`, whose types are distinct.
    pub(crate) fn build(entries: impl ExactSizeIterator<Item = (TypeId, V)>) -> TypeIndex<V> {
        let capacity = match entries.len() {
            0 => 4,
            held => (held * 2).max(COMMON_CAPACITY).next_power_of_two(),
        };
        let shift = 64 - capacity.trailing_zeros();
        let mut slots: Box<[(TypeId, V)]> = (0..capacity).map(|_| (TypeId::of::<Vacant>(), V::default())).collect();
        for (id, value) in entries {
            let index = probe(&slots, id, (hash_of(id) >> shift) as usize);
            debug_assert_ne!(slots[index].0, id, "each type is indexed once");
            slots[index] = (id, value);
        }
        let slots = match <Box<[(TypeId, V); COMMON_CAPACITY]>>::try_from(slots) {
            Ok(common) => Slots::Common(common),
            Err(slots) => Slots::Other { slots, shift },
        };
        TypeIndex { slots }
    }
}

/// From `index` on (wrapping), the first slot that holds `id` or is empty.
fn probe<V>(slots: &[(TypeId, V)], id: TypeId, mut index: usize) -> usize {
    // The length is a power of two.
    let mask = slots.len() - 1;
    loop {
        let held = slots[index].0;
        if held == id || held == TypeId::of::<Vacant>() {
            return index;
        }
        index = (index + 1) & mask;
    }
}

impl<V> TypeIndex<V> {
    /// The slot of type `id`, or the empty slot that ends its probe. The type's own
    /// slot is compared here; the rest is out of line, so that a caller's loop keeps
    /// no constant of it in a register.
    #[inline(always)]
    fn slot(&self, id: TypeId) -> &(TypeId, V) {
        match &self.slots {
            Slots::Common(slots) => {
                let index = (hash_of(id) >> COMMON_SHIFT) as usize;
                let slot = &slots[index];
                if slot.0 == id {
                    return slot;
                }
                self.slot_past(id, index)
            }
            Slots::Other { .. } => self.slot_other(id),
        }
    }

    /// [`TypeIndex::slot`] in an index of other than `COMMON_CAPACITY` slots.
    #[inline(never)]
    fn slot_other(&self, id: TypeId) -> &(TypeId, V) {
        let slots = self.all();
        let index = match &self.slots {
            Slots::Other { shift, .. } => (hash_of(id) >> shift) as usize,
            Slots::Common(_) => (hash_of(id) >> COMMON_SHIFT) as usize,
        };
        &slots[probe(slots, id, index)]
    }

    /// [`TypeIndex::slot`] past the type's own slot.
    #[cold]
    #[inline(never)]
    fn slot_past(&self, id: TypeId, index: usize) -> &(TypeId, V) {
        let slots = self.all();
        &slots[probe(slots, id, index)]
    }

    fn all(&self) -> &[(TypeId, V)] {
        match &self.slots {
            Slots::Common(slots) => &slots[..],
            Slots::Other { slots, .. } => slots,
        }
    }

    /// What the index holds for type `id`.
    #[inline(always)]
    pub(crate) fn get(&self, id: TypeId) -> Option<&V> {
        let (held, value) = self.slot(id);
        (*held == id).then_some(value)
    }

    /// What the index holds for type `id`, or `V::default()` (as the index built it)
    /// when it holds nothing: one compare on a hit.
    #[inline(always)]
    pub(crate) fn get_or_default(&self, id: TypeId) -> &V {
        &self.slot(id).1
    }

    /// Every type the index holds, with its value.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TypeId, &V)> {
        self.all()
            .iter()
            .filter(|(id, _)| *id != TypeId::of::<Vacant>())
            .map(|(id, value)| (*id, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    struct B;
    struct C;

    #[test]
    fn every_type_is_found_with_its_value_and_no_other_is() {
        let index =
            TypeIndex::build([(TypeId::of::<A>(), 1), (TypeId::of::<B>(), 2), (TypeId::of::<u8>(), 3)].into_iter());
        assert_eq!(index.get(TypeId::of::<A>()), Some(&1));
        assert_eq!(index.get(TypeId::of::<B>()), Some(&2));
        assert_eq!(index.get(TypeId::of::<u8>()), Some(&3));
        assert_eq!(index.get(TypeId::of::<C>()), None);
        assert_eq!(index.get(TypeId::of::<u16>()), None);
        assert_eq!(index.iter().count(), 3);
        assert_eq!(*index.get_or_default(TypeId::of::<A>()), 1);
        assert_eq!(
            *index.get_or_default(TypeId::of::<C>()),
            0,
            "a miss reads the empty slot's default"
        );
    }

    #[test]
    fn many_types_all_found_even_when_their_slots_collide() {
        // Types enough to fill a table whose slots must collide somewhere.
        let ids = [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<i8>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
            TypeId::of::<String>(),
            TypeId::of::<&str>(),
            TypeId::of::<A>(),
            TypeId::of::<B>(),
        ];
        let index = TypeIndex::build(ids.iter().copied().zip(1..ids.len() + 1));
        for (value, id) in (1..).zip(&ids) {
            assert_eq!(index.get(*id), Some(&value));
            assert_eq!(*index.get_or_default(*id), value);
        }
        assert_eq!(index.get(TypeId::of::<C>()), None);
        assert_eq!(*index.get_or_default(TypeId::of::<C>()), 0);
    }

    #[test]
    fn more_types_than_the_common_capacity_takes_are_all_found() {
        macro_rules! ids {
            ($($n:literal)*) => { [$(TypeId::of::<[u8; $n]>()),*] };
        }
        let ids = ids!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
            30 31 32 33 34 35 36 37 38 39);
        for held in [1, 32, 33, 40] {
            let index = TypeIndex::build(ids[..held].iter().copied().zip(1..held + 1));
            assert_eq!(
                matches!(index.slots, Slots::Common(_)),
                held <= 32,
                "{held} types: the common capacity holds up to 32"
            );
            for (value, id) in (1..).zip(&ids[..held]) {
                assert_eq!(index.get(*id), Some(&value), "{held} types");
                assert_eq!(*index.get_or_default(*id), value);
            }
            for id in &ids[held..] {
                assert_eq!(index.get(*id), None, "{held} types");
                assert_eq!(*index.get_or_default(*id), 0);
            }
            assert_eq!(index.iter().count(), held);
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index: TypeIndex<()> = TypeIndex::default();
        assert_eq!(index.get(TypeId::of::<A>()), None);
        assert_eq!(index.iter().count(), 0);
        assert_eq!(*index.get_or_default(TypeId::of::<A>()), ());
    }
}
