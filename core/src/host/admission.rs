//! Admission: what the application allows to run, checked at start-up before anything
//! is created: the grants it declared, and the plugins it named.

use crate::registry::ExpectedPlugin;
use crate::resolve::ResolvedPlugin;

/// Why the grants refuse a start-up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantProblem {
    /// The plugin's manifest declares a permission it is not granted.
    #[error(
        "plugin `{plugin}` asks for `{permission}`, which the application does not grant it; add `.grant(\"{plugin}\", [\"{permission}\"])` to the host builder, or remove it from the plugin's manifest"
    )]
    Ungranted {
        /// The plugin's id.
        plugin: String,
        /// The permission, `resource.action`.
        permission: String,
    },
    /// A grant names something that is not a permission.
    #[error(
        "the grant for plugin `{plugin}` names `{permission}`, which is not a permission; write `resource.action`, e.g. `storage.read`"
    )]
    Unknown {
        /// The plugin the grant is for.
        plugin: String,
        /// What the grant named.
        permission: String,
    },
}

/// Every permission a resolved plugin declares and is not granted, and every grant
/// that names no permission.
pub(super) fn grant_problems(
    resolved: &[ResolvedPlugin],
    grants: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<GrantProblem> {
    let is_permission = |name: &str| {
        name.split_once('.').is_some_and(|(resource, action)| {
            crate::manifest::RESOURCES
                .iter()
                .any(|(r, actions)| *r == resource && actions.contains(&action))
        })
    };
    let mut problems: Vec<GrantProblem> = grants
        .iter()
        .flat_map(|(plugin, permissions)| {
            permissions
                .iter()
                .filter(|permission| !is_permission(permission))
                .map(move |permission| GrantProblem::Unknown {
                    plugin: plugin.clone(),
                    permission: permission.clone(),
                })
        })
        .collect();
    for plugin in resolved {
        let manifest = plugin.spec.manifest();
        let granted = grants.get(&manifest.id).map_or(&[][..], Vec::as_slice);
        for permission in &manifest.permissions {
            let name = format!("{}.{}", permission.resource, permission.action);
            if !granted.contains(&name) {
                problems.push(GrantProblem::Ungranted {
                    plugin: manifest.id.clone(),
                    permission: name,
                });
            }
        }
    }
    problems
}

/// A plugin in the registry that the application did not name; see
/// [`Host::unexpected_plugins`](crate::Host::unexpected_plugins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnexpectedPlugin {
    /// The plugin's id.
    pub id: String,
    /// Its type, as registered (`crate::module::Type`).
    pub type_name: String,
    /// The crate that registered it: the first segment of its type's path.
    pub crate_name: String,
}

impl std::fmt::Display for UnexpectedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plugin `{}` ({}, from crate `{}`)",
            self.id, self.type_name, self.crate_name
        )
    }
}

/// The plugins present but not named, when the application named any.
pub(super) fn unexpected(resolved: &[ResolvedPlugin], expected: &[ExpectedPlugin]) -> Vec<UnexpectedPlugin> {
    if expected.is_empty() {
        return Vec::new();
    }
    resolved
        .iter()
        .filter(|plugin| !expected.iter().any(|e| e.id == plugin.spec.manifest().id))
        .map(|plugin| {
            let type_name = plugin.spec.type_name().to_owned();
            UnexpectedPlugin {
                id: plugin.spec.manifest().id.clone(),
                crate_name: type_name.split("::").next().unwrap_or_default().to_owned(),
                type_name,
            }
        })
        .collect()
}
