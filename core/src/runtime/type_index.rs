//! The type index: a frozen map from a `TypeId` to what the tables keep for that type
//! (an event type's subscribers), built when the tables freeze.
//!
//! A publish by type looks its subscribers up on every call, so the lookup is the
//! cheapest one a `TypeId` allows: the type's own 64-bit hash (which the compiler folds
//! to a constant at the call site, since the type is known there) picks a slot of an
//! open-addressed table kept at most half full, and one compare of the slot's `TypeId`
//! decides. A general hash map probes a group of control bytes first; at one subscriber
//! that probe was a fifth of a publish.

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

/// `TypeId` -> `V`, frozen.
pub(crate) struct TypeIndex<V> {
    slots: Box<[Option<(TypeId, V)>]>,
    mask: usize,
    /// `64 - log2(slots.len())`.
    shift: u32,
}

impl<V> Default for TypeIndex<V> {
    fn default() -> TypeIndex<V> {
        TypeIndex::build(std::iter::empty())
    }
}

impl<V> TypeIndex<V> {
    /// The index of `entries`, whose types are distinct.
    pub(crate) fn build(entries: impl ExactSizeIterator<Item = (TypeId, V)>) -> TypeIndex<V> {
        let capacity = (entries.len() * 2).max(4).next_power_of_two();
        let mut slots: Box<[Option<(TypeId, V)>]> = (0..capacity).map(|_| None).collect();
        let mask = capacity - 1;
        let shift = 64 - capacity.trailing_zeros();
        for (id, value) in entries {
            let mut index = (hash_of(id) >> shift) as usize;
            while let Some((held, _)) = &slots[index] {
                debug_assert_ne!(*held, id, "each type is indexed once");
                index = (index + 1) & mask;
            }
            slots[index] = Some((id, value));
        }
        TypeIndex { slots, mask, shift }
    }

    /// What the index holds for type `id`.
    #[inline(always)]
    pub(crate) fn get(&self, id: TypeId) -> Option<&V> {
        let mut index = (hash_of(id) >> self.shift) as usize;
        loop {
            // SAFETY: `index` is a hash shifted right by `64 - log2(len)`, or masked to
            // the length, a power of two: below the length either way.
            match unsafe { self.slots.get_unchecked(index) } {
                Some((held, value)) if *held == id => return Some(value),
                Some(_) => index = (index + 1) & self.mask,
                None => return None,
            }
        }
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
        assert_eq!(index.slots.iter().flatten().count(), 3);
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
        let index = TypeIndex::build(ids.iter().copied().zip(0..ids.len()));
        for (value, id) in ids.iter().enumerate() {
            assert_eq!(index.get(*id), Some(&value));
        }
        assert_eq!(index.get(TypeId::of::<C>()), None);
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index: TypeIndex<()> = TypeIndex::default();
        assert_eq!(index.get(TypeId::of::<A>()), None);
        assert_eq!(index.slots.iter().flatten().count(), 0);
    }
}
