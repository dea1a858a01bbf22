//! Helpers for testing plugins and hosts.
//!
//! [`fn_plugin`] makes a plugin out of a closure, so a test or a bench can build a host
//! of small plugins that register exactly what it needs, without a type per plugin.
//!
//! ```
//! use plugboard::testing::fn_plugin;
//! use plugboard::{Host, Manifest};
//!
//! let math = fn_plugin(Manifest::builder("math", "1.0.0").build()?, |context| {
//!     context.command("double", |_, n: u64| Ok(n * 2))?;
//!     Ok(())
//! });
//! let host = Host::builder().plugins(vec![math]).build()?;
//! assert_eq!(host.execute::<u64, u64>("math:double", 21)?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use crate::{Context, Manifest, Plugin, PluginError, PluginSpec};

type Activate = Arc<dyn Fn(&mut Context<'_, FnPlugin>) -> Result<(), PluginError> + Send + Sync>;

/// A plugin whose activation is a closure; see [`fn_plugin`].
#[derive(Default)]
pub struct FnPlugin {
    activate: Option<Activate>,
}

// Not a hint worth giving someone whose own type lacks a `Plugin` impl.
#[diagnostic::do_not_recommend]
impl Plugin for FnPlugin {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        match &self.activate {
            Some(activate) => activate(context),
            None => Ok(()),
        }
    }
}

// A test plugin built from a closure holds every permission: its manifest is built in
// code, so there is no declaration for the macro to check against.
macro_rules! grant_all {
    ($($permission:ident),* $(,)?) => {
        $(
            #[diagnostic::do_not_recommend]
            impl crate::permissions::$permission for FnPlugin {}
        )*
    };
}

grant_all!(
    CommandsExecute,
    CommandsIntercept,
    CommandsRegister,
    EventsPublish,
    EventsSubscribe,
    HooksDeclare,
    HooksImplement,
    MessagingReceive,
    MessagingSend,
    ServicesConsume,
    ServicesProvide,
    StorageRead,
    StorageWrite,
);

impl std::fmt::Debug for FnPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnPlugin").finish_non_exhaustive()
    }
}

/// A plugin with `manifest` whose `activate` runs `activate` (for every instance,
/// including after a reload).
pub fn fn_plugin(
    manifest: Manifest,
    activate: impl Fn(&mut Context<'_, FnPlugin>) -> Result<(), PluginError> + Send + Sync + 'static,
) -> PluginSpec {
    let activate: Activate = Arc::new(activate);
    PluginSpec::with_factory(manifest, move || FnPlugin {
        activate: Some(activate.clone()),
    })
}
