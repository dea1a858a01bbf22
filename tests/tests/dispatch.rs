//! Every channel: events, commands (three ways in), middleware, hooks, services and
//! messaging, with exact outcomes and error values.

use std::sync::{Arc, Mutex};

use patchpanel::{
    Host, PluginError, RegistrationError, State,
    commands::DispatchErrorKind,
    events::Delivery,
    hooks::{HookError, HookOrder, HookWiringError},
    host::StartError,
    messaging::MessageError,
    services::ServiceError,
};
use patchpanel_tests::fixture::{Log, audited_failures, idle_layer, interceptor, push, take, wired};

fn log() -> Log {
    Arc::default()
}

// ---------------------------------------------------------------- events

#[derive(Debug)]
struct Ping(u32);

fn subscriber(id: &str, deps: &[&str], log: &Log, fail: Option<&'static str>) -> patchpanel::PluginSpec {
    let log = log.clone();
    let name = id.to_owned();
    wired(id, deps, move |context| {
        let log = log.clone();
        let name = name.clone();
        context.subscribe(move |call, ping: &Ping| {
            push(&log, format!("{name} got {} from {:?}", ping.0, call.invoker()));
            match fail {
                Some("error") => Err(PluginError::new("subscriber refused")),
                Some("panic") => panic!("subscriber exploded"),
                _ => Ok(()),
            }
        });
        Ok(())
    })
}

/// A host of independent subscribers, each logging to `log` and failing as told.
fn subscribers(log: &Log, plugins: &[(&str, Option<&'static str>)]) -> Host {
    Host::builder()
        .plugins(
            plugins
                .iter()
                .map(|&(id, fail)| subscriber(id, &[], log, fail))
                .collect(),
        )
        .build()
        .unwrap()
}

#[test]
fn events_reach_subscribers_in_activation_order() {
    let log = log();
    let host = Host::builder()
        .plugins(vec![
            subscriber("zed", &[], &log, None),
            subscriber("alpha", &["zed"], &log, None),
            subscriber("beta", &[], &log, None),
        ])
        .build()
        .unwrap();
    assert_eq!(host.order(), ["beta", "zed", "alpha"]);
    assert_eq!(host.publish(&Ping(7)), delivered(3, 0));
    assert_eq!(
        take(&log),
        ["beta got 7 from None", "zed got 7 from None", "alpha got 7 from None"]
    );
    // An event type nobody subscribes to reaches nobody.
    assert_eq!(host.publish(&"unheard"), Delivery::default());
}

#[test]
fn failing_subscribers_are_contained_and_reported() {
    let log = log();
    let host = subscribers(
        &log,
        &[
            ("a-erring", Some("error")),
            ("b-panicking", Some("panic")),
            ("c-fine", None),
        ],
    );
    assert_eq!(host.channel::<Ping>().publish(&Ping(1)), delivered(3, 2));
    assert_eq!(take(&log).len(), 3, "the subscriber after the failures still ran");
    let incidents = host.incidents();
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[0].plugin, "a-erring");
    assert_eq!(incidents[0].message, "subscriber refused");
    assert_eq!(incidents[1].plugin, "b-panicking");
    assert_eq!(incidents[1].message, "panicked: subscriber exploded");
    assert_eq!(incidents[1].site, "event handler for dispatch::Ping");
}

/// A channel resolved once follows the runtime through every change: a disabled
/// subscriber is skipped (the gate disarmed), an enabled one reached again (re-armed),
/// a reloaded one reached in its new instance (newer tables), each exactly once.
#[test]
fn a_channel_held_across_disable_enable_and_reload_reaches_exactly_the_active_subscribers() {
    let log = log();
    let host = subscribers(&log, &[("a", None), ("b", None), ("c", None)]);
    let channel = host.channel::<Ping>();
    let mut round = 0;
    let mut publish = |expected: &[&str]| {
        round += 1;
        assert_eq!(
            channel.publish(&Ping(round)),
            delivered(expected.len(), 0),
            "round {round}"
        );
        let got: Vec<String> = expected
            .iter()
            .map(|id| format!("{id} got {round} from None"))
            .collect();
        assert_eq!(take(&log), got, "round {round}");
    };
    publish(&["a", "b", "c"]);
    publish(&["a", "b", "c"]);
    host.disable("b").unwrap();
    publish(&["a", "c"]);
    publish(&["a", "c"]);
    host.enable("b").unwrap();
    publish(&["a", "b", "c"]);
    assert_eq!(host.reload("c").unwrap().generation, 1);
    publish(&["a", "b", "c"]);
    host.disable("a").unwrap();
    publish(&["b", "c"]);
    host.enable("a").unwrap();
    publish(&["a", "b", "c"]);
    // A channel made now takes its fast path again, and agrees.
    assert_eq!(host.channel::<Ping>().publish(&Ping(0)), delivered(3, 0));
    assert_eq!(
        take(&log),
        ["a got 0 from None", "b got 0 from None", "c got 0 from None"]
    );
}

/// A channel of one subscriber (and a publish by type that finds one) calls it without
/// the walk's loop: the same outcomes, failures and attribution as any walk, and the
/// same plan through disable and enable.
#[test]
fn a_channel_of_one_subscriber_reports_and_attributes_as_any_walk() {
    for (fail, message) in [
        (None, None),
        (Some("error"), Some("subscriber refused")),
        (Some("panic"), Some("panicked: subscriber exploded")),
    ] {
        let log = log();
        let host = subscribers(&log, &[("only", fail)]);
        let channel = host.channel::<Ping>();
        let failed = usize::from(fail.is_some());
        assert_eq!(channel.publish(&Ping(1)), delivered(1, failed), "{fail:?}");
        assert_eq!(take(&log), ["only got 1 from None"]);
        let incidents = host.incidents();
        assert_eq!(incidents.len(), failed, "{fail:?}");
        if let Some(message) = message {
            assert_eq!(incidents[0].plugin, "only");
            assert_eq!(incidents[0].message, message);
            assert_eq!(incidents[0].site, "event handler for dispatch::Ping");
        }
        host.disable("only").unwrap();
        assert_eq!(channel.publish(&Ping(2)), delivered(0, 0));
        assert_eq!(take(&log), Vec::<String>::new());
        host.enable("only").unwrap();
        assert_eq!(channel.publish(&Ping(3)), delivered(1, failed));
        assert_eq!(take(&log), ["only got 3 from None"]);
        // By type, the walk of one subscriber has the same shape.
        assert_eq!(host.publish(&Ping(4)), delivered(1, failed));
        assert_eq!(take(&log), ["only got 4 from None"]);
        let incidents = host.incidents();
        assert_eq!(incidents.len(), 3 * failed, "{fail:?}");
        if let Some(message) = message {
            assert_eq!(
                (incidents[2].plugin.as_str(), incidents[2].message.as_str()),
                ("only", message)
            );
        }
    }
}

/// Publishes `Ping(0)` by type, then `Ping(1)` through a channel, checking each.
fn publish_both_ways(host: &Host, check: impl Fn(u64, Delivery)) {
    check(0, host.publish(&Ping(0)));
    check(1, host.channel::<Ping>().publish(&Ping(1)));
}

/// A delivery that reached `reached` subscribers, of which `failed` failed.
fn delivered(reached: usize, failed: usize) -> Delivery {
    Delivery {
        reached,
        failed,
        too_deep: false,
        denied: false,
    }
}

/// One panic guard covers a publish walk: after a panic the walk resumes at the next
/// subscriber under a new guard, so panics in a row, first and last places included,
/// are each attributed to their own plugin and every other subscriber still runs once.
#[test]
fn a_walk_resumes_after_each_panicking_subscriber_and_attributes_each_panic() {
    let log = log();
    let host = subscribers(
        &log,
        &[
            ("a-panicking", Some("panic")),
            ("b-panicking", Some("panic")),
            ("c-fine", None),
            ("d-off", None),
            ("e-panicking", Some("panic")),
        ],
    );
    host.disable("d-off").unwrap();
    publish_both_ways(&host, |publish, delivery| {
        assert_eq!(delivery, delivered(4, 3));
        assert_eq!(
            take(&log),
            ["a-panicking", "b-panicking", "c-fine", "e-panicking"]
                .map(|name| format!("{name} got {publish} from None"))
        );
    });
    let panicked: Vec<String> = host.incidents().into_iter().map(|incident| incident.plugin).collect();
    assert_eq!(
        panicked,
        [
            "a-panicking",
            "b-panicking",
            "e-panicking",
            "a-panicking",
            "b-panicking",
            "e-panicking"
        ]
    );
}

/// With every subscriber active the gate is armed and the walk counts what it reached
/// when it ends, not one by one: around panics in the first, second and last places
/// (each resumed under a new guard), every subscriber is still counted once.
#[test]
fn an_armed_walk_counts_each_subscriber_once_around_panics() {
    let log = log();
    let host = subscribers(
        &log,
        &[
            ("a-panicking", Some("panic")),
            ("b-panicking", Some("panic")),
            ("c-fine", None),
            ("d-erring", Some("error")),
            ("e-panicking", Some("panic")),
        ],
    );
    publish_both_ways(&host, |_, delivery| {
        assert_eq!(delivery, delivered(5, 4));
        assert_eq!(take(&log).len(), 5, "every subscriber ran once");
    });
    let failed: Vec<String> = host.incidents().into_iter().map(|incident| incident.plugin).collect();
    assert_eq!(
        failed,
        ["a-panicking", "b-panicking", "d-erring", "e-panicking"].repeat(2)
    );
}

#[test]
fn disabled_plugins_receive_nothing() {
    let log = log();
    let host = Host::builder()
        .plugins(vec![subscriber("a", &[], &log, None), subscriber("b", &[], &log, None)])
        .build()
        .unwrap();
    host.disable("a").unwrap();
    assert_eq!(host.publish(&Ping(2)), delivered(1, 0));
    assert_eq!(take(&log), ["b got 2 from None"]);
    host.enable("a").unwrap();
    assert_eq!(host.publish(&Ping(3)).reached, 2);
}

// ---------------------------------------------------------------- commands

fn math() -> patchpanel::PluginSpec {
    wired("math", &[], |context| {
        context.command("double", |_, n: u64| Ok(n * 2))?;
        context.command("math:fail", |_, (): ()| -> Result<u8, PluginError> {
            Err(PluginError::new("no can do"))
        })?;
        context.command("panic", |_, (): ()| -> Result<u8, PluginError> {
            panic!("handler exploded")
        })?;
        Ok(())
    })
}

#[test]
fn a_command_has_three_ways_in() {
    let host = Host::builder().plugins(vec![math()]).build().unwrap();
    let double = host.command::<u64, u64>("math:double").unwrap();
    assert_eq!(double.call(21).unwrap(), 42);
    assert_eq!(host.execute::<u64, u64>("math:double", 5).unwrap(), 10);
    assert_eq!(
        host.execute_json("math:double", serde_json::json!(8)).unwrap(),
        serde_json::json!(16)
    );
    assert_eq!(host.command_ids(), ["math:double", "math:fail", "math:panic"]);
}

#[test]
fn command_errors_are_typed_with_messages() {
    let host = Host::builder().plugins(vec![math()]).build().unwrap();

    let error = host.execute::<u64, u64>("math:doubel", 1).unwrap_err();
    assert!(
        matches!(error.kind(), DispatchErrorKind::UnknownCommand { suggestion: Some(s), .. } if s == "math:double")
    );
    assert_eq!(
        error.to_string(),
        "unknown command `math:doubel`; did you mean `math:double`?"
    );

    let error = host.execute::<String, u64>("math:double", "x".into()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `math:double` takes `u64` and returns `u64`, but was called with `alloc::string::String` -> `u64`"
    );
    assert!(host.command::<u64, String>("math:double").is_err());

    let error = host.execute::<(), u8>("math:fail", ()).unwrap_err();
    assert!(matches!(error.kind(), DispatchErrorKind::Handler { plugin, .. } if plugin == "math"));
    assert_eq!(
        error.to_string(),
        "command `math:fail` failed in plugin `math`: no can do"
    );

    let error = host.execute::<(), u8>("math:panic", ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `math:panic` panicked in plugin `math`: handler exploded"
    );

    let error = host
        .execute_json("math:double", serde_json::json!("eight"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "command `math:double`: the request is not a valid `u64`: invalid type: string \"eight\", expected u64"
    );

    host.disable("math").unwrap();
    let error = host.execute::<u64, u64>("math:double", 1).unwrap_err();
    assert!(matches!(
        error.kind(),
        DispatchErrorKind::NotActive {
            state: State::Disabled,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "command `math:double` is unavailable: plugin `math` is disabled"
    );
}

#[test]
fn a_plugin_registers_only_in_its_own_namespace() {
    let outcome: Arc<Mutex<Vec<Result<(), RegistrationError>>>> = Arc::default();
    let seen = outcome.clone();
    let _host = Host::builder()
        .plugins(vec![wired("greeter", &[], move |context| {
            let mut seen = seen.lock().unwrap();
            seen.push(context.command("kv-store:get", |_, (): ()| Ok(())));
            seen.push(context.command("", |_, (): ()| Ok(())));
            seen.push(context.command("greeter:hello", |_, (): ()| Ok(())));
            seen.push(context.command("hello", |_, (): ()| Ok(())));
            Ok(())
        })])
        .build()
        .unwrap();
    let outcome = outcome.lock().unwrap();
    assert_eq!(
        outcome[0].as_ref().unwrap_err().to_string(),
        "plugin `greeter` cannot register `kv-store:get`: a plugin registers commands only in its own namespace; use `greeter:get`"
    );
    assert!(matches!(outcome[1], Err(RegistrationError::InvalidName { .. })));
    assert_eq!(outcome[2], Ok(()));
    assert_eq!(
        outcome[3],
        Err(RegistrationError::Duplicate {
            plugin: "greeter".into(),
            what: "command",
            name: "greeter:hello".into()
        })
    );
}

#[test]
fn a_plugin_that_fails_to_activate_leaves_no_registrations() {
    let host = Host::builder()
        .plugins(vec![wired("flaky", &[], |context| {
            context.command("ping", |_, (): ()| Ok(()))?;
            Err(PluginError::new("gave up after registering"))
        })])
        .build()
        .unwrap();
    assert_eq!(host.command_ids().len(), 0);
    // Its commands are gone, and calling one says why: the plugin failed.
    let error = host.execute::<(), ()>("flaky:ping", ()).unwrap_err();
    assert!(matches!(
        error.kind(),
        DispatchErrorKind::NotActive { plugin, state: State::Failed, failure: Some(_), .. } if plugin == "flaky"
    ));
    assert_eq!(
        error.to_string(),
        "command `flaky:ping` is unavailable: plugin `flaky` is failed: activate returned an error: gave up after registering"
    );
}

// ---------------------------------------------------------------- middleware

fn layered(log: &Log) -> Vec<patchpanel::PluginSpec> {
    let (outer_log, inner_log, base_log) = (log.clone(), log.clone(), log.clone());
    vec![
        // `base` registers the command and a low-priority middleware.
        wired("base", &[], move |context| {
            context.command("add", |_, (a, b): (i64, i64)| Ok(a + b))?;
            context.command("other", |_, (): ()| Ok(0_i64))?;
            let log = base_log.clone();
            context.middleware("base:add", 0, move |invocation, next| {
                push(&log, "base");
                next.run(invocation)
            })?;
            Ok(())
        }),
        // `inner` depends on base, same priority: it runs after base's middleware.
        interceptor("inner", &["base"], move |context| {
            let log = inner_log.clone();
            context.middleware("base:*", 0, move |invocation, next| {
                push(&log, "inner");
                // Changes the request on its way in.
                if let Some(mut request) = invocation.request::<(i64, i64)>() {
                    request.0 *= 10;
                }
                next.run(invocation)
            })?;
            Ok(())
        }),
        // `outer` has the highest priority: it runs first and post-processes.
        interceptor("outer", &[], move |context| {
            let log = outer_log.clone();
            context.middleware("*", 10, move |invocation, next| {
                push(&log, format!("outer sees {}", invocation.command()));
                if invocation.metadata("cached") == Some("yes") {
                    invocation.respond(-1_i64);
                    return Ok(());
                }
                if invocation.metadata("deny") == Some("yes") {
                    return Err(invocation.reject("denied by outer"));
                }
                next.run(invocation)?;
                if let Some(mut sum) = invocation.response::<i64>() {
                    *sum += 1;
                }
                Ok(())
            })?;
            Ok(())
        }),
    ]
}

#[test]
fn middleware_runs_by_priority_then_dependency_order_and_can_change_everything() {
    let log = log();
    let host = Host::builder().plugins(layered(&log)).build().unwrap();
    // (2 * 10) + 3 = 23, then outer adds 1.
    assert_eq!(host.execute::<(i64, i64), i64>("base:add", (2, 3)).unwrap(), 24);
    assert_eq!(take(&log), ["outer sees base:add", "base", "inner"]);
    // Patterns: `base:other` matches `*` and `base:*`, not `base:add`.
    assert_eq!(host.execute::<(), i64>("base:other", ()).unwrap(), 1);
    assert_eq!(take(&log), ["outer sees base:other", "inner"]);
}

#[test]
fn middleware_can_short_circuit_with_a_response_or_an_error() {
    let log = log();
    let host = Host::builder().plugins(layered(&log)).build().unwrap();
    assert_eq!(
        host.execute_with::<(i64, i64), i64>("base:add", (2, 3), &[("cached", "yes")])
            .unwrap(),
        -1
    );
    assert_eq!(take(&log), ["outer sees base:add"]);
    let error = host
        .execute_with::<(i64, i64), i64>("base:add", (2, 3), &[("deny", "yes")])
        .unwrap_err();
    assert_eq!(error.to_string(), "command `base:add` was rejected: denied by outer");
    // The same chain runs on the typed handle and on the JSON boundary.
    let add = host.command::<(i64, i64), i64>("base:add").unwrap();
    assert_eq!(add.call((1, 1)).unwrap(), 12);
    assert_eq!(
        host.execute_json("base:add", serde_json::json!([1, 1])).unwrap(),
        serde_json::json!(12)
    );
}

#[test]
fn middleware_of_a_disabled_plugin_steps_aside() {
    let log = log();
    let host = Host::builder().plugins(layered(&log)).build().unwrap();
    host.disable("outer").unwrap();
    assert_eq!(host.execute::<(i64, i64), i64>("base:add", (2, 3)).unwrap(), 23);
    assert_eq!(take(&log), ["base", "inner"]);
}

/// A panic in a layer after the rest of its chain returned is the layer's own: with the
/// dispatch gate armed and disarmed, by a typed handle and by id, the error and the
/// audit name the panicking layer's plugin, not the plugin of the layer or handler that
/// ran last.
#[test]
fn a_layer_that_panics_after_its_next_returned_is_the_one_blamed() {
    let plugins = vec![
        interceptor("outer", &[], |context| {
            context.middleware("target:*", 10, |invocation, next| {
                next.run(invocation)?;
                panic!("outer panicked after the handler answered");
            })?;
            Ok(())
        }),
        interceptor("inner", &[], |context| {
            context.middleware("target:*", 0, |invocation, next| next.run(invocation))?;
            Ok(())
        }),
        idle_layer(),
        wired("target", &[], |context| {
            context.command("work", |_, (): ()| Ok(7_u8))?;
            Ok(())
        }),
    ];
    let host = Host::builder().plugins(plugins).build().unwrap();
    let expected =
        "command `target:work` panicked in plugin `outer`: in middleware: outer panicked after the handler answered";
    let work = host.command::<(), u8>("target:work").unwrap();
    for gate in ["armed", "disarmed"] {
        if gate == "disarmed" {
            host.disable("idle").unwrap();
        }
        assert_eq!(
            work.call(()).unwrap_err().to_string(),
            expected,
            "by handle, gate {gate}"
        );
        assert_eq!(
            host.execute::<(), u8>("target:work", ()).unwrap_err().to_string(),
            expected,
            "by id, gate {gate}"
        );
    }
    // Audited as the panicking layer's failure, and nobody else's.
    let failed = |plugin: &str| audited_failures(&host, plugin);
    assert_eq!(
        failed("outer"),
        ["in middleware: panicked: outer panicked after the handler answered"; 4]
    );
    assert_eq!((failed("inner"), failed("target")), (vec![], vec![]));
}

/// A layer may catch its `next`'s panic and answer with an error instead: the handler's
/// panic is then contained by that layer, and a later panic of a layer above it is the
/// later layer's own, not the handler's.
#[test]
fn a_panic_caught_inside_the_chain_blames_nobody_and_a_later_one_blames_its_layer() {
    let plugins = vec![
        interceptor("outer", &[], |context| {
            context.middleware("target:*", 10, |invocation, next| {
                let result = next.run(invocation);
                if invocation.metadata("outer") == Some("panic") {
                    panic!("outer panicked after a contained panic");
                }
                result
            })?;
            Ok(())
        }),
        interceptor("catcher", &[], |context| {
            context.middleware("target:*", 0, |invocation, next| {
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| next.run(invocation)));
                caught.unwrap_or_else(|_| Err(invocation.reject("the handler panicked")))
            })?;
            Ok(())
        }),
        idle_layer(),
        wired("target", &[], |context| {
            context.command("work", |_, (): ()| -> Result<u8, PluginError> {
                panic!("the handler panicked")
            })?;
            Ok(())
        }),
    ];
    let host = Host::builder().plugins(plugins).build().unwrap();
    let work = host.command::<(), u8>("target:work").unwrap();
    let caught = "command `target:work` was rejected: the handler panicked";
    let outer =
        "command `target:work` panicked in plugin `outer`: in middleware: outer panicked after a contained panic";
    for gate in ["armed", "disarmed"] {
        if gate == "disarmed" {
            host.disable("idle").unwrap();
        }
        assert_eq!(work.call(()).unwrap_err().to_string(), caught, "by handle, gate {gate}");
        assert_eq!(
            work.call_with((), &[("outer", "panic")]).unwrap_err().to_string(),
            outer,
            "by handle, gate {gate}"
        );
        assert_eq!(
            host.execute::<(), u8>("target:work", ()).unwrap_err().to_string(),
            caught,
            "by id, gate {gate}"
        );
        assert_eq!(
            host.execute_with::<(), u8>("target:work", (), &[("outer", "panic")])
                .unwrap_err()
                .to_string(),
            outer,
            "by id, gate {gate}"
        );
    }
    let failed = |plugin: &str| audited_failures(&host, plugin);
    assert_eq!(
        failed("outer"),
        ["in middleware: panicked: outer panicked after a contained panic"; 4]
    );
    assert_eq!((failed("catcher"), failed("target")), (vec![], vec![]));
}

// ---------------------------------------------------------------- hooks

fn hook_host(orders: Vec<(&'static str, HookOrder)>) -> Result<Host, StartError> {
    let mut plugins = vec![wired("host-app", &[], |context| {
        context.declare_hook::<u32, String>("render")?;
        Ok(())
    })];
    for (id, order) in orders {
        let name = id.to_owned();
        plugins.push(wired(id, &["host-app"], move |context| {
            let name = name.clone();
            context.implement_hook("host-app:render", order.clone(), move |_, n: &u32| {
                (name != "silent").then(|| format!("{name}:{n}"))
            })?;
            Ok(())
        }));
    }
    Host::builder().plugins(plugins).build()
}

#[test]
fn hooks_call_all_and_first_in_priority_then_constraint_order() {
    let host = hook_host(vec![
        ("low", HookOrder::default()),
        ("high", HookOrder::default().priority(5)),
        ("after-low", HookOrder::default().priority(9).after("low")),
        ("silent", HookOrder::default().priority(20)),
    ])
    .unwrap();
    let render = host.hook::<u32, String>("host-app:render").unwrap();
    assert_eq!(render.implementors(), ["silent", "high", "low", "after-low"]);
    assert_eq!(render.call_all(&1), ["high:1", "low:1", "after-low:1"]);
    assert_eq!(render.first(&2), Some("high:2".to_owned()));
}

#[test]
fn a_cycle_in_hook_constraints_names_the_plugins() {
    let error = hook_host(vec![
        ("one", HookOrder::default().before("two")),
        ("two", HookOrder::default().before("three")),
        ("three", HookOrder::default().before("one")),
        ("free", HookOrder::default()),
    ])
    .unwrap_err();
    assert!(
        matches!(&error, StartError::Hooks(HookWiringError::Cycle { plugins, .. }) if plugins == &["one", "three", "two"])
    );
    assert_eq!(
        error.to_string(),
        "the before/after constraints on hook `host-app:render` form a cycle among plugins one, three, two; remove one of those constraints"
    );
}

#[test]
fn hook_errors_are_typed() {
    let host = hook_host(vec![]).unwrap();
    assert_eq!(
        host.hook::<u32, String>("host-app:paint").unwrap_err(),
        HookError::Unknown("host-app:paint".into())
    );
    assert_eq!(
        host.hook::<u64, String>("host-app:render").unwrap_err().to_string(),
        "hook `host-app:render` is declared as `u32 -> alloc::string::String`, but was called as `u64 -> alloc::string::String`"
    );
    assert!(
        host.hook::<u32, String>("host-app:render")
            .unwrap()
            .call_all(&1)
            .is_empty()
    );
}

#[test]
fn implementing_an_undeclared_hook_of_a_running_plugin_is_an_error() {
    let error = Host::builder()
        .plugins(vec![
            wired("owner", &[], |_| Ok(())),
            wired("typo", &[], |context| {
                context.implement_hook("owner:rendr", HookOrder::default(), |_, _: &u32| Some(1_u8))?;
                Ok(())
            }),
            // A hook whose owner is not running is simply not called.
            wired("optional", &[], |context| {
                context.implement_hook("absent:render", HookOrder::default(), |_, _: &u32| Some(1_u8))?;
                Ok(())
            }),
        ])
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "plugin `typo` implements hook `owner:rendr`, but the running plugin that owns that namespace does not declare it; check the hook id"
    );
}

// ---------------------------------------------------------------- services

trait Clock: Send + Sync {
    fn now(&self) -> u64;
}

struct Fixed(u64);

impl Clock for Fixed {
    fn now(&self) -> u64 {
        self.0
    }
}

fn clock(id: &str, rank: i32, now: u64) -> patchpanel::PluginSpec {
    wired(id, &[], move |context| {
        context.provide_ranked::<dyn Clock>(rank, Arc::new(Fixed(now)));
        Ok(())
    })
}

#[test]
fn the_highest_ranked_provider_wins_ties_by_id() {
    let host = Host::builder()
        .plugins(vec![
            clock("b-clock", 5, 2),
            clock("a-clock", 5, 1),
            clock("low-clock", 1, 3),
        ])
        .build()
        .unwrap();
    let clock = host.service::<dyn Clock>().unwrap();
    assert_eq!(clock.with(|c| c.now()), Ok(1));
    assert_eq!(clock.active_providers(), ["a-clock", "b-clock", "low-clock"]);
    host.disable("a-clock").unwrap();
    // The same handle follows the providers: the next best answers now.
    assert_eq!(clock.with(|c| c.now()), Ok(2));
    assert_eq!(clock.provider().unwrap(), "b-clock");
}

#[test]
fn a_missing_service_is_a_typed_error() {
    let host = Host::builder().plugins(vec![]).build().unwrap();
    let Err(error) = host.service::<dyn Clock>() else {
        panic!("no clock was provided")
    };
    assert_eq!(
        error,
        ServiceError::NoProvider {
            service: "dyn dispatch::Clock",
            requested_by: None
        }
    );
    let failing = Host::builder()
        .plugins(vec![wired("needy", &[], |context| {
            context.service::<dyn Clock>()?;
            Ok(())
        })])
        .build()
        .unwrap();
    assert_eq!(
        failing.failure("needy").unwrap().to_string(),
        "activate returned an error: no active plugin provides service `dyn dispatch::Clock` (requested by \
         plugin `needy`); add a plugin that calls `context.provide::<dyn dispatch::Clock>(...)` and declare it as a dependency"
    );
}

#[test]
fn dependencies_can_use_services_while_activating() {
    let seen = log();
    let record = seen.clone();
    let host = Host::builder()
        .plugins(vec![
            clock("clock", 0, 42),
            wired("user", &["clock"], move |context| {
                push(
                    &record,
                    format!("now is {}", context.service::<dyn Clock>()?.with(|c| c.now())?),
                );
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    assert_eq!(host.state("user").unwrap(), State::Active);
    assert_eq!(take(&seen), ["now is 42"]);
}

// ---------------------------------------------------------------- messaging

struct Note(&'static str);
struct Ask(u32);

fn inbox(log: &Log) -> patchpanel::PluginSpec {
    let log = log.clone();
    wired("inbox", &[], move |context| {
        let notes = log.clone();
        context.on_message(move |call, note: Note| {
            push(&notes, format!("note {} from {:?}", note.0, call.invoker()));
            if note.0 == "bad" {
                return Err(PluginError::new("bad note"));
            }
            Ok(())
        })?;
        context.on_message(|_, ask: Ask| Ok(ask.0 + 1))?;
        Ok(())
    })
}

#[test]
fn messages_go_point_to_point() {
    let log = log();
    let host = Host::builder()
        .plugins(vec![
            inbox(&log),
            wired("sender", &["inbox"], |context| {
                context.command("relay", |call, n: u32| {
                    call.send("inbox", Note("relayed"))
                        .map_err(|e| PluginError::wrap("send", e))?;
                    call.request::<Ask, u32>("inbox", Ask(n))
                        .map_err(|e| PluginError::wrap("request", e))
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    assert_eq!(host.request::<Ask, u32>("inbox", Ask(1)).unwrap(), 2);
    assert_eq!(host.execute::<u32, u32>("sender:relay", 9).unwrap(), 10);
    assert_eq!(take(&log), ["note relayed from Some(\"sender\")"]);
    // Fire-and-forget: a failing handler is an incident, not an error for the sender.
    host.send("inbox", Note("bad")).unwrap();
    assert_eq!(
        host.incidents()[0].message,
        "plugin `inbox` failed to handle `dispatch::Note`: bad note"
    );
}

#[test]
fn message_errors_are_typed() {
    let host = Host::builder().plugins(vec![inbox(&log())]).build().unwrap();
    assert!(matches!(host.send("nobody", Note("x")), Err(MessageError::UnknownPlugin(id)) if id == "nobody"));
    assert_eq!(
        host.request::<u8, u8>("inbox", 1).unwrap_err().to_string(),
        "plugin `inbox` has no inbox for `u8`; it must call `context.on_message::<u8, _>(...)` when it activates"
    );
    assert_eq!(
        host.request::<Ask, String>("inbox", Ask(1)).unwrap_err().to_string(),
        "plugin `inbox` answers `dispatch::Ask` with `u32`, not `alloc::string::String`"
    );
    host.disable("inbox").unwrap();
    assert_eq!(
        host.request::<Ask, u32>("inbox", Ask(1)).unwrap_err().to_string(),
        "plugin `inbox` is disabled and receives no messages"
    );
}

// ---------------------------------------------------------------- reload and threads

#[test]
fn reload_rewires_the_new_instance() {
    let host = Host::builder().plugins(vec![math()]).build().unwrap();
    assert_eq!(host.reload("math").unwrap().old_deactivate, Ok(()));
    assert_eq!(host.execute::<u64, u64>("math:double", 4).unwrap(), 8);
    assert_eq!(host.command_ids().len(), 3);
}

#[test]
fn dispatch_from_many_threads_at_once() {
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = counter.clone();
    let host = Host::builder()
        .plugins(vec![wired("count", &[], move |context| {
            let seen = seen.clone();
            context.command("bump", move |_, by: u64| {
                Ok(seen.fetch_add(by, std::sync::atomic::Ordering::Relaxed))
            })?;
            Ok(())
        })])
        .build()
        .unwrap();
    let bump = host.command::<u64, u64>("count:bump").unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10_000 {
                    bump.call(1).unwrap();
                    host.execute::<u64, u64>("count:bump", 1).unwrap();
                }
            });
        }
    });
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 80_000);
}
