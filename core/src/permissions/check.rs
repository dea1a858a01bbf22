//! The run-time half of the permission system: scoped checks against the manifest,
//! each recorded in the audit log.

use std::sync::Arc;

use crate::audit::{Audit, Decision};
use crate::manifest::{Manifest, Scope};

/// The application itself, as a caller: code outside every plugin (`main`, a CLI, a
/// test) dispatching through [`Host`](crate::Host). It holds every permission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCaller;

/// What a `user-approved` permission asks the host's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermissionRequest<'a> {
    /// The plugin asking.
    pub plugin: &'a str,
    /// The resource, e.g. `storage`.
    pub resource: &'a str,
    /// The action, e.g. `read`.
    pub action: &'a str,
    /// Whose data or commands: a plugin id.
    pub target: &'a str,
}

/// The host's answer to `user-approved` requests; see
/// [`HostBuilder::approval_policy`](crate::host::HostBuilder::approval_policy).
pub(crate) type ApprovalPolicy = Arc<dyn Fn(&PermissionRequest<'_>) -> bool + Send + Sync>;

/// A permission check failed at run time.
///
/// Guide: [permissions and the trust model](crate::guide::permissions).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("permission denied: plugin `{plugin}` may not {resource}.{action} on `{target}`: {reason}")]
pub struct PermissionDenied {
    /// The plugin that asked.
    pub plugin: String,
    /// The resource asked for: `storage`, `events`, `commands`...
    pub resource: String,
    /// The action asked for on that resource.
    pub action: String,
    /// The scope its manifest declares for `resource.action`, if it declares it.
    pub scope: Option<Scope>,
    /// Whose data or commands it reached for.
    pub target: String,
    /// Why, and how to allow it.
    pub reason: String,
}

/// Decides scoped access and records each decision in the audit log.
pub(crate) struct PermissionChecker {
    policy: Option<ApprovalPolicy>,
    pub(crate) audit: Arc<Audit>,
}

impl PermissionChecker {
    pub(crate) fn new(policy: Option<ApprovalPolicy>, audit: Arc<Audit>) -> PermissionChecker {
        PermissionChecker { policy, audit }
    }

    /// Whether plugin `manifest` may do `resource.action` on `target` (a plugin id).
    /// Its own namespace needs the permission declared; another's needs scope `all`, or
    /// `user-approved` and the host's policy saying yes.
    pub(crate) fn check(
        &self,
        plugin: &Arc<str>,
        manifest: &Manifest,
        resource: &str,
        action: &str,
        target: &str,
    ) -> Result<(), Box<PermissionDenied>> {
        self.check_noted(plugin, manifest, resource, action, target, "")
    }

    /// [`PermissionChecker::check`] with `note` (say, which tenants) added to the audit
    /// record and to a refusal's reason.
    pub(crate) fn check_noted(
        &self,
        plugin: &Arc<str>,
        manifest: &Manifest,
        resource: &str,
        action: &str,
        target: &str,
        note: &str,
    ) -> Result<(), Box<PermissionDenied>> {
        let permission = manifest.permission(resource, action);
        let refusal = match permission.map(|p| p.scope) {
            None => Some(format!(
                "its manifest does not declare `{resource}.{action}`; add `{resource} = [\"{action}\"]` to its permissions"
            )),
            Some(_) if target == manifest.id => None,
            Some(Scope::All) => None,
            Some(Scope::PluginOnly) => Some(format!(
                "its manifest declares `{resource}.{action}` for its own namespace only; declare `{resource} = {{ {action} = true, scope = \"all\" }}` to reach other plugins"
            )),
            Some(Scope::UserApproved) => {
                let request = PermissionRequest {
                    plugin: &manifest.id,
                    resource,
                    action,
                    target,
                };
                match &self.policy {
                    Some(policy) if policy(&request) => None,
                    Some(_) => Some("the host's approval policy refused it".to_owned()),
                    None => Some("its scope is `user-approved` and the host has no approval policy; set one with `HostBuilder::approval_policy`".to_owned()),
                }
            }
        };
        let action_name = action_name(resource, action);
        // The scope the decision was made under, in the audit record, when the target
        // is not the plugin's own namespace.
        let scope = match permission {
            Some(permission) if target != manifest.id => format!(" (scope `{}`)", permission.scope.as_str()),
            _ => String::new(),
        };
        match refusal {
            None => {
                self.audit.record(
                    plugin,
                    action_name,
                    Decision::Allowed,
                    format!("target `{target}`{scope}{note}"),
                );
                Ok(())
            }
            Some(reason) => {
                self.audit.record(
                    plugin,
                    action_name,
                    Decision::Denied,
                    format!("target `{target}`{scope}{note}: {reason}"),
                );
                let reason = if note.is_empty() {
                    reason
                } else {
                    format!("{reason} ({})", note.trim_start())
                };
                Err(Box::new(PermissionDenied {
                    plugin: manifest.id.clone(),
                    resource: resource.to_owned(),
                    action: action.to_owned(),
                    scope: permission.map(|p| p.scope),
                    target: target.to_owned(),
                    reason,
                }))
            }
        }
    }
}

/// `resource.action` as the audit trail names it: a static string for every permission
/// of the catalogue, so that an allowed decision (audited on every storage access)
/// allocates nothing for it.
fn action_name(resource: &str, action: &str) -> std::borrow::Cow<'static, str> {
    const NAMES: &[&str] = &[
        "commands.execute",
        "commands.intercept",
        "commands.register",
        "events.publish",
        "events.subscribe",
        "hooks.declare",
        "hooks.implement",
        "messaging.receive",
        "messaging.send",
        "services.consume",
        "services.provide",
        "storage.read",
        "storage.tenants",
        "storage.write",
    ];
    NAMES
        .iter()
        .find(|name| {
            name.len() == resource.len() + 1 + action.len()
                && name.starts_with(resource)
                && name[resource.len()..].starts_with('.')
                && name.ends_with(action)
        })
        .map_or_else(|| format!("{resource}.{action}").into(), |name| (*name).into())
}

crate::error::plugin_error_from!(PermissionDenied, Box<PermissionDenied>);

#[cfg(test)]
mod tests {
    use super::action_name;

    #[test]
    fn every_permission_of_the_catalogue_has_a_static_audit_name() {
        for (resource, actions) in crate::manifest::RESOURCES {
            for action in *actions {
                let name = action_name(resource, action);
                assert!(matches!(name, std::borrow::Cow::Borrowed(_)), "{resource}.{action}");
                assert_eq!(name, format!("{resource}.{action}"));
            }
        }
        assert_eq!(action_name("storage", "delete"), "storage.delete");
    }
}
