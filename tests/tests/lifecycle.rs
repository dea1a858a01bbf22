//! The lifecycle: exact call sequences for start-up, failure, strict mode, disable,
//! enable, reload and shutdown.

use patchpanel::{
    Host, State,
    host::StartError,
    lifecycle::{Failure, LifecycleError},
};
use patchpanel_tests::recorder::{Behaviour, Log, Recorder, recorder};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn activates_in_dependency_order_and_deactivates_in_reverse_once() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![
            recorder(&log, "greeter", &["kv-store"], Behaviour::Succeed),
            recorder(&log, "kv-store", &[], Behaviour::Succeed),
            recorder(&log, "audit-trail", &[], Behaviour::Succeed),
        ])
        .config("greeter", serde_json::json!({ "greeting": "hi" }))
        .build()
        .unwrap();
    assert_eq!(
        log.take(),
        strings(&[
            "audit-trail.new",
            "audit-trail.configure(false)",
            "audit-trail.activate",
            "kv-store.new",
            "kv-store.configure(false)",
            "kv-store.activate",
            "greeter.new",
            "greeter.configure(true)",
            "greeter.activate",
        ])
    );
    for id in ["audit-trail", "kv-store", "greeter"] {
        assert_eq!(host.state(id), Some(State::Active));
    }
    let report = host.shutdown();
    assert_eq!(report.deactivated, ["greeter", "kv-store", "audit-trail"]);
    assert!(report.errors.is_empty());
    assert_eq!(
        log.take(),
        strings(&["greeter.deactivate", "kv-store.deactivate", "audit-trail.deactivate"])
    );
}

#[test]
fn dropping_the_host_shuts_it_down() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![recorder(&log, "only", &[], Behaviour::Succeed)])
        .build()
        .unwrap();
    log.take();
    drop(host);
    assert_eq!(log.take(), strings(&["only.deactivate"]));
}

#[test]
fn a_failing_plugin_stops_its_dependents_and_nothing_else() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![
            recorder(&log, "base", &[], Behaviour::Fail),
            recorder(&log, "middle", &["base"], Behaviour::Succeed),
            recorder(&log, "top", &["middle"], Behaviour::Succeed),
            recorder(&log, "other", &[], Behaviour::Succeed),
        ])
        .build()
        .unwrap();
    assert_eq!(
        log.take(),
        strings(&[
            "base.new",
            "base.configure(false)",
            "base.activate",
            "other.new",
            "other.configure(false)",
            "other.activate"
        ])
    );
    assert_eq!(
        host.failure("base"),
        Some(Failure::Activate("base refuses to start".into()))
    );
    assert_eq!(
        host.failure("middle"),
        Some(Failure::DependencyFailed {
            dependency: "base".into()
        })
    );
    assert_eq!(
        host.failure("top"),
        Some(Failure::DependencyFailed {
            dependency: "middle".into()
        })
    );
    assert_eq!(host.state("other"), Some(State::Active));
    assert_eq!(
        host.failure("middle").unwrap().to_string(),
        "not activated because its dependency `base` failed"
    );
    assert_eq!(host.shutdown().deactivated, ["other"]);
}

#[test]
fn a_panic_in_activate_is_caught_and_fails_that_plugin_alone() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![
            recorder(&log, "boom", &[], Behaviour::Panic),
            recorder(&log, "fine", &[], Behaviour::Succeed),
        ])
        .build()
        .unwrap();
    assert_eq!(
        host.failure("boom"),
        Some(Failure::Panicked {
            during: "activate",
            message: "boom panicked on purpose".into()
        })
    );
    assert_eq!(host.state("fine"), Some(State::Active));
}

#[test]
fn strict_mode_aborts_and_rolls_back_in_reverse() {
    let log = Log::default();
    let error = Host::builder()
        .strict(true)
        .plugins(vec![
            recorder(&log, "a", &[], Behaviour::Succeed),
            recorder(&log, "b", &["a"], Behaviour::Succeed),
            recorder(&log, "c", &["b"], Behaviour::Fail),
            recorder(&log, "d", &["c"], Behaviour::Succeed),
        ])
        .build()
        .unwrap_err();
    let StartError::Strict {
        plugin,
        failure,
        rolled_back,
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(plugin, "c");
    assert_eq!(*failure, Failure::Activate("c refuses to start".into()));
    assert_eq!(rolled_back, &["b", "a"]);
    assert_eq!(
        error.to_string(),
        "strict mode: plugin `c` failed (activate returned an error: c refuses to start); start-up aborted, deactivated: [b, a]"
    );
    assert_eq!(
        log.take(),
        strings(&[
            "a.new",
            "a.configure(false)",
            "a.activate",
            "b.new",
            "b.configure(false)",
            "b.activate",
            "c.new",
            "c.configure(false)",
            "c.activate",
            "b.deactivate",
            "a.deactivate",
        ])
    );
}

#[test]
fn resolution_errors_start_nothing() {
    let log = Log::default();
    let error = Host::builder()
        .plugins(vec![
            recorder(&log, "fine", &[], Behaviour::Succeed),
            recorder(&log, "greeter", &["kv-store"], Behaviour::Succeed),
        ])
        .build()
        .unwrap_err();
    assert!(matches!(error, StartError::Resolve(_)));
    assert!(log.entries().is_empty(), "{:?}", log.entries());
}

#[test]
fn disable_refuses_while_dependents_are_active_then_enable_restores() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![
            recorder(&log, "kv-store", &[], Behaviour::Succeed),
            recorder(&log, "greeter", &["kv-store"], Behaviour::Succeed),
        ])
        .build()
        .unwrap();
    log.take();
    assert_eq!(
        host.disable("kv-store"),
        Err(LifecycleError::DependentsActive {
            plugin: "kv-store".into(),
            dependents: vec!["greeter".into()]
        })
    );
    assert_eq!(
        host.disable("kv-store").unwrap_err().to_string(),
        "plugin `kv-store` cannot be disabled while greeter depend on it; disable them first"
    );
    host.disable("greeter").unwrap();
    host.disable("kv-store").unwrap();
    assert_eq!(host.state("kv-store"), Some(State::Disabled));
    assert_eq!(
        host.enable("greeter"),
        Err(LifecycleError::DependencyInactive {
            plugin: "greeter".into(),
            dependency: "kv-store".into(),
            state: State::Disabled
        })
    );
    host.enable("kv-store").unwrap();
    host.enable("greeter").unwrap();
    assert_eq!(host.state("greeter"), Some(State::Active));
    // Disabling calls no plugin code: the instance and its state are kept.
    assert!(log.entries().is_empty());
    let error = host.disable("nope").unwrap_err();
    assert_eq!(
        error,
        LifecycleError::UnknownPlugin {
            id: "nope".into(),
            suggestion: None
        }
    );
    assert_eq!(
        error.to_string(),
        "no plugin `nope` is running in this host; the host's `order()` lists the ids of those that are"
    );
    // Disabled plugins are still deactivated at shutdown.
    host.disable("greeter").unwrap();
    assert_eq!(host.shutdown().deactivated, ["greeter", "kv-store"]);
}

#[test]
fn reload_carries_state_into_a_new_instance() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![recorder(&log, "counter", &[], Behaviour::Succeed)])
        .build()
        .unwrap();
    host.with_plugin(|r: &mut Recorder| {
        r.bump();
        r.bump();
    })
    .unwrap();
    log.take();
    let report = host.reload("counter").unwrap();
    assert_eq!(
        report,
        patchpanel::host::ReloadReport {
            plugin: "counter".into(),
            generation: 1,
            old_deactivate: Ok(())
        }
    );
    // The new instance is made and activated while the old one serves; the old one is
    // deactivated only after the switch.
    assert_eq!(
        log.take(),
        strings(&[
            "counter.get_state",
            "counter.new",
            "counter.configure(false)",
            "counter.restore_state",
            "counter.activate",
            "counter.deactivate",
        ])
    );
    assert_eq!(
        host.with_plugin(|r: &mut Recorder| (r.generation(), r.bump())),
        Ok((2, 3))
    );
    assert_eq!(host.state("counter"), Some(State::Active));
}

#[test]
fn reload_of_a_failed_plugin_retries_it() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![recorder(&log, "flaky", &[], Behaviour::Fail)])
        .build()
        .unwrap();
    assert_eq!(host.state("flaky").unwrap(), State::Failed);
    let error = host.reload("flaky").unwrap_err();
    assert_eq!(
        error.to_string(),
        "plugin `flaky` failed: activate returned an error: flaky refuses to start"
    );
    assert_eq!(host.state("flaky").unwrap(), State::Failed);
    // A failed plugin is never deactivated: it was never active.
    assert!(host.shutdown().deactivated.is_empty());
}

#[test]
fn invalid_transitions_are_refused() {
    let log = Log::default();
    let host = Host::builder()
        .plugins(vec![recorder(&log, "p", &[], Behaviour::Succeed)])
        .build()
        .unwrap();
    assert_eq!(
        host.enable("p"),
        Err(LifecycleError::InvalidTransition {
            plugin: "p".into(),
            from: State::Active,
            to: State::Active
        })
    );
    host.disable("p").unwrap();
    assert_eq!(
        host.reload("p"),
        Err(LifecycleError::InvalidTransition {
            plugin: "p".into(),
            from: State::Disabled,
            to: State::Active
        })
    );
}
