//! The OSC 1.0 wire format at byte level: a strict structural check run on every datagram
//! before rosc decodes it, and NTP timetags.
//!
//! rosc decodes well-formed packets, but it accepts non-zero padding, ignores bytes left over
//! inside a bundle element, and recurses into nested bundles without a limit (a 64 KiB packet
//! of nested bundle headers could overflow the socket thread's stack). [`check_packet`] walks
//! the packet once, iteratively bounded by [`MAX_BUNDLE_DEPTH`], and names what is wrong, so
//! rosc only ever sees packets it decodes exactly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Deepest bundle nesting accepted (a bundle inside a bundle is depth 2). Real senders nest
/// one or two levels; deeper packets are dropped as malformed.
pub const MAX_BUNDLE_DEPTH: usize = 8;

/// What is wrong with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Zero bytes.
    Empty,
    /// The size (of the packet or a bundle element) is not a multiple of 4.
    Unaligned,
    /// Ends in the middle of a string, an argument or a bundle element.
    Truncated,
    /// A string's padding contains non-zero bytes.
    BadPadding,
    /// A string is not UTF-8.
    NotUtf8,
    /// Neither a message (`/...`) nor a bundle (`#bundle`).
    BadStart,
    /// No type tag string (`,...`) after the address.
    MissingTypeTags,
    /// A type tag rosc cannot decode.
    UnknownTypeTag(u8),
    /// `[` and `]` in the type tags do not pair up.
    UnbalancedArray,
    /// Bytes after the last argument.
    TrailingBytes,
    /// Bundles nested deeper than [`MAX_BUNDLE_DEPTH`].
    TooDeep,
    /// A bundle element of size zero.
    EmptyElement,
    /// Passed the structural check but rosc still refused it (an invalid `c` char, say).
    Decode,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty packet"),
            Self::Unaligned => f.write_str("size not a multiple of 4"),
            Self::Truncated => f.write_str("truncated"),
            Self::BadPadding => f.write_str("non-zero string padding"),
            Self::NotUtf8 => f.write_str("string is not UTF-8"),
            Self::BadStart => f.write_str("neither a message nor a bundle"),
            Self::MissingTypeTags => f.write_str("no type tag string"),
            Self::UnknownTypeTag(t) => write!(f, "unknown type tag {:?}", char::from(*t)),
            Self::UnbalancedArray => f.write_str("unbalanced [ ] in type tags"),
            Self::TrailingBytes => f.write_str("bytes after the last argument"),
            Self::TooDeep => write!(f, "bundles nested deeper than {MAX_BUNDLE_DEPTH}"),
            Self::EmptyElement => f.write_str("bundle element of size 0"),
            Self::Decode => f.write_str("rejected by the decoder"),
        }
    }
}

const BUNDLE_TAG: &[u8] = b"#bundle\0";

/// Checks that `packet` is exactly one well-formed OSC 1.0 message or bundle.
///
/// # Errors
/// The first problem found.
pub fn check_packet(packet: &[u8]) -> Result<(), Malformed> {
    // An explicit stack of bundle bodies still to walk: (bytes, depth). Bounded by the depth
    // limit, so neither recursion nor this stack can grow with hostile input.
    let mut pending: Vec<(&[u8], usize)> = vec![(packet, 1)];
    while let Some((bytes, depth)) = pending.pop() {
        if bytes.is_empty() {
            return Err(Malformed::Empty);
        }
        if !bytes.len().is_multiple_of(4) {
            return Err(Malformed::Unaligned);
        }
        if bytes.starts_with(BUNDLE_TAG) {
            if depth > MAX_BUNDLE_DEPTH {
                return Err(Malformed::TooDeep);
            }
            let mut pos = 16;
            if bytes.len() < pos {
                return Err(Malformed::Truncated);
            }
            while pos < bytes.len() {
                let size = read_u32(bytes, pos).ok_or(Malformed::Truncated)? as usize;
                pos += 4;
                if size == 0 {
                    return Err(Malformed::EmptyElement);
                }
                let end = pos
                    .checked_add(size)
                    .filter(|e| *e <= bytes.len())
                    .ok_or(Malformed::Truncated)?;
                let element = bytes.get(pos..end).ok_or(Malformed::Truncated)?;
                if element.starts_with(BUNDLE_TAG) {
                    pending.push((element, depth + 1));
                } else {
                    check_message(element)?;
                }
                pos = end;
            }
        } else {
            check_message(bytes)?;
        }
    }
    Ok(())
}

fn check_message(bytes: &[u8]) -> Result<(), Malformed> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Malformed::Unaligned);
    }
    if bytes.first() != Some(&b'/') {
        return Err(Malformed::BadStart);
    }
    let (_, mut pos) = string_at(bytes, 0)?;
    if bytes.get(pos) != Some(&b',') {
        return Err(Malformed::MissingTypeTags);
    }
    let (tags, after_tags) = string_at(bytes, pos)?;
    pos = after_tags;
    let mut open_arrays = 0usize;
    for &tag in tags.get(1..).unwrap_or_default() {
        match tag {
            b'i' | b'f' | b'c' | b'r' | b'm' => pos = skip(bytes, pos, 4)?,
            b'h' | b'd' | b't' => pos = skip(bytes, pos, 8)?,
            b's' => pos = string_at(bytes, pos)?.1,
            b'b' => {
                let len = read_u32(bytes, pos).ok_or(Malformed::Truncated)? as usize;
                let data_end = skip(bytes, pos + 4, len)?;
                let padded = skip(bytes, pos + 4, len.next_multiple_of(4))?;
                if bytes
                    .get(data_end..padded)
                    .is_some_and(|p| p.iter().any(|b| *b != 0))
                {
                    return Err(Malformed::BadPadding);
                }
                pos = padded;
            }
            b'T' | b'F' | b'N' | b'I' => {}
            b'[' => open_arrays += 1,
            b']' => {
                open_arrays = open_arrays
                    .checked_sub(1)
                    .ok_or(Malformed::UnbalancedArray)?;
            }
            other => return Err(Malformed::UnknownTypeTag(other)),
        }
    }
    if open_arrays != 0 {
        return Err(Malformed::UnbalancedArray);
    }
    if pos != bytes.len() {
        return Err(Malformed::TrailingBytes);
    }
    Ok(())
}

/// The NUL-terminated, zero-padded string starting at `start`: its bytes (without NUL) and
/// the offset after its padding.
fn string_at(bytes: &[u8], start: usize) -> Result<(&[u8], usize), Malformed> {
    let rest = bytes.get(start..).ok_or(Malformed::Truncated)?;
    let nul = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or(Malformed::Truncated)?;
    let end = start + (nul + 1).next_multiple_of(4);
    let padding = bytes.get(start + nul..end).ok_or(Malformed::Truncated)?;
    if padding.iter().any(|b| *b != 0) {
        return Err(Malformed::BadPadding);
    }
    let text = rest.get(..nul).unwrap_or_default();
    if std::str::from_utf8(text).is_err() {
        return Err(Malformed::NotUtf8);
    }
    Ok((text, end))
}

fn skip(bytes: &[u8], pos: usize, len: usize) -> Result<usize, Malformed> {
    pos.checked_add(len)
        .filter(|end| *end <= bytes.len())
        .ok_or(Malformed::Truncated)
}

fn read_u32(bytes: &[u8], pos: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01), RFC 5905.
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// The OSC timetag meaning "immediately": seconds 0, fraction 1.
pub const IMMEDIATELY: u64 = 1;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// `time` as an NTP timestamp: 32.32 fixed-point seconds since 1900, wrapping every 2^32 s
/// (the era rolls over on 2036-02-07, which is why comparisons use [`ntp_delta`]).
#[must_use]
pub fn ntp_from_system_time(time: SystemTime) -> u64 {
    let unix_nanos: i128 = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos().try_into().unwrap_or(i128::MAX / 2),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX / 2),
    };
    let nanos = unix_nanos + i128::from(NTP_UNIX_OFFSET_SECS) * NANOS_PER_SEC;
    // Round to the nearest 2^-32 s; keeping the low 64 bits wraps the era as NTP does.
    let fixed = ((nanos << 32) + NANOS_PER_SEC / 2).div_euclid(NANOS_PER_SEC);
    fixed as u64
}

/// `timetag - now` in nanoseconds, taking the era that puts `timetag` within 68 years of
/// `now` (correct across the 2036 rollover).
#[must_use]
pub fn ntp_delta(timetag: u64, now: u64) -> i64 {
    let delta = i128::from(timetag.wrapping_sub(now).cast_signed());
    ((delta * NANOS_PER_SEC) >> 32) as i64
}

/// The wall-clock time of `timetag`, taking the era closest to `near`.
#[must_use]
pub fn system_time_from_ntp(timetag: u64, near: SystemTime) -> SystemTime {
    let delta = ntp_delta(timetag, ntp_from_system_time(near));
    let magnitude = Duration::from_nanos(delta.unsigned_abs());
    if delta >= 0 {
        near + magnitude
    } else {
        near - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(addr: &str, tags: &str, args: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in [addr, tags] {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
            while out.len() % 4 != 0 {
                out.push(0);
            }
        }
        out.extend_from_slice(args);
        out
    }

    fn bundle(elements: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"#bundle\0".to_vec();
        out.extend_from_slice(&IMMEDIATELY.to_be_bytes());
        for e in elements {
            out.extend_from_slice(&u32::try_from(e.len()).unwrap().to_be_bytes());
            out.extend_from_slice(e);
        }
        out
    }

    #[test]
    fn accepts_what_rosc_encodes() {
        use rosc::{OscBundle, OscMessage, OscPacket, OscType, encoder};
        let m = OscPacket::Message(OscMessage {
            addr: "/hypna/param/zoom".into(),
            args: vec![
                OscType::Float(1.0),
                OscType::String("abc".into()),
                OscType::Blob(vec![1, 2, 3]),
                OscType::Double(2.0),
                OscType::Bool(true),
                OscType::Nil,
                OscType::Long(7),
                OscType::Array(rosc::OscArray {
                    content: vec![OscType::Int(1)],
                }),
            ],
        });
        let b = OscPacket::Bundle(OscBundle {
            timetag: (0, 1).into(),
            content: vec![
                m.clone(),
                OscPacket::Bundle(OscBundle {
                    timetag: (0, 1).into(),
                    content: vec![],
                }),
            ],
        });
        for p in [m, b] {
            let bytes = encoder::encode(&p).unwrap();
            assert_eq!(check_packet(&bytes), Ok(()));
        }
        assert_eq!(check_packet(&msg("/a", ",", &[])), Ok(()));
    }

    #[test]
    fn names_each_problem() {
        let good = msg("/abc", ",f", &1f32.to_be_bytes());
        assert_eq!(
            check_packet(&good[..good.len() - 4]),
            Err(Malformed::Truncated)
        );
        assert_eq!(check_packet(&good[..6]), Err(Malformed::Unaligned));
        assert_eq!(check_packet(&[]), Err(Malformed::Empty));
        let mut padded = good.clone();
        padded[5] = b'x'; // "/abc\0" then padding bytes 5..8
        assert_eq!(check_packet(&padded), Err(Malformed::BadPadding));
        assert_eq!(
            check_packet(&msg("/a", ",x", &[0; 4])),
            Err(Malformed::UnknownTypeTag(b'x'))
        );
        assert_eq!(
            check_packet(&msg("/a", ",S", &[0; 4])),
            Err(Malformed::UnknownTypeTag(b'S'))
        );
        assert_eq!(
            check_packet(&msg("/a", "f", &[0; 4])),
            Err(Malformed::MissingTypeTags)
        );
        assert_eq!(
            check_packet(&msg("/a", ",[i", &[0; 4])),
            Err(Malformed::UnbalancedArray)
        );
        assert_eq!(
            check_packet(&msg("/a", ",]", &[])),
            Err(Malformed::UnbalancedArray)
        );
        assert_eq!(
            check_packet(&msg("/a", ",i", &[0; 8])),
            Err(Malformed::TrailingBytes)
        );
        assert_eq!(check_packet(&msg("a", ",", &[])), Err(Malformed::BadStart));
        assert_eq!(
            check_packet(&msg("/a", ",b", &[0, 0, 0, 9, 1, 2, 3, 4])),
            Err(Malformed::Truncated)
        );
        let mut nonutf = msg("/ab", ",", &[]);
        nonutf[1] = 0xff;
        assert_eq!(check_packet(&nonutf), Err(Malformed::NotUtf8));
        let mut short_element = bundle(std::slice::from_ref(&good));
        short_element.truncate(short_element.len() - 4);
        assert_eq!(check_packet(&short_element), Err(Malformed::Truncated));
        let mut zero = bundle(&[]);
        zero.extend_from_slice(&[0; 4]);
        assert_eq!(check_packet(&zero), Err(Malformed::EmptyElement));
        assert_eq!(
            check_packet(&bundle(&[])),
            Ok(()),
            "an empty bundle is valid"
        );
        assert_eq!(check_packet(&b"#bundle\0"[..]), Err(Malformed::Truncated));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut p = msg("/a", ",", &[]);
        for _ in 0..MAX_BUNDLE_DEPTH {
            p = bundle(&[p]);
        }
        assert_eq!(check_packet(&p), Ok(()));
        assert_eq!(check_packet(&bundle(&[p])), Err(Malformed::TooDeep));
        // As deep as a 64 KiB datagram allows: rejected without recursion.
        let mut p = bundle(&[]);
        while p.len() < 60_000 {
            p = bundle(&[p]);
        }
        assert_eq!(check_packet(&p), Err(Malformed::TooDeep));
    }

    #[test]
    fn ntp_conversions() {
        assert_eq!(ntp_from_system_time(UNIX_EPOCH), NTP_UNIX_OFFSET_SECS << 32);
        let half = UNIX_EPOCH + Duration::from_millis(500);
        assert_eq!(
            ntp_from_system_time(half),
            (NTP_UNIX_OFFSET_SECS << 32) | 0x8000_0000
        );
        // 2024-01-01T00:00:00Z = 1704067200 Unix.
        // 2024-01-01T00:00:00Z, as the Unix timestamp it is usually written as.
        #[allow(clippy::duration_suboptimal_units)]
        let t = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
        assert_eq!(
            ntp_from_system_time(t) >> 32,
            1_704_067_200 + NTP_UNIX_OFFSET_SECS
        );
        // Round trip within a nanosecond.
        let t = UNIX_EPOCH + Duration::new(1_750_000_000, 123_456_789);
        let back = system_time_from_ntp(ntp_from_system_time(t), t + Duration::from_hours(1));
        let err = back.duration_since(t).unwrap_or_else(|e| e.duration());
        assert!(err <= Duration::from_nanos(1), "{err:?}");
        // Deltas, both signs.
        let now = ntp_from_system_time(t);
        let later = ntp_from_system_time(t + Duration::from_millis(250));
        assert!((ntp_delta(later, now) - 250_000_000).abs() <= 1);
        assert!((ntp_delta(now, later) + 250_000_000).abs() <= 1);
        // Era rollover: 2036-02-07T06:28:16Z is NTP second 2^32, which wraps to 0.
        let rollover = UNIX_EPOCH + Duration::from_secs((1 << 32) - NTP_UNIX_OFFSET_SECS);
        assert_eq!(ntp_from_system_time(rollover), 0);
        let before = ntp_from_system_time(rollover - Duration::from_secs(1));
        let after = ntp_from_system_time(rollover + Duration::from_secs(1));
        assert!(before > after, "raw values wrap");
        assert_eq!(ntp_delta(after, before), 2_000_000_000);
        let back = system_time_from_ntp(after, rollover);
        assert_eq!(back, rollover + Duration::from_secs(1));
    }
}
