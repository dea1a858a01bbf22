//! Plugin health: what a plugin's optional check reports ([`Health`]), and what the host
//! makes of every plugin's ([`HealthReport`], from [`Host::health`](crate::Host::health)).
//!
//! Guide chapter: [health and search](crate::guide::health).

use std::time::Duration;

use crate::lifecycle::State;

/// How a plugin is doing, from worst to best when compared: `Unhealthy < Degraded <
/// Healthy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthStatus {
    /// It cannot do its work.
    Unhealthy,
    /// It works, with a problem an operator should look at (a read-only file, a slow
    /// backend).
    Degraded,
    /// All is well.
    Healthy,
}

impl HealthStatus {
    /// `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin's health check returns: a status, and the reason when it is not
/// healthy.
///
/// Guide: [health and search](crate::guide::health).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// The verdict.
    pub status: HealthStatus,
    /// Why, in the plugin's words (`None` when healthy).
    pub reason: Option<String>,
}

impl Health {
    /// All is well.
    pub fn healthy() -> Health {
        Health {
            status: HealthStatus::Healthy,
            reason: None,
        }
    }

    /// Working, with a problem: `reason` says which.
    pub fn degraded(reason: impl Into<String>) -> Health {
        Health {
            status: HealthStatus::Degraded,
            reason: Some(reason.into()),
        }
    }

    /// Not working: `reason` says why.
    pub fn unhealthy(reason: impl Into<String>) -> Health {
        Health {
            status: HealthStatus::Unhealthy,
            reason: Some(reason.into()),
        }
    }
}

impl Default for Health {
    /// Healthy: a plugin without a check of its own is healthy while it is active.
    fn default() -> Health {
        Health::healthy()
    }
}

/// One plugin in a [`HealthReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginHealth {
    /// The plugin id.
    pub plugin: String,
    /// Its lifecycle state when the report was made.
    pub state: State,
    /// Its health: its own check's when it is active; otherwise what its state implies
    /// (a failed plugin is unhealthy with its failure as the reason).
    pub health: Health,
    /// Whether the overall verdict depends on it (see [`HealthReport::status`]).
    pub required: bool,
    /// When its check ran, in milliseconds since the Unix epoch (`None`: no check ran,
    /// the plugin was not active).
    pub checked_at_ms: Option<u128>,
    /// How long its check took.
    pub took: Duration,
}

/// Every plugin's health, and the overall verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// One entry per plugin, in activation order.
    pub plugins: Vec<PluginHealth>,
}

impl HealthReport {
    /// The overall verdict: the worst health of the required plugins. A required plugin
    /// that is not active counts as unhealthy, except a lazy one not used yet (resolved,
    /// ready to wake), which counts as healthy.
    pub fn status(&self) -> HealthStatus {
        self.plugins
            .iter()
            .filter(|plugin| plugin.required)
            .map(|plugin| plugin.health.status)
            .min()
            .unwrap_or(HealthStatus::Healthy)
    }

    /// Whether every required plugin is healthy.
    pub fn is_healthy(&self) -> bool {
        self.status() == HealthStatus::Healthy
    }
}
