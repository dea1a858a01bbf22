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

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};

use patchpanel_benches::{Tick, add_one};
use tower::util::BoxCloneService;
use tower::{Layer, Service, ServiceBuilder};

/// A tower middleware that passes the request on, as patchpanel's bench middleware does.
#[derive(Clone)]
struct Pass<S>(S);

impl<S: Service<u64>> Service<u64> for Pass<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, task: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(task)
    }

    fn call(&mut self, request: u64) -> S::Future {
        self.0.call(black_box(request))
    }
}

#[derive(Clone, Copy)]
struct PassLayer;

impl<S> Layer<S> for PassLayer {
    type Service = Pass<S>;
    fn layer(&self, inner: S) -> Pass<S> {
        Pass(inner)
    }
}

/// The terminal service: `add_one`, ready at once.
#[derive(Clone, Copy)]
struct AddOne;

impl Service<u64> for AddOne {
    type Response = u64;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<u64, std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: u64) -> Self::Future {
        std::future::ready(Ok(add_one(request)))
    }
}

/// One tower call as tower drives it: ready, call, then the future polled once.
#[inline(always)]
fn tower_call<S: Service<u64, Response = u64>>(service: &mut S, request: u64) -> u64
where
    S::Error: std::fmt::Debug,
{
    let mut task = TaskContext::from_waker(Waker::noop());
    match service.poll_ready(&mut task) {
        Poll::Ready(ready) => ready.expect("always ready"),
        Poll::Pending => unreachable!("always ready"),
    }
    let future = pin!(service.call(request));
    match future.poll(&mut task) {
        Poll::Ready(response) => response.expect("never fails"),
        Poll::Pending => unreachable!("ready at once"),
    }
}

/// A bevy_app plugin that does nothing; not unique, so N of one type can be added.
struct BevyNoop;

impl bevy_app::Plugin for BevyNoop {
    fn build(&self, _app: &mut bevy_app::App) {}

    fn is_unique(&self) -> bool {
        false
    }
}

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

type Subscriber = Arc<dyn Fn(&Tick) + Send + Sync>;

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
            let bus: arc_swap::ArcSwap<Vec<Subscriber>> = arc_swap::ArcSwap::from_pointee(
                (0..subscribers)
                    .map(|_| {
                        let sink = Arc::clone(&sink);
                        Arc::new(move |tick: &Tick| {
                            sink.fetch_add(add_one(tick.0), Ordering::Relaxed);
                        }) as Subscriber
                    })
                    .collect(),
            );
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
