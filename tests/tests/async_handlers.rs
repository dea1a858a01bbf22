//! Async hooks, inboxes and services: their answers are futures that run on the
//! caller's executor (here `block_on`), counted in flight in the plugin that answers.
//! The tests pin the answers and errors, the refusal of synchronous callers, that
//! `disable` waits for answers in flight and `reload` lets them finish on the old
//! instance, and a bounded hammer of async calls against lifecycle churn.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchpanel::{
    Context, Host, Plugin, PluginError, PluginSpec,
    blocking::block_on,
    commands::BoxFuture,
    hooks::{Deferred, HookFuture, HookOrder},
    messaging::MessageError,
    services::ServiceError,
};
use patchpanel_tests::fixture::wired;
use patchpanel_tests::futures::{Gate, yield_once};

/// Asked through `request_async`.
struct Lookup(String);

/// Sent to the sync inbox.
struct Ping;

/// A service with an async method.
trait Directory: Send + Sync {
    fn find(&self, name: String) -> BoxFuture<'static, bool>;
}

/// The gate the answers wait on, when a test sets one.
static GATE: Mutex<Option<Gate>> = Mutex::new(None);

async fn maybe_wait() {
    let gate = GATE.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.wait().await;
    }
}

/// Answers asynchronously in every way; each answer says whether its instance was still
/// active (not deactivated) when it finished.
#[patchpanel::register_plugin(
    id = "answers",
    version = "1.0.0",
    permissions = { hooks = ["implement"], messaging = ["receive"], services = ["provide"] }
)]
#[derive(Default)]
struct Answers {
    deactivated: Arc<AtomicBool>,
}

struct Book(Arc<AtomicBool>);

impl Directory for Book {
    fn find(&self, name: String) -> BoxFuture<'static, bool> {
        let deactivated = Arc::clone(&self.0);
        Box::pin(async move {
            maybe_wait().await;
            yield_once().await;
            if name == "panic" {
                panic!("the book fell apart");
            }
            !deactivated.load(Ordering::SeqCst)
        })
    }
}

impl Plugin for Answers {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let deactivated = Arc::clone(&self.deactivated);
        context.implement_hook_async("asker:greet", HookOrder::default(), move |_, name: &String| {
            let (name, deactivated) = (name.clone(), Arc::clone(&deactivated));
            async move {
                maybe_wait().await;
                yield_once().await;
                match name.as_str() {
                    "pass" => None,
                    "panic" => panic!("the greeting failed"),
                    _ => Some((format!("async hello, {name}"), !deactivated.load(Ordering::SeqCst))),
                }
            }
        })?;
        let deactivated = Arc::clone(&self.deactivated);
        context.on_message_async(move |call, Lookup(name)| {
            let deactivated = Arc::clone(&deactivated);
            async move {
                maybe_wait().await;
                yield_once().await;
                match name.as_str() {
                    "nobody" => Err(PluginError::new(format!("{} knows no `nobody`", call.plugin()))),
                    "panic" => panic!("the lookup failed"),
                    _ => Ok((format!("found {name}"), !deactivated.load(Ordering::SeqCst))),
                }
            }
        })?;
        context.on_message(|_, Ping| Ok("pong"))?;
        context.provide::<dyn Directory>(Arc::new(Book(Arc::clone(&self.deactivated))));
        Ok(())
    }

    fn deactivate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        self.deactivated.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// `asker` declares the async hook `asker:greet`; `quiet` implements it and passes.
fn host() -> Host {
    Host::builder()
        .plugins(vec![
            wired("asker", &[], |context| {
                context.declare_hook::<String, HookFuture<(String, bool)>>("greet")?;
                Ok(())
            }),
            PluginSpec::registered::<Answers>().unwrap(),
            wired("quiet", &["asker"], |context| {
                context.implement_hook_async(
                    "asker:greet",
                    HookOrder::default().priority(10),
                    |_, _: &String| async { None::<(String, bool)> },
                )?;
                Ok(())
            }),
        ])
        .build()
        .unwrap()
}

fn greet(host: &Host, name: &str) -> Vec<HookFuture<(String, bool)>> {
    host.hook::<String, HookFuture<(String, bool)>>("asker:greet")
        .unwrap()
        .call_all(&name.to_owned())
}

#[test]
fn async_hook_implementations_are_awaited_in_call_order() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let host = host();
    let hook = host.hook::<String, HookFuture<(String, bool)>>("asker:greet").unwrap();
    assert_eq!(hook.implementors(), ["quiet", "answers"]);
    assert_eq!(
        block_on(Deferred::all(greet(&host, "ada"))),
        [("async hello, ada".to_owned(), true)]
    );
    assert_eq!(
        block_on(Deferred::first(greet(&host, "ada"))),
        Some(("async hello, ada".to_owned(), true))
    );
    assert_eq!(block_on(Deferred::all(greet(&host, "pass"))), []);
    // A panic after an await: that implementation yields nothing, the host goes on,
    // and the incident is audited against the implementing plugin.
    assert_eq!(block_on(Deferred::all(greet(&host, "panic"))), []);
    let record = host.audit().records_for("answers").pop().unwrap();
    assert_eq!(record.details, "panicked: the greeting failed");
    assert_eq!(record.action, "hook `asker:greet`");
    assert_eq!(record.decision, patchpanel::audit::Decision::Failed);
    assert_eq!(block_on(Deferred::all(greet(&host, "grace"))).len(), 1);
}

#[test]
fn async_inboxes_answer_request_async_and_refuse_synchronous_senders() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let host = host();
    assert_eq!(
        block_on(host.request_async::<Lookup, (String, bool)>("answers", Lookup("ada".into()))).unwrap(),
        ("found ada".to_owned(), true)
    );
    // A synchronous inbox through the async way: ready at once.
    assert_eq!(
        block_on(host.request_async::<Ping, &str>("answers", Ping)).unwrap(),
        "pong"
    );
    let refused = host
        .request::<Lookup, (String, bool)>("answers", Lookup("ada".into()))
        .unwrap_err();
    assert!(matches!(refused, MessageError::Asynchronous { ref plugin, .. } if plugin == "answers"));
    assert_eq!(
        refused.to_string(),
        "plugin `answers` answers `async_handlers::Lookup` asynchronously; use `request_async(..).await`, which waits for the reply"
    );
    assert!(matches!(
        host.send("answers", Lookup("ada".into())),
        Err(MessageError::Asynchronous { .. })
    ));
    let failed =
        block_on(host.request_async::<Lookup, (String, bool)>("answers", Lookup("nobody".into()))).unwrap_err();
    assert_eq!(
        failed.to_string(),
        "plugin `answers` failed to handle `async_handlers::Lookup`: answers knows no `nobody`"
    );
    let panicked =
        block_on(host.request_async::<Lookup, (String, bool)>("answers", Lookup("panic".into()))).unwrap_err();
    assert_eq!(
        panicked.to_string(),
        "plugin `answers` panicked handling `async_handlers::Lookup`: the lookup failed"
    );
    let wrong = block_on(host.request_async::<Lookup, u8>("answers", Lookup("ada".into()))).unwrap_err();
    assert!(matches!(wrong, MessageError::WrongResponse { .. }), "{wrong}");
    // Still serving.
    assert!(block_on(host.request_async::<Lookup, (String, bool)>("answers", Lookup("bo".into()))).is_ok());
}

#[test]
fn async_service_calls_run_in_the_provider_and_panics_are_blamed_on_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let host = host();
    let directory = host.service::<dyn Directory>().unwrap();
    assert_eq!(block_on(directory.with_async(|book| book.find("ada".into()))), Ok(true));
    assert_eq!(
        block_on(directory.with_async(|book| book.find("panic".into()))),
        Err(ServiceError::Panicked {
            service: "dyn async_handlers::Directory",
            provider: "answers".to_owned(),
            message: "the book fell apart".to_owned()
        })
    );
    host.disable("answers").unwrap();
    assert!(matches!(
        block_on(directory.with_async(|book| book.find("ada".into()))),
        Err(ServiceError::NoProvider { .. })
    ));
}

/// Serialises the tests that set `GATE`.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn disable_waits_for_async_answers_in_flight_and_reload_lets_them_finish_on_the_old_instance() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let host = Arc::new(host());
    let directory = host.service::<dyn Directory>().unwrap();
    for change in ["disable", "reload"] {
        let gate = Gate::default();
        *GATE.lock().unwrap() = Some(gate.clone());
        let hook = greet(&host, "ada");
        let reply = host.request_async::<Lookup, (String, bool)>("answers", Lookup("ada".into()));
        let service = directory.with_async(|book| book.find("ada".into()));
        let done = Arc::new(AtomicBool::new(false));
        let changer = {
            let (host, done) = (Arc::clone(&host), Arc::clone(&done));
            std::thread::spawn(move || {
                match change {
                    "disable" => host.disable("answers").map(drop).unwrap(),
                    _ => host.reload("answers").map(drop).unwrap(),
                }
                done.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !done.load(Ordering::SeqCst),
            "{change} returned under answers in flight"
        );
        *GATE.lock().unwrap() = None;
        gate.open();
        assert_eq!(
            block_on(Deferred::all(hook)),
            [("async hello, ada".to_owned(), true)],
            "{change}"
        );
        assert_eq!(block_on(reply).unwrap(), ("found ada".to_owned(), true), "{change}");
        assert_eq!(block_on(service), Ok(true), "{change}");
        changer.join().unwrap();
        if change == "disable" {
            host.enable("answers").unwrap();
        }
    }
}

/// Threads make async hook, message and service calls while another thread disables,
/// enables and reloads the answering plugin, for a bounded time. A violation is an
/// answer that finished on an instance already deactivated.
#[test]
fn async_answers_against_lifecycle_churn_never_outlive_their_instance() {
    let _serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *GATE.lock().unwrap() = None;
    let host = Arc::new(host());
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, violations) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // Looked up before the churn: a lookup fails while no provider is active.
    let directory = host.service::<dyn Directory>().unwrap();
    let callers: Vec<_> = (0..3)
        .map(|kind| {
            let (host, stop, directory) = (Arc::clone(&host), Arc::clone(&stop), directory.clone());
            let (answered, violations) = (Arc::clone(&answered), Arc::clone(&violations));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let alive: Vec<bool> = match kind {
                        0 => block_on(Deferred::all(greet(&host, "ada")))
                            .into_iter()
                            .map(|(_, alive)| alive)
                            .collect(),
                        1 => block_on(host.request_async::<Lookup, (String, bool)>("answers", Lookup("ada".into())))
                            .map(|(_, alive)| alive)
                            .into_iter()
                            .collect(),
                        _ => block_on(directory.with_async(|book| book.find("ada".into())))
                            .into_iter()
                            .collect(),
                    };
                    for alive in alive {
                        if alive {
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            violations.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let started = Instant::now();
    let mut changes = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        host.disable("answers").unwrap();
        host.enable("answers").unwrap();
        std::thread::sleep(Duration::from_micros(500));
        let _ = host.reload("answers").unwrap();
        std::thread::sleep(Duration::from_micros(500));
        changes += 3;
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().unwrap();
    }
    let (answered, violations) = (answered.load(Ordering::Relaxed), violations.load(Ordering::Relaxed));
    eprintln!("{answered} answered, {changes} lifecycle changes, {violations} violations");
    assert!(answered > 0 && changes > 0);
    assert_eq!(violations, 0, "async answers finished on a deactivated instance");
}
