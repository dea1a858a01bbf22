//! `noop`: a plugin that does nothing. demo-app links it only with `--features noop`,
//! to measure what one more plugin adds to a binary (`benches/binary-cost.sh`).

use patchpanel::{Plugin, register_plugin};

/// The plugin that does nothing.
#[register_plugin(id = "noop", version = "0.1.0")]
#[derive(Debug, Default)]
pub struct Noop;

impl Plugin for Noop {}
