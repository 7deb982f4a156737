//! The `[osc]` table (also the settings file's): what the OSC server is told, where to
//! listen, whom to accept, where to send feedback ([`OscConfig`]), and the per-param alias
//! addresses scenes declare ([`OscAlias`]).
//!
//! Everything is parsed when it is read ("parse, don't validate"): an allow entry is an
//! [`IpNet`], a feedback target a [`FeedbackTarget`], so a typo is a precise error at load
//! time rather than a silent no-op during a show.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A value of `[osc]` out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OSC settings: {0}")]
pub struct OscConfigError(pub String);

/// True when `address` contains OSC pattern characters (an alias must not: it is matched
/// exactly).
#[must_use]
pub fn is_pattern(address: &str) -> bool {
    address
        .bytes()
        .any(|b| matches!(b, b'*' | b'?' | b'[' | b']' | b'{' | b'}'))
}

/// The largest UDP payload over IPv4.
pub const MAX_UDP_PAYLOAD_BYTES: usize = 65_507;
/// Default of `receive_buffer_bytes`: about 10,000 small datagrams on Linux.
pub const DEFAULT_RECEIVE_BUFFER_BYTES: usize = 4 << 20;
/// Largest `receive_buffer_bytes` accepted.
pub const MAX_RECEIVE_BUFFER_BYTES: usize = 256 << 20;

/// The OSC server's settings (`[osc]`). Every field has a default, so `[osc]` may be empty.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OscConfig {
    /// UDP address to listen on. Default: `"0.0.0.0:9000"` (every IPv4 interface, port 9000).
    pub listen: SocketAddr,
    /// Senders accepted: IP addresses or CIDR subnets (`"192.168.1.0/24"`, `"::1"`).
    /// Default: empty, which accepts every sender.
    pub allow: Vec<IpNet>,
    /// Controllers that receive parameter feedback, as `"host:port"`. Default: none.
    pub feedback: Vec<FeedbackTarget>,
    /// Most feedback messages per second for one param (latest value wins), 0.1 to 1000.
    /// Default: `30.0`.
    pub feedback_rate_hz: f32,
    /// Largest datagram accepted, in bytes; larger ones are dropped and counted.
    /// Default: `8192`; at most 65507.
    pub max_packet_bytes: usize,
    /// Events buffered between the socket thread and the frame loop; overflow is dropped and
    /// counted. Default: `4096`.
    pub queue_capacity: usize,
    /// Bundle messages waiting for a future timetag; overflow is dropped and counted.
    /// Default: `1024`.
    pub schedule_capacity: usize,
    /// Bundles timed further ahead than this (seconds) are dropped and counted, since that
    /// almost always means the sender's clock is wrong. Default: `60.0`.
    pub max_schedule_ahead_secs: f32,
    /// Also send audio features (`/hypna/audio/...`) to the feedback targets. Default: `false`.
    pub echo_audio: bool,
    /// The socket's receive buffer in bytes, which holds a burst while the socket thread
    /// catches up; what overflows it is dropped by the kernel and counted as
    /// `osc.kernel_dropped`. The system may grant less (Linux: `net.core.rmem_max`; logged).
    /// `0` keeps the system's default. Default: `4194304` (4 MiB); at most 268435456.
    pub receive_buffer_bytes: usize,
}

impl Default for OscConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9000)),
            allow: Vec::new(),
            feedback: Vec::new(),
            feedback_rate_hz: 30.0,
            max_packet_bytes: 8192,
            queue_capacity: 4096,
            schedule_capacity: 1024,
            max_schedule_ahead_secs: 60.0,
            echo_audio: false,
            receive_buffer_bytes: DEFAULT_RECEIVE_BUFFER_BYTES,
        }
    }
}

impl OscConfig {
    /// Checks the numeric fields (types and syntax were checked when parsing).
    ///
    /// # Errors
    /// [`OscConfigError`] naming the field and the accepted range.
    pub fn check(&self) -> Result<(), OscConfigError> {
        let bad = |field: &str, why: &str| Err(OscConfigError(format!("osc.{field}: {why}")));
        if !(0.1..=1000.0).contains(&self.feedback_rate_hz) {
            return bad(
                "feedback_rate_hz",
                "must be between 0.1 and 1000 messages per second",
            );
        }
        if !(64..=MAX_UDP_PAYLOAD_BYTES).contains(&self.max_packet_bytes) {
            return bad("max_packet_bytes", "must be between 64 and 65507");
        }
        if !(1..=1 << 20).contains(&self.queue_capacity) {
            return bad("queue_capacity", "must be between 1 and 1048576");
        }
        if !(1..=1 << 20).contains(&self.schedule_capacity) {
            return bad("schedule_capacity", "must be between 1 and 1048576");
        }
        if !(self.max_schedule_ahead_secs.is_finite()
            && (0.0..=86_400.0).contains(&self.max_schedule_ahead_secs))
        {
            return bad(
                "max_schedule_ahead_secs",
                "must be between 0 and 86400 seconds",
            );
        }
        if self.receive_buffer_bytes != 0
            && !(4096..=MAX_RECEIVE_BUFFER_BYTES).contains(&self.receive_buffer_bytes)
        {
            return bad(
                "receive_buffer_bytes",
                "must be 0 (the system's default) or between 4096 and 268435456",
            );
        }
        Ok(())
    }

    /// True when `ip` may send to us.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(ip))
    }
}

/// An IP address or a CIDR subnet (`"10.0.0.7"`, `"10.0.0.0/8"`, `"fe80::/10"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix_len: u8,
}

impl IpNet {
    /// True when `ip` lies inside. IPv4-mapped IPv6 senders (`::ffff:a.b.c.d`, as seen by a
    /// dual-stack socket) match IPv4 entries.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = ip.trim().parse().map_err(|_| {
            format!("`{s}` is not an IP address or CIDR subnet (like 192.168.1.0/24)")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0..={max}"))?,
        };
        Ok(Self {
            addr: addr.to_canonical(),
            prefix_len,
        })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// A feedback destination: `"192.168.1.20:9001"`, `"[::1]:9001"` or `"tablet.local:9001"`.
/// Host names are resolved by the feedback thread (retried while they do not resolve), so a
/// network that comes up after hypna does is picked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackTarget {
    /// An IP address and port.
    Addr(SocketAddr),
    /// A host name and port, resolved later.
    Host {
        /// The name.
        host: String,
        /// The UDP port.
        port: u16,
    },
}

impl FromStr for FeedbackTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Self::Addr(addr));
        }
        let bad = || format!("`{s}` is not a feedback target of the form host:port");
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(bad)?;
        let valid_host = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_host {
            return Err(bad());
        }
        Ok(Self::Host {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for FeedbackTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(a) => write!(f, "{a}"),
            Self::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl<'de> Deserialize<'de> for FeedbackTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// An extra address for one param, for controllers with fixed layouts (`TouchOSC`, Lemur).
///
/// In a scene: `osc = "/1/fader1"` (input range 0..1) or
/// `osc = { address = "/1/xy1", input_range = [0, 127], arg = 1 }`. The value received is
/// mapped linearly from `input_range` onto the param's range (an inverted range such as
/// `[1, 0]` flips the control); feedback maps it back.
#[derive(Debug, Clone, PartialEq)]
pub struct OscAlias {
    /// The exact OSC address (no pattern characters). Required.
    pub address: String,
    /// The values the controller sends for the param's min and max. Default: `[0.0, 1.0]`.
    pub input_range: [f32; 2],
    /// Which argument carries the value (an XY pad sends two). Default: `0`.
    pub arg: usize,
}

impl OscAlias {
    /// An alias with the default input range 0..1 and argument 0.
    #[must_use]
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            input_range: [0.0, 1.0],
            arg: 0,
        }
    }

    /// Checks the address and the input range; the message says what is wrong.
    ///
    /// # Errors
    /// A sentence for a scene diagnostic.
    pub fn check(&self) -> Result<(), String> {
        let a = &self.address;
        if !a.starts_with('/') {
            return Err(format!("OSC address `{a}` must start with `/`"));
        }
        if a.len() > 256 {
            return Err(format!("OSC address `{a}` is longer than 256 bytes"));
        }
        if is_pattern(a) || a.contains(['#', ' ', ',']) || a.chars().any(char::is_control) {
            return Err(format!(
                "OSC address `{a}` may not contain spaces, control characters or any of # , * ? [ ] {{ }}"
            ));
        }
        let [lo, hi] = self.input_range;
        if !(lo.is_finite() && hi.is_finite()) || (hi - lo).abs() < f32::EPSILON {
            return Err(format!(
                "input_range [{lo}, {hi}] of `{a}` must be two different finite numbers"
            ));
        }
        Ok(())
    }
}

/// The table form of an alias, with unknown keys rejected.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasTable {
    address: String,
    #[serde(default = "unit_range", deserialize_with = "crate::untrusted::exact")]
    input_range: [f32; 2],
    #[serde(default)]
    arg: usize,
}

fn unit_range() -> [f32; 2] {
    [0.0, 1.0]
}

impl From<AliasTable> for OscAlias {
    fn from(t: AliasTable) -> Self {
        Self {
            address: t.address,
            input_range: t.input_range,
            arg: t.arg,
        }
    }
}

/// Accepts a string or a table. Written by hand so a bad table reports its real problem
/// (an unknown key, a wrong type) rather than serde's untagged "did not match any variant".
struct AliasVisitor;

impl<'de> Visitor<'de> for AliasVisitor {
    type Value = OscAlias;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an OSC address string or { address = \"/...\", input_range = [lo, hi], arg = n }",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OscAlias, E> {
        Ok(OscAlias::new(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OscAlias, A::Error> {
        AliasTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(OscAlias::from)
    }
}

impl<'de> Deserialize<'de> for OscAlias {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AliasVisitor)
    }
}

/// One or more aliases: `osc = "/1/fader1"`, `osc = { address = ... }` or a list of either.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OscAliases(pub Vec<OscAlias>);

struct AliasesVisitor;

impl<'de> Visitor<'de> for AliasesVisitor {
    type Value = OscAliases;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OSC address string, an alias table, or a list of them")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OscAliases, E> {
        Ok(OscAliases(vec![OscAlias::new(v)]))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OscAliases, A::Error> {
        AliasVisitor.visit_map(map).map(|a| OscAliases(vec![a]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OscAliases, A::Error> {
        let mut out = Vec::new();
        while let Some(a) = seq.next_element::<OscAlias>()? {
            out.push(a);
        }
        Ok(OscAliases(out))
    }
}

impl<'de> Deserialize<'de> for OscAliases {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AliasesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        osc: OscConfig,
    }

    #[derive(Deserialize)]
    struct Param {
        osc: OscAliases,
    }

    #[test]
    fn config_defaults_and_fields() {
        let d: Doc = toml::from_str("[osc]\n").unwrap();
        assert_eq!(d.osc, OscConfig::default());
        assert_eq!(d.osc.listen.port(), 9000);
        d.osc.check().unwrap();
        let d: Doc = toml::from_str(
            "[osc]\nlisten = \"127.0.0.1:9100\"\nallow = [\"10.0.0.0/8\", \"::1\"]\n\
             feedback = [\"127.0.0.1:9001\", \"tablet.local:9002\"]\nfeedback_rate_hz = 10\n",
        )
        .unwrap();
        assert_eq!(d.osc.allow.len(), 2);
        assert_eq!(
            d.osc.feedback[1],
            FeedbackTarget::Host {
                host: "tablet.local".into(),
                port: 9002
            }
        );
        let err = toml::from_str::<Doc>("[osc]\nlisen = \"x\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unknown field `lisen`"), "{err}");
        let err = toml::from_str::<Doc>("[osc]\nallow = [\"10.0.0.0/33\"]\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("prefix length must be 0..=32"), "{err}");
        let err = toml::from_str::<Doc>("[osc]\nfeedback = [\"nohost\"]\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("host:port"), "{err}");
        let bad = OscConfig {
            max_packet_bytes: 70_000,
            ..OscConfig::default()
        };
        assert!(
            bad.check()
                .unwrap_err()
                .to_string()
                .contains("max_packet_bytes")
        );
        for rate in [0.0, -1.0, 1e-40, f32::NAN, f32::INFINITY, 5000.0] {
            let bad = OscConfig {
                feedback_rate_hz: rate,
                ..OscConfig::default()
            };
            assert!(bad.check().is_err(), "{rate}");
        }
    }

    #[test]
    fn allow_list_matches_subnets_and_mapped_v4() {
        let net: IpNet = "192.168.1.0/24".parse().unwrap();
        assert!(net.contains("192.168.1.77".parse().unwrap()));
        assert!(!net.contains("192.168.2.1".parse().unwrap()));
        assert!(net.contains("::ffff:192.168.1.5".parse().unwrap()));
        let one: IpNet = "10.1.2.3".parse().unwrap();
        assert!(one.contains("10.1.2.3".parse().unwrap()));
        assert!(!one.contains("10.1.2.4".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: IpNet = "fe80::/10".parse().unwrap();
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let cfg = OscConfig {
            allow: vec![one],
            ..OscConfig::default()
        };
        assert!(!cfg.allows("127.0.0.1".parse().unwrap()));
        assert!(OscConfig::default().allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn aliases_parse_in_all_forms() {
        let p: Param = toml::from_str("osc = \"/1/fader1\"").unwrap();
        assert_eq!(p.osc.0, vec![OscAlias::new("/1/fader1")]);
        let p: Param =
            toml::from_str("osc = { address = \"/1/xy\", input_range = [0, 127], arg = 1 }")
                .unwrap();
        assert_eq!(
            p.osc.0[0].input_range.map(f32::to_bits),
            [0.0f32, 127.0].map(f32::to_bits)
        );
        assert_eq!(p.osc.0[0].arg, 1);
        let p: Param =
            toml::from_str("osc = [\"/a\", { address = \"/b\", input_range = [1, 0] }]").unwrap();
        assert_eq!(p.osc.0.len(), 2);
        let err = toml::from_str::<Param>("osc = { address = \"/a\", range = [0, 1] }")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unknown field `range`"), "{err}");
        assert!(OscAlias::new("1/fader").check().is_err());
        assert!(OscAlias::new("/1/fader*").check().is_err());
        let flat = OscAlias {
            input_range: [1.0, 1.0],
            ..OscAlias::new("/a")
        };
        assert!(flat.check().unwrap_err().contains("input_range"));
        OscAlias::new("/1/fader1").check().unwrap();
    }
}
