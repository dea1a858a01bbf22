//! Events: typed publish/subscribe.
//!
//! Any `T: 'static + Send + Sync` is an event type. Subscribers are grouped by event type
//! when the tables are frozen, so a publish is one hash lookup and a walk over a slice
//! (or, through an [`EventChannel`], just the walk). Delivery order is deterministic:
//! the subscribers' activation order, then registration order. A subscriber that
//! returns an error or panics is contained and recorded as an
//! [`Incident`]; the others still run. Disabled and failed
//! plugins receive nothing.

use std::any::{Any, TypeId, type_name};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::dispatch::{Call, Incident, RawCall};
use crate::host::panic_message;
use crate::lifecycle::SharedState;
use crate::plugin::PluginError;

/// An event handler as stored.
pub(crate) type EventHandler<E> = Arc<dyn Fn(&RawCall<'_>, &E) -> Result<(), PluginError> + Send + Sync>;

/// What a publish did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Subscribers the event was handed to (active plugins only).
    pub reached: usize,
    /// Of those, how many returned an error or panicked.
    pub failed: usize,
}

pub(crate) struct Subscriber<E> {
    owner: usize,
    state: SharedState,
    handler: EventHandler<E>,
}

/// A subscription as registered. Public only for the code `#[subscribe]` generates.
#[doc(hidden)]
pub struct SubscriptionRegistration {
    pub(crate) event: TypeId,
    pub(crate) handler: Arc<dyn Any + Send + Sync>,
    pub(crate) new_list: fn() -> Box<dyn Any + Send + Sync>,
    pub(crate) append: fn(&mut (dyn Any + Send + Sync), &Arc<dyn Any + Send + Sync>, usize, SharedState),
}

impl SubscriptionRegistration {
    /// A static subscription of plugin `P` to `E`: what `#[subscribe(P)]` builds.
    pub fn of<P: 'static, E: 'static + Send + Sync>(
        handler: fn(&Call<'_, P>, &E) -> Result<(), PluginError>,
    ) -> SubscriptionRegistration {
        SubscriptionRegistration::new::<E>(Arc::new(move |call: &RawCall<'_>, event: &E| {
            handler(&Call::typed(*call), event)
        }))
    }

    pub(crate) fn new<E: 'static + Send + Sync>(handler: EventHandler<E>) -> SubscriptionRegistration {
        SubscriptionRegistration {
            event: TypeId::of::<E>(),
            handler: Arc::new(handler),
            new_list: || Box::new(Vec::<Subscriber<E>>::new()),
            append: |list, handler, owner, state| {
                let list = list
                    .downcast_mut::<Vec<Subscriber<E>>>()
                    .expect("the list was made for this event type");
                let handler = handler
                    .downcast_ref::<EventHandler<E>>()
                    .expect("the handler was made for this event type");
                list.push(Subscriber {
                    owner,
                    state,
                    handler: Arc::clone(handler),
                });
            },
        }
    }
}

/// The subscribers of one event type, resolved once.
///
/// ```
/// # use patchpanel::{Context, Host, Manifest, Plugin, PluginError, PluginSpec};
/// #[derive(Debug)]
/// struct Greeted(String);
///
/// # #[derive(Default)]
/// # struct Listener;
/// # impl patchpanel::permissions::EventsSubscribe for Listener {}
/// # impl Plugin for Listener {
/// #     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
/// #         context.subscribe(|_, event: &Greeted| { assert_eq!(event.0, "ada"); Ok(()) });
/// #         Ok(())
/// #     }
/// # }
/// # let host = Host::builder()
/// #     .plugins(vec![PluginSpec::new::<Listener>(Manifest::builder("listener", "1.0.0").build()?)])
/// #     .build()?;
/// let greeted = host.channel::<Greeted>();
/// assert_eq!(greeted.publish(&Greeted("ada".into())).reached, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventChannel<'h, E> {
    call: RawCall<'h>,
    subscribers: &'h [Subscriber<E>],
}

impl<'h, E: 'static + Send + Sync> EventChannel<'h, E> {
    pub(crate) fn resolve(call: RawCall<'h>) -> EventChannel<'h, E> {
        EventChannel {
            call,
            subscribers: subscribers(&call),
        }
    }

    /// Delivers `event` to every active subscriber, in order.
    #[inline]
    pub fn publish(&self, event: &E) -> Delivery {
        deliver(&self.call, self.subscribers, event)
    }

    /// How many subscribers the event type has, active or not.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }
}

impl<E> std::fmt::Debug for EventChannel<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventChannel")
            .field("event", &type_name::<E>())
            .field("subscribers", &self.subscribers.len())
            .finish()
    }
}

fn subscribers<'h, E: 'static>(call: &RawCall<'h>) -> &'h [Subscriber<E>] {
    match call.tables().events.get(&TypeId::of::<E>()) {
        Some(list) => list
            .downcast_ref::<Vec<Subscriber<E>>>()
            .expect("event lists are keyed by their own type"),
        None => &[],
    }
}

/// Publishes by event type.
#[inline]
pub(crate) fn publish<E: 'static + Send + Sync>(call: &RawCall<'_>, event: &E) -> Delivery {
    deliver(call, subscribers(call), event)
}

#[inline]
fn deliver<E: 'static>(call: &RawCall<'_>, subscribers: &[Subscriber<E>], event: &E) -> Delivery {
    // Spans only once a `tracing` subscriber exists (one relaxed load otherwise).
    let _span = tracing::dispatcher::has_been_set()
        .then(|| tracing::debug_span!("patchpanel.publish", event = type_name::<E>()).entered());
    let delivery = deliver_each(call, subscribers, event);
    if call.tables().metrics {
        record_delivery::<E>(delivery);
    }
    delivery
}

#[cold]
fn record_delivery<E>(delivery: Delivery) {
    ::metrics::counter!("patchpanel_event_deliveries_total", "event" => type_name::<E>())
        .increment(delivery.reached as u64);
    if delivery.failed > 0 {
        ::metrics::counter!("patchpanel_event_failures_total", "event" => type_name::<E>())
            .increment(delivery.failed as u64);
    }
}

#[inline]
fn deliver_each<E: 'static>(call: &RawCall<'_>, subscribers: &[Subscriber<E>], event: &E) -> Delivery {
    let mut delivery = Delivery::default();
    for subscriber in subscribers {
        if !subscriber.state.is_active() {
            continue;
        }
        delivery.reached += 1;
        let inner = call.enter(subscriber.owner);
        let outcome = catch_unwind(AssertUnwindSafe(|| (subscriber.handler)(&inner, event)));
        if !matches!(outcome, Ok(Ok(()))) {
            delivery.failed += 1;
            record_failure::<E>(call, subscriber.owner, outcome);
        }
    }
    delivery
}

#[cold]
fn record_failure<E>(call: &RawCall<'_>, owner: usize, outcome: std::thread::Result<Result<(), PluginError>>) {
    let message = match outcome {
        Ok(Err(error)) => error.to_string(),
        Err(payload) => format!("panicked: {}", panic_message(payload.as_ref())),
        Ok(Ok(())) => return,
    };
    call.host.record_incident(Incident {
        plugin: call.host.plugin_id_at(owner).to_owned(),
        site: format!("event handler for {}", type_name::<E>()),
        message,
    });
}
