//! What the server's threads and the frame loop's handle share: the route table (swapped on
//! a scene change, with a generation so threads lock only when it changed), the counters and
//! the shutdown and test flags. Its own module so that the socket side ([`super::server`])
//! and the sender side ([`super::feedback`]) both build on it without importing each other.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::counters::{Counter, OscCounters};
use super::route::RouteTable;

/// State shared by the socket thread, the sender thread and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    routes: Mutex<Arc<RouteTable>>,
    /// Bumped after every route change, so threads lock only when something changed.
    generation: AtomicU64,
    pub(crate) counters: OscCounters,
    pub(super) shutdown: AtomicBool,
    /// Test hook: the socket thread panics at its next check ([`OscHandle::inject_panic`]).
    pub(super) panic_rx: AtomicBool,
}

impl Shared {
    /// Nothing received yet, routing with `routes`.
    pub(super) fn new(routes: Arc<RouteTable>) -> Self {
        Self {
            routes: Mutex::new(routes),
            generation: AtomicU64::new(0),
            counters: OscCounters::default(),
            shutdown: AtomicBool::new(false),
            panic_rx: AtomicBool::new(false),
        }
    }

    pub(crate) fn routes(&self) -> (Arc<RouteTable>, u64) {
        let guard = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        (Arc::clone(&guard), self.generation.load(Ordering::Acquire))
    }

    pub(crate) fn routes_if_changed(&self, seen: u64) -> Option<(Arc<RouteTable>, u64)> {
        (self.generation.load(Ordering::Acquire) != seen).then(|| self.routes())
    }

    /// The restart loop's wait: sleeps about `d`; false when shutting down.
    pub(super) fn backoff(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while !self.shutdown.load(Ordering::Acquire) {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(20)));
        }
        false
    }

    /// Counts one thread restart; returns the total.
    pub(super) fn count_restart(&self) -> u64 {
        self.counters.add(Counter::ThreadRestarts, 1) + 1
    }

    pub(super) fn set_routes(&self, routes: Arc<RouteTable>) {
        let mut guard = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        *guard = routes;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
