//! Which hasher for the tables keyed by `TypeId` (events, services, inboxes): the Fx
//! hasher patchpanel carried by hand until 2026-11-25, or `rustc-hash`'s, which
//! replaced it. One group, both side by side: `type_id_lookup/<hasher>/<entries>`.

use std::any::TypeId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

#[derive(Clone, Copy, Default)]
struct HandWrittenFx {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl HandWrittenFx {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for HandWrittenFx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("chunks of eight")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buffer = [0u8; 8];
            buffer[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buffer));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    #[inline]
    fn write_u128(&mut self, value: u128) {
        self.add(value as u64);
        self.add((value >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// `n` distinct `TypeId`s: those of arrays of different lengths.
fn type_ids() -> Vec<TypeId> {
    macro_rules! ids {
        ($($n:literal)*) => { vec![$(TypeId::of::<[u8; $n]>()),*] };
    }
    ids!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
         32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63)
}

fn type_id_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("type_id_lookup");
    let ids = type_ids();
    for entries in [8, 64] {
        let hand: HashMap<TypeId, usize, BuildHasherDefault<HandWrittenFx>> =
            ids[..entries].iter().copied().zip(0..).collect();
        let crate_fx: rustc_hash::FxHashMap<TypeId, usize> = ids[..entries].iter().copied().zip(0..).collect();
        let probe = ids[entries / 2];
        group.bench_function(BenchmarkId::new("hand_written_fx", entries), |b| {
            b.iter(|| hand.get(black_box(&probe)).copied())
        });
        group.bench_function(BenchmarkId::new("rustc_hash", entries), |b| {
            b.iter(|| crate_fx.get(black_box(&probe)).copied())
        });
    }
    group.finish();
}

criterion_group!(benches, type_id_lookup);
criterion_main!(benches);
