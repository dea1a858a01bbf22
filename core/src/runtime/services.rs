//! Services: a plugin provides an `Arc<dyn Trait>` by type; others reach it through a
//! [`Service`] handle that follows the provider.
//!
//! A handle does not hold the provider's `Arc`: every call finds the highest-ranked
//! *active* provider at that moment (ties go to the smaller plugin id, as in OSGi),
//! enters it like any other call into a plugin, and runs the caller's closure on it. So
//! after the provider is disabled a call fails with a typed error (or reaches the next
//! provider), after a reload it reaches the new instance, and once the host is gone it
//! fails cleanly.

use std::any::{Any, TypeId, type_name};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::deferred::Deferred;
use super::inflight::Site;
use super::quiescence::{self, SECTION};
use super::{Call, Runtime};
use crate::permissions::ServicesConsume;
use crate::support::panic_message;

/// A service call could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No active plugin provides the service now.
    #[error("no active plugin provides service `{service}`{}; add a plugin that calls `context.provide::<{service}>(...)` and declare it as a dependency", requested_by.as_ref().map(|p| format!(" (requested by plugin `{p}`)")).unwrap_or_default())]
    NoProvider {
        /// The service type.
        service: &'static str,
        /// The plugin that asked, if a plugin asked.
        requested_by: Option<String>,
    },
    /// The provider panicked inside the call; the panic was caught and is blamed on it.
    #[error("service `{service}` panicked in its provider, plugin `{provider}`: {message}")]
    Panicked {
        /// The service type.
        service: &'static str,
        /// The id of the plugin that provided it.
        provider: String,
        /// The panic message.
        message: String,
    },
    /// The lazy plugin that provides the service could not activate on this first
    /// lookup; it is failed, with the same reason.
    #[error("service `{service}` was not looked up: its provider, plugin `{provider}`, could not activate: {failure}")]
    ProviderFailed {
        /// The service type.
        service: &'static str,
        /// The id of the lazy plugin that provides it.
        provider: String,
        /// Why it could not activate.
        failure: String,
    },
    /// The consuming plugin's manifest does not declare `services.consume`.
    #[error(transparent)]
    Denied(Box<crate::permissions::PermissionDenied>),
    /// Calls nest deeper than the runtime allows on this thread.
    #[error("service `{service}` was not called: calls nest too deeply on this thread")]
    TooDeep {
        /// The service type.
        service: &'static str,
    },
}

/// A service as registered.
pub(crate) struct ProviderRegistration {
    pub(crate) service: TypeId,
    /// `type_name::<T>()`, compared with the manifest's `contributes.services`.
    pub(crate) service_name: &'static str,
    pub(crate) rank: i32,
    /// An `Arc<T>`.
    pub(crate) value: Arc<dyn Any + Send + Sync>,
}

impl ProviderRegistration {
    pub(crate) fn new<T: ?Sized + Send + Sync + 'static>(rank: i32, service: Arc<T>) -> ProviderRegistration {
        ProviderRegistration {
            service: TypeId::of::<T>(),
            service_name: type_name::<T>(),
            rank,
            value: Arc::new(service),
        }
    }
}

/// A service in the frozen tables.
pub(crate) struct ProviderEntry {
    pub(crate) owner: usize,
    pub(crate) owner_id: Arc<str>,
    pub(crate) rank: i32,
    pub(crate) value: Arc<dyn Any + Send + Sync>,
    /// The providing instance's async calls in flight, which `with_async` joins.
    pub(crate) inflight: Option<super::inflight::Anchor>,
}

/// Sorts providers best first: highest rank, then smallest plugin id.
pub(crate) fn rank(providers: &mut [ProviderEntry]) {
    providers.sort_by(|a, b| b.rank.cmp(&a.rank).then_with(|| a.owner_id.cmp(&b.owner_id)));
}

/// A service of type `T` (usually `dyn Trait`), reached through whichever plugin
/// provides it best at the time of each call.
///
/// ```
/// use std::sync::Arc;
/// use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, services::ServiceError};
///
/// pub trait Clock: Send + Sync {
///     fn now(&self) -> u64;
/// }
/// struct Fixed(u64);
/// impl Clock for Fixed {
///     fn now(&self) -> u64 { self.0 }
/// }
///
/// #[patchpanel::register_plugin(id = "clock", version = "1.0.0", permissions = { services = ["provide"] })]
/// #[derive(Default)]
/// struct ClockPlugin;
///
/// impl Plugin for ClockPlugin {
///     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
///         context.provide::<dyn Clock>(Arc::new(Fixed(42)));
///         Ok(())
///     }
/// }
///
/// let host = Host::builder()
///     .plugins(vec![PluginSpec::registered::<ClockPlugin>()?])
///     .build()?;
/// let clock = host.service::<dyn Clock>()?;
/// assert_eq!(clock.with(|clock| clock.now())?, 42);
/// host.disable("clock")?;
/// assert!(matches!(clock.with(|clock| clock.now()), Err(ServiceError::NoProvider { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Guide: [talking between plugins](crate::guide::talking).
pub struct Service<T: ?Sized> {
    runtime: Arc<Runtime>,
    requested_by: Option<Arc<str>>,
    _service: PhantomData<fn() -> Arc<T>>,
}

impl<T: ?Sized> Clone for Service<T> {
    fn clone(&self) -> Self {
        Service {
            runtime: Arc::clone(&self.runtime),
            requested_by: self.requested_by.clone(),
            _service: PhantomData,
        }
    }
}

impl<T: ?Sized> std::fmt::Debug for Service<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("service", &type_name::<T>())
            .field("requested_by", &self.requested_by)
            .finish()
    }
}

impl<T: ?Sized + 'static> Service<T> {
    pub(crate) fn new(runtime: Arc<Runtime>, requested_by: Option<Arc<str>>) -> Service<T> {
        Service {
            runtime,
            requested_by,
            _service: PhantomData,
        }
    }

    /// Runs `f` on the best active provider, inside that provider's plugin: disabling
    /// or reloading it waits for `f` to return. A panic in `f` is caught and blamed on
    /// the provider.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Result<R, ServiceError> {
        self.with_first(|_| true, f)
    }

    /// Runs `f` on the service as plugin `provider` provides it, when that plugin is
    /// active and provides it: for a consumer that serves every provider in turn (a
    /// server mounting each plugin's routes under its id), rather than the best one.
    pub fn with_provider<R>(&self, provider: &str, f: impl FnOnce(&T) -> R) -> Result<R, ServiceError> {
        self.with_first(|owner_id| owner_id == provider, f)
    }

    /// Runs `f` on the best active provider and returns the future it makes, for a
    /// service whose methods are async (return futures): the future is counted as a
    /// call in flight in the provider until it completes or is dropped, so disabling the
    /// provider waits for it and a reload lets it finish on the old instance, as for an
    /// async command. A panic while it is polled is caught and blamed on the provider.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use patchpanel::{commands::BoxFuture, Context, Plugin, PluginError, services::Service};
    ///
    /// pub trait Lookup: Send + Sync {
    ///     fn find(&self, key: String) -> BoxFuture<'static, Option<String>>;
    /// }
    ///
    /// struct Directory;
    /// impl Lookup for Directory {
    ///     fn find(&self, key: String) -> BoxFuture<'static, Option<String>> {
    ///         Box::pin(async move { (key == "ada").then(|| "Lovelace".to_owned()) })
    ///     }
    /// }
    ///
    /// #[patchpanel::register_plugin(id = "directory", version = "1.0.0", permissions = { services = ["provide"] })]
    /// #[derive(Default)]
    /// struct Provider;
    /// impl Plugin for Provider {
    ///     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
    ///         context.provide::<dyn Lookup>(Arc::new(Directory));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let host = patchpanel::Host::builder()
    ///     .plugins(vec![patchpanel::PluginSpec::registered::<Provider>()?])
    ///     .build()?;
    /// let lookup: Service<dyn Lookup> = host.service()?;
    /// // The provider's future runs here, counted in flight in plugin `directory`.
    /// let found = patchpanel::blocking::block_on(lookup.with_async(|lookup| lookup.find("ada".to_owned())));
    /// assert_eq!(found?, Some("Lovelace".to_owned()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_async<R, Fut>(&self, f: impl FnOnce(&T) -> Fut) -> Deferred<Result<R, ServiceError>>
    where
        R: Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        self.with_first_async(|_| true, f)
    }

    /// [`Service::with_async`] on the service as plugin `provider` provides it (see
    /// [`Service::with_provider`]): a server serving each plugin's contributed routes
    /// runs a request's future this way, so that a reload of that plugin lets the
    /// request finish on the instance that started it.
    pub fn with_provider_async<R, Fut>(
        &self,
        provider: &str,
        f: impl FnOnce(&T) -> Fut,
    ) -> Deferred<Result<R, ServiceError>>
    where
        R: Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        self.with_first_async(|owner_id| owner_id == provider, f)
    }

    fn with_first_async<R, Fut>(
        &self,
        wanted: impl Fn(&str) -> bool,
        f: impl FnOnce(&T) -> Fut,
    ) -> Deferred<Result<R, ServiceError>>
    where
        R: Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let started = self.with_first_provider(wanted, |provider, service| {
            let Some(anchor) = &provider.inflight else {
                unreachable!("a provider's registrations count its async calls")
            };
            // Counted in before the provider's code runs.
            let ticket = anchor.arrive();
            let future = f(service);
            Deferred::start(
                ticket,
                Site::Service(type_name::<T>()),
                |ticket, message| {
                    Err(ServiceError::Panicked {
                        service: type_name::<T>(),
                        provider: ticket.plugin_id().to_owned(),
                        message,
                    })
                },
                async move { Ok(future.await) },
            )
        });
        started.unwrap_or_else(|error| Deferred::ready(Err(error)))
    }

    /// Runs `f` on the first active provider, best first, whose id `wanted` accepts.
    fn with_first<R>(&self, wanted: impl Fn(&str) -> bool, f: impl FnOnce(&T) -> R) -> Result<R, ServiceError> {
        self.with_first_provider(wanted, |_, service| f(service))
    }

    /// [`Service::with_first`], with the provider's table entry.
    fn with_first_provider<R>(
        &self,
        wanted: impl Fn(&str) -> bool,
        f: impl FnOnce(&ProviderEntry, &T) -> R,
    ) -> Result<R, ServiceError> {
        let inside = quiescence::enter(SECTION).map_err(|_| ServiceError::TooDeep {
            service: type_name::<T>(),
        })?;
        let tables = self.runtime.tables(&inside);
        let providers = tables.providers.get(TypeId::of::<T>()).map_or(&[][..], Vec::as_slice);
        for provider in providers.iter().filter(|provider| wanted(&provider.owner_id)) {
            let slot = self.runtime.plugin(provider.owner);
            inside.retarget(slot.key());
            if !slot.is_active() {
                continue;
            }
            let service = provider
                .value
                .downcast_ref::<Arc<T>>()
                .expect("providers are keyed by their own type");
            // The provider's code runs with the provider's rights, for the consumer:
            // audit records made meanwhile say on whose behalf.
            let _behalf = crate::audit::on_behalf_of(self.requested_by.clone());
            let result = catch_unwind(AssertUnwindSafe(|| f(provider, service))).map_err(|payload| {
                let message = panic_message(payload.as_ref());
                self.runtime.audit_failure(
                    provider.owner,
                    format!("service {}", type_name::<T>()),
                    format!("panicked: {message}"),
                );
                ServiceError::Panicked {
                    service: type_name::<T>(),
                    provider: provider.owner_id.to_string(),
                    message,
                }
            });
            drop(inside);
            return result;
        }
        Err(self.missing())
    }

    /// The id of the plugin that would answer a call made now.
    pub fn provider(&self) -> Result<String, ServiceError> {
        let Ok(inside) = quiescence::enter(SECTION) else {
            return Err(self.missing());
        };
        let tables = self.runtime.tables(&inside);
        tables
            .providers
            .get(TypeId::of::<T>())
            .into_iter()
            .flatten()
            .find(|provider| self.runtime.plugin(provider.owner).is_active())
            .map(|provider| provider.owner_id.to_string())
            .ok_or_else(|| self.missing())
    }

    /// Every active provider, best first.
    pub fn active_providers(&self) -> Vec<String> {
        let Ok(inside) = quiescence::enter(SECTION) else {
            return Vec::new();
        };
        let tables = self.runtime.tables(&inside);
        tables
            .providers
            .get(TypeId::of::<T>())
            .into_iter()
            .flatten()
            .filter(|provider| self.runtime.plugin(provider.owner).is_active())
            .map(|provider| provider.owner_id.to_string())
            .collect()
    }

    #[cold]
    fn missing(&self) -> ServiceError {
        ServiceError::NoProvider {
            service: type_name::<T>(),
            requested_by: self.requested_by.as_deref().map(str::to_owned),
        }
    }
}

/// Consuming services.
impl<P> Call<'_, P> {
    /// A handle on service `T`, checked to have an active provider now; each call
    /// through it finds the best active provider at that time.
    pub fn service<T: ?Sized + 'static>(&self) -> Result<Service<T>, ServiceError>
    where
        P: ServicesConsume,
    {
        let () = crate::permissions::Proof::<P>::SERVICES_CONSUME;
        self.raw
            .may(crate::permissions::Held::SERVICES_CONSUME)
            .map_err(ServiceError::Denied)?;
        let requested_by = self
            .raw
            .current_position()
            .map(|position| Arc::clone(&self.raw.runtime.plugin(position).id));
        wake_providers::<T>(self.raw.runtime)?;
        let service = Service::new(self.raw.runtime.shared(), requested_by);
        service.provider()?;
        Ok(service)
    }
}

/// Wakes the lazy plugins that provide `T` and have not been used yet: a lookup is their
/// first use.
fn wake_providers<T: ?Sized + 'static>(runtime: &super::Runtime) -> Result<(), ServiceError> {
    let tables = runtime.tables_arc();
    let name = type_name::<T>();
    for &(_, position) in tables
        .dormant()
        .services
        .iter()
        .filter(|(service, _)| &**service == name)
    {
        runtime.wake(position).map_err(|failure| ServiceError::ProviderFailed {
            service: name,
            provider: runtime.plugin_id(position).to_owned(),
            failure: failure.to_string(),
        })?;
    }
    Ok(())
}
