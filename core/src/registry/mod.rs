//! Discovery: the link-time registry that `#[register_plugin]` fills, and the explicit
//! plugin lists that tests, benches and embedders build by hand.
//!
//! By default entries live in a `linkme` distributed slice. With the `inventory` Cargo
//! feature of `patchpanel` they are collected by `inventory` instead, for targets linkme
//! does not support. Link order is unspecified either way, so nothing here promises an
//! order: [`crate::resolve`] sorts.
//!
//! Guide chapter: [Cargo features and `link_plugins!`](crate::guide::features).

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use crate::manifest::{Manifest, ManifestError};
pub use crate::registered::{Registered, StaticContributions, StaticDependency, StaticManifest, StaticPermission};
use crate::wiring::adapter::{Adapter, ErasedPlugin};
use crate::wiring::plugin::Plugin;

/// One entry of the link-time registry, emitted by `#[register_plugin]`.
pub struct PluginEntry {
    manifest: &'static StaticManifest,
    type_name: &'static str,
    type_id: fn() -> TypeId,
    factory: Option<fn() -> Box<dyn ErasedPlugin>>,
}

impl PluginEntry {
    /// The entry for plugin type `P`. `type_name` is the path written in the source.
    pub const fn of<P: Plugin>(manifest: &'static StaticManifest, type_name: &'static str) -> PluginEntry {
        PluginEntry {
            manifest,
            type_name,
            type_id: TypeId::of::<P>,
            factory: Some(Adapter::<P>::create),
        }
    }

    /// The validated manifest this plugin was registered with.
    pub fn manifest(&self) -> &'static StaticManifest {
        self.manifest
    }

    /// The plugin type's path, as written where `#[register_plugin]` was applied.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Turns the entry into a [`PluginSpec`], validating the manifest once more with the
    /// runtime validator (the build-time one already passed it).
    pub fn to_spec(&self) -> Result<PluginSpec, ManifestError> {
        let manifest = self.manifest.to_manifest()?;
        let factory = self.factory.expect("sentinel entries are filtered out of the registry");
        Ok(PluginSpec {
            id: Arc::from(manifest.id.as_str()),
            manifest: Arc::new(manifest),
            type_name: self.type_name,
            type_id: (self.type_id)(),
            factory: Factory::Function(factory),
        })
    }
}

impl fmt::Debug for PluginEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginEntry")
            .field("id", &self.manifest.id)
            .field("version", &self.manifest.version)
            .field("type_name", &self.type_name)
            .finish()
    }
}

/// An event subscription declared with `#[patchpanel::subscribe(Plugin)]` on a function,
/// collected at link time and wired when its plugin activates.
///
/// It belongs to a plugin *type*, not to an id: it attaches to the plugin whose registered
/// type is `P`, and a subscriber whose type claims the id of a plugin of another type
/// stops the start-up ([`StartError::ForeignSubscriber`](crate::host::StartError::ForeignSubscriber)).
pub struct StaticSubscriber {
    plugin: fn() -> &'static str,
    plugin_type: fn() -> TypeId,
    plugin_type_name: fn() -> &'static str,
    function: &'static str,
    subscription: Option<fn(usize) -> crate::runtime::events::SubscriptionRegistration>,
}

fn registered_id<P: Registered>() -> &'static str {
    P::MANIFEST.id
}

impl StaticSubscriber {
    /// The entry `#[subscribe(P)]` emits for plugin type `P`: `subscription` builds
    /// the typed subscription for the instance at a position.
    pub const fn new<P: Registered + 'static>(
        function: &'static str,
        subscription: fn(usize) -> crate::runtime::events::SubscriptionRegistration,
    ) -> StaticSubscriber {
        StaticSubscriber {
            plugin: registered_id::<P>,
            plugin_type: TypeId::of::<P>,
            plugin_type_name: std::any::type_name::<P>,
            function,
            subscription: Some(subscription),
        }
    }

    /// The id the owning plugin type was registered with.
    pub fn plugin(&self) -> &'static str {
        (self.plugin)()
    }

    /// The owning plugin's type.
    pub fn plugin_type(&self) -> TypeId {
        (self.plugin_type)()
    }

    /// The owning plugin type's path.
    pub fn plugin_type_name(&self) -> &'static str {
        (self.plugin_type_name)()
    }

    /// The subscribing function's path.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// The subscription, bound to the instance at `owner`.
    pub(crate) fn subscription(&self, owner: usize) -> Option<crate::runtime::events::SubscriptionRegistration> {
        self.subscription.map(|make| make(owner))
    }
}

impl fmt::Debug for StaticSubscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticSubscriber")
            .field("function", &self.function)
            .finish()
    }
}

#[cfg(not(feature = "inventory"))]
mod backend {
    use super::{PluginEntry, StaticSubscriber};

    /// The link-time slice every `#[register_plugin]` adds to.
    #[linkme::distributed_slice]
    pub static PLUGINS: [PluginEntry];

    /// The link-time slice every `#[subscribe]` adds to.
    #[linkme::distributed_slice]
    pub static SUBSCRIBERS: [StaticSubscriber];

    // An empty slice has crashed LLD on Windows; one sentinel keeps each non-empty.
    #[linkme::distributed_slice(PLUGINS)]
    static SENTINEL: PluginEntry = PluginEntry::SENTINEL;

    #[linkme::distributed_slice(SUBSCRIBERS)]
    static SUBSCRIBER_SENTINEL: StaticSubscriber = StaticSubscriber {
        plugin: || "",
        plugin_type: std::any::TypeId::of::<()>,
        plugin_type_name: || "",
        function: "",
        subscription: None,
    };

    pub(crate) fn entries() -> impl Iterator<Item = &'static PluginEntry> {
        PLUGINS.iter()
    }

    pub(crate) fn subscribers() -> impl Iterator<Item = &'static StaticSubscriber> {
        SUBSCRIBERS.iter()
    }
}

#[cfg(feature = "inventory")]
mod backend {
    use super::{PluginEntry, StaticSubscriber};

    inventory::collect!(PluginEntry);
    inventory::collect!(StaticSubscriber);

    pub(crate) fn entries() -> impl Iterator<Item = &'static PluginEntry> {
        inventory::iter::<PluginEntry>.into_iter()
    }

    pub(crate) fn subscribers() -> impl Iterator<Item = &'static StaticSubscriber> {
        inventory::iter::<StaticSubscriber>.into_iter()
    }
}

#[cfg(not(feature = "inventory"))]
#[doc(hidden)]
pub use backend::{PLUGINS, SUBSCRIBERS};

/// Every `#[subscribe]` function linked into the binary, in unspecified order.
pub fn static_subscribers() -> impl Iterator<Item = &'static StaticSubscriber> {
    backend::subscribers().filter(|subscriber| subscriber.subscription.is_some())
}

#[cfg(not(feature = "inventory"))]
impl PluginEntry {
    const SENTINEL: PluginEntry = PluginEntry {
        manifest: &StaticManifest {
            id: "",
            name: "",
            version: "0.0.0",
            description: "",
            min_host_version: None,
            required_features: &[],
            dependencies: &[],
            permissions: &[],
            contributes: None,
            lazy: false,
            activation_deadline_ms: None,
            deprecated: None,
        },
        type_name: "",
        type_id: TypeId::of::<()>,
        factory: None,
    };
}

/// Every plugin registered at link time, in unspecified order.
///
/// Only crates that the final binary references are linked: name each plugin crate in
/// [`link_plugins!`](crate::link_plugins).
pub fn registry_entries() -> impl Iterator<Item = &'static PluginEntry> {
    backend::entries().filter(|entry| entry.factory.is_some())
}

/// Which link-time backend this build uses: `"linkme"` or `"inventory"`.
pub const BACKEND: &str = if cfg!(feature = "inventory") {
    "inventory"
} else {
    "linkme"
};

/// A plugin ready to be resolved: a validated manifest and a way to create the plugin.
///
/// The registry produces these from link-time entries; tests and benches build them
/// directly to run a host over an explicit list.
///
/// ```
/// use patchpanel::{Context, Manifest, Plugin, PluginError, PluginSpec};
///
/// #[derive(Default)]
/// struct Noop;
/// impl Plugin for Noop {
///     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> { Ok(()) }
/// }
///
/// let spec = PluginSpec::new::<Noop>(Manifest::builder("noop", "1.0.0").build().unwrap());
/// assert_eq!(spec.manifest().id, "noop");
/// ```
///
/// Guide: [testing plugins](crate::guide::testing).
#[derive(Clone)]
pub struct PluginSpec {
    manifest: Arc<Manifest>,
    /// The manifest's id, shared: every host built from this spec (or its clones) names
    /// the plugin with it, with no copy of its own.
    id: Arc<str>,
    type_name: &'static str,
    type_id: TypeId,
    factory: Factory,
}

#[derive(Clone)]
enum Factory {
    Function(fn() -> Box<dyn ErasedPlugin>),
    Closure(Arc<dyn Fn() -> Box<dyn ErasedPlugin> + Send + Sync>),
}

impl PluginSpec {
    /// A registered plugin type `P` (`#[register_plugin]`), with the manifest it was
    /// registered with: the one its compile-time permissions were checked against.
    /// This is how an explicit list (a test, a bench) should name a registered plugin.
    pub fn registered<P: Plugin + Registered>() -> Result<PluginSpec, ManifestError> {
        let manifest = P::MANIFEST.to_manifest()?;
        Ok(PluginSpec {
            id: Arc::from(manifest.id.as_str()),
            manifest: Arc::new(manifest),
            type_name: std::any::type_name::<P>(),
            type_id: TypeId::of::<P>(),
            factory: Factory::Function(Adapter::<P>::create),
        })
    }

    /// A plugin of type `P`, created with `P::default()`, run under `manifest`. For
    /// plugin types that are not registered (which then hold no permission at compile
    /// time); a registered type should use [`PluginSpec::registered`].
    pub fn new<P: Plugin>(manifest: Manifest) -> PluginSpec {
        PluginSpec {
            id: Arc::from(manifest.id.as_str()),
            manifest: Arc::new(manifest),
            type_name: std::any::type_name::<P>(),
            type_id: TypeId::of::<P>(),
            factory: Factory::Function(Adapter::<P>::create),
        }
    }

    /// A plugin created by `factory` each time the host needs an instance (at start-up
    /// and at every reload).
    pub fn with_factory<P: Plugin>(manifest: Manifest, factory: impl Fn() -> P + Send + Sync + 'static) -> PluginSpec {
        PluginSpec {
            id: Arc::from(manifest.id.as_str()),
            manifest: Arc::new(manifest),
            type_name: std::any::type_name::<P>(),
            type_id: TypeId::of::<P>(),
            factory: Factory::Closure(Arc::new(move || Adapter::boxed(factory()))),
        }
    }

    /// The validated manifest this plugin was registered with.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The Rust type of the plugin.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The plugin's type: its identity, which static subscribers and the application's
    /// list of plugins (`link_plugins!`) are matched against, not its id.
    pub fn type_id(&self) -> TypeId {
        self.type_id
    }

    pub(crate) fn manifest_arc(&self) -> &Arc<Manifest> {
        &self.manifest
    }

    /// The manifest's id, shared with every clone of this spec.
    pub(crate) fn id_arc(&self) -> &Arc<str> {
        &self.id
    }

    pub(crate) fn instantiate(&self) -> Box<dyn ErasedPlugin> {
        match &self.factory {
            Factory::Function(create) => create(),
            Factory::Closure(create) => create(),
        }
    }
}

impl fmt::Debug for PluginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginSpec")
            .field("id", &self.manifest.id)
            .field("version", &self.manifest.version.to_string())
            .field("type_name", &self.type_name)
            .finish()
    }
}

/// A plugin the application expects to be linked, named by [`link_plugins!`](crate::link_plugins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedPlugin {
    /// The plugin id from its manifest.
    pub id: &'static str,
    /// The plugin type, as named in `link_plugins!`.
    pub type_name: &'static str,
    /// The plugin type itself: the one that runs under `id`.
    pub type_id: TypeId,
    /// Its place in the activation order `link_plugins!` computed while the application
    /// compiled; `None` for an expectation made at run time.
    linked_rank: Option<u32>,
}

impl ExpectedPlugin {
    /// The expectation for plugin type `P`.
    pub fn of<P: Registered + 'static>() -> ExpectedPlugin {
        ExpectedPlugin::new(P::MANIFEST.id, std::any::type_name::<P>(), TypeId::of::<P>())
    }

    /// An expectation of the type with `type_id`, registered under `id`, whose path is
    /// `type_name` (what [`ExpectedPlugin::of`] fills in from a registered type).
    pub fn new(id: &'static str, type_name: &'static str, type_id: TypeId) -> ExpectedPlugin {
        ExpectedPlugin {
            id,
            type_name,
            type_id,
            linked_rank: None,
        }
    }

    /// The expectation at place `rank` of the activation order `link_plugins!` checked
    /// at compile time: start-up uses that order instead of computing it again when the
    /// plugins it resolves are exactly the named ones (and checks that each dependency
    /// comes first). Used by the code `link_plugins!` generates; not public API.
    #[doc(hidden)]
    pub fn in_linked_order(mut self, rank: usize) -> ExpectedPlugin {
        self.linked_rank = u32::try_from(rank).ok();
        self
    }

    /// Its place in the order `link_plugins!` checked, if it came from there.
    pub(crate) fn linked_rank(&self) -> Option<usize> {
        self.linked_rank.map(|rank| rank as usize)
    }
}

/// Links plugin crates into an application, each behind its own `cfg`, and defines
/// `linked_plugins()`, the list to hand to [`HostBuilder::expect`](crate::host::HostBuilder::expect),
/// and `linked_grants()`, the grants stated here (`Type => ["storage.read", ..]`), for
/// [`HostBuilder::grants`](crate::host::HostBuilder::grants).
///
/// A crate that nothing references is not linked, and its registrations vanish without
/// a word. Naming a plugin type here references its crate; the host then reports a
/// plugin that was expected but is not in the registry instead of running without it.
///
/// The named set is resolved while the application compiles: a missing dependency, a
/// version out of range, a cycle, two types with one id or a plugin that needs a newer
/// patchpanel fail `cargo build`. The activation order computed then travels in
/// `linked_plugins()`, and start-up takes it as it is when the registry holds exactly
/// the named plugins.
///
/// ```ignore
/// patchpanel::link_plugins! {
///     #[cfg(feature = "kv-store")] kv_store::KvStore => ["storage.read", "storage.write"],
///     #[cfg(feature = "greeter")] greeter::Greeter,
/// }
///
/// let host = patchpanel::Host::builder().expect(linked_plugins()).grants(linked_grants()).build()?;
/// ```
#[macro_export]
macro_rules! link_plugins {
    ($($(#[$attr:meta])* $krate:ident $(:: $path:ident)+ $(=> [$($grant:literal),* $(,)?])?),* $(,)?) => {
        $( $(#[$attr])* use $krate as _; )*

        // Resolution at compile time: a named set that cannot start fails `cargo build`.
        // Each named plugin's place in the activation order, which start-up takes as it is.
        #[doc(hidden)]
        const __PATCHPANEL_LINKED_RANKS: [usize; [$(::core::stringify!($krate)),*].len()] = {
            const NAMED: usize = [$(::core::stringify!($krate)),*].len();
            #[allow(unused_mut)]
            let mut set = $crate::__private_v0_1::LinkedSet::<NAMED>::new();
            $(
                $(#[$attr])*
                {
                    set = set.with(
                        <$krate $(:: $path)+ as $crate::__private_v0_1::Registered>::MANIFEST,
                        ::core::concat!(::core::stringify!($krate) $(, "::", ::core::stringify!($path))+),
                    );
                }
            )*
            set.ranks()
        };
        // Evaluated (and the set checked) whether or not `linked_plugins()` is called.
        const _: () = {
            let _ = __PATCHPANEL_LINKED_RANKS;
        };

        /// The plugins this application links, as named in `patchpanel::link_plugins!`.
        pub fn linked_plugins() -> ::std::vec::Vec<$crate::registry::ExpectedPlugin> {
            #[allow(unused_mut)]
            let mut plugins = ::std::vec::Vec::new();
            $(
                $(#[$attr])*
                {
                    // A deprecated plugin's marker is `#[deprecated]`: the compiler warns here.
                    <$krate $(:: $path)+>::__patchpanel_linked();
                    let rank = __PATCHPANEL_LINKED_RANKS[plugins.len()];
                    plugins.push($crate::registry::ExpectedPlugin::of::<$krate $(:: $path)+>().in_linked_order(rank));
                }
            )*
            plugins
        }

        /// The grants stated in `patchpanel::link_plugins!`, per plugin id; empty when
        /// none is stated.
        pub fn linked_grants() -> ::std::vec::Vec<(&'static str, ::std::vec::Vec<&'static str>)> {
            #[allow(unused_mut)]
            let mut grants = ::std::vec::Vec::new();
            $(
                $(#[$attr])*
                {
                    #[allow(unused_mut, unused_assignments)]
                    let mut stated: ::std::option::Option<::std::vec::Vec<&'static str>> = ::std::option::Option::None;
                    $( stated = ::std::option::Option::Some(::std::vec![$($grant),*]); )?
                    if let ::std::option::Option::Some(stated) = stated {
                        grants.push(($crate::registry::ExpectedPlugin::of::<$krate $(:: $path)+>().id, stated));
                    }
                }
            )*
            grants
        }
    };
    // Anything else: the syntax, with an example, rather than "no rules expected".
    ($($anything:tt)*) => {
        ::core::compile_error!(
            "`link_plugins!` takes plugin types (paths such as `kv_store::KvStore`), separated by commas, each with an optional `#[cfg(...)]` before it and an optional grant list after `=>`, a list of string literals: `patchpanel::link_plugins! { #[cfg(feature = \"kv-store\")] kv_store::KvStore => [\"storage.read\", \"storage.write\"], greeter::Greeter }`"
        );
    };
}

/// Emits a static subscriber through the backend `patchpanel` was built with. Used by
/// the code `#[subscribe]` generates.
#[cfg(not(feature = "inventory"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __submit_subscriber {
    ($entry:expr) => {
        #[$crate::__private_v0_1::linkme::distributed_slice($crate::__private_v0_1::SUBSCRIBERS)]
        #[linkme(crate = $crate::__private_v0_1::linkme)]
        static __PATCHPANEL_SUBSCRIBER: $crate::__private_v0_1::StaticSubscriber = $entry;
    };
}

/// Emits a static subscriber through the backend `patchpanel` was built with. Used by
/// the code `#[subscribe]` generates.
#[cfg(feature = "inventory")]
#[doc(hidden)]
#[macro_export]
macro_rules! __submit_subscriber {
    ($entry:expr) => {
        $crate::__private_v0_1::inventory::submit! { $entry }
    };
}

/// Emits a registry entry through the backend `patchpanel` was built with. Used by the
/// code `#[register_plugin]` generates.
#[cfg(not(feature = "inventory"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __submit_plugin {
    ($entry:expr) => {
        #[$crate::__private_v0_1::linkme::distributed_slice($crate::__private_v0_1::PLUGINS)]
        #[linkme(crate = $crate::__private_v0_1::linkme)]
        static __PATCHPANEL_ENTRY: $crate::__private_v0_1::PluginEntry = $entry;
    };
}

/// Emits a registry entry through the backend `patchpanel` was built with. Used by the
/// code `#[register_plugin]` generates.
#[cfg(feature = "inventory")]
#[doc(hidden)]
#[macro_export]
macro_rules! __submit_plugin {
    ($entry:expr) => {
        $crate::__private_v0_1::inventory::submit! { $entry }
    };
}
