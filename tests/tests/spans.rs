//! `tracing` spans around lifecycle calls and dispatches. The only test in this binary:
//! `tracing` caches callsite interest process-wide, and a scoped subscriber must not
//! race other tests that dispatch without one.

use std::sync::{Arc, Mutex};

use patchpanel::Host;
use patchpanel_tests::fixture::{Ping, math_and_listener};

/// Records the name and the `plugin` / `command` fields of every span opened.
#[derive(Clone, Default)]
struct SpanLog(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "plugin" | "command" | "event") {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if matches!(field.name(), "plugin" | "command" | "event") {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl tracing::Subscriber for SpanLog {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(span.metadata().name().to_owned());
        span.record(&mut fields);
        let mut log = self.0.lock().unwrap();
        log.push(fields.0);
        tracing::span::Id::from_u64(log.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn lifecycle_calls_and_dispatches_run_in_spans_naming_the_plugin() {
    let log = SpanLog::default();
    tracing::subscriber::with_default(log.clone(), || {
        let host = Host::builder().plugins(math_and_listener()).build().unwrap();
        host.execute::<u64, u64>("math:double", 2).unwrap();
        host.publish(&Ping);
        host.shutdown();
    });
    let spans = log.0.lock().unwrap().clone();
    assert_eq!(
        spans,
        [
            "patchpanel.activate plugin=ear",
            "patchpanel.activate plugin=math",
            "patchpanel.dispatch command=math:double plugin=math",
            "patchpanel.publish event=patchpanel_tests::fixture::Ping",
            "patchpanel.deactivate plugin=math",
            "patchpanel.deactivate plugin=ear",
        ]
    );
}
