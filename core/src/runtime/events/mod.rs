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

mod channel;
mod walk;

use std::any::{Any, TypeId, type_name};
use std::ptr::NonNull;
use std::sync::Arc;

pub use channel::EventChannel;
use walk::{call_one, deliver, deliver_on_gate, refused, walk_armed};

use super::gate::Gate;
use super::quiescence::{self, Inside, SECTION};
use super::tables::EventList;
use super::type_index::TypeIndex;
use super::{Call, Incident, RawCall, Tables};
use crate::error::PluginError;
use crate::permissions::{EventsPublish, Held};

/// An event handler as stored.
///
/// It is bound to its plugin when it is registered: given the publisher's call, it
/// makes its typed [`Call`] entering its own plugin ([`RawCall::enter`], only when its
/// code uses one), so the walk passes the publisher's call and the event as they are.
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

/// A [`Delivery`] in two words, returned in registers by the out-of-line walks (a
/// `Delivery`, three words, goes through memory): the reach, and the failures with the
/// two flags in the top bits. Unpacked where the caller inlines it, so a caller that
/// reads only `reached` pays for nothing else.
#[derive(Clone, Copy)]
struct Packed(usize, usize);

/// [`Packed`]'s bit for [`Delivery::too_deep`].
const TOO_DEEP: usize = 1 << (usize::BITS - 1);
/// [`Packed`]'s bit for [`Delivery::denied`].
const DENIED: usize = 1 << (usize::BITS - 2);

impl Delivery {
    /// The delivery in two words. `failed` is at most the number of subscribers, far
    /// below the flags' bits.
    #[inline(always)]
    fn pack(self) -> Packed {
        let flags = if self.too_deep { TOO_DEEP } else { 0 } | if self.denied { DENIED } else { 0 };
        Packed(self.reached, self.failed | flags)
    }
}

impl Packed {
    #[inline(always)]
    fn unpack(self) -> Delivery {
        Delivery {
            reached: self.0,
            failed: self.1 & !(TOO_DEEP | DENIED),
            too_deep: self.1 & TOO_DEEP != 0,
            denied: self.1 & DENIED != 0,
        }
    }
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
    /// Reads a list `new_list` made, once complete, as the tables index it.
    pub(crate) list_of: super::tables::EventListOf,
}

impl SubscriptionRegistration {
    /// A static subscription of plugin `P` to `E`, for `P`'s instance at position
    /// `owner`: what `#[subscribe(P)]` builds when the plugin activates.
    pub fn of<P: crate::permissions::Manifested + 'static, E: 'static + Send + Sync>(
        handler: fn(&Call<'_, P>, &E) -> Result<(), PluginError>,
        owner: usize,
    ) -> SubscriptionRegistration {
        let () = crate::permissions::Proof::<P>::EVENTS_SUBSCRIBE;
        SubscriptionRegistration::new::<E>(Arc::new(move |call: &RawCall<'_>, event: &E| {
            handler(&Call::typed(call.enter(owner)), event)
        }))
    }

    pub(crate) fn new<E: 'static + Send + Sync>(handler: EventHandler<E>) -> SubscriptionRegistration {
        SubscriptionRegistration {
            event: TypeId::of::<E>(),
            event_name: std::any::type_name::<E>(),
            handler: Arc::new(handler),
            new_list: || Box::new(Vec::<Subscriber<E>>::new()),
            list_of: |list| {
                let list = list
                    .downcast_ref::<Vec<Subscriber<E>>>()
                    .expect("the list was made for this event type");
                EventList {
                    start: NonNull::from(list.as_slice()).cast(),
                    len: list.len(),
                }
            },
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
        EventChannel::resolve(self.raw)
    }
}

fn subscribers<E: 'static>(tables: &Tables) -> &[Subscriber<E>] {
    // SAFETY: `events` is the tables' own index.
    unsafe { list_in(&tables.events) }
}

/// The subscribers of `E` in `index`.
///
/// # Safety
///
/// `index` is one of a `Tables`' own (`events` or its fast copy), so it lives as long
/// as the lists it points into: the list under `TypeId::of::<E>()` was read from a
/// `Vec<Subscriber<E>>` that those tables own and never change (freeze builds it so,
/// and nothing else inserts): the key is the type check, and `downcast_ref` would
/// repeat it through a virtual call on every publish. An empty slot's list is empty,
/// with a start aligned for any `Subscriber<E>` (below).
#[inline(always)]
unsafe fn list_in<E: 'static>(index: &TypeIndex<EventList>) -> &[Subscriber<E>] {
    const {
        assert!(std::mem::align_of::<Subscriber<E>>() <= std::mem::align_of::<usize>());
    }
    let list = index.get_or_default(TypeId::of::<E>());
    // SAFETY: see above.
    unsafe { std::slice::from_raw_parts(list.start.as_ptr().cast::<Subscriber<E>>(), list.len) }
}

/// Publishes by event type, through the current tables.
#[inline]
pub(crate) fn publish<E: 'static + Send + Sync>(call: &RawCall<'_>, event: &E) -> Delivery {
    if let Err(denied) = call.may(Held::EVENTS_PUBLISH) {
        return refused::<E>(call, &denied);
    }
    // Entered on the gate at once, not on a bare section first: the grace period that
    // keeps the tables alive counts a thread's entries, whatever their keys, and a
    // writer that waits for the gate's users then waits for this publish from its
    // start, which only makes it wait longer.
    let gate: &Gate = call.runtime.gate();
    match quiescence::enter_fast(gate.key()) {
        Some(inside) => deliver_in::<E, true>(call, gate, inside, event),
        None => publish_entering_slowly(call, event),
    }
}

/// [`publish`] when the thread's record sends the entry to its slow path (the thread's
/// first call, a grace period, calls nested too deeply).
#[cold]
#[inline(never)]
fn publish_entering_slowly<E: 'static + Send + Sync>(call: &RawCall<'_>, event: &E) -> Delivery {
    let gate: &Gate = call.runtime.gate();
    let Ok(inside) = quiescence::enter(gate.key()) else {
        return Delivery {
            too_deep: true,
            ..Delivery::default()
        };
    };
    deliver_in::<E, false>(call, gate, inside, event)
}

/// [`publish`] inside the gate: the subscribers of `E` in the current tables.
/// `ENTERED_FAST`: `inside` came from the record's fast path.
///
/// Inside the armed gate, one subscriber is called directly and several are walked;
/// only an empty list (which is what the fast index answers when a publish has more
/// to do) reads the tables' flag for the extras.
#[inline(always)]
fn deliver_in<E: 'static + Send + Sync, const ENTERED_FAST: bool>(
    call: &RawCall<'_>,
    gate: &Gate,
    inside: Inside,
    event: &E,
) -> Delivery {
    let tables = call.runtime.tables(&inside);
    // SAFETY: the walks below hold the section (`inside`, moved into them) for as long
    // as they use the subscribers.
    // The fast index is empty when the tables say a publish has more to do.
    let subscribers = unsafe { subscribers_in_section(tables.fast_events()) };
    if gate.is_armed() {
        match subscribers {
            [one] => return call_one(call, inside, one.raw, || one.owner, event).unpack(),
            // Tested last: a publish nobody hears, or one with extras to do.
            [] => rarely(),
            _ => return walk_armed(call, inside, subscribers, event).unpack(),
        }
    }
    if subscribers.is_empty() && tables.publish_extras {
        return deliver_with_extras::<E, ENTERED_FAST>(call, inside, event);
    }
    deliver_on_gate(call, inside, subscribers, event).unpack()
}

/// Marks the branch that calls it as rarely taken (`std::hint::cold_path`, which is
/// newer than the toolchain this crate supports), so that the compiler tests the
/// others first.
#[cold]
#[inline(never)]
fn rarely() {}

/// [`deliver_in`] when the tables say a publish must observe or wake a lazy subscriber.
#[cold]
#[inline(never)]
fn deliver_with_extras<E: 'static + Send + Sync, const ENTERED_FAST: bool>(
    call: &RawCall<'_>,
    inside: Inside,
    event: &E,
) -> Delivery {
    // Off the gate while a lazy subscriber wakes (its activation swaps the tables and
    // re-arms the gate), as a bare section; `deliver` moves back onto it.
    if ENTERED_FAST {
        inside.retarget_entered_fast(SECTION);
    } else {
        inside.retarget(SECTION);
    }
    let mut tables = call.runtime.tables(&inside);
    if !tables.dormant().events.is_empty() {
        // A lazy plugin that subscribes to `E` and has not been used yet: wake it, then
        // deliver through the tables that include it.
        wake_subscribers::<E>(call, tables);
        tables = call.runtime.tables(&inside);
    }
    let observe = tables.observe;
    // SAFETY: `deliver` holds the section (`inside`, moved into it) for as long as it
    // uses the subscribers.
    let subscribers = unsafe { subscribers_in_section(&tables.events) };
    deliver::<E, ENTERED_FAST>(call, inside, subscribers, event, observe)
}

/// [`list_in`], detached from the borrow of the section that found the tables, so
/// that the section can be moved on to the walk by value (the hot path then keeps it in
/// registers).
///
/// # Safety
///
/// As [`list_in`]; and the tables stay alive only while this thread is inside the
/// section: the caller must keep the section entered for as long as it uses what this
/// returns.
#[inline(always)]
unsafe fn subscribers_in_section<'s, E: 'static>(index: &TypeIndex<EventList>) -> &'s [Subscriber<E>] {
    // SAFETY: as the caller promises.
    let subscribers: *const [Subscriber<E>] = unsafe { list_in(index) };
    // SAFETY: the caller keeps the section, and with it the tables, alive.
    unsafe { &*subscribers }
}

/// The dormant lazy plugins that declare a subscription to `E`.
fn dormant_subscribers<E: 'static>(tables: &Tables) -> impl Iterator<Item = usize> + '_ {
    let name = type_name::<E>();
    tables
        .dormant()
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
