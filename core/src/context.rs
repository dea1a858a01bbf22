//! The plugin context: what the host hands a plugin while it activates and deactivates.

use std::marker::PhantomData;

use crate::manifest::Manifest;

/// The host, as seen by one plugin.
///
/// `P` is the plugin's own type. It costs nothing at run time; it lets the compiler know
/// whose context this is.
pub struct Context<'a, P> {
    data: ContextData<'a>,
    _plugin: PhantomData<fn() -> P>,
}

/// The host-side data behind a [`Context`].
pub(crate) struct ContextData<'a> {
    pub(crate) manifest: &'a Manifest,
    pub(crate) absent_optional: &'a [String],
}

impl<'a, P> Context<'a, P> {
    pub(crate) fn new(data: ContextData<'a>) -> Context<'a, P> {
        Context {
            data,
            _plugin: PhantomData,
        }
    }

    /// This plugin's id.
    pub fn plugin_id(&self) -> &str {
        &self.data.manifest.id
    }

    /// This plugin's manifest.
    pub fn manifest(&self) -> &Manifest {
        self.data.manifest
    }

    /// Whether dependency `id` is linked and resolved. Always true for a required
    /// dependency; an optional one may be absent. False for ids that are not declared
    /// dependencies.
    pub fn is_present(&self, id: &str) -> bool {
        self.data
            .manifest
            .dependencies
            .iter()
            .any(|dependency| dependency.id == id)
            && !self.data.absent_optional.iter().any(|absent| absent == id)
    }
}
