//! The OSCQuery server and browser remote (`src/remote/`), driven by a client written here
//! from the OSCQuery proposal (Vidvox/OSCQueryProposal; no maintained Rust OSCQuery client
//! library exists on crates.io): plain HTTP GETs for the namespace and attribute queries,
//! a WebSocket (tungstenite) for `LISTEN`/`IGNORE`, path notifications and binary OSC, and the
//! `mdns-sd` crate's own browser for the DNS-SD advertisement. The end-to-end test runs
//! `hypna run` in Xvfb and checks that OSC over the WebSocket changes the rendered pixels
//! seen through the thumbnail, clamped to the param's range.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use hypna::remote::{Health, Namespace, ParamInfo, RemoteConfig, RemoteHandle, Values};
use rosc::{OscMessage, OscPacket, OscType};
use serde_json::{Value, json};
use tungstenite::Message;

use crate::common;
use crate::window::{Hypna, XServer};

pub(crate) const TOKEN: &str = "remote-test-token";

/// One HTTP GET (HTTP/1.1, `Connection: close`): status and body.
fn get(addr: SocketAddr, target: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line of `{head}`"));
    (status, raw[split + 4..].to_vec())
}

fn get_json(addr: SocketAddr, target: &str) -> Value {
    let (status, body) = get(addr, target);
    assert_eq!(
        status,
        200,
        "GET {target}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

type Ws = tungstenite::WebSocket<TcpStream>;

/// A WebSocket to the server, with `token` if given.
fn ws(addr: SocketAddr, token: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let url = match token {
        Some(t) => format!("ws://{addr}/?token={t}"),
        None => format!("ws://{addr}/"),
    };
    tungstenite::client(url, stream)
        .map(|(socket, _)| socket)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => panic!("blocking handshake"),
        })
}

/// The next text (JSON) or binary (OSC) message.
enum Incoming {
    Json(Value),
    Osc(OscMessage),
}

fn next(socket: &mut Ws) -> Incoming {
    loop {
        match socket.read().unwrap() {
            Message::Text(t) => return Incoming::Json(serde_json::from_str(t.as_str()).unwrap()),
            Message::Binary(b) => match rosc::decoder::decode_udp(&b).unwrap().1 {
                OscPacket::Message(m) => return Incoming::Osc(m),
                OscPacket::Bundle(b) => panic!("unexpected bundle {b:?}"),
            },
            _ => {}
        }
    }
}

fn osc(addr: &str, value: f32) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: addr.into(),
        args: vec![OscType::Float(value)],
    }))
    .unwrap()
}

fn param(name: &str, label: &str, min: f32, max: f32) -> ParamInfo {
    ParamInfo {
        name: name.into(),
        label: label.into(),
        min,
        max,
        default: min,
        group: Some("look".into()),
        names: Vec::new(),
        aliases: Vec::new(),
    }
}

fn namespace(params: Vec<ParamInfo>) -> Namespace {
    Namespace {
        scene: "demo".into(),
        params,
        entries: vec!["first".into(), "second".into()],
    }
}

fn values(params: Vec<f32>) -> Values {
    Values {
        scene: "demo".into(),
        params,
        health: Health {
            fps: 60.0,
            entry: Some((0, "first".into())),
            ..Health::default()
        },
    }
}

/// A server on a free loopback port with the test token and no mDNS.
fn server(configure: impl FnOnce(&mut RemoteConfig)) -> RemoteHandle {
    let mut config = RemoteConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        mdns: false,
        osc_port: Some(9000),
        ..RemoteConfig::default()
    };
    configure(&mut config);
    let mut handle = hypna::remote::start(config).unwrap();
    handle.publish_namespace(namespace(vec![param("zoom", "Zoom", 0.5, 4.0)]));
    handle.publish_values(values(vec![2.0]));
    handle
}

#[test]
fn oscquery_namespace_and_queries_follow_the_proposal() {
    let h = server(|_| {});
    let addr = h.local_addr();
    let root = get_json(addr, "/");
    assert_eq!(root["FULL_PATH"], "/");
    let zoom = &root["CONTENTS"]["hypna"]["CONTENTS"]["param"]["CONTENTS"]["zoom"];
    assert_eq!(zoom["FULL_PATH"], "/hypna/param/zoom");
    assert_eq!(zoom["TYPE"], "f");
    assert_eq!(zoom["VALUE"], json!([2.0]));
    assert_eq!(zoom["RANGE"], json!([{ "MIN": 0.5, "MAX": 4.0 }]));
    assert_eq!(zoom["DESCRIPTION"], "Zoom");
    assert_eq!(zoom["ACCESS"], 3);
    assert_eq!(zoom["CLIPMODE"], json!(["both"]));
    assert_eq!(zoom["TAGS"], json!(["look"]));
    let scene = &root["CONTENTS"]["hypna"]["CONTENTS"]["scene"];
    assert_eq!(scene["RANGE"][0]["VALS"], json!(["first", "second"]));
    assert_eq!(scene["CONTENTS"]["next"]["ACCESS"], 2);
    // Status values are read-only.
    assert_eq!(
        get_json(addr, "/hypna/status/fps"),
        json!({ "FULL_PATH": "/hypna/status/fps", "TYPE": "f", "ACCESS": 1,
                "DESCRIPTION": "Frames per second", "VALUE": [60.0], "CONTENTS": {} })
    );
    // Attribute queries answer only that attribute.
    assert_eq!(
        get_json(addr, "/hypna/param/zoom?VALUE"),
        json!({ "VALUE": [2.0] })
    );
    assert_eq!(
        get_json(addr, "/hypna/param/zoom?RANGE"),
        json!({ "RANGE": [{ "MIN": 0.5, "MAX": 4.0 }] })
    );
    let info = get_json(addr, "/anything?HOST_INFO");
    assert_eq!(info["NAME"], "hypna");
    assert_eq!(info["OSC_PORT"], 9000);
    assert_eq!(info["OSC_TRANSPORT"], "UDP");
    assert_eq!(info["WS_PORT"], addr.port());
    assert_eq!(info["EXTENSIONS"]["LISTEN"], true);
    assert_eq!(info["EXTENSIONS"]["PATH_CHANGED"], true);
    // The codes the proposal gives.
    assert_eq!(get(addr, "/hypna/nothing").0, 404);
    assert_eq!(get(addr, "/hypna/param/zoom?NOT_AN_ATTRIBUTE").0, 400);
    assert_eq!(
        get(addr, "/hypna/param/zoom/norm?VALUE").0,
        204,
        "write-only"
    );
    assert_eq!(get(addr, "/hypna/param/zoom?UNIT").0, 204, "no unit known");
    // The page itself, for browsers.
    let (status, page) = get(addr, "/remote");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<title>hypna remote</title>"));
}

#[test]
fn websocket_listen_streams_changes_and_path_notifications() {
    let mut h = server(|_| {});
    let addr = h.local_addr();
    let mut socket = ws(addr, None).unwrap();
    let listen = |s: &mut Ws, cmd: &str, path: &str| {
        s.send(Message::text(
            json!({ "COMMAND": cmd, "DATA": path }).to_string(),
        ))
        .unwrap();
    };
    listen(&mut socket, "LISTEN", "/hypna/param/zoom");
    // The current value first, then each change.
    let mut seen = Vec::new();
    let mut v = 2.0;
    while seen.len() < 3 {
        h.publish_values(values(vec![v]));
        if let Incoming::Osc(m) = next_or_republish(&mut socket, &mut h, v) {
            assert_eq!(m.addr, "/hypna/param/zoom");
            if let [OscType::Float(f)] = m.args[..]
                && seen.last() != Some(&f)
            {
                seen.push(f);
            }
        }
        v += 0.5;
    }
    assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
    // A scene switch: new paths are announced, vanished ones too.
    h.publish_namespace(namespace(vec![param("hue", "Hue", 0.0, 1.0)]));
    h.publish_values(Values {
        params: vec![0.25],
        ..values(vec![])
    });
    let mut added = false;
    let mut removed = false;
    while !(added && removed) {
        if let Incoming::Json(j) = next(&mut socket) {
            added |= j == json!({ "COMMAND": "PATH_ADDED", "DATA": "/hypna/param/hue" });
            removed |= j == json!({ "COMMAND": "PATH_REMOVED", "DATA": "/hypna/param/zoom" });
        }
    }
    // IGNORE stops a stream: after ignoring hue and listening to the fps, the next value
    // message is the fps, however often hue changes.
    listen(&mut socket, "LISTEN", "/hypna/param/hue");
    loop {
        if let Incoming::Osc(m) = next_or_republish(&mut socket, &mut h, 0.5)
            && m.addr == "/hypna/param/hue"
        {
            break;
        }
    }
    listen(&mut socket, "IGNORE", "/hypna/param/hue");
    listen(&mut socket, "LISTEN", "/hypna/status/frame");
    // Commands are handled in order: once the first frame value came, hue was ignored, so
    // no hue value follows it while both keep changing.
    let mut frames = 0;
    while frames < 5 {
        if let Incoming::Osc(m) = next_or_republish(&mut socket, &mut h, 0.5) {
            if m.addr == "/hypna/status/frame" {
                frames += 1;
            } else {
                assert!(frames == 0, "{} after IGNORE", m.addr);
            }
        }
    }
    assert!(h.counters().snapshot().streamed >= 4);
}

/// The next message; keeps values published (streams follow the published values).
fn next_or_republish(socket: &mut Ws, h: &mut RemoteHandle, v: f32) -> Incoming {
    socket
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    loop {
        match socket.read() {
            Ok(Message::Binary(b)) => {
                if let OscPacket::Message(m) = rosc::decoder::decode_udp(&b).unwrap().1 {
                    return Incoming::Osc(m);
                }
            }
            Ok(Message::Text(t)) => {
                return Incoming::Json(serde_json::from_str(t.as_str()).unwrap());
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // Every value changes: the param a little, the frame count by one.
                static TICKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = TICKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut vals = values(vec![v + (n % 7) as f32 * 0.01]);
                vals.health.frame = n;
                h.publish_values(vals);
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn control_needs_the_right_token_and_packets_arrive_intact() {
    let mut h = server(|_| {});
    let addr = h.local_addr();
    // Read-only: OSC over the WebSocket is refused and never reaches the frame.
    let mut viewer = ws(addr, None).unwrap();
    viewer
        .send(Message::binary(osc("/hypna/param/zoom", 3.0)))
        .unwrap();
    match next(&mut viewer) {
        Incoming::Json(j) => assert_eq!(j["COMMAND"], "ERROR"),
        Incoming::Osc(m) => panic!("unexpected {m:?}"),
    }
    assert_eq!(h.counters().snapshot().unauthorized, 1);
    let mut got = Vec::new();
    h.take_packets(|p, _| got.push(p.to_vec()));
    assert!(got.is_empty());
    // A wrong token is refused outright, over HTTP and the WebSocket.
    assert_eq!(get(addr, "/state?token=wrong-token").0, 401);
    match ws(addr, Some("wrong-token")) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    // The right token: the packet arrives as sent, from the client's address.
    let state = get_json(addr, &format!("/state?token={TOKEN}"));
    assert_eq!(state["control"], true);
    assert_eq!(get_json(addr, "/state")["control"], false);
    let mut controller = ws(addr, Some(TOKEN)).unwrap();
    let packet = osc("/hypna/param/zoom", 3.0);
    controller.send(Message::binary(packet.clone())).unwrap();
    let mut from = None;
    common::wait_until("the packet", Duration::from_secs(20), || {
        h.take_packets(|p, f| {
            got.push(p.to_vec());
            from = Some(f);
        });
        !got.is_empty()
    });
    assert_eq!(got, vec![packet]);
    assert!(from.is_some_and(|f| f.ip().is_loopback()));
}

#[test]
fn a_flood_is_rate_limited_and_the_queue_bounded() {
    let h = server(|c| c.requests_per_sec = 5.0);
    let addr = h.local_addr();
    let codes: Vec<u16> = (0..40)
        .map(|_| get(addr, "/hypna/param/zoom?VALUE").0)
        .collect();
    let refused = codes.iter().filter(|c| **c == 429).count();
    assert!(
        refused >= 20,
        "a burst of 10 passes, most of 40 do not: {codes:?}"
    );
    assert!(h.counters().snapshot().rate_limited >= 20);
    // Nobody drains the frame's queue: what does not fit is dropped and counted.
    let h = server(|c| c.requests_per_sec = 100_000.0);
    let mut controller = ws(h.local_addr(), Some(TOKEN)).unwrap();
    for i in 0..400 {
        controller
            .send(Message::binary(osc("/hypna/param/zoom", i as f32)))
            .unwrap();
    }
    common::wait_until("the queue to overflow", Duration::from_secs(30), || {
        let c = h.counters().snapshot();
        c.osc_packets + c.osc_dropped == 400
    });
    let c = h.counters().snapshot();
    assert_eq!((c.osc_packets, c.osc_dropped), (256, 144));
}

#[test]
fn mdns_advertises_oscjson_and_osc_services() {
    let name = format!("hypna-test-{}", std::process::id());
    let h = server(|c| {
        c.mdns = true;
        c.name.clone_from(&name);
        c.osc_port = Some(9123);
    });
    assert!(h.advertised());
    let browser = mdns_sd::ServiceDaemon::new().unwrap();
    for (ty, port) in [
        ("_oscjson._tcp.local.", h.local_addr().port()),
        ("_osc._udp.local.", 9123),
    ] {
        let events = browser.browse(ty).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match events.recv_timeout(left) {
                Ok(mdns_sd::ServiceEvent::ServiceResolved(s)) if s.fullname.starts_with(&name) => {
                    assert_eq!(s.port, port, "{ty}");
                    break;
                }
                Ok(_) => {}
                Err(e) => panic!("{ty} of `{name}` not seen: {e}"),
            }
        }
        browser.stop_browse(ty).ok();
    }
    browser.shutdown().ok();
}

/// A scene whose whole output is `red` in the red channel (range 0..1).
pub(crate) fn red_scene(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let scene = dir.join("red.toml");
    std::fs::write(
        &scene,
        format!(
            r#"[scene]
name = "red"
size = [64, 48]

[params.red]
default = 0.0
label = "Red"
group = "colour"
{extra}
[[pass]]
name = "out"
shader = "red.wgsl"
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("red.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(params.red, 0.0, 0.0, 1.0);\n}\n",
    )
    .unwrap();
    scene
}

/// The red of the thumbnail's middle pixel, once a thumbnail is served.
fn thumbnail_red(addr: SocketAddr) -> Option<u8> {
    let (status, body) = get(addr, "/thumbnail.jpg");
    if status != 200 {
        return None;
    }
    let img = image::load_from_memory(&body).ok()?.to_rgb8();
    Some(img.get_pixel(img.width() / 2, img.height() / 2)[0])
}

#[test]
fn hypna_run_serves_the_remote_end_to_end() {
    let test = "hypna_run_serves_the_remote_end_to_end";
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scene = red_scene(dir.path(), "");
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        format!("[http]\ntoken = \"{TOKEN}\"\nmdns = false\nthumbnail_fps = 10\n"),
    )
    .unwrap();
    let mut hypna = Hypna::start(
        &x,
        &[
            scene.to_str().unwrap(),
            "--osc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--settings",
            settings.to_str().unwrap(),
            "--no-audio",
        ],
    );
    let line = hypna.wait_for("browser remote and OSCQuery on", Duration::from_mins(2));
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in `{line}`"));
    // The namespace comes from the scene.
    let red = get_json(addr, "/hypna/param/red");
    assert_eq!(red["DESCRIPTION"], "Red");
    assert_eq!(red["RANGE"], json!([{ "MIN": 0.0, "MAX": 1.0 }]));
    let mut black = None;
    common::wait_until("a black thumbnail", Duration::from_mins(1), || {
        black = thumbnail_red(addr);
        black.is_some_and(|r| r < 30)
    });
    // Out of range over the WebSocket: clamped to 1, as UDP OSC is.
    let mut controller = ws(addr, Some(TOKEN)).unwrap();
    controller
        .send(Message::binary(osc("/hypna/param/red", 7.0)))
        .unwrap();
    common::wait_until("the value, clamped", Duration::from_mins(1), || {
        get_json(addr, "/hypna/param/red?VALUE") == json!({ "VALUE": [1.0] })
    });
    common::wait_until("a red thumbnail", Duration::from_mins(1), || {
        thumbnail_red(addr).is_some_and(|r| r > 220)
    });
    // A hot reload adding a param is announced to WebSocket clients.
    let mut watcher = ws(addr, None).unwrap();
    red_scene(
        dir.path(),
        "\n[params.green]\ndefault = 0.5\nlabel = \"Green\"\n",
    );
    loop {
        if let Incoming::Json(j) = next(&mut watcher)
            && j == json!({ "COMMAND": "PATH_ADDED", "DATA": "/hypna/param/green" })
        {
            break;
        }
    }
    assert_eq!(
        get_json(addr, "/hypna/param/green?VALUE"),
        json!({ "VALUE": [0.5] })
    );
}
