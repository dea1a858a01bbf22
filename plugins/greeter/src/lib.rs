//! `greeter`: greets people. Depends on `kv-store`, optionally on `audit-trail`.
//!
//! It uses every channel: the `kv-store` service to count greetings per name, messages
//! to `kv-store` (fire-and-forget and request/response), a hook other plugins implement
//! to decorate greetings, and an event it publishes after each greeting. Its manifest is
//! given inline, in the `#[register_plugin(...)]` arguments.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kv_store::{Count, KeyValue, Remember};
use patchpanel::{
    AsyncCall, Call, Context, Plugin, PluginError, SavedState, commands::BoxFuture, config::PluginConfig,
    register_plugin, services::Service,
};
use patchpanel_web::{Method, Route, WebRequest, WebResponse, WebRoutes};
use serde::{Deserialize, Serialize};

/// The greeter's configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GreeterConfig {
    /// The word used to greet (`Hello` by default).
    pub greeting: String,
}

impl Default for GreeterConfig {
    fn default() -> GreeterConfig {
        GreeterConfig {
            greeting: "Hello".to_owned(),
        }
    }
}

/// The request of `greeter:hello`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Who to greet.
    pub name: String,
}

/// The response of `greeter:hello`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Greeting {
    /// The greeting, decorated by the `greeter:decorate` hook.
    pub message: String,
    /// How many times this name has been greeted, kept in `kv-store`.
    pub count: u64,
}

/// The response of `greeter:stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Greetings made by this plugin, across reloads.
    pub greetings: u64,
    /// Keys held by `kv-store`, asked for by message.
    pub stored_keys: usize,
}

/// Published after every greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeted {
    /// Who was greeted.
    pub name: String,
    /// How many times, this one included.
    pub count: u64,
}

/// The id of the hook that decorates greetings: `Fn(&String) -> Option<String>`, whose
/// results are appended to the greeting in hook order.
pub const DECORATE: &str = "greeter:decorate";

/// What a greeting needs; shared by the `hello` command and the HTTP route.
struct Greet {
    store: Service<dyn KeyValue>,
    greeting: String,
    greeted: Arc<AtomicU64>,
}

impl Greet {
    fn greet(&self, call: &Call<'_, Greeter>, name: String) -> Result<Greeting, PluginError> {
        let key = format!("greeter/count/{name}");
        // The service handle reaches whichever kv-store instance serves now, and fails
        // cleanly while none does. The increment is atomic in the store, so concurrent
        // greetings of one name are all counted.
        let count = self
            .store
            .with(|kv| kv.increment(&key))?
            .map_err(|error| PluginError::wrap("kv-store cannot count the greeting", error))?;
        self.greeted.fetch_add(1, Ordering::Relaxed);

        let mut message = format!("{}, {name}!", self.greeting);
        if let Ok(decorate) = call.hook::<String, String>(DECORATE) {
            for suffix in decorate.call_all(&message) {
                message.push_str(&suffix);
            }
        }
        call.publish(&Greeted {
            name: name.clone(),
            count,
        });
        call.send(
            "kv-store",
            Remember {
                key: "greeter/last".to_owned(),
                value: name,
            },
        )
        .map_err(|error| PluginError::wrap("kv-store did not take the message", error))?;
        Ok(Greeting { message, count })
    }
}

/// The greeter's HTTP route, `GET /hello/{name}` under the plugin's prefix: the same
/// greeting as `greeter:hello`, as JSON. Unlike the command, it is public (no token):
/// the route is the plugin's own decision about what it serves.
struct GreeterRoutes {
    greet: Arc<Greet>,
    caller: AsyncCall<Greeter>,
}

impl WebRoutes for GreeterRoutes {
    fn routes(&self) -> Vec<Route> {
        vec![Route::new(Method::Get, "/hello/{name}")]
    }

    fn handle(&self, _route: &Route, request: WebRequest) -> BoxFuture<'static, WebResponse> {
        // The greeting is made here, inside the plugin (a reload waits for it); the
        // future only carries the answer to the server's executor.
        let response = match request.param("name") {
            Some(name) if !name.is_empty() => match self.caller.with(|call| self.greet.greet(call, name.to_owned())) {
                Ok(greeting) => WebResponse::json(200, &greeting),
                Err(error) => WebResponse::text(503, format!("greeter cannot greet now: {error}")),
            },
            _ => WebResponse::text(400, "give a name: /greeter/hello/{name}"),
        };
        Box::pin(async move { response })
    }
}

/// The greeter plugin.
#[register_plugin(
    id = "greeter",
    name = "Greeter",
    required_features = ["events", "commands", "services", "hooks", "messaging"],
    dependencies = {
        "kv-store" = "^1.0",
        "audit-trail" = { version = "^0.1", optional = true },
    },
    permissions = {
        services = ["consume", "provide"],
        commands = ["register"],
        events = ["publish"],
        hooks = ["declare"],
        messaging = ["send"],
    },
    contributes = {
        commands = ["hello", "stats"],
        publishes = ["greeter::Greeted"],
        hooks = ["decorate"],
        services = ["dyn patchpanel_web::WebRoutes"],
    },
)]
#[derive(Debug, Default)]
pub struct Greeter {
    config: GreeterConfig,
    greeted: Arc<AtomicU64>,
}

impl Plugin for Greeter {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        self.config = config
            .get()
            .map_err(|error| PluginError::wrap("bad greeter configuration", error))?;
        Ok(())
    }

    fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
        context.declare_hook::<String, String>("decorate")?;
        let greet = Arc::new(Greet {
            store: context.service::<dyn KeyValue>()?,
            greeting: self.config.greeting.clone(),
            greeted: self.greeted.clone(),
        });
        let for_command = Arc::clone(&greet);
        context.command("hello", move |call, Hello { name }| for_command.greet(call, name))?;
        // The same greeting over HTTP, for a server to mount: `GET /greeter/hello/{name}`.
        context.provide::<dyn WebRoutes>(Arc::new(GreeterRoutes {
            greet,
            caller: context.caller(),
        }));

        let greeted = self.greeted.clone();
        context.command("stats", move |call, (): ()| {
            let stored_keys: usize = call
                .request("kv-store", Count)
                .map_err(|error| PluginError::wrap("kv-store did not answer", error))?;
            Ok(Stats {
                greetings: greeted.load(Ordering::Relaxed),
                stored_keys,
            })
        })?;
        Ok(())
    }

    fn get_state(&mut self) -> Result<Option<SavedState>, PluginError> {
        SavedState::new(&self.greeted.load(Ordering::Relaxed)).map(Some)
    }

    fn restore_state(&mut self, state: SavedState) -> Result<(), PluginError> {
        self.greeted.store(state.get::<u64>()?, Ordering::Relaxed);
        Ok(())
    }
}
