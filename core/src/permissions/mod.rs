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

pub(crate) mod check;

pub(crate) use check::{ApprovalPolicy, HostCaller, PermissionChecker, PermissionDenied, PermissionRequest};
