//! patchpanel: a compile-time, static plugin framework.
//!
//! Plugins are ordinary crates. Each registers itself at link time with
//! `#[register_plugin]`, which checks its manifest while the crate compiles. At start-up
//! the [`Host`] resolves the dependency order from semver ranges and runs the lifecycle.
//! Nothing is loaded dynamically.
//!
//! ```
//! use patchpanel::{Context, Host, Manifest, Plugin, PluginError, PluginSpec, State};
//!
//! #[derive(Default)]
//! struct KvStore;
//! impl Plugin for KvStore {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//!
//! #[derive(Default)]
//! struct Greeter;
//! impl Plugin for Greeter {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         assert!(context.is_present("kv-store"));
//!         Ok(())
//!     }
//! }
//!
//! // In an application the plugins come from the link-time registry, named and
//! // granted in `link_plugins!`
//! // (`Host::builder().expect(linked_plugins()).grants(linked_grants()).build()`);
//! // here they are listed explicitly.
//! let host = Host::builder()
//!     .plugins(vec![
//!         PluginSpec::new::<Greeter>(Manifest::builder("greeter", "1.0.0").depends_on("kv-store", "^1").build()?),
//!         PluginSpec::new::<KvStore>(Manifest::builder("kv-store", "1.2.0").build()?),
//!     ])
//!     .build()?;
//! assert_eq!(host.order(), ["kv-store", "greeter"]);
//! assert_eq!(host.state("greeter").unwrap(), State::Active);
//! let report = host.shutdown();
//! assert_eq!(report.deactivated, ["greeter", "kv-store"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A plugin crate registers its type instead of building a spec by hand:
//!
//! ```ignore
//! #[patchpanel::register_plugin(id = "greeter", dependencies = { "kv-store" = "^1.0" })]
//! #[derive(Default)]
//! pub struct Greeter;
//! ```

mod audit;
mod block;
mod config;
mod error;
mod health;
mod host;
mod lifecycle;
mod manifest;
mod metrics;
pub mod permissions;
mod registered;
mod registry;
mod resolve;
mod runtime;
mod storage;
mod support;
pub mod testing;
mod wiring;

pub use audit::{
    Audit, AuditRecord, DEFAULT_CAPACITY as AUDIT_CAPACITY, DEFAULT_FILE_MAX_BYTES as AUDIT_FILE_MAX_BYTES, Decision,
};
pub use block::{BlockError, Unblock, block_on, try_block_on, unblock};
pub use config::{ConfigError, ConfigFile, ConfigFileError, PluginConfig};
pub use error::PluginError;
pub use health::{Health, HealthReport, HealthStatus, PluginHealth};
pub use host::{
    DEFAULT_HEALTH_BUDGET, DependentsPolicy, ForeignSubscriber, GrantProblem, HealthWatch, Host, HostBuilder,
    PluginInfo, RegistryNotice, ReloadReport, ShutdownReport, StartError, Tenants, UnexpectedPlugin,
};
pub use lifecycle::{Failure, LifecycleError, ReloadStep, Reloaded, State, StateChanged};
pub use manifest::{
    Activation, Contributions, Dependency, Deprecation, FEATURES, HOST_VERSION, Manifest, ManifestBuilder,
    ManifestError, Permission, RESOURCES, Scope, check_id,
};
pub use metrics::{MetricValue, SnapshotRecorder};
pub use patchpanel_macros::{register_plugin, subscribe};
pub use permissions::check::{HostCaller, PermissionDenied, PermissionRequest};
pub use registry::{
    BACKEND, ExpectedPlugin, PluginEntry, PluginSpec, Registered, StaticContributions, StaticDependency,
    StaticManifest, StaticPermission, StaticSubscriber, registry_entries, static_subscribers,
};
pub use resolve::linked::range_matches;
pub use resolve::{Resolution, ResolveError, ResolveErrors, ResolveOptions, ResolvedPlugin, resolve};
pub use runtime::commands::cache::CachePolicy;
pub use runtime::commands::chain::{Invocation, Next};
pub use runtime::commands::{BoxFuture, CommandHandle, DispatchError, DispatchErrorKind, Metadata, Pending};
pub use runtime::deferred::{Deferred, HookFuture};
pub use runtime::events::{Delivery, EventChannel};
pub use runtime::hooks::{Hook, HookError, HookOrder, HookWiringError};
pub use runtime::messaging::MessageError;
pub use runtime::services::{Service, ServiceError};
pub use runtime::{AsyncCall, Call, Incident};
pub use storage::{BackendError, DEFAULT_TENANT, MemoryStorage, Storage, StorageBackend, StorageError, Updater};
#[cfg(feature = "redb")]
pub use storage::{CommitStats, RedbStorage, StorageOpenError};
pub use wiring::context::{Context, RegistrationError};
pub use wiring::plugin::{Capability, Plugin, SavedState};

/// The names a plugin crate uses most: `use patchpanel::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Call, Capability, Context, DispatchError, HookOrder, Host, Manifest, Plugin, PluginError, PluginSpec,
        SavedState, Service, State, register_plugin, subscribe,
    };
}

/// Used by the code `#[register_plugin]` and `#[subscribe]` generate. Not public API.
///
/// The name carries the release line (major.minor while the version is 0.x), the way
/// thiserror and linkme version theirs: a `patchpanel-macros` from another release
/// expands into a path that does not resolve here, and the compiler's error names the
/// version that was expected.
#[doc(hidden)]
pub mod __private_v0_1 {
    /// Names this module in the test that pins its version.
    #[cfg(test)]
    pub(crate) struct Marker;
    pub use crate::__submit_plugin as submit;
    pub use crate::__submit_subscriber as submit_subscriber;
    pub use crate::permissions;
    pub use crate::registered::subscriber_in_plugin_crate;
    #[cfg(not(feature = "inventory"))]
    pub use crate::registry::PLUGINS;
    #[cfg(not(feature = "inventory"))]
    pub use crate::registry::SUBSCRIBERS;
    pub use crate::registry::StaticSubscriber;
    pub use crate::registry::{
        PluginEntry, Registered, StaticContributions, StaticDependency, StaticManifest, StaticPermission,
    };
    pub use crate::resolve::linked::LinkedSet;
    pub use crate::runtime::events::SubscriptionRegistration;
    #[cfg(feature = "inventory")]
    pub use inventory;
    pub use linkme;
    pub use patchpanel_manifest::Scope;
}

#[cfg(test)]
mod tests {
    /// The hidden module's name follows the release line; `patchpanel-macros` has the
    /// twin of this test for the name it expands into.
    #[test]
    fn private_module_is_named_after_the_release_line() {
        let mut parts = env!("CARGO_PKG_VERSION").split('.');
        let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
        let expected = if major == "0" {
            format!("__private_v0_{minor}")
        } else {
            format!("__private_v{major}")
        };
        let actual = std::any::type_name::<crate::__private_v0_1::Marker>();
        assert_eq!(actual, format!("patchpanel::{expected}::Marker"));
    }
}
