//! Walking a link-time registry of N entries: a `linkme` distributed slice beside an
//! `inventory` collection. This is what patchpanel's two backends do at start-up.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use linkme::distributed_slice;

/// Copies its input ten times.
macro_rules! ten {
    ($($item:tt)*) => {
        $($item)* $($item)* $($item)* $($item)* $($item)*
        $($item)* $($item)* $($item)* $($item)* $($item)*
    };
}

/// A registry entry: a weight to sum, so the walk cannot be optimised away.
struct Entry {
    weight: u64,
}

#[distributed_slice]
static LINKME_10: [Entry];
#[distributed_slice]
static LINKME_100: [Entry];
#[distributed_slice]
static LINKME_1000: [Entry];

ten! { const _: () = { #[distributed_slice(LINKME_10)] static ENTRY: Entry = Entry { weight: 1 }; }; }
ten! { ten! { const _: () = { #[distributed_slice(LINKME_100)] static ENTRY: Entry = Entry { weight: 1 }; }; } }
ten! { ten! { ten! { const _: () = { #[distributed_slice(LINKME_1000)] static ENTRY: Entry = Entry { weight: 1 }; }; } } }

struct Inventory10(u64);
struct Inventory100(u64);
struct Inventory1000(u64);
inventory::collect!(Inventory10);
inventory::collect!(Inventory100);
inventory::collect!(Inventory1000);

ten! { const _: () = { inventory::submit! { Inventory10(1) } }; }
ten! { ten! { const _: () = { inventory::submit! { Inventory100(1) } }; } }
ten! { ten! { ten! { const _: () = { inventory::submit! { Inventory1000(1) } }; } } }

fn registry_iter(c: &mut Criterion) {
    let mut group = c.benchmark_group("registry_iter");
    let linkme: [(usize, &[Entry]); 3] = [(10, &LINKME_10), (100, &LINKME_100), (1000, &LINKME_1000)];
    for (entries, slice) in linkme {
        assert_eq!(slice.len(), entries, "every linkme entry was linked");
        group.bench_function(BenchmarkId::new("linkme", entries), |b| {
            b.iter(|| black_box(slice).iter().map(|entry| entry.weight).sum::<u64>());
        });
    }
    let inventory_sums: [(usize, fn() -> u64); 3] = [
        (10, || {
            inventory::iter::<Inventory10>.into_iter().map(|entry| entry.0).sum()
        }),
        (100, || {
            inventory::iter::<Inventory100>.into_iter().map(|entry| entry.0).sum()
        }),
        (1000, || {
            inventory::iter::<Inventory1000>.into_iter().map(|entry| entry.0).sum()
        }),
    ];
    for (entries, sum) in inventory_sums {
        assert_eq!(sum(), entries as u64, "every inventory entry was collected");
        group.bench_function(BenchmarkId::new("inventory", entries), |b| {
            b.iter(|| black_box(sum)());
        });
    }
    group.finish();
}

criterion_group!(benches, registry_iter);
criterion_main!(benches);
