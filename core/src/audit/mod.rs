//! The audit log: every permission decision and every lifecycle transition, as a
//! structured record.
//!
//! Records go to three sinks: the `tracing` target `patchpanel::audit` (at `INFO`, or
//! `WARN` for denials), an in-memory ring buffer queried with [`Audit::records`], and,
//! when configured with [`HostBuilder::audit_file`](crate::host::HostBuilder::audit_file), a
//! JSON-lines file, one record per line.
//!
//! Both stores are bounded. The ring buffer keeps the last [`DEFAULT_CAPACITY`] records.
//! The file is rotated when the next line would take it past its limit
//! ([`DEFAULT_FILE_MAX_BYTES`] unless [`HostBuilder::audit_file_max_bytes`](crate::host::HostBuilder::audit_file_max_bytes)
//! says otherwise): it is renamed to `<path>.1`, replacing the previous `.1`, and a new
//! file is started, so the log never takes more than twice the limit on disk. A write
//! that fails is counted, not retried, and the host reports it as an
//! [`Incident`](crate::host::Incident) of plugin `host`, at site `audit file`.
//!
//! Guide chapter: [permissions and the trust model](crate::guide::permissions).

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::lifecycle::State;
use crate::support::lock;

mod ring;

use ring::{Entry, Ring, free, transition_record};
pub(crate) use ring::{Named, Naming};

/// What was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// A permission check passed.
    Allowed,
    /// A permission check failed.
    Denied,
    /// A lifecycle transition happened.
    Transition,
    /// Plugin code failed (returned an error or panicked) at a boundary the host
    /// guards; `action` names the boundary and `details` the failure, cause chain and all.
    Failed,
    /// Something an operator should know that is not a failure: a deprecated plugin
    /// still in use.
    Notice,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Transition => "transition",
            Decision::Failed => "failed",
            Decision::Notice => "notice",
        })
    }
}

/// One audit record.
///
/// Text that is the same for many records (plugin ids, lifecycle transitions) is shared
/// rather than copied, so that auditing every transition of a large host stays cheap.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// Milliseconds since the Unix epoch, to within a scheduler tick (1 to 4 ms) on
    /// Linux, where the coarse clock is read; records keep their order regardless.
    pub timestamp_ms: u128,
    /// The plugin acting, or whose state changed.
    pub plugin: Arc<str>,
    /// What it did or asked for: `storage.read`, `lifecycle`...
    pub action: Cow<'static, str>,
    /// Whether the action was allowed, denied, or is a lifecycle record.
    pub decision: Decision,
    /// The rest: the target, the scope, the states.
    pub details: Cow<'static, str>,
    /// The plugin on whose behalf `plugin` acted: the consumer of a service whose
    /// provider's code made the decision. `None` when it acted for itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Arc<str>>,
}

thread_local! {
    static ON_BEHALF_OF: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
    /// How many [`OnBehalfOf`] guards live on this thread. While none does, no consumer
    /// is named, and a record learns so from this counter (one load of a value with no
    /// destructor) instead of borrowing `ON_BEHALF_OF`: every record and every lifecycle
    /// transition asks.
    static GUARDS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// While the guard lives, audit records made on this thread say they were made on
/// behalf of `consumer` (a service call runs the provider's code for the consumer).
pub(crate) fn on_behalf_of(consumer: Option<Arc<str>>) -> OnBehalfOf {
    GUARDS.with(|guards| guards.set(guards.get() + 1));
    OnBehalfOf(ON_BEHALF_OF.with(|cell| cell.replace(consumer)), PhantomData)
}

/// The consumer records made now on this thread are made for, if any.
#[inline(always)]
fn consumer() -> Option<Arc<str>> {
    if GUARDS.with(std::cell::Cell::get) == 0 {
        return None;
    }
    ON_BEHALF_OF.with(|cell| cell.borrow().clone())
}

/// Restores the previous "on behalf of" when dropped, on the thread that made it.
pub(crate) struct OnBehalfOf(Option<Arc<str>>, PhantomData<*const ()>);

impl Drop for OnBehalfOf {
    fn drop(&mut self) {
        let previous = self.0.take();
        ON_BEHALF_OF.with(|cell| *cell.borrow_mut() = previous);
        GUARDS.with(|guards| guards.set(guards.get() - 1));
    }
}

impl fmt::Display for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}: {}", self.plugin, self.action, self.decision, self.details)?;
        match &self.on_behalf_of {
            Some(consumer) => write!(f, " (on behalf of `{consumer}`)"),
            None => Ok(()),
        }
    }
}

/// Milliseconds since the Unix epoch, from the coarse real-time clock where there is
/// one: it is read without a system call or a hardware counter (a few nanoseconds,
/// against about 30 for `SystemTime::now`, which mattered at start-up, where 10,000
/// plugins make 40,000 records). It is exact to within a scheduler tick (1 to 4 ms).
#[cfg(target_os = "linux")]
fn now_ms() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_REALTIME_COARSE exists on every
    // Linux since 2.6.32.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) } == 0 {
        // In 64 bits: a 128-bit division is a library call.
        return now.tv_sec as u64 * 1000 + now.tv_nsec as u64 / 1_000_000;
    }
    precise_now_ms()
}

#[cfg(not(target_os = "linux"))]
fn now_ms() -> u64 {
    precise_now_ms()
}

/// Milliseconds since the Unix epoch: in 64 bits until the year 584,556,019.
fn precise_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The host's audit log.
#[derive(Debug)]
pub struct Audit {
    ring: Mutex<Ring>,
    capacity: usize,
    file: Option<Mutex<AuditFile>>,
}

/// How many records the ring buffer keeps by default.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The size at which the audit file is rotated by default: 64 MiB.
pub const DEFAULT_FILE_MAX_BYTES: u64 = 64 << 20;

/// The JSON-lines file and its rotation.
#[derive(Debug)]
struct AuditFile {
    path: PathBuf,
    /// `None` after a rotation failed to open the new file; the next record tries again.
    file: Option<File>,
    written: u64,
    max_bytes: u64,
    /// Writes that failed since the host last reported them, and the last error.
    failures: Option<(u64, String)>,
}

impl AuditFile {
    fn open(path: &Path, max_bytes: u64) -> std::io::Result<AuditFile> {
        let file = File::options().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(AuditFile {
            path: path.to_owned(),
            file: Some(file),
            written,
            max_bytes,
            failures: None,
        })
    }

    /// `<path>.1`, where the rotated file goes.
    fn rotated(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".1");
        PathBuf::from(name)
    }

    fn append(&mut self, line: &str) {
        let length = line.len() as u64 + 1;
        if self.written > 0 && self.written + length > self.max_bytes {
            self.file = None;
            if let Err(error) = std::fs::rename(&self.path, self.rotated()) {
                self.failed(format!("cannot rotate `{}`: {error}", self.path.display()));
            }
            self.written = 0;
        }
        if self.file.is_none() {
            match File::options().create(true).append(true).open(&self.path) {
                Ok(file) => {
                    self.written = file.metadata().map_or(0, |m| m.len());
                    self.file = Some(file);
                }
                Err(error) => return self.failed(format!("cannot open `{}`: {error}", self.path.display())),
            }
        }
        let file = self.file.as_mut().expect("opened above");
        match writeln!(file, "{line}") {
            Ok(()) => self.written += length,
            Err(error) => self.failed(format!("cannot write to `{}`: {error}", self.path.display())),
        }
    }

    fn failed(&mut self, error: String) {
        let count = self.failures.as_ref().map_or(0, |(count, _)| *count);
        self.failures = Some((count + 1, error));
    }
}

impl Audit {
    /// An audit log keeping the last `capacity` records in memory, and appending every
    /// record to `file` when given.
    pub fn new(capacity: usize, file: Option<&Path>) -> std::io::Result<Audit> {
        Audit::with_file_limit(capacity, file, DEFAULT_FILE_MAX_BYTES)
    }

    /// [`Audit::new`], rotating the file when the next line would take it past
    /// `max_bytes` (see the module's docs).
    pub fn with_file_limit(capacity: usize, file: Option<&Path>, max_bytes: u64) -> std::io::Result<Audit> {
        Audit::expecting(capacity, file, max_bytes, 1024)
    }

    /// [`Audit::with_file_limit`], with room in the ring for the first `expected`
    /// records (up to its capacity) from the start: a host about to start many plugins
    /// knows how many records that makes, and its ring need not grow (and copy itself)
    /// on the way.
    pub(crate) fn expecting(
        capacity: usize,
        file: Option<&Path>,
        max_bytes: u64,
        expected: usize,
    ) -> std::io::Result<Audit> {
        let file = match file {
            Some(path) => Some(Mutex::new(AuditFile::open(path, max_bytes)?)),
            None => None,
        };
        Ok(Audit {
            // Whole records are few at start-up (a plugin's permission checks), and room
            // for a thousand keeps a host that registers many things from growing it from
            // nothing.
            ring: Mutex::new(Ring::with_room(capacity.min(expected), capacity.min(1024))),
            capacity: capacity.max(1),
            file,
        })
    }

    /// Records one event in every sink.
    pub fn record(
        &self,
        plugin: &Arc<str>,
        action: impl Into<Cow<'static, str>>,
        decision: Decision,
        details: impl Into<Cow<'static, str>>,
    ) {
        let record = AuditRecord {
            timestamp_ms: u128::from(now_ms()),
            plugin: Arc::clone(plugin),
            action: action.into(),
            decision,
            details: details.into(),
            on_behalf_of: consumer(),
        };
        self.emit(&record);
        self.keep(record);
    }

    /// Names plugins for their slots, under one lock however many there are.
    pub(crate) fn naming(&self) -> Naming<'_> {
        Naming(lock(&self.ring))
    }

    /// `plugin`'s lifecycle transition `from -> to` (an allowed move), [`Named`] `name`:
    /// the record [`Audit::record`] makes of it, kept as an [`Entry`] unless it is made on
    /// a consumer's behalf.
    pub(crate) fn record_transition(&self, plugin: &Arc<str>, name: Named, from: State, to: State) {
        let timestamp_ms = now_ms();
        let on_behalf_of = consumer();
        if on_behalf_of.is_some() || self.has_sinks() {
            self.record_transition_slowly(plugin, timestamp_ms, (from, to), on_behalf_of);
            return;
        }
        let mut ring = lock(&self.ring);
        let evicted = ring.push(Entry::transition(timestamp_ms, name, from, to), self.capacity);
        drop(ring);
        free(evicted);
    }

    /// [`Audit::record_transition`] with a sink to send it to, or a consumer to name.
    #[cold]
    #[inline(never)]
    fn record_transition_slowly(
        &self,
        plugin: &Arc<str>,
        timestamp_ms: u64,
        (from, to): (State, State),
        on_behalf_of: Option<Arc<str>>,
    ) {
        let details = State::move_text(from, to).expect("transitions are allowed moves");
        let record = transition_record(timestamp_ms, plugin, details, on_behalf_of);
        self.emit(&record);
        self.keep(record);
    }

    /// Keeps `record` in the ring, dropping the oldest record when it is full.
    #[inline(always)]
    fn keep(&self, record: AuditRecord) {
        let mut ring = lock(&self.ring);
        // Freed after the lock is released: the ring's lock is held for a few moves, not
        // for the frees of an old record's strings, on a path every allowed permission
        // check of every thread takes.
        let evicted = ring.push_record(record, self.capacity);
        drop(ring);
        free(evicted);
    }

    /// Records the same lifecycle transitions for many plugins at once (at start-up,
    /// every plugin's `discovered -> validated -> resolved`) with one clock read and one
    /// lock: the same records as one [`Audit::record`] each, in the same order, at a
    /// fraction of the cost. With no tracing subscriber and no audit file, records the
    /// ring would drop before this call returns are not made at all.
    pub(crate) fn record_transitions<'p>(
        &self,
        plugins: impl ExactSizeIterator<Item = (&'p Arc<str>, Named)>,
        transitions: &[(State, State)],
    ) {
        let timestamp_ms = now_ms();
        let on_behalf_of = consumer();
        let quiet = !self.has_sinks();
        let total = plugins.len() * transitions.len();
        let unseen = if quiet { total.saturating_sub(self.capacity) } else { 0 };
        let mut ring = lock(&self.ring);
        if quiet && on_behalf_of.is_none() && ring.fits(total, self.capacity) {
            // Entries only, none evicted: what a start-up records, in a few stores each
            // (the loop below decides per entry whether it is a whole record: 60
            // instructions an entry, 120 a plugin).
            ring.extend_transitions(timestamp_ms, plugins.map(|(_, name)| name), transitions);
            return;
        }
        let records = plugins
            .flat_map(|plugin| transitions.iter().map(move |&details| (plugin, details)))
            .skip(unseen);
        for ((plugin, name), (from, to)) in records {
            let record = (!quiet || on_behalf_of.is_some()).then(|| {
                let details = State::move_text(from, to).expect("transitions are allowed moves");
                transition_record(timestamp_ms, plugin, details, on_behalf_of.clone())
            });
            if !quiet && let Some(record) = &record {
                self.emit_to_sinks(record);
            }
            match record {
                Some(record) if record.on_behalf_of.is_some() => ring.push_record(record, self.capacity),
                _ => ring.push(Entry::transition(timestamp_ms, name, from, to), self.capacity),
            };
        }
    }

    /// Sends a record to tracing and the file, when there is either (most hosts have
    /// neither: the test is inlined into every record, the work is not).
    #[inline]
    fn emit(&self, record: &AuditRecord) {
        if self.has_sinks() {
            self.emit_to_sinks(record);
        }
    }

    /// Whether a record goes anywhere but the ring: a tracing subscriber or the file.
    #[inline(always)]
    fn has_sinks(&self) -> bool {
        self.file.is_some() || tracing::dispatcher::has_been_set()
    }

    #[cold]
    #[inline(never)]
    fn emit_to_sinks(&self, record: &AuditRecord) {
        if tracing::dispatcher::has_been_set() {
            let (plugin, action, details, decision) =
                (&*record.plugin, &*record.action, &*record.details, record.decision);
            match decision {
                Decision::Denied | Decision::Failed | Decision::Notice => {
                    tracing::warn!(target: "patchpanel::audit", plugin, action, %decision, details)
                }
                _ => tracing::info!(target: "patchpanel::audit", plugin, action, %decision, details),
            }
        }
        if let Some(file) = &self.file {
            // A failing audit file must not take the host down: the failure is counted
            // and reported as an incident, and the ring buffer and tracing still hold
            // the record.
            if let Ok(line) = serde_json::to_string(record) {
                lock(file).append(&line);
            }
        }
    }

    /// The writes to the audit file that failed since the last call, and the last
    /// error, if any failed.
    pub(crate) fn take_write_failures(&self) -> Option<(u64, String)> {
        self.file.as_ref().and_then(|file| lock(file).failures.take())
    }

    /// Every record still in the ring buffer, oldest first.
    pub fn records(&self) -> Vec<AuditRecord> {
        let ring = lock(&self.ring);
        ring.iter().map(|seen| seen.to_record()).collect()
    }

    /// The records about `plugin`, oldest first.
    pub fn records_for(&self, plugin: &str) -> Vec<AuditRecord> {
        let ring = lock(&self.ring);
        ring.iter()
            .filter(|seen| seen.plugin() == plugin)
            .map(|seen| seen.to_record())
            .collect()
    }
}

impl Default for Audit {
    fn default() -> Audit {
        Audit::new(DEFAULT_CAPACITY, None).expect("no file to open")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(audit: &Audit) -> Vec<(String, String)> {
        audit
            .records()
            .into_iter()
            .map(|record| (record.plugin.to_string(), record.details.into_owned()))
            .collect()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|&(p, d)| (p.to_owned(), d.to_owned())).collect()
    }

    /// Names `plugins` and records their `discovered -> validated -> resolved` in one
    /// batch, as a start-up does.
    fn record_resolved(audit: &Audit, plugins: &[&Arc<str>]) {
        let mut naming = audit.naming();
        let named: Vec<_> = plugins.iter().map(|&plugin| (plugin, naming.name(plugin))).collect();
        drop(naming);
        audit.record_transitions(
            named.into_iter(),
            &[
                (State::Discovered, State::Validated),
                (State::Validated, State::Resolved),
            ],
        );
    }

    #[test]
    fn a_full_ring_drops_its_oldest_records_one_at_a_time_and_in_a_batch() {
        let audit = Audit::new(3, None).unwrap();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        for n in 0..5 {
            audit.record(&a, "test", Decision::Allowed, format!("r{n}"));
        }
        assert_eq!(details(&audit), owned(&[("a", "r2"), ("a", "r3"), ("a", "r4")]));
        record_resolved(&audit, &[&a, &b]);
        let (t1, t2) = ("discovered -> validated", "validated -> resolved");
        assert_eq!(details(&audit), owned(&[("a", t2), ("b", t1), ("b", t2)]));
        audit.record(&b, "test", Decision::Denied, "last");
        assert_eq!(details(&audit), owned(&[("b", t1), ("b", t2), ("b", "last")]));
    }

    /// A batch that fits in the ring (here exactly: it fills it) is kept after what came
    /// before it, plugin by plugin and move by move, and the next record evicts the
    /// oldest as any would.
    #[test]
    fn a_batch_that_fits_is_kept_in_order_and_the_next_record_evicts_the_oldest() {
        let audit = Audit::new(5, None).unwrap();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        audit.record(&a, "test", Decision::Allowed, "before");
        record_resolved(&audit, &[&a, &b]);
        let (t1, t2) = ("discovered -> validated", "validated -> resolved");
        assert_eq!(
            details(&audit),
            owned(&[("a", "before"), ("a", t1), ("a", t2), ("b", t1), ("b", t2)])
        );
        audit.record(&b, "test", Decision::Denied, "after");
        assert_eq!(
            details(&audit),
            owned(&[("a", t1), ("a", t2), ("b", t1), ("b", t2), ("b", "after")])
        );
    }

    /// A kept entry is twelve bytes, so the default ring's entries take 48 KiB.
    #[test]
    fn a_kept_entry_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 12);
        assert!(DEFAULT_CAPACITY * std::mem::size_of::<Entry>() < 64 << 10);
    }

    /// Transitions and whole records kept in turn come back in the order they were
    /// made, through evictions of either kind; one made on a consumer's behalf is kept
    /// whole and names the consumer.
    #[test]
    fn transitions_and_records_keep_their_order_through_evictions() {
        let audit = Audit::new(4, None).unwrap();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let mut naming = audit.naming();
        let (name_a, name_b) = (naming.name(&a), naming.name(&b));
        drop(naming);
        for n in 0..3 {
            audit.record_transition(&a, name_a, State::Active, State::Disabled);
            audit.record(&b, "test", Decision::Allowed, format!("r{n}"));
        }
        {
            let _consumer = on_behalf_of(Some(Arc::from("c")));
            audit.record_transition(&b, name_b, State::Disabled, State::Active);
        }
        let records = audit.records();
        let seen: Vec<(&str, &str, Option<&str>)> = records
            .iter()
            .map(|record| (&*record.plugin, &*record.details, record.on_behalf_of.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("b", "r1", None),
                ("a", "active -> disabled", None),
                ("b", "r2", None),
                ("b", "disabled -> active", Some("c"))
            ]
        );
        assert_eq!(records[3].decision, Decision::Transition);
        assert_eq!(records[3].action, "lifecycle");
        assert_eq!(audit.records_for("a").len(), 1);
        assert_eq!(audit.records_for("b").len(), 3);
    }
}
