//! Async commands: the async and JSON ways in, the typed refusal of a synchronous
//! caller, failures and panics across `.await`, middleware around an async handler,
//! quiescence (disable and shutdown wait for calls in flight, reload lets them finish on
//! the old instance), and a bounded hammer of calls against lifecycle churn. No
//! executor: futures are driven by `patchpanel::blocking::block_on` or polled by hand.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchpanel::testing::{FnPlugin, TestHost};
use patchpanel::{
    AsyncCall, Context, Host, Plugin, PluginError, PluginSpec, State,
    blocking::block_on,
    commands::{DispatchErrorKind, Pending},
};
use patchpanel_tests::fixture::{interceptor, wired};
use patchpanel_tests::futures::{Gate, yield_once};

fn clock() -> PluginSpec {
    wired("clock", &[], |context| {
        context.command_async("echo", |call: AsyncCall<FnPlugin>, text: String| async move {
            yield_once().await;
            Ok(format!("{} heard {text}", call.plugin()))
        })?;
        context.command_async("fail", |_, (): ()| async move {
            yield_once().await;
            Err::<u8, _>(PluginError::new("the clock stopped"))
        })?;
        context.command_async("panic", |_, (): ()| async move {
            yield_once().await;
            if std::hint::black_box(true) {
                panic!("the clock broke");
            }
            Ok(0_u8)
        })?;
        context.command("sync", |_, n: u64| Ok(n + 1))?;
        Ok(())
    })
}

#[test]
fn an_async_command_answers_the_async_and_json_ways() {
    let host = Host::builder().plugins(vec![clock()]).build().unwrap();
    assert_eq!(
        block_on(host.execute_async::<String, String>("clock:echo", "tick".into())).unwrap(),
        "clock heard tick"
    );
    assert_eq!(
        block_on(host.execute_json_async("clock:echo", serde_json::json!("tock"))).unwrap(),
        serde_json::json!("clock heard tock")
    );
    // A synchronous command through the async way in is ready at once.
    assert_eq!(block_on(host.execute_async::<u64, u64>("clock:sync", 41)).unwrap(), 42);
    assert_eq!(
        block_on(host.execute_json_async("clock:sync", serde_json::json!(1))).unwrap(),
        serde_json::json!(2)
    );
}

#[test]
fn a_synchronous_caller_of_an_async_command_is_told_the_way_in() {
    let host = Host::builder().plugins(vec![clock()]).build().unwrap();
    let expected = "command `clock:echo` is async: call it with `execute_async` or `execute_json_async` and await the result (from code outside any async runtime, `patchpanel::blocking::block_on` waits for it)";
    let error = host.execute::<String, String>("clock:echo", "tick".into()).unwrap_err();
    assert!(matches!(error.kind(), DispatchErrorKind::Asynchronous { command } if command == "clock:echo"));
    assert_eq!(error.to_string(), expected);
    let error = host.execute_json("clock:echo", serde_json::json!("tick")).unwrap_err();
    assert_eq!(error.to_string(), expected);
    let error = host.command::<String, String>("clock:echo").err().unwrap();
    assert_eq!(error.to_string(), expected);
}

#[test]
fn failures_after_an_await_are_typed_and_audited_and_the_host_goes_on() {
    let host = Host::builder().plugins(vec![clock()]).build().unwrap();
    let error = block_on(host.execute_async::<(), u8>("clock:fail", ())).unwrap_err();
    assert!(
        matches!(error.kind(), DispatchErrorKind::Handler { command, plugin, .. } if command == "clock:fail" && plugin == "clock")
    );
    assert_eq!(
        error.to_string(),
        "command `clock:fail` failed in plugin `clock`: the clock stopped"
    );
    let error = block_on(host.execute_async::<(), u8>("clock:panic", ())).unwrap_err();
    assert!(matches!(error.kind(), DispatchErrorKind::Panicked { message, .. } if message == "the clock broke"));
    let audited: Vec<String> = host
        .audit()
        .records_for("clock")
        .into_iter()
        .filter(|record| record.action == "command clock:fail" || record.action == "command clock:panic")
        .map(|record| record.details.to_string())
        .collect();
    assert_eq!(audited, ["the clock stopped", "panicked: the clock broke"]);
    assert_eq!(
        block_on(host.execute_async::<String, String>("clock:echo", "still".into())).unwrap(),
        "clock heard still"
    );
    assert_eq!(host.plugin("clock").unwrap().state(), State::Active);
}

/// A handle on an async command, resolved once, answers through `call_async` as the
/// host does: the response, a failure after an await, a panic while the future is made
/// (before any await), the plugin disabled and enabled again, and a reload.
#[test]
fn an_async_handle_answers_fails_and_follows_the_lifecycle() {
    let early = wired("early", &[], |context| {
        context.command_async("boom", |_, (): ()| {
            if std::hint::black_box(true) {
                panic!("no future today");
            }
            async move { Ok(0_u8) }
        })?;
        Ok(())
    });
    let host = Host::builder().plugins(vec![clock(), early]).build().unwrap();
    let echo = host.command::<String, Pending<String>>("clock:echo").unwrap();
    let fail = host.command::<(), Pending<u8>>("clock:fail").unwrap();
    let boom = host.command::<(), Pending<u8>>("early:boom").unwrap();
    assert_eq!(block_on(echo.call_async("one".into())).unwrap(), "clock heard one");
    let error = block_on(fail.call_async(())).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `clock:fail` failed in plugin `clock`: the clock stopped"
    );
    let error = block_on(boom.call_async(())).unwrap_err();
    assert!(
        matches!(error.kind(), DispatchErrorKind::Panicked { plugin, message, .. } if plugin == "early" && message == "no future today"),
        "{error:?}"
    );
    assert_eq!(host.plugin("early").unwrap().state(), State::Active);
    host.disable("clock").unwrap();
    let error = block_on(echo.call_async("two".into())).unwrap_err();
    assert!(matches!(error.kind(), DispatchErrorKind::NotActive { .. }), "{error:?}");
    host.enable("clock").unwrap();
    assert_eq!(block_on(echo.call_async("three".into())).unwrap(), "clock heard three");
    assert_eq!(host.reload("clock").unwrap().generation, 1);
    assert_eq!(block_on(echo.call_async("four".into())).unwrap(), "clock heard four");
}

#[test]
fn an_unknown_async_command_is_a_ready_error_with_a_suggestion() {
    let host = Host::builder().plugins(vec![clock()]).build().unwrap();
    let error = block_on(host.execute_json_async("clock:ech", serde_json::json!("x"))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown command `clock:ech`; did you mean `clock:echo`?"
    );
    let error = block_on(host.execute_json_async("clock:echo", serde_json::json!(7))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `clock:echo`: the request is not a valid `alloc::string::String`: invalid type: integer `7`, expected a string"
    );
}

#[test]
fn middleware_runs_before_an_async_handler_starts() {
    let started = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&started);
    let host = Host::builder()
        .plugins(vec![
            interceptor("guard", &[], |context| {
                context.middleware("clock:*", 10, |invocation, next| {
                    if invocation.metadata("token") != Some("t") {
                        return Err(invocation.reject("no token"));
                    }
                    next.run(invocation)
                })?;
                Ok(())
            }),
            wired("clock", &[], move |context| {
                let counter = Arc::clone(&counter);
                context.command_async("count", move |_, (): ()| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { Ok(1_u8) }
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let error = block_on(host.execute_async::<(), u8>("clock:count", ())).unwrap_err();
    assert_eq!(error.to_string(), "command `clock:count` was rejected: no token");
    assert_eq!(
        started.load(Ordering::SeqCst),
        0,
        "a rejected call never starts its handler"
    );
    let pending = host.execute_async_with::<(), u8>("clock:count", (), &[("token", "t")]);
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the handler starts at the call, not at the first poll"
    );
    assert_eq!(block_on(pending).unwrap(), 1);
}

/// A plugin whose async handler waits on a gate, and which records its deactivation.
#[patchpanel::register_plugin(id = "slow", version = "1.0.0", permissions = { commands = ["register"] })]
#[derive(Default)]
struct Slow {
    deactivated: Arc<AtomicBool>,
}

static GATE: Mutex<Option<Gate>> = Mutex::new(None);
static DEACTIVATIONS: AtomicUsize = AtomicUsize::new(0);

impl Plugin for Slow {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let deactivated = Arc::clone(&self.deactivated);
        context.command_async("wait", move |_, (): ()| {
            let gate = GATE.lock().unwrap().clone().expect("the test set a gate");
            let deactivated = Arc::clone(&deactivated);
            async move {
                gate.wait().await;
                // The instance this call started on must still be active.
                Ok(!deactivated.load(Ordering::SeqCst))
            }
        })?;
        Ok(())
    }

    fn deactivate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.deactivated.store(true, Ordering::SeqCst);
        DEACTIVATIONS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Serialises the tests that share `GATE`.
static SLOW_TESTS: Mutex<()> = Mutex::new(());

#[test]
fn disable_waits_for_async_calls_in_flight_and_reload_lets_them_finish_on_the_old_instance() {
    let _serial = SLOW_TESTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let gate = Gate::default();
    *GATE.lock().unwrap() = Some(gate.clone());
    let host = Arc::new(
        Host::builder()
            .plugins(vec![PluginSpec::registered::<Slow>().unwrap()])
            .build()
            .unwrap(),
    );

    // Disable: the call in flight holds it until the gate opens.
    let pending = host.execute_async::<(), bool>("slow:wait", ());
    let disabled = Arc::new(AtomicBool::new(false));
    let disabler = {
        let (host, disabled) = (Arc::clone(&host), Arc::clone(&disabled));
        std::thread::spawn(move || {
            host.disable("slow").unwrap();
            disabled.store(true, Ordering::SeqCst);
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !disabled.load(Ordering::SeqCst),
        "disable returned while an async call was in flight"
    );
    // New calls are already refused: the plugin is disabled for them.
    let refused = block_on(host.execute_async::<(), bool>("slow:wait", ())).unwrap_err();
    assert!(matches!(
        refused.kind(),
        DispatchErrorKind::NotActive {
            state: State::Disabled,
            ..
        }
    ));
    gate.open();
    assert!(
        block_on(pending).unwrap(),
        "the call finished on an instance that was still active"
    );
    disabler.join().unwrap();
    assert!(disabled.load(Ordering::SeqCst));
    host.enable("slow").unwrap();

    // Reload: the new instance serves new calls at once; the old one is deactivated
    // only when its call has finished.
    let gate = Gate::default();
    *GATE.lock().unwrap() = Some(gate.clone());
    let before = DEACTIVATIONS.load(Ordering::SeqCst);
    let pending = host.execute_async::<(), bool>("slow:wait", ());
    let reloader = {
        let host = Arc::clone(&host);
        std::thread::spawn(move || host.reload("slow").map(|report| report.generation))
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        DEACTIVATIONS.load(Ordering::SeqCst),
        before,
        "the old instance was deactivated under its call"
    );
    gate.open();
    assert!(block_on(pending).unwrap());
    assert_eq!(reloader.join().unwrap().unwrap(), 1);
    assert_eq!(DEACTIVATIONS.load(Ordering::SeqCst), before + 1);
    assert!(block_on(host.execute_async::<(), bool>("slow:wait", ())).unwrap());

    // Shutdown waits too.
    let gate = Gate::default();
    *GATE.lock().unwrap() = Some(gate.clone());
    let pending = host.execute_async::<(), bool>("slow:wait", ());
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        gate.open();
        block_on(pending)
    });
    let host = Arc::into_inner(host).expect("the test threads have finished with the host");
    let report = host.shutdown();
    assert_eq!(report.deactivated, ["slow"]);
    assert!(
        opener.join().unwrap().unwrap(),
        "shutdown deactivated the instance under its call"
    );
}

#[test]
fn a_disable_with_a_deadline_does_not_wait_for_ever_and_reports_the_calls_left_running() {
    let _serial = SLOW_TESTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let gate = Gate::default();
    *GATE.lock().unwrap() = Some(gate.clone());
    let host = Host::builder()
        .plugins(vec![PluginSpec::registered::<Slow>().unwrap()])
        .deactivation_deadline(Duration::from_millis(50))
        .build()
        .unwrap();
    let pending = host.execute_async::<(), bool>("slow:wait", ());
    let started = Instant::now();
    host.disable("slow").unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let incidents = host.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].site, "async calls");
    assert_eq!(
        incidents[0].message,
        "1 async calls were still running at the deactivation deadline; the instance went on without waiting for them"
    );
    gate.open();
    assert!(block_on(pending).unwrap());
}

#[test]
fn async_plugins_are_tested_with_test_host() {
    let test = TestHost::builder().spec(clock()).build().unwrap();
    assert_eq!(
        block_on(test.host().execute_async::<String, String>("clock:echo", "hi".into())).unwrap(),
        "clock heard hi"
    );
    assert_eq!(test.commands().len(), 1);
    assert_eq!(test.commands()[0].command, "clock:echo");
}

#[test]
fn an_async_handler_calls_into_the_host_as_its_plugin_between_awaits() {
    let host = Host::builder()
        .plugins(vec![
            clock(),
            wired("relay", &["clock"], |context| {
                context.command("double", |_, n: u64| Ok(n * 2))?;
                context.command_async("forward", |call: AsyncCall<FnPlugin>, n: u64| async move {
                    yield_once().await;
                    let answer = call.with(|call| call.execute::<u64, u64>("relay:double", n))?;
                    yield_once().await;
                    // It runs as `relay`, under `relay`'s manifest: another plugin's
                    // command needs `commands.execute` at scope `all`.
                    let denied = call
                        .with(|call| call.execute::<u64, u64>("clock:sync", n))
                        .unwrap_err()
                        .to_string();
                    Ok((answer, denied, call.invoker().map(str::to_owned)))
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let (answer, denied, invoker) =
        block_on(host.execute_async::<u64, (u64, String, Option<String>)>("relay:forward", 9)).unwrap();
    assert_eq!(answer, 18);
    assert_eq!(
        denied,
        "permission denied: plugin `relay` may not commands.execute on `clock`: its manifest declares `commands.execute` for its own namespace only; declare `commands = { execute = true, scope = \"all\" }` to reach other plugins"
    );
    assert_eq!(invoker, None, "the application invoked it");
}

/// A plugin whose async handler suspends three times and reports whether its instance
/// was deactivated under it.
#[patchpanel::register_plugin(id = "counted", version = "1.0.0", permissions = { commands = ["register"] })]
#[derive(Default)]
struct Counted {
    deactivated: Arc<AtomicBool>,
}
impl Plugin for Counted {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let deactivated = Arc::clone(&self.deactivated);
        context.command_async("work", move |_, (): ()| {
            let deactivated = Arc::clone(&deactivated);
            async move {
                // Long enough (a few hundred microseconds, suspended three times)
                // that a reload's switch lands inside many calls.
                for _ in 0..3 {
                    yield_once().await;
                    std::thread::sleep(Duration::from_micros(100));
                }
                Ok(!deactivated.load(Ordering::SeqCst))
            }
        })?;
        Ok(())
    }
    fn deactivate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.deactivated.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// Threads run async calls while another disables, enables and reloads the plugin, for
/// a bounded time. A violation is a call whose handler ran to its end on an instance
/// that had been deactivated, or a call lost (neither answered nor refused).
#[test]
fn async_calls_against_lifecycle_churn_never_outlive_their_instance() {
    let host = Arc::new(
        Host::builder()
            .plugins(vec![PluginSpec::registered::<Counted>().unwrap()])
            .build()
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, refused, violations) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let (host, stop) = (Arc::clone(&host), Arc::clone(&stop));
            let (answered, refused, violations) =
                (Arc::clone(&answered), Arc::clone(&refused), Arc::clone(&violations));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match block_on(host.execute_async::<(), bool>("counted:work", ())) {
                        Ok(true) => answered.fetch_add(1, Ordering::Relaxed),
                        Ok(false) => violations.fetch_add(1, Ordering::Relaxed),
                        Err(error) if matches!(error.kind(), DispatchErrorKind::NotActive { .. }) => {
                            std::thread::yield_now();
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(error) => panic!("unexpected failure: {error}"),
                    };
                }
            })
        })
        .collect();
    let started = Instant::now();
    let mut changes = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        host.disable("counted").unwrap();
        host.enable("counted").unwrap();
        std::thread::sleep(Duration::from_micros(500));
        let _ = host.reload("counted").unwrap();
        std::thread::sleep(Duration::from_micros(500));
        changes += 3;
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().unwrap();
    }
    let (answered, refused, violations) = (
        answered.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        violations.load(Ordering::Relaxed),
    );
    eprintln!("{answered} answered, {refused} refused, {changes} lifecycle changes, {violations} violations");
    assert!(answered > 0 && changes > 0);
    assert_eq!(violations, 0, "async calls finished on a deactivated instance");
}

/// Counts its drops: carried by a handler's future, it tells when the future was dropped.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A handler's future is kept in its `Pending` when it is small and boxed when it is
/// large (allocations.rs counts which). Either way it answers and fails as it should,
/// and a `Pending` dropped unfinished drops the handler's future with it and ends the
/// call at once: a disable does not wait for it.
#[test]
fn small_and_large_futures_answer_fail_and_end_when_dropped_unfinished() {
    let drops = Arc::new(AtomicUsize::new(0));
    let gates = [Gate::default(), Gate::default()];
    let plugin = {
        let (drops, gates) = (Arc::clone(&drops), gates.clone());
        wired("sizes", &[], move |context| {
            let (small_drops, small_gate) = (Arc::clone(&drops), gates[0].clone());
            context.command_async("small", move |_, fail: bool| {
                let (dropped, wait) = (Dropped(Arc::clone(&small_drops)), small_gate.wait());
                async move {
                    let _dropped = dropped;
                    wait.await;
                    if fail {
                        Err(PluginError::new("small failed"))
                    } else {
                        Ok(1_u64)
                    }
                }
            })?;
            let (large_drops, large_gate) = (Arc::clone(&drops), gates[1].clone());
            context.command_async("large", move |_, fail: bool| {
                let (dropped, wait) = (Dropped(Arc::clone(&large_drops)), large_gate.wait());
                async move {
                    let _dropped = dropped;
                    // Kept across the await: the future is over 512 bytes.
                    let ballast = std::hint::black_box([7_u8; 512]);
                    wait.await;
                    if fail {
                        Err(PluginError::new("large failed"))
                    } else {
                        Ok(u64::from(ballast[511]))
                    }
                }
            })?;
            Ok(())
        })
    };
    let host = Host::builder()
        .plugins(vec![plugin])
        .deactivation_deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    let noop = std::task::Waker::noop();
    let mut task = std::task::Context::from_waker(noop);
    for (size, answer, gate) in [("small", 1, &gates[0]), ("large", 7, &gates[1])] {
        let command = format!("sizes:{size}");
        let before = drops.load(Ordering::SeqCst);
        // Started and polled once: waiting at the gate, counted in flight.
        let mut pending = Box::pin(host.execute_async::<bool, u64>(&command, false));
        assert!(pending.as_mut().poll(&mut task).is_pending(), "{size}");
        assert_eq!(drops.load(Ordering::SeqCst), before, "{size}");
        drop(pending);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            before + 1,
            "{size}: the handler's future was not dropped"
        );
        let started = Instant::now();
        host.disable("sizes").unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{size}: disable waited for a dropped call"
        );
        assert_eq!(host.incidents(), [], "{size}");
        host.enable("sizes").unwrap();
        gate.open();
        let handle = host.command::<bool, Pending<u64>>(&command).unwrap();
        assert_eq!(block_on(handle.call_async(false)).unwrap(), answer, "{size}");
        let error = block_on(handle.call_async(true)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("command `{command}` failed in plugin `sizes`: {size} failed")
        );
        assert_eq!(drops.load(Ordering::SeqCst), before + 3, "{size}");
    }
}
