//! # Permissions and the trust model
//!
//! ## Checked by the compiler
//!
//! A plugin that uses a capability its manifest does not declare fails at
//! `cargo build`. `#[register_plugin]` turns the declared permissions into marker traits
//! on the plugin type ([`permissions`](crate::permissions)), and every method that needs
//! one requires it: registering, subscribing, intercepting, providing and consuming
//! services, declaring and implementing hooks, receiving messages and using storage on
//! the [`Context`](crate::Context); publishing, executing commands and sending messages
//! on the [`Call`](crate::Call) a handler receives.
//!
//! ```text
//! error[E0277]: plugin `Greeter` does not declare permission `events.publish`
//!   --> src/lib.rs:12:18
//!    |
//! 12 |             call.publish(&Greeted);
//!    |                  ^^^^^^^ needs `events.publish`
//!    = note: add `publish` to `events` in the `permissions` of `Greeter`'s manifest, e.g. `permissions = { events = ["publish"] }`
//! ```
//!
//! That error, as a test:
//!
//! ```compile_fail,E0277
//! use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!
//! pub struct Greeted;
//!
//! #[register_plugin(id = "quiet-greeter", version = "1.0.0", permissions = { commands = ["register"] })]
//! #[derive(Default)]
//! pub struct Greeter;
//!
//! impl Plugin for Greeter {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         context.command("hello", |call, (): ()| {
//!             call.publish(&Greeted); // needs `events.publish`
//!             Ok(())
//!         })?;
//!         Ok(())
//!     }
//! }
//! ```
//!
//! Storage needs `storage.read` / `storage.write`:
//!
//! ```compile_fail,E0277
//! use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!
//! #[register_plugin(id = "reader-only", version = "1.0.0", permissions = { storage = ["read"] })]
//! #[derive(Default)]
//! pub struct Reader;
//!
//! impl Plugin for Reader {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         context.storage().put("key", b"value")?; // needs `storage.write`
//!         Ok(())
//!     }
//! }
//! ```
//!
//! The traits cannot be had another way: implementing one by hand is refused.
//!
//! ```compile_fail
//! use patchpanel::{Context, Plugin, PluginError, register_plugin};
//!
//! #[register_plugin(id = "forger", version = "1.0.0")]
//! #[derive(Default)]
//! pub struct Forger;
//! impl Plugin for Forger {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//! impl patchpanel::permissions::StorageWrite for Forger {} // refused at `cargo build`
//! ```
//!
//! ## Scopes, checked at run time
//!
//! Scopes are decided where the target is known. Reading another plugin's storage,
//! running another plugin's command by id, or wrapping another plugin's commands in
//! middleware needs scope `all`, or `user-approved` and a yes from
//! [`HostBuilder::approval_policy`](crate::host::HostBuilder::approval_policy). A refusal is
//! a typed [`PermissionDenied`](crate::permissions::PermissionDenied) naming the plugin,
//! resource, action, scope and target, and an audit record.
//!
//! | permission | `plugin-only` (the default) allows | `all` allows |
//! |---|---|---|
//! | `commands.register` | its own ids, `<id>:name` | the same |
//! | `commands.execute` | its own commands | any plugin's |
//! | `commands.intercept` | middleware and guards within `<id>:` | any pattern (`*`, `kv-store:get`) |
//! | `storage.read`, `storage.write` | its own namespace | any plugin's namespace |
//! | `storage.tenants` | its own namespace in another tenant | the same |
//! | `events.*`, `hooks.*`, `messaging.*`, `services.*` | as declared (they name no other plugin's data) | the same |
//!
//! ```
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, register_plugin};
//! use patchpanel::storage::StorageError;
//!
//! #[register_plugin(id = "vault", version = "1.0.0", permissions = { storage = ["write"], commands = ["register"] })]
//! #[derive(Default)]
//! pub struct Vault;
//! impl Plugin for Vault {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         context.storage().put("secret", b"42")?;
//!         Ok(())
//!     }
//! }
//!
//! #[register_plugin(id = "snoop", version = "1.0.0", permissions = { storage = ["read"], commands = ["register"] })]
//! #[derive(Default)]
//! pub struct Snoop;
//! impl Plugin for Snoop {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         let storage = context.storage();
//!         context.command("peek", move |_, (): ()| {
//!             // Its own namespace is fine; the vault's needs `storage.read` at scope `all`.
//!             Ok(match storage.read_from("vault", "secret") {
//!                 Err(StorageError::Denied(denied)) => denied.to_string(),
//!                 other => format!("{other:?}"),
//!             })
//!         })?;
//!         Ok(())
//!     }
//! }
//!
//! let host = Host::builder()
//!     .plugins(vec![PluginSpec::registered::<Vault>()?, PluginSpec::registered::<Snoop>()?])
//!     .build()?;
//! let answer = host.execute::<(), String>("snoop:peek", ())?;
//! assert!(answer.starts_with("permission denied: plugin `snoop` may not storage.read on `vault`"), "{answer}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What the application grants
//!
//! The application states what each plugin may hold: in `link_plugins!`
//! (`kv_store::KvStore => ["storage.read", "storage.write"]`, then
//! [`HostBuilder::grants(linked_grants())`](crate::host::HostBuilder::grants)), with
//! [`HostBuilder::grant`](crate::host::HostBuilder::grant), or in a `[grants]` table of the
//! config file. A grant carries a scope: `storage.read` admits the plugin's own
//! namespace, `storage.read:all` any plugin's. A plugin whose manifest asks for more
//! stops the start-up with [`StartError::NotGranted`](crate::host::StartError::NotGranted),
//! naming the plugin, the permission and the grant to add.
//!
//! ```
//! use patchpanel::host::StartError;
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, register_plugin};
//!
//! #[register_plugin(id = "wide", version = "1.0.0", permissions = { storage = { read = true, scope = "all" } })]
//! #[derive(Default)]
//! pub struct Wide;
//! impl Plugin for Wide {
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//!
//! let refused = Host::builder()
//!     .plugins(vec![PluginSpec::registered::<Wide>()?])
//!     .grant("wide", ["storage.read"])
//!     .build()
//!     .unwrap_err();
//! assert!(matches!(refused, StartError::NotGranted { .. }));
//! assert!(refused.to_string().contains("grant `storage.read:all`"), "{refused}");
//!
//! let host = Host::builder()
//!     .plugins(vec![PluginSpec::registered::<Wide>()?])
//!     .grant("wide", ["storage.read:all"])
//!     .build()?;
//! assert_eq!(host.state("wide"), Some(patchpanel::State::Active));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Grants fail closed: a host built from the link-time registry with no grants stated
//! does not start when a plugin asks for a permission
//! ([`StartError::NoGrants`](crate::host::StartError::NoGrants)), unless the application
//! calls [`HostBuilder::trust_linked_plugins`](crate::host::HostBuilder::trust_linked_plugins),
//! which is audited. A host over an explicit `.plugins(vec![..])` list (a test, a bench)
//! names each plugin in code and runs without grants unless some are stated.
//!
//! ## The trust model
//!
//! Static means trusted: every plugin is Rust compiled into your binary. The permission
//! system catches mistakes and review gaps in that trusted code; it does not, and
//! cannot, stop malicious code in the same process, which can do anything Rust allows:
//! `unsafe`, reading another plugin's memory, opening files and sockets directly
//! (including the database file), calling the storage backend directly, spawning
//! threads that outlive a disable. Within that model, this holds:
//!
//! - **Compile time.** A method that needs a permission requires its marker trait; the
//!   traits require a sealed trait only registered types get; a hand-written impl of a
//!   permission the manifest does not declare fails `cargo check`; `#[subscribe(P)]`
//!   attaches only to a plugin type of the same crate. Tests: `tests/ui/permission-*.rs`,
//!   `hand-written-impl-*.rs`, `subscribe-foreign-plugin.rs`.
//! - **Run time.** Every registration is checked against the manifest once, when it is
//!   made, and audited. Publishing, sending and taking a service from a handler are
//!   checked when used; storage, another plugin's commands and `user-approved` scopes at
//!   each use. Middleware at the default scope wraps only the plugin's own commands. A
//!   service call runs the provider's code with the provider's rights, and its audit
//!   records say on whose behalf. Tests: `tests/tests/trust.rs`
//!   (`every_registration_is_checked_against_the_manifest_at_run_time_and_audited`,
//!   `publishing_sending_and_consuming_are_checked_at_run_time_when_used`,
//!   `intercept_at_plugin_only_scope_wraps_only_the_plugins_own_commands`,
//!   `a_service_call_acts_with_the_providers_rights_on_behalf_of_the_consumer`),
//!   `storage.rs` (`reading_another_plugin_needs_scope_all`).
//! - **Grants** fail closed, as above. Tests: `trust.rs`
//!   (`a_plugin_asking_for_more_than_it_is_granted_stops_the_start`,
//!   `a_grant_without_a_scope_does_not_admit_a_wider_one`,
//!   `a_grant_for_an_id_no_plugin_has_is_an_error_with_a_suggestion`), `registry.rs`
//!   (`a_host_from_the_registry_needs_grants_or_an_explicit_trust`,
//!   `grants_stated_in_link_plugins_are_enforced`).
//! - **Guards fail closed.** A guard (`context.guard(..)`, or
//!   [`HostBuilder::guarded_by`](crate::host::HostBuilder::guarded_by)) that is disabled,
//!   failed or absent makes the commands it guards fail with `GuardDown` instead of
//!   running unguarded; an empty token in the demo's auth-guard is a configuration
//!   error. Tests: `trust.rs` (`a_guard_*`, `an_application_declared_guard_*`).
//! - **Tenants.** Which tenant a plugin's storage, events and services belong to is the
//!   host's decision ([`HostBuilder::build_tenants`](crate::host::HostBuilder::build_tenants):
//!   one host per tenant). Reaching another tenant's storage needs `storage.tenants`,
//!   declared, granted, checked and audited with both tenants; keys never mix on any
//!   backend. Tests: property tests over tenant names and plugin pairs on both backends,
//!   `tests/tests/tenant_reach.rs` and `tenant_keys.rs`.
//! - **Identity is a type.** A static subscriber attaches to the plugin whose registered
//!   type it names, never to an id. When the application names its plugins
//!   (`link_plugins!`, [`HostBuilder::expect`](crate::host::HostBuilder::expect)), each id
//!   is bound to the type named: another type registering that id, at any version, is
//!   set aside, reported by [`Host::unexpected_plugins`](crate::Host::unexpected_plugins)
//!   and refused in strict mode. Test: `tests/tests/identity.rs` reproduces both attacks
//!   (a forged subscriber, an id squatted at a higher version).
//! - **Stored data is exact or refused.** `RedbStorage` verifies the file's checksums
//!   when it opens, so a damaged value is an error, never garbage
//!   (`storage_faults.rs`: `every_damaged_block_is_refused_or_read_exactly`).
//!
//! Every permission decision and every lifecycle transition becomes an audit record
//! ([`audit`](crate::audit)): the `tracing` target `patchpanel::audit`, a ring buffer
//! (`host.audit().records()`), and with
//! [`HostBuilder::audit_file`](crate::host::HostBuilder::audit_file) a JSON-lines file.
//!
//! **What the checks do not cover:** code in the same process that sets out to get
//! around them (see above); [`testing::fn_plugin`](crate::testing::fn_plugin), which
//! holds every permission at compile time (its manifest is built at run time and the
//! run-time checks follow it); a hand-written `impl Registered` with a made-up manifest,
//! which is a registration like any other; an application that names no plugins gets
//! no id-to-type binding; and one that calls `trust_linked_plugins()`, or lists plugins
//! by hand without grants, runs each with what its manifest asks for. There is no
//! `network` resource: the host cannot mediate calls a compiled-in plugin makes
//! directly.
//!
//! Next: [storage and configuration](super::storage).
