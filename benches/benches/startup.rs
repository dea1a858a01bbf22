//! Start-up: resolve and activate N no-op plugins from an explicit list.
//!
//! The list is built (and its manifests validated) outside the timed section; what is
//! timed is `HostBuilder::build` (sort, resolve, instantiate, configure, activate), the
//! shutdown (deactivate in reverse) and the host's drop, as `peer_startup` times
//! bevy_app's `App` with its drop.
//!
//! `commands_in_one_plugin/<n>`: one plugin registering `n` commands, built and dropped
//! (linear in `n`: the duplicate checks are hash lookups).
//!
//! `resolve/<kind>/<n>`: resolution alone; `patchpanel_expected` and `patchpanel_linked`
//! resolve plugins the application names, without and with the activation order
//! `link_plugins!` checks at compile time (which start-up then takes as it is).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use patchpanel::Host;
use patchpanel::resolve::{ResolveOptions, resolve};
use patchpanel_benches::{expectations, synthetic_lazy_plugins, synthetic_plugins};

fn startup(c: &mut Criterion) {
    let mut group = c.benchmark_group("startup");
    group.sample_size(20);
    for count in [100, 1_000, 10_000] {
        let plugins = synthetic_plugins(count);
        group.bench_with_input(BenchmarkId::new("patchpanel", count), &plugins, |b, plugins| {
            b.iter_batched(
                || plugins.clone(),
                |plugins| black_box(Host::builder().plugins(plugins).build().expect("synthetic set starts")).shutdown(),
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
                |plugins| black_box(Host::builder().plugins(plugins).build().expect("synthetic set starts")).shutdown(),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn commands_in_one_plugin(c: &mut Criterion) {
    let mut group = c.benchmark_group("commands_in_one_plugin");
    group.sample_size(10);
    for count in [1_000, 10_000] {
        group.bench_with_input(BenchmarkId::new("patchpanel", count), &count, |b, &count| {
            b.iter(|| {
                let plugin = patchpanel_benches::commands_plugin("many", count);
                black_box(Host::builder().plugins(vec![plugin]).build().expect("starts")).shutdown()
            });
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
        // The application names the plugins: without, then with, the order that
        // `link_plugins!` checks at compile time.
        for (name, ranked) in [("patchpanel_expected", false), ("patchpanel_linked", true)] {
            let options = ResolveOptions {
                expected: expectations(&plugins, ranked),
                ..ResolveOptions::default()
            };
            group.bench_with_input(BenchmarkId::new(name, count), &plugins, |b, plugins| {
                b.iter_batched(
                    || plugins.clone(),
                    |plugins| black_box(resolve(plugins, &options).expect("synthetic set resolves")),
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

criterion_group!(benches, startup, commands_in_one_plugin, resolution);
criterion_main!(benches);
