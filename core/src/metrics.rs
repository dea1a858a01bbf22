//! Metrics: what the host records through the `metrics` facade, and a small in-memory
//! recorder to read them back.
//!
//! Turn recording on with [`HostBuilder::metrics`](crate::host::HostBuilder::metrics); any
//! `metrics` recorder (Prometheus, StatsD...) then receives:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `patchpanel_activation_seconds` | histogram | `plugin` |
//! | `patchpanel_commands_total` | counter | `plugin`, `command` |
//! | `patchpanel_command_errors_total` | counter | `plugin`, `command` |
//! | `patchpanel_command_seconds` | histogram | `plugin`, `command` |
//! | `patchpanel_event_deliveries_total` | counter | `event` |
//! | `patchpanel_event_failures_total` | counter | `event` |
//! | `patchpanel_plugin_health` | gauge: 2 healthy, 1 degraded, 0 unhealthy | `plugin` |
//! | `patchpanel_storage_group_writes` | histogram: writes per durable transaction (group commit) | |
//! | `patchpanel_storage_deferred_writes_total` | counter: writes committed without their caller waiting ([`Storage::put_deferred`](crate::storage::Storage::put_deferred)) | |
//! | `patchpanel_storage_deferred_lost_total` | counter: deferred writes whose transaction failed (each also logged) | |
//!
//! Building a host with metrics on describes each of them to the recorder installed then
//! (a Prometheus exporter prints the descriptions as `# HELP` lines).
//!
//! [`SnapshotRecorder`] keeps them in memory, for tests and for printing at shutdown:
//!
//! ```
//! use patchpanel::metrics::{MetricValue, SnapshotRecorder};
//!
//! let recorder = SnapshotRecorder::default();
//! metrics::with_local_recorder(&recorder, || metrics::counter!("requests", "path" => "/").increment(2));
//! assert_eq!(recorder.snapshot(), [("requests{path=/}".to_owned(), MetricValue::Counter(2))]);
//! ```
//!
//! Guide chapter: [serving over HTTP](crate::guide::serving).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ::metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// Describes every metric the host records to the current recorder, with its unit.
pub(crate) fn describe() {
    ::metrics::describe_histogram!(
        "patchpanel_activation_seconds",
        Unit::Seconds,
        "How long each plugin's activation took"
    );
    ::metrics::describe_counter!(
        "patchpanel_commands_total",
        "Commands dispatched, by plugin and command"
    );
    ::metrics::describe_counter!(
        "patchpanel_command_errors_total",
        "Commands that returned an error or panicked, by plugin and command"
    );
    ::metrics::describe_histogram!(
        "patchpanel_command_seconds",
        Unit::Seconds,
        "How long each command took, middleware included"
    );
    ::metrics::describe_counter!(
        "patchpanel_event_deliveries_total",
        "Events handed to subscribers, by event type"
    );
    ::metrics::describe_counter!(
        "patchpanel_event_failures_total",
        "Event deliveries whose subscriber returned an error or panicked, by event type"
    );
    ::metrics::describe_histogram!(
        "patchpanel_storage_group_writes",
        "Writes that shared one durable storage transaction (group commit)"
    );
    ::metrics::describe_counter!(
        "patchpanel_storage_deferred_writes_total",
        "Storage writes committed without their caller waiting for the commit (deferred durability)"
    );
    ::metrics::describe_counter!(
        "patchpanel_storage_deferred_lost_total",
        "Deferred storage writes lost because their transaction failed (each is also logged)"
    );
    ::metrics::describe_gauge!(
        "patchpanel_plugin_health",
        "Each plugin's last health check: 2 healthy, 1 degraded, 0 unhealthy"
    );
}

/// One metric's current value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// A counter's total.
    Counter(u64),
    /// A gauge's value.
    Gauge(f64),
    /// A histogram's summary.
    Histogram {
        /// How many values were recorded.
        count: u64,
        /// Their sum.
        sum: f64,
        /// The largest value recorded.
        max: f64,
    },
}

impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricValue::Counter(total) => write!(f, "{total}"),
            MetricValue::Gauge(value) => write!(f, "{value}"),
            MetricValue::Histogram { count, sum, max } => {
                let mean = if *count == 0 { 0.0 } else { sum / *count as f64 };
                write!(f, "count={count} mean={mean:.6} max={max:.6}")
            }
        }
    }
}

#[derive(Default)]
struct Cell {
    counter: AtomicU64,
    gauge: AtomicU64,
    histogram: Mutex<(u64, f64, f64)>,
    kind: Mutex<Option<&'static str>>,
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.counter.fetch_add(value, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.counter.fetch_max(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.set(f64::from_bits(self.gauge.load(Ordering::Relaxed)) + value);
    }

    fn decrement(&self, value: f64) {
        self.set(f64::from_bits(self.gauge.load(Ordering::Relaxed)) - value);
    }

    fn set(&self, value: f64) {
        self.gauge.store(value.to_bits(), Ordering::Relaxed);
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        let mut summary = self.histogram.lock().unwrap_or_else(|p| p.into_inner());
        summary.0 += 1;
        summary.1 += value;
        summary.2 = summary.2.max(value);
    }
}

/// A `metrics` recorder that keeps every metric in memory.
#[derive(Clone, Default)]
pub struct SnapshotRecorder {
    cells: Arc<Mutex<BTreeMap<String, Arc<Cell>>>>,
}

impl fmt::Debug for SnapshotRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotRecorder").finish_non_exhaustive()
    }
}

/// `name{label=value,...}`, labels in the order given.
fn render(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}={}", label.key(), label.value()))
        .collect();
    if labels.is_empty() {
        key.name().to_owned()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

impl SnapshotRecorder {
    fn cell(&self, key: &Key, kind: &'static str) -> Arc<Cell> {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let cell = cells.entry(render(key)).or_default().clone();
        *cell.kind.lock().unwrap_or_else(|p| p.into_inner()) = Some(kind);
        cell
    }

    /// Every metric recorded so far, sorted by name and labels.
    pub fn snapshot(&self) -> Vec<(String, MetricValue)> {
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells
            .iter()
            .map(|(name, cell)| {
                let kind = *cell.kind.lock().unwrap_or_else(|p| p.into_inner());
                let value = match kind {
                    Some("gauge") => MetricValue::Gauge(f64::from_bits(cell.gauge.load(Ordering::Relaxed))),
                    Some("histogram") => {
                        let (count, sum, max) = *cell.histogram.lock().unwrap_or_else(|p| p.into_inner());
                        MetricValue::Histogram { count, sum, max }
                    }
                    _ => MetricValue::Counter(cell.counter.load(Ordering::Relaxed)),
                };
                (name.clone(), value)
            })
            .collect()
    }
}

impl Recorder for SnapshotRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key, "counter"))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key, "gauge"))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key, "histogram"))
    }
}
