//! Deprecated plugins: reported at start-up, with the plugins that still depend on them.

use super::Host;
use crate::audit::Decision;
use crate::lifecycle::State;

impl Host {
    /// The deprecated plugins that run (active, disabled, or lazy and not used yet), each
    /// as a sentence naming its message, its replacement and the plugins that still
    /// depend on it, in activation order. The host records each as an audit notice and
    /// a `tracing` warning at start-up.
    ///
    /// ```
    /// # use patchpanel::{Host, Manifest};
    /// # use patchpanel::testing::fn_plugin;
    /// let old = Manifest::builder("old-store", "1.0.0")
    ///     .deprecated("it keeps everything in one file", Some("new-store"))
    ///     .build()?;
    /// let user = Manifest::builder("greeter", "1.0.0").depends_on("old-store", "^1").build()?;
    /// let host = Host::builder()
    ///     .plugins(vec![fn_plugin(old, |_| Ok(())), fn_plugin(user, |_| Ok(()))])
    ///     .build()?;
    /// assert_eq!(
    ///     host.deprecations(),
    ///     ["plugin `old-store` is deprecated: it keeps everything in one file; use `new-store` instead; still used by greeter"]
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deprecations(&self) -> Vec<String> {
        (0..self.core.slots.len())
            .filter_map(|position| self.deprecation(position))
            .collect()
    }

    /// Records each deprecated plugin that runs as an audit notice (and so a `tracing`
    /// warning).
    pub(super) fn report_deprecations(&self) {
        // The slots' flags first, in one pass: most hosts deprecate nothing.
        let deprecated = self
            .core
            .runtime
            .plugins
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.deprecated);
        for (position, _) in deprecated {
            if let Some(sentence) = self.deprecation(position) {
                let id = &self.core.runtime.plugin(position).id;
                self.core
                    .runtime
                    .audit
                    .record(id, "deprecated", Decision::Notice, sentence);
            }
        }
    }

    /// The sentence for the plugin at `position`, if it is deprecated and runs.
    fn deprecation(&self, position: usize) -> Option<String> {
        let slot = self.core.runtime.plugin(position);
        // The slot's flag first: start-up reads no manifest for plugins that are not.
        if !slot.deprecated || !matches!(slot.state(), State::Active | State::Disabled | State::Resolved) {
            return None;
        }
        let deprecation = slot.manifest.deprecated.as_ref()?;
        let mut sentence = format!("plugin `{}` is deprecated: {}", slot.id, deprecation.message);
        if let Some(replacement) = &deprecation.replacement {
            sentence.push_str(&format!("; use `{replacement}` instead"));
        }
        let users: Vec<&str> = self
            .core
            .graph
            .dependents(position)
            .iter()
            .filter(|&&dependent| self.core.runtime.plugin(dependent).state() != State::Failed)
            .map(|&dependent| self.core.runtime.plugin_id(dependent))
            .collect();
        if !users.is_empty() {
            sentence.push_str(&format!("; still used by {}", users.join(", ")));
        }
        Some(sentence)
    }
}
