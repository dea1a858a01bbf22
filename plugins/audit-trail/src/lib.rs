//! `audit-trail`: keeps a trail of what happened. Stands alone: no dependencies.
//!
//! Its manifest is `plugin.json`, in the plugin-system guide's JSON shape.

use plugboard::{Capability, Context, Plugin, PluginError, register_plugin};

/// The audit trail plugin.
#[register_plugin(manifest = "plugin.json")]
#[derive(Debug, Default)]
pub struct AuditTrail {
    records: Vec<String>,
}

impl AuditTrail {
    /// Appends a record.
    pub fn record(&mut self, line: impl Into<String>) {
        self.records.push(line.into());
    }

    /// Every record, oldest first.
    pub fn records(&self) -> &[String] {
        &self.records
    }
}

impl Plugin for AuditTrail {
    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        let line = format!(
            "{} {} activated",
            context.plugin_id(),
            context.manifest().version
        );
        self.record(line);
        Ok(())
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("event-subscriber", "*")]
    }
}
