//! MIDI 1.0 messages as bytes: the few hypna reads (channel voice messages, clock and song
//! position) parsed from what a port delivers, and the ones it sends back as feedback
//! encoded. Ports deliver whole messages (running status already expanded), so parsing is
//! one message per call; anything else (`SysEx`, active sensing, timecode) is `None`.

/// A message hypna acts on. Channels are 0..=15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidiMessage {
    /// Note on with a velocity 1..=127 (a note on with velocity 0 parses as [`Self::NoteOff`]).
    NoteOn {
        /// Channel.
        channel: u8,
        /// Note number.
        note: u8,
        /// Velocity 1..=127.
        velocity: u8,
    },
    /// Note off.
    NoteOff {
        /// Channel.
        channel: u8,
        /// Note number.
        note: u8,
    },
    /// Control change.
    Cc {
        /// Channel.
        channel: u8,
        /// Controller number 0..=127.
        number: u8,
        /// Value 0..=127.
        value: u8,
    },
    /// Program change.
    Program {
        /// Channel.
        channel: u8,
        /// Program 0..=127.
        program: u8,
    },
    /// Pitch bend, 0..=16383 (8192 is the centre).
    Bend {
        /// Channel.
        channel: u8,
        /// The 14-bit value.
        value: u16,
    },
    /// Timing clock: 24 per quarter note.
    Clock,
    /// Start from the beginning of the song.
    Start,
    /// Continue from the song position.
    Continue,
    /// Stop.
    Stop,
    /// Song position pointer, in sixteenth notes (6 clocks each) from the start.
    SongPosition(u16),
}

impl MidiMessage {
    /// Parses one message; `None` for what hypna does not use or malformed bytes.
    #[must_use]
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let (&status, data) = bytes.split_first()?;
        let d = |i: usize| data.get(i).copied().filter(|b| *b < 0x80);
        let channel = status & 0x0f;
        Some(match status {
            0xf8 => Self::Clock,
            0xfa => Self::Start,
            0xfb => Self::Continue,
            0xfc => Self::Stop,
            0xf2 => Self::SongPosition(u16::from(d(0)?) | (u16::from(d(1)?) << 7)),
            0x80..=0x8f => Self::NoteOff {
                channel,
                note: d(0)?,
            },
            0x90..=0x9f => match d(1)? {
                0 => Self::NoteOff {
                    channel,
                    note: d(0)?,
                },
                velocity => Self::NoteOn {
                    channel,
                    note: d(0)?,
                    velocity,
                },
            },
            0xb0..=0xbf => Self::Cc {
                channel,
                number: d(0)?,
                value: d(1)?,
            },
            0xc0..=0xcf => Self::Program {
                channel,
                program: d(0)?,
            },
            0xe0..=0xef => Self::Bend {
                channel,
                value: u16::from(d(0)?) | (u16::from(d(1)?) << 7),
            },
            _ => return None,
        })
    }

    /// The bytes of this message and how many of them are used (1 to 3).
    #[must_use]
    pub fn encode(self) -> ([u8; 3], usize) {
        let ch = |status: u8, channel: u8| status | (channel & 0x0f);
        match self {
            Self::NoteOn {
                channel,
                note,
                velocity,
            } => ([ch(0x90, channel), note & 0x7f, velocity & 0x7f], 3),
            Self::NoteOff { channel, note } => ([ch(0x80, channel), note & 0x7f, 0], 3),
            Self::Cc {
                channel,
                number,
                value,
            } => ([ch(0xb0, channel), number & 0x7f, value & 0x7f], 3),
            Self::Program { channel, program } => ([ch(0xc0, channel), program & 0x7f, 0], 2),
            Self::Bend { channel, value } => (
                [
                    ch(0xe0, channel),
                    (value & 0x7f) as u8,
                    ((value >> 7) & 0x7f) as u8,
                ],
                3,
            ),
            Self::Clock => ([0xf8, 0, 0], 1),
            Self::Start => ([0xfa, 0, 0], 1),
            Self::Continue => ([0xfb, 0, 0], 1),
            Self::Stop => ([0xfc, 0, 0], 1),
            Self::SongPosition(p) => ([0xf2, (p & 0x7f) as u8, ((p >> 7) & 0x7f) as u8], 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_bytes() {
        let all = [
            MidiMessage::NoteOn {
                channel: 9,
                note: 36,
                velocity: 100,
            },
            MidiMessage::NoteOff {
                channel: 0,
                note: 60,
            },
            MidiMessage::Cc {
                channel: 15,
                number: 74,
                value: 127,
            },
            MidiMessage::Program {
                channel: 1,
                program: 5,
            },
            MidiMessage::Bend {
                channel: 2,
                value: 16383,
            },
            MidiMessage::Clock,
            MidiMessage::Start,
            MidiMessage::Continue,
            MidiMessage::Stop,
            MidiMessage::SongPosition(1234),
        ];
        for m in all {
            let (bytes, len) = m.encode();
            assert_eq!(MidiMessage::parse(&bytes[..len]), Some(m), "{bytes:?}");
        }
    }

    #[test]
    fn odd_bytes_are_ignored_or_normalised() {
        assert_eq!(
            MidiMessage::parse(&[0x90, 60, 0]),
            Some(MidiMessage::NoteOff {
                channel: 0,
                note: 60
            })
        );
        for bad in [
            &[][..],
            &[0xb0, 1],
            &[0xb0, 0x80, 1],
            &[0xf0, 1, 2, 0xf7],
            &[0xfe],
        ] {
            assert_eq!(MidiMessage::parse(bad), None, "{bad:?}");
        }
    }
}
