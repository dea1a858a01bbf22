//! Wiring: contexts collect what each plugin registers while it activates, and the
//! freeze turns every running plugin's registrations into the runtime's tables.
//!
//! This layer sits between the runtime and the host: it builds the runtime's feature
//! entries (so it uses the runtime), and the host drives it during start-up and reload.

pub(crate) mod adapter;
pub(crate) mod context;
pub(crate) mod contributions;
pub(crate) mod freeze;
pub(crate) mod plugin;
pub(crate) mod registration_error;

use crate::runtime::commands::CommandRegistration;
use crate::runtime::commands::chain::MiddlewareRegistration;
use crate::runtime::events::SubscriptionRegistration;
use crate::runtime::hooks::{HookDeclaration, HookImplementation};
use crate::runtime::messaging::InboxRegistration;
use crate::runtime::services::ProviderRegistration;

/// Everything one plugin registered during its activation. Kept by the host for as
/// long as the instance serves, so that a reload of another plugin can rebuild the
/// tables.
///
/// Nothing is allocated until the plugin registers something: a plugin that registers
/// nothing (lifecycle only) makes, moves and drops one null pointer, not a dozen empty
/// lists. It reads as [`Registered`] (`Deref`); the first write allocates it.
#[derive(Default)]
pub(crate) struct Registrations(Option<Box<Registered>>);

/// What an empty [`Registrations`] reads as.
static NOTHING: Registered = Registered {
    commands: Vec::new(),
    command_ids: crate::support::FxHashSet::with_hasher(rustc_hash::FxBuildHasher),
    subscriptions: Vec::new(),
    middleware: Vec::new(),
    providers: Vec::new(),
    hook_declarations: Vec::new(),
    hook_implementations: Vec::new(),
    inboxes: Vec::new(),
    denied: Vec::new(),
    inflight: None,
    caches: Vec::new(),
};

impl std::ops::Deref for Registrations {
    type Target = Registered;
    fn deref(&self) -> &Registered {
        self.0.as_deref().unwrap_or(&NOTHING)
    }
}

impl std::ops::DerefMut for Registrations {
    fn deref_mut(&mut self) -> &mut Registered {
        self.0.get_or_insert_with(Box::default)
    }
}

impl Drop for Registrations {
    /// Dropping an empty one is a null test where it is dropped: the lists' drop (a
    /// dozen of them, with a frame to match) is out of line, so that it is not paid on
    /// the way to the test, four times a plugin between start-up and teardown.
    #[inline]
    fn drop(&mut self) {
        #[inline(never)]
        fn drop_lists(registered: Box<Registered>) {
            drop(registered);
        }
        if let Some(registered) = self.0.take() {
            drop_lists(registered);
        }
    }
}

/// The lists of a [`Registrations`] that has any.
#[derive(Default)]
pub(crate) struct Registered {
    pub(crate) commands: Vec<CommandRegistration>,
    /// The ids of `commands`, so that refusing a second command of one id is a hash
    /// lookup, not a scan (a plugin of 10,000 commands registered in quadratic time).
    pub(crate) command_ids: crate::support::FxHashSet<String>,
    pub(crate) subscriptions: Vec<SubscriptionRegistration>,
    pub(crate) middleware: Vec<MiddlewareRegistration>,
    pub(crate) providers: Vec<ProviderRegistration>,
    pub(crate) hook_declarations: Vec<HookDeclaration>,
    pub(crate) hook_implementations: Vec<HookImplementation>,
    pub(crate) inboxes: Vec<InboxRegistration>,
    /// Registrations the manifest did not allow, found by the run-time check.
    pub(crate) denied: Vec<crate::permissions::PermissionDenied>,
    /// The async calls running in this instance, made with its first async handler
    /// (plugins without one pay nothing).
    pub(crate) inflight: Option<crate::runtime::inflight::Anchor>,
    /// The result caches of its cacheable commands, emptied when it is disabled.
    pub(crate) caches: Vec<std::sync::Arc<dyn crate::runtime::commands::cache::Invalidate>>,
}

impl Registrations {
    /// Whether nothing was registered that the tables would hold.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(Registered::is_empty)
    }
}

impl Registered {
    /// Whether nothing was registered that the tables would hold.
    fn is_empty(&self) -> bool {
        self.commands.is_empty()
            && self.subscriptions.is_empty()
            && self.middleware.is_empty()
            && self.providers.is_empty()
            && self.hook_declarations.is_empty()
            && self.hook_implementations.is_empty()
            && self.inboxes.is_empty()
    }
}
