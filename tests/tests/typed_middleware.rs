//! Typed middleware (`Context::typed_middleware`): the same order, short-circuits,
//! rejections, panics and attribution as pattern middleware, by typed handle and by id,
//! behind the armed dispatch gate (the typed chain) and behind a disarmed one (each layer
//! through its adapter), alone and mixed with pattern middleware in one chain.

use std::sync::{Arc, Mutex};

use patchpanel::audit::Decision;
use patchpanel::commands::{DispatchErrorKind, TypedNext};
use patchpanel::{Host, PluginError, RegistrationError};
use patchpanel_tests::fixture::{
    Log, armed_then_disarmed, audited_denials, audited_failures, idle_layer, interceptor, push, take, wired,
};

type Add<'a> = TypedNext<'a, (i64, i64), i64>;

/// `base:add` (sums a pair) wrapped by typed middleware of three plugins: `inner`
/// (priority 0, after `base` in activation order) multiplies the first number by ten,
/// `outer` (priority 10) answers -1 for metadata `cached`, rejects for `deny`, and adds
/// one to the answer; `base`'s own (priority 0) logs. With `pattern`, `inner` is pattern
/// middleware instead, so the chain mixes both kinds. Plugin `idle` disarms the gate
/// when disabled.
fn layered(log: &Log, pattern: bool) -> Vec<patchpanel::PluginSpec> {
    let (outer_log, inner_log, base_log) = (log.clone(), log.clone(), log.clone());
    vec![
        wired("base", &[], move |context| {
            context.command("add", |_, (a, b): (i64, i64)| Ok(a + b))?;
            let log = base_log.clone();
            context.typed_middleware("base:add", 0, move |request: (i64, i64), next: Add<'_>| {
                push(&log, "base");
                next.run(request)
            })?;
            Ok(())
        }),
        interceptor("inner", &["base"], move |context| {
            let log = inner_log.clone();
            if pattern {
                context.middleware("base:*", 0, move |invocation, next| {
                    push(&log, "inner (pattern)");
                    if let Some(mut request) = invocation.request::<(i64, i64)>() {
                        request.0 *= 10;
                    }
                    next.run(invocation)
                })?;
            } else {
                context.typed_middleware("base:add", 0, move |(a, b): (i64, i64), next: Add<'_>| {
                    push(&log, "inner");
                    next.run((a * 10, b))
                })?;
            }
            Ok(())
        }),
        interceptor("outer", &[], move |context| {
            let log = outer_log.clone();
            context.typed_middleware("base:add", 10, move |request: (i64, i64), next: Add<'_>| {
                push(&log, format!("outer sees {} from {:?}", next.command(), next.invoker()));
                if next.metadata("cached") == Some("yes") {
                    return Ok(-1);
                }
                if next.metadata("deny") == Some("yes") {
                    return Err(next.reject("denied by outer"));
                }
                Ok(next.run(request)? + 1)
            })?;
            Ok(())
        }),
        idle_layer(),
    ]
}

#[test]
fn typed_middleware_runs_by_priority_then_dependency_order_and_changes_request_and_response() {
    for pattern in [false, true] {
        let log = Log::default();
        let host = Host::builder().plugins(layered(&log, pattern)).build().unwrap();
        let add = host.command::<(i64, i64), i64>("base:add").unwrap();
        let plan = if pattern { "chain" } else { "typed chain" };
        assert_eq!(
            format!("{add:?}"),
            format!("CommandHandle {{ id: \"base:add\", plan: \"{plan}\" }}")
        );
        let inner = if pattern { "inner (pattern)" } else { "inner" };
        armed_then_disarmed(&host, |gate| {
            // (2 * 10) + 3 = 23, then outer adds 1.
            assert_eq!(
                add.call((2, 3)).unwrap(),
                24,
                "by handle, gate {gate}, pattern {pattern}"
            );
            assert_eq!(take(&log), ["outer sees base:add from None", "base", inner]);
            assert_eq!(host.execute::<(i64, i64), i64>("base:add", (2, 3)).unwrap(), 24);
            assert_eq!(take(&log), ["outer sees base:add from None", "base", inner]);
            assert_eq!(
                host.execute_json("base:add", serde_json::json!([1, 1])).unwrap(),
                serde_json::json!(12)
            );
            assert_eq!(take(&log), ["outer sees base:add from None", "base", inner]);
        });
    }
}

#[test]
fn typed_middleware_short_circuits_with_a_response_or_a_rejection_it_is_audited_for() {
    for pattern in [false, true] {
        let log = Log::default();
        let host = Host::builder().plugins(layered(&log, pattern)).build().unwrap();
        let add = host.command::<(i64, i64), i64>("base:add").unwrap();
        armed_then_disarmed(&host, |gate| {
            assert_eq!(add.call_with((2, 3), &[("cached", "yes")]).unwrap(), -1, "gate {gate}");
            assert_eq!(take(&log), ["outer sees base:add from None"]);
            let error = host
                .execute_with::<(i64, i64), i64>("base:add", (2, 3), &[("deny", "yes")])
                .unwrap_err();
            assert_eq!(error.to_string(), "command `base:add` was rejected: denied by outer");
            assert!(matches!(error.kind(), DispatchErrorKind::Rejected { .. }));
            let error = add.call_with((2, 3), &[("deny", "yes")]).unwrap_err();
            assert_eq!(error.to_string(), "command `base:add` was rejected: denied by outer");
            assert_eq!(take(&log), ["outer sees base:add from None"; 2]);
        });
        // Each rejection audited once, as `outer`'s, and as nobody else's.
        let denied = |plugin: &str| {
            host.audit()
                .records_for(plugin)
                .into_iter()
                .filter(|record| record.decision == Decision::Denied)
                .map(|record| (record.action.into_owned(), record.details.into_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            denied("outer"),
            vec![
                (
                    "middleware on base:add".to_owned(),
                    "command `base:add` was rejected: denied by outer".to_owned()
                );
                4
            ]
        );
        assert_eq!((denied("base"), denied("inner")), (vec![], vec![]));
    }
}

#[test]
fn the_handlers_error_passes_through_typed_middleware_unaudited_as_a_rejection() {
    let host = Host::builder()
        .plugins(vec![
            wired("target", &[], |context| {
                context.command("fail", |_, (): ()| -> Result<u8, PluginError> {
                    Err(PluginError::new("no luck"))
                })?;
                Ok(())
            }),
            interceptor("layer", &[], |context| {
                context.typed_middleware("target:fail", 0, |(): (), next: TypedNext<'_, (), u8>| next.run(()))?;
                Ok(())
            }),
            idle_layer(),
        ])
        .build()
        .unwrap();
    let fail = host.command::<(), u8>("target:fail").unwrap();
    armed_then_disarmed(&host, |gate| {
        let error = fail.call(()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "command `target:fail` failed in plugin `target`: no luck",
            "gate {gate}"
        );
        assert!(matches!(error.kind(), DispatchErrorKind::Handler { .. }));
    });
    assert_eq!(audited_failures(&host, "target"), ["no luck"; 2]);
    assert_eq!(audited_denials(&host, "layer"), Vec::<(String, String)>::new());
}

/// As for pattern middleware: a panic after the rest of the chain returned is the
/// panicking layer's, and a panic a layer caught blames nobody; by handle and by id, with
/// the gate armed (the typed chain) and disarmed (the adapters).
#[test]
fn typed_middleware_panics_are_attributed_to_the_layer_they_started_in() {
    let plugins = vec![
        interceptor("outer", &[], |context| {
            context.typed_middleware("target:work", 10, |(): (), next: TypedNext<'_, (), u8>| {
                let panic = next.metadata("outer") == Some("panic");
                let result = next.run(());
                if panic {
                    panic!("outer panicked after its next returned");
                }
                result
            })?;
            Ok(())
        }),
        interceptor("catcher", &[], |context| {
            context.typed_middleware("target:work", 0, |(): (), next: TypedNext<'_, (), u8>| {
                let reject = next.reject("the handler panicked");
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| next.run(()))).unwrap_or(Err(reject))
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
        "command `target:work` panicked in plugin `outer`: in middleware: outer panicked after its next returned";
    armed_then_disarmed(&host, |gate| {
        assert_eq!(work.call(()).unwrap_err().to_string(), caught, "by handle, gate {gate}");
        let error = work.call_with((), &[("outer", "panic")]).unwrap_err();
        assert_eq!(error.to_string(), outer, "by handle, gate {gate}");
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
    });
    let failed = |plugin: &str| audited_failures(&host, plugin);
    assert_eq!(
        failed("outer"),
        ["in middleware: panicked: outer panicked after its next returned"; 4]
    );
    assert_eq!((failed("catcher"), failed("target")), (vec![], vec![]));
}

#[test]
fn a_panicking_handler_under_typed_middleware_is_blamed_on_its_own_plugin() {
    let host = Host::builder()
        .plugins(vec![
            wired("target", &[], |context| {
                context.command("work", |_, (): ()| -> Result<u8, PluginError> {
                    panic!("handler down")
                })?;
                Ok(())
            }),
            interceptor("layer", &[], |context| {
                context.typed_middleware("target:work", 0, |(): (), next: TypedNext<'_, (), u8>| next.run(()))?;
                Ok(())
            }),
            idle_layer(),
        ])
        .build()
        .unwrap();
    let work = host.command::<(), u8>("target:work").unwrap();
    armed_then_disarmed(&host, |gate| {
        assert_eq!(
            work.call(()).unwrap_err().to_string(),
            "command `target:work` panicked in plugin `target`: handler down",
            "gate {gate}"
        );
    });
    assert_eq!(audited_failures(&host, "target"), ["panicked: handler down"; 2]);
    assert_eq!(audited_failures(&host, "layer"), Vec::<String>::new());
}

#[test]
fn typed_middleware_of_other_types_fails_the_command_closed() {
    let host = Host::builder()
        .plugins(vec![
            wired("target", &[], |context| {
                context.command("work", |_, n: u32| Ok(n + 1))?;
                Ok(())
            }),
            interceptor("wrong", &[], |context| {
                context.typed_middleware("target:work", 0, |n: u64, next: TypedNext<'_, u64, u64>| next.run(n))?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let expected = "command `target:work` was rejected: plugin `wrong` has typed middleware for it that takes `u64` and returns `u64`, but the command takes `u32` and returns `u32`; register the middleware with the command's types";
    let work = host.command::<u32, u32>("target:work").unwrap();
    let error = work.call(1).unwrap_err();
    assert_eq!(error.to_string(), expected);
    match error.kind() {
        DispatchErrorKind::LayerTypes {
            command,
            plugin,
            layer_request,
            layer_response,
            request,
            response,
        } => assert_eq!(
            (
                command.as_str(),
                plugin.as_str(),
                *layer_request,
                *layer_response,
                *request,
                *response
            ),
            ("target:work", "wrong", "u64", "u64", "u32", "u32")
        ),
        other => panic!("expected LayerTypes, got {other:?}"),
    }
    assert_eq!(
        host.execute::<u32, u32>("target:work", 1).unwrap_err().to_string(),
        expected
    );
    // Once the layer's plugin is disabled, its layer steps aside and the command runs.
    host.disable("wrong").unwrap();
    assert_eq!(work.call(1).unwrap(), 2);
}

#[test]
fn typed_middleware_takes_an_exact_command_id_not_a_pattern() {
    let seen = Arc::new(Mutex::new(None));
    let seen_in = Arc::clone(&seen);
    let host = Host::builder()
        .plugins(vec![interceptor("layer", &[], move |context| {
            let refused = context
                .typed_middleware("kv:*", 0, |n: u64, next: TypedNext<'_, u64, u64>| next.run(n))
                .unwrap_err();
            *seen_in.lock().unwrap() = Some(refused);
            Ok(())
        })])
        .build()
        .unwrap();
    let refused = seen.lock().unwrap().take().unwrap();
    assert_eq!(
        refused,
        RegistrationError::InvalidName {
            plugin: "layer".to_owned(),
            what: "typed middleware command (an exact id, not a pattern)",
            name: "kv:*".to_owned(),
        }
    );
    assert_eq!(
        refused.to_string(),
        "plugin `layer` cannot register typed middleware command (an exact id, not a pattern) `kv:*`: use letters, digits, `-`, `_`, `.` or `/`, and at least one of them"
    );
    drop(host);
}

#[test]
fn typed_middleware_on_another_plugins_command_needs_scope_all() {
    let host = Host::builder()
        .plugins(vec![
            wired("target", &[], |context| {
                context.command("work", |_, n: u64| Ok(n + 1))?;
                Ok(())
            }),
            // `wired` declares `commands.intercept` at `plugin-only`.
            wired("narrow", &[], |context| {
                context.typed_middleware("target:work", 0, |n: u64, next: TypedNext<'_, u64, u64>| {
                    next.run(n + 100)
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let failure = host.failure("narrow").expect("narrow fails to activate").to_string();
    assert!(
        failure.contains("commands.intercept") && failure.contains("target"),
        "unexpected failure: {failure}"
    );
    // The command runs without the refused layer.
    assert_eq!(host.execute::<u64, u64>("target:work", 1).unwrap(), 2);
}

#[test]
fn a_disabled_typed_layer_steps_aside_and_returns_when_enabled() {
    let log = Log::default();
    let host = Host::builder().plugins(layered(&log, false)).build().unwrap();
    let add = host.command::<(i64, i64), i64>("base:add").unwrap();
    host.disable("outer").unwrap();
    assert_eq!(add.call((2, 3)).unwrap(), 23);
    assert_eq!(take(&log), ["base", "inner"]);
    host.enable("outer").unwrap();
    assert_eq!(add.call((2, 3)).unwrap(), 24);
    assert_eq!(take(&log), ["outer sees base:add from None", "base", "inner"]);
    // A handle resolved now takes the typed chain again; so does the old one.
    let again = host.command::<(i64, i64), i64>("base:add").unwrap();
    assert_eq!(again.call((1, 1)).unwrap(), 12);
    assert_eq!(take(&log), ["outer sees base:add from None", "base", "inner"]);
}

/// An async command's response is its `Pending`: a typed layer around it takes the
/// request and passes on (or replaces) the future, and a rejection is the `Pending`'s
/// own error, by handle and by id.
#[test]
fn typed_middleware_wraps_an_async_command() {
    use patchpanel::blocking::block_on;
    use patchpanel::commands::Pending;
    let host = Host::builder()
        .plugins(vec![
            wired("clock", &[], |context| {
                context.command_async("tick", |_, n: u64| async move { Ok(n + 1) })?;
                Ok(())
            }),
            interceptor("limit", &[], |context| {
                context.typed_middleware("clock:tick", 0, |n: u64, next: TypedNext<'_, u64, Pending<u64>>| {
                    if n > 100 {
                        return Err(next.reject("too far ahead"));
                    }
                    next.run(n * 2)
                })?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let tick = host.command::<u64, Pending<u64>>("clock:tick").unwrap();
    assert!(format!("{tick:?}").contains("typed chain"), "{tick:?}");
    assert_eq!(block_on(tick.call_async(20)).unwrap(), 41);
    assert_eq!(block_on(host.execute_async::<u64, u64>("clock:tick", 20)).unwrap(), 41);
    assert_eq!(
        block_on(tick.call_async(500)).unwrap_err().to_string(),
        "command `clock:tick` was rejected: too far ahead"
    );
    assert_eq!(
        block_on(host.execute_async::<u64, u64>("clock:tick", 500))
            .unwrap_err()
            .to_string(),
        "command `clock:tick` was rejected: too far ahead"
    );
}
