//! The validated manifest.

use std::fmt;

use semver::{Version, VersionReq};

/// A plugin's manifest after validation: every field is well formed.
///
/// Lists are sorted (dependencies by id, permissions by resource then action), so two
/// manifests with the same content compare equal whatever order their source used.
#[derive(Clone, Debug, PartialEq, Eq)]
// Laid out in this order, so that what start-up reads of every plugin (id, version,
// dependencies, activation, permissions) shares the first cache lines; the text fields
// come last. Start-up of 10,000 plugins is bound by reading their manifests.
#[repr(C)]
pub struct Manifest {
    /// The plugin id; see [`crate::catalogue::check_id`] for the rule.
    pub id: String,
    /// The plugin's version.
    pub version: Version,
    /// The plugins this one depends on, sorted by id.
    pub dependencies: Vec<Dependency>,
    /// When the host activates the plugin: at start-up, or on first use.
    pub activation: Activation,
    /// How long its `activate` may take before the host fails it (`activation-deadline
    /// = "5s"`); the host's own default applies when absent.
    pub activation_deadline: Option<std::time::Duration>,
    /// The permissions the plugin declares, sorted by resource and action.
    pub permissions: Vec<Permission>,
    /// Set when the plugin is on its way out (`deprecated = "why"`, or with a
    /// `replacement`): the host reports it at start-up, with the plugins that still
    /// depend on it. Beside `permissions`, which start-up reads in the same pass.
    pub deprecated: Option<Deprecation>,
    /// The oldest host (patchpanel) version this plugin runs on.
    pub min_host_version: Option<Version>,
    /// Host features the plugin needs, from [`crate::catalogue::FEATURES`].
    pub required_features: Vec<String>,
    /// What the plugin contributes, declared before it activates (`contributes`); when
    /// given, what it registers at activation must match it exactly.
    pub contributes: Option<Contributions>,
    /// A human-readable name; defaults to the id.
    pub name: String,
    /// What the plugin does; may be empty.
    pub description: String,
}

/// A plugin's deprecation: why, and what replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deprecation {
    /// Why it is deprecated and what to do, in the author's words.
    pub message: String,
    /// The id of the plugin that replaces it, if one does.
    pub replacement: Option<String>,
}

/// What a plugin contributes, declared in its manifest so that the host knows it before
/// the plugin activates, as VS Code's `contributes` does: a lazy plugin is activated by
/// the first use of one of these, and `inspect` lists them for a plugin that never ran.
///
/// Each list is sorted and has no duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contributions {
    /// Command names, without the `<plugin-id>:` prefix (`hello` for `greeter:hello`).
    pub commands: Vec<String>,
    /// Event types the plugin publishes, as `std::any::type_name` spells them
    /// (`greeter::Greeted`). Informational: publishing is checked by `events.publish`.
    pub publishes: Vec<String>,
    /// Event types the plugin subscribes to, as `std::any::type_name` spells them.
    pub subscribes: Vec<String>,
    /// Hook names the plugin declares, without the `<plugin-id>:` prefix.
    pub hooks: Vec<String>,
    /// Service types the plugin provides, as `std::any::type_name` spells them
    /// (`dyn kv_store::KeyValue`).
    pub services: Vec<String>,
}

impl Contributions {
    /// The manifest keys of the lists, in the order of the fields.
    pub const KINDS: [&'static str; 5] = ["commands", "publishes", "subscribes", "hooks", "services"];

    /// The list of `kind` (one of [`Contributions::KINDS`]).
    pub fn list(&self, kind: &str) -> &[String] {
        match kind {
            "commands" => &self.commands,
            "publishes" => &self.publishes,
            "subscribes" => &self.subscribes,
            "hooks" => &self.hooks,
            "services" => &self.services,
            _ => &[],
        }
    }

    fn list_mut(&mut self, kind: &str) -> Option<&mut Vec<String>> {
        match kind {
            "commands" => Some(&mut self.commands),
            "publishes" => Some(&mut self.publishes),
            "subscribes" => Some(&mut self.subscribes),
            "hooks" => Some(&mut self.hooks),
            "services" => Some(&mut self.services),
            _ => None,
        }
    }

    /// Adds every one of `names` to the `kind` list (as [`Contributions::add`] does one at
    /// a time, sorted and without duplicates), sorting once. Returns false for an
    /// unknown kind.
    pub fn extend(&mut self, kind: &str, names: impl IntoIterator<Item = String>) -> bool {
        let Some(list) = self.list_mut(kind) else { return false };
        list.extend(names);
        list.sort_unstable();
        list.dedup();
        true
    }

    /// Adds `name` to the list of `kind`, keeping it sorted and free of duplicates.
    /// Returns false for an unknown kind.
    pub fn add(&mut self, kind: &str, name: &str) -> bool {
        let Some(list) = self.list_mut(kind) else { return false };
        if let Err(at) = list.binary_search_by(|item| item.as_str().cmp(name)) {
            list.insert(at, name.to_owned());
        }
        true
    }
}

/// When a plugin is activated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activation {
    /// At start-up, in dependency order (the default).
    #[default]
    Eager,
    /// On first use: the first command in its namespace, the first publish of an event
    /// it subscribes to, the first lookup of a service it provides, or an explicit
    /// `Host::activate`. Needs `contributes`, which says what counts as a use.
    Lazy,
}

impl Activation {
    /// The manifest spelling: `eager` or `lazy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::Eager => "eager",
            Activation::Lazy => "lazy",
        }
    }
}

/// One declared dependency on another plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The id of the plugin depended on.
    pub id: String,
    /// The versions that satisfy this dependency.
    pub req: VersionReq,
    /// An optional dependency may be absent; when present it must match `req`.
    pub optional: bool,
}

/// One declared permission: an action on a resource, within a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// The resource, one of [`crate::catalogue::RESOURCES`].
    pub resource: &'static str,
    /// The action on that resource.
    pub action: &'static str,
    /// Whose data or channels the permission reaches.
    pub scope: Scope,
}

/// How far a permission reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Only the plugin's own namespace (the default).
    #[default]
    PluginOnly,
    /// Every plugin's namespace.
    All,
    /// Decided at run time by the host's approval policy.
    UserApproved,
}

impl Scope {
    /// Every scope, in the spelling manifests use.
    pub const NAMES: [&'static str; 3] = ["plugin-only", "all", "user-approved"];

    /// The spelling used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PluginOnly => "plugin-only",
            Scope::All => "all",
            Scope::UserApproved => "user-approved",
        }
    }

    /// Parses the manifest spelling of a scope.
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "plugin-only" => Some(Scope::PluginOnly),
            "all" => Some(Scope::All),
            "user-approved" => Some(Scope::UserApproved),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Permission {
    /// `resource.action`, with ` (scope)` appended when the scope is not plugin-only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource, self.action)?;
        if self.scope != Scope::PluginOnly {
            write!(f, " ({})", self.scope)?;
        }
        Ok(())
    }
}

impl Manifest {
    /// Whether the manifest declares `resource.action`, in any scope.
    pub fn declares(&self, resource: &str, action: &str) -> bool {
        self.permission(resource, action).is_some()
    }

    /// The declared permission for `resource.action`, if any.
    pub fn permission(&self, resource: &str, action: &str) -> Option<&Permission> {
        self.permissions
            .iter()
            .find(|p| p.resource == resource && p.action == action)
    }
}
