//! What `#[register_plugin]` writes into the binary for a plugin type: its manifest,
//! validated at build time, and the [`Registered`] trait that ties the type to it. A
//! leaf: the permission proofs read it, and so does the registry.

use crate::manifest::{Manifest, ManifestError, Scope};

/// A manifest as `#[register_plugin]` writes it into the binary, already validated at
/// build time. Read it through [`Registered::MANIFEST`]; build one by hand only in tests.
#[derive(Debug)]
pub struct StaticManifest {
    /// The plugin id.
    pub id: &'static str,
    /// The human-readable name.
    pub name: &'static str,
    /// The version, semver.
    pub version: &'static str,
    /// A one-line description, from the manifest or the crate's `description`.
    pub description: &'static str,
    /// The oldest supported host version.
    pub min_host_version: Option<&'static str>,
    /// Required host features.
    pub required_features: &'static [&'static str],
    /// Dependencies, sorted by id.
    pub dependencies: &'static [StaticDependency],
    /// Permissions, sorted.
    pub permissions: &'static [StaticPermission],
    /// What the plugin contributes, when its manifest declares it.
    pub contributes: Option<&'static StaticContributions>,
    /// Whether the plugin is activated on first use (`activation = "lazy"`).
    pub lazy: bool,
    /// The activation deadline in milliseconds, when the manifest gives one.
    pub activation_deadline_ms: Option<u64>,
    /// The deprecation message and replacement id, when the plugin is deprecated.
    pub deprecated: Option<(&'static str, Option<&'static str>)>,
}

/// The `contributes` of a [`StaticManifest`]: one sorted list per kind, as in
/// [`Contributions`](crate::manifest::Contributions).
#[derive(Debug)]
pub struct StaticContributions {
    /// Command names, without the plugin id.
    pub commands: &'static [&'static str],
    /// Event types published.
    pub publishes: &'static [&'static str],
    /// Event types subscribed to.
    pub subscribes: &'static [&'static str],
    /// Hook names declared, without the plugin id.
    pub hooks: &'static [&'static str],
    /// Service types provided.
    pub services: &'static [&'static str],
}

/// A dependency in a [`StaticManifest`].
#[derive(Debug)]
pub struct StaticDependency {
    /// The id depended on.
    pub id: &'static str,
    /// The version range.
    pub req: &'static str,
    /// Whether it may be absent.
    pub optional: bool,
}

/// A permission in a [`StaticManifest`].
#[derive(Debug)]
pub struct StaticPermission {
    /// The resource the permission covers: `storage`, `events`, `commands`...
    pub resource: &'static str,
    /// The action on that resource: `read`, `publish`, `register`...
    pub action: &'static str,
    /// Whose data or channels the permission reaches.
    pub scope: Scope,
}

/// Implemented by `#[register_plugin]` for the plugin type. Do not implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a registered plugin",
    label = "this type needs `#[register_plugin]`",
    note = "put `#[patchpanel::register_plugin(...)]` on `{Self}`, or name the plugin type that carries it"
)]
///
/// It links the type to its manifest, which [`link_plugins!`](crate::link_plugins) uses to
/// name the plugins an application expects to find.
pub trait Registered {
    /// The manifest, as validated at build time.
    const MANIFEST: &'static StaticManifest;

    /// The crate that registered the type (`CARGO_CRATE_NAME`), set by
    /// `#[register_plugin]`: `#[subscribe]` compares it with its own crate, so that a
    /// subscriber of another crate gets a message that says why.
    #[doc(hidden)]
    const CRATE: Option<&'static str> = None;
}

/// Fails the build when `#[subscribe(P)]` in crate `here` names a plugin type that
/// another crate, `owner`, registered. Called by the code `#[subscribe]` generates.
#[doc(hidden)]
pub const fn subscriber_in_plugin_crate(owner: Option<&str>, here: &str) {
    let Some(owner) = owner else { return };
    if !crate::support::same_str(owner, here) {
        panic!(
            "`#[subscribe]` attaches a subscriber to a plugin of the same crate only: the plugin type it names was registered by another crate, and a subscriber runs with its plugin's identity and rights; move the subscriber into the plugin's crate, or subscribe from your own plugin type (`context.subscribe(..)` or `#[subscribe(MyPlugin)]`)"
        );
    }
}

impl StaticManifest {
    /// Converts to the owned [`Manifest`] through the shared validator.
    pub fn to_manifest(&self) -> Result<Manifest, ManifestError> {
        let mut builder = Manifest::builder(self.id, self.version)
            .name(self.name)
            .description(self.description);
        if let Some(min) = self.min_host_version {
            builder = builder.min_host_version(min);
        }
        for feature in self.required_features {
            builder = builder.require_feature(*feature);
        }
        for dependency in self.dependencies {
            builder = if dependency.optional {
                builder.optional_dependency(dependency.id, dependency.req)
            } else {
                builder.depends_on(dependency.id, dependency.req)
            };
        }
        for permission in self.permissions {
            builder = builder.permission(permission.resource, permission.action, permission.scope);
        }
        if let Some(contributes) = self.contributes {
            builder = builder.contributes_nothing();
            let lists = [
                ("commands", contributes.commands),
                ("publishes", contributes.publishes),
                ("subscribes", contributes.subscribes),
                ("hooks", contributes.hooks),
                ("services", contributes.services),
            ];
            for (kind, names) in lists {
                for name in names {
                    builder = builder.contributes(kind, name);
                }
            }
        }
        if self.lazy {
            builder = builder.lazy();
        }
        if let Some(millis) = self.activation_deadline_ms {
            builder = builder.activation_deadline(format!("{millis}ms"));
        }
        if let Some((message, replacement)) = self.deprecated {
            builder = builder.deprecated(message, replacement);
        }
        builder.build()
    }
}
