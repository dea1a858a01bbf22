//! The type-erased view of a plugin that the host stores and calls.
//!
//! Plugin code runs once per lifecycle step, so the host holds `Box<dyn ErasedPlugin>`;
//! the generic [`Adapter`] is where the plugin's own type is still known, which is what
//! lets [`Context`] carry it for compile-time checks.

use std::any::Any;
use std::time::Instant;

use crate::block::drive;

use super::context::{Context, ContextData};
use super::plugin::{Capability, Plugin, SavedState};
use crate::config::PluginConfig;
use crate::error::PluginError;

/// What the host calls on a plugin instance.
pub(crate) trait ErasedPlugin: Send {
    /// These three run the plugin's async form, on this thread, until `until` (`None`
    /// when it passed: the future was dropped).
    fn configure(&mut self, config: &PluginConfig, until: Option<Instant>) -> Option<Result<(), PluginError>>;
    fn activate(&mut self, data: ContextData<'_>, until: Option<Instant>) -> Option<Result<(), PluginError>>;
    fn deactivate(&mut self, data: ContextData<'_>, until: Option<Instant>) -> Option<Result<(), PluginError>>;
    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError>;
    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError>;
    fn capabilities(&self) -> Vec<Capability>;
    fn health(&self) -> crate::health::Health;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

pub(crate) struct Adapter<P>(P);

impl<P: Plugin> Adapter<P> {
    pub(crate) fn create() -> Box<dyn ErasedPlugin> {
        Adapter::boxed(P::default())
    }

    pub(crate) fn boxed(plugin: P) -> Box<dyn ErasedPlugin> {
        Box::new(Adapter(plugin))
    }
}

impl<P: Plugin> ErasedPlugin for Adapter<P> {
    fn configure(&mut self, config: &PluginConfig, until: Option<Instant>) -> Option<Result<(), PluginError>> {
        drive(self.0.configure_async(config), until)
    }

    fn activate(&mut self, data: ContextData<'_>, until: Option<Instant>) -> Option<Result<(), PluginError>> {
        drive(self.0.activate_async(&mut Context::new(data)), until)
    }

    fn deactivate(&mut self, data: ContextData<'_>, until: Option<Instant>) -> Option<Result<(), PluginError>> {
        drive(self.0.deactivate_async(&mut Context::new(data)), until)
    }

    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
        self.0.get_state()
    }

    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
        self.0.restore_state(state)
    }

    fn capabilities(&self) -> Vec<Capability> {
        self.0.capabilities()
    }

    fn health(&self) -> crate::health::Health {
        self.0.health()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        &mut self.0
    }
}
