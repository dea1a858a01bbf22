//! The dispatch path beside what a team would otherwise write, one group per question.
//!
//! - `command_dispatch/<impl>/<commands>`: one command call among N registered.
//! - `event_publish/<impl>/<subscribers>`: one publish to N subscribers, by type
//!   (`patchpanel`) and through an `EventChannel` resolved once (`patchpanel_channel`).
//! - `middleware_chain/<impl>/<depth>`: one command through N middleware layers (pattern
//!   middleware, `patchpanel`; typed middleware, `patchpanel_typed`; at depth 4, layers
//!   declared as types and named by the handle, `patchpanel_static`).
//! - `json_boundary/<impl>`: a command with a struct request and response through
//!   `execute_json`, against hand-written `serde_json::from_value` + call + `to_value`
//!   over the same types.
//! - `result_cache/<impl>`: a cacheable command answered from its cache, against the
//!   same command computing its answer (a real call: 1,000 rounds of a hash mix, about a
//!   microsecond) and the plain command dispatch cost.
//!
//! Every implementation does the same work per call (add one to a `u64`), and inputs
//! and outputs pass through `black_box`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use patchpanel::Host;
use patchpanel::testing::fn_plugin;
use patchpanel_benches::{
    FourLayers, Greet, Tick, add_one, command_host, greet, manifest, middleware_host, nested_closures,
    static_layers_host, typed_middleware_host,
};

fn command_dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("command_dispatch");
    for commands in [10, 100, 1_000, 10_000] {
        let host = command_host(commands);
        let id = format!("bench:cmd{}", commands / 2);
        let id = id.as_str();
        let handle = host.command::<u64, u64>(id).expect("command exists");

        let mut map: HashMap<String, Box<dyn Fn(u64) -> u64 + Send + Sync>> = HashMap::new();
        for index in 0..commands {
            map.insert(format!("bench:cmd{index}"), Box::new(add_one));
        }
        let locked = RwLock::new(map);
        let closure = |n: u64| add_one(n);
        let dyn_fn: &dyn Fn(u64) -> u64 = &closure;
        // The handler's own signature with nothing around it: the floor of a handle.
        let fallible = |n: u64| -> Result<u64, patchpanel::PluginError> { Ok(add_one(n)) };
        let fallible_dyn_fn: &dyn Fn(u64) -> Result<u64, patchpanel::PluginError> = &fallible;

        group.bench_function(BenchmarkId::new("direct_call", commands), |b| {
            b.iter(|| add_one(black_box(7)));
        });
        group.bench_function(BenchmarkId::new("dyn_fn", commands), |b| {
            b.iter(|| black_box(dyn_fn)(black_box(7)));
        });
        group.bench_function(BenchmarkId::new("fallible_dyn_fn", commands), |b| {
            b.iter(|| black_box(fallible_dyn_fn)(black_box(7)).unwrap());
        });
        group.bench_function(BenchmarkId::new("patchpanel_handle", commands), |b| {
            b.iter(|| black_box(&handle).call(black_box(7)).unwrap());
        });
        group.bench_function(BenchmarkId::new("patchpanel_str", commands), |b| {
            b.iter(|| host.execute::<u64, u64>(black_box(id), black_box(7)).unwrap());
        });
        group.bench_function(BenchmarkId::new("patchpanel_json", commands), |b| {
            b.iter(|| {
                host.execute_json(black_box(id), serde_json::Value::from(black_box(7_u64)))
                    .unwrap()
            });
        });
        let map = locked.read().expect("no writer");
        group.bench_function(BenchmarkId::new("hashmap_dyn", commands), |b| {
            b.iter(|| map.get(black_box(id)).expect("command exists")(black_box(7)));
        });
        drop(map);
        group.bench_function(BenchmarkId::new("rwlock_hashmap_dyn", commands), |b| {
            b.iter(|| {
                locked
                    .read()
                    .expect("no writer")
                    .get(black_box(id))
                    .expect("command exists")(black_box(7))
            });
        });
    }
    group.finish();
}

/// What a hand-written event bus stores per subscriber.
type Subscriber = Box<dyn Fn(&Tick) + Send + Sync>;

fn event_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_publish");
    for subscribers in [1, 10, 100] {
        let sink = std::sync::Arc::new(AtomicU64::new(0));
        let plugins = (0..subscribers)
            .map(|index| {
                let sink = sink.clone();
                fn_plugin(manifest(&format!("listener{index:03}")), move |context| {
                    let sink = sink.clone();
                    context.subscribe(move |_, tick: &Tick| {
                        sink.fetch_add(add_one(tick.0), Ordering::Relaxed);
                        Ok(())
                    });
                    Ok(())
                })
            })
            .collect();
        let host = Host::builder().plugins(plugins).build().expect("bench host starts");
        let handlers: Vec<Subscriber> = (0..subscribers)
            .map(|_| {
                let sink = sink.clone();
                Box::new(move |tick: &Tick| {
                    sink.fetch_add(add_one(tick.0), Ordering::Relaxed);
                }) as Subscriber
            })
            .collect();

        group.bench_function(BenchmarkId::new("patchpanel", subscribers), |b| {
            b.iter(|| host.publish(black_box(&Tick(7))));
        });
        let channel = host.channel::<Tick>();
        group.bench_function(BenchmarkId::new("patchpanel_channel", subscribers), |b| {
            b.iter(|| black_box(&channel).publish(black_box(&Tick(7))));
        });
        group.bench_function(BenchmarkId::new("vec_dyn_fn", subscribers), |b| {
            b.iter(|| {
                for handler in black_box(&handlers) {
                    handler(black_box(&Tick(7)));
                }
            });
        });
    }
    group.finish();
}

fn middleware_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("middleware_chain");
    for depth in [0, 1, 4, 16] {
        let host = middleware_host(depth);
        let handle = host.command::<u64, u64>("bench:cmd").expect("command exists");
        let typed_host = typed_middleware_host(depth);
        let typed = typed_host.command::<u64, u64>("bench:cmd").expect("command exists");
        let nested = nested_closures(depth);

        group.bench_function(BenchmarkId::new("patchpanel", depth), |b| {
            b.iter(|| black_box(&handle).call(black_box(7)).unwrap());
        });
        group.bench_function(BenchmarkId::new("patchpanel_typed", depth), |b| {
            b.iter(|| black_box(&typed).call(black_box(7)).unwrap());
        });
        group.bench_function(BenchmarkId::new("nested_dyn_fn", depth), |b| {
            b.iter(|| black_box(&nested)(black_box(7)));
        });
    }
    // Layers declared as types, named by the handle: four distinct types, so depth 4 only.
    let static_host = static_layers_host();
    let layered = static_host
        .command_with_layers::<u64, u64, FourLayers>("bench:cmd")
        .expect("command exists");
    assert!(layered.is_static(), "the bench names the chain's layers in order");
    group.bench_function(BenchmarkId::new("patchpanel_static", 4), |b| {
        b.iter(|| black_box(&layered).call(black_box(7)).unwrap());
    });
    group.finish();
}

fn json_boundary(c: &mut Criterion) {
    let mut group = c.benchmark_group("json_boundary");
    let plugin = fn_plugin(manifest("bench"), |context| {
        context.command("greet", |_, request: Greet| Ok(greet(request)))?;
        Ok(())
    });
    let host = Host::builder()
        .plugins(vec![plugin])
        .build()
        .expect("bench host starts");
    let request = serde_json::json!({ "name": "ada", "times": 3 });
    let hand = |value: serde_json::Value| -> Result<serde_json::Value, serde_json::Error> {
        let request: Greet = serde_json::from_value(value)?;
        serde_json::to_value(greet(request))
    };
    assert_eq!(
        host.execute_json("bench:greet", request.clone()).unwrap(),
        hand(request.clone()).unwrap()
    );
    group.bench_function("patchpanel_json", |b| {
        b.iter(|| {
            host.execute_json(black_box("bench:greet"), black_box(&request).clone())
                .unwrap()
        });
    });
    group.bench_function("hand_written_serde", |b| {
        b.iter(|| hand(black_box(&request).clone()).unwrap());
    });
    group.finish();
}

/// The work a cacheable command saves: a microsecond or so of arithmetic.
#[inline(never)]
fn mix(n: u64) -> u64 {
    (0..1_000).fold(n, |acc, round| {
        (acc ^ round).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
    })
}

fn result_cache(c: &mut Criterion) {
    let mut group = c.benchmark_group("result_cache");
    let policy = patchpanel::commands::CachePolicy::new(std::time::Duration::from_secs(3600), 1_024);
    let plugin = fn_plugin(manifest("bench"), move |context| {
        context.command_cached("cached", policy, |_, n: u64| Ok(mix(n)))?;
        context.command("computed", |_, n: u64| Ok(mix(n)))?;
        Ok(())
    });
    let host = Host::builder()
        .plugins(vec![plugin])
        .build()
        .expect("bench host starts");
    let cached = host.command::<u64, u64>("bench:cached").expect("command exists");
    let computed = host.command::<u64, u64>("bench:computed").expect("command exists");
    assert_eq!(cached.call(7).unwrap(), computed.call(7).unwrap());
    group.bench_function("patchpanel_cache_hit", |b| {
        b.iter(|| black_box(&cached).call(black_box(7)).unwrap());
    });
    group.bench_function("patchpanel_computed", |b| {
        b.iter(|| black_box(&computed).call(black_box(7)).unwrap());
    });
    group.bench_function("direct_computed", |b| {
        b.iter(|| mix(black_box(7)));
    });
    group.finish();
}

criterion_group!(
    benches,
    command_dispatch,
    event_publish,
    middleware_chain,
    json_boundary,
    result_cache
);
criterion_main!(benches);
