//! The type-erased view of a plugin that the host stores and calls.
//!
//! Plugin code runs once per lifecycle step, so the host holds `Box<dyn ErasedPlugin>`;
//! the generic [`Adapter`] is where the plugin's own type is still known, which is what
//! lets [`Context`] carry it for compile-time checks.

use std::any::Any;

use super::context::{Context, ContextData};
use super::plugin::{Capability, Plugin, SavedState};
use crate::config::PluginConfig;
use crate::error::PluginError;

/// What the host calls on a plugin instance.
pub(crate) trait ErasedPlugin: Send {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError>;
    fn activate(&mut self, data: ContextData<'_>) -> Result<(), PluginError>;
    fn deactivate(&mut self, data: ContextData<'_>) -> Result<(), PluginError>;
    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError>;
    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError>;
    fn capabilities(&self) -> Vec<Capability>;
    fn health(&self) -> crate::Health;
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
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        self.0.configure(config)
    }

    fn activate(&mut self, data: ContextData<'_>) -> Result<(), PluginError> {
        self.0.activate(&mut Context::new(data))
    }

    fn deactivate(&mut self, data: ContextData<'_>) -> Result<(), PluginError> {
        self.0.deactivate(&mut Context::new(data))
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

    fn health(&self) -> crate::Health {
        self.0.health()
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        &mut self.0
    }
}
