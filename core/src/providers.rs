//! Services (providers): a plugin provides an `Arc<dyn Trait>` by type; others look it
//! up by type.
//!
//! When several plugins provide the same service, the highest rank wins, as in OSGi;
//! ties go to the smaller plugin id. Providers of disabled or failed plugins are skipped.

use std::any::{Any, TypeId, type_name};
use std::sync::Arc;

use crate::dispatch::RawCall;
use crate::lifecycle::State;

/// No active plugin provides the requested service.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no active plugin provides service `{service}`{}; add a plugin that calls `context.provide::<{service}>(...)` and declare it as a dependency", requested_by.as_ref().map(|p| format!(" (requested by plugin `{p}`)")).unwrap_or_default())]
pub struct ServiceError {
    /// The service type.
    pub service: &'static str,
    /// The plugin that asked, if a plugin asked.
    pub requested_by: Option<String>,
}

/// A service as registered.
pub(crate) struct ProviderRegistration {
    pub(crate) service: TypeId,
    pub(crate) owner_id: String,
    pub(crate) rank: i32,
    /// An `Arc<T>`.
    pub(crate) value: Arc<dyn Any + Send + Sync>,
}

impl ProviderRegistration {
    pub(crate) fn new<T: ?Sized + Send + Sync + 'static>(
        owner_id: &str,
        rank: i32,
        service: Arc<T>,
    ) -> ProviderRegistration {
        ProviderRegistration {
            service: TypeId::of::<T>(),
            owner_id: owner_id.to_owned(),
            rank,
            value: Arc::new(service),
        }
    }
}

/// A service in the frozen tables.
pub(crate) struct ProviderEntry {
    pub(crate) owner: usize,
    pub(crate) owner_id: String,
    pub(crate) rank: i32,
    pub(crate) value: Arc<dyn Any + Send + Sync>,
}

/// Sorts providers best first: highest rank, then smallest plugin id.
pub(crate) fn rank(providers: &mut [ProviderEntry]) {
    providers.sort_by(|a, b| b.rank.cmp(&a.rank).then_with(|| a.owner_id.cmp(&b.owner_id)));
}

/// The best active provider of `T`.
pub(crate) fn service<T: ?Sized + 'static>(call: &RawCall<'_>) -> Result<Arc<T>, ServiceError> {
    call.tables()
        .providers
        .get(&TypeId::of::<T>())
        .into_iter()
        .flatten()
        .find(|provider| call.host.state_at(provider.owner) == State::Active)
        .and_then(|provider| provider.value.downcast_ref::<Arc<T>>())
        .cloned()
        .ok_or_else(|| missing::<T>(call.caller().map(str::to_owned)))
}

/// Every active provider of `T`, best first.
pub(crate) fn services<T: ?Sized + 'static>(call: &RawCall<'_>) -> Vec<(String, Arc<T>)> {
    call.tables()
        .providers
        .get(&TypeId::of::<T>())
        .into_iter()
        .flatten()
        .filter(|provider| call.host.state_at(provider.owner) == State::Active)
        .filter_map(|provider| {
            Some((
                provider.owner_id.clone(),
                provider.value.downcast_ref::<Arc<T>>()?.clone(),
            ))
        })
        .collect()
}

/// Picks the best of `candidates` (rank, owner id, value) during activation, before the
/// tables exist.
pub(crate) fn best_of<T: ?Sized + 'static>(
    candidates: impl Iterator<Item = (i32, String, Arc<dyn Any + Send + Sync>)>,
    requested_by: &str,
) -> Result<Arc<T>, ServiceError> {
    candidates
        .filter_map(|(rank, owner, value)| Some((rank, owner, value.downcast_ref::<Arc<T>>()?.clone())))
        .min_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, _, service)| service)
        .ok_or_else(|| missing::<T>(Some(requested_by.to_owned())))
}

#[cold]
fn missing<T: ?Sized>(requested_by: Option<String>) -> ServiceError {
    ServiceError {
        service: type_name::<T>(),
        requested_by,
    }
}
