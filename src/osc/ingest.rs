//! One datagram in, timed events out: the socket thread's whole job without the socket.
//!
//! The bytes are checked ([`super::wire::check_packet`]), decoded by rosc, bundles are
//! flattened in order, and each message is routed. A message's due time is the latest
//! timetag among its enclosing bundles (OSC 1.0 requires nested tags not to be earlier than
//! their parent's; taking the maximum also copes with senders that break that rule):
//! "immediately" (seconds field 0) and past tags apply at once, future ones are due at the
//! corresponding [`Instant`], and tags further ahead than `max_schedule_ahead_secs` are
//! dropped and counted. Kept apart from the thread so the fuzz test drives it directly.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use rosc::OscPacket;

use super::counters::{Counter, OscCounters};
use super::pattern::Scratch;
use super::route::{OscEvent, PATTERN_BUDGET_PER_PACKET, RouteContext, RouteTable, clip};
use super::wire::{Malformed, check_packet, ntp_delta, ntp_from_system_time};

/// An event on its way to the frame loop.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Queued {
    /// When to apply it; `None` at once.
    pub(crate) due: Option<Instant>,
    /// When its datagram arrived (orders it among others ready in the same frame).
    pub(crate) received_at: Instant,
    /// What to do.
    pub(crate) event: OscEvent,
}

/// Decoding and routing state reused across datagrams.
pub(crate) struct Ingest<'a> {
    counters: &'a OscCounters,
    max_ahead_nanos: i64,
    scratch: Scratch,
    matched: Vec<usize>,
}

/// Per-datagram clocks: the monotonic arrival time and the wall clock timetags refer to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub(crate) from: SocketAddr,
    pub(crate) at: Instant,
    pub(crate) wall: SystemTime,
}

impl<'a> Ingest<'a> {
    pub(crate) fn new(counters: &'a OscCounters, max_schedule_ahead_secs: f32) -> Self {
        let max_ahead_nanos = Duration::try_from_secs_f32(max_schedule_ahead_secs)
            .map_or(i64::MAX, |d| {
                i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
            });
        Self {
            counters,
            max_ahead_nanos,
            scratch: Scratch::default(),
            matched: Vec::new(),
        }
    }

    /// Handles one datagram; every resulting event goes to `out`.
    pub(crate) fn packet(
        &mut self,
        bytes: &[u8],
        arrival: Arrival,
        routes: &RouteTable,
        out: &mut impl FnMut(Queued),
    ) {
        let from = arrival.from;
        let decoded = check_packet(bytes).and_then(|()| match rosc::decoder::decode_udp(bytes) {
            Ok(([], packet)) => Ok(packet),
            _ => Err(Malformed::Decode),
        });
        let packet = match decoded {
            Ok(p) => p,
            Err(why) => {
                self.counters.problem(Counter::Malformed, || {
                    format!("{} bytes from {from}: {why}", bytes.len())
                });
                return;
            }
        };
        let mut budget = PATTERN_BUDGET_PER_PACKET;
        let mut walk = Walk {
            counters: self.counters,
            max_ahead_nanos: self.max_ahead_nanos,
            arrival,
            now_ntp: None,
            routes,
            ctx: RouteContext {
                counters: self.counters,
                budget: &mut budget,
                scratch: &mut self.scratch,
                matched: &mut self.matched,
            },
        };
        walk.packet(&packet, None, out);
    }
}

struct Walk<'a> {
    counters: &'a OscCounters,
    max_ahead_nanos: i64,
    arrival: Arrival,
    /// The wall clock as NTP, computed on the first timed bundle only.
    now_ntp: Option<u64>,
    routes: &'a RouteTable,
    ctx: RouteContext<'a>,
}

impl Walk<'_> {
    /// `ahead_nanos`: how far in the future the enclosing bundles say this is due (`None` for
    /// immediately). Recursion depth is bounded by the check (`MAX_BUNDLE_DEPTH`).
    fn packet(
        &mut self,
        packet: &OscPacket,
        ahead_nanos: Option<i64>,
        out: &mut impl FnMut(Queued),
    ) {
        match packet {
            OscPacket::Bundle(b) => {
                let ahead = if b.timetag.seconds == 0 {
                    // (0, 1) is "immediately"; (0, 0) is what some senders mean by it too.
                    ahead_nanos
                } else {
                    let tag =
                        (u64::from(b.timetag.seconds) << 32) | u64::from(b.timetag.fractional);
                    let wall = self.arrival.wall;
                    let now = *self
                        .now_ntp
                        .get_or_insert_with(|| ntp_from_system_time(wall));
                    let d = ntp_delta(tag, now);
                    Some(ahead_nanos.map_or(d, |outer| outer.max(d)))
                };
                for p in &b.content {
                    self.packet(p, ahead, out);
                }
            }
            OscPacket::Message(m) => {
                self.counters.add(Counter::Messages, 1);
                let due = match ahead_nanos {
                    Some(d) if d > self.max_ahead_nanos => {
                        let from = self.arrival.from;
                        self.counters.problem(Counter::ScheduledDropped, || {
                            format!(
                                "`{}` from {from} is timed {:.1} s ahead, beyond osc.max_schedule_ahead_secs (check the sender's clock)",
                                clip(&m.addr),
                                d as f64 / 1e9
                            )
                        });
                        return;
                    }
                    Some(d) if d > 0 => {
                        Some(self.arrival.at + Duration::from_nanos(d.unsigned_abs()))
                    }
                    _ => None,
                };
                let received_at = self.arrival.at;
                self.routes
                    .route(m, self.arrival.from, &mut self.ctx, &mut |event| {
                        out(Queued {
                            due,
                            received_at,
                            event,
                        });
                    });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osc::route::ParamRoute;
    use crate::osc::wire::MAX_BUNDLE_DEPTH;
    use crate::scene::osc::OscAlias;
    use proptest::prelude::*;
    use rosc::{OscBundle, OscMessage, OscTime, OscType, encoder};

    fn routes() -> RouteTable {
        RouteTable::new([ParamRoute {
            name: "zoom".into(),
            min: 0.0,
            max: 10.0,
            aliases: vec![OscAlias::new("/1/fader1")],
        }])
        .unwrap()
    }

    fn arrival() -> Arrival {
        Arrival {
            from: "127.0.0.1:7000".parse().unwrap(),
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    fn run(bytes: &[u8], arrival: Arrival) -> (Vec<Queued>, OscCounters) {
        let counters = OscCounters::default();
        let mut out = Vec::new();
        Ingest::new(&counters, 60.0).packet(bytes, arrival, &routes(), &mut |q| out.push(q));
        (out, counters)
    }

    fn msg(addr: &str, v: f32) -> OscPacket {
        OscPacket::Message(OscMessage {
            addr: addr.into(),
            args: vec![OscType::Float(v)],
        })
    }

    fn bundle(timetag: OscTime, content: Vec<OscPacket>) -> OscPacket {
        OscPacket::Bundle(OscBundle { timetag, content })
    }

    fn tag_at(wall: SystemTime) -> OscTime {
        let ntp = ntp_from_system_time(wall);
        OscTime {
            seconds: (ntp >> 32) as u32,
            fractional: ntp as u32,
        }
    }

    #[test]
    fn bundles_flatten_in_order_with_due_times() {
        let a = arrival();
        let future = tag_at(a.wall + Duration::from_millis(500));
        let past = tag_at(a.wall - Duration::from_secs(5));
        let p = bundle(
            (0, 1).into(),
            vec![
                msg("/hypna/param/zoom", 1.0),
                bundle(past, vec![msg("/hypna/param/zoom", 2.0)]),
                bundle(
                    future,
                    vec![
                        msg("/1/fader1", 0.5),
                        bundle((0, 1).into(), vec![msg("/hypna/param/zoom", 4.0)]),
                    ],
                ),
            ],
        );
        let (out, c) = run(&encoder::encode(&p).unwrap(), a);
        let values: Vec<_> = out
            .iter()
            .map(|q| match &q.event {
                OscEvent::SetParam { value, .. } => *value,
                e => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(values, vec![1.0, 2.0, 5.0, 4.0]);
        assert_eq!(out[0].due, None);
        assert_eq!(out[1].due, None, "past timetags apply at once");
        for q in &out[2..] {
            let ahead = q.due.unwrap() - a.at;
            assert!(
                ahead.abs_diff(Duration::from_millis(500)) < Duration::from_millis(1),
                "{ahead:?}"
            );
        }
        assert_eq!(c.get(Counter::Messages), 4);
    }

    #[test]
    fn far_future_is_dropped_and_counted() {
        let a = arrival();
        let p = bundle(
            tag_at(a.wall + Duration::from_hours(1)),
            vec![msg("/hypna/param/zoom", 1.0)],
        );
        let (out, c) = run(&encoder::encode(&p).unwrap(), a);
        assert!(out.is_empty());
        assert_eq!(c.get(Counter::ScheduledDropped), 1);
    }

    #[test]
    fn garbage_is_counted_not_routed() {
        let (out, c) = run(b"/hypna/param/zoom\0\0\0", arrival());
        assert!(out.is_empty());
        assert_eq!(c.get(Counter::Malformed), 1);
    }

    fn valid_packets() -> Vec<Vec<u8>> {
        let a = SystemTime::now();
        let ps = [
            msg("/hypna/param/zoom", 1.0),
            msg("/hypna/param/*/norm", 0.5),
            OscPacket::Message(OscMessage {
                addr: "/hypna/scene".into(),
                args: vec![OscType::String("x".into()), OscType::Blob(vec![1, 2, 3])],
            }),
            bundle(
                tag_at(a + Duration::from_millis(5)),
                vec![msg("/1/fader1", 0.5), msg("/{a,b}", 1.0)],
            ),
        ];
        ps.iter().map(|p| encoder::encode(p).unwrap()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

        /// Random bytes never panic, and every datagram is either routed or counted.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let (_, c) = run(&bytes, arrival());
            prop_assert!(c.get(Counter::Messages) > 0 || c.get(Counter::Malformed) == 1);
        }

        /// Valid packets with a few bytes flipped, cut or extended.
        #[test]
        fn mutated_packets_never_panic(
            which in 0usize..4,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<Option<usize>>(),
            extra in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let mut bytes = valid_packets()[which].clone();
            for (at, v) in flips {
                let n = bytes.len();
                bytes[at % n] = v;
            }
            if let Some(c) = cut {
                bytes.truncate(c % (bytes.len() + 1));
            }
            bytes.extend_from_slice(&extra);
            run(&bytes, arrival());
        }

        /// Random patterns against the table: bounded work, no panic.
        #[test]
        fn random_patterns_never_panic(addr in "/[a-z/*?\\[\\]{},!-]{0,80}") {
            let p = OscPacket::Message(OscMessage { addr, args: vec![OscType::Float(1.0)] });
            if let Ok(bytes) = encoder::encode(&p) {
                run(&bytes, arrival());
            }
        }

        /// Nesting at any depth is either routed (depth within the limit) or counted malformed.
        #[test]
        fn nesting_depth(depth in 1usize..40) {
            let mut p = msg("/hypna/param/zoom", 1.0);
            for _ in 0..depth {
                p = bundle((0, 1).into(), vec![p]);
            }
            let (out, c) = run(&encoder::encode(&p).unwrap(), arrival());
            prop_assert_eq!(out.len() == 1, depth <= MAX_BUNDLE_DEPTH);
            prop_assert_eq!(c.get(Counter::Malformed) == 1, depth > MAX_BUNDLE_DEPTH);
        }
    }
}
