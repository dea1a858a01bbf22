//! The peers' side of `benches/callgrind.sh`: one path of a peer, run N times.
//!
//! ```text
//! cargo run --release -p patchpanel-peer-benches --example callgrind_peers -- <path> <calls>
//! ```
//!
//! Paths: `tower_boxed4` (four pass-through layers, each a `BoxCloneService`, driven as
//! tower drives a service), `tower_static4` (the same layers composed by
//! `ServiceBuilder`), `arcswap_busN` (a publish to N of 1, 10 or 100 closures held in an
//! `arc-swap`), and `bevyN` (bevy_app's `App::new().add_plugins(..)` of N no-op plugins,
//! then the app dropped; the count is how many apps).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use patchpanel_benches::Tick;
use tower::util::BoxCloneService;
use tower::{Layer, ServiceBuilder};

#[path = "../common/fixtures.rs"]
mod fixtures;

use fixtures::{AddOne, BevyNoop, PassLayer, arcswap_bus, tower_call};

/// Builds a bevy_app `App` with `plugins` no-op plugins and drops it: what
/// `benches/callgrind.sh` counts (with `--toggle-collect`) for `bevyN`.
#[inline(never)]
fn bevy_startup_and_teardown(plugins: usize) -> usize {
    let mut app = bevy_app::App::new();
    for _ in 0..plugins {
        app.add_plugins(BevyNoop);
    }
    black_box(&mut app);
    drop(app);
    1
}

/// Runs `call` `calls` times; one instantiation per path.
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
        "tower_boxed4" => {
            let mut boxed: BoxCloneService<u64, u64, std::convert::Infallible> = BoxCloneService::new(AddOne);
            for _ in 0..4 {
                boxed = BoxCloneService::new(PassLayer.layer(boxed));
            }
            measure(calls, || tower_call(black_box(&mut boxed), black_box(7)))
        }
        "tower_static4" => {
            let mut stacked = ServiceBuilder::new()
                .layer(PassLayer)
                .layer(PassLayer)
                .layer(PassLayer)
                .layer(PassLayer)
                .service(AddOne);
            measure(calls, || tower_call(black_box(&mut stacked), black_box(7)))
        }
        path if path.starts_with("arcswap_bus") => {
            let subscribers: usize = path["arcswap_bus".len()..].parse().expect("arcswap_busN");
            let bus = arcswap_bus(subscribers, &sink);
            measure(calls, || {
                for subscriber in bus.load().iter() {
                    subscriber(black_box(&Tick(7)));
                }
                1
            })
        }
        path if path.starts_with("bevy") => {
            let plugins: usize = path["bevy".len()..].parse().expect("bevyN");
            (0..calls).map(|_| bevy_startup_and_teardown(plugins)).sum::<usize>() as u64
        }
        other => panic!("unknown path `{other}`"),
    };
    black_box((total, sink.load(Ordering::Relaxed)));
}
