//! Messaging: point-to-point messages to a named plugin's inbox.
//!
//! A plugin opens an inbox per message type with a handler
//! `Fn(&Call, M) -> Result<R, PluginError>`. Others reach it by plugin id, either
//! request/response ([`Call::request`](crate::Call::request)) or fire-and-forget ([`Call::send`](crate::Call::send)), where the
//! reply is dropped and a handler failure is recorded as an
//! [`Incident`] instead of returned. Delivery is synchronous:
//! the handler has run when the call returns.
//!
//! An async inbox ([`Context::on_message_async`](crate::Context::on_message_async))
//! answers with a future, counted in flight in the addressee until it completes;
//! [`Call::request_async`](crate::Call::request_async) returns it to await. Synchronous
//! `request` and `send` to an async inbox are refused with
//! [`MessageError::Asynchronous`]: nothing would await the reply.

use std::any::{Any, TypeId, type_name};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::deferred::Deferred;
use super::quiescence::{self, SECTION};
use super::{Call, Incident, RawCall};
use crate::error::PluginError;
use crate::lifecycle::State;
use crate::permissions::{Held, MessagingSend};
use crate::support::panic_message;

pub(crate) type InboxHandler<M, R> = Arc<dyn Fn(&RawCall<'_>, M) -> Result<R, PluginError> + Send + Sync>;

/// A message could not be delivered or answered.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// No plugin has this id.
    #[error("no plugin `{0}` to send to")]
    UnknownPlugin(String),
    /// The plugin has no inbox for this message type.
    #[error(
        "plugin `{plugin}` has no inbox for `{message}`; it must call `context.on_message::<{message}, _>(...)` when it activates"
    )]
    NoInbox {
        /// The id of the plugin the message was addressed to.
        plugin: String,
        /// The message type.
        message: &'static str,
    },
    /// The inbox answers with another type.
    #[error("plugin `{plugin}` answers `{message}` with `{expected}`, not `{requested}`")]
    WrongResponse {
        /// The id of the plugin the message was addressed to.
        plugin: String,
        /// The message type.
        message: &'static str,
        /// The inbox's reply type.
        expected: &'static str,
        /// The reply type asked for.
        requested: &'static str,
    },
    /// The addressee is not active.
    #[error("plugin `{plugin}` is {state} and receives no messages")]
    NotActive {
        /// The id of the plugin the message was addressed to.
        plugin: String,
        /// Its lifecycle state when the message was sent.
        state: State,
    },
    /// The inbox handler returned an error.
    #[error("plugin `{plugin}` failed to handle `{message}`: {source}")]
    Handler {
        /// The id of the plugin the message was addressed to.
        plugin: String,
        /// The message type.
        message: &'static str,
        /// The handler's error.
        #[source]
        source: PluginError,
    },
    /// The sending plugin's manifest does not declare `messaging.send`.
    #[error(transparent)]
    Denied(Box<crate::permissions::PermissionDenied>),
    /// Calls nest deeper than the runtime allows on this thread.
    #[error("message `{message}` to plugin `{plugin}` was not delivered: calls nest too deeply on this thread")]
    TooDeep {
        /// The id of the plugin the message was addressed to.
        plugin: String,
        /// The message type.
        message: &'static str,
    },
    /// The inbox is async: its reply is a future, which only
    /// [`Call::request_async`](crate::Call::request_async) awaits.
    #[error(
        "plugin `{plugin}` answers `{message}` asynchronously; use `request_async(..).await`, which waits for the reply"
    )]
    Asynchronous {
        /// The id of the plugin the message was addressed to.
        plugin: String,
        /// The message type.
        message: &'static str,
    },
    /// The inbox handler panicked.
    #[error("plugin `{plugin}` panicked handling `{message}`: {panic}")]
    Panicked {
        /// The id of the plugin the message was addressed to.
        plugin: String,
        /// The message type.
        message: &'static str,
        /// The panic message.
        panic: String,
    },
}

pub(crate) struct InboxRegistration {
    pub(crate) message: TypeId,
    /// The message type's name, for the capabilities the host shows.
    pub(crate) message_name: &'static str,
    reply: (TypeId, &'static str),
    handler: Arc<dyn Any + Send + Sync>,
    fire: FireFn,
    asynchronous: bool,
}

type FireFn = fn(&RawCall<'_>, &InboxEntry, &mut dyn Any) -> Result<(), PluginError>;

pub(crate) struct InboxEntry {
    reply: (TypeId, &'static str),
    handler: Arc<dyn Any + Send + Sync>,
    fire: FireFn,
    asynchronous: bool,
}

/// What an async inbox's handler answers: the reply's future.
pub(crate) type AsyncReply<R> = Deferred<Result<R, MessageError>>;

impl InboxRegistration {
    pub(crate) fn new<M: Send + 'static, R: Send + 'static>(handler: InboxHandler<M, R>) -> InboxRegistration {
        InboxRegistration {
            message: TypeId::of::<M>(),
            message_name: type_name::<M>(),
            reply: (TypeId::of::<R>(), type_name::<R>()),
            handler: Arc::new(handler),
            fire: |call, entry, message| {
                let handler = entry
                    .handler
                    .downcast_ref::<InboxHandler<M, R>>()
                    .expect("inbox made for this message type");
                let message = message
                    .downcast_mut::<Option<M>>()
                    .and_then(Option::take)
                    .expect("fire is called with the inbox's message type");
                handler(call, message).map(drop)
            },
            asynchronous: false,
        }
    }

    /// An async inbox: its handler answers with the reply's future.
    pub(crate) fn new_async<M: Send + 'static, R: Send + 'static>(
        handler: InboxHandler<M, AsyncReply<R>>,
    ) -> InboxRegistration {
        InboxRegistration {
            asynchronous: true,
            ..InboxRegistration::new::<M, AsyncReply<R>>(handler)
        }
    }

    pub(crate) fn freeze(&self) -> InboxEntry {
        InboxEntry {
            reply: self.reply,
            handler: Arc::clone(&self.handler),
            fire: self.fire,
            asynchronous: self.asynchronous,
        }
    }
}

/// Point-to-point messages.
impl<P> Call<'_, P> {
    /// Sends a message to plugin `to` and returns its reply.
    pub fn request<M: Send + 'static, R: Send + 'static>(&self, to: &str, message: M) -> Result<R, MessageError>
    where
        P: MessagingSend,
    {
        let () = crate::permissions::Proof::<P>::MESSAGING_SEND;
        request(&self.raw, to, message)
    }

    /// Sends a message to plugin `to` and returns the future of its reply: the way to an
    /// async inbox (opened with [`Context::on_message_async`](crate::Context::on_message_async)),
    /// and to a synchronous one too (its reply is then ready at once). The message is
    /// delivered now, inside the addressee; the reply's future owns what it needs.
    pub fn request_async<M: Send + 'static, R: Send + 'static>(
        &self,
        to: &str,
        message: M,
    ) -> Deferred<Result<R, MessageError>>
    where
        P: MessagingSend,
    {
        let () = crate::permissions::Proof::<P>::MESSAGING_SEND;
        let result = deliver(&self.raw, to, message, |inner, entry, message| {
            if entry.asynchronous {
                answer::<M, AsyncReply<R>>(inner, entry, to, message, type_name::<R>())
            } else {
                answer::<M, R>(inner, entry, to, message, type_name::<R>()).map(|reply| Deferred::ready(Ok(reply)))
            }
        });
        audit_reply_failure(&self.raw, to, type_name::<M>(), &result);
        result.unwrap_or_else(|error| Deferred::ready(Err(error)))
    }

    /// Delivers a message to plugin `to`, dropping the reply; a failure of its handler is
    /// recorded as an [`Incident`].
    pub fn send<M: Send + 'static>(&self, to: &str, message: M) -> Result<(), MessageError>
    where
        P: MessagingSend,
    {
        let () = crate::permissions::Proof::<P>::MESSAGING_SEND;
        send(&self.raw, to, message)
    }
}

/// Finds `to`'s inbox for `M`, enters `to`, and runs `run` there.
fn deliver<M: 'static, T>(
    call: &RawCall<'_>,
    to: &str,
    message: M,
    run: impl FnOnce(&RawCall<'_>, &InboxEntry, M) -> Result<T, MessageError>,
) -> Result<T, MessageError> {
    call.may(Held::MESSAGING_SEND).map_err(MessageError::Denied)?;
    let target = call
        .runtime
        .position_of(to)
        .ok_or_else(|| MessageError::UnknownPlugin(to.to_owned()))?;
    let too_deep = || MessageError::TooDeep {
        plugin: to.to_owned(),
        message: type_name::<M>(),
    };
    let inside = quiescence::enter(SECTION).map_err(|_| too_deep())?;
    let tables = call.runtime.tables(&inside);
    let entry = tables
        .inboxes
        .get(&(target, TypeId::of::<M>()))
        .ok_or_else(|| MessageError::NoInbox {
            plugin: to.to_owned(),
            message: type_name::<M>(),
        })?;
    let slot = call.runtime.plugin(target);
    inside.retarget(slot.key());
    let state = slot.state();
    if state != State::Active {
        return Err(MessageError::NotActive {
            plugin: to.to_owned(),
            state,
        });
    }
    let result = run(&call.enter(target), entry, message);
    drop(inside);
    result
}

fn outcome<T>(
    to: &str,
    message: &'static str,
    result: std::thread::Result<Result<T, PluginError>>,
) -> Result<T, MessageError> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(MessageError::Handler {
            plugin: to.to_owned(),
            message,
            source,
        }),
        Err(payload) => Err(MessageError::Panicked {
            plugin: to.to_owned(),
            message,
            panic: panic_message(payload.as_ref()),
        }),
    }
}

/// Runs `entry`'s handler, which must answer `M` with a `T`, on `message`.
fn answer<M: 'static, T: 'static>(
    inner: &RawCall<'_>,
    entry: &InboxEntry,
    to: &str,
    message: M,
    requested: &'static str,
) -> Result<T, MessageError> {
    let handler = entry
        .handler
        .downcast_ref::<InboxHandler<M, T>>()
        .ok_or_else(|| MessageError::WrongResponse {
            plugin: to.to_owned(),
            message: type_name::<M>(),
            expected: entry.reply.1,
            requested,
        })?;
    outcome(
        to,
        type_name::<M>(),
        catch_unwind(AssertUnwindSafe(|| handler(inner, message))),
    )
}

/// Audits a handler's failure against the addressee.
fn audit_reply_failure<T>(call: &RawCall<'_>, to: &str, message: &'static str, result: &Result<T, MessageError>) {
    if let Err(error @ (MessageError::Handler { .. } | MessageError::Panicked { .. })) = result
        && let Some(position) = call.runtime.position_of(to)
    {
        call.runtime.audit_failure(
            position,
            format!("inbox for {message}"),
            crate::error::error_chain(error),
        );
    }
}

/// Sends `message` to `to` and returns its reply.
fn request<M: Send + 'static, R: Send + 'static>(call: &RawCall<'_>, to: &str, message: M) -> Result<R, MessageError> {
    let result = deliver(call, to, message, |inner, entry, message| {
        if entry.asynchronous {
            return Err(MessageError::Asynchronous {
                plugin: to.to_owned(),
                message: type_name::<M>(),
            });
        }
        answer::<M, R>(inner, entry, to, message, type_name::<R>())
    });
    audit_reply_failure(call, to, type_name::<M>(), &result);
    result
}

/// Delivers `message` to `to`, dropping the reply; a handler failure becomes an incident.
fn send<M: Send + 'static>(call: &RawCall<'_>, to: &str, message: M) -> Result<(), MessageError> {
    let result = deliver(call, to, message, |inner, entry, message| {
        if entry.asynchronous {
            return Err(MessageError::Asynchronous {
                plugin: to.to_owned(),
                message: type_name::<M>(),
            });
        }
        let mut slot = Some(message);
        outcome(
            to,
            type_name::<M>(),
            catch_unwind(AssertUnwindSafe(|| (entry.fire)(inner, entry, &mut slot))),
        )
    });
    match result {
        Err(error @ (MessageError::Handler { .. } | MessageError::Panicked { .. })) => {
            call.runtime.record_incident(Incident {
                plugin: to.to_owned(),
                site: format!("inbox for {}", type_name::<M>()),
                message: crate::error::error_chain(&error),
            });
            Ok(())
        }
        other => other,
    }
}

crate::error::plugin_error_from!(MessageError);
