//! The fault matrix: an error return and a panic injected at every boundary where the
//! host calls plugin code, each cell asserting the same five things:
//!
//! 1. the host keeps serving the other plugins (`bystander:echo` answers);
//! 2. the faulty plugin's state and reason are exact, cause chain included;
//! 3. its dependent is handled by policy (failed with the dependency when the faulty
//!    plugin never started; untouched when only a call failed);
//! 4. nothing is deactivated twice or left half-registered;
//! 5. the audit log records the failure.
//!
//! Some boundaries have no error channel: creation (`Default`), `capabilities`, `Drop`,
//! hook implementations (which return `Option`) and service methods (whose return type is
//! the service trait's own). Those cells inject a panic only; RELIABILITY.md lists them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use patchpanel::testing::fn_plugin;
use patchpanel::{
    Capability, Context, Host, Manifest, Plugin, PluginError, PluginSpec, SavedState, State,
    audit::Decision,
    commands::DispatchErrorKind,
    config::PluginConfig,
    hooks::HookOrder,
    host::{PluginId, ShutdownReport},
    lifecycle::{Failure, LifecycleError, ReloadStep},
    manifest::Scope,
    messaging::MessageError,
    registry::Registered,
    services::ServiceError,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    Create,
    Configure,
    Activate,
    Deactivate,
    GetState,
    RestoreState,
    Capabilities,
    Drop,
    Command,
    Subscriber,
    Middleware,
    TypedMiddleware,
    Layer,
    Hook,
    Service,
    Message,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Error,
    Panic,
}

/// The cause every injected error wraps, so that each cell checks the chain.
fn injected(site: &str) -> PluginError {
    PluginError::wrap(format!("{site} failed"), std::io::Error::other("the disk is on fire"))
}

/// What the cell's plugin does at `site`: an injected error, a panic, or nothing.
fn fire(cell: (Site, Fault), site: Site, name: &str) -> Result<(), PluginError> {
    match cell {
        (at, Fault::Error) if at == site => Err(injected(name)),
        (at, Fault::Panic) if at == site => panic!("{name} panicked on purpose"),
        _ => Ok(()),
    }
}

/// A ping: published as an event, sent as a message.
#[derive(Clone, Debug)]
struct Ping;

/// The service the faulty plugin provides.
trait Probe: Send + Sync {
    fn poke(&self) -> u8;
}

struct FaultyProbe {
    cell: (Site, Fault),
}

impl Probe for FaultyProbe {
    fn poke(&self) -> u8 {
        if self.cell == (Site::Service, Fault::Panic) {
            panic!("poke panicked on purpose");
        }
        7
    }
}

/// The plugin under test: fails at the site and in the way its cell says.
#[patchpanel::register_plugin(
    id = "faulty",
    version = "1.0.0",
    permissions = {
        commands = ["register", "intercept"],
        events = { subscribe = true, scope = "all" },
        hooks = ["declare", "implement"],
        services = ["provide"],
        messaging = ["receive"],
    },
)]
struct Faulty {
    cell: (Site, Fault),
    deactivations: Arc<AtomicU64>,
}

impl Default for Faulty {
    fn default() -> Faulty {
        Faulty {
            cell: (Site::Create, Fault::Error),
            deactivations: Arc::default(),
        }
    }
}

/// `faulty`'s layer declared as a type: a rejection or a panic in its cell.
struct FaultyLayer {
    cell: (Site, Fault),
}

impl patchpanel::commands::Layer<u8, u8> for FaultyLayer {
    fn call(
        &self,
        n: u8,
        next: impl patchpanel::commands::Downstream<u8, u8>,
    ) -> Result<u8, patchpanel::commands::DispatchError> {
        match self.cell {
            (Site::Layer, Fault::Error) => return Err(next.reject("the layer said no")),
            (Site::Layer, Fault::Panic) => panic!("the layer panicked on purpose"),
            _ => {}
        }
        next.run(n)
    }
}

impl Plugin for Faulty {
    fn configure(&mut self, _: &PluginConfig) -> Result<(), PluginError> {
        fire(self.cell, Site::Configure, "configure")
    }

    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let cell = self.cell;
        // Registrations made before the fault must not be left behind.
        context.command("work", move |_, (): ()| {
            fire(cell, Site::Command, "the command")?;
            Ok(1_u8)
        })?;
        context.command("guarded", |_, (): ()| Ok(2_u8))?;
        context.middleware("faulty:guarded", 0, move |invocation, next| {
            match cell {
                (Site::Middleware, Fault::Error) => return Err(invocation.reject("the middleware said no")),
                (Site::Middleware, Fault::Panic) => panic!("the middleware panicked on purpose"),
                _ => {}
            }
            next.run(invocation)
        })?;
        // A typed layer alone around `faulty:typed`: a handle walks it as a typed chain.
        context.command("typed", |_, n: u8| Ok(n + 1))?;
        context.typed_middleware(
            "faulty:typed",
            0,
            move |n: u8, next: patchpanel::commands::TypedNext<'_, u8, u8>| {
                match cell {
                    (Site::TypedMiddleware, Fault::Error) => return Err(next.reject("the typed middleware said no")),
                    (Site::TypedMiddleware, Fault::Panic) => panic!("the typed middleware panicked on purpose"),
                    _ => {}
                }
                next.run(n)
            },
        )?;
        // A layer declared as a type around `faulty:layered`: a handle that names it
        // runs it inlined.
        context.command("layered", |_, n: u8| Ok(n + 1))?;
        context.layer("faulty:layered", 0, FaultyLayer { cell })?;
        context.subscribe(move |_, _: &Ping| fire(cell, Site::Subscriber, "the subscriber"));
        context.declare_hook::<u8, u8>("probe")?;
        context.implement_hook("faulty:probe", HookOrder::default(), move |_, n: &u8| {
            if cell == (Site::Hook, Fault::Panic) {
                panic!("the hook panicked on purpose");
            }
            Some(n + 1)
        })?;
        context.provide::<dyn Probe>(Arc::new(FaultyProbe { cell }));
        context.on_message(move |_, _: Ping| {
            fire(cell, Site::Message, "the inbox")?;
            Ok(3_u8)
        })?;
        fire(cell, Site::Activate, "activate")
    }

    fn deactivate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.deactivations.fetch_add(1, Ordering::SeqCst);
        fire(self.cell, Site::Deactivate, "deactivate")
    }

    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
        fire(self.cell, Site::GetState, "get_state")?;
        SavedState::new(&1_u8).map(Some)
    }

    fn restore_state(&mut self, _: SavedState) -> Result<(), PluginError> {
        fire(self.cell, Site::RestoreState, "restore_state")
    }

    fn capabilities(&self) -> Vec<Capability> {
        if self.cell == (Site::Capabilities, Fault::Panic) {
            panic!("capabilities panicked on purpose");
        }
        vec![Capability::new("command", "faulty:work")]
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        if self.cell == (Site::Drop, Fault::Panic) && !std::thread::panicking() {
            panic!("drop panicked on purpose");
        }
    }
}

/// The faulty plugin with its cell, beside a bystander and a plugin that depends on it.
struct Rig {
    host: Host,
    deactivations: Arc<AtomicU64>,
    audit_file: std::path::PathBuf,
}

fn rig(cell: (Site, Fault)) -> Rig {
    let deactivations = Arc::new(AtomicU64::new(0));
    let counted = deactivations.clone();
    let faulty = PluginSpec::with_factory(Faulty::MANIFEST.to_manifest().unwrap(), move || {
        if cell == (Site::Create, Fault::Panic) {
            panic!("create panicked on purpose");
        }
        Faulty {
            cell,
            deactivations: counted.clone(),
        }
    });
    let bystander = fn_plugin(
        Manifest::builder("bystander", "1.0.0")
            .permission("commands", "register", Scope::PluginOnly)
            .build()
            .unwrap(),
        |context| context.command("echo", |_, text: String| Ok(text)).map_err(Into::into),
    );
    let dependent = fn_plugin(
        Manifest::builder("dependent", "1.0.0")
            .depends_on("faulty", "^1")
            .permission("commands", "register", Scope::PluginOnly)
            .build()
            .unwrap(),
        |context| context.command("ping", |_, (): ()| Ok(())).map_err(Into::into),
    );
    let audit_file =
        std::env::temp_dir().join(format!("patchpanel-fault-matrix-{}-{cell:?}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&audit_file);
    let host = Host::builder()
        .plugins(vec![bystander, faulty, dependent])
        .audit_file(&audit_file)
        .build()
        .unwrap();
    Rig {
        host,
        deactivations,
        audit_file,
    }
}

impl Rig {
    fn assert_bystander_serves(&self) {
        assert_eq!(
            self.host
                .execute::<String, String>("bystander:echo", "still here".into())
                .unwrap(),
            "still here"
        );
    }

    /// The audit records about `faulty` that report a failure or a denial.
    fn failures_audited(&self) -> Vec<(String, String)> {
        self.host
            .audit()
            .records_for("faulty")
            .into_iter()
            .filter(|r| match r.decision {
                Decision::Failed | Decision::Denied => true,
                Decision::Transition => r.details.starts_with("failed"),
                _ => false,
            })
            .map(|r| (r.action.into_owned(), r.details.into_owned()))
            .collect()
    }

    /// Shuts down and checks that every plugin that was serving is deactivated once.
    fn shut_down(self, serving: &[&str]) -> (ShutdownReport, Vec<serde_json::Value>) {
        let deactivations = self.deactivations.clone();
        let path = self.audit_file.clone();
        let faulty_was_serving = serving.contains(&"faulty");
        let report = self.host.shutdown();
        assert_eq!(report.deactivated, serving, "reverse activation order, once each");
        assert_eq!(deactivations.load(Ordering::SeqCst), u64::from(faulty_was_serving));
        let audit = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let _ = std::fs::remove_file(path);
        (report, audit)
    }
}

const ALL_SERVING: &[&str] = &["dependent", "faulty", "bystander"];

/// Cells where the faulty plugin never starts: it fails with the exact reason, its
/// dependent fails because of it, and nothing it registered is left in the tables.
fn start_fault(cell: (Site, Fault), expected: Failure) {
    let rig = rig(cell);
    assert_eq!(rig.host.state("faulty"), Some(State::Failed));
    assert_eq!(rig.host.failure("faulty"), Some(expected.clone()), "{cell:?}");
    assert_eq!(rig.host.state("dependent"), Some(State::Failed));
    assert_eq!(
        rig.host.failure("dependent"),
        Some(Failure::DependencyFailed {
            dependency: "faulty".into()
        })
    );
    rig.assert_bystander_serves();
    assert_eq!(rig.host.command_ids(), ["bystander:echo"], "nothing half-registered");
    assert!(matches!(
        rig.host.service::<dyn Probe>(),
        Err(ServiceError::NoProvider { .. })
    ));
    assert_eq!(
        rig.failures_audited(),
        [("lifecycle".to_owned(), format!("failed: {expected}"))]
    );
    let (report, _) = rig.shut_down(&["bystander"]);
    assert!(report.errors.is_empty());
}

#[test]
fn create_panic() {
    start_fault(
        (Site::Create, Fault::Panic),
        Failure::Panicked {
            during: "create",
            message: "create panicked on purpose".into(),
        },
    );
}

#[test]
fn configure_error() {
    start_fault(
        (Site::Configure, Fault::Error),
        Failure::Configure("configure failed: the disk is on fire".into()),
    );
}

#[test]
fn configure_panic() {
    start_fault(
        (Site::Configure, Fault::Panic),
        Failure::Panicked {
            during: "configure",
            message: "configure panicked on purpose".into(),
        },
    );
}

#[test]
fn activate_error() {
    start_fault(
        (Site::Activate, Fault::Error),
        Failure::Activate("activate failed: the disk is on fire".into()),
    );
}

#[test]
fn activate_panic() {
    start_fault(
        (Site::Activate, Fault::Panic),
        Failure::Panicked {
            during: "activate",
            message: "activate panicked on purpose".into(),
        },
    );
}

/// Cells at shutdown: the failure is reported and audited, and every plugin is still
/// deactivated, once, in reverse order.
fn shutdown_fault(cell: (Site, Fault), expected: Failure) {
    let rig = rig(cell);
    rig.assert_bystander_serves();
    let (report, audit) = rig.shut_down(ALL_SERVING);
    assert_eq!(report.errors, [(PluginId::from("faulty"), expected.clone())]);
    let audited: Vec<_> = audit
        .iter()
        .filter(|record| record["decision"] == "failed")
        .map(|record| {
            (
                record["plugin"].clone(),
                record["action"].clone(),
                record["details"].clone(),
            )
        })
        .collect();
    assert_eq!(
        audited,
        [("faulty".into(), "shutdown".into(), expected.to_string().into())]
    );
}

#[test]
fn deactivate_error() {
    shutdown_fault(
        (Site::Deactivate, Fault::Error),
        Failure::Deactivate("deactivate failed: the disk is on fire".into()),
    );
}

#[test]
fn deactivate_panic() {
    shutdown_fault(
        (Site::Deactivate, Fault::Panic),
        Failure::Panicked {
            during: "deactivate",
            message: "deactivate panicked on purpose".into(),
        },
    );
}

#[test]
fn drop_panic() {
    shutdown_fault(
        (Site::Drop, Fault::Panic),
        Failure::Panicked {
            during: "drop",
            message: "drop panicked on purpose".into(),
        },
    );
}

/// Cells in a reload: refused with the step and reason; the old instance keeps serving,
/// untouched; the new one, which never activated, is not deactivated.
fn reload_fault(cell: (Site, Fault), step: ReloadStep, expected: Failure) {
    let rig = rig(cell);
    let error = rig.host.reload("faulty").unwrap_err();
    assert_eq!(
        error,
        LifecycleError::ReloadFailed {
            plugin: "faulty".into(),
            step,
            failure: expected.clone(),
        }
    );
    assert_eq!(rig.host.state("faulty"), Some(State::Active));
    assert_eq!(rig.host.failure("faulty"), None);
    assert_eq!(rig.host.state("dependent"), Some(State::Active));
    assert_eq!(
        rig.host.execute::<(), u8>("faulty:work", ()).unwrap(),
        1,
        "the old instance serves"
    );
    rig.assert_bystander_serves();
    assert_eq!(rig.deactivations.load(Ordering::SeqCst), 0);
    assert_eq!(rig.failures_audited(), [("reload".to_owned(), error.to_string())]);
    rig.shut_down(ALL_SERVING);
}

#[test]
fn get_state_error() {
    reload_fault(
        (Site::GetState, Fault::Error),
        ReloadStep::GetState,
        Failure::GetState("get_state failed: the disk is on fire".into()),
    );
}

#[test]
fn get_state_panic() {
    reload_fault(
        (Site::GetState, Fault::Panic),
        ReloadStep::GetState,
        Failure::Panicked {
            during: "get_state",
            message: "get_state panicked on purpose".into(),
        },
    );
}

#[test]
fn restore_state_error() {
    reload_fault(
        (Site::RestoreState, Fault::Error),
        ReloadStep::RestoreState,
        Failure::RestoreState("restore_state failed: the disk is on fire".into()),
    );
}

#[test]
fn restore_state_panic() {
    reload_fault(
        (Site::RestoreState, Fault::Panic),
        ReloadStep::RestoreState,
        Failure::Panicked {
            during: "restore_state",
            message: "restore_state panicked on purpose".into(),
        },
    );
}

/// What `faulty` registers, as the host derives its capabilities from it.
fn registered_capabilities() -> Vec<Capability> {
    vec![
        Capability::new("command", "faulty:work"),
        Capability::new("command", "faulty:guarded"),
        Capability::new("command", "faulty:typed"),
        Capability::new("command", "faulty:layered"),
        Capability::new("event-subscriber", "fault_matrix::Ping"),
        Capability::new("hook", "faulty:probe"),
        Capability::new("hook-implementation", "faulty:probe"),
        Capability::new("service", "dyn fault_matrix::Probe"),
        Capability::new("middleware", "faulty:guarded"),
        Capability::new("middleware", "faulty:typed"),
        Capability::new("middleware", "faulty:layered"),
        Capability::new("inbox", "fault_matrix::Ping"),
    ]
}

#[test]
fn capabilities_panic() {
    let rig = rig((Site::Capabilities, Fault::Panic));
    assert_eq!(rig.host.state("faulty"), Some(State::Active));
    // What it registered is known all the same; the panic is one more entry.
    let mut expected = registered_capabilities();
    expected.push(Capability::new(
        "error",
        "capabilities() panicked: capabilities panicked on purpose",
    ));
    assert_eq!(rig.host.plugin("faulty").unwrap().capabilities(), expected);
    let incidents = rig.host.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(
        (
            incidents[0].plugin.as_str(),
            incidents[0].site.as_str(),
            incidents[0].message.as_str()
        ),
        ("faulty", "capabilities", "panicked: capabilities panicked on purpose")
    );
    assert_eq!(
        rig.failures_audited(),
        [(
            "capabilities".to_owned(),
            "panicked: capabilities panicked on purpose".to_owned()
        )]
    );
    rig.assert_bystander_serves();
    rig.shut_down(ALL_SERVING);
}

/// Cells in dispatch: the caller gets the exact error (or, where nobody waits for the
/// result, an incident); the plugin stays active, as do its dependents.
fn dispatch_fault(cell: (Site, Fault), act: impl FnOnce(&Host), audited: (&str, &str)) {
    let rig = rig(cell);
    act(&rig.host);
    assert_eq!(rig.host.state("faulty"), Some(State::Active));
    assert_eq!(rig.host.failure("faulty"), None);
    assert_eq!(rig.host.state("dependent"), Some(State::Active));
    rig.host.execute::<(), ()>("dependent:ping", ()).unwrap();
    rig.assert_bystander_serves();
    assert_eq!(
        rig.failures_audited(),
        [(audited.0.to_owned(), audited.1.to_owned())],
        "{cell:?}"
    );
    rig.shut_down(ALL_SERVING);
}

#[test]
fn command_error() {
    dispatch_fault(
        (Site::Command, Fault::Error),
        |host| {
            let error = host.execute::<(), u8>("faulty:work", ()).unwrap_err();
            assert!(matches!(error.kind(), DispatchErrorKind::Handler { plugin, .. } if plugin == "faulty"));
            assert_eq!(
                error.to_string(),
                "command `faulty:work` failed in plugin `faulty`: the command failed"
            );
            assert_eq!(
                std::error::Error::source(&error).unwrap().to_string(),
                "the disk is on fire"
            );
        },
        ("command faulty:work", "the command failed: the disk is on fire"),
    );
}

#[test]
fn command_panic() {
    dispatch_fault(
        (Site::Command, Fault::Panic),
        |host| {
            let error = host.execute::<(), u8>("faulty:work", ()).unwrap_err();
            assert_eq!(
                error.to_string(),
                "command `faulty:work` panicked in plugin `faulty`: the command panicked on purpose"
            );
        },
        ("command faulty:work", "panicked: the command panicked on purpose"),
    );
}

#[test]
fn subscriber_error() {
    dispatch_fault(
        (Site::Subscriber, Fault::Error),
        |host| {
            let delivery = host.publish(&Ping);
            assert_eq!((delivery.reached, delivery.failed), (1, 1));
            let incidents = host.incidents();
            assert_eq!(incidents.len(), 1);
            assert_eq!(incidents[0].message, "the subscriber failed: the disk is on fire");
        },
        (
            "event handler for fault_matrix::Ping",
            "the subscriber failed: the disk is on fire",
        ),
    );
}

#[test]
fn subscriber_panic() {
    dispatch_fault(
        (Site::Subscriber, Fault::Panic),
        |host| {
            let delivery = host.publish(&Ping);
            assert_eq!((delivery.reached, delivery.failed), (1, 1));
            assert_eq!(
                host.incidents()[0].message,
                "panicked: the subscriber panicked on purpose"
            );
        },
        (
            "event handler for fault_matrix::Ping",
            "panicked: the subscriber panicked on purpose",
        ),
    );
}

#[test]
fn middleware_error() {
    dispatch_fault(
        (Site::Middleware, Fault::Error),
        |host| {
            let error = host.execute::<(), u8>("faulty:guarded", ()).unwrap_err();
            assert_eq!(
                error.to_string(),
                "command `faulty:guarded` was rejected: the middleware said no"
            );
            assert_eq!(
                host.execute::<(), u8>("faulty:work", ()).unwrap(),
                1,
                "other commands pass"
            );
        },
        (
            "middleware on faulty:guarded",
            "command `faulty:guarded` was rejected: the middleware said no",
        ),
    );
}

#[test]
fn middleware_panic() {
    dispatch_fault(
        (Site::Middleware, Fault::Panic),
        |host| {
            let error = host.execute::<(), u8>("faulty:guarded", ()).unwrap_err();
            assert_eq!(
                error.to_string(),
                "command `faulty:guarded` panicked in plugin `faulty`: in middleware: the middleware panicked on purpose"
            );
        },
        (
            "command faulty:guarded",
            "in middleware: panicked: the middleware panicked on purpose",
        ),
    );
}

/// A typed handle walks a typed chain (the layer's rejection and panic attributed as a
/// pattern layer's are), and the command answers once the fault is gone.
fn typed_middleware_fault(cell: (Site, Fault), expected: &str, audited: (&str, &str)) {
    dispatch_fault(
        cell,
        |host| {
            let typed = host.command::<u8, u8>("faulty:typed").unwrap();
            assert!(format!("{typed:?}").contains("typed chain"), "{typed:?}");
            assert_eq!(typed.call(1).unwrap_err().to_string(), expected);
            assert_eq!(
                host.execute::<(), u8>("faulty:work", ()).unwrap(),
                1,
                "other commands pass"
            );
        },
        audited,
    );
}

#[test]
fn typed_middleware_error() {
    typed_middleware_fault(
        (Site::TypedMiddleware, Fault::Error),
        "command `faulty:typed` was rejected: the typed middleware said no",
        (
            "middleware on faulty:typed",
            "command `faulty:typed` was rejected: the typed middleware said no",
        ),
    );
}

#[test]
fn typed_middleware_panic() {
    typed_middleware_fault(
        (Site::TypedMiddleware, Fault::Panic),
        "command `faulty:typed` panicked in plugin `faulty`: in middleware: the typed middleware panicked on purpose",
        (
            "command faulty:typed",
            "in middleware: panicked: the typed middleware panicked on purpose",
        ),
    );
}

/// A handle that names `faulty`'s layer runs it inlined (its rejection and panic
/// attributed as a pattern layer's are), and the command answers once the fault is gone.
fn layer_fault(cell: (Site, Fault), expected: &str, audited: (&str, &str)) {
    dispatch_fault(
        cell,
        |host| {
            let layered = host
                .command_with_layers::<u8, u8, (FaultyLayer,)>("faulty:layered")
                .unwrap();
            assert!(layered.is_static(), "{layered:?}");
            assert_eq!(layered.call(1).unwrap_err().to_string(), expected);
            assert_eq!(
                host.execute::<(), u8>("faulty:work", ()).unwrap(),
                1,
                "other commands pass"
            );
        },
        audited,
    );
}

#[test]
fn layer_error() {
    layer_fault(
        (Site::Layer, Fault::Error),
        "command `faulty:layered` was rejected: the layer said no",
        (
            "middleware on faulty:layered",
            "command `faulty:layered` was rejected: the layer said no",
        ),
    );
}

#[test]
fn layer_panic() {
    layer_fault(
        (Site::Layer, Fault::Panic),
        "command `faulty:layered` panicked in plugin `faulty`: in middleware: the layer panicked on purpose",
        (
            "command faulty:layered",
            "in middleware: panicked: the layer panicked on purpose",
        ),
    );
}

#[test]
fn hook_panic() {
    dispatch_fault(
        (Site::Hook, Fault::Panic),
        |host| {
            let hook = host.hook::<u8, u8>("faulty:probe").unwrap();
            assert_eq!(
                hook.call_all(&1),
                Vec::<u8>::new(),
                "the panicking implementation yields nothing"
            );
            assert_eq!(host.incidents()[0].message, "panicked: the hook panicked on purpose");
        },
        ("hook `faulty:probe`", "panicked: the hook panicked on purpose"),
    );
}

#[test]
fn service_panic() {
    dispatch_fault(
        (Site::Service, Fault::Panic),
        |host| {
            let error = host
                .service::<dyn Probe>()
                .unwrap()
                .with(|probe| probe.poke())
                .unwrap_err();
            assert_eq!(
                error,
                ServiceError::Panicked {
                    service: "dyn fault_matrix::Probe",
                    provider: "faulty".into(),
                    message: "poke panicked on purpose".into(),
                }
            );
        },
        ("service dyn fault_matrix::Probe", "panicked: poke panicked on purpose"),
    );
}

#[test]
fn message_error() {
    dispatch_fault(
        (Site::Message, Fault::Error),
        |host| {
            let error = host.request::<Ping, u8>("faulty", Ping).unwrap_err();
            assert!(matches!(&error, MessageError::Handler { plugin, .. } if plugin == "faulty"));
            assert_eq!(
                error.to_string(),
                "plugin `faulty` failed to handle `fault_matrix::Ping`: the inbox failed"
            );
        },
        (
            "inbox for fault_matrix::Ping",
            "plugin `faulty` failed to handle `fault_matrix::Ping`: the inbox failed: the disk is on fire",
        ),
    );
}

#[test]
fn message_panic() {
    dispatch_fault(
        (Site::Message, Fault::Panic),
        |host| {
            let error = host.request::<Ping, u8>("faulty", Ping).unwrap_err();
            assert!(matches!(&error, MessageError::Panicked { plugin, .. } if plugin == "faulty"));
        },
        (
            "inbox for fault_matrix::Ping",
            "plugin `faulty` panicked handling `fault_matrix::Ping`: the inbox panicked on purpose",
        ),
    );
}

/// The re-entrancy fault found on 2026-11-25: asking for a plugin's capabilities inside
/// `with_plugin` on the same plugin deadlocked on the instance mutex.
#[test]
fn capabilities_inside_with_plugin_answer_and_reentry_is_refused() {
    let rig = rig((Site::Command, Fault::Error));
    let capabilities = rig
        .host
        .with_plugin(|_: &mut Faulty| rig.host.plugin("faulty").unwrap().capabilities())
        .unwrap();
    // Its own list names `faulty:work`, which it registers too: once.
    assert_eq!(capabilities, registered_capabilities());
    let nested = rig
        .host
        .with_plugin(|_: &mut Faulty| rig.host.with_plugin(|_: &mut Faulty| ()))
        .unwrap();
    assert_eq!(
        nested,
        Err(LifecycleError::Reentered {
            plugin: "faulty".into(),
            action: "borrowed again",
        })
    );
    let disable = rig
        .host
        .with_plugin(|_: &mut Faulty| rig.host.disable("bystander"))
        .unwrap();
    assert_eq!(
        disable.unwrap_err().to_string(),
        "plugin instances cannot be disabled from inside `with_plugin`, which holds the instance of `faulty` on this thread; return from the closure first"
    );
    assert_eq!(rig.host.state("bystander"), Some(State::Active), "nothing changed");
    // After the closure, everything works again.
    rig.host.disable("bystander").unwrap();
    rig.host.enable("bystander").unwrap();
    rig.shut_down(ALL_SERVING);
}

/// An echo, for the recursion cases.
#[derive(Clone, Debug)]
struct Echo(u32);

/// The recursion fault found on 2026-11-25: a subscriber that publishes its own event
/// overflowed the stack and aborted the process. Nesting is bounded at 64 calls per
/// thread: the innermost publish reaches nobody and says why, and every level returns.
#[test]
fn a_subscriber_that_publishes_its_own_event_is_stopped_at_the_depth_bound() {
    let depth = Arc::new(AtomicU64::new(0));
    let stopped = Arc::new(AtomicU64::new(0));
    let (seen, cut) = (depth.clone(), stopped.clone());
    let echo = fn_plugin(
        patchpanel::testing::with_every_permission(Manifest::builder("echo", "1.0.0"))
            .build()
            .unwrap(),
        move |context| {
            let (seen, cut) = (seen.clone(), cut.clone());
            context.subscribe(move |call, Echo(n): &Echo| {
                seen.fetch_max(u64::from(*n), Ordering::SeqCst);
                if call.publish(&Echo(n + 1)).too_deep {
                    cut.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            });
            context.command("again", |call, n: u32| {
                Ok(call.execute::<u32, u32>("echo:again", n + 1)?)
            })?;
            Ok(())
        },
    );
    let host = Host::builder().plugins(vec![echo]).build().unwrap();
    let delivery = host.publish(&Echo(1));
    assert_eq!((delivery.reached, delivery.failed, delivery.too_deep), (1, 0, false));
    assert_eq!(stopped.load(Ordering::SeqCst), 1, "one publish, the deepest, was cut");
    assert!(
        (30..=64).contains(&depth.load(Ordering::SeqCst)),
        "{}",
        depth.load(Ordering::SeqCst)
    );
    // A command that calls itself: the innermost call is refused with TooDeep, and the
    // error comes back up through every level as each handler's error.
    let error = host.execute::<u32, u32>("echo:again", 0).unwrap_err();
    let message = error.to_string();
    assert!(
        message.ends_with(
            "command `echo:again` was not run: calls nest deeper than 64 on this thread; look for a handler that calls itself, directly or through other plugins"
        ),
        "{message}"
    );
    assert_eq!(
        message.matches("failed in plugin `echo`").count(),
        64,
        "each level adds its own"
    );
    assert_eq!(host.state("echo"), Some(State::Active));
}

/// A service that panics inside a consumer's command is blamed on its provider: the
/// consumer's command fails, and its cause names the plugin whose code panicked.
#[test]
fn a_service_panic_inside_a_consumers_command_names_the_provider() {
    let rig = rig((Site::Service, Fault::Panic));
    let consumer = fn_plugin(
        patchpanel::testing::with_every_permission(Manifest::builder("consumer", "1.0.0").depends_on("faulty", "^1"))
            .build()
            .unwrap(),
        |context| {
            let probe = context.service::<dyn Probe>()?;
            context.command("use", move |_, (): ()| Ok(probe.with(|p| p.poke())?))?;
            Ok(())
        },
    );
    drop(rig);
    let faulty = PluginSpec::with_factory(Faulty::MANIFEST.to_manifest().unwrap(), || Faulty {
        cell: (Site::Service, Fault::Panic),
        deactivations: Arc::default(),
    });
    let host = Host::builder().plugins(vec![faulty, consumer]).build().unwrap();
    let error = host.execute::<(), u8>("consumer:use", ()).unwrap_err();
    assert!(
        matches!(error.kind(), DispatchErrorKind::Handler { plugin, .. } if plugin == "consumer"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "command `consumer:use` failed in plugin `consumer`: service `dyn fault_matrix::Probe` panicked in its provider, plugin `faulty`: poke panicked on purpose"
    );
    let audited: Vec<_> = host
        .audit()
        .records()
        .into_iter()
        .filter(|r| r.decision == Decision::Failed)
        .map(|r| (r.plugin.to_string(), r.action.into_owned()))
        .collect();
    assert_eq!(
        audited,
        [
            ("faulty".to_owned(), "service dyn fault_matrix::Probe".to_owned()),
            ("consumer".to_owned(), "command consumer:use".to_owned()),
        ]
    );
}

/// A request type whose `Deserialize` panics on `"boom"`, and a response type whose
/// `Serialize` panics when it holds `"boom"`: a plugin's serde impls are its code.
#[derive(Debug)]
struct Touchy(String);

impl<'de> serde::Deserialize<'de> for Touchy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Touchy, D::Error> {
        let text = String::deserialize(deserializer)?;
        assert_ne!(text, "boom", "the request's Deserialize panicked on purpose");
        Ok(Touchy(text))
    }
}

impl serde::Serialize for Touchy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        assert_ne!(self.0, "boom", "the response's Serialize panicked on purpose");
        serializer.serialize_str(&self.0)
    }
}

/// A panic in a command's request or response serde impl at the JSON boundary is
/// contained as the command's own panic: the caller gets `Panicked` naming the plugin,
/// the audit records it, and the host (and the plugin) go on serving. With middleware
/// on the command, the same.
#[test]
fn a_panicking_serde_impl_at_the_json_boundary_is_the_commands_panic() {
    for wrapped in [false, true] {
        let plugin = fn_plugin(
            patchpanel::testing::with_every_permission(Manifest::builder("touchy", "1.0.0"))
                .build()
                .unwrap(),
            move |context| {
                // Echoes its request; "deboom" comes back as "boom", which does not serialize.
                context.command("echo", |_, request: Touchy| {
                    Ok(Touchy(request.0.strip_prefix("de").unwrap_or(&request.0).to_owned()))
                })?;
                context.command_async("echo_async", |_, request: Touchy| async move {
                    Ok(Touchy(request.0.strip_prefix("de").unwrap_or(&request.0).to_owned()))
                })?;
                if wrapped {
                    context.middleware("touchy:*", 0, |invocation, next| next.run(invocation))?;
                }
                Ok(())
            },
        );
        let host = Host::builder().plugins(vec![plugin]).build().unwrap();
        for (request, message) in [
            ("boom", "the request's Deserialize panicked on purpose"),
            ("deboom", "the response's Serialize panicked on purpose"),
        ] {
            for command in ["touchy:echo", "touchy:echo_async"] {
                let error = if command.ends_with("async") {
                    patchpanel::blocking::block_on(host.execute_json_async(command, serde_json::json!(request)))
                } else {
                    host.execute_json(command, serde_json::json!(request))
                }
                .unwrap_err();
                assert!(
                    matches!(error.kind(), DispatchErrorKind::Panicked { plugin, .. } if plugin == "touchy"),
                    "{error:?}"
                );
                let expected = format!(
                    "command `{command}` panicked in plugin `touchy`: assertion `left != right` failed: {message}"
                );
                assert!(error.to_string().starts_with(&expected), "{error}");
            }
        }
        assert_eq!(
            host.execute_json("touchy:echo", serde_json::json!("fine")).unwrap(),
            "fine"
        );
        assert_eq!(host.state("touchy"), Some(State::Active));
        for command in ["touchy:echo", "touchy:echo_async"] {
            let panics = host
                .audit()
                .records()
                .into_iter()
                .filter(|r| r.decision == Decision::Failed && r.action == format!("command {command}"))
                .count();
            assert_eq!(panics, 2, "{command}, middleware: {wrapped}");
        }
    }
}
