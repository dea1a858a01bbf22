//! patchpanel beside what a team would use instead, in one run.
//!
//! - `peer_middleware/<impl>`: one call through four pass-through middleware. tower's
//!   run-time-composed stack (each layer a `BoxCloneService`, as an app that assembles
//!   middleware from configuration has), tower's statically composed `ServiceBuilder`
//!   (the floor: every layer's type known, all inlined), patchpanel's chain at depth 4,
//!   and four nested `Box<dyn Fn>` closures. tower services are called the way tower is
//!   driven (`poll_ready`, `call`, then the future polled; here it is ready at once).
//! - `peer_startup/<impl>/<plugins>`: bevy_app's `App::new().add_plugins(..)` with N
//!   no-op plugins (then `finish` and `cleanup`), against patchpanel's eager start-up of
//!   N no-op plugins, which also resolves a dependency graph (about two edges a plugin)
//!   from semver ranges, checks manifests and runs each plugin's lifecycle.
//! - `peer_lookup/<impl>`: a command found by name. A hand-written linkme slice of `fn`
//!   pointers (what a team writes today): looked up once at start-up then called, and
//!   looked up by name at each call (a `HashMap` built from the slice); against
//!   patchpanel's typed handle and string id.
//! - `peer_event_bus/<impl>/<subscribers>`: a publish to N subscribers. A hand-written
//!   bus of an `arc-swap`-held `Vec` of closures (lock-free reads, swapped on change)
//!   against patchpanel's publish.
//!
//! Every implementation does the same work per call (add one to a `u64`, or to a sink
//! for events), with inputs and outputs through `black_box`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use patchpanel::Host;
use patchpanel::testing::fn_plugin;
use patchpanel_benches::{Tick, add_one, manifest, middleware_host, nested_closures, synthetic_plugins};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceBuilder};

#[path = "../common/fixtures.rs"]
mod fixtures;

use fixtures::{AddOne, BevyNoop, PassLayer, arcswap_bus, tower_call};

// ---------------------------------------------------------------- middleware

fn peer_middleware(c: &mut Criterion) {
    let mut group = c.benchmark_group("peer_middleware");
    const DEPTH: usize = 4;

    // Composed at run time: each layer boxed, as a Vec of layers from configuration.
    let mut boxed: BoxCloneService<u64, u64, std::convert::Infallible> = BoxCloneService::new(AddOne);
    for _ in 0..DEPTH {
        boxed = BoxCloneService::new(PassLayer.layer(boxed));
    }
    // Composed statically: the floor.
    let mut stacked = ServiceBuilder::new()
        .layer(PassLayer)
        .layer(PassLayer)
        .layer(PassLayer)
        .layer(PassLayer)
        .service(AddOne);

    let host = middleware_host(DEPTH);
    let handle = host.command::<u64, u64>("bench:cmd").expect("command exists");
    let nested = nested_closures(DEPTH);

    assert_eq!(tower_call(&mut boxed, 7), 8);
    assert_eq!(tower_call(&mut stacked, 7), 8);
    assert_eq!(handle.call(7).unwrap(), 8);
    group.bench_function(BenchmarkId::new("tower_boxed", DEPTH), |b| {
        b.iter(|| tower_call(black_box(&mut boxed), black_box(7)));
    });
    group.bench_function(BenchmarkId::new("tower_static", DEPTH), |b| {
        b.iter(|| tower_call(black_box(&mut stacked), black_box(7)));
    });
    group.bench_function(BenchmarkId::new("patchpanel", DEPTH), |b| {
        b.iter(|| black_box(&handle).call(black_box(7)).unwrap());
    });
    group.bench_function(BenchmarkId::new("nested_dyn_fn", DEPTH), |b| {
        b.iter(|| black_box(&nested)(black_box(7)));
    });
    group.finish();
}

// ---------------------------------------------------------------- start-up

fn bevy_start(plugins: usize) -> bevy_app::App {
    let mut app = bevy_app::App::new();
    for _ in 0..plugins {
        app.add_plugins(BevyNoop);
    }
    app.finish();
    app.cleanup();
    app
}

fn peer_startup(c: &mut Criterion) {
    let mut group = c.benchmark_group("peer_startup");
    group.sample_size(20);
    for plugins in [100, 1_000, 10_000] {
        group.bench_function(BenchmarkId::new("bevy_app", plugins), |b| {
            // The app is dropped inside the timed routine, as patchpanel's host is.
            b.iter(|| drop(black_box(bevy_start(black_box(plugins)))));
        });
        group.bench_function(BenchmarkId::new("patchpanel", plugins), |b| {
            b.iter_batched(
                || synthetic_plugins(plugins),
                |specs| black_box(Host::builder().plugins(specs).build().expect("starts")).shutdown(),
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

// ---------------------------------------------------------------- lookup by name

/// What a team writes today: a distributed slice of named `fn` pointers.
#[linkme::distributed_slice]
static COMMANDS: [(&'static str, fn(u64) -> u64)];

macro_rules! commands {
    ($($name:ident),*) => {$(
        #[linkme::distributed_slice(COMMANDS)]
        #[allow(non_upper_case_globals)]
        static $name: (&'static str, fn(u64) -> u64) = (concat!("bench:", stringify!($name)), add_one);
    )*};
}

commands!(
    cmd00, cmd01, cmd02, cmd03, cmd04, cmd05, cmd06, cmd07, cmd08, cmd09, cmd10, cmd11, cmd12, cmd13, cmd14, cmd15,
    cmd16, cmd17, cmd18, cmd19, cmd20, cmd21, cmd22, cmd23, cmd24, cmd25, cmd26, cmd27, cmd28, cmd29, cmd30, cmd31,
    cmd32, cmd33, cmd34, cmd35, cmd36, cmd37, cmd38, cmd39, cmd40, cmd41, cmd42, cmd43, cmd44, cmd45, cmd46, cmd47,
    cmd48, cmd49, cmd50, cmd51, cmd52, cmd53, cmd54, cmd55, cmd56, cmd57, cmd58, cmd59, cmd60, cmd61, cmd62, cmd63,
    cmd64, cmd65, cmd66, cmd67, cmd68, cmd69, cmd70, cmd71, cmd72, cmd73, cmd74, cmd75, cmd76, cmd77, cmd78, cmd79,
    cmd80, cmd81, cmd82, cmd83, cmd84, cmd85, cmd86, cmd87, cmd88, cmd89, cmd90, cmd91, cmd92, cmd93, cmd94, cmd95,
    cmd96, cmd97, cmd98, cmd99
);

fn peer_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("peer_lookup");
    assert_eq!(COMMANDS.len(), 100);
    // Start-up: one pass over the slice.
    let by_name: HashMap<&'static str, fn(u64) -> u64> = COMMANDS.iter().copied().collect();
    let found: fn(u64) -> u64 = by_name["bench:cmd50"];

    let host = Host::builder()
        .plugins(vec![fn_plugin(manifest("bench"), |context| {
            for index in 0..100 {
                context.command(&format!("cmd{index:02}"), |_, n: u64| Ok(add_one(n)))?;
            }
            Ok(())
        })])
        .build()
        .expect("bench host starts");
    let handle = host.command::<u64, u64>("bench:cmd50").expect("command exists");

    group.bench_function("linkme_fn_found_at_startup", |b| {
        b.iter(|| black_box(found)(black_box(7)));
    });
    group.bench_function("linkme_fn_by_name", |b| {
        b.iter(|| black_box(&by_name)[black_box("bench:cmd50")](black_box(7)));
    });
    group.bench_function("patchpanel_handle", |b| {
        b.iter(|| black_box(&handle).call(black_box(7)).unwrap());
    });
    group.bench_function("patchpanel_str", |b| {
        b.iter(|| {
            host.execute::<u64, u64>(black_box("bench:cmd50"), black_box(7))
                .unwrap()
        });
    });
    group.finish();
}

// ---------------------------------------------------------------- event bus

fn peer_event_bus(c: &mut Criterion) {
    let mut group = c.benchmark_group("peer_event_bus");
    for subscribers in [1, 10, 100] {
        let sink = Arc::new(AtomicU64::new(0));
        let plugins = (0..subscribers)
            .map(|index| {
                let sink = Arc::clone(&sink);
                fn_plugin(manifest(&format!("listener{index:03}")), move |context| {
                    let sink = Arc::clone(&sink);
                    context.subscribe(move |_, tick: &Tick| {
                        sink.fetch_add(add_one(tick.0), Ordering::Relaxed);
                        Ok(())
                    });
                    Ok(())
                })
            })
            .collect();
        let host = Host::builder().plugins(plugins).build().expect("bench host starts");
        let bus = arcswap_bus(subscribers, &sink);
        group.bench_function(BenchmarkId::new("arc_swap_bus", subscribers), |b| {
            b.iter(|| {
                for subscriber in bus.load().iter() {
                    subscriber(black_box(&Tick(7)));
                }
            });
        });
        group.bench_function(BenchmarkId::new("patchpanel", subscribers), |b| {
            b.iter(|| host.publish(black_box(&Tick(7))));
        });
    }
    group.finish();
}

criterion_group!(benches, peer_middleware, peer_startup, peer_lookup, peer_event_bus);
criterion_main!(benches);
