//! Opt-in result caching: a cacheable command answers an equal request from its cache
//! without running the handler, within its time-to-live and size bound; guards still
//! run for a hit; errors are not kept; disabling, reloading and reconfiguring the plugin
//! empty the cache; a command not declared cacheable is never cached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use patchpanel::{
    Host, PluginError,
    commands::{CachePolicy, DispatchError},
};
use patchpanel_tests::fixture::{interceptor, wired};

/// `calc` with a cacheable `square` (and `fails` for odd numbers) and a plain `plain`;
/// `runs` counts the handler's runs.
fn host(policy: CachePolicy, runs: &Arc<AtomicU32>) -> Host {
    let runs = Arc::clone(runs);
    Host::builder()
        .plugins(vec![wired("calc", &[], move |context| {
            let counted = Arc::clone(&runs);
            context.command_cached("square", policy, move |_, n: u64| {
                counted.fetch_add(1, Ordering::SeqCst);
                if n % 2 == 1 && n > 100 {
                    return Err(PluginError::new(format!("{n} is odd and large")));
                }
                Ok(n * n)
            })?;
            let counted = Arc::clone(&runs);
            context.command("plain", move |_, n: u64| {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(n * n)
            })?;
            Ok(())
        })])
        .build()
        .unwrap()
}

fn square(host: &Host, n: u64) -> Result<u64, DispatchError> {
    host.execute::<u64, u64>("calc:square", n)
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn a_repeated_request_is_answered_without_running_the_handler() {
    let runs = Arc::new(AtomicU32::new(0));
    let host = host(CachePolicy::new(MINUTE, 100), &runs);
    assert_eq!(square(&host, 7).unwrap(), 49);
    assert_eq!(square(&host, 7).unwrap(), 49);
    assert_eq!(square(&host, 8).unwrap(), 64);
    // Through JSON too: the same typed request, the same cache.
    assert_eq!(
        host.execute_json("calc:square", serde_json::json!(7)).unwrap(),
        serde_json::json!(49)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2, "7 once, 8 once");
}

#[test]
fn a_command_not_declared_cacheable_is_never_cached() {
    let runs = Arc::new(AtomicU32::new(0));
    let host = host(CachePolicy::new(MINUTE, 100), &runs);
    for _ in 0..5 {
        assert_eq!(host.execute::<u64, u64>("calc:plain", 3).unwrap(), 9);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 5);
}

#[test]
fn errors_are_not_cached() {
    let runs = Arc::new(AtomicU32::new(0));
    let host = host(CachePolicy::new(MINUTE, 100), &runs);
    for _ in 0..3 {
        assert_eq!(
            square(&host, 101).unwrap_err().to_string(),
            "command `calc:square` failed in plugin `calc`: 101 is odd and large"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[test]
fn a_result_expires_after_its_time_to_live() {
    let runs = Arc::new(AtomicU32::new(0));
    let host = host(CachePolicy::new(Duration::from_millis(50), 100), &runs);
    square(&host, 4).unwrap();
    square(&host, 4).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    std::thread::sleep(Duration::from_millis(120));
    square(&host, 4).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "expired, so computed again");
}

#[test]
fn the_size_bound_evicts_the_oldest_result() {
    let runs = Arc::new(AtomicU32::new(0));
    let host = host(CachePolicy::new(MINUTE, 2), &runs);
    for n in [1, 2, 3] {
        square(&host, n).unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    square(&host, 3).unwrap(); // kept
    square(&host, 2).unwrap(); // kept
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    square(&host, 1).unwrap(); // evicted by 3: computed again, and evicts 2
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    square(&host, 2).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 5);
}

#[test]
fn disable_reload_and_reconfigure_empty_the_cache() {
    let runs = Arc::new(AtomicU32::new(0));
    let host = host(CachePolicy::new(MINUTE, 100), &runs);
    square(&host, 5).unwrap();
    square(&host, 5).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    host.disable("calc").unwrap();
    host.enable("calc").unwrap();
    square(&host, 5).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "disable emptied it");

    assert!(host.reload("calc").unwrap().old_deactivate.is_ok());
    square(&host, 5).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 3, "the new instance starts empty");
    square(&host, 5).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    let reconfigured = host.reconfigure("calc", serde_json::json!({ "any": "new configuration" }));
    assert!(reconfigured.unwrap().old_deactivate.is_ok());
    square(&host, 5).unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        4,
        "reconfigured: computed under the new configuration"
    );
}

#[test]
fn guards_run_for_a_hit() {
    let runs = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&runs);
    let host = Host::builder()
        .plugins(vec![
            wired("calc", &[], move |context| {
                let counted = Arc::clone(&counted);
                context.command_cached("square", CachePolicy::new(MINUTE, 10), move |_, n: u64| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok(n * n)
                })?;
                Ok(())
            }),
            interceptor("gate", &[], |context| {
                context.guard("calc:*", 0, |invocation, next| {
                    if invocation.metadata("token") == Some("t") {
                        next.run(invocation)
                    } else {
                        Err(invocation.reject("no token"))
                    }
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    assert_eq!(
        host.execute_with::<u64, u64>("calc:square", 6, &[("token", "t")])
            .unwrap(),
        36
    );
    let refused = host.execute::<u64, u64>("calc:square", 6).unwrap_err();
    assert_eq!(refused.to_string(), "command `calc:square` was rejected: no token");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
