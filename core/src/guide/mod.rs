//! The guide: patchpanel from a first plugin to a service that runs for days.
//!
//! Each chapter is a module whose page is the chapter; every example in it is compiled
//! and run by `cargo test --workspace` (the `compile_fail` ones are the build errors a
//! mistake gives). Read them in order the first time:
//!
//! 1. [`first_plugin`]: a plugin crate, and the application that links it.
//! 2. [`manifest`]: id, version, dependencies and permissions, in three sources.
//! 3. [`talking`]: commands, events, hooks, services, messaging and middleware.
//! 4. [`permissions`]: what the compiler checks, what the host checks, and the trust
//!    model, including what it does not protect against.
//! 5. [`storage`]: namespaced storage, durable storage and per-plugin configuration.
//! 6. [`testing`]: running one plugin in isolation, with fakes and recorders.
//! 7. [`features`]: switching plugins with Cargo features; `link_plugins!`.
//! 8. [`lifecycle`]: how the start-up order is resolved and what each state means.
//! 9. [`running`]: disable, enable and reload while threads dispatch.
//! 10. [`async_plugins`]: async activation and handlers, without an executor of ours.
//! 11. [`serving`]: putting a host behind HTTP.
//! 12. [`health`]: health checks, search and deprecation.
//! 13. [`failures`]: what happens when plugin code fails, and what cannot be caught.
//! 14. [`errors`]: every error a user meets, by when it happens.
//!
//! The guide holds no code of its own: it exists only when documentation is built or
//! doctests run, and adds nothing to the API.

pub mod async_plugins;
pub mod errors;
pub mod failures;
pub mod features;
pub mod first_plugin;
pub mod health;
pub mod lifecycle;
pub mod manifest;
pub mod permissions;
pub mod running;
pub mod serving;
pub mod storage;
pub mod talking;
pub mod testing;
