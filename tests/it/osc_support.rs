//! Helpers for the OSC tests: a server on an ephemeral loopback port, a client socket,
//! packet builders and polling with deadlines (UDP and the socket thread are asynchronous).
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use hypna::osc::{
    Counter, OscAlias, OscConfig, OscEvent, OscHandle, ParamRoute, RouteTable, ntp_from_system_time,
};
use rosc::{OscBundle, OscMessage, OscPacket, OscTime, OscType, encoder};

/// How long any one wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(3);

/// `zoom` 1..3 with alias `/1/fader1` (0..1), and `hue` 0..360 with alias `/1/rotary` (0..127).
pub fn params() -> Vec<ParamRoute> {
    hypna::testing::zoom_and_hue(OscAlias {
        address: "/1/rotary".into(),
        input_range: [0.0, 127.0],
        arg: 0,
    })
}

/// A config listening on 127.0.0.1 with an ephemeral port.
pub fn loopback_config() -> OscConfig {
    OscConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..OscConfig::default()
    }
}

pub fn server_with(config: &OscConfig) -> OscHandle {
    hypna::osc::start(config, RouteTable::new(params()).unwrap()).unwrap()
}

pub fn server() -> OscHandle {
    server_with(&loopback_config())
}

pub fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    s
}

pub fn msg(addr: &str, args: Vec<OscType>) -> OscPacket {
    OscPacket::Message(OscMessage {
        addr: addr.into(),
        args,
    })
}

pub fn f(addr: &str, v: f32) -> OscPacket {
    msg(addr, vec![OscType::Float(v)])
}

pub fn bundle(timetag: OscTime, content: Vec<OscPacket>) -> OscPacket {
    OscPacket::Bundle(OscBundle { timetag, content })
}

pub const IMMEDIATELY: OscTime = OscTime {
    seconds: 0,
    fractional: 1,
};

/// The timetag of `wall`.
pub fn tag_at(wall: SystemTime) -> OscTime {
    let ntp = ntp_from_system_time(wall);
    OscTime {
        seconds: (ntp >> 32) as u32,
        fractional: ntp as u32,
    }
}

pub fn send(from: &UdpSocket, to: SocketAddr, p: &OscPacket) {
    send_bytes(from, to, &encoder::encode(p).unwrap());
}

pub fn send_bytes(from: &UdpSocket, to: SocketAddr, bytes: &[u8]) {
    from.send_to(bytes, to).unwrap();
}

pub fn set(name: &str, value: f32) -> OscEvent {
    OscEvent::SetParam {
        name: name.into(),
        value,
    }
}

/// Drains until `done` holds for everything collected so far (or the deadline passes).
pub fn events_until(h: &mut OscHandle, done: impl Fn(&[OscEvent]) -> bool) -> Vec<OscEvent> {
    let start = Instant::now();
    let mut all = Vec::new();
    while start.elapsed() < DEADLINE {
        all.extend(h.drain(Instant::now()));
        if done(&all) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    all
}

/// Collects `n` events.
pub fn events(h: &mut OscHandle, n: usize) -> Vec<OscEvent> {
    events_until(h, |e| e.len() >= n)
}

/// Sends a sentinel and waits for it: every datagram sent before from `from` has then been
/// processed (loopback keeps order; the socket thread is sequential). Returns the events
/// that came before the sentinel.
pub fn settle(h: &mut OscHandle, from: &UdpSocket) -> Vec<OscEvent> {
    send(from, h.local_addr(), &f("/hypna/param/hue", -12345.0));
    let mut all = events_until(h, |e| e.contains(&set("hue", -12345.0)));
    let at = all
        .iter()
        .position(|e| *e == set("hue", -12345.0))
        .expect("the sentinel arrived");
    all.truncate(at);
    all
}

/// Waits until `counter` reaches `at_least`; returns its value.
pub fn counter_at_least(h: &OscHandle, counter: Counter, at_least: u64) -> u64 {
    let start = Instant::now();
    loop {
        let v = h.counters().get(counter);
        if v >= at_least || start.elapsed() > DEADLINE {
            return v;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every OSC message received on `sock` until `done` holds or the deadline passes
/// (bundles flattened).
pub fn recv_until(sock: &UdpSocket, done: impl Fn(&[OscMessage]) -> bool) -> Vec<OscMessage> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while start.elapsed() < DEADLINE && !done(&out) {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let (_, p) = rosc::decoder::decode_udp(&buf[..n]).unwrap();
            flatten(p, &mut out);
        }
    }
    out
}

/// Every message arriving within `window`.
pub fn recv_for(sock: &UdpSocket, window: Duration) -> Vec<OscMessage> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while start.elapsed() < window {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let (_, p) = rosc::decoder::decode_udp(&buf[..n]).unwrap();
            flatten(p, &mut out);
        }
    }
    out
}

fn flatten(p: OscPacket, out: &mut Vec<OscMessage>) {
    match p {
        OscPacket::Message(m) => out.push(m),
        OscPacket::Bundle(b) => b.content.into_iter().for_each(|p| flatten(p, out)),
    }
}

/// A feedback target that sends to `socket` (a controller played by the test).
pub fn feedback_to(socket: &UdpSocket) -> hypna::osc::FeedbackTarget {
    hypna::osc::FeedbackTarget::Addr(socket.local_addr().unwrap())
}

/// A tool a peer test needs: present, or a printed skip (a failure when `HYPNA_REQUIRE_GPU=1`,
/// as in CI, so CI cannot pass a peer test that did not run).
pub fn peer_available(test: &str, tool: &str, present: bool, install: &str) -> bool {
    crate::common::prerequisite(test, tool, present, install)
}

/// A `/hypna/status` reply: the scene on show, its frame number, and the counters.
pub struct OscStatus {
    pub scene: String,
    pub frame: i64,
    pub counters: Vec<(String, i64)>,
}

/// Sends `/hypna/status` to a running `hypna` on `port` and collects the reply (asking again while none comes, for up to
/// 20 s).
pub fn osc_status(port: u16) -> OscStatus {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: "/hypna/status".into(),
        args: vec![],
    }))
    .unwrap();
    socket.send_to(&request, ("127.0.0.1", port)).unwrap();
    let mut status = OscStatus {
        scene: String::new(),
        frame: -1,
        counters: Vec::new(),
    };
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            socket.send_to(&request, ("127.0.0.1", port)).unwrap();
            continue;
        };
        let Ok((_, OscPacket::Message(m))) = rosc::decoder::decode_udp(&buf[..n]) else {
            continue;
        };
        match (m.addr.as_str(), m.args.as_slice()) {
            ("/hypna/reply/status", [OscType::String(scene), _, OscType::Int(frame)]) => {
                status.scene.clone_from(scene);
                status.frame = i64::from(*frame);
            }
            ("/hypna/reply/status/counter", [OscType::String(name), value]) => {
                let v = match value {
                    OscType::Int(i) => i64::from(*i),
                    OscType::Long(l) => *l,
                    OscType::Float(f) => *f as i64,
                    _ => -1,
                };
                status.counters.push((name.clone(), v));
            }
            ("/hypna/reply/status/done", _) => return status,
            _ => {}
        }
    }
    panic!(
        "no complete /hypna/status reply; counters so far: {:?}",
        status.counters
    );
}
