//! One WebSocket session (OSCQuery's bidirectional part), on the connection's own thread:
//! - text `{"COMMAND": "LISTEN" | "IGNORE", "DATA": path}` starts or stops streaming that
//!   method's value as binary OSC messages (only when it changed, at most 20 times a second);
//! - binary frames are OSC packets, queued for the frame loop (which routes them through the
//!   OSC server as if they came over UDP); they need the control token;
//! - text `{"COMMAND": "SCREENSHOT"}` (hypna's own, with the token) takes a screenshot as
//!   the S key does;
//! - after a scene switch or reload the client gets `PATH_ADDED`, `PATH_REMOVED` and
//!   `PATH_CHANGED`, and stops receiving values of paths that are gone.
//!
//! Every incoming message takes a token from the client's rate-limit bucket; what the bucket
//! refuses is dropped and counted.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc::TrySendError;
use std::time::{Duration, Instant};

use rosc::{OscMessage, OscPacket, OscType};
use serde_json::{Value, json};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::Shared;
use super::auth::Access;
use super::oscquery::{self, Scalar};
use super::snapshot::RemoteCounters;

/// Paths one client may listen to at once.
const MAX_LISTENS: usize = 512;
/// Largest WebSocket message accepted (an OSC packet or a command).
const MAX_MESSAGE: usize = 64 * 1024;
/// How often values and the namespace are checked for changes.
const TICK: Duration = Duration::from_millis(50);
/// Structure notifications sent one by one at most; more become one `PATH_CHANGED /hypna`.
const MAX_NOTIFICATIONS: usize = 64;

/// Completes the handshake for `key` and serves the session until the client leaves or the
/// server stops.
pub(super) fn session(
    mut stream: TcpStream,
    key: &str,
    access: Access,
    peer: SocketAddr,
    shared: &Shared,
) {
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .ok();
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut socket = WebSocket::from_raw_socket(stream, Role::Server, Some(config));
    shared.counters.ws_open.fetch_add(1, Ordering::Relaxed);
    let mut state = Session {
        access,
        peer,
        listens: HashMap::new(),
        fingerprints: oscquery::fingerprints(&shared.namespace.get().0),
        namespace_seen: shared.namespace.get().1,
        values_seen: 0,
        next_tick: Instant::now(),
        warned: false,
    };
    while !shared.shutdown.load(Ordering::Acquire) {
        match socket.read() {
            Ok(message) => {
                if !state.incoming(message, shared, &mut socket) {
                    break;
                }
            }
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
        if Instant::now() >= state.next_tick {
            state.next_tick = Instant::now() + TICK;
            if state.tick(shared, &mut socket).is_err() {
                break;
            }
        }
    }
    socket.close(None).ok();
    socket.flush().ok();
    shared.counters.ws_open.fetch_sub(1, Ordering::Relaxed);
}

struct Session {
    access: Access,
    peer: SocketAddr,
    /// Listened paths and the value last sent.
    listens: HashMap<String, Option<Scalar>>,
    fingerprints: BTreeMap<String, String>,
    namespace_seen: u64,
    values_seen: u64,
    next_tick: Instant,
    /// The client was told once that control needs the token.
    warned: bool,
}

type Socket = WebSocket<TcpStream>;

impl Session {
    /// Handles one message; false ends the session.
    fn incoming(&mut self, message: Message, shared: &Shared, socket: &mut Socket) -> bool {
        if matches!(message, Message::Close(_)) {
            return false;
        }
        if !matches!(message, Message::Text(_) | Message::Binary(_)) {
            return true;
        }
        if !shared.limiter.allow(self.peer.ip(), Instant::now()) {
            RemoteCounters::bump(&shared.counters.rate_limited);
            return true;
        }
        match message {
            Message::Text(text) => self.command(text.as_str(), shared),
            Message::Binary(bytes) => {
                if self.access != Access::Control {
                    RemoteCounters::bump(&shared.counters.unauthorized);
                    if !self.warned {
                        self.warned = true;
                        let note = json!({ "COMMAND": "ERROR", "DATA": "control needs the token" });
                        return socket.send(Message::text(note.to_string())).is_ok();
                    }
                    return true;
                }
                match shared.packets.try_send((bytes.to_vec(), self.peer)) {
                    Ok(()) => RemoteCounters::bump(&shared.counters.osc_packets),
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        RemoteCounters::bump(&shared.counters.osc_dropped);
                    }
                }
            }
            _ => {}
        }
        true
    }

    /// A JSON command: `LISTEN` or `IGNORE` (others are ignored, as the proposal allows).
    fn command(&mut self, text: &str, shared: &Shared) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if v.get("COMMAND").and_then(Value::as_str) == Some("SCREENSHOT") {
            if self.access == Access::Control {
                shared.screenshot.store(true, Ordering::Release);
            } else {
                RemoteCounters::bump(&shared.counters.unauthorized);
            }
            return;
        }
        let (Some(command), Some(path)) = (
            v.get("COMMAND").and_then(Value::as_str),
            v.get("DATA").and_then(Value::as_str),
        ) else {
            return;
        };
        match command {
            "LISTEN" if self.listens.len() < MAX_LISTENS => {
                let (ns, _) = shared.namespace.get();
                if oscquery::node(&ns, None, path).is_ok() {
                    self.listens.insert(path.to_string(), None);
                    // Send the current value at the next tick.
                    self.values_seen = 0;
                }
            }
            "IGNORE" => {
                self.listens.remove(path);
            }
            _ => {}
        }
    }

    /// Sends what changed since the last tick.
    fn tick(&mut self, shared: &Shared, socket: &mut Socket) -> tungstenite::Result<()> {
        let (ns, ns_generation) = shared.namespace.get();
        if ns_generation != self.namespace_seen {
            self.namespace_seen = ns_generation;
            let new = oscquery::fingerprints(&ns);
            for note in oscquery::changes(&self.fingerprints, &new, MAX_NOTIFICATIONS) {
                socket.send(Message::text(note.to_string()))?;
            }
            self.listens
                .retain(|path, _| new.contains_key(path) || path.starts_with("/hypna/status/"));
            self.fingerprints = new;
        }
        let (values, generation) = shared.values.get();
        if generation == self.values_seen || self.listens.is_empty() {
            return Ok(());
        }
        self.values_seen = generation;
        for (path, last) in &mut self.listens {
            let Some(now) = oscquery::listen_value(&ns, &values, path) else {
                continue;
            };
            if last.as_ref() == Some(&now) {
                continue;
            }
            let arg = match &now {
                Scalar::Float(f) => OscType::Float(*f),
                Scalar::Int(i) => OscType::Long(*i),
                Scalar::Text(s) => OscType::String(s.clone()),
            };
            let packet = OscPacket::Message(OscMessage {
                addr: path.clone(),
                args: vec![arg],
            });
            if let Ok(bytes) = rosc::encoder::encode(&packet) {
                socket.send(Message::binary(bytes))?;
                RemoteCounters::bump(&shared.counters.streamed);
            }
            *last = Some(now);
        }
        Ok(())
    }
}
