//! The socket thread and the frame loop's side of it, [`OscHandle`].
//!
//! The socket thread owns the UDP socket, checks each datagram (allow list, size), decodes and
//! routes it and pushes the events into a bounded SPSC ring (rtrb). It never waits on the
//! frame loop: when the ring is full the event is dropped and counted. The frame loop calls
//! [`OscHandle::drain`] once per frame; bundle messages timed for the future wait in a bounded
//! scheduler inside the handle until `drain` is called at or after their time.
//!
//! A thread that panics is restarted after a backoff (100 ms doubling to 10 s), counted as
//! [`Counter::ThreadRestarts`] and logged once (`crate::restart`). What must survive lives
//! outside the restarted body: the socket thread keeps its socket (the port stays bound) and
//! its end of the ring, and only the decoding state starts over; the sender thread keeps its
//! channel and socket and builds a fresh [`Sender`] (feedback rate limits start over).

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::OscError;
use super::backlog::Backlog;
use super::counters::{Counter, CounterSnapshot, KERNEL_DROPS_INTERVAL, OscCounters, Summary};
use super::feedback::{AudioEcho, Outgoing, ParamReply, Sender, StatusInfo};
use super::ingest::{Arrival, Ingest, Queued};
use super::route::{OscEvent, RouteTable};
use super::shared::Shared;
use super::socket::KernelDrops;
use crate::restart::{RestartPolicy, run_restarting};
use crate::scene::osc::OscConfig;

/// How long the socket thread waits for a datagram before checking for shutdown.
const RECV_POLL: Duration = Duration::from_millis(50);
/// How long it waits while events wait for room in the ring.
const BACKLOG_POLL: Duration = Duration::from_millis(1);
/// Work items the sender thread can have queued.
const OUTGOING_CAPACITY: usize = 256;

/// A thread of the OSC server, for [`OscHandle::inject_panic`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OscThread {
    /// The socket thread (receiving, decoding, routing).
    Receive,
    /// The sender thread (replies and feedback).
    Send,
}

/// Names of the server's threads (also used in logs).
const RX_THREAD: &str = "hypna-osc-rx";
/// See [`RX_THREAD`].
const TX_THREAD: &str = "hypna-osc-tx";

/// Starts the OSC server: binds `config.listen` and spawns the socket and sender threads.
///
/// # Errors
/// [`OscError::Config`] for bad settings, [`OscError::Bind`] when the port cannot be bound
/// (in use, no permission), [`OscError::Thread`] when a thread cannot be spawned. See
/// [`start_or_log`] for the "log it and run without OSC" policy.
pub fn start(config: &OscConfig, routes: RouteTable) -> Result<OscHandle, OscError> {
    config.check()?;
    let bind_err = |source| OscError::Bind {
        addr: config.listen,
        source,
    };
    let bound =
        super::socket::bind(config.listen, config.receive_buffer_bytes).map_err(bind_err)?;
    let socket = bound.socket;
    socket.set_read_timeout(Some(RECV_POLL)).map_err(bind_err)?;
    let local_addr = socket.local_addr().map_err(bind_err)?;
    let send_socket = Arc::new(socket.try_clone().map_err(bind_err)?);

    let routes = Arc::new(routes);
    let shared = Arc::new(Shared::new(Arc::clone(&routes)));
    let (producer, consumer) = rtrb::RingBuffer::new(config.queue_capacity);

    let rx_thread = {
        let shared = Arc::clone(&shared);
        let config = config.clone();
        std::thread::Builder::new()
            .name(RX_THREAD.into())
            .spawn(move || {
                // The socket and the ring's producer live here, so a restart keeps both.
                let mut producer = producer;
                run_restarting(
                    RX_THREAD,
                    RestartPolicy::DEFAULT,
                    || shared.count_restart(),
                    |d| shared.backoff(d),
                    |_| {},
                    |_| receive_loop(&socket, &shared, &config, &mut producer),
                );
            })
            .map_err(|e| OscError::Thread("OSC receive", e))?
    };
    let (outgoing, outgoing_rx) = sync_channel(OUTGOING_CAPACITY);
    let tx_thread = {
        let shared = Arc::clone(&shared);
        let targets = config.feedback.clone();
        let rate_hz = config.feedback_rate_hz;
        std::thread::Builder::new()
            .name(TX_THREAD.into())
            .spawn(move || {
                run_restarting(
                    TX_THREAD,
                    RestartPolicy::DEFAULT,
                    || shared.count_restart(),
                    |d| shared.backoff(d),
                    |_| {},
                    |_| {
                        let sender = Sender::new(
                            Arc::clone(&send_socket),
                            Arc::clone(&shared),
                            &targets,
                            rate_hz,
                        );
                        sender.run(&outgoing_rx);
                    },
                );
            })
    };
    let tx_thread = match tx_thread {
        Ok(t) => t,
        Err(e) => {
            shared.shutdown.store(true, Ordering::Release);
            // Its panic, if any, was logged by the thread itself.
            drop(rx_thread.join());
            return Err(OscError::Thread("OSC send", e));
        }
    };
    tracing::info!(
        "OSC listening on {local_addr} (receive buffer {} KiB)",
        bound.receive_buffer_bytes / 1024
    );

    let n_params = routes.params().len();
    Ok(OscHandle {
        shared,
        local_addr,
        consumer,
        scheduler: BinaryHeap::new(),
        schedule_capacity: config.schedule_capacity,
        ready: Vec::new(),
        seq: 0,
        routes,
        fed: vec![None; n_params],
        backlog: Vec::new(),
        has_targets: !config.feedback.is_empty(),
        echo_audio: config.echo_audio && !config.feedback.is_empty(),
        feedback_interval: Duration::from_secs_f32(1.0 / config.feedback_rate_hz),
        audio: AudioState::default(),
        outgoing: Some(outgoing),
        threads: vec![rx_thread, tx_thread],
        injected: Vec::new(),
        max_packet_bytes: config.max_packet_bytes,
        max_schedule_ahead_secs: config.max_schedule_ahead_secs,
        allow: config.allow.clone(),
    })
}

/// [`start`], or `None` after logging why: a show runs on without OSC rather than not at all.
#[must_use]
pub fn start_or_log(config: &OscConfig, routes: RouteTable) -> Option<OscHandle> {
    match start(config, routes) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!("{e}; running without OSC");
            None
        }
    }
}

/// The socket thread's body; `socket` and `producer` outlive a restart.
fn receive_loop(
    socket: &UdpSocket,
    shared: &Shared,
    config: &OscConfig,
    producer: &mut rtrb::Producer<Queued>,
) {
    let counters = &shared.counters;
    let max = config.max_packet_bytes;
    // One byte more than accepted: a datagram that fills it was truncated by the kernel.
    let mut buf = vec![0u8; max + 1];
    let (mut routes, mut generation) = shared.routes();
    let mut ingest = Ingest::new(counters, config.max_schedule_ahead_secs);
    let mut summary = Summary::new(Instant::now());
    let mut backlog = Backlog::new(config.queue_capacity);
    let kernel = KernelDrops::new(socket);
    let mut kernel_read_at = Instant::now();
    let mut poll = RECV_POLL;
    let mut consecutive_errors = 0u32;
    while !shared.shutdown.load(Ordering::Acquire) {
        crate::restart::injected_panic(&shared.panic_rx);
        // What waited for room goes first, so events keep their order.
        backlog.flush(producer);
        // While events wait, look again soon (the frame loop drains once per frame).
        let wanted = if backlog.is_empty() {
            RECV_POLL
        } else {
            BACKLOG_POLL
        };
        if wanted != poll && socket.set_read_timeout(Some(wanted)).is_ok() {
            poll = wanted;
        }
        let received = socket.recv_from(&mut buf);
        let now = Instant::now();
        if now.duration_since(kernel_read_at) >= KERNEL_DROPS_INTERVAL {
            kernel_read_at = now;
            count_kernel_drops(&kernel, counters, config);
        }
        match received {
            Ok((n, from)) => {
                consecutive_errors = 0;
                let at = now;
                counters.add(Counter::Received, 1);
                if !config.allows(from.ip()) {
                    counters.problem(Counter::RejectedSender, || {
                        format!("datagram from {from}, which is not in osc.allow")
                    });
                } else if n > max {
                    counters.problem(Counter::Oversized, || {
                        format!(
                            "datagram of more than {max} bytes (osc.max_packet_bytes) from {from}"
                        )
                    });
                } else {
                    if let Some((r, g)) = shared.routes_if_changed(generation) {
                        routes = r;
                        generation = g;
                    }
                    let arrival = Arrival {
                        from,
                        at,
                        wall: SystemTime::now(),
                    };
                    let bytes = buf.get(..n).unwrap_or_default();
                    ingest.packet(bytes, arrival, &routes, &mut |q| {
                        backlog.offer(q, producer, counters);
                    });
                }
                summary.tick(counters, at);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                summary.tick(counters, now);
            }
            // Windows reports an ICMP "port unreachable" for an earlier reply here; harmless.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
                ) => {}
            Err(e) => {
                if is_message_too_long(&e) {
                    counters.add(Counter::Received, 1);
                    counters.problem(Counter::Oversized, || {
                        format!("datagram of more than {max} bytes (osc.max_packet_bytes)")
                    });
                    continue;
                }
                counters.problem(Counter::SocketErrors, || format!("receiving: {e}"));
                consecutive_errors = consecutive_errors.saturating_add(1);
                if consecutive_errors > 3 {
                    // A persistent error must not spin a core.
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// Brings [`Counter::KernelDropped`] up to the kernel's count; the first drop is logged.
fn count_kernel_drops(kernel: &KernelDrops, counters: &OscCounters, config: &OscConfig) {
    let Some(total) = kernel.read() else { return };
    let before = counters.get(Counter::KernelDropped);
    if counters.raise_to(Counter::KernelDropped, total) > 0 && before == 0 {
        tracing::warn!(
            "OSC kernel dropped: {total} datagrams lost because the socket's receive buffer was full \
             (osc.receive_buffer_bytes = {}); further drops are only counted (see /hypna/status)",
            config.receive_buffer_bytes
        );
    }
}

/// Windows fails a receive into a too-small buffer (WSAEMSGSIZE) instead of truncating.
fn is_message_too_long(e: &std::io::Error) -> bool {
    cfg!(windows) && e.raw_os_error() == Some(10040)
}

/// A bundle message waiting for its time.
#[derive(Debug)]
struct Scheduled {
    due: Instant,
    seq: u64,
    event: OscEvent,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so the max-heap pops the earliest (then first-received) entry.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

#[derive(Debug, Default)]
struct AudioState {
    last_sent: Option<Instant>,
    beat_since_sent: bool,
}

/// The frame loop's end of the OSC server. Dropping it stops the threads and frees the port.
#[derive(Debug)]
pub struct OscHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    consumer: rtrb::Consumer<Queued>,
    scheduler: BinaryHeap<Scheduled>,
    schedule_capacity: usize,
    /// Events ready this frame: (time they take effect, arrival sequence, event).
    ready: Vec<(Instant, u64, OscEvent)>,
    seq: u64,
    routes: Arc<RouteTable>,
    /// Last value handed to feedback per param (routes order), to send only changes.
    fed: Vec<Option<f32>>,
    /// Changes not yet accepted by the sender thread (its queue was full): (param, value).
    backlog: Vec<(usize, f32)>,
    has_targets: bool,
    echo_audio: bool,
    feedback_interval: Duration,
    audio: AudioState,
    outgoing: Option<SyncSender<Outgoing>>,
    threads: Vec<JoinHandle<()>>,
    /// Events of packets handed in with [`OscHandle::inject`], for the next drain.
    injected: Vec<Queued>,
    /// `osc.max_packet_bytes` and `osc.max_schedule_ahead_secs`, for injected packets.
    max_packet_bytes: usize,
    max_schedule_ahead_secs: f32,
    /// `osc.allow`, for injected packets (empty: everyone).
    allow: Vec<crate::scene::osc::IpNet>,
}

impl OscHandle {
    /// The address actually bound (the port is real even when `listen` asked for port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Replaces the routes (scene reload). Messages already routed keep their old meaning:
    /// a `SetParam` for a param that no longer exists fails in `ParamStore::set`, which the
    /// frame loop should ignore. Feedback state restarts: call [`Self::feedback`] with every
    /// value afterwards so controllers show the new scene.
    pub fn set_routes(&mut self, routes: RouteTable) {
        let routes = Arc::new(routes);
        self.fed = vec![None; routes.params().len()];
        self.backlog.clear();
        self.routes = Arc::clone(&routes);
        self.shared.set_routes(routes);
    }

    /// Every event ready at `now`, in the order they take effect: the frame loop applies them
    /// in that order, so when one param is set several times in a frame the latest wins.
    /// Never blocks. Future-timed bundle messages are held (up to `schedule_capacity`, the
    /// rest dropped and counted) and come out of a later `drain` at or after their time.
    /// Consume the iterator: events left in it are discarded.
    pub fn drain(&mut self, now: Instant) -> impl Iterator<Item = OscEvent> + '_ {
        self.ready.clear();
        let mut injected = std::mem::take(&mut self.injected).into_iter();
        // Only what is there now, so a flood cannot keep one frame draining forever.
        for _ in 0..self.consumer.slots() + injected.len() {
            let Some(q) = injected.next().or_else(|| self.consumer.pop().ok()) else {
                break;
            };
            self.seq += 1;
            match q.due {
                Some(due) if due > now => {
                    if self.scheduler.len() >= self.schedule_capacity {
                        self.shared.counters.problem(Counter::ScheduledDropped, || {
                            format!(
                                "scheduler full ({} timed bundle messages waiting; osc.schedule_capacity)",
                                self.schedule_capacity
                            )
                        });
                    } else {
                        self.scheduler.push(Scheduled {
                            due,
                            seq: self.seq,
                            event: q.event,
                        });
                    }
                }
                due => {
                    let at = due.map_or(q.received_at, |d| d.max(q.received_at));
                    self.ready.push((at, self.seq, q.event));
                }
            }
        }
        while self.scheduler.peek().is_some_and(|s| s.due <= now) {
            if let Some(s) = self.scheduler.pop() {
                self.ready.push((s.due, s.seq, s.event));
            }
        }
        self.ready.sort_unstable_by_key(|(at, seq, _)| (*at, *seq));
        self.shared
            .counters
            .add(Counter::Applied, self.ready.len() as u64);
        self.ready.drain(..).map(|(_, _, e)| e)
    }

    /// Routes an OSC packet that arrived another way (binary OSC over the OSCQuery
    /// WebSocket) exactly as a UDP datagram from `from`: the same allow list, size limit,
    /// checks, routes, scheduling and counters. Its events come out of the next
    /// [`Self::drain`] (param values are clamped by `ParamStore::set` as for UDP).
    pub fn inject(&mut self, packet: &[u8], from: SocketAddr) {
        let counters = &self.shared.counters;
        counters.add(Counter::Received, 1);
        if !(self.allow.is_empty() || self.allow.iter().any(|n| n.contains(from.ip()))) {
            counters.problem(Counter::RejectedSender, || {
                format!("WebSocket packet from {from}, which is not in osc.allow")
            });
            return;
        }
        if packet.len() > self.max_packet_bytes {
            counters.problem(Counter::Oversized, || {
                format!(
                    "WebSocket packet of more than {} bytes (osc.max_packet_bytes) from {from}",
                    self.max_packet_bytes
                )
            });
            return;
        }
        let mut ingest = Ingest::new(counters, self.max_schedule_ahead_secs);
        let arrival = Arrival {
            from,
            at: Instant::now(),
            wall: SystemTime::now(),
        };
        let injected = &mut self.injected;
        ingest.packet(packet, arrival, &self.routes, &mut |q| injected.push(q));
    }

    /// Bundle messages waiting for a future time.
    #[must_use]
    pub fn scheduled(&self) -> usize {
        self.scheduler.len()
    }

    /// The counters now.
    #[must_use]
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    /// Echoes param values to the feedback targets as `/hypna/param/<name> <value>` and on
    /// each alias (mapped back into its input range). Pass every param each frame (for
    /// example `store.iter()`): only changed values go out, each param at most
    /// `feedback_rate_hz` times a second, latest value wins. Pass target values rather than
    /// smoothed ones so motorised faders do not chase the glide. Never blocks; a no-op
    /// without feedback targets.
    pub fn feedback<'a>(&mut self, values: impl IntoIterator<Item = (&'a str, f32)>) {
        if !self.has_targets {
            return;
        }
        for (name, value) in values {
            let Some(i) = self.routes.param_index(name) else {
                continue;
            };
            let Some(fed) = self.fed.get_mut(i) else {
                continue;
            };
            if *fed == Some(value) {
                continue;
            }
            *fed = Some(value);
            match self.backlog.iter_mut().find(|(p, _)| *p == i) {
                Some(entry) => entry.1 = value,
                None => self.backlog.push((i, value)),
            }
        }
        if self.backlog.is_empty() {
            return;
        }
        let params = self.routes.params();
        let batch = self
            .backlog
            .iter()
            .filter_map(|(i, v)| params.get(*i).map(|p| (Arc::clone(&p.name), *v)))
            .collect();
        // On a full queue the backlog stays and goes with the next call, so no change is lost.
        if self.send(Outgoing::Feedback(batch), false) {
            self.backlog.clear();
        }
    }

    /// Echoes audio features to the feedback targets when `echo_audio` is on, at most
    /// `feedback_rate_hz` times a second; a beat between two sends is not lost.
    pub fn feedback_audio(&mut self, audio: &AudioEcho, now: Instant) {
        if !self.echo_audio {
            return;
        }
        self.audio.beat_since_sent |= audio.beat;
        if self
            .audio
            .last_sent
            .is_some_and(|t| now.duration_since(t) < self.feedback_interval)
        {
            return;
        }
        let mut echo = audio.clone();
        echo.beat = self.audio.beat_since_sent;
        if self.send(Outgoing::Audio(echo), true) {
            self.audio.last_sent = Some(now);
            self.audio.beat_since_sent = false;
        }
    }

    /// Answers a [`OscEvent::Query`]: one `/hypna/reply/param ,sfff name value min max` per
    /// param (in the order given, params unknown to the routes skipped), then
    /// `/hypna/reply/query/done ,i count`. Pass `store.iter()`.
    pub fn reply_params<'a>(
        &mut self,
        to: SocketAddr,
        values: impl IntoIterator<Item = (&'a str, f32)>,
    ) {
        let params = values
            .into_iter()
            .filter_map(|(name, value)| {
                self.routes.param(name).map(|p| ParamReply {
                    name: Arc::clone(&p.name),
                    value,
                    min: p.min,
                    max: p.max,
                })
            })
            .collect();
        self.send(Outgoing::Params { to, params }, true);
    }

    /// Answers a [`OscEvent::Status`] (see `docs/osc.md` for the messages).
    pub fn reply_status(&mut self, to: SocketAddr, status: &StatusInfo) {
        self.send(
            Outgoing::Status {
                to,
                status: status.clone(),
            },
            true,
        );
    }

    /// Test hook: makes `thread` panic (the socket thread within [`RECV_POLL`], the sender
    /// thread at once), to prove that it is restarted. Never blocks.
    #[doc(hidden)]
    pub fn inject_panic(&self, thread: OscThread) {
        match thread {
            OscThread::Receive => self.shared.panic_rx.store(true, Ordering::Release),
            OscThread::Send => {
                self.send(Outgoing::Panic, false);
            }
        }
    }

    /// Hands work to the sender thread without waiting; true when it was accepted.
    fn send(&self, work: Outgoing, count_drop: bool) -> bool {
        let Some(tx) = &self.outgoing else {
            return false;
        };
        match tx.try_send(work) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                if count_drop {
                    self.shared.counters.problem(Counter::SendDropped, || {
                        "the sender thread's queue is full; a reply was dropped".into()
                    });
                }
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.counters.problem(Counter::SocketErrors, || {
                    "the OSC sender thread has stopped; replies and feedback are off".into()
                });
                false
            }
        }
    }
}

impl Drop for OscHandle {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.outgoing = None;
        for t in self.threads.drain(..) {
            // A panicked thread already printed its message; nothing more to do at shutdown.
            drop(t.join());
        }
    }
}
