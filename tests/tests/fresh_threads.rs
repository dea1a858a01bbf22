//! Quiescence with threads that come and go: a writer makes no process-wide barrier
//! while no other thread has a record in use, so a thread's first call (which registers
//! its record) must still never start in a plugin after `disable` returns. Threads are
//! spawned in batches, each makes a few calls and exits, while this thread disables and
//! enables the plugin; every call that starts after a disable returned, and every call
//! still inside when it returned, is a violation.
//!
//! This test is alone in its binary: another test's threads would hold records in use,
//! and the writer would take the barrier every time.
//!
//! It runs for `PATCHPANEL_FRESH_SECS` seconds (default 1).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use patchpanel::Host;
use patchpanel::commands::DispatchErrorKind;
use patchpanel_tests::fixture::wired;

#[derive(Default)]
struct Watch {
    inside: AtomicI64,
    disabled: AtomicBool,
    calls: AtomicU64,
    refused: AtomicU64,
    violations: AtomicU64,
}

#[test]
#[allow(clippy::print_stdout)] // the figures say how much each outcome was exercised
fn a_first_call_never_starts_in_a_plugin_after_its_disable_returned() {
    let watch = Arc::new(Watch::default());
    let in_handler = Arc::clone(&watch);
    let host = Arc::new(
        Host::builder()
            .plugins(vec![wired("target", &[], move |context| {
                let watch = Arc::clone(&in_handler);
                context.command("run", move |_, n: u64| {
                    watch.inside.fetch_add(1, Ordering::SeqCst);
                    if watch.disabled.load(Ordering::SeqCst) {
                        watch.violations.fetch_add(1, Ordering::SeqCst);
                    }
                    watch.calls.fetch_add(1, Ordering::Relaxed);
                    watch.inside.fetch_sub(1, Ordering::SeqCst);
                    Ok(n + 1)
                })?;
                Ok(())
            })])
            .build()
            .expect("the host starts"),
    );
    let seconds = std::env::var("PATCHPANEL_FRESH_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1.0);
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut rounds = 0u64;
    while Instant::now() < until {
        rounds += 1;
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (host, watch) = (Arc::clone(&host), Arc::clone(&watch));
                std::thread::spawn(move || {
                    for n in 0..3 {
                        match host.execute::<u64, u64>("target:run", n) {
                            Ok(response) => assert_eq!(response, n + 1),
                            Err(error) => {
                                assert!(matches!(error.kind(), DispatchErrorKind::NotActive { .. }), "{error}");
                                watch.refused.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        // Half the rounds disable while the workers start; the others after they ended,
        // when no other thread holds a record and the writer takes no barrier.
        if rounds.is_multiple_of(2) {
            for worker in workers {
                worker.join().expect("a worker ends");
            }
            toggle(&host, &watch);
        } else {
            toggle(&host, &watch);
            for worker in workers {
                worker.join().expect("a worker ends");
            }
        }
    }
    let (calls, refused) = (watch.calls.load(Ordering::SeqCst), watch.refused.load(Ordering::SeqCst));
    println!("{rounds} rounds: {calls} calls ran, {refused} refused while disabled");
    assert_eq!(
        watch.violations.load(Ordering::SeqCst),
        0,
        "calls started after disable returned"
    );
    assert!(
        calls > 0 && refused > 0,
        "both outcomes were seen: {calls} ran, {refused} refused"
    );
}

/// Disables the plugin, checks that no call is inside it, marks it disabled for the
/// handlers to check, and enables it again.
fn toggle(host: &Host, watch: &Watch) {
    host.disable("target").expect("the plugin disables");
    if watch.inside.load(Ordering::SeqCst) != 0 {
        watch.violations.fetch_add(1, Ordering::SeqCst);
    }
    watch.disabled.store(true, Ordering::SeqCst);
    // Give the workers of this round a moment to try while it is disabled.
    std::thread::yield_now();
    watch.disabled.store(false, Ordering::SeqCst);
    host.enable("target").expect("the plugin enables");
}
