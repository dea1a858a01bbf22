//! Churn under load: dispatch from several threads through every channel while another
//! thread disables, enables, cascades and reloads plugins, some reloads made to fail.
//! Every guarantee of the live runtime is counted, and the test fails on any violation.
//!
//! It runs for `PATCHPANEL_CHURN_SECS` seconds (default 10) and prints its figures.
//! Run it alone, longer: `PATCHPANEL_CHURN_SECS=120 cargo test --release -p patchpanel-tests --test churn -- --nocapture`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use patchpanel::testing::{fn_plugin, with_every_permission};
use patchpanel::{
    Context, Host, Manifest, Plugin, PluginError, PluginSpec, SavedState, State,
    commands::DispatchErrorKind,
    hooks::HookOrder,
    host::DependentsPolicy,
    lifecycle::{LifecycleError, ReloadStep},
    messaging::MessageError,
    services::ServiceError,
};

/// What every plugin's handlers report, per plugin: calls inside it now, whether the
/// operator's disable has returned (a call that starts then is a violation), counts.
#[derive(Default)]
struct Watch {
    inside: AtomicI64,
    disabled: AtomicBool,
    started: AtomicU64,
    finished: AtomicU64,
}

#[derive(Default)]
struct Shared {
    base: Watch,
    leaf: Watch,
    steady: Watch,
    violations: AtomicU64,
    /// The first few violations, described, for the failure message.
    described: Mutex<Vec<String>>,
    /// Deliveries of `Tick` handled by each subscriber, in total.
    deliveries: AtomicU64,
    /// Deliveries `steady` handled: it is never disabled, so it must see every publish.
    steady_ticks: AtomicU64,
}

impl Shared {
    fn violation(&self, what: String) {
        self.violations.fetch_add(1, Ordering::SeqCst);
        let mut described = self.described.lock().unwrap();
        if described.len() < 10 {
            described.push(what);
        }
    }

    /// Runs a handler body of plugin `name` under the watch.
    fn inside<R>(&self, name: &str, watch: &Watch, body: impl FnOnce() -> R) -> R {
        watch.inside.fetch_add(1, Ordering::SeqCst);
        watch.started.fetch_add(1, Ordering::Relaxed);
        if watch.disabled.load(Ordering::SeqCst) {
            self.violation(format!("a call started in `{name}` after its disable returned"));
        }
        let result = body();
        watch.finished.fetch_add(1, Ordering::Relaxed);
        watch.inside.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

struct Tick;
struct Ping;
/// An event only `leaf` subscribes to: its channel takes the one-subscriber plan.
struct Solo;

/// The service `base` provides and `leaf` uses.
trait Counter: Send + Sync {
    fn bump(&self) -> u64;
}

struct BaseCounter {
    shared: Arc<Shared>,
    count: AtomicU64,
}

impl Counter for BaseCounter {
    fn bump(&self) -> u64 {
        self.shared.inside("base", &self.shared.base, || {
            self.count.fetch_add(1, Ordering::Relaxed) + 1
        })
    }
}

fn base(shared: &Arc<Shared>) -> PluginSpec {
    let shared = shared.clone();
    fn_plugin(
        with_every_permission(Manifest::builder("base", "1.0.0"))
            .build()
            .unwrap(),
        move |context| {
            context.provide::<dyn Counter>(Arc::new(BaseCounter {
                shared: shared.clone(),
                count: AtomicU64::new(0),
            }));
            let s = shared.clone();
            context.command("inc", move |_, n: u64| Ok(s.inside("base", &s.base, || n + 1)))?;
            let s = shared.clone();
            context.subscribe(move |_, _: &Tick| {
                s.inside("base", &s.base, || s.deliveries.fetch_add(1, Ordering::Relaxed));
                Ok(())
            });
            let s = shared.clone();
            context.on_message(move |_, Ping| Ok(s.inside("base", &s.base, || 7_u32)))?;
            let s = shared.clone();
            context.implement_hook("steady:label", HookOrder::default(), move |_, n: &u64| {
                Some(s.inside("base", &s.base, || format!("base {n}")))
            })?;
            Ok(())
        },
    )
}

fn leaf(shared: &Arc<Shared>) -> PluginSpec {
    let shared = shared.clone();
    // Its middleware wraps `steady`'s commands: `commands.intercept` at scope `all`.
    let manifest = with_every_permission(Manifest::builder("leaf", "1.0.0"))
        .permission("commands", "intercept", patchpanel::manifest::Scope::All)
        .depends_on("base", "^1")
        .build()
        .unwrap();
    fn_plugin(manifest, move |context| {
        let counter = context.service::<dyn Counter>()?;
        let s = shared.clone();
        context.command("get", move |_, (): ()| {
            s.inside("leaf", &s.leaf, || counter.with(|counter| counter.bump()))
                .map_err(PluginError::from)
        })?;
        let s = shared.clone();
        context.subscribe(move |_, _: &Tick| {
            s.inside("leaf", &s.leaf, || s.deliveries.fetch_add(1, Ordering::Relaxed));
            Ok(())
        });
        let s = shared.clone();
        context.subscribe(move |_, _: &Solo| {
            s.inside("leaf", &s.leaf, || ());
            Ok(())
        });
        let s = shared.clone();
        context.middleware("steady:inc", 0, move |invocation, next| {
            s.inside("leaf", &s.leaf, || next.run(invocation))
        })?;
        // `steady:typed`'s one layer: a typed chain, walked behind the armed gate.
        let s = shared.clone();
        context.typed_middleware(
            "steady:typed",
            0,
            move |n: u64, next: patchpanel::commands::TypedNext<'_, u64, u64>| {
                s.inside("leaf", &s.leaf, || next.run(n))
            },
        )?;
        // `steady:layered`'s one layer, declared as a type: a handle that names it runs
        // it inlined, behind the armed gate.
        context.layer("steady:layered", 0, LeafLayer(shared.clone()))?;
        Ok(())
    })
}

/// `leaf`'s layer around `steady:layered`, declared as a type.
struct LeafLayer(Arc<Shared>);

impl patchpanel::commands::Layer<u64, u64> for LeafLayer {
    fn call(
        &self,
        n: u64,
        next: impl patchpanel::commands::Downstream<u64, u64>,
    ) -> Result<u64, patchpanel::commands::DispatchError> {
        self.0.inside("leaf", &self.0.leaf, || next.run(n))
    }
}

/// How the next `steady` reload is made to fail.
static FAIL: AtomicU8 = AtomicU8::new(0);
const FAIL_NONE: u8 = 0;
const FAIL_GET_STATE: u8 = 1;
const FAIL_RESTORE: u8 = 2;
const FAIL_ACTIVATE_PANIC: u8 = 3;
static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// Never disabled, often reloaded: every call to it must succeed, and a failed reload
/// must leave the same instance serving with its count.
#[patchpanel::register_plugin(
    id = "steady",
    version = "1.0.0",
    permissions = { commands = ["register"], events = ["subscribe"], hooks = ["declare"] },
)]
#[derive(Default)]
struct Steady {
    instance: u64,
    count: Arc<AtomicU64>,
    shared: Option<Arc<Shared>>,
}

impl Plugin for Steady {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        if FAIL.load(Ordering::SeqCst) == FAIL_ACTIVATE_PANIC {
            panic!("steady refuses this reload");
        }
        let shared = self.shared.clone().expect("made by the factory");
        let (instance, count, s) = (self.instance, self.count.clone(), shared.clone());
        context.command("inc", move |_, (): ()| {
            Ok(s.inside("steady", &s.steady, || {
                (instance, count.fetch_add(1, Ordering::SeqCst) + 1)
            }))
        })?;
        let s = shared.clone();
        context.command("typed", move |_, n: u64| Ok(s.inside("steady", &s.steady, || n + 1)))?;
        let s = shared.clone();
        context.command("layered", move |_, n: u64| Ok(s.inside("steady", &s.steady, || n + 2)))?;
        let s = shared.clone();
        context.subscribe(move |_, _: &Tick| {
            s.inside("steady", &s.steady, || {
                s.deliveries.fetch_add(1, Ordering::Relaxed);
                s.steady_ticks.fetch_add(1, Ordering::Relaxed);
            });
            Ok(())
        });
        context.declare_hook::<u64, String>("label")?;
        Ok(())
    }

    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
        if FAIL.load(Ordering::SeqCst) == FAIL_GET_STATE {
            return Err(PluginError::new("steady cannot save now"));
        }
        SavedState::new(&self.count.load(Ordering::SeqCst)).map(Some)
    }

    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
        if FAIL.load(Ordering::SeqCst) == FAIL_RESTORE {
            return Err(PluginError::new("steady cannot restore now"));
        }
        self.count.store(state.get()?, Ordering::SeqCst);
        Ok(())
    }
}

fn steady(shared: &Arc<Shared>) -> PluginSpec {
    let shared = shared.clone();
    PluginSpec::with_factory(
        <Steady as patchpanel::registry::Registered>::MANIFEST
            .to_manifest()
            .unwrap(),
        move || Steady {
            instance: INSTANCES.fetch_add(1, Ordering::SeqCst) + 1,
            count: Arc::default(),
            shared: Some(shared.clone()),
        },
    )
}

/// An error a call into `base` or `leaf` may get while they churn: they are disabled.
fn expected_while_churning(error: &str) -> bool {
    error.contains("is disabled") || error.contains("no active plugin provides")
}

#[derive(Default)]
struct Figures {
    calls: AtomicU64,
    refused: AtomicU64,
    /// Calls by a `steady:layered` handle resolved static (its layer named and found).
    static_layers: AtomicU64,
    publishes: AtomicU64,
    reached: AtomicU64,
}

struct Handles<'h> {
    steady: patchpanel::commands::CommandHandle<'h, (), (u64, u64)>,
    counter: patchpanel::services::Service<dyn Counter>,
}

fn worker(host: &Host, handles: &Handles<'_>, shared: &Shared, figures: &Figures, stop: &AtomicBool, seed: u64) {
    let (handle, counter) = (&handles.steady, &handles.counter);
    let mut turn = seed;
    let (mut channel, mut solo, mut uses) = (host.channel::<Tick>(), host.channel::<Solo>(), 0_u64);
    // Resolved afresh every 16 uses, as the channels are: a reload of `steady` sends an
    // older handle through the current tables, a fresh one walks the typed chain again.
    // The same for `steady:layered`, by a handle that names its layer (static while the
    // chain it resolved is that layer alone, as it is while `leaf` is enabled).
    let mut typed = host.command::<u64, u64>("steady:typed").unwrap();
    let mut layered = host
        .command_with_layers::<u64, u64, (LeafLayer,)>("steady:layered")
        .unwrap();
    while !stop.load(Ordering::Relaxed) {
        turn = turn.wrapping_add(1);
        figures.calls.fetch_add(1, Ordering::Relaxed);
        let outcome: Result<(), String> = match turn % 8 {
            7 if (turn / 8) % 2 == 1 => {
                if (turn / 16).is_multiple_of(16) {
                    layered = host
                        .command_with_layers::<u64, u64, (LeafLayer,)>("steady:layered")
                        .unwrap();
                }
                if layered.is_static() {
                    figures.static_layers.fetch_add(1, Ordering::Relaxed);
                }
                match layered.call(turn) {
                    Ok(answer) if answer == turn + 2 => {}
                    Ok(answer) => shared.violation(format!("steady:layered answered {answer} to {turn}")),
                    Err(error) => shared.violation(format!("steady:layered by handle failed: {error}")),
                }
                Ok(())
            }
            7 => {
                if (turn / 16).is_multiple_of(16) {
                    typed = host.command::<u64, u64>("steady:typed").unwrap();
                }
                match typed.call(turn) {
                    Ok(answer) if answer == turn + 1 => {}
                    Ok(answer) => shared.violation(format!("steady:typed answered {answer} to {turn}")),
                    Err(error) => shared.violation(format!("steady:typed by handle failed: {error}")),
                }
                Ok(())
            }
            0 => match handle.call(()) {
                Ok(_) => Ok(()),
                Err(error) => {
                    shared.violation(format!("steady by handle failed: {error}"));
                    Ok(())
                }
            },
            1 => host
                .execute::<u64, u64>("base:inc", 1)
                .map(drop)
                .map_err(|e| e.to_string()),
            2 => host
                .execute_json("leaf:get", serde_json::Value::Null)
                .map(drop)
                .map_err(|e| e.to_string()),
            3 => {
                // Every other publish goes through a channel, made afresh every 16 uses
                // (a channel follows the churn on its slow path once the tables it was
                // made with are replaced; a fresh one takes the fast path again, and the
                // gate disarms and re-arms under it).
                let delivery = if (turn / 7).is_multiple_of(2) {
                    host.publish(&Tick)
                } else {
                    uses += 1;
                    if uses.is_multiple_of(16) {
                        channel = host.channel::<Tick>();
                        solo = host.channel::<Solo>();
                    }
                    let alone = solo.publish(&Solo);
                    if alone.failed != 0 || alone.too_deep || alone.reached > 1 {
                        shared.violation(format!("a publish to leaf alone failed: {alone:?}"));
                    }
                    channel.publish(&Tick)
                };
                figures.publishes.fetch_add(1, Ordering::Relaxed);
                figures.reached.fetch_add(delivery.reached as u64, Ordering::Relaxed);
                if delivery.failed != 0 || delivery.too_deep {
                    shared.violation(format!("a publish failed: {delivery:?}"));
                }
                Ok(())
            }
            4 => match host.hook::<u64, String>("steady:label") {
                Ok(hook) => {
                    hook.call_all(&turn);
                    Ok(())
                }
                Err(error) => {
                    shared.violation(format!("steady's hook is gone: {error}"));
                    Ok(())
                }
            },
            5 => counter
                .with(|c| c.bump())
                .map(drop)
                .map_err(|e: ServiceError| e.to_string()),
            6 => host
                .request::<Ping, u32>("base", Ping)
                .map(drop)
                .map_err(|e: MessageError| e.to_string()),
            _ => unreachable!("a turn modulo 8"),
        };
        if let Err(error) = outcome {
            if expected_while_churning(&error) {
                figures.refused.fetch_add(1, Ordering::Relaxed);
            } else {
                shared.violation(format!("an unexpected error: {error}"));
            }
        }
    }
}

#[derive(Default, Debug)]
struct Churned {
    disables: u64,
    cascades: u64,
    enables: u64,
    reloads: u64,
    failed_reloads: u64,
}

fn check_quiet(shared: &Shared, name: &str, watch: &Watch) {
    let inside = watch.inside.load(Ordering::SeqCst);
    if inside != 0 {
        shared.violation(format!(
            "{inside} calls still inside `{name}` when its disable returned"
        ));
    }
    watch.disabled.store(true, Ordering::SeqCst);
}

fn steady_now(host: &Host) -> (u64, u64) {
    host.execute::<(), (u64, u64)>("steady:inc", ()).unwrap()
}

fn churn(host: &Host, shared: &Shared, stop: &AtomicBool) -> Churned {
    let mut churned = Churned::default();
    let pause = || std::thread::sleep(Duration::from_micros(300));
    let mut round = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        // Cascade: leaf, then base, go down; enabling base brings both back.
        let disabled = host.disable_with("base", DependentsPolicy::Cascade).unwrap();
        assert_eq!(disabled, ["leaf", "base"]);
        check_quiet(shared, "leaf", &shared.leaf);
        check_quiet(shared, "base", &shared.base);
        churned.cascades += 1;
        churned.disables += 2;
        pause();
        shared.leaf.disabled.store(false, Ordering::SeqCst);
        shared.base.disabled.store(false, Ordering::SeqCst);
        host.enable("base").unwrap();
        churned.enables += 1;
        assert_eq!(
            (host.state("base"), host.state("leaf")),
            (Some(State::Active), Some(State::Active))
        );

        // Refuse: base has an active dependent.
        let refused = host.disable("base").unwrap_err();
        assert!(matches!(refused, LifecycleError::DependentsActive { .. }), "{refused}");

        host.disable("leaf").unwrap();
        check_quiet(shared, "leaf", &shared.leaf);
        churned.disables += 1;
        pause();
        shared.leaf.disabled.store(false, Ordering::SeqCst);
        host.enable("leaf").unwrap();
        churned.enables += 1;

        // A reload that succeeds: a new instance, and the count carries on.
        let (before, count_before) = steady_now(host);
        let report = host.reload("steady").unwrap();
        assert_eq!(report.old_deactivate, Ok(()));
        churned.reloads += 1;
        let (after, count_after) = steady_now(host);
        if after == before || count_after <= count_before {
            shared.violation(format!(
                "after a reload steady is instance {after} at {count_after}, before {before} at {count_before}"
            ));
        }
        // A reload of base under load: its callers go on through the service handle.
        let _ = host.reload("base").unwrap();
        churned.reloads += 1;

        // A reload made to fail, at a different step each round.
        let (mode, step) = match round % 3 {
            0 => (FAIL_GET_STATE, ReloadStep::GetState),
            1 => (FAIL_RESTORE, ReloadStep::RestoreState),
            _ => (FAIL_ACTIVATE_PANIC, ReloadStep::Activate),
        };
        let (before, count_before) = steady_now(host);
        FAIL.store(mode, Ordering::SeqCst);
        let error = host.reload("steady").unwrap_err();
        FAIL.store(FAIL_NONE, Ordering::SeqCst);
        churned.failed_reloads += 1;
        match &error {
            LifecycleError::ReloadFailed {
                plugin, step: failed, ..
            } if plugin == "steady" && *failed == step => {}
            other => shared.violation(format!("a failed reload reported {other}")),
        }
        let (after, count_after) = steady_now(host);
        if after != before || count_after <= count_before {
            shared.violation(format!(
                "after a failed reload steady is instance {after} at {count_after}, before {before} at {count_before}"
            ));
        }
        pause();
    }
    churned
}

/// Runs the four dispatch threads for `seconds`, with the churner beside them when
/// `churning`; returns how long the phase took and what the churner did.
fn phase(
    host: &Host,
    handles: &Handles<'_>,
    shared: &Arc<Shared>,
    figures: &Figures,
    churning: bool,
    seconds: u64,
) -> (Duration, Churned) {
    let stop = AtomicBool::new(false);
    let (done, finished) = mpsc::channel();
    let started = Instant::now();
    let churned = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|seed| {
                let (stop, shared) = (&stop, &**shared);
                scope.spawn(move || worker(host, handles, shared, figures, stop, seed * 1_000))
            })
            .collect();
        let churner = churning.then(|| scope.spawn(|| churn(host, shared, &stop)));
        // The watchdog: a deadlock shows as a run that does not end within its bound.
        let watchdog = {
            let stop = &stop;
            scope.spawn(move || {
                std::thread::sleep(Duration::from_secs(seconds));
                stop.store(true, Ordering::SeqCst);
                if finished.recv_timeout(Duration::from_secs(60)).is_err() {
                    eprintln!("churn: no end 60 s after the stop; a deadlock");
                    std::process::abort();
                }
            })
        };
        for worker in workers {
            worker.join().unwrap();
        }
        let churned = churner.map(|churner| churner.join().unwrap()).unwrap_or_default();
        done.send(()).unwrap();
        watchdog.join().unwrap();
        churned
    });
    (started.elapsed(), churned)
}

#[test]
#[allow(clippy::print_stdout)] // the figures are the point of the run
fn disable_enable_and_reload_under_load_keep_every_guarantee() {
    let seconds: u64 = std::env::var("PATCHPANEL_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    // The failed reloads panic on purpose; their messages are not news.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"steady refuses this reload") {
            default_hook(info);
        }
    }));
    let shared = Arc::new(Shared::default());
    let host = Host::builder()
        .plugins(vec![base(&shared), leaf(&shared), steady(&shared)])
        .build()
        .unwrap();
    // Resolved before the churn starts, and used throughout: they must follow it.
    let handles = Handles {
        steady: host.command::<(), (u64, u64)>("steady:inc").unwrap(),
        counter: host.service::<dyn Counter>().unwrap(),
    };
    // First the same load with no churn, for the throughput it reaches undisturbed,
    // then the load under churn: both in this run, so the ratio is fair.
    let quiet = Figures::default();
    let (quiet_elapsed, _) = phase(&host, &handles, &shared, &quiet, false, seconds.div_ceil(3));
    let figures = Figures::default();
    let (elapsed, churned) = phase(&host, &handles, &shared, &figures, true, seconds);

    for (name, watch) in [
        ("base", &shared.base),
        ("leaf", &shared.leaf),
        ("steady", &shared.steady),
    ] {
        if watch.inside.load(Ordering::SeqCst) != 0
            || watch.started.load(Ordering::SeqCst) != watch.finished.load(Ordering::SeqCst)
        {
            shared.violation(format!("the counters of `{name}` do not balance"));
        }
    }
    let publishes = figures.publishes.load(Ordering::SeqCst) + quiet.publishes.load(Ordering::SeqCst);
    if shared.steady_ticks.load(Ordering::SeqCst) != publishes {
        shared.violation(format!(
            "steady saw {} of {publishes} publishes",
            shared.steady_ticks.load(Ordering::SeqCst)
        ));
    }
    let reached = figures.reached.load(Ordering::SeqCst) + quiet.reached.load(Ordering::SeqCst);
    if shared.deliveries.load(Ordering::SeqCst) != reached {
        shared.violation(format!(
            "subscribers handled {} deliveries, publishes reported {reached}",
            shared.deliveries.load(Ordering::SeqCst),
        ));
    }
    let rate =
        |figures: &Figures, elapsed: Duration| figures.calls.load(Ordering::SeqCst) as f64 / elapsed.as_secs_f64();
    let (quiet_rate, churn_rate) = (rate(&quiet, quiet_elapsed), rate(&figures, elapsed));
    let violations = shared.violations.load(Ordering::SeqCst);
    println!(
        "churn: {:.1} s, 4 dispatch threads: {} calls ({} refused while disabled), {} publishes; {} disables \
         ({} cascades), {} enables, {} reloads, {} failed reloads; violations = {violations}; membarrier: {}\n\
         churn: throughput {:.0} calls/s under churn against {:.0} calls/s without ({:.2}x)",
        elapsed.as_secs_f64(),
        figures.calls.load(Ordering::SeqCst),
        figures.refused.load(Ordering::SeqCst),
        figures.publishes.load(Ordering::SeqCst),
        churned.disables,
        churned.cascades,
        churned.enables,
        churned.reloads,
        churned.failed_reloads,
        host.expedited_barriers(),
        churn_rate,
        quiet_rate,
        churn_rate / quiet_rate,
    );
    assert_eq!(violations, 0, "{:#?}", shared.described.lock().unwrap());
    assert!(churned.failed_reloads > 0 && churned.reloads > 0 && churned.cascades > 0);
    assert!(
        figures.static_layers.load(Ordering::SeqCst) > 0,
        "no call under churn ran `steady:layered`'s layer as a static handle"
    );
    // The kinds of refusal a worker saw are the typed ones.
    let error = host.execute::<u64, u64>("nope:inc", 1).unwrap_err();
    assert!(matches!(error.kind(), DispatchErrorKind::UnknownCommand { .. }));
}
