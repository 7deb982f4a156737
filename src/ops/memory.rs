//! Gives heap memory that was freed back to the operating system, so that a show's resident
//! size follows what it uses.
//!
//! glibc's malloc keeps what a thread frees in that thread's arena. It returns the free top of
//! an arena only past a trim threshold, and it raises that threshold on its own (up to
//! 64 MiB) once a large block has been freed. A scene switch frees a model session, pipelines
//! and textures' staging memory on loader and worker threads. In `tests/soak.rs` one arena
//! then held 0 to 43 MiB of freed memory, and the show's resident size stepped up by 24 MiB
//! for minutes at a time: not a leak, but it looks exactly like one on a health line, and
//! it made a memory goal impossible to check.
//!
//! Two things fix it:
//! - [`configure_allocator`] fixes glibc's thresholds at [`THRESHOLD`] (4 MiB): a block of
//!   that size or more is mapped on its own and unmapped when freed, and an arena gives its
//!   free top back once it exceeds 4 MiB. Smaller than that, and the model I/O buffers of
//!   every inference (about 1 MiB each for the dream scene) would be mapped and faulted in
//!   anew every run: `hypna bench --models` measured 5.4 ms of I/O per inference with 1 MiB
//!   against 3.0-3.4 ms with glibc's default and with 4 MiB.
//! - A janitor thread calls `malloc_trim(0)`, which hands every whole free page inside the
//!   arenas back (`madvise`), [`SETTLE`] after a switch, a reload or a GPU recovery asks for
//!   it ([`release_soon`]) and every [`PERIOD`] in any case. It locks one arena at a time, so
//!   a thread that allocates meanwhile waits for that one arena only. A trim took
//!   0.5-4.2 ms and gave back 3-14 MB after each switch of a dream/generator/flow playlist
//!   (a 170-220 MB process on a busy 2-core machine). `RUST_LOG=hypna::ops::memory=debug`
//!   logs every trim with its time and the resident size before and after.
//!
//! A user who sets glibc's own knobs (`MALLOC_TRIM_THRESHOLD_`, `MALLOC_MMAP_THRESHOLD_`,
//! `GLIBC_TUNABLES`) keeps them. Other C libraries (musl, macOS, Windows) have no such calls;
//! there the janitor only counts.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// How long after a request the janitor trims: worker threads of a dropped scene finish
/// freeing in this time (their `Drop` has already waited for them to stop).
pub const SETTLE: Duration = Duration::from_millis(20);
/// The janitor trims at least this often.
pub const PERIOD: Duration = Duration::from_mins(1);
/// glibc's mmap and trim thresholds, fixed by [`configure_allocator`].
pub const THRESHOLD: usize = 4 << 20;

static JANITOR: OnceLock<Option<Sender<()>>> = OnceLock::new();
static TRIMS: AtomicU64 = AtomicU64::new(0);
static RELEASED: AtomicU64 = AtomicU64::new(0);
static SERVED: AtomicU64 = AtomicU64::new(0);

/// What the janitor has done so far in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrimStats {
    /// Trims run.
    pub trims: u64,
    /// Of those, the ones where the allocator gave memory back.
    pub released: u64,
    /// Requests ([`release_soon`]) whose trim has run.
    pub served: u64,
}

/// Asks the janitor to give freed memory back soon ([`SETTLE`] from now). Starts the janitor
/// on first use. Never blocks: a burst of requests becomes one trim.
pub fn release_soon() {
    // A janitor thread that is gone cannot trim: nothing else to do.
    if let Some(tx) = JANITOR.get_or_init(start)
        && tx.send(()).is_err()
    {
        tracing::debug!("the memory janitor has stopped");
    }
}

/// Fixes the allocator's thresholds ([`configure_allocator`]) and starts the janitor (if it
/// is not running) without asking for a trim, so that a long show is trimmed every [`PERIOD`]
/// even when nothing changes.
pub fn start_janitor() {
    JANITOR.get_or_init(start);
}

/// Fixes glibc's mmap and trim thresholds at [`THRESHOLD`] instead of letting them grow to
/// 32 and 64 MiB, unless the environment sets glibc's own knobs. Returns whether it did.
/// Called once by the janitor's start; calling it again is harmless.
pub fn configure_allocator() -> bool {
    let user_set = ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"]
        .iter()
        .any(|k| std::env::var_os(k).is_some())
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."));
    if user_set {
        tracing::debug!("malloc thresholds left as the environment sets them");
        return false;
    }
    set_thresholds(THRESHOLD)
}

/// The janitor's counts so far.
#[must_use]
pub fn stats() -> TrimStats {
    TrimStats {
        trims: TRIMS.load(Ordering::Relaxed),
        released: RELEASED.load(Ordering::Relaxed),
        served: SERVED.load(Ordering::Relaxed),
    }
}

/// Gives freed heap memory back now, on the calling thread. Returns whether the allocator
/// released anything (always `false` off glibc).
pub fn release_now() -> bool {
    let released = trim();
    TRIMS.fetch_add(1, Ordering::Relaxed);
    if released {
        RELEASED.fetch_add(1, Ordering::Relaxed);
    }
    released
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "malloc_trim is glibc's C API; the libc crate declares it"
)]
fn trim() -> bool {
    // SAFETY: malloc_trim takes no pointers and has no preconditions; glibc locks each arena
    // while it trims it, so any thread may call it at any time.
    unsafe { libc::malloc_trim(0) != 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "mallopt is glibc's C API; the libc crate declares it"
)]
fn set_thresholds(bytes: usize) -> bool {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt takes two integers and locks the allocator itself; any thread may call
    // it at any time. It returns 1 on success.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, value) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, value) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds(_bytes: usize) -> bool {
    false
}

fn start() -> Option<Sender<()>> {
    if configure_allocator() {
        tracing::debug!(
            "malloc mmap and trim thresholds fixed at {} MiB",
            THRESHOLD >> 20
        );
    }
    let (tx, rx) = channel();
    match std::thread::Builder::new()
        .name("hypna-memory".into())
        .spawn(move || janitor(&rx))
    {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::warn!("cannot start the memory janitor thread: {e}");
            None
        }
    }
}

fn janitor(rx: &Receiver<()>) {
    loop {
        // Requests this trim serves.
        let mut batch = 0;
        match rx.recv_timeout(PERIOD) {
            Ok(()) => {
                batch = 1;
                std::thread::sleep(SETTLE);
                // Requests that came in meanwhile are served by this trim.
                while rx.try_recv().is_ok() {
                    batch += 1;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if !tracing::enabled!(tracing::Level::DEBUG) {
            release_now();
            SERVED.fetch_add(batch, Ordering::Relaxed);
            continue;
        }
        let before = super::health::resident_memory_bytes();
        let started = Instant::now();
        let released = release_now();
        let took = started.elapsed();
        let after = super::health::resident_memory_bytes();
        SERVED.fetch_add(batch, Ordering::Relaxed);
        tracing::debug!(
            "memory trim: released={released} in {:.2} ms, rss {} -> {} MB",
            took.as_secs_f64() * 1000.0,
            before.map_or_else(|| "?".into(), |b| format!("{:.1}", b as f64 / 1e6)),
            after.map_or_else(|| "?".into(), |b| format!("{:.1}", b as f64 / 1e6)),
        );
    }
}
