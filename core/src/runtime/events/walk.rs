//! The walks over an event's subscribers: the unchecked walk inside the armed gate
//! (one subscriber called directly), the checked walk that enters each subscriber's
//! plugin, the observed walk, and what a failure or a panic records.

use std::any::{Any, type_name};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::super::gate::Gate;
use super::super::quiescence::Inside;
use super::super::{Incident, Observe, RawCall};
use super::{Delivery, Packed, Subscriber};
use crate::error::PluginError;
use crate::permissions::PermissionDenied;
use crate::support::panic_message;

/// Delivers `event`. The plan the frozen tables and the gate allow: unobserved, with
/// the gate armed, the walk is inlined here and calls each subscriber unchecked (a
/// panic leaves it for [`deliver_from`], which resumes after the subscriber that
/// panicked); otherwise, inside the gate already, [`deliver_from`]'s checked walk, or
/// [`deliver_observed`], out of line. `ENTERED_FAST`: `inside` came from the record's
/// fast path, so moving it onto the gate needs no fence but the compiler's. The section
/// is left when this returns (`inside` is passed on by value, so the hot path keeps it
/// in registers).
#[inline(always)]
pub(super) fn deliver<E: 'static, const ENTERED_FAST: bool>(
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
pub(super) fn deliver_plain<E: 'static, const ENTERED_FAST: bool>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
) -> Packed {
    let gate: &Gate = &call.runtime.gate;
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
pub(super) fn deliver_on_gate<E: 'static>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
) -> Packed {
    let gate: &Gate = &call.runtime.gate;
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
pub(super) fn call_one<E: 'static>(
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
pub(super) fn one_failed<E>(
    call: &RawCall<'_>,
    owner: usize,
    outcome: std::thread::Result<Result<(), PluginError>>,
) -> Packed {
    record_failure::<E>(call, owner, outcome);
    Packed(1, 1)
}

/// [`deliver_plain`] inside the armed gate: the unchecked walk under one panic guard.
#[inline(always)]
pub(super) fn walk_armed<E: 'static>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
) -> Packed {
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
pub(super) fn resume_after_panic<E: 'static>(
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
pub(super) fn deliver_observed<E: 'static>(
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
pub(super) fn record_delivery<E>(delivery: Delivery) {
    ::metrics::counter!("patchpanel_event_deliveries_total", "event" => type_name::<E>())
        .increment(delivery.reached as u64);
    if delivery.failed > 0 {
        ::metrics::counter!("patchpanel_event_failures_total", "event" => type_name::<E>())
            .increment(delivery.failed as u64);
    }
}

/// Delivers `event` to `subscribers` in order. The caller's entry on this thread's
/// stack moves onto the dispatch gate: while the gate is armed (every gated plugin
/// is active, see [`gate`](super::gate)), the walk calls each subscriber with no check
/// of its own; otherwise the entry moves onto each subscriber's plugin in turn, and its
/// state is checked, as a call's is.
///
/// One panic guard covers the walk: the walk records which subscriber it is running, so
/// a panic is attributed to that subscriber, and the walk resumes after it under a new
/// guard. A panicking or failing subscriber's siblings run, as if each had a guard of
/// its own.
#[inline(never)]
pub(super) fn deliver_each<E: 'static>(
    call: &RawCall<'_>,
    inside: Inside,
    subscribers: &[Subscriber<E>],
    event: &E,
) -> Delivery {
    let gate = &call.runtime.gate;
    inside.retarget(gate.key());
    let armed = gate.is_armed();
    deliver_from(call, inside, subscribers, event, armed, 0, Delivery::default()).unpack()
}

/// [`deliver_each`]'s walk from subscriber `from` on, adding to `delivery`; `armed`:
/// the caller is inside the armed gate, and the walk does not check states.
#[inline(never)]
pub(super) fn deliver_from<E: 'static>(
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
pub(super) fn index_of<E>(subscribers: &[Subscriber<E>], running: *const Subscriber<E>) -> usize {
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
pub(super) fn walk<E: 'static, const CHECKED: bool>(
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
pub(super) fn refused<E>(call: &RawCall<'_>, denied: &PermissionDenied) -> Delivery {
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
pub(super) fn record_failure<E>(
    call: &RawCall<'_>,
    owner: usize,
    outcome: std::thread::Result<Result<(), PluginError>>,
) {
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
