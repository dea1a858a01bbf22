//! Building and shutting down a host from async code. Both run plugin code (the
//! lifecycle methods, which may be async and are then driven to completion by the host)
//! and may take a while, so they run on a thread of their own and the caller awaits
//! the outcome without blocking its executor. With feature `tokio` that thread enters
//! the caller's tokio runtime, so an `activate_async` that opens a tokio socket or sleeps
//! on a tokio timer works.

use std::sync::Arc;

use super::{Host, HostBuilder, ShutdownReport, StartError};
use crate::block::{Unblock, unblock};

impl HostBuilder {
    /// [`HostBuilder::build`] for async code: resolves and starts the plugins on a
    /// thread of its own (inside the caller's tokio runtime with feature `tokio`), and
    /// returns a future of the host.
    ///
    /// Each plugin's async lifecycle methods are driven on the thread that starts it;
    /// with [`HostBuilder::parallel_startup`] independent plugins start on several
    /// threads at once, so their `activate_async` futures overlap, and an activation
    /// deadline cancels the future of a plugin that misses it.
    ///
    /// ```
    /// # fn main() -> Result<(), patchpanel::host::StartError> {
    /// let host = patchpanel::blocking::block_on(patchpanel::Host::builder().plugins(Vec::new()).build_async())?;
    /// assert_eq!(host.plugins().count(), 0);
    /// patchpanel::blocking::block_on(host.shutdown_async());
    /// # Ok(())
    /// # }
    /// ```
    pub fn build_async(self) -> Unblock<Result<Host, StartError>> {
        unblock(move || self.build())
    }
}

impl Host {
    /// [`Host::shutdown`] for async code: deactivates every plugin in reverse
    /// activation order on a thread of its own, and returns a future of the report.
    pub fn shutdown_async(self) -> Unblock<ShutdownReport> {
        unblock(move || self.shutdown())
    }

    /// [`Host::shutdown_shared`] for async code, for a host shared behind an `Arc`.
    pub fn shutdown_shared_async(self: Arc<Host>) -> Unblock<ShutdownReport> {
        unblock(move || self.shutdown_shared())
    }
}
