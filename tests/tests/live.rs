//! The live runtime, one guarantee at a time: disable policies, reload at every step of
//! its failure, services that follow their provider, handles after a reload, lifecycle
//! calls from inside a call, and the registry file across restarts. Each test matches
//! the error value and its message.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchpanel::testing::FnPlugin;
use patchpanel::{
    Context, Host, Manifest, Plugin, PluginError, PluginSpec, SavedState, State,
    commands::DispatchErrorKind,
    config::PluginConfig,
    hooks::HookOrder,
    host::{DependentsPolicy, RegistryNotice},
    lifecycle::{Failure, LifecycleError, ReloadStep, StateChanged},
    services::ServiceError,
};
use patchpanel_tests::fixture::{idle_layer, interceptor, wait_for, wired};

// ---------------------------------------------------------------- a plugin to break

/// Where the next instance of [`Dial`] fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Fault {
    #[default]
    None,
    GetStateError,
    GetStatePanic,
    CreatePanic,
    RestoreError,
    ActivateError,
    ActivatePanic,
    /// The new instance implements a hook of its own namespace that it does not declare.
    Miswired,
    /// The instance being replaced fails in `deactivate`.
    DeactivateError,
}

#[derive(Default)]
struct Controls {
    fault: Mutex<Fault>,
    instances: AtomicU64,
    log: Mutex<Vec<String>>,
}

impl Controls {
    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap()
    }
    fn log(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }
}

/// A counter whose instances are numbered; the count crosses reloads as state.
#[patchpanel::register_plugin(
    id = "dial",
    version = "1.0.0",
    permissions = { commands = ["register"], hooks = ["implement"] },
)]
#[derive(Default)]
struct Dial {
    instance: u64,
    count: Arc<AtomicU64>,
    greeting: String,
    controls: Option<Arc<Controls>>,
}

#[derive(serde::Deserialize, Default)]
struct DialConfig {
    greeting: String,
}

impl Dial {
    fn controls(&self) -> &Controls {
        self.controls.as_deref().expect("made by the factory")
    }
}

impl Plugin for Dial {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        self.greeting = config.get::<DialConfig>()?.greeting;
        Ok(())
    }

    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        match self.controls().fault() {
            Fault::ActivateError => return Err(PluginError::new("the dial is stuck")),
            Fault::ActivatePanic => panic!("the dial shattered"),
            Fault::Miswired => {
                context.implement_hook("dial:undeclared", HookOrder::default(), |_, _: &u8| Some(0_u8))?;
            }
            _ => {}
        }
        let (instance, count, greeting) = (self.instance, self.count.clone(), self.greeting.clone());
        context.command("turn", move |_, (): ()| {
            Ok((instance, count.fetch_add(1, Ordering::SeqCst) + 1, greeting.clone()))
        })?;
        Ok(())
    }

    fn deactivate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.controls().log(format!("deactivate #{}", self.instance));
        if self.controls().fault() == Fault::DeactivateError {
            return Err(PluginError::new("the dial will not let go"));
        }
        Ok(())
    }

    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
        match self.controls().fault() {
            Fault::GetStateError => Err(PluginError::new("the dial forgot")),
            Fault::GetStatePanic => panic!("the dial's memory is gone"),
            _ => SavedState::new(&self.count.load(Ordering::SeqCst)).map(Some),
        }
    }

    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
        if self.controls().fault() == Fault::RestoreError {
            return Err(PluginError::new("the dial cannot be set"));
        }
        self.count.store(state.get()?, Ordering::SeqCst);
        Ok(())
    }
}

fn dial(controls: &Arc<Controls>) -> PluginSpec {
    let controls = controls.clone();
    PluginSpec::with_factory(
        <Dial as patchpanel::registry::Registered>::MANIFEST
            .to_manifest()
            .unwrap(),
        move || {
            if controls.fault() == Fault::CreatePanic {
                panic!("no dial today");
            }
            Dial {
                instance: controls.instances.fetch_add(1, Ordering::SeqCst) + 1,
                controls: Some(controls.clone()),
                ..Dial::default()
            }
        },
    )
}

fn dial_host(controls: &Arc<Controls>) -> Host {
    Host::builder()
        .plugins(vec![dial(controls)])
        .config("dial", serde_json::json!({ "greeting": "hi" }))
        .build()
        .unwrap()
}

fn turn(host: &Host) -> (u64, u64, String) {
    host.execute::<(), (u64, u64, String)>("dial:turn", ()).unwrap()
}

// ---------------------------------------------------------------- reload

#[test]
fn every_failing_reload_step_leaves_the_old_instance_serving_with_its_state() {
    let cases = [
        (
            Fault::GetStateError,
            ReloadStep::GetState,
            Failure::GetState("the dial forgot".into()),
            "reloading plugin `dial` failed in get_state: get_state returned an error: the dial forgot; the previous instance keeps serving",
        ),
        (
            Fault::GetStatePanic,
            ReloadStep::GetState,
            Failure::Panicked {
                during: "get_state",
                message: "the dial's memory is gone".into(),
            },
            "reloading plugin `dial` failed in get_state: panicked in get_state: the dial's memory is gone; the previous instance keeps serving",
        ),
        (
            Fault::CreatePanic,
            ReloadStep::Create,
            Failure::Panicked {
                during: "create",
                message: "no dial today".into(),
            },
            "reloading plugin `dial` failed in create: panicked in create: no dial today; the previous instance keeps serving",
        ),
        (
            Fault::RestoreError,
            ReloadStep::RestoreState,
            Failure::RestoreState("the dial cannot be set".into()),
            "reloading plugin `dial` failed in restore_state: restore_state returned an error: the dial cannot be set; the previous instance keeps serving",
        ),
        (
            Fault::ActivateError,
            ReloadStep::Activate,
            Failure::Activate("the dial is stuck".into()),
            "reloading plugin `dial` failed in activate: activate returned an error: the dial is stuck; the previous instance keeps serving",
        ),
        (
            Fault::ActivatePanic,
            ReloadStep::Activate,
            Failure::Panicked {
                during: "activate",
                message: "the dial shattered".into(),
            },
            "reloading plugin `dial` failed in activate: panicked in activate: the dial shattered; the previous instance keeps serving",
        ),
        (
            Fault::Miswired,
            ReloadStep::Wire,
            Failure::Activate(
                "plugin `dial` implements hook `dial:undeclared`, but the running plugin that owns that namespace does not declare it; check the hook id".into(),
            ),
            "reloading plugin `dial` failed in wiring: activate returned an error: plugin `dial` implements hook `dial:undeclared`, but the running plugin that owns that namespace does not declare it; check the hook id; the previous instance keeps serving",
        ),
    ];
    for (fault, step, failure, message) in cases {
        let controls = Arc::new(Controls::default());
        let host = dial_host(&controls);
        assert_eq!(turn(&host), (1, 1, "hi".into()));
        assert_eq!(turn(&host), (1, 2, "hi".into()));
        controls.set(fault);
        let error = host.reload("dial").unwrap_err();
        assert_eq!(
            error,
            LifecycleError::ReloadFailed {
                plugin: "dial".into(),
                step,
                failure
            },
            "{fault:?}"
        );
        assert_eq!(error.to_string(), message);
        controls.set(Fault::None);
        // The first instance still serves, with its count; it was never deactivated.
        assert_eq!(turn(&host), (1, 3, "hi".into()), "{fault:?}");
        assert_eq!(host.state("dial"), Some(State::Active));
        let deactivated_during_reload = controls.log.lock().unwrap().clone();
        let expected: &[&str] = if fault == Fault::Miswired {
            &["deactivate #2"]
        } else {
            &[]
        };
        assert_eq!(deactivated_during_reload, expected, "{fault:?}");
        // And the next reload works.
        let report = host.reload("dial").unwrap();
        assert_eq!(report.old_deactivate, Ok(()));
        let (instance, count, _) = turn(&host);
        assert!(instance > 1 && count == 4, "{fault:?}: {instance} {count}");
    }
}

#[test]
fn a_failing_deactivate_of_the_old_instance_is_reported_not_swallowed() {
    let controls = Arc::new(Controls::default());
    let host = dial_host(&controls);
    turn(&host);
    controls.set(Fault::DeactivateError);
    let report = host.reload("dial").unwrap();
    assert_eq!(
        report,
        patchpanel::host::ReloadReport {
            plugin: "dial".into(),
            generation: 1,
            old_deactivate: Err(Failure::Deactivate("the dial will not let go".into())),
        }
    );
    controls.set(Fault::None);
    // The new instance serves, with the count.
    assert_eq!(turn(&host), (2, 2, "hi".into()));
    let incident = host.incidents().pop().unwrap();
    assert_eq!(
        (
            incident.plugin.as_str(),
            incident.site.as_str(),
            incident.message.as_str()
        ),
        (
            "dial",
            "deactivate of the replaced instance",
            "deactivate returned an error: the dial will not let go"
        )
    );
}

#[test]
fn reconfigure_applies_a_config_through_a_reload_and_reverts_it_when_the_reload_fails() {
    let controls = Arc::new(Controls::default());
    let host = dial_host(&controls);
    assert_eq!(turn(&host), (1, 1, "hi".into()));
    let report = host
        .reconfigure("dial", serde_json::json!({ "greeting": "hello" }))
        .unwrap();
    assert_eq!(report.generation, 1);
    assert_eq!(turn(&host), (2, 2, "hello".into()));

    // A bad value fails in configure, with the key path; the old config stays.
    let error = host
        .reconfigure("dial", serde_json::json!({ "greeting": 5 }))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "reloading plugin `dial` failed in configure: configure returned an error: invalid configuration for plugin `dial` at `greeting`: invalid type: integer `5`, expected a string; the previous instance keeps serving"
    );
    assert_eq!(turn(&host), (2, 3, "hello".into()));
    let _ = host.reload("dial").unwrap();
    assert_eq!(
        turn(&host),
        (4, 4, "hello".into()),
        "the instance made by the failed reload was dropped"
    );
}

#[test]
fn a_typed_handle_follows_reloads_and_disables() {
    let controls = Arc::new(Controls::default());
    let host = dial_host(&controls);
    let handle = host.command::<(), (u64, u64, String)>("dial:turn").unwrap();
    assert_eq!(handle.call(()).unwrap(), (1, 1, "hi".into()));
    let _ = host.reload("dial").unwrap();
    assert_eq!(handle.call(()).unwrap(), (2, 2, "hi".into()));
    host.disable("dial").unwrap();
    let error = handle.call(()).unwrap_err();
    assert!(matches!(
        error.kind(),
        DispatchErrorKind::NotActive {
            state: State::Disabled,
            failure: None,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "command `dial:turn` is unavailable: plugin `dial` is disabled"
    );
    host.enable("dial").unwrap();
    assert_eq!(handle.call(()).unwrap(), (2, 3, "hi".into()));
}

#[test]
fn reload_of_a_disabled_plugin_is_refused() {
    let controls = Arc::new(Controls::default());
    let host = dial_host(&controls);
    host.disable("dial").unwrap();
    let error = host.reload("dial").unwrap_err();
    assert_eq!(error.to_string(), "plugin `dial` cannot go from disabled to active");
}

// ---------------------------------------------------------------- disable policies

fn chain_of_three(events: &Arc<Mutex<Vec<String>>>) -> Host {
    let seen = events.clone();
    Host::builder()
        .plugins(vec![
            wired("store", &[], |_| Ok(())),
            wired("cache", &["store"], |_| Ok(())),
            wired("web", &["cache"], |_| Ok(())),
            wired("lone", &[], move |context| {
                let seen = seen.clone();
                context.subscribe(move |_, change: &StateChanged| {
                    seen.lock()
                        .unwrap()
                        .push(format!("{}: {} -> {}", change.plugin, change.from, change.to));
                    Ok(())
                });
                Ok(())
            }),
        ])
        .build()
        .unwrap()
}

#[test]
fn refuse_changes_nothing_and_names_the_active_dependents() {
    let host = chain_of_three(&Arc::default());
    let error = host.disable("store").unwrap_err();
    assert_eq!(
        error,
        LifecycleError::DependentsActive {
            plugin: "store".into(),
            dependents: vec!["cache".into(), "web".into()]
        }
    );
    assert_eq!(
        error.to_string(),
        "plugin `store` cannot be disabled while cache, web depend on it; disable them first"
    );
    assert_eq!(host.state("store"), Some(State::Active));
}

#[test]
fn cascade_disables_dependents_first_and_enable_undoes_it_in_dependency_order() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let host = chain_of_three(&events);
    let disabled = host.disable_with("store", DependentsPolicy::Cascade).unwrap();
    assert_eq!(disabled, ["web", "cache", "store"]);
    for id in ["web", "cache", "store"] {
        assert_eq!(host.state(id), Some(State::Disabled), "{id}");
    }
    assert_eq!(host.plugin("cache").unwrap().disabled_with(), Some("store"));
    assert_eq!(host.state("lone"), Some(State::Active));
    // A dependent cannot come back before what it depends on.
    assert_eq!(
        host.enable("cache").unwrap_err().to_string(),
        "plugin `cache` cannot start while its dependency `store` is disabled; enable or reload `store` first"
    );
    host.enable("store").unwrap();
    for id in ["web", "cache", "store"] {
        assert_eq!(host.state(id), Some(State::Active), "{id}");
    }
    assert_eq!(host.plugin("cache").unwrap().disabled_with(), None);
    // `lone` watches the lifecycle: dependents go down first and come back last.
    assert_eq!(
        events.lock().unwrap().clone(),
        [
            "web: active -> disabled",
            "cache: active -> disabled",
            "store: active -> disabled",
            "store: disabled -> active",
            "cache: disabled -> active",
            "web: disabled -> active"
        ]
    );
}

#[test]
fn the_builder_default_policy_applies_to_disable() {
    let host = Host::builder()
        .plugins(vec![wired("a", &[], |_| Ok(())), wired("b", &["a"], |_| Ok(()))])
        .dependents_policy(DependentsPolicy::Cascade)
        .build()
        .unwrap();
    host.disable("a").unwrap();
    assert_eq!(
        (host.state("a"), host.state("b")),
        (Some(State::Disabled), Some(State::Disabled))
    );
}

// ---------------------------------------------------------------- quiescence, exactly

#[test]
fn disable_waits_for_a_call_whose_middleware_is_still_running() {
    let handler_ran = Arc::new(AtomicBool::new(false));
    let in_middleware = Arc::new(AtomicBool::new(false));
    let ran = handler_ran.clone();
    let entered = in_middleware.clone();
    let host = Host::builder()
        .plugins(vec![
            interceptor("slow-guard", &[], move |context| {
                let entered = entered.clone();
                context.middleware("target:*", 0, move |invocation, next| {
                    entered.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(300));
                    next.run(invocation)
                })?;
                Ok(())
            }),
            wired("target", &[], move |context| {
                let ran = ran.clone();
                context.command("work", move |_, (): ()| {
                    ran.store(true, Ordering::SeqCst);
                    Ok(())
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    std::thread::scope(|scope| {
        let call = scope.spawn(|| host.execute::<(), ()>("target:work", ()));
        wait_for(&in_middleware, "the call to reach the middleware");
        host.disable("target").unwrap();
        // The call had started (its middleware was running), so it finished first.
        assert!(
            handler_ran.load(Ordering::SeqCst),
            "disable returned before the handler ran"
        );
        assert_eq!(call.join().unwrap().unwrap(), ());
    });
    handler_ran.store(false, Ordering::SeqCst);
    let error = host.execute::<(), ()>("target:work", ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `target:work` is unavailable: plugin `target` is disabled"
    );
    assert!(!handler_ran.load(Ordering::SeqCst));
}

/// Disables `inner` while a call of `target:work` is inside `outer`'s layer, above
/// `inner`'s: returns how many times `inner`'s layer ran during and after that call.
/// With `idle_disabled`, a fourth plugin with middleware is disabled first, so the
/// dispatch gate is disarmed and the chain checks each layer's state at its turn.
fn disable_below_a_running_layer(idle_disabled: bool) -> (u64, u64) {
    let outer_entered = Arc::new(AtomicBool::new(false));
    let outer_done = Arc::new(AtomicBool::new(false));
    let inner_ran = Arc::new(AtomicU64::new(0));
    let (entered, done, ran) = (outer_entered.clone(), outer_done.clone(), inner_ran.clone());
    let host = Host::builder()
        .plugins(vec![
            interceptor("outer", &[], move |context| {
                let (entered, done) = (entered.clone(), done.clone());
                context.middleware("target:*", 10, move |invocation, next| {
                    entered.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(300));
                    let result = next.run(invocation);
                    done.store(true, Ordering::SeqCst);
                    result
                })?;
                Ok(())
            }),
            interceptor("inner", &[], move |context| {
                let ran = ran.clone();
                context.middleware("target:*", 0, move |invocation, next| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    next.run(invocation)
                })?;
                Ok(())
            }),
            idle_layer(),
            wired("target", &[], |context| {
                context.command("work", |_, (): ()| Ok(()))?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    if idle_disabled {
        host.disable("idle").unwrap();
    }
    std::thread::scope(|scope| {
        let call = scope.spawn(|| host.execute::<(), ()>("target:work", ()));
        wait_for(&outer_entered, "the call to enter the outer layer");
        host.disable("inner").unwrap();
        assert!(
            outer_done.load(Ordering::SeqCst),
            "disable returned before the call ended"
        );
        assert_eq!(call.join().unwrap().unwrap(), ());
    });
    let during = inner_ran.load(Ordering::SeqCst);
    host.execute::<(), ()>("target:work", ()).unwrap();
    (during, inner_ran.load(Ordering::SeqCst) - during)
}

#[test]
fn a_chain_started_behind_the_armed_gate_runs_every_layer_and_disable_waits_for_it() {
    // Every plugin with middleware was active when the call started: its chain was
    // entered once, behind the dispatch gate, and runs as planned; `inner`'s layer,
    // reached after the disable began, still runs, and the disable waits for the whole
    // call. Once the disable returned, the layer runs no more.
    assert_eq!(disable_below_a_running_layer(false), (1, 0));
}

#[test]
fn a_chain_behind_a_disarmed_gate_skips_a_layer_whose_plugin_left_meanwhile() {
    // With a plugin with middleware disabled, the gate is disarmed: the call enters
    // every layer's plugin when it starts and checks each one's state at its turn, so
    // `inner`'s layer, reached after the disable began, steps aside; the disable still
    // waits for the whole call.
    assert_eq!(disable_below_a_running_layer(true), (0, 0));
}

#[test]
fn a_middleware_cannot_disable_a_plugin_further_down_its_own_chain() {
    let reach = Arc::new(Mutex::new(None::<Arc<Host>>));
    let from_outer = reach.clone();
    let host = Arc::new(
        Host::builder()
            .plugins(vec![
                interceptor("outer", &[], move |context| {
                    let reach = from_outer.clone();
                    context.middleware("target:*", 10, move |invocation, next| {
                        let host = reach.lock().unwrap().clone().unwrap();
                        let refused = host.disable("inner").unwrap_err().to_string();
                        assert_eq!(
                            refused,
                            "plugin `inner` cannot be disabled from inside a call that is running in it (or, for a disable, from inside a publish or a middleware chain while it has subscriptions, middleware or a command with middleware; for a reload, from inside any plugin call) on the same thread; make the change from outside the call"
                        );
                        next.run(invocation)
                    })?;
                    Ok(())
                }),
                interceptor("inner", &[], |context| {
                    context.middleware("target:*", 0, |invocation, next| next.run(invocation))?;
                    Ok(())
                }),
                wired("target", &[], |context| {
                    context.command("work", |_, (): ()| Ok(()))?;
                    Ok(())
                }),
            ])
            .build()
            .unwrap(),
    );
    *reach.lock().unwrap() = Some(host.clone());
    host.execute::<(), ()>("target:work", ()).unwrap();
    assert_eq!(host.state("inner"), Some(State::Active));
    *reach.lock().unwrap() = None;
}

#[test]
fn lifecycle_changes_from_inside_a_call_are_refused_not_deadlocked() {
    let host = Arc::new(Mutex::new(None::<Arc<Host>>));
    let reach = host.clone();
    let plugin = wired("selfish", &[], move |context| {
        let reach = reach.clone();
        context.command("disable-me", move |_, (): ()| {
            let host = reach.lock().unwrap().clone().unwrap();
            Ok((
                host.disable("selfish").unwrap_err().to_string(),
                host.reload("other").unwrap_err().to_string(),
            ))
        })?;
        Ok(())
    });
    let running = Arc::new(
        Host::builder()
            .plugins(vec![plugin, wired("other", &[], |_| Ok(()))])
            .build()
            .unwrap(),
    );
    *host.lock().unwrap() = Some(running.clone());
    let (disable, reload) = running
        .execute::<(), (String, String)>("selfish:disable-me", ())
        .unwrap();
    assert_eq!(
        disable,
        "plugin `selfish` cannot be disabled from inside a call that is running in it (or, for a disable, from inside a publish or a middleware chain while it has subscriptions, middleware or a command with middleware; for a reload, from inside any plugin call) on the same thread; make the change from outside the call"
    );
    assert_eq!(
        reload,
        "plugin `other` cannot be reloaded from inside a call that is running in it (or, for a disable, from inside a publish or a middleware chain while it has subscriptions, middleware or a command with middleware; for a reload, from inside any plugin call) on the same thread; make the change from outside the call"
    );
    // Break the cycle host -> plugin -> host.
    host.lock().unwrap().take();
}

/// A publish walks its subscribers without checking each one's state while every
/// subscribing plugin is active; so a subscriber that disables another subscribing
/// plugin from inside the walk would wait for its own walk. It is refused with
/// `InsideCall` instead, the walk delivers to everyone, and the same disable made after
/// the publish returns goes through.
#[test]
fn disabling_a_subscriber_from_inside_a_publish_is_refused_and_works_after_it() {
    #[derive(Debug)]
    struct Bell;
    let host: Arc<Mutex<Option<Arc<Host>>>> = Arc::default();
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let rung = Arc::new(AtomicU64::new(0));
    let (reach, seen) = (host.clone(), refusals.clone());
    let ringer = wired("ringer", &[], move |context| {
        let (reach, seen) = (reach.clone(), seen.clone());
        context.subscribe(move |_, _: &Bell| {
            let host = reach.lock().unwrap().clone().unwrap();
            seen.lock()
                .unwrap()
                .push(host.disable("listener").unwrap_err().to_string());
            Ok(())
        });
        Ok(())
    });
    let counted = rung.clone();
    let listener = wired("listener", &[], move |context| {
        let counted = counted.clone();
        context.subscribe(move |_, _: &Bell| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        Ok(())
    });
    let running = Arc::new(Host::builder().plugins(vec![ringer, listener]).build().unwrap());
    *host.lock().unwrap() = Some(running.clone());
    assert_eq!(running.publish(&Bell).reached, 2);
    assert_eq!(rung.load(Ordering::SeqCst), 1);
    assert_eq!(
        *refusals.lock().unwrap(),
        [
            "plugin `listener` cannot be disabled from inside a call that is running in it (or, for a disable, from inside a publish or a middleware chain while it has subscriptions, middleware or a command with middleware; for a reload, from inside any plugin call) on the same thread; make the change from outside the call"
        ]
    );
    running.disable("listener").unwrap();
    // The ringer's own disable attempt is refused again (listener is not active: an
    // invalid transition this time), and the listener receives nothing.
    running.publish(&Bell);
    assert_eq!(rung.load(Ordering::SeqCst), 1);
    host.lock().unwrap().take();
}

#[test]
fn a_handler_behind_middleware_cannot_disable_a_gated_plugin_but_can_disable_another() {
    // A chain behind the armed dispatch gate holds the gate, which a disable of any
    // plugin with subscriptions, middleware or a chained command waits for: from inside
    // the chain that would wait for itself, so it is refused; a plugin with none of
    // those is disabled as from anywhere else.
    struct Bell;
    let host: Arc<Mutex<Option<Arc<Host>>>> = Arc::default();
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let (reach, seen) = (host.clone(), outcomes.clone());
    let plugins = vec![
        interceptor("outer", &[], |context| {
            context.middleware("target:*", 0, |invocation, next| next.run(invocation))?;
            Ok(())
        }),
        wired("listener", &[], |context| {
            context.subscribe(|_, _: &Bell| Ok(()));
            Ok(())
        }),
        wired("plain", &[], |context| {
            context.command("noop", |_, (): ()| Ok(()))?;
            Ok(())
        }),
        wired("target", &[], move |context| {
            let (reach, seen) = (reach.clone(), seen.clone());
            context.command("work", move |_, (): ()| {
                let host = reach.lock().unwrap().clone().unwrap();
                let mut seen = seen.lock().unwrap();
                seen.push(host.disable("listener").map_err(|error| error.to_string()).map(|_| ()));
                seen.push(host.disable("plain").map_err(|error| error.to_string()).map(|_| ()));
                Ok(())
            })?;
            Ok(())
        }),
    ];
    let running = Arc::new(Host::builder().plugins(plugins).build().unwrap());
    *host.lock().unwrap() = Some(running.clone());
    let work = running.command::<(), ()>("target:work").unwrap();
    work.call(()).unwrap();
    assert_eq!(
        *outcomes.lock().unwrap(),
        [
            Err("plugin `listener` cannot be disabled from inside a call that is running in it (or, for a disable, from inside a publish or a middleware chain while it has subscriptions, middleware or a command with middleware; for a reload, from inside any plugin call) on the same thread; make the change from outside the call".to_owned()),
            Ok(()),
        ]
    );
    assert_eq!(running.state("plain"), Some(State::Disabled));
    assert_eq!(running.state("listener"), Some(State::Active));
    host.lock().unwrap().take();
}

#[test]
fn a_subscriber_that_publishes_its_own_event_is_bounded() {
    struct Echo;
    let depth = Arc::new(AtomicU64::new(0));
    let bottom = Arc::new(Mutex::new(None));
    let (seen, last) = (depth.clone(), bottom.clone());
    let host = Host::builder()
        .plugins(vec![wired("echo", &[], move |context| {
            let (seen, last) = (seen.clone(), last.clone());
            context.subscribe(move |call: &patchpanel::Call<'_, FnPlugin>, _: &Echo| {
                seen.fetch_add(1, Ordering::SeqCst);
                let delivery = call.publish(&Echo);
                if delivery.too_deep {
                    *last.lock().unwrap() = Some(delivery);
                }
                Ok(())
            });
            Ok(())
        })])
        .build()
        .unwrap();
    // Instead of overflowing the stack, the innermost publish is refused, typed.
    let delivery = host.publish(&Echo);
    assert_eq!((delivery.reached, delivery.failed, delivery.too_deep), (1, 0, false));
    assert_eq!(depth.load(Ordering::SeqCst), 64);
    let refused = bottom.lock().unwrap().unwrap();
    assert_eq!((refused.reached, refused.too_deep), (0, true));
}

// ---------------------------------------------------------------- services

trait Meter: Send + Sync {
    fn read(&self) -> u64;
}

struct Fixed(u64);

impl Meter for Fixed {
    fn read(&self) -> u64 {
        self.0
    }
}

fn meter(instances: &Arc<AtomicU64>) -> PluginSpec {
    let instances = instances.clone();
    wired("meter", &[], move |context| {
        let instance = instances.fetch_add(1, Ordering::SeqCst) + 1;
        context.provide::<dyn Meter>(Arc::new(Fixed(instance)));
        Ok(())
    })
}

#[test]
fn a_service_handle_follows_its_provider_through_disable_and_reload() {
    let instances = Arc::new(AtomicU64::new(0));
    let host = Host::builder().plugins(vec![meter(&instances)]).build().unwrap();
    let meter = host.service::<dyn Meter>().unwrap();
    assert_eq!(meter.with(|m| m.read()), Ok(1));
    let _ = host.reload("meter").unwrap();
    assert_eq!(
        meter.with(|m| m.read()),
        Ok(2),
        "after a reload, the new instance answers"
    );
    host.disable("meter").unwrap();
    let error = meter.with(|m| m.read()).unwrap_err();
    assert_eq!(
        error,
        ServiceError::NoProvider {
            service: "dyn live::Meter",
            requested_by: None
        }
    );
    host.enable("meter").unwrap();
    assert_eq!(meter.with(|m| m.read()), Ok(2));
    // A handle that outlives its host gets an error, not a dangling provider.
    drop(host);
    assert!(matches!(meter.with(|m| m.read()), Err(ServiceError::NoProvider { .. })));
}

#[test]
fn a_panicking_service_is_blamed_on_its_provider() {
    struct Broken;
    impl Meter for Broken {
        fn read(&self) -> u64 {
            panic!("the meter is broken")
        }
    }
    let host = Host::builder()
        .plugins(vec![wired("broken", &[], |context| {
            context.provide::<dyn Meter>(Arc::new(Broken));
            Ok(())
        })])
        .build()
        .unwrap();
    let error = host.service::<dyn Meter>().unwrap().with(|m| m.read()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "service `dyn live::Meter` panicked in its provider, plugin `broken`: the meter is broken"
    );
}

// ---------------------------------------------------------------- the registry file

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("patchpanel-live-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("registry.json")
}

fn registry_host(path: &std::path::Path, controls: &Arc<Controls>, version: &str) -> Host {
    let controls = controls.clone();
    let registered = <Dial as patchpanel::registry::Registered>::MANIFEST
        .to_manifest()
        .unwrap();
    let mut manifest = Manifest::builder("dial", version);
    for permission in &registered.permissions {
        manifest = manifest.permission(permission.resource, permission.action, permission.scope);
    }
    let spec = PluginSpec::with_factory(manifest.build().unwrap(), move || Dial {
        instance: controls.instances.fetch_add(1, Ordering::SeqCst) + 1,
        controls: Some(controls.clone()),
        ..Dial::default()
    });
    Host::builder()
        .plugins(vec![
            spec,
            wired("store", &[], |_| Ok(())),
            wired("cache", &["store"], |_| Ok(())),
        ])
        .registry_file(path)
        .persist_state(true)
        .build()
        .unwrap()
}

#[test]
fn operator_choices_and_state_survive_a_restart() {
    let path = scratch("restart");
    let controls = Arc::new(Controls::default());
    let host = registry_host(&path, &controls, "1.0.0");
    turn(&host);
    turn(&host);
    host.disable_with("store", DependentsPolicy::Cascade).unwrap();
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(written["plugins"]["cache"]["status"], "disabled");
    assert_eq!(written["plugins"]["cache"]["disabled_with"], "store");
    drop(host);

    let host = registry_host(&path, &controls, "1.0.0");
    assert_eq!(host.registry_notices(), []);
    assert_eq!(
        (host.state("store"), host.state("cache")),
        (Some(State::Disabled), Some(State::Disabled))
    );
    // The count was saved at shutdown and restored.
    assert_eq!(turn(&host).1, 3);
    host.enable("store").unwrap();
    assert_eq!(
        host.state("cache"),
        Some(State::Active),
        "the cascade is undone across the restart"
    );
    drop(host);

    // A new version keeps the status but not the state, and says so.
    let host = registry_host(&path, &controls, "2.0.0");
    assert_eq!(
        host.registry_notices(),
        [RegistryNotice::VersionChanged {
            plugin: "dial".into(),
            recorded: "1.0.0".into(),
            running: "2.0.0".into()
        }]
    );
    assert_eq!(
        host.registry_notices()[0].to_string(),
        "plugin `dial` is version 2.0.0, but the registry file recorded 1.0.0; its status applies, its saved state is not restored"
    );
    assert_eq!(turn(&host).1, 1);
}

/// Records of plugins the host does not run are one notice, not one each; 1,000 of them
/// are kept for when the plugins come back, and the rest are dropped at the next write.
#[test]
fn records_of_plugins_not_running_are_summarised_kept_and_bounded() {
    let path = scratch("not-running");
    let mut plugins = serde_json::Map::new();
    for index in 0..1_005 {
        plugins.insert(
            format!("gone-{index:04}"),
            serde_json::json!({ "version": "1.0.0", "status": "enabled" }),
        );
    }
    std::fs::write(
        &path,
        serde_json::json!({ "format": 1, "plugins": plugins }).to_string(),
    )
    .unwrap();
    let controls = Arc::new(Controls::default());
    let host = registry_host(&path, &controls, "1.0.0");
    assert_eq!(
        host.registry_notices(),
        [RegistryNotice::NotRunning {
            count: 1_005,
            examples: vec!["gone-0000".into(), "gone-0001".into(), "gone-0002".into()],
            dropped: 5,
        }]
    );
    assert_eq!(
        host.registry_notices()[0].to_string(),
        "the registry file has records of 1005 plugin(s) this host does not run (`gone-0000`, `gone-0001`, `gone-0002`, …); they are kept for when the plugins come back, up to 1000: 5 beyond that are dropped when the file is next written"
    );
    host.disable("dial").unwrap();
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let kept = written["plugins"].as_object().unwrap();
    assert_eq!(kept.keys().filter(|id| id.starts_with("gone-")).count(), 1_000);
    assert!(kept.contains_key("gone-0999") && !kept.contains_key("gone-1000"));
}

#[test]
fn a_corrupt_registry_file_is_set_aside_and_the_host_starts_with_defaults() {
    let path = scratch("corrupt");
    std::fs::write(&path, "{\"format\": 1, \"plugins\": {").unwrap();
    let controls = Arc::new(Controls::default());
    let host = registry_host(&path, &controls, "1.0.0");
    let notices = host.registry_notices();
    let [
        RegistryNotice::SetAside {
            path: file,
            moved_to,
            reason,
        },
    ] = notices.as_slice()
    else {
        panic!("{notices:?}")
    };
    assert_eq!(file, &path);
    assert_eq!(reason, "EOF while parsing an object at line 1 column 26");
    assert_eq!(
        std::fs::read_to_string(moved_to).unwrap(),
        "{\"format\": 1, \"plugins\": {"
    );
    assert_eq!(host.state("store"), Some(State::Active));
    host.disable("cache").unwrap();
    // The next write made a fresh file; the corrupt one is still where it was put.
    assert!(path.exists() && moved_to.exists());
}

// ---------------------------------------------------------------- reload under a call

#[patchpanel::register_plugin(id = "slowpoke", version = "1.0.0", permissions = { commands = ["register"] })]
#[derive(Default)]
struct Slowpoke {
    instance: u64,
    events: Option<Arc<Mutex<Vec<String>>>>,
    /// Holds the slow call until the test lets it finish.
    release: Option<Arc<AtomicBool>>,
}

impl Plugin for Slowpoke {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let (instance, events, release) = (
            self.instance,
            self.events.clone().unwrap(),
            self.release.clone().unwrap(),
        );
        context.command("slow", move |_, (): ()| {
            events.lock().unwrap().push(format!("slow call on #{instance} starts"));
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !release.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            events.lock().unwrap().push(format!("slow call on #{instance} ends"));
            Ok(instance)
        })?;
        let instance = self.instance;
        context.command("which", move |_, (): ()| Ok(instance))?;
        Ok(())
    }

    fn deactivate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let events = self.events.as_ref().unwrap();
        events.lock().unwrap().push(format!("#{} deactivated", self.instance));
        Ok(())
    }
}

#[test]
fn a_reload_switches_new_calls_at_once_and_deactivates_the_old_instance_after_its_calls() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let instances = Arc::new(AtomicU64::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let (made, log, gate) = (instances.clone(), events.clone(), release.clone());
    let spec = PluginSpec::with_factory(
        <Slowpoke as patchpanel::registry::Registered>::MANIFEST
            .to_manifest()
            .unwrap(),
        move || Slowpoke {
            instance: made.fetch_add(1, Ordering::SeqCst) + 1,
            events: Some(log.clone()),
            release: Some(gate.clone()),
        },
    );
    let host = Host::builder().plugins(vec![spec]).build().unwrap();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| host.execute::<(), u64>("slowpoke:slow", ()).unwrap());
        while events.lock().unwrap().is_empty() {
            std::thread::yield_now();
        }
        let reload = scope.spawn(|| host.reload("slowpoke").unwrap());
        // New calls reach the new instance while the old one is still busy.
        while host.execute::<(), u64>("slowpoke:which", ()).unwrap() != 2 {
            std::thread::yield_now();
        }
        events.lock().unwrap().push("a new call reached #2".to_owned());
        // The reload has switched but cannot return: a call is still on the old instance.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !reload.is_finished(),
            "reload returned while a call was on the old instance"
        );
        release.store(true, Ordering::SeqCst);
        assert_eq!(
            slow.join().unwrap(),
            1,
            "the call in flight finished on the old instance"
        );
        assert_eq!(reload.join().unwrap().old_deactivate, Ok(()));
    });
    assert_eq!(
        events.lock().unwrap().clone(),
        [
            "slow call on #1 starts",
            "a new call reached #2",
            "slow call on #1 ends",
            "#1 deactivated"
        ]
    );
}

/// Found under load on 2026-11-25: a grace period held the registry of threads while it
/// waited, so a thread making its first call anywhere in the process waited for some
/// other thread's long call to end. The first call of a new thread must not wait.
#[test]
fn a_new_threads_first_call_does_not_wait_for_a_grace_period() {
    let release = Arc::new(AtomicBool::new(false));
    let gate = release.clone();
    let slow = Host::builder()
        .plugins(vec![wired("long", &[], move |context| {
            let gate = gate.clone();
            context.command("hold", move |_, (): ()| {
                while !gate.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(())
            })?;
            Ok(())
        })])
        .build()
        .unwrap();
    let other = Host::builder()
        .plugins(vec![wired("quick", &[], |context| {
            context.command("ping", |_, (): ()| Ok(1_u8))?;
            Ok(())
        })])
        .build()
        .unwrap();
    let (slow, other) = (&slow, &other);
    std::thread::scope(|scope| {
        let held = scope.spawn(|| slow.execute::<(), ()>("long:hold", ()).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        // A reload of another host waits, in its grace period, for the held call.
        let reload = scope.spawn(move || other.reload("quick").unwrap());
        std::thread::sleep(Duration::from_millis(20));
        let (sent, answered) = std::sync::mpsc::channel();
        // A thread that has never made a call.
        scope.spawn(move || sent.send(other.execute::<(), u8>("quick:ping", ())).unwrap());
        let first_call = answered.recv_timeout(Duration::from_secs(10));
        release.store(true, Ordering::SeqCst);
        assert_eq!(
            first_call
                .expect("the first call waited for an unrelated grace period")
                .unwrap(),
            1
        );
        held.join().unwrap();
        assert_eq!(reload.join().unwrap().old_deactivate, Ok(()));
    });
}

#[test]
fn a_typed_handle_follows_its_chain_through_other_plugins_reloads() {
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    let host = Host::builder()
        .plugins(vec![
            interceptor("tagger", &[], |context| {
                // Each instance tags responses with the generation it was activated in.
                let tag = GENERATION.fetch_add(1, Ordering::SeqCst);
                context.middleware("target:*", 0, move |invocation, next| {
                    next.run(invocation)?;
                    if let Some(mut response) = invocation.response::<u64>() {
                        *response = tag;
                    }
                    Ok(())
                })?;
                Ok(())
            }),
            wired("bystander", &[], |_| Ok(())),
            wired("target", &[], |context| {
                context.command("work", |_, (): ()| Ok(u64::MAX))?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let handle = host.command::<(), u64>("target:work").unwrap();
    assert_eq!(handle.call(()).unwrap(), 0);
    // A reload that changes nothing about the command, then one that changes its chain:
    // the handle resolved two table swaps ago must see the second.
    assert_eq!(host.reload("bystander").unwrap().old_deactivate, Ok(()));
    assert_eq!(handle.call(()).unwrap(), 0);
    assert_eq!(host.reload("tagger").unwrap().old_deactivate, Ok(()));
    assert_eq!(host.execute::<(), u64>("target:work", ()).unwrap(), 1, "by string id");
    assert_eq!(
        handle.call(()).unwrap(),
        1,
        "through the handle resolved before the reloads"
    );
    let fresh = host.command::<(), u64>("target:work").unwrap();
    assert_eq!(fresh.call(()).unwrap(), 1);
}

#[test]
fn a_typed_handle_runs_the_middleware_a_lazy_plugin_adds_when_it_wakes() {
    let guard = {
        let manifest = patchpanel::testing::with_every_permission(Manifest::builder("late-guard", "1.0.0"))
            .permission("commands", "intercept", patchpanel::manifest::Scope::All)
            .contributes("commands", "ping")
            .lazy()
            .build()
            .unwrap();
        patchpanel::testing::fn_plugin(manifest, |context| {
            context.middleware("target:*", 0, |invocation, _next| {
                Err(invocation.reject("the late guard says no"))
            })?;
            context.command("ping", |_, (): ()| Ok(()))?;
            Ok(())
        })
    };
    let host = Host::builder()
        .plugins(vec![
            guard,
            wired("target", &[], |context| {
                context.command("work", |_, (): ()| Ok(7_u64))?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    // Resolved while the guard sleeps: the command has no middleware, the fast path.
    let handle = host.command::<(), u64>("target:work").unwrap();
    assert_eq!(handle.call(()).unwrap(), 7);
    host.execute::<(), ()>("late-guard:ping", ()).unwrap();
    assert_eq!(host.state("late-guard"), Some(State::Active));
    assert_eq!(
        handle.call(()).unwrap_err().to_string(),
        "command `target:work` was rejected: the late guard says no"
    );
}
