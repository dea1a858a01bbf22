//! The hot path allocates nothing: a typed-handle dispatch, a string-id dispatch, an
//! event publish, a middleware chain (pattern, typed, or layers declared as types and
//! named by a handle), and an async command whose future is small, counted by a global
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use patchpanel::Host;
use patchpanel::blocking::block_on;
use patchpanel::commands::Pending;
use patchpanel_tests::fixture::{interceptor, wired};

/// A layer declared as a type that passes the request on.
struct Pass;

impl patchpanel::commands::Layer<u64, u64> for Pass {
    fn call(
        &self,
        n: u64,
        next: impl patchpanel::commands::Downstream<u64, u64>,
    ) -> Result<u64, patchpanel::commands::DispatchError> {
        next.run(black_box(n))
    }
}

/// Counts the allocations made on the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        unsafe { System.realloc(pointer, layout, size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_during(mut work: impl FnMut()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

struct Tick(u64);

#[test]
fn the_hot_path_makes_no_heap_allocation() {
    let mut plugins = vec![wired("math", &[], |context| {
        context.command("double", |_, n: u64| Ok(n * 2))?;
        context.command("chained", |_, n: u64| Ok(n + 1))?;
        context.command("typed", |_, n: u64| Ok(n + 1))?;
        context.command("layered", |_, n: u64| Ok(n + 1))?;
        Ok(())
    })];
    for index in 0..10 {
        plugins.push(wired(&format!("listener{index}"), &[], |context| {
            context.subscribe(|_, tick: &Tick| {
                black_box(tick.0);
                Ok(())
            });
            Ok(())
        }));
    }
    for index in 0..4 {
        plugins.push(interceptor(&format!("layer{index}"), &[], |context| {
            context.middleware("math:chained", 0, |invocation, next| {
                black_box(invocation.command());
                next.run(invocation)
            })?;
            context.typed_middleware(
                "math:typed",
                0,
                |n: u64, next: patchpanel::commands::TypedNext<'_, u64, u64>| next.run(black_box(n)),
            )?;
            context.layer("math:layered", 0, Pass)?;
            Ok(())
        }));
    }
    let host = Host::builder().plugins(plugins).build().unwrap();
    let double = host.command::<u64, u64>("math:double").unwrap();
    let chained = host.command::<u64, u64>("math:chained").unwrap();
    let typed = host.command::<u64, u64>("math:typed").unwrap();
    let layered = host
        .command_with_layers::<u64, u64, (Pass, Pass, Pass, Pass)>("math:layered")
        .unwrap();
    let ticks = host.channel::<Tick>();

    // Warm up anything lazily initialised (thread-locals of the panic machinery).
    double.call(1).unwrap();

    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(double.call(n).unwrap());
        }),
        0,
        "typed handle"
    );
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(host.execute::<u64, u64>("math:double", n).unwrap());
        }),
        0,
        "string id"
    );
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(host.publish(&Tick(n)));
        }),
        0,
        "publish"
    );
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(ticks.publish(&Tick(n)));
        }),
        0,
        "channel"
    );
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(chained.call(n).unwrap());
        }),
        0,
        "middleware"
    );
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(typed.call(n).unwrap());
            black_box(host.execute::<u64, u64>("math:typed", n).unwrap());
        }),
        0,
        "typed middleware, by handle and by id"
    );
    assert!(format!("{typed:?}").contains("typed chain"), "{typed:?}");
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(layered.call(n).unwrap());
        }),
        0,
        "layers declared as types, named by a handle"
    );
    assert!(layered.is_static());
    assert_eq!(layered.call(1).unwrap(), 2);
    assert_eq!(typed.call(1).unwrap(), 2);
    assert_eq!(host.publish(&Tick(0)).reached, 10);
    assert_eq!(chained.call(1).unwrap(), 2);

    // The counter is live: an allocation is seen.
    assert_eq!(allocations_during(|| drop(black_box(Box::new(1)))), 1);
}

/// An async command's future is kept in the `Pending` that awaits it when it fits
/// (72 bytes of the handler's own), so a call allocates nothing; a larger one is boxed,
/// one allocation a call. (`block_on` polls first with a waker that allocates nothing,
/// and these futures are ready at that poll.)
#[test]
fn a_small_async_future_allocates_nothing_and_a_large_one_is_boxed_once() {
    let host = Host::builder()
        .plugins(vec![wired("clock", &[], |context| {
            context.command_async("small", |_, n: u64| async move { Ok(n + 1) })?;
            context.command_async("large", |_, n: u64| async move {
                let ballast = black_box([n as u8; 256]);
                std::future::ready(()).await;
                Ok(u64::from(black_box(ballast)[255]) + 1)
            })?;
            Ok(())
        })])
        .build()
        .unwrap();
    let small = host.command::<u64, Pending<u64>>("clock:small").unwrap();
    let large = host.command::<u64, Pending<u64>>("clock:large").unwrap();
    assert_eq!(block_on(small.call_async(1)).unwrap(), 2);
    assert_eq!(block_on(large.call_async(1)).unwrap(), 2);

    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(block_on(small.call_async(n)).unwrap());
        }),
        0,
        "async handle, small future"
    );
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(block_on(host.execute_async::<u64, u64>("clock:small", n)).unwrap());
        }),
        0,
        "async by string id, small future"
    );
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(block_on(large.call_async(n)).unwrap());
        }),
        1000,
        "async handle, large future"
    );
}

/// A service whose answer is a small future, not boxed.
trait Counter: Send + Sync {
    fn next(&self, n: u64) -> std::future::Ready<u64>;
}

struct Plus;

impl Counter for Plus {
    fn next(&self, n: u64) -> std::future::Ready<u64> {
        std::future::ready(n + 1)
    }
}

/// A `Deferred` (an async service call, hook or inbox answer) keeps a small future
/// inline too: an async service call whose future is small allocates nothing.
#[test]
fn an_async_service_call_with_a_small_future_allocates_nothing() {
    let host = Host::builder()
        .plugins(vec![wired("counter", &[], |context| {
            context.provide::<dyn Counter>(std::sync::Arc::new(Plus));
            Ok(())
        })])
        .build()
        .unwrap();
    let counter = host.service::<dyn Counter>().unwrap();
    assert_eq!(block_on(counter.with_async(|counter| counter.next(1))).unwrap(), 2);
    assert_eq!(
        allocations_during(|| for n in 0..1000 {
            black_box(block_on(counter.with_async(|counter| counter.next(n))).unwrap());
        }),
        0,
        "async service call, small future"
    );
}
