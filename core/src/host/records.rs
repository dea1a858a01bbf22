//! What the registry file's records change in a host as it starts: notices for changed
//! versions and for plugins not running here, the state saved for a plugin, and the
//! statuses the operator left.

use super::persist::{self, OperatorStatus};
use super::{Host, Registry, RegistryNotice};
use crate::SavedState;
use crate::lifecycle::State;
use crate::support::lock;

impl Host {
    /// Takes in the registry file's records: notices for changed versions and plugins
    /// not running here, and the records to keep for those.
    pub(super) fn adopt_records(&mut self, records: persist::RegistryState) {
        let Some(registry) = self.registry.as_mut() else {
            return;
        };
        let mut notices = Vec::new();
        let (mut not_running, mut examples) = (0, Vec::new());
        for (id, record) in records.plugins {
            match self.core.runtime.position_of(&id) {
                Some(position) => {
                    let running = self.core.slots[position].spec.manifest().version.to_string();
                    if running != record.version {
                        notices.push(RegistryNotice::VersionChanged {
                            plugin: id.clone(),
                            recorded: record.version.clone(),
                            running,
                        });
                    }
                    registry.recorded.plugins.insert(id, record);
                }
                None => {
                    // Kept for when the plugin comes back, up to the bound (in id order).
                    not_running += 1;
                    if examples.len() < 3 {
                        examples.push(id.clone());
                    }
                    if not_running <= persist::MAX_NOT_RUNNING {
                        registry.recorded.plugins.insert(id, record);
                    }
                }
            }
        }
        if not_running > 0 {
            notices.push(RegistryNotice::NotRunning {
                count: not_running,
                examples,
                dropped: not_running.saturating_sub(persist::MAX_NOT_RUNNING),
            });
        }
        lock(&registry.notices).extend(notices);
    }

    /// The state the registry file saved for the plugin at `position`, if its version
    /// is unchanged and state persistence is on.
    #[inline]
    pub(super) fn recorded_state(&self, position: usize) -> Option<SavedState> {
        let registry = self.registry.as_ref().filter(|registry| registry.persist_state)?;
        self.recorded_state_in(registry, position)
    }

    /// [`Host::recorded_state`] when the registry file keeps states.
    #[inline(never)]
    fn recorded_state_in(&self, registry: &Registry, position: usize) -> Option<SavedState> {
        let record = registry.recorded.plugins.get(self.core.runtime.plugin_id(position))?;
        let version = self.core.slots[position].spec.manifest().version.to_string();
        (record.version == version)
            .then(|| record.state.clone().map(SavedState::from_json))
            .flatten()
    }

    /// Disables the plugins the operator left disabled, dependents first.
    pub(super) fn apply_recorded_statuses(&self) {
        let Some(registry) = self.registry.as_ref() else {
            return;
        };
        for position in (0..self.core.slots.len()).rev() {
            let Some(record) = registry.recorded.plugins.get(self.core.runtime.plugin_id(position)) else {
                continue;
            };
            if record.status != OperatorStatus::Disabled {
                continue;
            }
            let slot = self.core.runtime.plugin(position);
            if slot.state() == State::Active {
                slot.transition(State::Disabled)
                    .expect("an active plugin can be disabled");
                *lock(&self.core.slots[position].disabled_with) = record
                    .disabled_with
                    .as_deref()
                    .and_then(|id| self.core.runtime.position_of(id));
            }
        }
    }
}
