//! One dispatch path or its baseline, run N times, for `benches/callgrind.sh`: the
//! script runs each path under `valgrind --tool=callgrind` at two counts and divides the
//! difference in instructions by the difference in calls, so set-up costs cancel out.
//!
//! ```text
//! cargo run --release -p patchpanel-benches --example callgrind_paths -- <path> <calls>
//! ```
//!
//! Paths: `direct`, `dyn_fn`, `fallible_dyn_fn` (a boxed closure returning the handler's
//! `Result`), `handle`, `str`, `fx_map`, `sip_map` (the last three over
//! the same 1,000 command ids), `json`, `hand_json`, `publishN`, `channelN` and
//! `vec_dyn_fnN` for N of 1, 10 and 100 subscribers, `middlewareN` (pattern middleware),
//! `typed_middlewareN` (typed middleware) and `nested_dyn_fnN` (N layers; CI counts 4),
//! `static_layers4` (four layers declared as types, named by a `LayeredHandle`),
//! `async`, `async_handle`, `boxed_future`, `cache_hit`, and `startupN` (N of 100,
//! 1,000 and 10,000 plugins, where the count is how many hosts are built and dropped),
//! and `registerN` (one plugin registering N commands, likewise).
//! The peers (tower, arc-swap, bevy_app) are in `patchpanel-peer-benches`' example
//! `callgrind_peers`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use patchpanel::registry::ExpectedPlugin;
use patchpanel::testing::fn_plugin;
use patchpanel::{Host, PluginError, commands::BoxFuture};
use patchpanel_benches::{
    FourLayers, Greet, Tick, add_one, command_host, commands_plugin, complete, expectations, greet, manifest,
    middleware_host, nested_closures, static_layers_host, synthetic_plugins, typed_middleware_host,
};

/// A hand-written bus's subscriber.
type Subscriber = Box<dyn Fn(&Tick) + Send + Sync>;

/// A host with 100 commands (sync `cmdN`, async `asyncN`, cacheable `cached`, JSON
/// `greet`) and `subscribers` subscribers of `Tick`.
fn host(subscribers: usize) -> Host {
    let sink = Arc::new(AtomicU64::new(0));
    let mut plugins = vec![fn_plugin(manifest("bench"), |context| {
        for index in 0..100 {
            context.command(&format!("cmd{index}"), |_, n: u64| Ok(add_one(n)))?;
            context.command_async(&format!("async{index}"), |_, n: u64| async move { Ok(add_one(n)) })?;
        }
        let policy = patchpanel::commands::CachePolicy::new(std::time::Duration::from_secs(3600), 64);
        context.command_cached("cached", policy, |_, n: u64| Ok(add_one(n)))?;
        context.command("greet", |_, request: Greet| Ok(greet(request)))?;
        Ok(())
    })];
    for index in 0..subscribers {
        let sink = Arc::clone(&sink);
        plugins.push(fn_plugin(manifest(&format!("listener{index:03}")), move |context| {
            let sink = Arc::clone(&sink);
            context.subscribe(move |_, tick: &Tick| {
                sink.fetch_add(add_one(tick.0), Ordering::Relaxed);
                Ok(())
            });
            Ok(())
        }));
    }
    Host::builder().plugins(plugins).build().expect("bench host starts")
}

/// How many commands the string-id host and its hand-written maps hold.
const STRING_IDS: usize = 1_000;

/// The id every string-id path looks up.
const LOOKED_UP: &str = "bench:cmd421";

/// A host whose plugin `bench` registers [`STRING_IDS`] commands, `bench:cmd0` to
/// `bench:cmd999`, each adding one.
fn string_host() -> Host {
    command_host(STRING_IDS)
}

/// The same ids as [`string_host`]'s, each to a boxed closure: the hand-written registry.
fn string_map<S: std::hash::BuildHasher + Default>() -> HashMap<String, Box<dyn Fn(u64) -> u64>, S> {
    (0..STRING_IDS)
        .map(|index| {
            (
                format!("bench:cmd{index}"),
                Box::new(add_one) as Box<dyn Fn(u64) -> u64>,
            )
        })
        .collect()
}

/// Builds a host of `plugins` no-op plugins (about two dependency edges each), shuts it
/// down and drops it. The plugin specs are cloned from one registry before the count
/// starts, as `Host::builder()` clones the link-time registry's (converted once a
/// process): the host shares their manifests, and dropping it frees none of them.
#[inline(never)]
fn startup_and_teardown(specs: Vec<patchpanel::PluginSpec>) -> usize {
    let host = Host::builder().plugins(specs).build().expect("bench host starts");
    let report = host.shutdown();
    black_box(&report);
    1
}

/// [`startup_and_teardown`] for an application that names its plugins (`expectedN`:
/// the expectations carry no order, so start-up resolves; `linkedN`: they carry the
/// order `link_plugins!` would have checked at compile time, which start-up takes).
#[inline(never)]
fn startup_expected_and_teardown((specs, expected): (Vec<patchpanel::PluginSpec>, Vec<ExpectedPlugin>)) -> usize {
    let host = Host::builder()
        .plugins(specs)
        .expect(expected)
        .build()
        .expect("bench host starts");
    let report = host.shutdown();
    black_box(&report);
    1
}

/// `count` synthetic plugins and the application's expectations of them (made before
/// the count starts).
fn expected_plugins(count: usize, ranked: bool) -> (Vec<patchpanel::PluginSpec>, Vec<ExpectedPlugin>) {
    let specs = synthetic_plugins(count);
    let expected = expectations(&specs, ranked);
    (specs, expected)
}

/// Builds a host of one plugin that registers `commands` commands, shuts it down and
/// drops it (`registerN`: linear in N, as the duplicate checks are hash lookups).
#[inline(never)]
fn register_and_teardown(commands: usize) -> usize {
    // Made by a function of another name: callgrind's `--toggle-collect` flips on every
    // function whose name matches, so a closure defined here (named
    // `register_and_teardown::{{closure}}`) would switch counting off while it ran.
    let plugin = commands_plugin("many", commands);
    let host = Host::builder()
        .plugins(vec![plugin])
        .build()
        .expect("bench host starts");
    black_box(&host.shutdown());
    1
}

/// The subscriber count of a `publishN`, `channelN` or `vec_dyn_fnN` path.
fn subscribers_of(path: &str, prefix: &str) -> Option<usize> {
    path.strip_prefix(prefix)?.parse().ok()
}

/// Runs `call` `calls` times: one function per path (a generic instantiation each), so
/// that adding a path does not change how the others are inlined. Defined here, in the
/// example that is measured, rather than shared: a copy in the benches' library made the
/// JSON path's code (and its count) differ.
#[inline(never)]
fn measure(calls: u64, mut call: impl FnMut() -> u64) -> u64 {
    (0..calls).fold(0_u64, |total, _| total.wrapping_add(call()))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("a path name");
    let calls: u64 = args.next().and_then(|n| n.parse().ok()).expect("a call count");
    let sink = Arc::new(AtomicU64::new(0));
    let total = match path.as_str() {
        "direct" => measure(calls, || add_one(black_box(7))),
        "dyn_fn" => {
            let f: Box<dyn Fn(u64) -> u64> = Box::new(add_one);
            measure(calls, || black_box(&f)(black_box(7)))
        }
        "fallible_dyn_fn" => {
            // The handler a typed handle calls, as a bare boxed closure: what a command
            // costs with every check taken away (no record, no state, no guard), the
            // floor of the handler's signature against `dyn_fn`.
            let f: Box<dyn Fn(u64) -> Result<u64, PluginError>> = Box::new(|n| Ok(add_one(n)));
            measure(calls, || black_box(&f)(black_box(7)).unwrap())
        }
        "handle" => {
            let host = host(0);
            let handle = host.command::<u64, u64>("bench:cmd42").unwrap();
            measure(calls, || black_box(&handle).call(black_box(7)).unwrap())
        }
        "str" => {
            let host = string_host();
            measure(calls, || {
                host.execute::<u64, u64>(black_box(LOOKED_UP), black_box(7)).unwrap()
            })
        }
        "fx_map" => {
            let map = string_map::<rustc_hash::FxBuildHasher>();
            measure(calls, || black_box(&map)[black_box(LOOKED_UP)](black_box(7)))
        }
        "sip_map" => {
            let map = string_map::<std::hash::RandomState>();
            measure(calls, || black_box(&map)[black_box(LOOKED_UP)](black_box(7)))
        }
        "cache_hit" => {
            let host = host(0);
            let handle = host.command::<u64, u64>("bench:cached").unwrap();
            measure(calls, || black_box(&handle).call(black_box(7)).unwrap())
        }
        "json" | "hand_json" => {
            let host = host(0);
            let request = serde_json::json!({ "name": "ada", "times": 3 });
            if path == "json" {
                measure(calls, || {
                    let response = host
                        .execute_json(black_box("bench:greet"), black_box(&request).clone())
                        .unwrap();
                    response["count"].as_u64().unwrap()
                })
            } else {
                measure(calls, || {
                    let request: Greet = serde_json::from_value(black_box(&request).clone()).unwrap();
                    serde_json::to_value(greet(request)).unwrap()["count"].as_u64().unwrap()
                })
            }
        }
        path if path.starts_with("publish") => {
            let host = host(subscribers_of(path, "publish").expect("publishN"));
            measure(calls, || host.publish(black_box(&Tick(7))).reached as u64)
        }
        path if path.starts_with("channel") => {
            let host = host(subscribers_of(path, "channel").expect("channelN"));
            let channel = host.channel::<Tick>();
            measure(calls, || {
                black_box(&channel).publish(black_box(&Tick(7))).reached as u64
            })
        }
        path if path.starts_with("vec_dyn_fn") => {
            let subscribers: Vec<Subscriber> = (0..subscribers_of(path, "vec_dyn_fn").expect("vec_dyn_fnN"))
                .map(|_| {
                    let sink = Arc::clone(&sink);
                    Box::new(move |tick: &Tick| {
                        sink.fetch_add(add_one(tick.0), Ordering::Relaxed);
                    }) as Subscriber
                })
                .collect();
            measure(calls, || {
                for subscriber in black_box(&subscribers) {
                    subscriber(black_box(&Tick(7)));
                }
                1
            })
        }
        path if path.starts_with("register") => {
            let commands = path["register".len()..].parse().expect("registerN");
            (0..calls).map(|_| register_and_teardown(commands)).sum::<usize>() as u64
        }
        path if path.starts_with("expected") || path.starts_with("linked") => {
            let ranked = path.starts_with("linked");
            let plugins = path
                .trim_start_matches(char::is_alphabetic)
                .parse()
                .expect("expectedN or linkedN");
            // One registry, as in a process: each build gets its specs (which share
            // their manifests with the registry's), as criterion's start-up bench does.
            let registry = expected_plugins(plugins, ranked);
            let batches: Vec<_> = (0..calls).map(|_| registry.clone()).collect();
            batches.into_iter().map(startup_expected_and_teardown).sum::<usize>() as u64
        }
        path if path.starts_with("startup") => {
            let plugins = path["startup".len()..].parse().expect("startupN");
            let registry = synthetic_plugins(plugins);
            let batches: Vec<_> = (0..calls).map(|_| registry.clone()).collect();
            batches.into_iter().map(startup_and_teardown).sum::<usize>() as u64
        }
        "static_layers4" => {
            let host = static_layers_host();
            let handle = host.command_with_layers::<u64, u64, FourLayers>("bench:cmd").unwrap();
            assert!(handle.is_static(), "the bench names the chain's layers in order");
            measure(calls, || black_box(&handle).call(black_box(7)).unwrap())
        }
        path if path.starts_with("typed_middleware") => {
            let depth = path["typed_middleware".len()..].parse().expect("typed_middlewareN");
            let host = typed_middleware_host(depth);
            let handle = host.command::<u64, u64>("bench:cmd").unwrap();
            measure(calls, || black_box(&handle).call(black_box(7)).unwrap())
        }
        path if path.starts_with("middleware") => {
            let depth = path["middleware".len()..].parse().expect("middlewareN");
            let host = middleware_host(depth);
            let handle = host.command::<u64, u64>("bench:cmd").unwrap();
            measure(calls, || black_box(&handle).call(black_box(7)).unwrap())
        }
        path if path.starts_with("nested_dyn_fn") => {
            let depth = path["nested_dyn_fn".len()..].parse().expect("nested_dyn_fnN");
            let nested = nested_closures(depth);
            measure(calls, || black_box(&nested)(black_box(7)))
        }
        "async" => {
            let host = host(0);
            measure(calls, || {
                complete(host.execute_async::<u64, u64>(black_box("bench:async42"), 7)).unwrap()
            })
        }
        "async_handle" => {
            let host = host(0);
            let handle = host
                .command::<u64, patchpanel::commands::Pending<u64>>("bench:async42")
                .unwrap();
            measure(calls, || complete(black_box(&handle).call_async(black_box(7))).unwrap())
        }
        "boxed_future" => {
            let boxed: Arc<dyn Fn(u64) -> BoxFuture<'static, u64> + Send + Sync> =
                Arc::new(|n: u64| Box::pin(async move { add_one(n) }));
            measure(calls, || complete(black_box(&boxed)(black_box(7))))
        }
        other => panic!("unknown path `{other}`"),
    };
    black_box((total, sink.load(Ordering::Relaxed)));
}
