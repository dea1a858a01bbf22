//! Middleware registrations as a context keeps them: the pattern checked against the
//! plugin's `commands.intercept` scope, a typed layer's typed and erased forms.

use std::any::Any;
use std::sync::Arc;

use super::{Context, RegistrationError};
use crate::runtime::commands::chain::{MiddlewareRegistration, Pattern};
use crate::runtime::commands::typed_middleware;

impl<'a, P: 'static> Context<'a, P> {
    /// Registers a typed layer: its function, and its value when it is a
    /// [`Layer`](crate::commands::Layer).
    pub(super) fn typed_layer<Req: 'static, Resp: 'static>(
        &mut self,
        command: &str,
        priority: i32,
        function: Arc<typed_middleware::TypedLayerDyn<Req, Resp>>,
        instance: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Result<(), RegistrationError> {
        if command.contains('*') {
            return Err(RegistrationError::InvalidName {
                plugin: self.plugin_id().to_owned(),
                what: "typed middleware command (an exact id, not a pattern)",
                name: command.to_owned(),
            });
        }
        let (typed, erased) = typed_middleware::register::<Req, Resp>(self.plugin_id(), function, instance);
        self.add_middleware(command, priority, false, erased, Some(typed))
    }

    pub(super) fn add_middleware(
        &mut self,
        pattern: &str,
        priority: i32,
        guard: bool,
        handler: crate::runtime::commands::chain::MiddlewareFn,
        typed: Option<Arc<dyn typed_middleware::AnyTypedLayer>>,
    ) -> Result<(), RegistrationError> {
        if pattern.is_empty() {
            return Err(RegistrationError::InvalidName {
                plugin: self.plugin_id().to_owned(),
                what: "middleware pattern",
                name: String::new(),
            });
        }
        // The scope decides whose commands it may wrap: its own at `plugin-only`,
        // any plugin's at `all`.
        let pattern = Pattern::parse(pattern);
        let position = self.data.position;
        let target = pattern.reach(self.plugin_id());
        if let Err(denied) = self
            .data
            .runtime
            .check_permission_on(position, "commands", "intercept", &target)
        {
            self.data.registrations.denied.push(*denied);
        }
        self.data.registrations.middleware.push(MiddlewareRegistration {
            pattern,
            priority,
            guard,
            handler,
            typed,
        });
        Ok(())
    }
}
