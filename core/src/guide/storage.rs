//! # Storage and configuration
//!
//! ## Storage
//!
//! [`Context::storage`](crate::Context::storage) returns the plugin's namespaced
//! key-value store ([`Storage`](crate::storage::Storage)): bytes, or any serde type with
//! `get_json` / `put_json`. A plugin sees only its own namespace unless its manifest
//! asks for scope `all`; reads need `storage.read`, writes `storage.write`, both checked
//! by the compiler.
//!
//! ```
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, register_plugin};
//!
//! #[register_plugin(id = "visits", version = "1.0.0", permissions = { storage = ["read", "write"], commands = ["register"] })]
//! #[derive(Default)]
//! pub struct Visits;
//!
//! impl Plugin for Visits {
//!     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         let storage = context.storage();
//!         context.command("visit", move |_, page: String| {
//!             // One atomic read-modify-write: concurrent visits lose nothing.
//!             storage.update(&page, |old| {
//!                 let count = old.map_or(0, |bytes| u64::from_le_bytes(bytes.try_into().unwrap()));
//!                 Some((count + 1).to_le_bytes().to_vec())
//!             })?;
//!             storage.put_json("last", &page)?;
//!             let bytes = storage.get(&page)?.unwrap_or_default();
//!             Ok(u64::from_le_bytes(bytes.try_into().unwrap()))
//!         })?;
//!         Ok(())
//!     }
//! }
//!
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<Visits>()?]).build()?;
//! assert_eq!(host.execute::<String, u64>("visits:visit", "/".into())?, 1);
//! assert_eq!(host.execute::<String, u64>("visits:visit", "/".into())?, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`MemoryStorage`](crate::storage::MemoryStorage) is the default. With the `redb`
//! feature, `RedbStorage::open(path)` is durable: a write that returned `Ok` survives the
//! process being killed. Hand it to the host with
//! [`HostBuilder::storage`](crate::host::HostBuilder::storage):
//!
//! ```toml
//! [dependencies]
//! patchpanel = { version = "0.1", features = ["redb"] }
//! ```
//!
#![cfg_attr(feature = "redb", doc = "```")]
#![cfg_attr(not(feature = "redb"), doc = "```ignore")]
//! use std::sync::Arc;
//!
//! use patchpanel::storage::RedbStorage;
//! use patchpanel::testing::{fn_plugin, with_every_permission};
//! use patchpanel::Host;
//!
//! let dir = std::env::temp_dir().join(format!("patchpanel-guide-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("plugins.redb");
//! let notes = || {
//!     fn_plugin(with_every_permission(patchpanel::Manifest::builder("notes", "1.0.0")).build().unwrap(), |context| {
//!         let storage = context.storage();
//!         context.command("put", move |_, text: String| Ok(storage.put("note", text.as_bytes())?))?;
//!         let storage = context.storage();
//!         context.command("get", move |_, (): ()| Ok(storage.get("note")?.map(|b| String::from_utf8_lossy(&b).into_owned())))?;
//!         Ok(())
//!     })
//! };
//!
//! let host = Host::builder().storage(Arc::new(RedbStorage::open(&path)?)).plugins(vec![notes()]).build()?;
//! host.execute::<String, ()>("notes:put", "buy milk".into())?;
//! host.shutdown();
//!
//! // A new process (here, a new host) opens the same file and finds the note.
//! let host = Host::builder().storage(Arc::new(RedbStorage::open(&path)?)).plugins(vec![notes()]).build()?;
//! assert_eq!(host.execute::<(), Option<String>>("notes:get", ())?.as_deref(), Some("buy milk"));
//! host.shutdown();
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Writes commit in groups, with redb's immediate durability: writes that arrive from
//! other threads while a transaction commits share the next one (group commit, as
//! PostgreSQL does), and each returns once its own transaction is on disk. A group that
//! fails is aborted whole and every write in it gets the error.
//!
//! A side write whose loss in a crash is acceptable need not wait for its commit:
//! [`Storage::put_deferred`](crate::storage::Storage::put_deferred) queues it for the
//! commit under way and returns (deferred durability, PostgreSQL's
//! `synchronous_commit = off` for one write). It is still applied whole, in order, and
//! is on disk once any later write has returned; a crash before its group commits loses
//! it, and its caller was never told otherwise. kv-store stores the fire-and-forget
//! `Remember` message this way, so a greeting over HTTP waits for one commit (its
//! count), not two. `RedbStorage::open`
//! checks the file's integrity and never panics: an empty file, a file another process
//! holds and a corrupt file are each a `StorageOpenError` that names the file and what to
//! do. A damaged value is refused, never returned.
//!
//! ## Configuration
//!
//! [`HostBuilder::config_file`](crate::host::HostBuilder::config_file) gives each plugin
//! its `[plugins."<id>"]` table; in [`Plugin::configure`](crate::Plugin::configure),
//! [`PluginConfig::get`](crate::config::PluginConfig::get) deserializes it
//! (`T: DeserializeOwned + Default`; an absent table is `T::default()`).
//!
//! ```
//! use patchpanel::config::{ConfigFile, PluginConfig};
//! use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec, register_plugin};
//!
//! #[derive(serde::Deserialize, Default)]
//! struct Limits {
//!     per_minute: u32,
//! }
//!
//! #[register_plugin(id = "limiter", version = "1.0.0")]
//! #[derive(Default)]
//! pub struct Limiter {
//!     limits: Limits,
//! }
//!
//! impl Plugin for Limiter {
//!     fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
//!         self.limits = config.get()?;
//!         Ok(())
//!     }
//!     fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//!
//! let file = ConfigFile::parse("[plugins.limiter]\nper_minute = 30\n")?;
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<Limiter>()?]).config_file(file).build()?;
//! assert_eq!(host.with_plugin(|l: &mut Limiter| l.limits.per_minute), Ok(30));
//!
//! // A bad value fails that plugin, naming the plugin, the key path and the type.
//! let file = ConfigFile::parse("[plugins.limiter]\nper_minute = \"thirty\"\n")?;
//! let host = Host::builder().plugins(vec![PluginSpec::registered::<Limiter>()?]).config_file(file).build()?;
//! assert_eq!(
//!     host.failure("limiter").unwrap().to_string(),
//!     "configure returned an error: invalid configuration for plugin `limiter` at `per_minute`: \
//!      invalid type: string \"thirty\", expected u32"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Tables for plugins that are not running are reported in
//! [`Host::config_warnings`](crate::Host::config_warnings).
//! [`Host::reconfigure`](crate::Host::reconfigure) applies a new value to a running plugin
//! ([running](super::running)).
//!
//! Next: [testing plugins](super::testing).
