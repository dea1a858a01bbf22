//! Start-up: resolve and activate N no-op plugins from an explicit list.
//!
//! The list is built (and its manifests validated) outside the timed section; what is
//! timed is `HostBuilder::build` (sort, resolve, instantiate, configure, activate) and
//! the host's drop (deactivate in reverse).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use patchpanel::Host;
use patchpanel::{ResolveOptions, resolve};
use patchpanel_benches::{synthetic_lazy_plugins, synthetic_plugins};

fn startup(c: &mut Criterion) {
    let mut group = c.benchmark_group("startup");
    group.sample_size(20);
    for count in [100, 1_000, 10_000] {
        let plugins = synthetic_plugins(count);
        group.bench_with_input(BenchmarkId::new("patchpanel", count), &plugins, |b, plugins| {
            b.iter_batched(
                || plugins.clone(),
                |plugins| black_box(Host::builder().plugins(plugins).build().expect("synthetic set starts")),
                BatchSize::LargeInput,
            );
        });
    }
    // Every plugin lazy: resolution and bookkeeping, nothing activated.
    for count in [1_000, 10_000] {
        let plugins = synthetic_lazy_plugins(count);
        group.bench_with_input(BenchmarkId::new("patchpanel_lazy", count), &plugins, |b, plugins| {
            b.iter_batched(
                || plugins.clone(),
                |plugins| black_box(Host::builder().plugins(plugins).build().expect("synthetic set starts")),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn resolution(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve");
    group.sample_size(20);
    let options = ResolveOptions::default();
    for count in [100, 1_000, 10_000] {
        let plugins = synthetic_plugins(count);
        group.bench_with_input(BenchmarkId::new("patchpanel", count), &plugins, |b, plugins| {
            b.iter_batched(
                || plugins.clone(),
                |plugins| black_box(resolve(plugins, &options).expect("synthetic set resolves")),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, startup, resolution);
criterion_main!(benches);
