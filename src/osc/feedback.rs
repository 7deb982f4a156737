//! The sender thread: replies to `/hypna/query` and `/hypna/status`, and feedback to
//! controllers, so the frame loop never waits on a socket or a DNS lookup.
//!
//! The frame loop hands over work through a bounded channel (see
//! [`super::OscHandle::feedback`]). Feedback is rate-limited per param: values received
//! within one interval replace each other (latest wins) and the last one is sent when the
//! interval ends, so a fader dragged for a second produces `feedback_rate_hz` messages and
//! ends exactly where it stopped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rosc::{OscMessage, OscPacket, OscType, encoder};

use super::counters::{Counter, OscCounters};
use super::route::{PARAM_PREFIX, RouteTable};
use super::shared::Shared;
use crate::scene::osc::FeedbackTarget;

/// How long the sender sleeps when there is nothing to do.
const IDLE: Duration = Duration::from_millis(500);
/// How often an unresolved feedback host name is looked up again.
const RESOLVE_RETRY: Duration = Duration::from_secs(10);

/// What the runtime reports in answer to `/hypna/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusInfo {
    /// The scene shown.
    pub scene: String,
    /// Frames per second, measured.
    pub fps: f32,
    /// Frames rendered since start.
    pub frame: u64,
    /// `(model name, inferences per second)`.
    pub model_rates_hz: Vec<(String, f32)>,
    /// Other counters the runtime wants to report (`("audio.overflows", 3)`); the OSC counters
    /// are added by the server as `osc.<name>`.
    pub counters: Vec<(String, u64)>,
}

/// Audio features echoed to controllers when `echo_audio` is on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioEcho {
    /// Overall level, 0..1.
    pub level: f32,
    /// Band energies, 0..1, low to high.
    pub bands: Vec<f32>,
    /// True on a frame with a detected beat.
    pub beat: bool,
    /// Tempo in beats per minute (0 when unknown).
    pub bpm: f32,
}

/// One param in a query reply.
#[derive(Debug, Clone)]
pub(crate) struct ParamReply {
    pub(crate) name: Arc<str>,
    pub(crate) value: f32,
    pub(crate) min: f32,
    pub(crate) max: f32,
}

/// Work for the sender thread.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Latest values of changed params.
    Feedback(Vec<(Arc<str>, f32)>),
    /// Audio features (already rate-limited by the handle).
    Audio(AudioEcho),
    /// A query reply.
    Params {
        to: SocketAddr,
        params: Vec<ParamReply>,
    },
    /// A status reply.
    Status { to: SocketAddr, status: StatusInfo },
    /// Test hook: the sender thread panics ([`super::OscHandle::inject_panic`]).
    Panic,
}

#[derive(Debug, Default)]
struct Slot {
    pending: Option<f32>,
    last_sent: Option<Instant>,
}

pub(crate) struct Sender {
    /// Shared with the handle's copy, so a restarted sender sends from the same port.
    socket: Arc<UdpSocket>,
    shared: Arc<Shared>,
    interval: Duration,
    targets: Vec<SocketAddr>,
    unresolved: Vec<(String, u16)>,
    last_resolve: Instant,
    routes: Arc<RouteTable>,
    generation: u64,
    slots: HashMap<Arc<str>, Slot>,
}

impl Sender {
    pub(crate) fn new(
        socket: Arc<UdpSocket>,
        shared: Arc<Shared>,
        targets: &[FeedbackTarget],
        feedback_rate_hz: f32,
    ) -> Self {
        let (routes, generation) = shared.routes();
        let mut s = Self {
            socket,
            shared,
            interval: Duration::from_secs_f32(1.0 / feedback_rate_hz),
            targets: Vec::new(),
            unresolved: Vec::new(),
            last_resolve: Instant::now(),
            routes,
            generation,
            slots: HashMap::new(),
        };
        for t in targets {
            match t {
                FeedbackTarget::Addr(a) => s.add_target(*a),
                FeedbackTarget::Host { host, port } => s.unresolved.push((host.clone(), *port)),
            }
        }
        s
    }

    fn counters(&self) -> &OscCounters {
        &self.shared.counters
    }

    /// Runs until the handle is dropped (the channel disconnects). The channel outlives a
    /// panic here: the thread builds a fresh sender and runs it on the same channel.
    pub(crate) fn run(mut self, rx: &Receiver<Outgoing>) {
        self.resolve();
        loop {
            let now = Instant::now();
            let wait = self
                .next_due()
                .map_or(IDLE, |due| due.saturating_duration_since(now));
            match rx.recv_timeout(wait.min(IDLE)) {
                Ok(work) => {
                    self.take(work);
                    // Everything already queued, so one wake-up handles a burst.
                    while let Ok(work) = rx.try_recv() {
                        self.take(work);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if let Some((routes, generation)) = self.shared.routes_if_changed(self.generation) {
                self.routes = routes;
                self.generation = generation;
                let routes = &self.routes;
                self.slots.retain(|name, _| routes.param(name).is_some());
            }
            if !self.unresolved.is_empty() && self.last_resolve.elapsed() >= RESOLVE_RETRY {
                self.resolve();
            }
            self.flush(Instant::now());
        }
    }

    fn take(&mut self, work: Outgoing) {
        match work {
            Outgoing::Feedback(values) => {
                for (name, value) in values {
                    self.slots.entry(name).or_default().pending = Some(value);
                }
            }
            Outgoing::Audio(audio) => self.send_audio(&audio),
            Outgoing::Params { to, params } => {
                let n = params.len();
                for p in params {
                    let m = message(
                        "/hypna/reply/param",
                        vec![
                            OscType::String(p.name.to_string()),
                            OscType::Float(p.value),
                            OscType::Float(p.min),
                            OscType::Float(p.max),
                        ],
                    );
                    self.send_to(&m, to);
                }
                self.send_to(
                    &message("/hypna/reply/query/done", vec![OscType::Int(int(n as u64))]),
                    to,
                );
            }
            Outgoing::Status { to, status } => self.send_status(to, &status),
            Outgoing::Panic => panic!("panic injected by a test"),
        }
    }

    fn send_status(&self, to: SocketAddr, status: &StatusInfo) {
        let mut msgs = vec![message(
            "/hypna/reply/status",
            vec![
                OscType::String(status.scene.clone()),
                OscType::Float(status.fps),
                OscType::Int(int(status.frame)),
            ],
        )];
        for (name, rate) in &status.model_rates_hz {
            msgs.push(message(
                "/hypna/reply/status/model",
                vec![OscType::String(name.clone()), OscType::Float(*rate)],
            ));
        }
        let osc = self.counters().snapshot();
        let counters = osc
            .iter()
            .map(|(c, v)| (format!("osc.{}", c.name()), v))
            .chain(status.counters.iter().cloned());
        for (name, v) in counters {
            msgs.push(message(
                "/hypna/reply/status/counter",
                vec![OscType::String(name), OscType::Int(int(v))],
            ));
        }
        let n = msgs.len();
        msgs.push(message(
            "/hypna/reply/status/done",
            vec![OscType::Int(int(n as u64))],
        ));
        for m in &msgs {
            self.send_to(m, to);
        }
    }

    fn send_audio(&self, audio: &AudioEcho) {
        let msgs = [
            message("/hypna/audio/level", vec![OscType::Float(audio.level)]),
            message(
                "/hypna/audio/bands",
                audio.bands.iter().map(|b| OscType::Float(*b)).collect(),
            ),
            message(
                "/hypna/audio/beat",
                vec![OscType::Int(i32::from(audio.beat))],
            ),
            message("/hypna/audio/bpm", vec![OscType::Float(audio.bpm)]),
        ];
        for m in &msgs {
            self.send_targets(m);
        }
    }

    /// When the next pending value may go out.
    fn next_due(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter(|s| s.pending.is_some())
            .map(|s| s.last_sent.map_or_else(Instant::now, |t| t + self.interval))
            .min()
    }

    fn flush(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (name, slot) in &mut self.slots {
            let ready = slot
                .last_sent
                .is_none_or(|t| now.duration_since(t) >= self.interval);
            if ready && let Some(value) = slot.pending.take() {
                slot.last_sent = Some(now);
                due.push((Arc::clone(name), value));
            }
        }
        for (name, value) in due {
            let Some(p) = self.routes.param(&name) else {
                continue;
            };
            self.send_targets(&message(
                &format!("{PARAM_PREFIX}{name}"),
                vec![OscType::Float(value)],
            ));
            // An XY pad needs both axes in one message, which one param cannot supply, so
            // only first-argument aliases get feedback.
            for a in p.aliases.iter().filter(|a| a.arg == 0) {
                let input = p.to_alias_input(a, value);
                self.send_targets(&message(&a.address, vec![OscType::Float(input)]));
            }
        }
    }

    fn send_targets(&self, bytes: &[u8]) {
        for t in &self.targets {
            self.send_to(bytes, *t);
        }
    }

    fn send_to(&self, bytes: &[u8], to: SocketAddr) {
        if bytes.is_empty() {
            return;
        }
        match self.socket.send_to(bytes, to) {
            Ok(_) => {
                self.counters().add(Counter::Sent, 1);
            }
            Err(e) => self
                .counters()
                .problem(Counter::SocketErrors, || format!("sending to {to}: {e}")),
        }
    }

    fn add_target(&mut self, addr: SocketAddr) {
        let local_v6 = self.socket.local_addr().is_ok_and(|a| a.is_ipv6());
        let addr = match (addr.ip(), local_v6) {
            (IpAddr::V4(v4), true) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), addr.port()),
            (IpAddr::V6(_), false) => {
                tracing::warn!(
                    "OSC feedback target {addr} is IPv6 but osc.listen is IPv4; listen on [::]:port to reach it"
                );
                return;
            }
            _ => addr,
        };
        if !self.targets.contains(&addr) {
            tracing::info!("OSC feedback to {addr}");
            self.targets.push(addr);
        }
    }

    /// Looks up host-name targets; the ones that fail stay for a later retry.
    fn resolve(&mut self) {
        self.last_resolve = Instant::now();
        let mut still = Vec::new();
        for (host, port) in std::mem::take(&mut self.unresolved) {
            match (host.as_str(), port).to_socket_addrs() {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    let local_v6 = self.socket.local_addr().is_ok_and(|a| a.is_ipv6());
                    let pick = addrs
                        .iter()
                        .find(|a| a.is_ipv4())
                        .or_else(|| addrs.iter().find(|_| local_v6));
                    match pick {
                        Some(a) => self.add_target(*a),
                        None => still.push((host, port)),
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "OSC feedback target {host}:{port} does not resolve ({e}); retrying every {} s",
                        RESOLVE_RETRY.as_secs()
                    );
                    still.push((host, port));
                }
            }
        }
        self.unresolved = still;
    }
}

/// An encoded message (empty if rosc refuses, which it does not for these types).
fn message(addr: &str, args: Vec<OscType>) -> Vec<u8> {
    encoder::encode(&OscPacket::Message(OscMessage {
        addr: addr.to_string(),
        args,
    }))
    .unwrap_or_default()
}

/// An OSC int (32-bit), saturating: many controllers cannot read 64-bit ints.
fn int(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
