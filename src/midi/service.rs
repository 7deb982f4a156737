//! The frame's side of MIDI: [`Midi::drain`] turns the messages that arrived since the last
//! frame into param updates, scene switches, taps and learned bindings, feeds the clock, and
//! [`Midi::feedback`] queues what controllers must be sent back. Nothing here waits: the
//! queues from and to the `hypna-midi` thread are bounded, what overflows is counted.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use crate::scene::ParamDef;
use crate::scene::midi::{ControllerMap, MidiBinding, MidiConfig, MidiSource};

use super::MidiError;
use super::clock::{MidiClock, Tempo};
use super::map::{Feedback, MidiMap, Update, learn};
use super::message::MidiMessage;
use super::ports::{Command, Counters, PortConfig, PortEvent, Ports, RawEvent};

/// Messages buffered between the ports and the frame (about 10 s of a busy controller).
const EVENT_CAPACITY: usize = 1024;
/// Feedback and commands buffered for the thread.
const COMMAND_CAPACITY: usize = 1024;
/// Most messages handled in one frame; the rest wait for the next one.
const MAX_PER_FRAME: usize = 4096;

/// What a MIDI message asks of the runtime (besides param values).
#[derive(Debug, Clone, PartialEq)]
pub enum MidiAction {
    /// Set param `param` (its index in the scene) to `value` (inside its range).
    Param {
        /// Index of the param.
        param: usize,
        /// The new target.
        value: f32,
    },
    /// Program change: switch to playlist entry `n` (from 0).
    Program(u8),
    /// The tap binding was hit.
    Tap,
    /// MIDI learn bound `param` to `binding` on `port` (saved to the settings file if any).
    Learned {
        /// Index of the param.
        param: usize,
        /// The port's name.
        port: String,
        /// The new binding.
        binding: MidiBinding,
    },
}

/// Counters for the HUD and the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MidiStatus {
    /// Input ports connected.
    pub inputs: u64,
    /// Feedback ports connected.
    pub outputs: u64,
    /// Messages received.
    pub received: u64,
    /// Messages dropped before the frame saw them.
    pub dropped: u64,
    /// Feedback messages dropped.
    pub out_dropped: u64,
    /// Input connections made so far (re-plugs included).
    pub connects: u64,
    /// Input ports that went away so far.
    pub disconnects: u64,
}

/// A connected input port as the frame knows it.
struct Port {
    slot: u16,
    name: String,
    /// Bit `c`: controller `c` matches the port's name.
    mask: u64,
}

/// MIDI input, learn, feedback and clock; see the module docs.
pub struct Midi {
    commands: SyncSender<Command>,
    events: Receiver<RawEvent>,
    port_events: Receiver<PortEvent>,
    counters: Arc<Counters>,
    config: MidiConfig,
    settings: Option<PathBuf>,
    map: MidiMap,
    clock: MidiClock,
    ports: Vec<Port>,
    learning: Option<usize>,
    updates: Vec<Update>,
    feedback: Vec<Feedback>,
    targets: Vec<f32>,
}

impl Midi {
    /// Starts the `hypna-midi` thread with `config` for a scene with `params`; learned
    /// bindings are saved into `settings` when given.
    ///
    /// # Errors
    /// The thread cannot be spawned. (A missing MIDI system is not an error: the thread
    /// logs it and keeps trying, see docs/midi.md.)
    pub fn start(
        config: MidiConfig,
        settings: Option<PathBuf>,
        params: &[ParamDef],
    ) -> Result<Self, MidiError> {
        let (events_tx, events) = sync_channel(EVENT_CAPACITY);
        let (ports_tx, port_events) = sync_channel(256);
        let (commands, commands_rx) = sync_channel(COMMAND_CAPACITY);
        let counters = Arc::new(Counters::default());
        let port_config = PortConfig {
            inputs: config.inputs.clone(),
            outputs: config.outputs.clone(),
            feedback: config.feedback,
            poll: config.poll,
            controllers: config.controllers.iter().map(|c| c.port.clone()).collect(),
            settings: settings.clone(),
        };
        let ports = Ports::new(port_config, events_tx, ports_tx, Arc::clone(&counters));
        std::thread::Builder::new()
            .name("hypna-midi".into())
            .spawn(move || ports.run(&commands_rx))
            .map_err(MidiError::Thread)?;
        Ok(Self {
            commands,
            events,
            port_events,
            counters,
            map: MidiMap::new(params, &config.controllers),
            config,
            settings,
            clock: MidiClock::new(),
            ports: Vec::new(),
            learning: None,
            updates: Vec::new(),
            feedback: Vec::new(),
            targets: Vec::new(),
        })
    }

    /// A new scene: its bindings replace the old scene's (learning is cancelled; the first
    /// feedback sends every bound value, so motor faders move to the new scene).
    pub fn follow(&mut self, params: &[ParamDef]) {
        self.map = MidiMap::new(params, &self.config.controllers);
        self.learning = None;
    }

    /// Starts MIDI learn for the param at `param` (the next CC, note or bend moved binds to
    /// it), or cancels it with `None`.
    pub fn learn(&mut self, param: Option<usize>) {
        self.learning = param;
    }

    /// The param waiting for MIDI learn, if any.
    #[must_use]
    pub fn learning(&self) -> Option<usize> {
        self.learning
    }

    /// The configured beat source and other settings.
    #[must_use]
    pub fn config(&self) -> &MidiConfig {
        &self.config
    }

    /// Handles what arrived since the last frame, in order, calling `act` for each param
    /// value, program change, tap and learned binding.
    pub fn drain(&mut self, params: &[ParamDef], mut act: impl FnMut(MidiAction)) {
        while let Ok(event) = self.port_events.try_recv() {
            match event {
                PortEvent::Connected { slot, name } => {
                    let mask = self.mask_of(&name);
                    self.ports.push(Port { slot, name, mask });
                }
                PortEvent::Gone { slot } => self.ports.retain(|p| p.slot != slot),
            }
        }
        for _ in 0..MAX_PER_FRAME {
            let Ok(event) = self.events.try_recv() else {
                break;
            };
            let Some(message) = MidiMessage::parse(event.bytes()) else {
                continue;
            };
            match message {
                MidiMessage::Clock => self.clock.clock(event.at),
                MidiMessage::Start => self.clock.start(),
                MidiMessage::Continue => self.clock.resume(),
                MidiMessage::Stop => self.clock.stop(),
                MidiMessage::SongPosition(p) => self.clock.song_position(p),
                MidiMessage::Program { program, .. } => {
                    if self.config.program_change {
                        act(MidiAction::Program(program));
                    }
                }
                _ => {
                    if let Some(param) = self.learning
                        && let Some(binding) = learn(message)
                    {
                        self.learning = None;
                        if let Some(learned) = self.bind_learned(event.slot, param, binding, params)
                        {
                            act(learned);
                        }
                    }
                    if self.is_tap(message) {
                        act(MidiAction::Tap);
                    }
                    let mask = self
                        .ports
                        .iter()
                        .find(|p| p.slot == event.slot)
                        .map_or(0, |p| p.mask);
                    self.updates.clear();
                    self.map.apply(message, mask, params, &mut self.updates);
                    for u in &self.updates {
                        act(MidiAction::Param {
                            param: u.param,
                            value: u.value,
                        });
                    }
                }
            }
        }
    }

    /// Queues feedback for params whose targets (in scene order) moved away from what their
    /// controllers show; does nothing with feedback off or no feedback port.
    pub fn feedback(&mut self, targets: impl Iterator<Item = f32>, params: &[ParamDef]) {
        if !self.config.feedback || self.counters.outputs.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.targets.clear();
        self.targets.extend(targets);
        self.feedback.clear();
        self.map.feedback(&self.targets, params, &mut self.feedback);
        for f in &self.feedback {
            for message in std::iter::once(f.message).chain(f.then) {
                let (bytes, len) = message.encode();
                let command = Command::Send {
                    controller: f.controller.and_then(|c| u16::try_from(c).ok()),
                    bytes,
                    len: len as u8,
                };
                if self.commands.try_send(command).is_err() {
                    self.counters.out_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Tempo and position from MIDI clock at `now`, while a clock is heard.
    #[must_use]
    pub fn tempo(&self, now: Instant) -> Option<Tempo> {
        self.clock.tempo(now)
    }

    /// The counters.
    #[must_use]
    pub fn status(&self) -> MidiStatus {
        let c = &self.counters;
        MidiStatus {
            inputs: c.inputs.load(Ordering::Relaxed),
            outputs: c.outputs.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            out_dropped: c.out_dropped.load(Ordering::Relaxed),
            connects: c.connects.load(Ordering::Relaxed),
            disconnects: c.disconnects.load(Ordering::Relaxed),
        }
    }

    /// Names of the input ports connected now.
    pub fn port_names(&self) -> impl Iterator<Item = &str> {
        self.ports.iter().map(|p| p.name.as_str())
    }

    fn mask_of(&self, name: &str) -> u64 {
        self.config
            .controllers
            .iter()
            .take(super::map::MAX_CONTROLLERS)
            .enumerate()
            .filter(|(_, c)| c.matches(name))
            .fold(0, |m, (i, _)| m | (1 << i))
    }

    fn is_tap(&self, message: MidiMessage) -> bool {
        let Some(tap) = self.config.tap else {
            return false;
        };
        match (tap.source, message) {
            (
                MidiSource::Note { channel, note },
                MidiMessage::NoteOn {
                    channel: c,
                    note: n,
                    ..
                },
            ) => channel == c && note == n,
            (
                MidiSource::Cc { channel, number },
                MidiMessage::Cc {
                    channel: c,
                    number: n,
                    value,
                },
            ) => channel == c && number == n && value >= 64,
            _ => false,
        }
    }

    /// Binds a learned `binding` for the port of `slot` (its own controller entry, keyed by
    /// the port's whole name) and asks the thread to save it.
    fn bind_learned(
        &mut self,
        slot: u16,
        param: usize,
        binding: MidiBinding,
        params: &[ParamDef],
    ) -> Option<MidiAction> {
        let name = params.get(param)?.name.clone();
        let port = self.ports.iter().find(|p| p.slot == slot)?.name.clone();
        let c = if let Some(c) = self.config.controllers.iter().position(|c| c.port == port) {
            c
        } else {
            if self.config.controllers.len() >= super::map::MAX_CONTROLLERS {
                tracing::warn!("MIDI learn: too many controllers in the settings");
                return None;
            }
            self.config.controllers.push(ControllerMap {
                port: port.clone(),
                bindings: Vec::new(),
            });
            if self
                .commands
                .try_send(Command::Controller(port.clone()))
                .is_err()
            {
                tracing::warn!(
                    "MIDI learn: the MIDI thread is busy; feedback may miss this controller"
                );
            }
            let c = self.config.controllers.len() - 1;
            for p in &mut self.ports {
                if p.name.contains(port.as_str()) {
                    p.mask |= 1 << c;
                }
            }
            c
        };
        self.map.bind(param, binding, c);
        // Kept for the next scenes (and reloads) of this run, like the settings file's.
        let bindings = &mut self.config.controllers[c].bindings;
        bindings.retain(|(p, _)| *p != name);
        bindings.push((name.clone(), binding));
        if self.settings.is_some() {
            let save = Command::Save {
                port: port.clone(),
                param: name,
                binding,
            };
            if self.commands.try_send(save).is_err() {
                tracing::warn!("MIDI learn: the MIDI thread is busy; the binding was not saved");
            }
        }
        Some(MidiAction::Learned {
            param,
            port,
            binding,
        })
    }
}
