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
use std::sync::atomic::{AtomicU64, Ordering};

use super::gate::Gate;
use super::quiescence::{self, Inside, SECTION};
use super::tables::EventList;
use super::type_index::TypeIndex;
use super::{Call, Incident, Observe, RawCall, Tables};
use crate::error::PluginError;
use crate::permissions::{EventsPublish, Held, PermissionDenied};
use crate::support::panic_message;

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
///
/// Guide: [talking between plugins](crate::guide::talking).
pub struct EventChannel<'h, E> {
    call: RawCall<'h>,
    subscribers: NonNull<[Subscriber<E>]>,
    /// The runtime's event gate, whose word a publish compares with `fast`.
    gate: &'h Gate,
    /// The plan, in one word: the gate's word as last seen armed while `tables` were
    /// the runtime's, when a publish may walk `subscribers` unchecked with nothing else
    /// to do. The gate's word moves whenever the gate disarms or the tables are swapped,
    /// so a publish that finds the word unchanged needs no other check; one that finds
    /// it changed takes [`EventChannel::publish_planned`], which brings this up to date.
    /// [`NEVER`] when every publish must take that path: the tables observe publishes, a
    /// lazy subscriber waits to be woken, or the publisher may not publish.
    fast: AtomicU64,
    /// Whether the plan is the plain walk (`fast` is not [`NEVER`] for good).
    plain: bool,
    /// The walk's shape, chosen for the subscriber count when the channel is made: one
    /// subscriber is called without a loop, so the call keeps fewer values live.
    walk: fn(&Self, &E) -> Packed,
    /// Keeps `subscribers` alive; when the runtime has newer tables, a publish uses
    /// those instead.
    tables: Arc<Tables>,
    /// Whether a lazy plugin that subscribes to `E` had not activated when the channel
    /// was resolved: a publish then takes the path that wakes it.
    wakes: bool,
}

/// A word the gate never holds: armed, at a version no runtime reaches.
const NEVER: u64 = u64::MAX;

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
        // The publisher's permissions are its manifest's, fixed for the slot's life.
        let denied = self
            .raw
            .current_position()
            .is_some_and(|position| !self.raw.runtime.plugin(position).held.holds(Held::EVENTS_PUBLISH));
        let list = subscribers::<E>(&tables);
        let channel = EventChannel {
            call: self.raw,
            subscribers: NonNull::from(list),
            gate: &self.raw.runtime.gate,
            fast: AtomicU64::new(NEVER),
            plain: !(wakes || denied || tables.observe.any()),
            walk: if list.len() == 1 {
                EventChannel::publish_one
            } else {
                EventChannel::publish_packed
            },
            wakes,
            tables,
        };
        channel.refresh();
        channel
    }
}

impl<E: 'static + Send + Sync> EventChannel<'_, E> {
    /// Delivers `event` to every active subscriber, in order.
    #[inline(always)]
    pub fn publish(&self, event: &E) -> Delivery {
        (self.walk)(self, event).unpack()
    }

    /// [`EventChannel::publish_packed`] for a channel of one subscriber: the same plan,
    /// with the subscriber called directly.
    #[inline(never)]
    fn publish_one(&self, event: &E) -> Packed {
        self.publish_planned_or(event, |inside| {
            // SAFETY: see the `Send` impl; the channel was made with one subscriber.
            let one = || unsafe { self.subscribers.as_ref().get_unchecked(0) };
            call_one(&self.call, inside, one().raw, || one().owner, event)
        })
    }

    /// [`EventChannel::publish`] for a channel made with any number of subscribers but
    /// one (see [`EventChannel::publish_one`]). Out of the caller: inlined into a
    /// publishing loop, the walk had to share the loop's registers and cost four more
    /// instructions a subscriber.
    #[inline(never)]
    fn publish_packed(&self, event: &E) -> Packed {
        self.publish_planned_or(event, |inside| {
            // SAFETY: see the `Send` impl.
            let subscribers = unsafe { self.subscribers.as_ref() };
            walk_armed(&self.call, inside, subscribers, event)
        })
    }

    /// The plan's one compare, shared by both walks: `walk` runs when the gate's word is
    /// the expected one, the planned path otherwise.
    #[inline(always)]
    fn publish_planned_or(&self, event: &E, walk: impl FnOnce(Inside) -> Packed) -> Packed {
        match quiescence::enter_fast(SECTION) {
            Some(inside) => {
                // On the gate before its word is read, as every walk of an armed gate
                // (see `gate`); and compared inside the section: a reload that swaps the
                // tables after this compare waits for the section before it deactivates
                // the instances these subscribers belong to.
                let gate = self.gate;
                inside.retarget_entered_fast(gate.key());
                if gate.word() == self.fast.load(Ordering::Relaxed) {
                    return walk(inside);
                }
                self.publish_planned::<true>(inside, event)
            }
            None => self.publish_entering_slowly(event),
        }
    }

    /// Brings the plan up to date: the gate's word, if it is armed and the channel's
    /// tables are still the runtime's. Read in that order: a swap moves the generation
    /// before the gate's word, so a word read before a generation found unchanged
    /// predates any swap since the channel's tables.
    fn refresh(&self) {
        if !self.plain {
            return;
        }
        let word = self.gate.word();
        if word & 1 == 1 && self.tables.generation == self.call.runtime.generation() {
            self.fast.store(word, Ordering::Relaxed);
        }
    }

    /// [`EventChannel::publish`] when the gate's word is not the one the plan expects:
    /// the gate is disarmed, the runtime has newer tables, or the plan is not the plain
    /// walk (see [`EventChannel::fast`]). `inside` is on the gate.
    #[inline(never)]
    fn publish_planned<const ENTERED_FAST: bool>(&self, inside: Inside, event: &E) -> Packed {
        self.refresh();
        if self.wakes || self.tables.generation != self.call.runtime.generation() {
            drop(inside);
            return publish(&self.call, event).pack();
        }
        if let Err(denied) = self.call.may(Held::EVENTS_PUBLISH) {
            drop(inside);
            return refused::<E>(&self.call, &denied).pack();
        }
        // SAFETY: see the `Send` impl.
        let subscribers = unsafe { self.subscribers.as_ref() };
        deliver::<E, ENTERED_FAST>(&self.call, inside, subscribers, event, self.tables.observe).pack()
    }

    /// [`EventChannel::publish`] when the thread's record sends the entry to its slow
    /// path.
    #[cold]
    #[inline(never)]
    fn publish_entering_slowly(&self, event: &E) -> Packed {
        let Ok(inside) = quiescence::enter(SECTION) else {
            return Delivery {
                too_deep: true,
                ..Delivery::default()
            }
            .pack();
        };
        inside.retarget(self.gate.key());
        self.publish_planned::<false>(inside, event)
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
    // SAFETY: as in `list_in`; these are the tables' own lists.
    unsafe { list_in(&tables.events, tables) }
}

/// The subscribers of `E` a publish by type reads first: none when the tables say a
/// publish has more to do (see `Tables::fast_events`).
#[inline(always)]
fn fast_subscribers<E: 'static>(tables: &Tables) -> &[Subscriber<E>] {
    // SAFETY: as in `list_in`; these are the tables' own lists.
    unsafe { list_in(tables.fast_events(), tables) }
}

/// The subscribers of `E` in `index`, which must be one of `tables`' own.
///
/// # Safety
///
/// `index` belongs to `tables`: the list under `TypeId::of::<E>()` was read from a
/// `Vec<Subscriber<E>>` that `tables` owns and never changes (freeze builds it so, and
/// nothing else inserts): the key is the type check, and `downcast_ref` would repeat it
/// through a virtual call on every publish. An empty slot's list is empty, with a start
/// aligned for any `Subscriber<E>` (below).
#[inline(always)]
unsafe fn list_in<'t, E: 'static>(index: &'t TypeIndex<EventList>, _tables: &'t Tables) -> &'t [Subscriber<E>] {
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
    let gate: &Gate = &call.runtime.gate;
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
    let gate: &Gate = &call.runtime.gate;
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
    let subscribers = unsafe { fast_subscribers_in_section(tables) };
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
    let subscribers = unsafe { subscribers_in_section(tables) };
    deliver::<E, ENTERED_FAST>(call, inside, subscribers, event, observe)
}

/// [`subscribers`], detached from the borrow of the section that found `tables`, so
/// that the section can be moved on to the walk by value (the hot path then keeps it in
/// registers).
///
/// # Safety
///
/// The tables stay alive only while this thread is inside the section: the caller must
/// keep the section entered for as long as it uses what this returns.
unsafe fn subscribers_in_section<'s, E: 'static>(tables: &Tables) -> &'s [Subscriber<E>] {
    let subscribers: *const [Subscriber<E>] = subscribers(tables);
    // SAFETY: the caller keeps the section, and with it the tables, alive.
    unsafe { &*subscribers }
}

/// [`fast_subscribers`], detached from the borrow of the section as
/// [`subscribers_in_section`].
///
/// # Safety
///
/// As [`subscribers_in_section`].
#[inline(always)]
unsafe fn fast_subscribers_in_section<'s, E: 'static>(tables: &Tables) -> &'s [Subscriber<E>] {
    let subscribers: *const [Subscriber<E>] = fast_subscribers(tables);
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

/// Delivers `event`. The plan the frozen tables and the gate allow: unobserved, with
/// the gate armed, the walk is inlined here and calls each subscriber unchecked (a
/// panic leaves it for [`deliver_from`], which resumes after the subscriber that
/// panicked); otherwise, inside the gate already, [`deliver_from`]'s checked walk, or
/// [`deliver_observed`], out of line. `ENTERED_FAST`: `inside` came from the record's
/// fast path, so moving it onto the gate needs no fence but the compiler's. The section
/// is left when this returns (`inside` is passed on by value, so the hot path keeps it
/// in registers).
#[inline(always)]
fn deliver<E: 'static, const ENTERED_FAST: bool>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    observe: Observe,
) -> Delivery {
    if observe.any() {
        return deliver_observed(call, inside, subscribers, event, observe);
    }
    deliver_plain::<E, ENTERED_FAST>(call, inside, subscribers, event).unpack()
}

/// [`deliver`] when nothing is observed.
#[inline(always)]
fn deliver_plain<E: 'static, const ENTERED_FAST: bool>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
) -> Packed {
    let gate: &super::gate::Gate = &call.runtime.gate;
    if ENTERED_FAST {
        inside.retarget_entered_fast(gate.key());
    } else {
        inside.retarget(gate.key());
    }
    deliver_on_gate(call, inside, subscribers, event)
}

/// [`deliver_plain`] once the entry is on the gate: the unchecked walk when the gate is
/// armed (one subscriber called directly), the checked one when it is not.
#[inline(always)]
fn deliver_on_gate<E: 'static>(call: &RawCall<'_>, inside: Inside, subscribers: &[Subscriber<E>], event: &E) -> Packed {
    let gate: &super::gate::Gate = &call.runtime.gate;
    if !gate.is_armed() {
        return deliver_from(call, inside, subscribers, event, false, 0, Delivery::default());
    }
    if let [one] = subscribers {
        return call_one(call, inside, one.raw, || one.owner, event);
    }
    walk_armed(call, inside, subscribers, event)
}

/// The walk of one subscriber inside the armed gate: the call under its panic guard,
/// with no loop, so that fewer values stay live across it. The section is left as soon
/// as the subscriber returns.
#[inline(always)]
fn call_one<E: 'static>(
    call: &RawCall<'_>,
    inside: Inside,
    handler: *const (dyn Fn(&RawCall<'_>, &E) -> Result<(), PluginError> + Send + Sync),
    owner: impl FnOnce() -> usize,
    event: &E,
) -> Packed {
    // SAFETY: see `Subscriber::raw`.
    let handler = unsafe { &*handler };
    let outcome = catch_unwind(AssertUnwindSafe(|| handler(call, event)));
    drop(inside);
    if let Ok(Ok(())) = outcome {
        return Packed(1, 0);
    }
    // The owner is found only now: kept across the call, it would take a register.
    one_failed::<E>(call, owner(), outcome)
}

/// The one subscriber of [`call_one`] failed or panicked: recorded and attributed as a
/// walk records it.
#[cold]
#[inline(never)]
fn one_failed<E>(call: &RawCall<'_>, owner: usize, outcome: std::thread::Result<Result<(), PluginError>>) -> Packed {
    record_failure::<E>(call, owner, outcome);
    Packed(1, 1)
}

/// [`deliver_plain`] inside the armed gate: the unchecked walk under one panic guard.
#[inline(always)]
fn walk_armed<E: 'static>(call: &RawCall<'_>, inside: Inside, subscribers: &[Subscriber<E>], event: &E) -> Packed {
    let mut running = subscribers.as_ptr();
    let mut delivery = Delivery::default();
    let walked = catch_unwind(AssertUnwindSafe(|| {
        walk::<E, false>(call, &inside, subscribers, event, &mut running, &mut delivery);
    }));
    match walked {
        Ok(()) => {
            drop(inside);
            delivery.pack()
        }
        Err(payload) => {
            let running = index_of(subscribers, running);
            // An unchecked walk counts what it reached when it ends; this one ended at
            // the subscriber that panicked, which it had reached.
            delivery.reached += running + 1;
            resume_after_panic(call, inside, subscribers, event, running, delivery, payload)
        }
    }
}

/// A subscriber of an unchecked walk panicked: the incident is recorded for it, and the
/// walk goes on after it.
#[cold]
#[inline(never)]
fn resume_after_panic<E: 'static>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    running: usize,
    mut delivery: Delivery,
    payload: Box<dyn Any + Send>,
) -> Packed {
    delivery.failed += 1;
    record_failure::<E>(call, subscribers[running].owner, Err(payload));
    deliver_from(call, inside, subscribers, event, true, running + 1, delivery)
}

/// [`deliver`] with a span around it or its metrics recorded: kept out of line, so that
/// an unobserved publish carries no span to drop.
#[inline(never)]
fn deliver_observed<E: 'static>(
    call: &RawCall<'_>,
    inside: Inside,
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
fn deliver_each<E: 'static>(call: &RawCall<'_>, inside: Inside, subscribers: &[Subscriber<E>], event: &E) -> Delivery {
    let gate = &call.runtime.gate;
    inside.retarget(gate.key());
    let armed = gate.is_armed();
    deliver_from(call, inside, subscribers, event, armed, 0, Delivery::default()).unpack()
}

/// [`deliver_each`]'s walk from subscriber `from` on, adding to `delivery`; `armed`:
/// the caller is inside the armed gate, and the walk does not check states.
#[inline(never)]
fn deliver_from<E: 'static>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    armed: bool,
    mut from: usize,
    mut delivery: Delivery,
) -> Packed {
    while from < subscribers.len() {
        let rest = &subscribers[from..];
        let mut running = rest.as_ptr();
        let walked = catch_unwind(AssertUnwindSafe(|| {
            if armed {
                walk::<E, false>(call, &inside, rest, event, &mut running, &mut delivery);
            } else {
                walk::<E, true>(call, &inside, rest, event, &mut running, &mut delivery);
            }
        }));
        match walked {
            Ok(()) => break,
            Err(payload) => {
                let reached = index_of(rest, running);
                if armed {
                    // The unchecked walk counts what it reached when it ends.
                    delivery.reached += reached + 1;
                }
                let running = from + reached;
                delivery.failed += 1;
                record_failure::<E>(call, subscribers[running].owner, Err(payload));
                from = running + 1;
            }
        }
    }
    drop(inside);
    delivery.pack()
}

/// The index in `subscribers` of the one `running` points at.
fn index_of<E>(subscribers: &[Subscriber<E>], running: *const Subscriber<E>) -> usize {
    // SAFETY: `running` was taken from `subscribers` (its first element, or one the walk
    // reached), so both are in the same allocation.
    let index = unsafe { running.offset_from(subscribers.as_ptr()) };
    usize::try_from(index).expect("a walk moves forward")
}

/// Delivers to `subscribers` in order, storing in `running` the one being called (read
/// after a panic, to attribute it; a pointer rather than an index, which the loop would
/// count in a register of its own). `CHECKED`: enter each subscriber's plugin and skip
/// the inactive ones (the gate is not armed), counting those reached one by one; an
/// unchecked walk reaches every subscriber and counts them all when it ends (a caller
/// that catches a panic counts up to the one that panicked).
#[inline(always)]
fn walk<E: 'static, const CHECKED: bool>(
    call: &RawCall<'_>,
    inside: &Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
    running: &mut *const Subscriber<E>,
    delivery: &mut Delivery,
) {
    for subscriber in subscribers {
        if CHECKED {
            let slot = call.runtime.plugin(subscriber.owner);
            inside.retarget(slot.key());
            if !slot.is_active() {
                continue;
            }
        }
        *running = subscriber;
        if CHECKED {
            delivery.reached += 1;
        }
        // SAFETY: see `Subscriber::raw`.
        let handler = unsafe { &*subscriber.raw };
        if let Err(error) = handler(call, event) {
            delivery.failed += 1;
            record_failure::<E>(call, subscriber.owner, Ok(Err(error)));
        }
    }
    if !CHECKED {
        delivery.reached += subscribers.len();
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use crate::testing::{fn_plugin, with_every_permission};
    use crate::{Host, Manifest};

    struct Tick;

    fn listener(id: &str) -> crate::PluginSpec {
        fn_plugin(
            with_every_permission(Manifest::builder(id, "1.0.0")).build().unwrap(),
            |context| {
                context.subscribe(|_, _: &Tick| Ok(()));
                Ok(())
            },
        )
    }

    /// The plan word follows the gate: a disable leaves it behind (the next publish
    /// takes the planned path, which finds the gate disarmed and keeps the word), an
    /// enable re-arms the gate and the next publish brings the word up to date, so the
    /// channel takes its fast path again; a swap of the tables leaves it behind for good.
    #[test]
    fn a_channel_regains_its_fast_path_when_the_gate_re_arms_and_not_after_a_swap() {
        let host = Host::builder()
            .plugins(vec![listener("a"), listener("b")])
            .build()
            .unwrap();
        let channel = host.channel::<Tick>();
        let gate = channel.gate;
        let fast = || channel.fast.load(Ordering::Relaxed);
        assert_eq!(fast(), gate.word(), "made on the fast path");
        assert_eq!(channel.publish(&Tick).reached, 2);
        host.disable("b").unwrap();
        assert_ne!(fast(), gate.word(), "the disable moved the gate's word");
        assert_eq!(channel.publish(&Tick).reached, 1);
        assert_ne!(fast(), gate.word(), "a disarmed gate is never the plan");
        host.enable("b").unwrap();
        assert_eq!(channel.publish(&Tick).reached, 2);
        assert_eq!(fast(), gate.word(), "the planned path brought the word up to date");
        assert_eq!(channel.publish(&Tick).reached, 2);
        assert_eq!(host.reload("a").unwrap().generation, 1);
        assert_eq!(channel.publish(&Tick).reached, 2, "through the current tables");
        assert_ne!(fast(), gate.word(), "the channel's tables are old: never fast again");
        let fresh = host.channel::<Tick>();
        assert_eq!(fresh.fast.load(Ordering::Relaxed), gate.word());
        assert_eq!(fresh.publish(&Tick).reached, 2);
    }
}
