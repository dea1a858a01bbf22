//! The validated manifest.

use std::fmt;

use semver::{Version, VersionReq};

/// A plugin's manifest after validation: every field is well formed.
///
/// Lists are sorted (dependencies by id, permissions by resource then action), so two
/// manifests with the same content compare equal whatever order their source used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The plugin id; see [`crate::catalogue::check_id`] for the rule.
    pub id: String,
    /// A human-readable name; defaults to the id.
    pub name: String,
    /// The plugin's version.
    pub version: Version,
    /// What the plugin does; may be empty.
    pub description: String,
    /// The oldest host (patchpanel) version this plugin runs on.
    pub min_host_version: Option<Version>,
    /// Host features the plugin needs, from [`crate::catalogue::FEATURES`].
    pub required_features: Vec<String>,
    /// The plugins this one depends on, sorted by id.
    pub dependencies: Vec<Dependency>,
    /// The permissions the plugin declares, sorted by resource and action.
    pub permissions: Vec<Permission>,
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
