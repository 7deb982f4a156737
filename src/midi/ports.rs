//! The `hypna-midi` thread: finds ports, connects them, notices when they go and when they
//! come back (hot-plug, by scanning every `poll_secs`), sends feedback, and saves learned
//! bindings. midir calls each input connection's callback on its own thread; the callback
//! only stamps the message and `try_send`s it into one bounded channel (no lock, no
//! allocation, no print); a full channel drops the message and counts it.
//!
//! Ports are known by name (a re-plugged controller comes back under its name). hypna's own
//! ports (named after [`CLIENT`]) are never connected, so feedback cannot loop into input.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use midir::{Ignore, MidiInput, MidiInputConnection, MidiOutput, MidiOutputConnection};

use crate::restart::Backoff;
use crate::scene::midi::MidiBinding;

/// hypna's MIDI client name; ports whose name contains it are hypna's own.
pub const CLIENT: &str = "hypna";

/// A message as it arrived: its port and time, up to three bytes (longer ones are `SysEx`,
/// which is ignored).
#[derive(Debug, Clone, Copy)]
pub(super) struct RawEvent {
    pub slot: u16,
    pub at: Instant,
    pub len: u8,
    pub bytes: [u8; 3],
}

/// A port came or went.
#[derive(Debug, Clone)]
pub(super) enum PortEvent {
    Connected { slot: u16, name: String },
    Gone { slot: u16 },
}

/// What the frame asks of the thread.
#[derive(Debug, Clone)]
pub(super) enum Command {
    /// Send `bytes[..len]` to the feedback ports of `controller` (`None`: all of them).
    Send {
        controller: Option<u16>,
        bytes: [u8; 3],
        len: u8,
    },
    /// A controller key MIDI learn added (index = its position).
    Controller(String),
    /// Save a learned binding into the settings file.
    Save {
        port: String,
        param: String,
        binding: MidiBinding,
    },
}

/// Counters shared by the callbacks, the thread and the frame.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages received on every port.
    pub received: AtomicU64,
    /// Messages dropped because the frame had not drained the queue.
    pub dropped: AtomicU64,
    /// Feedback messages dropped (queue full or a send failed).
    pub out_dropped: AtomicU64,
    /// Input ports connected now.
    pub inputs: AtomicU64,
    /// Output (feedback) ports connected now.
    pub outputs: AtomicU64,
    /// Input connections made so far (a re-plugged controller counts again).
    pub connects: AtomicU64,
    /// Input ports that went away so far.
    pub disconnects: AtomicU64,
}

/// What the thread needs to know.
#[derive(Debug, Clone)]
pub(super) struct PortConfig {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub feedback: bool,
    pub poll: Duration,
    pub controllers: Vec<String>,
    pub settings: Option<PathBuf>,
}

impl PortConfig {
    fn wants_input(&self, name: &str) -> bool {
        !name.contains(CLIENT)
            && (self.inputs.is_empty() || self.inputs.iter().any(|f| name.contains(f.as_str())))
    }
}

struct Input {
    name: String,
    _conn: MidiInputConnection<()>,
}

struct Output {
    name: String,
    conn: MidiOutputConnection,
}

/// The thread's state.
pub(super) struct Ports {
    config: PortConfig,
    events: SyncSender<RawEvent>,
    port_events: SyncSender<PortEvent>,
    counters: Arc<Counters>,
    scanner: Option<(MidiInput, MidiOutput)>,
    /// The backend failed to open: logged once until it works again.
    warned: bool,
    inputs: Vec<(u16, Input)>,
    outputs: Vec<Output>,
    next_slot: u16,
}

impl Ports {
    pub(super) fn new(
        config: PortConfig,
        events: SyncSender<RawEvent>,
        port_events: SyncSender<PortEvent>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            config,
            events,
            port_events,
            counters,
            scanner: None,
            warned: false,
            inputs: Vec::new(),
            outputs: Vec::new(),
            next_slot: 0,
        }
    }

    /// Runs until the frame side hangs up. While the MIDI system cannot be opened (no ALSA
    /// sequencer, no JACK server) it is tried again at growing intervals up to a minute, so a
    /// machine without MIDI is not asked (and the system library does not log) every second.
    pub(super) fn run(mut self, commands: &Receiver<Command>) {
        let mut next_scan = Instant::now();
        let mut backoff = Backoff::new(self.config.poll, Duration::from_mins(1));
        loop {
            if Instant::now() >= next_scan {
                if self.scan() {
                    backoff.reset();
                } else {
                    backoff.grow();
                }
                next_scan = Instant::now() + backoff.current();
            }
            match commands.recv_timeout(next_scan.saturating_duration_since(Instant::now())) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::debug!("MIDI: stopped");
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Send {
                controller,
                bytes,
                len,
            } => {
                let key = controller.and_then(|c| self.config.controllers.get(usize::from(c)));
                for out in &mut self.outputs {
                    let routed = match key {
                        None => true,
                        Some(k) => k == "*" || out.name.contains(k.as_str()),
                    };
                    if routed && out.conn.send(&bytes[..usize::from(len).min(3)]).is_err() {
                        self.counters.out_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Command::Controller(key) => self.config.controllers.push(key),
            Command::Save {
                port,
                param,
                binding,
            } => {
                let Some(path) = &self.config.settings else {
                    return;
                };
                match crate::settings::save_midi_binding(path, &port, &param, &binding) {
                    Ok(()) => tracing::info!(
                        "MIDI learn: saved `{param}` = \"{binding}\" for \"{port}\" in {}",
                        path.display()
                    ),
                    Err(e) => tracing::error!("MIDI learn: {e}"),
                }
            }
        }
    }

    /// Lists the ports; connects new ones, lets go of the ones that went. False when the MIDI
    /// system cannot be opened.
    fn scan(&mut self) -> bool {
        if self.scanner.is_none() {
            match MidiInput::new(CLIENT).and_then(|i| Ok((i, MidiOutput::new(CLIENT)?))) {
                Ok(s) => {
                    if self.warned {
                        tracing::info!("MIDI: the MIDI system is back");
                    }
                    self.warned = false;
                    self.scanner = Some(s);
                }
                Err(e) => {
                    if !self.warned {
                        tracing::warn!(
                            "MIDI: cannot open the MIDI system ({e}); trying again, then less often"
                        );
                        self.warned = true;
                    }
                    return false;
                }
            }
        }
        let Some((scan_in, scan_out)) = &self.scanner else {
            return false;
        };
        let ins: Vec<_> = scan_in
            .ports()
            .into_iter()
            .filter_map(|p| scan_in.port_name(&p).ok().map(|n| (p, n)))
            .collect();
        let outs: Vec<_> = scan_out
            .ports()
            .into_iter()
            .filter_map(|p| scan_out.port_name(&p).ok().map(|n| (p, n)))
            .collect();
        // Gone ports first, so a port re-plugged under the same name is connected again.
        let before = self.inputs.len();
        self.inputs.retain(|(slot, input)| {
            let present = ins.iter().any(|(_, n)| *n == input.name);
            if !present {
                tracing::info!("MIDI: input \"{}\" went away", input.name);
                send_port_event(&self.port_events, PortEvent::Gone { slot: *slot });
            }
            present
        });
        self.counters
            .disconnects
            .fetch_add((before - self.inputs.len()) as u64, Ordering::Relaxed);
        self.outputs
            .retain(|o| outs.iter().any(|(_, n)| *n == o.name));
        for (port, name) in &ins {
            if !self.config.wants_input(name) || self.inputs.iter().any(|(_, i)| i.name == *name) {
                continue;
            }
            match self.connect_input(port, name) {
                Ok(input) => {
                    let slot = self.next_slot;
                    self.next_slot = self.next_slot.wrapping_add(1);
                    tracing::info!("MIDI: input \"{name}\" connected");
                    self.counters.connects.fetch_add(1, Ordering::Relaxed);
                    send_port_event(
                        &self.port_events,
                        PortEvent::Connected {
                            slot,
                            name: name.clone(),
                        },
                    );
                    self.inputs.push((
                        slot,
                        Input {
                            name: name.clone(),
                            _conn: input,
                        },
                    ));
                }
                Err(e) => tracing::warn!("MIDI: input \"{name}\": {e}"),
            }
        }
        if self.config.feedback {
            for (port, name) in &outs {
                if !self.wants_output(name) || self.outputs.iter().any(|o| o.name == *name) {
                    continue;
                }
                match MidiOutput::new(CLIENT)
                    .map_err(|e| e.to_string())
                    .and_then(|o| o.connect(port, "hypna-feedback").map_err(|e| e.to_string()))
                {
                    Ok(conn) => {
                        tracing::info!("MIDI: feedback to \"{name}\"");
                        self.outputs.push(Output {
                            name: name.clone(),
                            conn,
                        });
                    }
                    Err(e) => tracing::warn!("MIDI: output \"{name}\": {e}"),
                }
            }
        }
        self.counters
            .inputs
            .store(self.inputs.len() as u64, Ordering::Relaxed);
        self.counters
            .outputs
            .store(self.outputs.len() as u64, Ordering::Relaxed);
        true
    }

    /// An output gets feedback when it is named in `outputs`, or (without that list) when it
    /// has the name of a connected input (the controller's other direction). ALSA's "Midi
    /// Through" is left out of the pairing: it would loop feedback back in.
    fn wants_output(&self, name: &str) -> bool {
        if name.contains(CLIENT) {
            return false;
        }
        if self.config.outputs.is_empty() {
            !name.contains("Midi Through") && self.inputs.iter().any(|(_, i)| i.name == name)
        } else {
            self.config
                .outputs
                .iter()
                .any(|f| name.contains(f.as_str()))
        }
    }

    fn connect_input(
        &self,
        port: &midir::MidiInputPort,
        name: &str,
    ) -> Result<MidiInputConnection<()>, String> {
        let mut input = MidiInput::new(CLIENT).map_err(|e| e.to_string())?;
        input.ignore(Ignore::SysexAndActiveSense);
        let slot = self.next_slot;
        let tx = self.events.clone();
        let counters = Arc::clone(&self.counters);
        input
            .connect(
                port,
                "hypna-in",
                move |_stamp_us, bytes, ()| {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    let Some(event) = RawEvent::new(slot, Instant::now(), bytes) else {
                        return;
                    };
                    if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                        tx.try_send(event)
                    {
                        counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                },
                (),
            )
            .map_err(|e| format!("{name}: {e}"))
    }
}

impl RawEvent {
    /// Up to three bytes; `None` for longer messages (`SysEx`).
    pub(super) fn new(slot: u16, at: Instant, bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > 3 {
            return None;
        }
        let mut b = [0u8; 3];
        b[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            slot,
            at,
            len: bytes.len() as u8,
            bytes: b,
        })
    }

    /// The message's bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(3)]
    }
}

fn send_port_event(tx: &SyncSender<PortEvent>, event: PortEvent) {
    if tx.try_send(event).is_err() {
        tracing::warn!("MIDI: port event dropped (the frame is not draining)");
    }
}
