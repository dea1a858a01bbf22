//! What the peers' criterion bench and their callgrind example share: tower's
//! pass-through middleware and terminal service, one tower call as tower drives it, a
//! no-op bevy_app plugin, and the hand-written `arc-swap` event bus. Both include this file with `#[path]`: the crate has no
//! library, so that `cargo test --workspace` never builds the peers.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};

use patchpanel_benches::{Tick, add_one};
use tower::{Layer, Service};

/// A tower middleware that passes the request on, as patchpanel's bench middleware does.
#[derive(Clone)]
pub(crate) struct Pass<S>(pub(crate) S);

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
pub(crate) struct PassLayer;

impl<S> Layer<S> for PassLayer {
    type Service = Pass<S>;
    fn layer(&self, inner: S) -> Pass<S> {
        Pass(inner)
    }
}

/// The terminal service: `add_one`, ready at once.
#[derive(Clone, Copy)]
pub(crate) struct AddOne;

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
pub(crate) fn tower_call<S: Service<u64, Response = u64>>(service: &mut S, request: u64) -> u64
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
pub(crate) struct BevyNoop;

impl bevy_app::Plugin for BevyNoop {
    fn build(&self, _app: &mut bevy_app::App) {}

    fn is_unique(&self) -> bool {
        false
    }
}

/// A subscriber of the hand-written bus.
pub(crate) type Subscriber = Arc<dyn Fn(&Tick) + Send + Sync>;

/// The bus a team would write: an `arc-swap`-held `Vec` of `subscribers` closures, each
/// adding to `sink` as patchpanel's bench subscribers do.
pub(crate) fn arcswap_bus(subscribers: usize, sink: &Arc<AtomicU64>) -> arc_swap::ArcSwap<Vec<Subscriber>> {
    arc_swap::ArcSwap::from_pointee(
        (0..subscribers)
            .map(|_| {
                let sink = Arc::clone(sink);
                Arc::new(move |tick: &Tick| {
                    sink.fetch_add(add_one(tick.0), Ordering::Relaxed);
                }) as Subscriber
            })
            .collect(),
    )
}
