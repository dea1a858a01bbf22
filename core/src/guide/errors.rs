//! # The error catalogue
//!
//! Every error names the plugin, the field or command at fault, and the fix. This
//! chapter lists them by when they happen.
//!
//! ## At build time (`cargo build`)
//!
//! The manifest checks of `#[register_plugin]`; this repository pins each message with a
//! trybuild case (`tests/ui/`) and its exact `.stderr`.
//!
//! | mistake | message begins | case |
//! |---|---|---|
//! | id breaks the rule | ``the plugin id `Greeter_1` must start with a lowercase letter`` (help suggests `greeter-1`) | `invalid-id` |
//! | version not semver | `` `1.0` is not a semver version for `version` `` (help: `1.0.0`) | `version-not-semver` |
//! | range does not parse | `` `^^1` is not a version range for dependency `kv-store` `` | `dependency-range-invalid` |
//! | dependency id invalid | ``dependency plugin id `KvStore` must start with a lowercase letter`` (help: `kv-store`) | `dependency-id-invalid` |
//! | unknown resource | ``unknown permission resource `storag` `` + did you mean `storage` | `unknown-permission-resource` |
//! | unknown action | ``unknown action `wirte` for permission resource `storage` `` + did you mean `write` | `unknown-permission-action` |
//! | unknown scope | ``unknown permission scope `everyone` `` | `unknown-permission-scope` |
//! | unknown feature | ``unknown required feature `event` `` + did you mean `events` | `unknown-required-feature` |
//! | host too old | ``plugin `demo` needs patchpanel 99.0.0 or newer, but this is patchpanel 0.1.0`` | `min-host-version-too-new` |
//! | self-dependency | ``plugin `demo` depends on itself`` | `self-dependency` |
//! | missing id | ``the manifest has no `id` `` | `missing-id` |
//! | missing version (JSON) | ``no-version.json:1:1: the manifest of `demo` has no `version` `` | `manifest-json-missing-version` |
//! | unknown field | ``unknown manifest field `dependancies` `` + did you mean `dependencies` | `unknown-field` |
//! | wrong value type | `` `version` must be a string, found an integer `` | `wrong-value-type` |
//! | manifest file missing | ``cannot read the plugin manifest `no-such-file.json`: no such file`` | `manifest-file-missing` |
//! | JSON syntax | `broken.json:5:32: plugin.json does not parse: trailing comma` | `manifest-json-syntax` |
//! | guide's `main` field | ``unknown manifest field `main` `` (help: the registered type is the entry) | `manifest-json-guide-main-field` |
//! | Cargo.toml mistakes | `Cargo.toml:9:1: unknown manifest field ...`, with line and column | `cargo-toml-metadata-errors` |
//! | file and inline mixed | `` `id` cannot be given inline together with `manifest = ...` `` | `manifest-with-inline-fields` |
//! | not a struct or enum | `` `#[register_plugin]` goes on the plugin's struct or enum, not on a function `` | `not-a-type` |
//! | generic type | `a registered plugin cannot be generic` | `generic-type` |
//! | no `Plugin` impl | `` `Demo` is not a plugin `` | `not-a-plugin` |
//! | `async fn activate` | `` `impl Plugin for Eager` declares `async fn activate`, but `Plugin::activate` is synchronous `` (help: rename it `activate_async`), beside rustc's E0053 at the method; read from the attribute's own file, so an impl in another file gets E0053 alone | `async-activate` |
//! | several at once | every mistake is reported in one build | `several-errors-at-once` |
//!
//! Permission errors are `E0277` at the call that needs the permission
//! ([permissions](super::permissions)); `link_plugins!` errors are `E0080` at the
//! macro ([features](super::features)).
//!
//! ## At start-up ([`HostBuilder::build`](crate::host::HostBuilder::build))
//!
//! [`StartError::Resolve`](crate::host::StartError::Resolve) carries every
//! [`ResolveError`](crate::resolve::ResolveError) found, not only the first; nothing is
//! started when resolution fails.
//!
//! | error | example message |
//! |---|---|
//! | `DuplicateId` | ``plugin `kv-store` 1.0.0 is registered twice, by `a::KvStore` and by `b::KvStore`; remove one of the two crates from the build, or give one a new id or version`` |
//! | `MissingDependency` | ``plugin `greeter` depends on `kv-store` (^1), which is not linked; add the crate that registers `kv-store` and name it in `link_plugins!`, or mark the dependency optional`` |
//! | `NoMatchingVersion` | ``plugin `greeter` needs `kv-store` ^2.0, but the linked versions are 1.2.0, 1.4.0; change the range in `greeter`'s manifest or link a matching version of `kv-store` `` |
//! | `Cycle` | `dependency cycle: a -> b -> c -> a; remove one of these dependencies` |
//! | `HostVersion` | ``plugin `new-plugin` needs patchpanel 0.1.0 or newer, but this host is 0.0.5; ...`` |
//! | `MissingFeature` | ``plugin `kv-store` requires host feature `storage`, which this host does not offer (available: events); ...`` |
//! | `NotRegistered` | ``plugin `ghost` (ghost::Ghost) is expected by `link_plugins!` but is not in the registry; ...`` |
//! | `PinConflict` | ``plugin `app` needs `clock` ^2, but the application pins `clock` to ^1, which runs 1.4.0; change the pin or `app`'s range so that both accept one version`` |
//! | `PinUnsatisfied` | ``the application pins `clock` to ^3, but the linked versions are 1.4.0, 2.1.0; change the pin, or link a version it accepts`` |
//! | `PinUnknown` | ``the application pins `clok`, but no linked plugin has that id (did you mean `clock`?); correct the id, or remove the pin`` |
//! | `StartError::Strict` | ``strict mode: plugin `c` failed (activate returned an error: c refuses to start); start-up aborted, deactivated: [b, a]`` |
//! | `StartError::NotGranted` | ``plugin `wide` asks for `storage.read` at scope `all`, which the application grants only at scope `plugin-only`; grant `storage.read:all` ...``; ``the application grants permissions to `raeder`, but no linked plugin has that id (did you mean `reader`?); ...`` |
//! | `StartError::NoGrants` | ``no grants are stated for the 5 linked plugins that ask for permissions (...): any linked crate can register a plugin, so state what each may hold ...; or call `HostBuilder::trust_linked_plugins()` ...`` |
//! | `StartError::ForeignSubscriber` | ``subscriber `identity::forge` belongs to `identity::Impostor`, which registers the id `audit-trail`, but plugin `audit-trail` is `audit_trail::AuditTrail`; ...`` |
//!
//! A plugin that fails at start-up keeps going without it (unless strict), with its
//! `Failure`: `Configure`, `Activate`, `Panicked` (with where), `Contributions` (``what it
//! registered differs from the `contributes` of its manifest: registered but not declared:
//! hook `every`; declared but not registered: command `stop`; make the two match``),
//! `Deadline` (`did not activate within 50 ms`), `DependencyFailed`.
//!
//! ```
//! use patchpanel::host::StartError;
//! use patchpanel::testing::fn_plugin;
//! use patchpanel::{Host, Manifest};
//!
//! let node = |id: &str, dep: &str| fn_plugin(Manifest::builder(id, "1.0.0").depends_on(dep, "^1").build().unwrap(), |_| Ok(()));
//! let error = Host::builder().plugins(vec![node("a", "b"), node("b", "c"), node("c", "a")]).build().unwrap_err();
//! assert!(matches!(error, StartError::Resolve(_)));
//! assert_eq!(error.to_string(), "dependency cycle: a -> b -> c -> a; remove one of these dependencies");
//!
//! let strict = Host::builder()
//!     .plugins(vec![fn_plugin(Manifest::builder("broken", "1.0.0").build()?, |_| Err(patchpanel::PluginError::new("gave up")))])
//!     .strict(true)
//!     .build()
//!     .unwrap_err();
//! assert!(matches!(strict, StartError::Strict { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## At dispatch time
//!
//! [`DispatchError`](crate::commands::DispatchError) (match on `error.kind()`), each naming
//! the command and the plugin:
//!
//! | kind | example message |
//! |---|---|
//! | `UnknownCommand` | ``unknown command `math:doubel`; did you mean `math:double`?`` |
//! | `WrongType` | ``command `math:double` takes `u64` and returns `u64`, but was called with `alloc::string::String` -> `u64` `` |
//! | `NotActive` | ``command `math:double` is unavailable: plugin `math` is disabled`` |
//! | `TooDeep` | ``command `a:ping` was not run: calls nest deeper than 64 on this thread; ...`` |
//! | `Handler` | ``command `math:fail` failed in plugin `math`: no can do`` |
//! | `Panicked` | ``command `math:panic` panicked in plugin `math`: handler exploded`` |
//! | `Rejected` | ``command `greeter:hello` was rejected: auth-guard: missing or wrong `token` metadata`` |
//! | `GuardDown` | a guard that is disabled, failed or absent: the command does not run unguarded |
//! | `Json` | ``command `greeter:hello`: the request is not a valid `greeter::Hello`: missing field `name` `` |
//! | `Asynchronous` | ``command `clock:echo` is async: call it with `execute_async` or `execute_json_async` ...`` |
//! | `Denied` | ``permission denied: plugin `narrow` may not commands.execute on `target`: ...`` |
//!
//! ```
//! use patchpanel::commands::DispatchErrorKind;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{Host, Manifest, PluginError};
//!
//! let math = fn_plugin(with_every_permission(Manifest::builder("math", "1.0.0")).build()?, |context| {
//!     context.command("double", |_, n: u64| Ok(n * 2))?;
//!     context.command("fail", |_, (): ()| -> Result<(), _> { Err(PluginError::new("no can do")) })?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![math]).build()?;
//!
//! let wrong = host.execute::<String, u64>("math:double", "two".into()).unwrap_err();
//! assert!(matches!(wrong.kind(), DispatchErrorKind::WrongType { .. }));
//! assert_eq!(
//!     wrong.to_string(),
//!     "command `math:double` takes `u64` and returns `u64`, but was called with `alloc::string::String` -> `u64`"
//! );
//! let failed = host.execute::<(), ()>("math:fail", ()).unwrap_err();
//! assert_eq!(failed.to_string(), "command `math:fail` failed in plugin `math`: no can do");
//!
//! host.disable("math")?;
//! let down = host.execute::<u64, u64>("math:double", 1).unwrap_err();
//! assert!(matches!(down.kind(), DispatchErrorKind::NotActive { .. }));
//! assert_eq!(down.to_string(), "command `math:double` is unavailable: plugin `math` is disabled");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`RegistrationError`](crate::RegistrationError) (a command outside the plugin's
//! namespace, an invalid name, a duplicate), [`ServiceError`](crate::services::ServiceError),
//! [`HookError`](crate::hooks::HookError), [`HookWiringError`](crate::hooks::HookWiringError)
//! and [`MessageError`](crate::messaging::MessageError) follow the same pattern. A handler
//! can `?` any of them, and [`StorageError`](crate::storage::StorageError),
//! [`ConfigError`](crate::config::ConfigError) and
//! [`PermissionDenied`](crate::permissions::PermissionDenied): each converts into
//! [`PluginError`](crate::PluginError) keeping its message and cause chain, and
//! [`PluginError::wrapped`](crate::PluginError::wrapped) gives the original back:
//!
//! ```
//! use patchpanel::commands::DispatchError;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::{Host, Manifest, PluginError};
//!
//! let relay = fn_plugin(with_every_permission(Manifest::builder("relay", "1.0.0")).build()?, |context| {
//!     context.command("forward", |call, (): ()| {
//!         let error: PluginError = call.execute::<(), ()>("relay:missing", ()).unwrap_err().into();
//!         let original = error.wrapped().and_then(|e| e.downcast_ref::<DispatchError>()).unwrap();
//!         Ok(original.to_string())
//!     })?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![relay]).build()?;
//! assert_eq!(host.execute::<(), String>("relay:forward", ())?, "unknown command `relay:missing`");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Lifecycle requests
//!
//! [`LifecycleError`](crate::lifecycle::LifecycleError), each naming the plugin:
//! `UnknownPlugin` (with a did-you-mean), `InvalidTransition`, `DependentsActive`,
//! `DependencyInactive`, `InsideCall`, `Reentered`, `NotLoaded`, `Failed`, and
//! `ReloadFailed`, which names the step.
//!
//! ```
//! use patchpanel::lifecycle::LifecycleError;
//! use patchpanel::testing::fn_plugin;
//! use patchpanel::{Host, Manifest};
//!
//! let host = Host::builder().plugins(vec![fn_plugin(Manifest::builder("greeter", "1.0.0").build()?, |_| Ok(()))]).build()?;
//! let error = host.disable("greter").unwrap_err();
//! assert!(matches!(error, LifecycleError::UnknownPlugin { .. }));
//! assert_eq!(error.to_string(), "no plugin `greter` is running in this host; did you mean `greeter`?");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
