//! The binding table of one scene: which message sets which param, how its value is scaled
//! into the param's range, and what a controller must be sent back when a param changed
//! elsewhere (feedback). Pure data on the frame thread: no ports, no clocks, no allocation
//! per message.
//!
//! Bindings come from the scene (`midi = ...` on a param: every port) and from the settings
//! file's controllers (ports whose name contains the controller's key), MIDI learn adding to
//! the latter. A port carries a bit mask of the controllers that match its name, computed
//! once when it connects.

use crate::scene::ParamDef;
use crate::scene::midi::{ControllerMap, MidiBinding, MidiSource, NoteMode};

use super::message::MidiMessage;

/// Most controllers a port mask can name; later ones in the settings are ignored (logged).
pub const MAX_CONTROLLERS: usize = 64;

/// One bound param.
#[derive(Debug, Clone)]
struct Target {
    param: usize,
    binding: MidiBinding,
    /// Index of the controller it came from; `None`: the scene's (every port).
    controller: Option<usize>,
    /// The value the controller shows, in its own resolution (127, 16383 or 0/1 for gates):
    /// set by what it sent and by feedback; `None` until known.
    shown: Option<u16>,
    /// The toggle's state.
    on: bool,
}

/// A value for a param, from a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Update {
    /// Index of the param in the scene.
    pub param: usize,
    /// The new target, inside the param's range.
    pub value: f32,
}

/// A feedback message for the controllers of `controller` (`None`: every feedback port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feedback {
    /// Index of the controller whose ports get it; `None` for the scene's bindings.
    pub controller: Option<usize>,
    /// The message.
    pub message: MidiMessage,
    /// A second message right after it (the LSB of a 14-bit pair).
    pub then: Option<MidiMessage>,
}

/// The bindings of one scene; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct MidiMap {
    targets: Vec<Target>,
    /// The last MSB of each 14-bit controller pair, per channel.
    msb: [[u8; 32]; 16],
}

/// Max raw value of a source (the controller's resolution).
fn resolution(binding: &MidiBinding) -> u16 {
    match binding.source {
        MidiSource::Cc { .. } | MidiSource::Notes { .. } => 127,
        MidiSource::Cc14 { .. } | MidiSource::Bend { .. } => 16383,
        MidiSource::Note { .. } => match binding.mode {
            NoteMode::Velocity => 127,
            NoteMode::Gate | NoteMode::Toggle => 1,
        },
    }
}

/// `[lo, hi]` the binding spans in `def`'s units.
fn span(binding: &MidiBinding, def: &ParamDef) -> [f32; 2] {
    binding.range.unwrap_or([def.min, def.max])
}

/// A raw controller value scaled into the param's range (clamped).
#[must_use]
pub fn scale(raw: u16, binding: &MidiBinding, def: &ParamDef) -> f32 {
    let max = f32::from(resolution(binding));
    let [lo, hi] = span(binding, def);
    let v = lo + (hi - lo) * (f32::from(raw.min(resolution(binding))) / max);
    def.clamp(v)
}

/// The raw value a controller should show for `value` (the inverse of [`scale`], rounded).
#[must_use]
pub fn unscale(value: f32, binding: &MidiBinding, def: &ParamDef) -> u16 {
    let max = f32::from(resolution(binding));
    let [lo, hi] = span(binding, def);
    let t = ((value - lo) / (hi - lo)).clamp(0.0, 1.0);
    if t.is_finite() {
        (t * max).round() as u16
    } else {
        0
    }
}

impl MidiMap {
    /// The bindings of `params` (the scene's) and of `controllers` (the settings') whose
    /// param the scene has.
    #[must_use]
    pub fn new(params: &[ParamDef], controllers: &[ControllerMap]) -> Self {
        let mut targets = Vec::new();
        for (i, p) in params.iter().enumerate() {
            if let Some(binding) = p.midi {
                targets.push(Target::new(i, binding, None));
            }
        }
        for (c, controller) in controllers.iter().enumerate().take(MAX_CONTROLLERS) {
            for (name, binding) in &controller.bindings {
                if let Some(i) = params.iter().position(|p| p.name == *name) {
                    targets.push(Target::new(i, *binding, Some(c)));
                }
            }
        }
        Self {
            targets,
            msb: [[0; 32]; 16],
        }
    }

    /// How many bindings the scene's params have.
    #[must_use]
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether nothing is bound.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Binds `param` to `binding` for `controller`, replacing what that controller bound to
    /// the param before (MIDI learn).
    pub fn bind(&mut self, param: usize, binding: MidiBinding, controller: usize) {
        self.targets
            .retain(|t| !(t.param == param && t.controller == Some(controller)));
        self.targets
            .push(Target::new(param, binding, Some(controller)));
    }

    /// The param updates `message` makes, from a port whose matching controllers are `mask`
    /// (bit `c` for controller `c`), pushed onto `out`.
    pub fn apply(
        &mut self,
        message: MidiMessage,
        mask: u64,
        params: &[ParamDef],
        out: &mut Vec<Update>,
    ) {
        // 14-bit pairs: an MSB starts a new value (LSB 0), an LSB refines the last MSB.
        let pair = match message {
            MidiMessage::Cc {
                channel,
                number,
                value,
            } => {
                let ch = usize::from(channel & 0x0f);
                if number < 32 {
                    self.msb[ch][usize::from(number)] = value;
                    Some((number, u16::from(value) << 7))
                } else if number < 64 {
                    let msb = self.msb[ch][usize::from(number - 32)];
                    Some((number - 32, (u16::from(msb) << 7) | u16::from(value)))
                } else {
                    None
                }
            }
            _ => None,
        };
        for t in &mut self.targets {
            let applies = match t.controller {
                None => true,
                Some(c) => c < 64 && mask & (1 << c) != 0,
            };
            if !applies {
                continue;
            }
            let Some(def) = params.get(t.param) else {
                continue;
            };
            let raw = match (t.binding.source, message) {
                (
                    MidiSource::Cc { channel, number },
                    MidiMessage::Cc {
                        channel: c,
                        number: n,
                        value,
                    },
                ) if channel == c && number == n => Some(u16::from(value)),
                (MidiSource::Cc14 { channel, number }, MidiMessage::Cc { channel: c, .. })
                    if channel == c =>
                {
                    pair.filter(|(n, _)| *n == number).map(|(_, v)| v)
                }
                (MidiSource::Bend { channel }, MidiMessage::Bend { channel: c, value })
                    if channel == c =>
                {
                    Some(value)
                }
                (
                    MidiSource::Note { channel, note },
                    MidiMessage::NoteOn {
                        channel: c,
                        note: n,
                        velocity,
                    },
                ) if channel == c && note == n => match t.binding.mode {
                    NoteMode::Gate => Some(1),
                    NoteMode::Velocity => Some(u16::from(velocity)),
                    NoteMode::Toggle => {
                        t.on = !t.on;
                        Some(u16::from(t.on))
                    }
                },
                (
                    MidiSource::Note { channel, note },
                    MidiMessage::NoteOff {
                        channel: c,
                        note: n,
                    },
                ) if channel == c && note == n && t.binding.mode != NoteMode::Toggle => Some(0),
                (
                    MidiSource::Notes { channel, first },
                    MidiMessage::NoteOn {
                        channel: c, note, ..
                    },
                ) if channel == c && note >= first => {
                    // Whole values, not scaled: note `first + k - 1` is `k`.
                    let k = f32::from(note - first + 1);
                    if k <= def.max {
                        t.shown = Some(u16::from(note - first + 1));
                        out.push(Update {
                            param: t.param,
                            value: def.clamp(k),
                        });
                    }
                    None
                }
                (
                    MidiSource::Notes { channel, first },
                    MidiMessage::NoteOff { channel: c, note },
                ) if channel == c
                    && note >= first
                    && t.shown == Some(u16::from(note - first + 1)) =>
                {
                    t.shown = Some(0);
                    out.push(Update {
                        param: t.param,
                        value: def.clamp(0.0),
                    });
                    None
                }
                _ => None,
            };
            if let Some(raw) = raw {
                t.shown = Some(raw);
                out.push(Update {
                    param: t.param,
                    value: scale(raw, &t.binding, def),
                });
            }
        }
    }

    /// Feedback for params whose target moved away from what their controller shows:
    /// `targets` are the param targets in scene order. Each binding sends at most one
    /// message per call, and nothing while its controller already shows the value.
    pub fn feedback(&mut self, targets: &[f32], params: &[ParamDef], out: &mut Vec<Feedback>) {
        for t in &mut self.targets {
            let (Some(def), Some(&value)) = (params.get(t.param), targets.get(t.param)) else {
                continue;
            };
            if matches!(t.binding.source, MidiSource::Notes { .. }) {
                // A row of pads picks values; there is no one control to show one on.
                continue;
            }
            let raw = unscale(value, &t.binding, def);
            if t.shown == Some(raw) {
                continue;
            }
            t.shown = Some(raw);
            if t.binding.mode == NoteMode::Toggle {
                t.on = raw > 0;
            }
            let message = feedback_message(&t.binding, raw);
            let then = match t.binding.source {
                MidiSource::Cc14 { .. } => lsb_message(raw, message),
                _ => None,
            };
            out.push(Feedback {
                controller: t.controller,
                message,
                then,
            });
        }
    }
}

impl Target {
    fn new(param: usize, binding: MidiBinding, controller: Option<usize>) -> Self {
        Self {
            param,
            binding,
            controller,
            shown: None,
            on: false,
        }
    }
}

/// The message that makes a controller show `raw` for `binding`. A 14-bit pair sends its
/// MSB here; [`lsb_message`] gives the LSB that follows it.
fn feedback_message(binding: &MidiBinding, raw: u16) -> MidiMessage {
    match binding.source {
        MidiSource::Cc { channel, number } => MidiMessage::Cc {
            channel,
            number,
            value: raw.min(127) as u8,
        },
        MidiSource::Cc14 { channel, number } => MidiMessage::Cc {
            channel,
            number,
            value: ((raw >> 7) & 0x7f) as u8,
        },
        MidiSource::Bend { channel } => MidiMessage::Bend {
            channel,
            value: raw.min(16383),
        },
        MidiSource::Notes { channel, first } => MidiMessage::NoteOn {
            channel,
            note: first,
            velocity: raw.min(127) as u8,
        },
        MidiSource::Note { channel, note } => match (binding.mode, raw) {
            (_, 0) => MidiMessage::NoteOff { channel, note },
            (NoteMode::Velocity, v) => MidiMessage::NoteOn {
                channel,
                note,
                velocity: v.min(127) as u8,
            },
            _ => MidiMessage::NoteOn {
                channel,
                note,
                velocity: 127,
            },
        },
    }
}

/// The LSB message after a 14-bit MSB sent as feedback, if `message` is one.
fn lsb_message(binding_raw: u16, message: MidiMessage) -> Option<MidiMessage> {
    match message {
        MidiMessage::Cc {
            channel, number, ..
        } if number < 32 => Some(MidiMessage::Cc {
            channel,
            number: number + 32,
            value: (binding_raw & 0x7f) as u8,
        }),
        _ => None,
    }
}

/// The binding MIDI learn makes of a message: a CC, a note (gate) or the pitch bend; `None`
/// for messages that cannot be bound.
#[must_use]
pub fn learn(message: MidiMessage) -> Option<MidiBinding> {
    let source = match message {
        MidiMessage::Cc {
            channel, number, ..
        } => MidiSource::Cc { channel, number },
        MidiMessage::NoteOn { channel, note, .. } => MidiSource::Note { channel, note },
        MidiMessage::Bend { channel, .. } => MidiSource::Bend { channel },
        _ => return None,
    };
    Some(MidiBinding::new(source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Location;

    fn param(name: &str, min: f32, max: f32, midi: Option<&str>) -> ParamDef {
        ParamDef {
            name: name.into(),
            at: Location::default(),
            default: min,
            min,
            max,
            smooth_secs: 0.0,
            label: name.into(),
            group: None,
            osc: Vec::new(),
            midi: midi.map(|m| MidiBinding::parse(m).unwrap()),
            modulation: None,
            names: Vec::new(),
        }
    }

    fn cc(channel: u8, number: u8, value: u8) -> MidiMessage {
        MidiMessage::Cc {
            channel,
            number,
            value,
        }
    }

    #[test]
    fn cc_values_scale_into_the_range_and_clamp() {
        let params = [
            param("zoom", -2.0, 2.0, Some("cc 1 74")),
            param("hue", 0.0, 1.0, None),
        ];
        let mut map = MidiMap::new(&params, &[]);
        let mut out = Vec::new();
        map.apply(cc(0, 74, 0), 0, &params, &mut out);
        map.apply(cc(0, 74, 127), 0, &params, &mut out);
        map.apply(cc(0, 74, 64), 0, &params, &mut out);
        map.apply(cc(1, 74, 64), 0, &params, &mut out); // another channel
        map.apply(cc(0, 75, 64), 0, &params, &mut out); // another controller
        let values: Vec<f32> = out.iter().map(|u| u.value).collect();
        assert_eq!(values.len(), 3, "{out:?}");
        assert!((values[0] + 2.0).abs() < 1e-6 && (values[1] - 2.0).abs() < 1e-6);
        assert!((values[2] - (-2.0 + 4.0 * 64.0 / 127.0)).abs() < 1e-6);
        // A sub-range beyond the param's range is clamped; a reversed one inverts.
        let mut b = MidiBinding::parse("cc 1 1").unwrap();
        b.range = Some([3.0, -3.0]);
        assert!((scale(0, &b, &params[0]) - 2.0).abs() < 1e-6);
        assert!((scale(127, &b, &params[0]) + 2.0).abs() < 1e-6);
        assert_eq!(
            unscale(2.0, &MidiBinding::parse("cc 1 1").unwrap(), &params[0]),
            127
        );
    }

    #[test]
    fn fourteen_bit_pairs_bend_and_notes() {
        let params = [
            param("fine", 0.0, 1.0, Some("cc14 1 7")),
            param("bend", -1.0, 1.0, Some("bend 2")),
            param("gate", 0.0, 1.0, Some("note 10 36")),
            param("vel", 0.0, 10.0, Some("note 10 38 velocity")),
            param("flip", 0.0, 1.0, Some("note 10 40 toggle")),
        ];
        let mut map = MidiMap::new(&params, &[]);
        let mut out = Vec::new();
        map.apply(cc(0, 7, 64), 0, &params, &mut out);
        map.apply(cc(0, 39, 127), 0, &params, &mut out);
        assert!((out[0].value - 8192.0 / 16383.0).abs() < 1e-6, "{out:?}");
        assert!((out[1].value - 8319.0 / 16383.0).abs() < 1e-6, "{out:?}");
        out.clear();
        map.apply(
            MidiMessage::Bend {
                channel: 1,
                value: 16383,
            },
            0,
            &params,
            &mut out,
        );
        assert_eq!(
            out,
            [Update {
                param: 1,
                value: 1.0
            }]
        );
        out.clear();
        let on = |note, velocity| MidiMessage::NoteOn {
            channel: 9,
            note,
            velocity,
        };
        let off = |note| MidiMessage::NoteOff { channel: 9, note };
        for m in [
            on(36, 5),
            off(36),
            on(38, 127),
            off(38),
            on(40, 1),
            off(40),
            on(40, 1),
        ] {
            map.apply(m, 0, &params, &mut out);
        }
        let got: Vec<(usize, f32)> = out.iter().map(|u| (u.param, u.value)).collect();
        assert_eq!(
            got,
            [(2, 1.0), (2, 0.0), (3, 10.0), (3, 0.0), (4, 1.0), (4, 0.0)]
        );
    }

    #[test]
    fn a_row_of_notes_picks_whole_values() {
        let params = [param("recall", 0.0, 8.0, Some("notes 1 36"))];
        let mut map = MidiMap::new(&params, &[]);
        let mut out = Vec::new();
        let on = |note| MidiMessage::NoteOn {
            channel: 0,
            note,
            velocity: 99,
        };
        let off = |note| MidiMessage::NoteOff { channel: 0, note };
        // 36 -> 1, 38 -> 3, its off -> 0; 35 and 45 (k = 10 > 8) are not in the row; the
        // off of a note no longer held changes nothing.
        for m in [on(36), on(38), off(36), off(38), on(35), on(45), off(45)] {
            map.apply(m, 0, &params, &mut out);
        }
        let got: Vec<f32> = out.iter().map(|u| u.value).collect();
        assert_eq!(got, [1.0, 3.0, 0.0]);
        let mut fb = Vec::new();
        map.feedback(&[5.0], &params, &mut fb);
        assert!(fb.is_empty(), "{fb:?}");
    }

    #[test]
    fn controller_bindings_follow_the_port_mask_and_learn_replaces() {
        let params = [param("speed", 0.0, 1.0, None)];
        let controllers = [ControllerMap {
            port: "nano".into(),
            bindings: vec![
                ("speed".into(), MidiBinding::parse("cc 1 0").unwrap()),
                ("missing".into(), MidiBinding::parse("cc 1 1").unwrap()),
            ],
        }];
        let mut map = MidiMap::new(&params, &controllers);
        assert_eq!(map.len(), 1);
        let mut out = Vec::new();
        map.apply(cc(0, 0, 127), 0b0, &params, &mut out);
        assert!(out.is_empty(), "a port that is not the controller");
        map.apply(cc(0, 0, 127), 0b1, &params, &mut out);
        assert_eq!(out.len(), 1);
        let learned = learn(cc(3, 20, 5)).unwrap();
        assert_eq!(learned.to_string(), "cc 4 20");
        map.bind(0, learned, 0);
        assert_eq!(map.len(), 1);
        out.clear();
        map.apply(cc(0, 0, 127), 0b1, &params, &mut out);
        map.apply(cc(3, 20, 0), 0b1, &params, &mut out);
        assert_eq!(
            out,
            [Update {
                param: 0,
                value: 0.0
            }]
        );
        assert_eq!(learn(MidiMessage::Clock), None);
    }

    #[test]
    fn feedback_sends_changes_made_elsewhere_once() {
        let params = [
            param("a", 0.0, 1.0, Some("cc 1 10")),
            param("b", 0.0, 1.0, Some("note 1 60")),
            param("c", 0.0, 1.0, Some("cc14 1 2")),
        ];
        let mut map = MidiMap::new(&params, &[]);
        let mut fb = Vec::new();
        map.feedback(&[0.5, 1.0, 1.0], &params, &mut fb);
        assert_eq!(fb.len(), 3, "first sync sends everything: {fb:?}");
        assert_eq!(fb[0].message, cc(0, 10, 64));
        assert_eq!(
            fb[1].message,
            MidiMessage::NoteOn {
                channel: 0,
                note: 60,
                velocity: 127
            }
        );
        assert_eq!(fb[2].message, cc(0, 2, 127));
        assert_eq!(fb[2].then, Some(cc(0, 34, 127)));
        fb.clear();
        map.feedback(&[0.5, 1.0, 1.0], &params, &mut fb);
        assert!(fb.is_empty(), "unchanged: {fb:?}");
        // A value the controller sent itself is not echoed back.
        let mut out = Vec::new();
        map.apply(cc(0, 10, 100), 0, &params, &mut out);
        map.feedback(&[out[0].value, 1.0, 1.0], &params, &mut fb);
        assert!(fb.is_empty(), "echo: {fb:?}");
        map.feedback(&[0.0, 0.0, 1.0], &params, &mut fb);
        assert_eq!(
            fb.iter().map(|f| f.message).collect::<Vec<_>>(),
            [
                cc(0, 10, 0),
                MidiMessage::NoteOff {
                    channel: 0,
                    note: 60
                }
            ]
        );
    }
}
