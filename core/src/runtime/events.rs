//! Events: typed publish/subscribe.
//!
//! Any `T: 'static + Send + Sync` is an event type. Subscribers are grouped by event type
//! when the tables are frozen, so a publish is one hash lookup and a walk over a slice
//! (or, through an [`EventChannel`], just the walk). Delivery order is deterministic:
//! the subscribers' activation order, then registration order. A subscriber that
//! returns an error or panics is contained and recorded as an
//! [`Incident`]; the others still run. Disabled and failed
//! plugins receive nothing: each delivery enters the subscriber's plugin and checks its
//! state, so once `disable` returns, no delivery to the plugin starts.

use std::any::{Any, TypeId, type_name};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;

use super::quiescence::{self, Inside, SECTION};
use super::{Call, Incident, Observe, RawCall, Tables};
use crate::error::PluginError;
use crate::permissions::{EventsPublish, Held, PermissionDenied};
use crate::support::panic_message;

/// An event handler as stored.
pub(crate) type EventHandler<E> = Arc<dyn Fn(&RawCall<'_>, &E) -> Result<(), PluginError> + Send + Sync>;

/// What a publish did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Subscribers the event was handed to (active plugins only).
    pub reached: usize,
    /// Of those, how many returned an error or panicked.
    pub failed: usize,
    /// Whether delivery stopped because calls nest too deeply on this thread (a
    /// subscriber that publishes the event it handles, say); nobody was reached then.
    pub too_deep: bool,
    /// Whether the publishing plugin's manifest does not declare `events.publish`, so
    /// nothing was delivered (the refusal is in the audit log and the incidents).
    pub denied: bool,
}

pub(crate) struct Subscriber<E> {
    owner: usize,
    /// Owns the handler.
    _handler: EventHandler<E>,
    /// `Arc::as_ptr` of the handler: a delivery loads it and calls, without the `Arc`
    /// header's arithmetic (for a `dyn` value, its offset depends on the alignment the
    /// vtable records).
    raw: *const (dyn Fn(&RawCall<'_>, &E) -> Result<(), PluginError> + Send + Sync),
}

// SAFETY: `raw` points into `_handler`, which is `Send + Sync` and lives as long.
unsafe impl<E> Send for Subscriber<E> {}
// SAFETY: as above.
unsafe impl<E> Sync for Subscriber<E> {}

/// A subscription as registered. Public only for the code `#[subscribe]` generates.
#[doc(hidden)]
pub struct SubscriptionRegistration {
    pub(crate) event: TypeId,
    /// `type_name::<E>()`, compared with the manifest's `contributes.subscribes`.
    pub(crate) event_name: &'static str,
    pub(crate) handler: Arc<dyn Any + Send + Sync>,
    pub(crate) new_list: fn() -> Box<dyn Any + Send + Sync>,
    pub(crate) append: fn(&mut (dyn Any + Send + Sync), &Arc<dyn Any + Send + Sync>, usize),
}

impl SubscriptionRegistration {
    /// A static subscription of plugin `P` to `E`: what `#[subscribe(P)]` builds.
    pub fn of<P: crate::permissions::Manifested + 'static, E: 'static + Send + Sync>(
        handler: fn(&Call<'_, P>, &E) -> Result<(), PluginError>,
    ) -> SubscriptionRegistration {
        let () = crate::permissions::Proof::<P>::EVENTS_SUBSCRIBE;
        SubscriptionRegistration::new::<E>(Arc::new(move |call: &RawCall<'_>, event: &E| {
            handler(&Call::typed(*call), event)
        }))
    }

    pub(crate) fn new<E: 'static + Send + Sync>(handler: EventHandler<E>) -> SubscriptionRegistration {
        SubscriptionRegistration {
            event: TypeId::of::<E>(),
            event_name: std::any::type_name::<E>(),
            handler: Arc::new(handler),
            new_list: || Box::new(Vec::<Subscriber<E>>::new()),
            append: |list, handler, owner| {
                let list = list
                    .downcast_mut::<Vec<Subscriber<E>>>()
                    .expect("the list was made for this event type");
                let handler = handler
                    .downcast_ref::<EventHandler<E>>()
                    .expect("the handler was made for this event type");
                list.push(Subscriber {
                    owner,
                    raw: Arc::as_ptr(handler),
                    _handler: Arc::clone(handler),
                });
            },
        }
    }
}

/// The subscribers of one event type, resolved once.
///
/// ```
/// # use patchpanel::{Context, Host, Plugin, PluginError, PluginSpec};
/// #[derive(Debug)]
/// struct Greeted(String);
///
/// # #[patchpanel::register_plugin(id = "listener", version = "1.0.0", permissions = { events = ["subscribe"] })]
/// # #[derive(Default)]
/// # struct Listener;
/// # impl Plugin for Listener {
/// #     fn activate(&mut self, context: &mut Context<'_, Self>) -> Result<(), PluginError> {
/// #         context.subscribe(|_, event: &Greeted| { assert_eq!(event.0, "ada"); Ok(()) });
/// #         Ok(())
/// #     }
/// # }
/// # let host = Host::builder()
/// #     .plugins(vec![PluginSpec::registered::<Listener>()?])
/// #     .build()?;
/// let greeted = host.channel::<Greeted>();
/// assert_eq!(greeted.publish(&Greeted("ada".into())).reached, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventChannel<'h, E> {
    call: RawCall<'h>,
    subscribers: NonNull<[Subscriber<E>]>,
    /// Keeps `subscribers` alive; when the runtime has newer tables, a publish uses
    /// those instead.
    tables: Arc<Tables>,
    /// Whether a lazy plugin that subscribes to `E` had not activated when the channel
    /// was resolved: a publish then takes the path that wakes it.
    wakes: bool,
}

// SAFETY: `subscribers` points into `tables`, which the channel keeps alive and nobody
// mutates; handlers are `Send + Sync`.
unsafe impl<E> Send for EventChannel<'_, E> {}
// SAFETY: as above.
unsafe impl<E> Sync for EventChannel<'_, E> {}

/// Publishing events.
impl<'h, P> Call<'h, P> {
    /// Publishes an event to its subscribers.
    #[inline]
    pub fn publish<E: 'static + Send + Sync>(&self, event: &E) -> Delivery
    where
        P: EventsPublish,
    {
        let () = crate::permissions::Proof::<P>::EVENTS_PUBLISH;
        publish(&self.raw, event)
    }

    /// Resolves the subscribers of `E` once, for repeated publishing.
    pub fn channel<E: 'static + Send + Sync>(&self) -> EventChannel<'h, E>
    where
        P: EventsPublish,
    {
        let () = crate::permissions::Proof::<P>::EVENTS_PUBLISH;
        let tables = self.raw.runtime.tables_arc();
        let wakes = dormant_subscribers::<E>(&tables).next().is_some();
        EventChannel {
            call: self.raw,
            subscribers: NonNull::from(subscribers::<E>(&tables)),
            wakes,
            tables,
        }
    }
}

impl<E: 'static + Send + Sync> EventChannel<'_, E> {
    /// Delivers `event` to every active subscriber, in order.
    #[inline]
    pub fn publish(&self, event: &E) -> Delivery {
        if self.wakes {
            return publish(&self.call, event);
        }
        if let Err(denied) = self.call.may(Held::EVENTS_PUBLISH) {
            return refused::<E>(&self.call, &denied);
        }
        let Ok(inside) = quiescence::enter(SECTION) else {
            return Delivery {
                too_deep: true,
                ..Delivery::default()
            };
        };
        // Checked inside the section: a reload that swaps the tables after this check
        // waits for the section before it deactivates the instances these subscribers
        // belong to. Checked before entering, a whole reload could pass in between.
        if self.tables.generation != self.call.runtime.generation() {
            drop(inside);
            return publish(&self.call, event);
        }
        // SAFETY: see the `Send` impl.
        let subscribers = unsafe { self.subscribers.as_ref() };
        let delivery = deliver(&self.call, &inside, subscribers, event, self.tables.observe);
        drop(inside);
        delivery
    }

    /// How many subscribers the event type had when the channel was resolved, active
    /// or not.
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

fn subscribers<E: 'static>(tables: &Tables) -> &[Subscriber<E>] {
    match tables.events.get(&TypeId::of::<E>()) {
        Some(list) => {
            debug_assert!(
                list.is::<Vec<Subscriber<E>>>(),
                "event lists are keyed by their own type"
            );
            // SAFETY: the list under `TypeId::of::<E>()` is always a `Vec<Subscriber<E>>`
            // (freeze builds it so, and nothing else inserts); the key is the type
            // check, and `downcast_ref` would repeat it through a virtual call on every
            // publish.
            unsafe { &*(std::ptr::from_ref::<dyn Any + Send + Sync>(&**list).cast::<Vec<Subscriber<E>>>()) }
        }
        None => &[],
    }
}

/// Publishes by event type, through the current tables.
#[inline]
pub(crate) fn publish<E: 'static + Send + Sync>(call: &RawCall<'_>, event: &E) -> Delivery {
    if let Err(denied) = call.may(Held::EVENTS_PUBLISH) {
        return refused::<E>(call, &denied);
    }
    let Ok(inside) = quiescence::enter(SECTION) else {
        return Delivery {
            too_deep: true,
            ..Delivery::default()
        };
    };
    let mut tables = call.runtime.tables(&inside);
    if !tables.dormant.events.is_empty() {
        // A lazy plugin that subscribes to `E` and has not been used yet: wake it, then
        // deliver through the tables that include it.
        wake_subscribers::<E>(call, tables);
        tables = call.runtime.tables(&inside);
    }
    let delivery = deliver(call, &inside, subscribers(tables), event, tables.observe);
    drop(inside);
    delivery
}

/// The dormant lazy plugins that declare a subscription to `E`.
fn dormant_subscribers<E: 'static>(tables: &Tables) -> impl Iterator<Item = usize> + '_ {
    let name = type_name::<E>();
    tables
        .dormant
        .events
        .iter()
        .filter(move |(event, _)| &**event == name)
        .map(|&(_, position)| position)
}

/// Wakes the dormant subscribers of `E`. One that cannot activate is failed with its
/// reason, and the publish goes on without it: an incident says so.
#[cold]
fn wake_subscribers<E: 'static>(call: &RawCall<'_>, tables: &Tables) {
    for position in dormant_subscribers::<E>(tables) {
        if let Err(failure) = call.runtime.wake(position) {
            call.runtime.record_incident(Incident {
                plugin: call.runtime.plugin_id(position).to_owned(),
                site: format!("lazy activation on a publish of {}", type_name::<E>()),
                message: failure.to_string(),
            });
        }
    }
}

/// Delivers `event`. The plan the frozen tables and the gate allow: unobserved, with
/// the gate armed, the walk is inlined here and calls each subscriber unchecked (a
/// panic leaves it for [`deliver_from`], which resumes after the subscriber that
/// panicked); otherwise, inside the gate already, [`deliver_from`]'s checked walk, or
/// [`deliver_observed`], out of line.
#[inline(always)]
fn deliver<E: 'static>(
    call: &RawCall<'_>,
    inside: &Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    observe: Observe,
) -> Delivery {
    if observe.spans || observe.metrics {
        return deliver_observed(call, inside, subscribers, event, observe);
    }
    let gate = &call.runtime.gate;
    inside.retarget(gate.key());
    if !gate.is_armed() {
        return deliver_from(call, inside, subscribers, event, false, 0, Delivery::default());
    }
    let mut running = 0;
    let mut delivery = Delivery::default();
    let walked = catch_unwind(AssertUnwindSafe(|| {
        walk::<E, false>(call, inside, subscribers, event, &mut running, &mut delivery);
    }));
    match walked {
        Ok(()) => delivery,
        Err(payload) => resume_after_panic(call, inside, subscribers, event, running, delivery, payload),
    }
}

/// A subscriber of an unchecked walk panicked: the incident is recorded for it, and the
/// walk goes on after it.
#[cold]
#[inline(never)]
fn resume_after_panic<E: 'static>(
    call: &RawCall<'_>,
    inside: &Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    running: usize,
    mut delivery: Delivery,
    payload: Box<dyn Any + Send>,
) -> Delivery {
    delivery.failed += 1;
    record_failure::<E>(call, subscribers[running].owner, Err(payload));
    deliver_from(call, inside, subscribers, event, true, running + 1, delivery)
}

/// [`deliver`] with a span around it or its metrics recorded: kept out of line, so that
/// an unobserved publish carries no span to drop.
#[inline(never)]
fn deliver_observed<E: 'static>(
    call: &RawCall<'_>,
    inside: &Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    observe: Observe,
) -> Delivery {
    let _span = observe
        .spans
        .then(|| tracing::debug_span!("patchpanel.publish", event = type_name::<E>()).entered());
    let delivery = deliver_each(call, inside, subscribers, event);
    if observe.metrics {
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

/// Delivers `event` to `subscribers` in order. The caller's entry on this thread's
/// stack moves onto the event gate: while the gate is armed (every subscribing plugin
/// is active, see [`gate`](super::gate)), the walk calls each subscriber with no check
/// of its own; otherwise the entry moves onto each subscriber's plugin in turn, and its
/// state is checked, as a call's is.
///
/// One panic guard covers the walk: the walk records which subscriber it is running, so
/// a panic is attributed to that subscriber, and the walk resumes after it under a new
/// guard. A panicking or failing subscriber's siblings run, as if each had a guard of
/// its own.
#[inline(never)]
fn deliver_each<E: 'static>(call: &RawCall<'_>, inside: &Inside, subscribers: &[Subscriber<E>], event: &E) -> Delivery {
    let gate = &call.runtime.gate;
    inside.retarget(gate.key());
    let armed = gate.is_armed();
    deliver_from(call, inside, subscribers, event, armed, 0, Delivery::default())
}

/// [`deliver_each`]'s walk from subscriber `from` on, adding to `delivery`; `armed`:
/// the caller is inside the armed gate, and the walk does not check states.
#[inline(never)]
fn deliver_from<E: 'static>(
    call: &RawCall<'_>,
    inside: &Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    armed: bool,
    mut from: usize,
    mut delivery: Delivery,
) -> Delivery {
    while from < subscribers.len() {
        let mut running = from;
        let rest = &subscribers[from..];
        let walked = catch_unwind(AssertUnwindSafe(|| {
            if armed {
                walk::<E, false>(call, inside, rest, event, &mut running, &mut delivery);
            } else {
                walk::<E, true>(call, inside, rest, event, &mut running, &mut delivery);
            }
        }));
        match walked {
            Ok(()) => break,
            Err(payload) => {
                let running = from + running;
                delivery.failed += 1;
                record_failure::<E>(call, subscribers[running].owner, Err(payload));
                from = running + 1;
            }
        }
    }
    delivery
}

/// Delivers to `subscribers` in order, storing in `running` the index of the one being
/// called (read by [`deliver_each`] after a panic). `CHECKED`: enter each subscriber's
/// plugin and skip the inactive ones (the gate is not armed).
#[inline(always)]
fn walk<E: 'static, const CHECKED: bool>(
    call: &RawCall<'_>,
    inside: &Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    running: &mut usize,
    delivery: &mut Delivery,
) {
    let mut inner = call.enter(0);
    for (index, subscriber) in subscribers.iter().enumerate() {
        if CHECKED {
            let slot = call.runtime.plugin(subscriber.owner);
            inside.retarget(slot.key());
            if !slot.is_active() {
                continue;
            }
        }
        *running = index;
        delivery.reached += 1;
        inner.set_current(subscriber.owner);
        // SAFETY: see `Subscriber::raw`.
        let handler = unsafe { &*subscriber.raw };
        if let Err(error) = handler(&inner, event) {
            delivery.failed += 1;
            record_failure::<E>(call, subscriber.owner, Ok(Err(error)));
        }
    }
}

/// A publish the run-time check refused: an incident, and nothing delivered.
#[cold]
fn refused<E>(call: &RawCall<'_>, denied: &PermissionDenied) -> Delivery {
    call.runtime.record_incident(Incident {
        plugin: denied.plugin.clone(),
        site: format!("publish of {}", type_name::<E>()),
        message: denied.to_string(),
    });
    Delivery {
        denied: true,
        ..Delivery::default()
    }
}

#[cold]
fn record_failure<E>(call: &RawCall<'_>, owner: usize, outcome: std::thread::Result<Result<(), PluginError>>) {
    let message = match outcome {
        Ok(Err(error)) => crate::error::error_chain(&error),
        Err(payload) => format!("panicked: {}", panic_message(payload.as_ref())),
        Ok(Ok(())) => return,
    };
    call.runtime.record_incident(Incident {
        plugin: call.runtime.plugin_id(owner).to_owned(),
        site: format!("event handler for {}", type_name::<E>()),
        message,
    });
}
