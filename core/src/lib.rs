//! patchpanel: a compile-time, static plugin framework.
//!
//! Plugins are ordinary crates. Each registers itself at link time with
//! `#[register_plugin]`, which checks its manifest while the crate compiles. At start-up
//! the [`Host`] resolves the dependency order from semver ranges and runs the lifecycle.
//! Nothing is loaded dynamically.
//!
//! **Start with [the guide](crate::guide)**: fourteen chapters, from a first plugin to a
//! service that runs for days, every example a doctest.
//!
//! The crate root holds what every plugin uses: [`Plugin`], [`Context`], [`Call`],
//! [`PluginError`], [`Host`], [`PluginSpec`], [`Manifest`], [`State`], the macros
//! ([`register_plugin`], [`subscribe`], [`link_plugins!`]) and a [`prelude`]. The rest is
//! one module per concept:
//!
//! | module | what | chapter |
//! |---|---|---|
//! | [`commands`] | typed request/response, middleware, caching | [talking](crate::guide::talking) |
//! | [`events`] | typed publish/subscribe | [talking](crate::guide::talking) |
//! | [`hooks`] | extension points with ordered implementations | [talking](crate::guide::talking) |
//! | [`services`] | typed values one plugin provides and others consume | [talking](crate::guide::talking) |
//! | [`messaging`] | point-to-point messages to a plugin's inbox | [talking](crate::guide::talking) |
//! | [`permissions`] | the permission marker traits and run-time refusals | [permissions](crate::guide::permissions) |
//! | [`audit`] | the audit log of every decision and transition | [permissions](crate::guide::permissions) |
//! | [`storage`] | namespaced key-value storage, in memory or durable | [storage](crate::guide::storage) |
//! | [`config`] | per-plugin configuration | [storage](crate::guide::storage) |
//! | [`manifest`] | the manifest and its validation | [manifest](crate::guide::manifest) |
//! | [`registry`] | link-time registration and explicit plugin lists | [features](crate::guide::features) |
//! | [`resolve`] | dependency resolution | [lifecycle](crate::guide::lifecycle) |
//! | [`lifecycle`] | states, transitions and failures | [lifecycle](crate::guide::lifecycle) |
//! | [`host`] | building a host and operating it: disable, enable, reload | [running](crate::guide::running) |
//! | [`blocking`] | bridges between sync and async code | [async plugins](crate::guide::async_plugins) |
//! | [`health`] | health checks and reports | [health](crate::guide::health) |
//! | [`metrics`] | what the host records, and a recorder to read it | [serving](crate::guide::serving) |
//! | [`testing`] | `TestHost`, closure plugins, fakes | [testing](crate::guide::testing) |
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
#![warn(missing_docs)]

pub mod audit;
mod block;
pub mod config;
mod error;
#[cfg(any(doc, doctest))]
pub mod guide;
pub mod health;
pub mod host;
pub mod lifecycle;
pub mod manifest;
pub mod metrics;
pub mod permissions;
mod registered;
pub mod registry;
pub mod resolve;
mod runtime;
pub mod storage;
mod support;
pub mod testing;
mod wiring;

pub use error::PluginError;
pub use host::Host;
pub use lifecycle::State;
pub use manifest::Manifest;
pub use patchpanel_macros::{register_plugin, subscribe};
pub use registry::PluginSpec;
pub use runtime::{AsyncCall, Call};
pub use wiring::context::{Context, RegistrationError};
pub use wiring::plugin::{Capability, Plugin, SavedState};

pub mod commands {
    //! Commands: request/response calls between plugins, by typed handle or by string id,
    //! with middleware around them and caching of pure ones.
    //!
    //! A plugin registers a command with [`Context::command`](crate::Context::command) (or
    //! [`Context::command_async`](crate::Context::command_async),
    //! [`Context::command_cached`](crate::Context::command_cached)); a caller resolves a
    //! [`CommandHandle`] once and calls it, or calls by id with [`Call::execute`](crate::Call::execute). Every
    //! failure is a [`DispatchError`] whose [`DispatchErrorKind`] names the plugin and
    //! command. Middleware comes in three kinds: pattern middleware over an [`Invocation`],
    //! typed middleware with a [`TypedNext`], and a [`Layer`] declared as a type, which a
    //! [`LayeredHandle`] that names a command's layers runs inlined. Chapter:
    //! [guide::talking](crate::guide::talking).

    pub use crate::runtime::commands::cache::CachePolicy;
    pub use crate::runtime::commands::chain::{Invocation, Next};
    pub use crate::runtime::commands::typed_middleware::TypedNext;
    pub use crate::runtime::commands::{
        BoxFuture, CommandHandle, DispatchError, DispatchErrorKind, Downstream, Layer, LayeredHandle, Layers, Metadata,
        Pending,
    };
}

pub mod events {
    //! Events: typed publish/subscribe, delivered in dependency order.
    //!
    //! A plugin subscribes with [`Context::subscribe`](crate::Context::subscribe) or
    //! `#[subscribe]`; a publisher sends with [`Call::publish`](crate::Call::publish) or a
    //! pre-resolved [`EventChannel`]. Each publish returns a [`Delivery`]: how many
    //! subscribers ran and which failed. Chapter: [guide::talking](crate::guide::talking).

    pub use crate::runtime::events::{Delivery, EventChannel};
}

pub mod hooks {
    //! Hooks: extension points one plugin declares and others implement, run in an order
    //! each implementation states ([`HookOrder`]). Chapter:
    //! [guide::talking](crate::guide::talking).

    pub use crate::runtime::deferred::{Deferred, HookFuture};
    pub use crate::runtime::hooks::{Hook, HookError, HookOrder, HookWiringError};
}

pub mod services {
    //! Services: a typed value one plugin provides and others consume as a [`Service`]
    //! handle that follows reloads. Chapter: [guide::talking](crate::guide::talking).

    pub use crate::runtime::services::{Service, ServiceError};
}

pub mod messaging {
    //! Messaging: point-to-point messages to one plugin's inbox, by id. Chapter:
    //! [guide::talking](crate::guide::talking).

    pub use crate::runtime::messaging::MessageError;
}

pub mod blocking {
    //! Blocking bridges between synchronous plugin code and async work: [`block_on`] runs a
    //! future to completion on the calling thread, [`unblock`] moves blocking work off an
    //! async worker. Chapter: [guide::async_plugins](crate::guide::async_plugins).

    pub use crate::block::{BlockError, Unblock, block_on, try_block_on, unblock};
}

/// The names a plugin crate uses most: `use patchpanel::prelude::*;`.
pub mod prelude {
    pub use crate::commands::DispatchError;
    pub use crate::hooks::HookOrder;
    pub use crate::services::Service;
    pub use crate::{
        Call, Capability, Context, Host, Manifest, Plugin, PluginError, PluginSpec, SavedState, State, register_plugin,
        subscribe,
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
