//! The JSON boundary: a command run by id with a JSON request, decoded into the
//! command's request type (its strings moved, a failure naming the field at fault) and
//! its response encoded, the serde impls under the command's panic guard.

use std::any::type_name;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::quiescence::{self, SECTION};
use super::running::dispatch_through_chain;
use super::{
    CommandEntry, DispatchError, DispatchErrorKind, Metadata, direct_entry, entered, handler_error, handler_panic,
};
use crate::runtime::RawCall;

/// Runs a command by string id with a JSON request. The fast path is [`execute`](super::execute)'s: a
/// direct command of an active plugin, run by the application or by its own plugin,
/// found and entered without the fences of the general entry; everything else is
/// [`execute_json_slowly`]'s.
#[inline(always)]
pub(super) fn execute_json(
    call: &RawCall<'_>,
    id: &str,
    request: serde_json::Value,
    metadata: Metadata<'_>,
) -> Result<serde_json::Value, DispatchError> {
    if let Some(inside) = quiescence::enter_fast(SECTION) {
        if let Some(entry) = direct_entry(call, &inside, id, |entry| entry.direct) {
            let result = (entry.json)(call, entry, request, metadata);
            drop(inside);
            return result;
        }
        drop(inside);
    }
    execute_json_slowly(call, id, request, metadata)
}

/// [`execute_json`] off its fast path: a lazy plugin to wake, a permission to decide, a
/// chain to run, a refusal or an error to build.
#[inline(never)]
pub(super) fn execute_json_slowly(
    call: &RawCall<'_>,
    id: &str,
    request: serde_json::Value,
    metadata: Metadata<'_>,
) -> Result<serde_json::Value, DispatchError> {
    entered(call, id, |entry| (entry.json)(call, entry, request, metadata))
}

pub(super) fn json_adapter<Req, Resp>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    request: serde_json::Value,
    metadata: Metadata<'_>,
) -> Result<serde_json::Value, DispatchError>
where
    Req: DeserializeOwned + 'static,
    Resp: Serialize + 'static,
{
    // SAFETY: this adapter is the entry's own, registered with its handler's types
    // (`CommandRegistration::new`), so `entry.is::<Req, Resp>()` holds.
    let handler = unsafe { entry.handler_unchecked::<Req, Resp>() };
    if entry.direct {
        // Decoding, the handler and encoding under the one panic guard of the handler:
        // the request's and response's serde impls are the plugin's code, so their
        // panic is the command's. (It also builds the request where the handler takes
        // it, without moving it through the guard.)
        let inner = call.enter(entry.owner);
        let guarded = catch_unwind(AssertUnwindSafe(|| -> Result<serde_json::Value, DispatchError> {
            // Its strings move into the request; what is left is freed before the
            // handler runs, so the response's allocations reuse the request's.
            let decoded: Req = decode(entry, request)?;
            match handler(&inner, decoded) {
                Ok(response) => encode(&entry.id, &response),
                Err(error) => Err(handler_error(call, entry, error)),
            }
        }));
        return guarded.unwrap_or_else(|payload| Err(handler_panic(call, entry, None, payload.as_ref())));
    }
    let decoded: Req = contained(call, entry, || decode(entry, request))?;
    let response: Resp = dispatch_through_chain(call, entry, handler, decoded, metadata)?;
    contained(call, entry, || encode(&entry.id, &response))
}

/// `step` (a serde impl of the command's types) under a panic guard: its panic is the
/// command's, as the handler's is.
pub(super) fn contained<T>(
    call: &RawCall<'_>,
    entry: &CommandEntry,
    step: impl FnOnce() -> Result<T, DispatchError>,
) -> Result<T, DispatchError> {
    catch_unwind(AssertUnwindSafe(step))
        .unwrap_or_else(|payload| Err(handler_panic(call, entry, None, payload.as_ref())))
}

/// Command `command`'s response as JSON, or the error naming its type. (`command` is
/// the id as a `String`, a thin reference: held across the serialization, a `&str`
/// cost the JSON path two instructions.) Out of line: inlined, the serialized value was
/// moved into the adapter's result byte group by byte group (callgrind, 2026-12-07:
/// 1.051x the hand-written path inlined, 1.043x out of line).
#[inline(never)]
#[allow(clippy::ptr_arg, reason = "a thin reference on the JSON path, see above")]
pub(super) fn encode<Resp: Serialize>(command: &String, response: &Resp) -> Result<serde_json::Value, DispatchError> {
    serde_json::to_value(response).map_err(|error| {
        DispatchError::from(DispatchErrorKind::Json {
            command: command.clone(),
            message: format!("the response `{}` does not serialize: {error}", type_name::<Resp>()),
        })
    })
}

/// The sync JSON way into an async command: refused, naming the async way.
pub(super) fn asynchronous_json(
    _: &RawCall<'_>,
    entry: &CommandEntry,
    _: serde_json::Value,
    _: Metadata<'_>,
) -> Result<serde_json::Value, DispatchError> {
    Err(asynchronous(entry))
}

#[cold]
pub(super) fn asynchronous(entry: &CommandEntry) -> DispatchError {
    DispatchError::from(DispatchErrorKind::Asynchronous {
        command: entry.id.clone(),
    })
}

/// A JSON request as the command's request type, its strings moved rather than copied,
/// or an error naming the field at fault (see [`decode`](self::decode)).
#[inline(always)]
pub(super) fn decode<Req: DeserializeOwned>(
    entry: &CommandEntry,
    request: serde_json::Value,
) -> Result<Req, DispatchError> {
    super::decode::decode(request).map_err(|error| {
        let path = error.path();
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        DispatchError::from(DispatchErrorKind::Json {
            command: entry.id.clone(),
            message: format!(
                "the request is not a valid `{}`{at}: {}",
                type_name::<Req>(),
                crate::support::Clipped(error.message())
            ),
        })
    })
}
