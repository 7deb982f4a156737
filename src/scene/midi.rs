//! MIDI in the file formats: a param's `midi = "cc 1 74"` binding ([`MidiBinding`]) and the
//! settings file's `[midi]` table ([`MidiConfig`]: which ports, feedback, program change,
//! the beat source, and the bindings of each controller, MIDI learn's included). The MIDI
//! service (`crate::midi`) takes its configuration from here; nothing here knows it.
//!
//! Parse, don't validate: a binding is checked completely when it is read, so a typo is a
//! located error at load time, never a knob that silently does nothing.

use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

/// A MIDI binding or `[midi]` value out of range, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MidiSpecError(pub String);

/// What a MIDI message a binding listens to (channels are 0..=15 here, 1..=16 in files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MidiSource {
    /// A 7-bit control change: controller `number` 0..=127.
    Cc {
        /// Channel 0..=15.
        channel: u8,
        /// Controller number.
        number: u8,
    },
    /// A 14-bit control change pair: MSB on `number` 0..=31, LSB on `number + 32`.
    Cc14 {
        /// Channel 0..=15.
        channel: u8,
        /// The MSB's controller number.
        number: u8,
    },
    /// A note (on with its velocity, off).
    Note {
        /// Channel 0..=15.
        channel: u8,
        /// Note number 0..=127.
        note: u8,
    },
    /// The channel's pitch bend (14 bits).
    Bend {
        /// Channel 0..=15.
        channel: u8,
    },
    /// A row of notes that pick a whole value: note `first + k - 1` sets `k` (1, 2, ...), its
    /// note off sets 0 (bookmark slots, scenes of a bank). Values are the param's own units,
    /// not scaled; notes past the param's range are ignored.
    Notes {
        /// Channel 0..=15.
        channel: u8,
        /// The note that sets 1.
        first: u8,
    },
}

/// How a note binding sets its param.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoteMode {
    /// Note on: the top of the range; note off: the bottom.
    #[default]
    Gate,
    /// Note on: the velocity scaled into the range; note off: the bottom.
    Velocity,
    /// Each note on flips between the bottom and the top; note off does nothing.
    Toggle,
}

/// A param's MIDI binding: the source and how its value maps into the param's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MidiBinding {
    /// The message listened to.
    pub source: MidiSource,
    /// For notes: gate, velocity or toggle.
    pub mode: NoteMode,
    /// The part of the param's range the controller spans (`[lo, hi]`, may be reversed to
    /// invert); `None` spans the whole range. Clamped into the range when applied.
    pub range: Option<[f32; 2]>,
}

impl MidiBinding {
    /// A binding of `source` over the whole range (gate mode for notes).
    #[must_use]
    pub fn new(source: MidiSource) -> Self {
        Self {
            source,
            mode: NoteMode::Gate,
            range: None,
        }
    }

    /// Parses the text form: `"cc CH N"`, `"cc14 CH N"`, `"note CH N [gate|velocity|toggle]"`
    /// or `"bend CH"`, channels 1..=16.
    ///
    /// # Errors
    /// An unknown kind, a missing or out-of-range number, or extra words.
    pub fn parse(text: &str) -> Result<Self, MidiSpecError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let usage = || {
            MidiSpecError(format!(
                "MIDI binding `{text}`: expected \"cc CH N\", \"cc14 CH N\", \"note CH N [gate|velocity|toggle]\", \"notes CH FIRST\" or \"bend CH\" (channels 1..16)"
            ))
        };
        let (&kind, rest) = words.split_first().ok_or_else(usage)?;
        let channel = rest
            .first()
            .ok_or_else(usage)
            .and_then(|c| parse_channel(c))?;
        let number = |max: u8| -> Result<u8, MidiSpecError> {
            let word = rest.get(1).ok_or_else(usage)?;
            parse_number(word, max)
        };
        let (source, used) = match kind.to_ascii_lowercase().as_str() {
            "cc" => (
                MidiSource::Cc {
                    channel,
                    number: number(127)?,
                },
                2,
            ),
            "cc14" => (
                MidiSource::Cc14 {
                    channel,
                    number: number(31)?,
                },
                2,
            ),
            "note" => (
                MidiSource::Note {
                    channel,
                    note: number(127)?,
                },
                2,
            ),
            "bend" => (MidiSource::Bend { channel }, 1),
            "notes" => (
                MidiSource::Notes {
                    channel,
                    first: number(127)?,
                },
                2,
            ),
            _ => return Err(usage()),
        };
        let mut binding = Self::new(source);
        match (rest.get(used), rest.len()) {
            (None, _) => {}
            (Some(mode), n) if n == used + 1 && matches!(source, MidiSource::Note { .. }) => {
                binding.mode = parse_mode(mode)?;
            }
            _ => return Err(usage()),
        }
        Ok(binding)
    }

    /// Validates a table form (`{ cc = 74, channel = 1 }`, `{ note = 60, mode = "velocity" }`,
    /// `{ bend = true }`, each with an optional `range`).
    ///
    /// # Errors
    /// Not exactly one of `cc`, `cc14`, `note`, `bend`; a number, channel, mode or range out
    /// of bounds.
    pub fn from_table(t: &RawMidiTable) -> Result<Self, MidiSpecError> {
        let channel = match t.channel {
            Some(c) => channel_index(i64::from(c))?,
            None => 0,
        };
        let kinds = [
            t.cc.is_some(),
            t.cc14.is_some(),
            t.note.is_some(),
            t.bend == Some(true),
            t.notes.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(MidiSpecError(
                "MIDI binding: give exactly one of `cc`, `cc14`, `note`, `notes` or `bend = true`"
                    .into(),
            ));
        }
        let in_range = |v: u32, max: u8, what: &str| {
            u8::try_from(v)
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| MidiSpecError(format!("MIDI binding: {what} {v} is not 0..{max}")))
        };
        let source = if let Some(n) = t.cc {
            MidiSource::Cc {
                channel,
                number: in_range(n, 127, "cc")?,
            }
        } else if let Some(n) = t.cc14 {
            MidiSource::Cc14 {
                channel,
                number: in_range(n, 31, "cc14")?,
            }
        } else if let Some(n) = t.note {
            MidiSource::Note {
                channel,
                note: in_range(n, 127, "note")?,
            }
        } else if let Some(n) = t.notes {
            MidiSource::Notes {
                channel,
                first: in_range(n, 127, "notes")?,
            }
        } else {
            MidiSource::Bend { channel }
        };
        let mode = match &t.mode {
            Some(m) if matches!(source, MidiSource::Note { .. }) => parse_mode(m)?,
            Some(_) => {
                return Err(MidiSpecError(
                    "MIDI binding: `mode` is for note bindings only".into(),
                ));
            }
            None => NoteMode::Gate,
        };
        if let Some([lo, hi]) = t.range
            && !(lo.is_finite() && hi.is_finite() && (hi - lo).abs() > 0.0)
        {
            return Err(MidiSpecError(format!(
                "MIDI binding: range [{lo}, {hi}] must be two different finite values"
            )));
        }
        Ok(Self {
            source,
            mode,
            range: t.range,
        })
    }

    /// Either form, as read from a file.
    ///
    /// # Errors
    /// See [`Self::parse`] and [`Self::from_table`].
    pub fn from_raw(raw: &RawMidiBinding) -> Result<Self, MidiSpecError> {
        match raw {
            RawMidiBinding::Text(t) => Self::parse(t),
            RawMidiBinding::Table(t) => Self::from_table(t),
        }
    }
}

/// The text form, which [`MidiBinding::parse`] reads back (the range is not part of it).
impl fmt::Display for MidiBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            MidiSource::Cc { channel, number } => write!(f, "cc {} {number}", channel + 1),
            MidiSource::Cc14 { channel, number } => write!(f, "cc14 {} {number}", channel + 1),
            MidiSource::Note { channel, note } => {
                write!(f, "note {} {note}", channel + 1)?;
                match self.mode {
                    NoteMode::Gate => Ok(()),
                    NoteMode::Velocity => f.write_str(" velocity"),
                    NoteMode::Toggle => f.write_str(" toggle"),
                }
            }
            MidiSource::Bend { channel } => write!(f, "bend {}", channel + 1),
            MidiSource::Notes { channel, first } => write!(f, "notes {} {first}", channel + 1),
        }
    }
}

fn parse_channel(word: &str) -> Result<u8, MidiSpecError> {
    let n: i64 = word
        .parse()
        .map_err(|_| MidiSpecError(format!("MIDI channel `{word}` is not a number 1..16")))?;
    channel_index(n)
}

fn channel_index(n: i64) -> Result<u8, MidiSpecError> {
    u8::try_from(n)
        .ok()
        .filter(|c| (1..=16).contains(c))
        .map(|c| c - 1)
        .ok_or_else(|| MidiSpecError(format!("MIDI channel {n} is not 1..16")))
}

fn parse_number(word: &str, max: u8) -> Result<u8, MidiSpecError> {
    word.parse::<u8>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| MidiSpecError(format!("MIDI number `{word}` is not 0..{max}")))
}

fn parse_mode(word: &str) -> Result<NoteMode, MidiSpecError> {
    match word.to_ascii_lowercase().as_str() {
        "gate" => Ok(NoteMode::Gate),
        "velocity" => Ok(NoteMode::Velocity),
        "toggle" => Ok(NoteMode::Toggle),
        _ => Err(MidiSpecError(format!(
            "note mode `{word}` is not gate, velocity or toggle"
        ))),
    }
}

/// `midi = ...` as written: the text form or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawMidiBinding {
    /// `"cc 1 74"`.
    Text(String),
    /// `{ cc = 74, channel = 1, range = [0, 0.5] }`.
    Table(RawMidiTable),
}

/// The table form of a binding: exactly one of `cc`, `cc14`, `note`, `bend`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMidiTable {
    /// Control change number 0..=127.
    pub cc: Option<u32>,
    /// 14-bit control change: MSB number 0..=31 (LSB on number + 32).
    pub cc14: Option<u32>,
    /// Note number 0..=127.
    pub note: Option<u32>,
    /// `true`: the channel's pitch bend.
    pub bend: Option<bool>,
    /// A row of notes from this one: note `notes + k - 1` sets the value `k`.
    pub notes: Option<u32>,
    /// Channel 1..=16. Default: 1.
    pub channel: Option<u32>,
    /// Notes: `"gate"`, `"velocity"` or `"toggle"`. Default: `"gate"`.
    pub mode: Option<String>,
    /// The part of the param's range the controller spans. Default: the whole range.
    pub range: Option<[f32; 2]>,
}

/// Where the beat globals (`beat`, `bpm`, `beat_phase`, `downbeat`, `bar_phase`,
/// `beat_in_bar`) come from (docs/tempo.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BeatSource {
    /// The audio analysis' beat tracker (taps and resyncs steer it).
    #[default]
    Audio,
    /// MIDI clock in (24 ppqn, start/stop/continue, song position).
    Midi,
    /// An Ableton Link session (needs a build with the `link` feature).
    Link,
    /// Tapped tempo only (`/hypna/tap`, a MIDI `tap` binding): free running between taps.
    Tap,
}

impl BeatSource {
    /// Every source with its name in files.
    pub const ALL: [(&'static str, Self); 4] = [
        ("audio", Self::Audio),
        ("midi", Self::Midi),
        ("link", Self::Link),
        ("tap", Self::Tap),
    ];

    /// The source named `name`.
    ///
    /// # Errors
    /// An unknown name (the error lists the known ones).
    pub fn parse(name: &str) -> Result<Self, MidiSpecError> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                MidiSpecError(format!(
                    "beat source `{name}` is not audio, midi, link or tap"
                ))
            })
    }

    /// Its name in files.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("audio", |(n, _)| *n)
    }
}

/// The settings file's `[midi]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMidiConfig {
    /// Open MIDI ports at all. Default: `true` for `hypna run`.
    pub enabled: Option<bool>,
    /// Input ports to open: parts of port names; `[]` or absent opens every port.
    pub inputs: Option<Vec<String>>,
    /// Output ports for feedback: parts of port names. Default: the output port with the name
    /// of each connected input port (the controller's other direction).
    pub outputs: Option<Vec<String>>,
    /// Echo param changes to controllers (CC, notes, bend out on the feedback ports).
    /// Default: `true`.
    pub feedback: Option<bool>,
    /// Program change `n` switches to playlist entry `n` (from 0). Default: `true`.
    pub program_change: Option<bool>,
    /// `"audio"`, `"midi"`, `"link"` or `"tap"`. Default: `"audio"`.
    pub beat_source: Option<String>,
    /// Seconds between port scans (hot-plug), 0.1..=60. Default: `1.0`.
    pub poll_secs: Option<f32>,
    /// With the `link` feature and `beat_source = "audio"`: join the Ableton Link session and
    /// set its tempo from the audio tracker's (docs/tempo.md). Default: `false`.
    pub link_lead: Option<bool>,
    /// A binding that taps the tempo (for `beat_source = "tap"` and the audio tracker), e.g.
    /// `"note 10 36"`. Default: none.
    pub tap: Option<RawMidiBinding>,
    /// Bindings per controller: `[midi.controllers."nanoKONTROL2"] speed = "cc 1 0"`; the key
    /// is part of a port name, `"*"` matches every port. MIDI learn writes here.
    #[serde(default)]
    pub controllers: IndexMap<String, IndexMap<String, RawMidiBinding>>,
}

/// Bindings that apply to ports whose name contains `port` (`"*"`: every port).
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerMap {
    /// Part of a port name, or `"*"`.
    pub port: String,
    /// `(param name, binding)` in file order; params the scene lacks are ignored.
    pub bindings: Vec<(String, MidiBinding)>,
}

impl ControllerMap {
    /// Whether these bindings apply to the port called `name`.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        self.port == "*" || name.contains(self.port.as_str())
    }
}

/// The `[midi]` settings, checked.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::struct_excessive_bools)] // one per switch of the file's table
pub struct MidiConfig {
    /// Open MIDI ports at all.
    pub enabled: bool,
    /// Input port name filters; empty opens every port.
    pub inputs: Vec<String>,
    /// Feedback port name filters; empty pairs each input with its same-named output.
    pub outputs: Vec<String>,
    /// Echo param changes to controllers.
    pub feedback: bool,
    /// Program change switches playlist entries.
    pub program_change: bool,
    /// Where the beat globals come from.
    pub beat_source: BeatSource,
    /// Time between port scans.
    pub poll: Duration,
    /// Set the Link session's tempo from the audio analysis.
    pub link_lead: bool,
    /// The tap binding, if any.
    pub tap: Option<MidiBinding>,
    /// Bindings per controller, in file order.
    pub controllers: Vec<ControllerMap>,
}

impl Default for MidiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            inputs: Vec::new(),
            outputs: Vec::new(),
            feedback: true,
            program_change: true,
            beat_source: BeatSource::Audio,
            poll: Duration::from_secs(1),
            link_lead: false,
            tap: None,
            controllers: Vec::new(),
        }
    }
}

impl MidiConfig {
    /// Checks a raw `[midi]` table.
    ///
    /// # Errors
    /// A bad binding (naming the controller and param), beat source or poll time.
    pub fn from_raw(raw: &RawMidiConfig) -> Result<Self, MidiSpecError> {
        let d = Self::default();
        let beat_source = match &raw.beat_source {
            Some(s) => BeatSource::parse(s)?,
            None => d.beat_source,
        };
        let poll = match raw.poll_secs {
            Some(s) if s.is_finite() && (0.1..=60.0).contains(&s) => Duration::from_secs_f32(s),
            Some(s) => {
                return Err(MidiSpecError(format!("poll_secs {s} is not 0.1..60")));
            }
            None => d.poll,
        };
        let tap = match &raw.tap {
            Some(t) => {
                Some(MidiBinding::from_raw(t).map_err(|e| MidiSpecError(format!("tap: {e}")))?)
            }
            None => None,
        };
        let mut controllers = Vec::with_capacity(raw.controllers.len());
        for (port, map) in &raw.controllers {
            let mut bindings = Vec::with_capacity(map.len());
            for (param, binding) in map {
                let b = MidiBinding::from_raw(binding)
                    .map_err(|e| MidiSpecError(format!("controllers.\"{port}\".{param}: {e}")))?;
                bindings.push((param.clone(), b));
            }
            controllers.push(ControllerMap {
                port: port.clone(),
                bindings,
            });
        }
        Ok(Self {
            enabled: raw.enabled.unwrap_or(d.enabled),
            inputs: raw.inputs.clone().unwrap_or_default(),
            outputs: raw.outputs.clone().unwrap_or_default(),
            feedback: raw.feedback.unwrap_or(d.feedback),
            program_change: raw.program_change.unwrap_or(d.program_change),
            beat_source,
            poll,
            link_lead: raw.link_lead.unwrap_or(d.link_lead),
            tap,
            controllers,
        })
    }

    /// Whether the input port called `name` is to be opened.
    #[must_use]
    pub fn wants_input(&self, name: &str) -> bool {
        self.inputs.is_empty() || self.inputs.iter().any(|f| name.contains(f.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bindings_parse_and_print_back() {
        for text in [
            "cc 1 74",
            "cc14 16 1",
            "note 10 36",
            "note 1 60 velocity",
            "note 2 0 toggle",
            "bend 3",
            "notes 1 36",
        ] {
            let b = MidiBinding::parse(text).unwrap();
            assert_eq!(b.to_string(), text);
        }
        assert_eq!(
            MidiBinding::parse("CC 1 7").unwrap().source,
            MidiSource::Cc {
                channel: 0,
                number: 7
            }
        );
        for bad in [
            "",
            "cc",
            "cc 0 1",
            "cc 17 1",
            "cc 1 128",
            "cc14 1 32",
            "pc 1 2",
            "bend 1 2",
            "cc 1 7 velocity",
            "note 1 60 loud",
        ] {
            assert!(MidiBinding::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn table_bindings_are_checked() {
        let t: RawMidiBinding = toml::from_str::<IndexMap<String, RawMidiBinding>>(
            "m = { note = 60, channel = 2, mode = \"velocity\", range = [1, 0] }",
        )
        .unwrap()
        .swap_remove("m")
        .unwrap();
        let b = MidiBinding::from_raw(&t).unwrap();
        assert_eq!(b.to_string(), "note 2 60 velocity");
        assert_eq!(b.range, Some([1.0, 0.0]));
        for bad in [
            "m = { cc = 1, note = 2 }",
            "m = { cc = 128 }",
            "m = { cc = 1, channel = 0 }",
            "m = { cc = 1, mode = \"gate\" }",
            "m = { bend = false }",
            "m = { cc = 1, range = [0.5, 0.5] }",
        ] {
            let raw = toml::from_str::<IndexMap<String, RawMidiBinding>>(bad)
                .unwrap()
                .swap_remove("m")
                .unwrap();
            assert!(MidiBinding::from_raw(&raw).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn config_defaults_and_errors() {
        let c = MidiConfig::from_raw(&RawMidiConfig::default()).unwrap();
        assert_eq!(c, MidiConfig::default());
        assert!(c.wants_input("anything"));
        let raw: RawMidiConfig = toml::from_str(
            "beat_source = \"midi\"\ninputs = [\"nano\"]\n[controllers.nano]\nspeed = \"cc 1 0\"\n",
        )
        .unwrap();
        let c = MidiConfig::from_raw(&raw).unwrap();
        assert_eq!(c.beat_source, BeatSource::Midi);
        assert!(c.wants_input("nanoKONTROL2 MIDI 1") && !c.wants_input("Launchpad"));
        assert!(c.controllers[0].matches("nanoKONTROL2"));
        let raw: RawMidiConfig =
            toml::from_str("[controllers.nano]\nspeed = \"cc 1 300\"\n").unwrap();
        let e = MidiConfig::from_raw(&raw).unwrap_err().to_string();
        assert!(
            e.contains("controllers.\"nano\".speed") && e.contains("0..127"),
            "{e}"
        );
        let raw: RawMidiConfig = toml::from_str("beat_source = \"vibes\"").unwrap();
        assert!(MidiConfig::from_raw(&raw).is_err());
    }
}
