//! An event channel: the subscribers of one event type resolved once, with the plan
//! a publish through it follows (one word, compared with the gate's).

use std::any::type_name;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::gate::Gate;
use super::super::quiescence::{self, Inside, SECTION};
use super::super::{RawCall, Tables};
use super::walk::{call_one, deliver, refused, walk_armed};
use super::{Delivery, Packed, Subscriber, dormant_subscribers, publish, subscribers};
use crate::permissions::Held;

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
    /// The runtime's dispatch gate, whose word a publish compares with `fast`.
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

impl<'h, E: 'static + Send + Sync> EventChannel<'h, E> {
    /// The subscribers of `E` in the current tables, for publishing as `call`, with
    /// the plan a publish follows.
    pub(super) fn resolve(call: RawCall<'h>) -> EventChannel<'h, E> {
        let tables = call.runtime.tables_arc();
        let wakes = dormant_subscribers::<E>(&tables).next().is_some();
        // The publisher's permissions are its manifest's, fixed for the slot's life.
        let denied = call
            .current_position()
            .is_some_and(|position| !call.runtime.plugin(position).held.holds(Held::EVENTS_PUBLISH));
        let list = subscribers::<E>(&tables);
        let channel = EventChannel {
            call,
            subscribers: NonNull::from(list),
            gate: &call.runtime.gate,
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

#[cfg(test)]
impl<E> EventChannel<'_, E> {
    /// Whether the plan word is the gate's current word: the next publish takes the
    /// fast path.
    pub(crate) fn plan_is_current(&self) -> bool {
        self.fast.load(Ordering::Relaxed) == self.gate.word()
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
