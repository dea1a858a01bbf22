//! Admission: what the application allows to run, checked at start-up before anything
//! is created: the grants it declared, and the plugins it named.

use crate::manifest::Scope;
use crate::registry::{ExpectedPlugin, PluginSpec};
use crate::resolve::ResolvedPlugin;

/// Why the grants refuse a start-up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantProblem {
    /// The plugin's manifest declares a permission it is not granted.
    #[error(
        "plugin `{plugin}` asks for `{permission}`, which the application does not grant it; add `.grant(\"{plugin}\", [\"{permission}\"])` to the host builder, or remove it from the plugin's manifest"
    )]
    Ungranted {
        /// The plugin's id.
        plugin: String,
        /// The permission, `resource.action`, with `:scope` when it asks for more than
        /// its own namespace.
        permission: String,
    },
    /// The plugin's manifest declares a permission at a wider scope than it is granted:
    /// a grant without a scope admits `plugin-only`.
    #[error(
        "plugin `{plugin}` asks for `{permission}` at scope `{asked}`, which the application grants only at scope `{granted}`; grant `{permission}:{asked}` (`.grant(\"{plugin}\", [\"{permission}:{asked}\"])`), or narrow the scope in the plugin's manifest"
    )]
    NarrowScope {
        /// The plugin's id.
        plugin: String,
        /// The permission, `resource.action`.
        permission: String,
        /// The scope its manifest declares.
        asked: &'static str,
        /// The widest scope granted.
        granted: &'static str,
    },
    /// A grant names something that is not a permission.
    #[error(
        "the grant for plugin `{plugin}` names `{permission}`, which is not a permission; write `resource.action`, e.g. `storage.read`, with `:all` or `:user-approved` for a wider scope than the plugin's own namespace"
    )]
    Unknown {
        /// The plugin the grant is for.
        plugin: String,
        /// What the grant named.
        permission: String,
    },
    /// A grant names a plugin id that no plugin of this start-up has.
    #[error(
        "the application grants permissions to `{plugin}`, but no linked plugin has that id{}; correct the id, or remove the grant",
        suggestion.as_ref().map(|id| format!(" (did you mean `{id}`?)")).unwrap_or_default()
    )]
    UnknownPlugin {
        /// The id the grant names.
        plugin: String,
        /// The closest id of a linked plugin, when one is close.
        suggestion: Option<String>,
    },
}

/// A grant, `resource.action` or `resource.action:scope`, as (permission, scope).
fn parse_grant(grant: &str) -> Option<(&str, Scope)> {
    let (permission, scope) = match grant.split_once(':') {
        Some((permission, scope)) => (permission, Scope::parse(scope)?),
        None => (grant, Scope::PluginOnly),
    };
    let (resource, action) = permission.split_once('.')?;
    crate::manifest::RESOURCES
        .iter()
        .any(|(r, actions)| *r == resource && actions.contains(&action))
        .then_some((permission, scope))
}

/// Whether a grant at `granted` admits a manifest's `asked` scope: `all` admits every
/// scope, `user-approved` admits itself and `plugin-only`, `plugin-only` only itself.
fn admits(granted: Scope, asked: Scope) -> bool {
    granted == asked || granted == Scope::All || asked == Scope::PluginOnly
}

/// Every permission a resolved plugin declares and is not granted (or is granted at a
/// narrower scope), every grant that names no permission, and every grant for an id
/// that no resolved plugin has.
pub(super) fn grant_problems(
    resolved: &[ResolvedPlugin],
    grants: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<GrantProblem> {
    let ids: Vec<&str> = resolved
        .iter()
        .map(|plugin| plugin.spec.manifest().id.as_str())
        .collect();
    let mut problems: Vec<GrantProblem> = grants
        .keys()
        .filter(|plugin| !ids.contains(&plugin.as_str()))
        .map(|plugin| GrantProblem::UnknownPlugin {
            plugin: plugin.clone(),
            suggestion: patchpanel_manifest::catalogue::closest(plugin, &ids).map(str::to_owned),
        })
        .collect();
    problems.extend(grants.iter().flat_map(|(plugin, permissions)| {
        permissions
            .iter()
            .filter(|permission| parse_grant(permission).is_none())
            .map(move |permission| GrantProblem::Unknown {
                plugin: plugin.clone(),
                permission: permission.clone(),
            })
    }));
    for plugin in resolved {
        let manifest = plugin.spec.manifest();
        let granted: Vec<(&str, Scope)> = grants
            .get(&manifest.id)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|grant| parse_grant(grant))
            .collect();
        for permission in &manifest.permissions {
            let name = format!("{}.{}", permission.resource, permission.action);
            let widest = granted
                .iter()
                .filter(|(granted, _)| *granted == name)
                .map(|(_, scope)| *scope)
                .reduce(|a, b| if admits(b, a) { b } else { a });
            match widest {
                None => problems.push(GrantProblem::Ungranted {
                    plugin: manifest.id.clone(),
                    permission: match permission.scope {
                        Scope::PluginOnly => name,
                        wider => format!("{name}:{}", wider.as_str()),
                    },
                }),
                Some(scope) if !admits(scope, permission.scope) => problems.push(GrantProblem::NarrowScope {
                    plugin: manifest.id.clone(),
                    permission: name,
                    asked: permission.scope.as_str(),
                    granted: scope.as_str(),
                }),
                Some(_) => {}
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
    /// The type the application named for this id, when the plugin registered the id
    /// of a named plugin under another type (it was set aside, and never ran).
    pub claims: Option<String>,
}

impl std::fmt::Display for UnexpectedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plugin `{}` ({}, from crate `{}`)",
            self.id, self.type_name, self.crate_name
        )?;
        if let Some(named) = &self.claims {
            write!(
                f,
                ", which registers the id of `{named}` that the application named; it was set aside and `{named}` runs under `{}`",
                self.id
            )?;
        }
        Ok(())
    }
}

fn crate_of(type_name: &str) -> String {
    type_name.split("::").next().unwrap_or_default().to_owned()
}

/// Splits `plugins` into those the application's list allows and those that register
/// the id of a named plugin under another type.
pub(super) fn impostors(
    plugins: Vec<PluginSpec>,
    expected: &[ExpectedPlugin],
) -> (Vec<PluginSpec>, Vec<UnexpectedPlugin>) {
    let mut set_aside = Vec::new();
    // One lookup per plugin: the application may name thousands.
    let by_id: crate::support::FxHashMap<&str, &ExpectedPlugin> =
        expected.iter().map(|named| (named.id, named)).collect();
    let kept = plugins
        .into_iter()
        .filter(|plugin| {
            let named = by_id
                .get(plugin.manifest().id.as_str())
                .filter(|named| named.type_id != plugin.type_id());
            match named {
                Some(named) => {
                    set_aside.push(UnexpectedPlugin {
                        id: plugin.manifest().id.clone(),
                        type_name: plugin.type_name().to_owned(),
                        crate_name: crate_of(plugin.type_name()),
                        claims: Some(named.type_name.to_owned()),
                    });
                    false
                }
                None => true,
            }
        })
        .collect();
    (kept, set_aside)
}

/// A static subscriber whose plugin type claims the id of a plugin of another type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "subscriber `{function}` belongs to `{subscriber_type}`, which registers the id `{id}`, but plugin `{id}` is `{plugin_type}`; a subscriber runs only as the plugin type it names: attach it to `{plugin_type}`, or give `{subscriber_type}` its own id"
)]
pub struct ForeignSubscriber {
    /// The subscribing function's path.
    pub function: String,
    /// The plugin type the subscriber names.
    pub subscriber_type: String,
    /// The id both claim.
    pub id: String,
    /// The type of the plugin that runs under that id.
    pub plugin_type: String,
}

/// Every static subscriber whose type is no resolved plugin's type but whose id is one's.
pub(super) fn foreign_subscribers(resolved: &[ResolvedPlugin]) -> Vec<ForeignSubscriber> {
    crate::registry::static_subscribers()
        .filter(|subscriber| !resolved.iter().any(|p| p.spec.type_id() == subscriber.plugin_type()))
        .filter_map(|subscriber| {
            let plugin = resolved.iter().find(|p| p.spec.manifest().id == subscriber.plugin())?;
            Some(ForeignSubscriber {
                function: subscriber.function().to_owned(),
                subscriber_type: subscriber.plugin_type_name().to_owned(),
                id: subscriber.plugin().to_owned(),
                plugin_type: plugin.spec.type_name().to_owned(),
            })
        })
        .collect()
}

/// The plugins present but not named, when the application named any.
pub(super) fn unexpected(resolved: &[ResolvedPlugin], expected: &[ExpectedPlugin]) -> Vec<UnexpectedPlugin> {
    if expected.is_empty() {
        return Vec::new();
    }
    let named: crate::support::FxHashSet<&str> = expected.iter().map(|e| e.id).collect();
    resolved
        .iter()
        .filter(|plugin| !named.contains(plugin.spec.manifest().id.as_str()))
        .map(|plugin| {
            let type_name = plugin.spec.type_name().to_owned();
            UnexpectedPlugin {
                id: plugin.spec.manifest().id.clone(),
                crate_name: crate_of(&type_name),
                type_name,
                claims: None,
            }
        })
        .collect()
}
