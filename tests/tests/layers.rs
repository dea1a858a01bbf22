//! Layers declared as types (`Context::layer`) and handles that name them
//! (`Host::command_with_layers`): the same order, short-circuits, rejections, panics and
//! attribution as typed middleware, whether the handle runs the named layers as one
//! function (its names match the frozen chain, the gate is armed) or the chain as any
//! handle does (names that do not match, a disarmed gate, a chain that changed).

use std::sync::{Arc, Mutex};

use patchpanel::commands::{DispatchError, DispatchErrorKind, Downstream, Layer, TypedNext};
use patchpanel::{Host, PluginError, RegistrationError};
use patchpanel_tests::fixture::{
    Log, armed_then_disarmed, audited_denials, audited_failures, idle_layer, interceptor, push, take, wired,
};

type Pair = (i64, i64);

/// `base`'s own layer: logs.
struct Base(Log);

impl Layer<Pair, i64> for Base {
    fn call(&self, request: Pair, next: impl Downstream<Pair, i64>) -> Result<i64, DispatchError> {
        push(&self.0, "base");
        next.run(request)
    }
}

/// `inner`'s layer: multiplies the first number by ten.
struct Inner(Log);

impl Layer<Pair, i64> for Inner {
    fn call(&self, (a, b): Pair, next: impl Downstream<Pair, i64>) -> Result<i64, DispatchError> {
        push(&self.0, "inner");
        next.run((a * 10, b))
    }
}

/// `outer`'s layer: answers -1 for metadata `cached`, rejects for `deny`, and adds one
/// to the answer.
struct Outer(Log);

impl Layer<Pair, i64> for Outer {
    fn call(&self, request: Pair, next: impl Downstream<Pair, i64>) -> Result<i64, DispatchError> {
        push(
            &self.0,
            format!("outer sees {} from {:?}", next.command(), next.invoker()),
        );
        if next.metadata("cached") == Some("yes") {
            return Ok(-1);
        }
        if next.metadata("deny") == Some("yes") {
            return Err(next.reject("denied by outer"));
        }
        Ok(next.run(request)? + 1)
    }
}

/// The chain `base:add` runs: `outer` (priority 10), then `base` and `inner` (priority 0,
/// in activation order).
type Named = (Outer, Base, Inner);

/// `base:add` (sums a pair) wrapped by the layers of three plugins, as [`Named`] names
/// them. Plugin `idle` disarms the gate when disabled.
fn layered(log: &Log) -> Vec<patchpanel::PluginSpec> {
    let (outer_log, inner_log, base_log) = (log.clone(), log.clone(), log.clone());
    vec![
        wired("base", &[], move |context| {
            context.command("add", |_, (a, b): Pair| Ok(a + b))?;
            context.layer("base:add", 0, Base(base_log.clone()))?;
            Ok(())
        }),
        interceptor("inner", &["base"], move |context| {
            context.layer("base:add", 0, Inner(inner_log.clone()))?;
            Ok(())
        }),
        interceptor("outer", &[], move |context| {
            context.layer("base:add", 10, Outer(outer_log.clone()))?;
            Ok(())
        }),
        idle_layer(),
    ]
}

const ORDER: [&str; 3] = ["outer sees base:add from None", "base", "inner"];

#[test]
fn named_layers_run_by_priority_then_dependency_order_and_change_request_and_response() {
    let log = Log::default();
    let host = Host::builder().plugins(layered(&log)).build().unwrap();
    let add = host.command_with_layers::<Pair, i64, Named>("base:add").unwrap();
    assert!(add.is_static());
    assert_eq!(
        format!("{add:?}"),
        format!(
            "LayeredHandle {{ handle: CommandHandle {{ id: \"base:add\", plan: \"typed chain\" }}, layers: {:?}, static: true }}",
            [
                std::any::type_name::<Outer>(),
                std::any::type_name::<Base>(),
                std::any::type_name::<Inner>()
            ]
        )
    );
    assert_eq!(add.id(), "base:add");
    let plain = host.command::<Pair, i64>("base:add").unwrap();
    armed_then_disarmed(&host, |gate| {
        // (2 * 10) + 3 = 23, then outer adds 1.
        assert_eq!(add.call((2, 3)).unwrap(), 24, "named, gate {gate}");
        assert_eq!(take(&log), ORDER);
        assert_eq!(add.clone().call((2, 3)).unwrap(), 24, "a clone, gate {gate}");
        assert_eq!(take(&log), ORDER);
        assert_eq!(plain.call((2, 3)).unwrap(), 24, "by a plain handle, gate {gate}");
        assert_eq!(take(&log), ORDER);
        assert_eq!(
            host.execute::<Pair, i64>("base:add", (2, 3)).unwrap(),
            24,
            "by id, gate {gate}"
        );
        assert_eq!(take(&log), ORDER);
        assert_eq!(
            host.execute_json("base:add", serde_json::json!([1, 1])).unwrap(),
            serde_json::json!(12)
        );
        assert_eq!(take(&log), ORDER);
    });
}

#[test]
fn a_handle_whose_names_are_not_the_chain_runs_the_chain_as_registered() {
    let log = Log::default();
    let host = Host::builder().plugins(layered(&log)).build().unwrap();
    let other_order = host
        .command_with_layers::<Pair, i64, (Base, Outer, Inner)>("base:add")
        .unwrap();
    let fewer = host
        .command_with_layers::<Pair, i64, (Outer, Base)>("base:add")
        .unwrap();
    let more = host
        .command_with_layers::<Pair, i64, (Outer, Base, Inner, Inner)>("base:add")
        .unwrap();
    for (names, handle) in [
        ("another order", other_order.handle()),
        ("fewer", fewer.handle()),
        ("more", more.handle()),
    ] {
        assert_eq!(handle.call((2, 3)).unwrap(), 24, "{names}");
        assert_eq!(take(&log), ORDER, "{names}");
    }
    assert!(!other_order.is_static() && !fewer.is_static() && !more.is_static());
    assert_eq!(other_order.call((2, 3)).unwrap(), 24);
    assert_eq!(take(&log), ORDER);
    assert_eq!(more.call_with((2, 3), &[("cached", "yes")]).unwrap(), -1);
    assert_eq!(take(&log), ["outer sees base:add from None"]);

    // A layer registered as a closure has no type to name, nor has pattern middleware:
    // a chain with either is never static, and still runs.
    for closure in [true, false] {
        let log = Log::default();
        let mut plugins = layered(&log);
        let extra_log = log.clone();
        plugins.push(interceptor("extra", &["inner"], move |context| {
            let log = extra_log.clone();
            if closure {
                context.typed_middleware("base:add", 0, move |request: Pair, next: TypedNext<'_, Pair, i64>| {
                    push(&log, "extra");
                    next.run(request)
                })?;
            } else {
                context.middleware("base:*", 0, move |invocation, next| {
                    push(&log, "extra");
                    next.run(invocation)
                })?;
            }
            Ok(())
        }));
        let host = Host::builder().plugins(plugins).build().unwrap();
        let add = host.command_with_layers::<Pair, i64, Named>("base:add").unwrap();
        assert!(!add.is_static(), "closure {closure}");
        assert_eq!(add.call((2, 3)).unwrap(), 24);
        assert_eq!(take(&log), ["outer sees base:add from None", "base", "inner", "extra"]);
    }

    // A command with no layers at all: a direct handle underneath.
    let host = Host::builder()
        .plugins(vec![wired("bare", &[], |context| {
            context.command("add", |_, (a, b): Pair| Ok(a + b))?;
            Ok(())
        })])
        .build()
        .unwrap();
    let add = host.command_with_layers::<Pair, i64, (Base,)>("bare:add").unwrap();
    assert!(!add.is_static());
    assert_eq!(
        format!("{:?}", add.handle()),
        r#"CommandHandle { id: "bare:add", plan: "direct" }"#
    );
    assert_eq!(add.call((2, 3)).unwrap(), 5);
    // And no such command: the handle's own error.
    let error = host.command_with_layers::<Pair, i64, (Base,)>("bare:sub").unwrap_err();
    assert!(
        matches!(error.kind(), DispatchErrorKind::UnknownCommand { .. }),
        "{error}"
    );
}

#[test]
fn named_layers_short_circuit_with_a_response_or_a_rejection_audited_once_as_the_layers() {
    let log = Log::default();
    let host = Host::builder().plugins(layered(&log)).build().unwrap();
    let add = host.command_with_layers::<Pair, i64, Named>("base:add").unwrap();
    armed_then_disarmed(&host, |gate| {
        assert_eq!(add.call_with((2, 3), &[("cached", "yes")]).unwrap(), -1, "gate {gate}");
        assert_eq!(take(&log), ["outer sees base:add from None"]);
        let error = add.call_with((2, 3), &[("deny", "yes")]).unwrap_err();
        assert_eq!(error.to_string(), "command `base:add` was rejected: denied by outer");
        assert!(matches!(error.kind(), DispatchErrorKind::Rejected { .. }));
        assert_eq!(take(&log), ["outer sees base:add from None"]);
    });
    let denied = |plugin: &str| audited_denials(&host, plugin);
    assert_eq!(
        denied("outer"),
        vec![
            (
                "middleware on base:add".to_owned(),
                "command `base:add` was rejected: denied by outer".to_owned()
            );
            2
        ]
    );
    assert_eq!((denied("base"), denied("inner")), (vec![], vec![]));
}

/// Passes the call on.
struct Through;

impl<Req, Resp> Layer<Req, Resp> for Through {
    fn call(&self, request: Req, next: impl Downstream<Req, Resp>) -> Result<Resp, DispatchError> {
        next.run(request)
    }
}

#[test]
fn the_handlers_error_passes_through_named_layers_unaudited_as_a_rejection() {
    let host = Host::builder()
        .plugins(vec![
            wired("target", &[], |context| {
                context.command("fail", |_, (): ()| -> Result<u8, PluginError> {
                    Err(PluginError::new("no luck"))
                })?;
                Ok(())
            }),
            interceptor("layer", &[], |context| {
                context.layer::<(), u8, _>("target:fail", 0, Through)?;
                Ok(())
            }),
            idle_layer(),
        ])
        .build()
        .unwrap();
    let fail = host.command_with_layers::<(), u8, (Through,)>("target:fail").unwrap();
    assert!(fail.is_static());
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

/// Panics after its next returned, when metadata `outer` is `panic`.
struct PanicsAfter;

impl Layer<(), u8> for PanicsAfter {
    fn call(&self, (): (), next: impl Downstream<(), u8>) -> Result<u8, DispatchError> {
        let panic = next.metadata("outer") == Some("panic");
        let result = next.run(());
        if panic {
            panic!("outer panicked after its next returned");
        }
        result
    }
}

/// Catches a panic from further down and rejects the call instead.
struct Catcher;

impl Layer<(), u8> for Catcher {
    fn call(&self, (): (), next: impl Downstream<(), u8>) -> Result<u8, DispatchError> {
        let reject = next.reject("the handler panicked");
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| next.run(()))).unwrap_or(Err(reject))
    }
}

/// As for typed middleware: a panic after the rest of the chain returned is the
/// panicking layer's, a panic a layer caught blames nobody, and a handler's panic is its
/// plugin's; by a handle that names the layers, with the gate armed and disarmed.
#[test]
fn panics_under_named_layers_are_attributed_to_the_code_they_started_in() {
    let plugins = vec![
        interceptor("outer", &[], |context| {
            context.layer("target:work", 10, PanicsAfter)?;
            Ok(())
        }),
        interceptor("catcher", &[], |context| {
            context.layer("target:work", 0, Catcher)?;
            Ok(())
        }),
        idle_layer(),
        wired("target", &[], |context| {
            context.command("work", |_, (): ()| -> Result<u8, PluginError> {
                panic!("the handler panicked")
            })?;
            context.command("bare", |_, (): ()| -> Result<u8, PluginError> {
                panic!("handler down")
            })?;
            Ok(())
        }),
        interceptor("through", &[], |context| {
            context.layer::<(), u8, _>("target:bare", 0, Through)?;
            Ok(())
        }),
    ];
    let host = Host::builder().plugins(plugins).build().unwrap();
    let work = host
        .command_with_layers::<(), u8, (PanicsAfter, Catcher)>("target:work")
        .unwrap();
    let bare = host.command_with_layers::<(), u8, (Through,)>("target:bare").unwrap();
    assert!(work.is_static() && bare.is_static());
    let caught = "command `target:work` was rejected: the handler panicked";
    let outer =
        "command `target:work` panicked in plugin `outer`: in middleware: outer panicked after its next returned";
    armed_then_disarmed(&host, |gate| {
        assert_eq!(work.call(()).unwrap_err().to_string(), caught, "gate {gate}");
        let error = work.call_with((), &[("outer", "panic")]).unwrap_err();
        assert_eq!(error.to_string(), outer, "gate {gate}");
        assert_eq!(
            bare.call(()).unwrap_err().to_string(),
            "command `target:bare` panicked in plugin `target`: handler down",
            "gate {gate}"
        );
    });
    let failed = |plugin: &str| audited_failures(&host, plugin);
    assert_eq!(
        failed("outer"),
        ["in middleware: panicked: outer panicked after its next returned"; 2]
    );
    assert_eq!(failed("target"), ["panicked: handler down"; 2]);
    assert_eq!((failed("catcher"), failed("through")), (vec![], vec![]));
}

#[test]
fn a_disabled_layer_steps_aside_from_a_named_handle_and_returns_when_enabled() {
    let log = Log::default();
    let host = Host::builder().plugins(layered(&log)).build().unwrap();
    let add = host.command_with_layers::<Pair, i64, Named>("base:add").unwrap();
    host.disable("outer").unwrap();
    assert_eq!(add.call((2, 3)).unwrap(), 23);
    assert_eq!(take(&log), ["base", "inner"]);
    // A disabled layer stays in the frozen chain and steps aside behind the disarmed
    // gate: a handle resolved now still names all three, and skips `outer` too.
    let now = host.command_with_layers::<Pair, i64, Named>("base:add").unwrap();
    assert!(now.is_static());
    assert!(
        !host
            .command_with_layers::<Pair, i64, (Base, Inner)>("base:add")
            .unwrap()
            .is_static()
    );
    assert_eq!(now.call((2, 3)).unwrap(), 23);
    assert_eq!(take(&log), ["base", "inner"]);
    host.enable("outer").unwrap();
    for handle in [
        &add,
        &now,
        &host.command_with_layers::<Pair, i64, Named>("base:add").unwrap(),
    ] {
        assert_eq!(handle.call((2, 3)).unwrap(), 24);
        assert_eq!(take(&log), ORDER);
    }
    // The command's own plugin disabled (after its dependent): the handle's error, as
    // any handle's.
    host.disable("inner").unwrap();
    host.disable("base").unwrap();
    let error = add.call((2, 3)).unwrap_err();
    assert!(matches!(error.kind(), DispatchErrorKind::NotActive { .. }), "{error}");
    assert_eq!(take(&log), Vec::<String>::new());
}

#[test]
fn a_layer_takes_an_exact_command_id_and_another_plugins_command_needs_scope_all() {
    let seen = Arc::new(Mutex::new(None));
    let seen_in = Arc::clone(&seen);
    let host = Host::builder()
        .plugins(vec![
            interceptor("layer", &[], move |context| {
                let refused = context.layer::<Pair, i64, _>("kv:*", 0, Through).unwrap_err();
                *seen_in.lock().unwrap() = Some(refused);
                Ok(())
            }),
            wired("target", &[], |context| {
                context.command("add", |_, (a, b): Pair| Ok(a + b))?;
                Ok(())
            }),
            // `wired` declares `commands.intercept` at `plugin-only`.
            wired("narrow", &[], |context| {
                context.layer::<Pair, i64, _>("target:add", 0, Through)?;
                Ok(())
            }),
        ])
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
    let failure = host.failure("narrow").expect("narrow fails to activate").to_string();
    assert!(
        failure.contains("commands.intercept") && failure.contains("target"),
        "unexpected failure: {failure}"
    );
    // The command runs without the refused layer, and a handle naming none finds none.
    assert_eq!(host.execute::<Pair, i64>("target:add", (1, 2)).unwrap(), 3);
    let add = host.command_with_layers::<Pair, i64, (Through,)>("target:add").unwrap();
    assert!(!add.is_static());
    assert_eq!(add.call((1, 2)).unwrap(), 3);
}

/// Answers `next`'s response times 100 plus the number of the instance that registered
/// it.
struct Tagged(u64);

impl Layer<u64, u64> for Tagged {
    fn call(&self, n: u64, next: impl Downstream<u64, u64>) -> Result<u64, DispatchError> {
        Ok(next.run(n)? * 100 + self.0)
    }
}

/// A reload of the layer's plugin changes the chain: a handle resolved before runs the
/// new instance's layer (through the current tables), and one resolved after names it
/// and runs it inlined.
#[test]
fn a_reloaded_layer_is_the_new_instances_for_old_and_new_named_handles() {
    let instances = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = Arc::clone(&instances);
    let host = Host::builder()
        .plugins(vec![
            wired("target", &[], |context| {
                context.command("get", |_, n: u64| Ok(n))?;
                Ok(())
            }),
            interceptor("tagger", &[], move |context| {
                let instance = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                context.layer("target:get", 0, Tagged(instance))?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let old = host.command_with_layers::<u64, u64, (Tagged,)>("target:get").unwrap();
    assert!(old.is_static());
    assert_eq!(old.call(5).unwrap(), 501);
    assert_eq!(host.reload("tagger").unwrap().old_deactivate, Ok(()));
    assert_eq!(old.call(5).unwrap(), 502, "the old handle, through the current tables");
    let new = host.command_with_layers::<u64, u64, (Tagged,)>("target:get").unwrap();
    assert!(new.is_static());
    assert_eq!(new.call(5).unwrap(), 502);
    assert_eq!(host.execute::<u64, u64>("target:get", 5).unwrap(), 502);
}

/// An async command's response is its `Pending`: a named layer passes the future on, and
/// a rejection is the `Pending`'s own error.
#[test]
fn named_layers_wrap_an_async_command() {
    use patchpanel::commands::Pending;

    /// Refuses zero; passes anything else on.
    struct NotZero;

    impl Layer<u64, Pending<u64>> for NotZero {
        fn call(&self, n: u64, next: impl Downstream<u64, Pending<u64>>) -> Result<Pending<u64>, DispatchError> {
            if n == 0 {
                return Err(next.reject("zero"));
            }
            next.run(n)
        }
    }

    let host = Host::builder()
        .plugins(vec![
            wired("clock", &[], |context| {
                context.command_async("later", |_, n: u64| async move { Ok(n + 1) })?;
                Ok(())
            }),
            interceptor("checker", &[], |context| {
                context.layer("clock:later", 0, NotZero)?;
                Ok(())
            }),
        ])
        .build()
        .unwrap();
    let later = host
        .command_with_layers::<u64, Pending<u64>, (NotZero,)>("clock:later")
        .unwrap();
    assert!(later.is_static());
    assert_eq!(patchpanel::blocking::block_on(later.call_async(1)).unwrap(), 2);
    let error = patchpanel::blocking::block_on(later.call_async(0)).unwrap_err();
    assert_eq!(error.to_string(), "command `clock:later` was rejected: zero");
}
