//! Permissions, enforced by the compiler.
//!
//! Each permission of the catalogue is a marker trait. `#[register_plugin]` implements,
//! on the plugin type, exactly the traits its manifest declares, and every [`Context`]
//! method that needs a permission requires it of the plugin type. A plugin that uses a
//! capability its manifest does not declare therefore fails at `cargo build`:
//!
//! ```text
//! error[E0277]: plugin `Greeter` does not declare permission `events.subscribe`
//!   --> src/lib.rs:12:17
//!    |
//! 12 |         context.subscribe(|_, event: &Greeted| Ok(()));
//!    |                 ^^^^^^^^^ needs `events.subscribe`
//!    = note: add `subscribe` to `events` in the `permissions` of `Greeter`'s manifest
//! ```
//!
//! The scope of a permission (`plugin-only`, `all`, `user-approved`) is a run-time
//! matter: it depends on whose data or commands a call reaches, which the compiler does
//! not know.
//!
//! [`Context`]: crate::Context

/// The application itself, as a caller: code outside every plugin (`main`, a CLI, a
/// test) dispatching through [`Host`](crate::Host). It holds every permission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCaller;

/// Permission `commands.execute`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `commands.execute`",
    label = "needs `commands.execute`",
    note = "add `execute` to `commands` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ commands = [\"execute\"] }}`"
)]
pub trait CommandsExecute {}

/// Permission `commands.intercept`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `commands.intercept`",
    label = "needs `commands.intercept`",
    note = "add `intercept` to `commands` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ commands = [\"intercept\"] }}`"
)]
pub trait CommandsIntercept {}

/// Permission `commands.register`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `commands.register`",
    label = "needs `commands.register`",
    note = "add `register` to `commands` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ commands = [\"register\"] }}`"
)]
pub trait CommandsRegister {}

/// Permission `events.publish`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `events.publish`",
    label = "needs `events.publish`",
    note = "add `publish` to `events` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ events = [\"publish\"] }}`"
)]
pub trait EventsPublish {}

/// Permission `events.subscribe`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `events.subscribe`",
    label = "needs `events.subscribe`",
    note = "add `subscribe` to `events` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ events = [\"subscribe\"] }}`"
)]
pub trait EventsSubscribe {}

/// Permission `hooks.declare`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `hooks.declare`",
    label = "needs `hooks.declare`",
    note = "add `declare` to `hooks` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ hooks = [\"declare\"] }}`"
)]
pub trait HooksDeclare {}

/// Permission `hooks.implement`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `hooks.implement`",
    label = "needs `hooks.implement`",
    note = "add `implement` to `hooks` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ hooks = [\"implement\"] }}`"
)]
pub trait HooksImplement {}

/// Permission `messaging.receive`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `messaging.receive`",
    label = "needs `messaging.receive`",
    note = "add `receive` to `messaging` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ messaging = [\"receive\"] }}`"
)]
pub trait MessagingReceive {}

/// Permission `messaging.send`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `messaging.send`",
    label = "needs `messaging.send`",
    note = "add `send` to `messaging` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ messaging = [\"send\"] }}`"
)]
pub trait MessagingSend {}

/// Permission `services.consume`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `services.consume`",
    label = "needs `services.consume`",
    note = "add `consume` to `services` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ services = [\"consume\"] }}`"
)]
pub trait ServicesConsume {}

/// Permission `services.provide`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `services.provide`",
    label = "needs `services.provide`",
    note = "add `provide` to `services` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ services = [\"provide\"] }}`"
)]
pub trait ServicesProvide {}

/// Permission `storage.read`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `storage.read`",
    label = "needs `storage.read`",
    note = "add `read` to `storage` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ storage = [\"read\"] }}`"
)]
pub trait StorageRead {}

/// Permission `storage.write`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `storage.write`",
    label = "needs `storage.write`",
    note = "add `write` to `storage` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ storage = [\"write\"] }}`"
)]
pub trait StorageWrite {}

#[diagnostic::do_not_recommend]
impl CommandsExecute for HostCaller {}
#[diagnostic::do_not_recommend]
impl CommandsIntercept for HostCaller {}
#[diagnostic::do_not_recommend]
impl CommandsRegister for HostCaller {}
#[diagnostic::do_not_recommend]
impl EventsPublish for HostCaller {}
#[diagnostic::do_not_recommend]
impl EventsSubscribe for HostCaller {}
#[diagnostic::do_not_recommend]
impl HooksDeclare for HostCaller {}
#[diagnostic::do_not_recommend]
impl HooksImplement for HostCaller {}
#[diagnostic::do_not_recommend]
impl MessagingReceive for HostCaller {}
#[diagnostic::do_not_recommend]
impl MessagingSend for HostCaller {}
#[diagnostic::do_not_recommend]
impl ServicesConsume for HostCaller {}
#[diagnostic::do_not_recommend]
impl ServicesProvide for HostCaller {}
#[diagnostic::do_not_recommend]
impl StorageRead for HostCaller {}
#[diagnostic::do_not_recommend]
impl StorageWrite for HostCaller {}

// ---------------------------------------------------------------- run time

use std::sync::Arc;

use crate::audit::{Audit, Decision};
use crate::manifest::{Manifest, Scope};

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
/// [`HostBuilder::approval_policy`](crate::HostBuilder::approval_policy).
pub type ApprovalPolicy = Arc<dyn Fn(&PermissionRequest<'_>) -> bool + Send + Sync>;

/// A permission check failed at run time.
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
        manifest: &Manifest,
        resource: &str,
        action: &str,
        target: &str,
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
        let action_name = format!("{resource}.{action}");
        match refusal {
            None => {
                self.audit.record(
                    &Arc::from(manifest.id.as_str()),
                    action_name,
                    Decision::Allowed,
                    format!("target `{target}`"),
                );
                Ok(())
            }
            Some(reason) => {
                self.audit.record(
                    &Arc::from(manifest.id.as_str()),
                    action_name,
                    Decision::Denied,
                    format!("target `{target}`: {reason}"),
                );
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

crate::error::plugin_error_from!(PermissionDenied, Box<PermissionDenied>);
