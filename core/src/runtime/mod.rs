//! The runtime: what dispatch reads while any number of threads call into plugins.
//!
//! It holds the per-plugin [`PluginSlot`]s (state and instance generation, one atomic
//! word each), the current [`Tables`] (swapped whole when a reload rewires a plugin,
//! and freed only after a grace period), and the shared services a call may need:
//! storage, permissions, incidents. Nothing here knows the host; the host drives the
//! runtime through the lifecycle, and calls reach it through [`Call`].
//!
//! Each feature (commands, events, hooks, services, messaging) is one module that owns
//! its registration and table entry types, its dispatch methods (one `impl` block on
//! [`Call`]) and its errors.

pub(crate) mod barrier;
pub(crate) mod call;
pub(crate) mod commands;
pub(crate) mod deferred;
pub(crate) mod events;
pub(crate) mod gate;
pub(crate) mod hooks;
pub(crate) mod inflight;
pub(crate) mod inline_future;
pub(crate) mod messaging;
pub(crate) mod quiescence;
pub(crate) mod services;
pub(crate) mod slot;
pub(crate) mod tables;
pub(crate) mod type_index;
pub(crate) mod wake;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

pub(crate) use call::RawCall;
pub use call::{AsyncCall, Call, Incident};
pub(crate) use quiescence::Inside;
pub(crate) use slot::{PluginSlot, Refused};
pub(crate) use tables::{Observe, Tables};

use crate::audit::{Audit, Decision};
use crate::manifest::Manifest;
use crate::permissions::PermissionDenied;
use crate::storage::{Storage, StorageShared};
use crate::support::{FxHashMap, lock};

/// How many incidents the runtime keeps; older ones are dropped first.
const INCIDENT_CAPACITY: usize = 256;

/// The live state dispatch reads.
pub(crate) struct Runtime {
    /// One slot per plugin, in activation order; positions index it.
    pub(crate) plugins: Box<[PluginSlot]>,
    /// Positions by id, built at the first lookup: start-up itself looks none up, and
    /// at 10,000 plugins building it costs a tenth of a lazy start-up.
    index: std::sync::OnceLock<FxHashMap<Arc<str>, usize>>,
    /// The current tables, from `Arc::into_raw`. The runtime owns one strong count.
    tables: AtomicPtr<Tables>,
    /// Bumped at every swap, so that a resolved channel or hook knows it is stale.
    generation: AtomicU64,
    incidents: Mutex<VecDeque<Incident>>,
    pub(crate) storage: Arc<StorageShared>,
    pub(crate) audit: Arc<Audit>,
    pub(crate) observe: Observe,
    /// This runtime, for handles that must outlive a borrow (services).
    this: Weak<Runtime>,
    /// How to wake a lazy plugin; set by the host once built.
    activator: std::sync::OnceLock<wake::Activator>,
    /// Tables replaced by a lazy activation, which cannot wait for a grace period.
    retired: Mutex<Vec<Arc<Tables>>>,
    /// The dispatch gate: armed while every plugin with a subscription or a middleware
    /// layer is active.
    pub(crate) gate: Arc<gate::Gate>,
    /// `gate`'s address, read in one load by a publish (through the `Arc` it is a load
    /// and an add). Never changes; atomic only to keep the runtime `Sync`.
    gate_at: AtomicPtr<gate::Gate>,
}

impl Runtime {
    /// A runtime with no plugins, in-memory storage and nothing observed, for the
    /// runtime's own unit tests.
    #[cfg(test)]
    pub(crate) fn empty_for_tests() -> Arc<Runtime> {
        let audit = Arc::new(Audit::default());
        let storage = Arc::new(crate::storage::StorageShared {
            backend: Arc::new(crate::storage::MemoryStorage::default()),
            permissions: Arc::new(crate::permissions::PermissionChecker::new(None, Arc::clone(&audit))),
            tenant: Arc::from(crate::storage::DEFAULT_TENANT),
        });
        Runtime::new(std::iter::empty(), storage, audit, Observe::default())
    }

    pub(crate) fn new(
        manifests: impl IntoIterator<Item = (Arc<Manifest>, Arc<str>)>,
        storage: Arc<StorageShared>,
        audit: Arc<Audit>,
        observe: Observe,
    ) -> Arc<Runtime> {
        barrier::register();
        let gate = Arc::new(gate::Gate::default());
        let manifests = manifests.into_iter();
        let mut naming = audit.naming();
        naming.reserve(manifests.size_hint().0);
        let plugins: Box<[PluginSlot]> = manifests
            .map(|(manifest, id)| {
                let name = naming.name(&id);
                PluginSlot::new(manifest, id, name, Arc::clone(&audit), Arc::clone(&gate))
            })
            .collect();
        drop(naming);
        let tables = Arc::into_raw(Arc::new(Tables::empty(observe))).cast_mut();
        Arc::new_cyclic(|this| Runtime {
            plugins,
            index: std::sync::OnceLock::new(),
            tables: AtomicPtr::new(tables),
            generation: AtomicU64::new(0),
            incidents: Mutex::new(VecDeque::new()),
            storage,
            audit,
            observe,
            this: this.clone(),
            activator: std::sync::OnceLock::new(),
            retired: Mutex::new(Vec::new()),
            gate_at: AtomicPtr::new(Arc::as_ptr(&gate).cast_mut()),
            gate,
        })
    }

    /// The dispatch gate, in one load.
    #[inline(always)]
    pub(crate) fn gate(&self) -> &gate::Gate {
        // SAFETY: `gate_at` is `Arc::as_ptr(&self.gate)`, which lives as long as `self`.
        unsafe { &*self.gate_at.load(Ordering::Relaxed) }
    }

    /// Audits a failure of plugin `position`'s code that was returned to the caller (a
    /// command handler's error, a service provider's panic): `site` names the boundary.
    #[cold]
    pub(crate) fn audit_failure(&self, position: usize, site: String, message: String) {
        self.audit
            .record(&self.plugins[position].id, site, Decision::Failed, message);
    }

    /// The current tables, for as long as the caller stays inside its call.
    #[inline(always)]
    pub(crate) fn tables<'g>(&'g self, _inside: &'g Inside) -> &'g Tables {
        // SAFETY: the pointer came from `Arc::into_raw` and the runtime holds its count;
        // a swap frees the old tables only after a grace period, which waits for every
        // call that was inside (as `_inside` proves this one is) when it began.
        unsafe { &*self.tables.load(Ordering::Acquire) }
    }

    /// A counted reference to the current tables, for handles kept across calls.
    pub(crate) fn tables_arc(&self) -> Arc<Tables> {
        let _inside = quiescence::enter(quiescence::SECTION).expect("a fresh section is never too deep");
        let raw = self.tables.load(Ordering::Acquire);
        // SAFETY: as in `tables`; the count taken here keeps them alive after the call.
        unsafe {
            Arc::increment_strong_count(raw);
            Arc::from_raw(raw)
        }
    }

    /// The tables' generation now; a handle holding older tables takes its slow path.
    #[inline(always)]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Installs new tables and returns the old ones, which calls may still be reading:
    /// the caller runs a grace period ([`quiescence::synchronize`]) before dropping them,
    /// or keeps them until one has run.
    pub(crate) fn swap_tables(&self, mut tables: Tables) -> Arc<Tables> {
        for &position in &tables.gated {
            self.plugins[position].mark_gated();
        }
        tables.generation = self.generation.load(Ordering::Relaxed) + 1;
        let tables = Arc::new(tables);
        let new: *const Tables = Arc::into_raw(tables);
        let old = self.tables.swap(new.cast_mut(), Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
        // After the generation: a channel that reads the gate's word and then this
        // generation unchanged knows the word predates the swap (see `gate`).
        self.gate.disarm();
        // SAFETY: `old` came from `Arc::into_raw`; its count passes to the caller.
        let old = unsafe { Arc::from_raw(old) };
        // SAFETY: the runtime holds `new`'s count, and only a swap (which the caller's
        // rebuild lock excludes) could release it.
        commands::supersede(&old, unsafe { &*new }, &self.plugins);
        self.rearm();
        old
    }

    /// Arms the dispatch gate if every gated plugin is active (see [`gate`]).
    pub(crate) fn rearm(&self) {
        self.gate
            .try_arm(|| self.plugins.iter().all(|slot| !slot.gated() || slot.is_active()));
    }

    /// Moves every new slot through `discovered -> validated -> resolved`, auditing the
    /// transitions in one batch (at 10,000 plugins, one record at a time cost a fifth of
    /// the start-up).
    pub(crate) fn resolve_all(&self) {
        for slot in self.plugins.iter() {
            slot.resolve_at_startup();
        }
        use crate::lifecycle::State;
        let moves = [
            (State::Discovered, State::Validated),
            (State::Validated, State::Resolved),
        ];
        self.audit
            .record_transitions(self.plugins.iter().map(|slot| (&slot.id, slot.audit_name)), &moves);
    }

    /// This runtime, counted, for handles that outlive the borrow they came from.
    pub(crate) fn shared(&self) -> Arc<Runtime> {
        self.this.upgrade().expect("a runtime in use is alive")
    }

    #[inline(always)]
    pub(crate) fn plugin(&self, position: usize) -> &PluginSlot {
        &self.plugins[position]
    }

    pub(crate) fn plugin_id(&self, position: usize) -> &str {
        &self.plugins[position].id
    }

    pub(crate) fn position_of(&self, id: &str) -> Option<usize> {
        self.index
            .get_or_init(|| {
                self.plugins
                    .iter()
                    .enumerate()
                    .map(|(position, slot)| (Arc::clone(&slot.id), position))
                    .collect()
            })
            .get(id)
            .copied()
    }

    pub(crate) fn ids(&self) -> Vec<&str> {
        self.plugins.iter().map(|slot| &*slot.id).collect()
    }

    /// The most recent contained failures, oldest first. Failed writes to the audit
    /// file are reported here too, as one incident per call that finds new ones.
    pub(crate) fn incidents(&self) -> Vec<Incident> {
        if let Some((count, last)) = self.audit.take_write_failures() {
            // Not audited: the record would go to the file that is failing, and its
            // failure would make the next incident.
            self.keep_incident(Incident {
                plugin: "host".to_owned(),
                site: "audit file".to_owned(),
                message: format!("{count} audit record(s) were not written; the last error: {last}"),
            });
        }
        lock(&self.incidents).iter().cloned().collect()
    }

    /// Keeps a contained failure (one no caller was told of) and audits it.
    pub(crate) fn record_incident(&self, incident: Incident) {
        let plugin = self.position_of(&incident.plugin).map_or_else(
            || Arc::from(incident.plugin.as_str()),
            |position| Arc::clone(&self.plugins[position].id),
        );
        self.audit.record(
            &plugin,
            incident.site.clone(),
            Decision::Failed,
            incident.message.clone(),
        );
        self.keep_incident(incident);
    }

    fn keep_incident(&self, incident: Incident) {
        let mut incidents = lock(&self.incidents);
        if incidents.len() == INCIDENT_CAPACITY {
            incidents.pop_front();
        }
        incidents.push_back(incident);
    }

    pub(crate) fn storage_for<P>(&self, position: usize) -> Storage<P> {
        let slot = &self.plugins[position];
        Storage::new(
            Arc::clone(&self.storage),
            Arc::clone(&slot.manifest),
            Arc::clone(&slot.id),
        )
    }

    /// Checks `resource.action` of plugin `position` on plugin `target`.
    pub(crate) fn check_permission(
        &self,
        position: usize,
        resource: &str,
        action: &str,
        target: usize,
    ) -> Result<(), Box<PermissionDenied>> {
        self.check_permission_on(position, resource, action, self.plugin_id(target))
    }

    /// [`Runtime::check_permission`] on a target named by text rather than by a
    /// plugin's position: a middleware pattern that reaches past the plugin's own
    /// commands (`*`, `other:*`).
    pub(crate) fn check_permission_on(
        &self,
        position: usize,
        resource: &str,
        action: &str,
        target: &str,
    ) -> Result<(), Box<PermissionDenied>> {
        self.storage.permissions.check(
            &self.plugins[position].id,
            &self.plugins[position].manifest,
            resource,
            action,
            target,
        )
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // SAFETY: the runtime owns this count, and no call can be inside a runtime that is
        // being dropped: calls borrow it.
        drop(unsafe { Arc::from_raw(self.tables.load(Ordering::Acquire)) });
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("plugins", &self.plugins)
            .finish_non_exhaustive()
    }
}
