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
//! The traits are not the proof. Each of them requires [`Manifested`], which is sealed
//! and which a type gets only by being registered (`#[register_plugin]` implements
//! [`Registered`] with its manifest), and every permissioned method
//! also checks, while it is compiled for the plugin type, that the *registered manifest*
//! declares the permission. A hand-written `impl EventsPublish for MyPlugin {}` therefore
//! grants nothing: a call that needs it fails to compile with
//!
//! ```text
//! error[E0080]: evaluation panicked: a plugin holds `events.publish` only by declaring it in
//!               its registered manifest: a hand-written impl of the permission trait grants
//!               nothing; add `publish` to `events` in the `permissions` of the manifest
//! note: the above error was encountered while instantiating `fn ...::publish::<Sneaky>`
//! ```
//!
//! The scope of a permission (`plugin-only`, `all`, `user-approved`) is a run-time
//! matter: it depends on whose data or commands a call reaches, which the compiler does
//! not know.
//!
//! [`Context`]: crate::Context
//!
//! Guide chapter: [permissions and the trust model](crate::guide::permissions).

use std::marker::PhantomData;

use crate::registered::{Registered, StaticPermission};

pub(crate) mod sealed {
    /// Implemented only in this crate: for registered plugin types, the application and
    /// the testing helper.
    pub trait Sealed {}
}

/// A caller whose permissions the compiler can know: a registered plugin type (from its
/// registered manifest), or the application ([`HostCaller`], which
/// holds every permission). Sealed: there is no way to hold a permission but to declare
/// it in a registered manifest.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a registered plugin, so it holds no permission",
    label = "permissions come from a registered manifest",
    note = "put `#[patchpanel::register_plugin(...)]` on `{Self}` and declare the permission in its manifest; the permission traits cannot be implemented by hand"
)]
pub trait Manifested: sealed::Sealed {
    /// The permissions the registered manifest declares; `None` holds every one.
    #[doc(hidden)]
    const PERMISSIONS: Option<&'static [StaticPermission]>;
}

impl<P: Registered> sealed::Sealed for P {}

impl<P: Registered> Manifested for P {
    const PERMISSIONS: Option<&'static [StaticPermission]> = Some(P::MANIFEST.permissions);
}

impl sealed::Sealed for HostCaller {}

impl Manifested for HostCaller {
    const PERMISSIONS: Option<&'static [StaticPermission]> = None;
}

/// Whether `permissions` holds `resource.action`, at compile time.
const fn declares(permissions: Option<&[StaticPermission]>, resource: &str, action: &str) -> bool {
    use crate::support::same_str as same;
    let Some(permissions) = permissions else {
        return true;
    };
    let mut index = 0;
    while index < permissions.len() {
        if same(permissions[index].resource, resource) && same(permissions[index].action, action) {
            return true;
        }
        index += 1;
    }
    false
}

/// One bit per permission of the catalogue, in [`RESOURCES`](crate::manifest::RESOURCES) order:
/// what a plugin's manifest declares, precomputed once, so that a run-time check on the
/// dispatch path is one load and one test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Held(u16);

impl Held {
    pub(crate) const EVENTS_PUBLISH: (u16, &'static str, &'static str) = (1 << 3, "events", "publish");
    pub(crate) const MESSAGING_SEND: (u16, &'static str, &'static str) = (1 << 8, "messaging", "send");
    pub(crate) const SERVICES_CONSUME: (u16, &'static str, &'static str) = (1 << 9, "services", "consume");

    /// The permissions `manifest` declares.
    pub(crate) fn of(manifest: &crate::manifest::Manifest) -> Held {
        // One pass over the declared permissions; each bit is the permission's place in
        // the catalogue, resources in order and their actions in order.
        let mut bits = 0_u16;
        for permission in &manifest.permissions {
            let mut index = 0;
            for (resource, actions) in crate::manifest::RESOURCES {
                if *resource == permission.resource {
                    if let Some(offset) = actions.iter().position(|action| *action == permission.action) {
                        bits |= 1 << (index + offset);
                    }
                    break;
                }
                index += actions.len();
            }
        }
        Held(bits)
    }

    /// Whether the permission `(bit, resource, action)` is held.
    #[inline(always)]
    pub(crate) fn holds(self, permission: (u16, &str, &str)) -> bool {
        self.0 & permission.0 != 0
    }
}

/// Compile-time proofs, one associated constant per permission, evaluated when a
/// permissioned method is compiled for a plugin type: `let () = Proof::<P>::EVENTS_PUBLISH;`.
pub(crate) struct Proof<P>(PhantomData<P>);

macro_rules! proofs {
    ($($name:ident = $resource:literal . $action:literal;)*) => {
        impl<P: Manifested> Proof<P> {
            $(
                pub(crate) const $name: () = if !declares(P::PERMISSIONS, $resource, $action) {
                    panic!(concat!(
                        "a plugin holds `", $resource, ".", $action,
                        "` only by declaring it in its registered manifest: a hand-written impl of the permission trait grants nothing; add `",
                        $action, "` to `", $resource, "` in the `permissions` of the manifest"
                    ))
                };
            )*
        }
    };
}

proofs! {
    COMMANDS_EXECUTE = "commands"."execute";
    COMMANDS_INTERCEPT = "commands"."intercept";
    COMMANDS_REGISTER = "commands"."register";
    EVENTS_PUBLISH = "events"."publish";
    EVENTS_SUBSCRIBE = "events"."subscribe";
    HOOKS_DECLARE = "hooks"."declare";
    HOOKS_IMPLEMENT = "hooks"."implement";
    MESSAGING_RECEIVE = "messaging"."receive";
    MESSAGING_SEND = "messaging"."send";
    SERVICES_CONSUME = "services"."consume";
    SERVICES_PROVIDE = "services"."provide";
    STORAGE_READ = "storage"."read";
    STORAGE_TENANTS = "storage"."tenants";
    STORAGE_WRITE = "storage"."write";
}

/// Permission `commands.execute`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `commands.execute`",
    label = "needs `commands.execute`",
    note = "add `execute` to `commands` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ commands = [\"execute\"] }}`"
)]
pub trait CommandsExecute: Manifested {}

/// Permission `commands.intercept`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `commands.intercept`",
    label = "needs `commands.intercept`",
    note = "add `intercept` to `commands` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ commands = [\"intercept\"] }}`"
)]
pub trait CommandsIntercept: Manifested {}

/// Permission `commands.register`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `commands.register`",
    label = "needs `commands.register`",
    note = "add `register` to `commands` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ commands = [\"register\"] }}`"
)]
pub trait CommandsRegister: Manifested {}

/// Permission `events.publish`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `events.publish`",
    label = "needs `events.publish`",
    note = "add `publish` to `events` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ events = [\"publish\"] }}`"
)]
pub trait EventsPublish: Manifested {}

/// Permission `events.subscribe`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `events.subscribe`",
    label = "needs `events.subscribe`",
    note = "add `subscribe` to `events` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ events = [\"subscribe\"] }}`"
)]
pub trait EventsSubscribe: Manifested {}

/// Permission `hooks.declare`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `hooks.declare`",
    label = "needs `hooks.declare`",
    note = "add `declare` to `hooks` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ hooks = [\"declare\"] }}`"
)]
pub trait HooksDeclare: Manifested {}

/// Permission `hooks.implement`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `hooks.implement`",
    label = "needs `hooks.implement`",
    note = "add `implement` to `hooks` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ hooks = [\"implement\"] }}`"
)]
pub trait HooksImplement: Manifested {}

/// Permission `messaging.receive`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `messaging.receive`",
    label = "needs `messaging.receive`",
    note = "add `receive` to `messaging` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ messaging = [\"receive\"] }}`"
)]
pub trait MessagingReceive: Manifested {}

/// Permission `messaging.send`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `messaging.send`",
    label = "needs `messaging.send`",
    note = "add `send` to `messaging` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ messaging = [\"send\"] }}`"
)]
pub trait MessagingSend: Manifested {}

/// Permission `services.consume`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `services.consume`",
    label = "needs `services.consume`",
    note = "add `consume` to `services` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ services = [\"consume\"] }}`"
)]
pub trait ServicesConsume: Manifested {}

/// Permission `services.provide`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `services.provide`",
    label = "needs `services.provide`",
    note = "add `provide` to `services` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ services = [\"provide\"] }}`"
)]
pub trait ServicesProvide: Manifested {}

/// Permission `storage.read`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `storage.read`",
    label = "needs `storage.read`",
    note = "add `read` to `storage` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ storage = [\"read\"] }}`"
)]
pub trait StorageRead: Manifested {}

/// Permission `storage.tenants`: reaching the plugin's storage in another tenant than the
/// host's ([`Storage::tenant`](crate::storage::Storage::tenant)).
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `storage.tenants`",
    label = "needs `storage.tenants`",
    note = "add `tenants` to `storage` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ storage = [\"tenants\"] }}`, and have the application grant it"
)]
pub trait StorageTenants: Manifested {}

/// Permission `storage.write`.
#[diagnostic::on_unimplemented(
    message = "plugin `{Self}` does not declare permission `storage.write`",
    label = "needs `storage.write`",
    note = "add `write` to `storage` in the `permissions` of `{Self}`'s manifest, e.g. `permissions = {{ storage = [\"write\"] }}`"
)]
pub trait StorageWrite: Manifested {}

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
impl StorageTenants for HostCaller {}
#[diagnostic::do_not_recommend]
impl StorageWrite for HostCaller {}

pub(crate) mod check;
pub use check::{HostCaller, PermissionDenied, PermissionRequest};

pub(crate) use check::{ApprovalPolicy, PermissionChecker};

#[cfg(test)]
mod tests {
    use super::Held;

    /// The bits of the checked permissions follow the catalogue's order.
    #[test]
    fn held_bits_follow_the_catalogue() {
        let flat: Vec<(&str, &str)> = crate::manifest::RESOURCES
            .iter()
            .flat_map(|(resource, actions)| actions.iter().map(move |action| (*resource, *action)))
            .collect();
        for (bit, resource, action) in [Held::EVENTS_PUBLISH, Held::MESSAGING_SEND, Held::SERVICES_CONSUME] {
            let index = flat.iter().position(|p| *p == (resource, action)).unwrap();
            assert_eq!(bit, 1 << index, "{resource}.{action}");
        }
    }
}
