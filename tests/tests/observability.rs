//! Metrics through the `metrics` facade. (Spans are tested in `spans.rs`, alone in their
//! binary: `tracing` caches each callsite's interest process-wide, so a test installing
//! a scoped subscriber must not race tests that dispatch without one.)

use patchpanel::Host;
use patchpanel::metrics::{MetricValue, SnapshotRecorder};
use patchpanel_tests::fixture::{Ping, math_and_listener};

#[test]
fn metrics_record_activation_commands_errors_latency_and_deliveries() {
    let recorder = SnapshotRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        let host = Host::builder()
            .metrics(true)
            .plugins(math_and_listener())
            .build()
            .unwrap();
        assert_eq!(host.execute::<u64, u64>("math:double", 2).unwrap(), 4);
        assert_eq!(host.command::<u64, u64>("math:double").unwrap().call(3).unwrap(), 6);
        assert!(host.execute::<(), u8>("math:fail", ()).is_err());
        assert_eq!(host.publish(&Ping).reached, 1);
    });
    let snapshot: std::collections::BTreeMap<String, MetricValue> = recorder.snapshot().into_iter().collect();
    assert_eq!(
        snapshot["patchpanel_commands_total{plugin=math,command=math:double}"],
        MetricValue::Counter(2)
    );
    assert_eq!(
        snapshot["patchpanel_commands_total{plugin=math,command=math:fail}"],
        MetricValue::Counter(1)
    );
    assert_eq!(
        snapshot["patchpanel_command_errors_total{plugin=math,command=math:fail}"],
        MetricValue::Counter(1)
    );
    assert!(!snapshot.contains_key("patchpanel_command_errors_total{plugin=math,command=math:double}"));
    assert!(matches!(
        snapshot["patchpanel_command_seconds{plugin=math,command=math:double}"],
        MetricValue::Histogram { count: 2, .. }
    ));
    assert_eq!(
        snapshot["patchpanel_event_deliveries_total{event=patchpanel_tests::fixture::Ping}"],
        MetricValue::Counter(1)
    );
    for plugin in ["math", "ear"] {
        let key = format!("patchpanel_activation_seconds{{plugin={plugin}}}");
        assert!(
            matches!(snapshot[&key], MetricValue::Histogram { count: 1, .. }),
            "{key}"
        );
    }
}

#[test]
fn metrics_are_off_unless_asked_for() {
    let recorder = SnapshotRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        let host = Host::builder().plugins(math_and_listener()).build().unwrap();
        host.execute::<u64, u64>("math:double", 2).unwrap();
        host.publish(&Ping);
    });
    assert_eq!(recorder.snapshot(), []);
}
