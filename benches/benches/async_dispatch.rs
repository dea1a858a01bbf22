//! Async dispatch beside a plain boxed-future call (the target: at most 1.5x).
//!
//! - `async_dispatch/boxed_future`: an `Arc<dyn Fn(u64) -> BoxFuture<u64>>` called and
//!   its future polled to completion: what a hand-written async registry costs.
//! - `async_dispatch/patchpanel_async`: `Host::execute_async` of an async command (by
//!   string id, among 100), polled to completion: the lookup, the state check, the
//!   in-flight count held across the await, the panic guard, the boxed future.
//! - `async_dispatch/patchpanel_async_handle`: the same command through a handle
//!   resolved once (`host.command::<u64, Pending<u64>>(id)`, then `call_async`).
//! - `async_dispatch/patchpanel_sync_via_async`: a synchronous command through the same
//!   async way in (its result is ready at once).
//!
//! Every future is ready at its first poll (the work is adding one), so what is measured
//! is the machinery, polled with a no-op waker: no executor.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use patchpanel::testing::fn_plugin;
use patchpanel::{Host, commands::BoxFuture};
use patchpanel_benches::{add_one, complete, manifest};

fn async_host() -> Host {
    let plugin = fn_plugin(manifest("bench"), |context| {
        for index in 0..100 {
            context.command_async(&format!("cmd{index}"), |_, n: u64| async move { Ok(add_one(n)) })?;
            context.command(&format!("sync{index}"), |_, n: u64| Ok(add_one(n)))?;
        }
        Ok(())
    });
    Host::builder()
        .plugins(vec![plugin])
        .build()
        .expect("bench host starts")
}

fn async_dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_dispatch");
    let boxed: Arc<dyn Fn(u64) -> BoxFuture<'static, u64> + Send + Sync> =
        Arc::new(|n: u64| Box::pin(async move { add_one(n) }));
    group.bench_function("boxed_future", |b| {
        b.iter(|| complete(black_box(&boxed)(black_box(1))));
    });
    let host = async_host();
    group.bench_function("patchpanel_async", |b| {
        b.iter(|| complete(host.execute_async::<u64, u64>(black_box("bench:cmd42"), black_box(1))).expect("answers"));
    });
    let handle = host
        .command::<u64, patchpanel::commands::Pending<u64>>("bench:cmd42")
        .expect("command exists");
    group.bench_function("patchpanel_async_handle", |b| {
        b.iter(|| complete(black_box(&handle).call_async(black_box(1))).expect("answers"));
    });
    group.bench_function("patchpanel_sync_via_async", |b| {
        b.iter(|| complete(host.execute_async::<u64, u64>(black_box("bench:sync42"), black_box(1))).expect("answers"));
    });
    group.finish();
}

criterion_group!(benches, async_dispatch);
criterion_main!(benches);
