//! The OSC server over real UDP on 127.0.0.1 (ephemeral ports): params, norm, aliases,
//! patterns, bundles and timetags, replies, feedback, allow list, route reload, bind failure.

use crate::osc_support;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use hypna::osc::{
    Counter, OscConfig, OscError, OscEvent, ParamRoute, RouteTable, SceneRequest, StatusInfo,
};
use osc_support::*;
use rosc::OscType;

#[test]
fn params_norm_and_aliases_become_set_param() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let to = h.local_addr();
    send(&c, to, &f("/hypna/param/zoom", 2.5));
    send(&c, to, &msg("/hypna/param/zoom", vec![OscType::Int(2)]));
    send(
        &c,
        to,
        &msg("/hypna/param/zoom", vec![OscType::Double(1.25)]),
    );
    send(&c, to, &f("/hypna/param/hue/norm", 0.5));
    send(&c, to, &f("/1/fader1", 0.25));
    send(&c, to, &msg("/1/rotary", vec![OscType::Int(127)]));
    send(&c, to, &msg("/hypna/param/zoom", vec![OscType::Bool(true)]));
    let got = settle(&mut h, &c);
    assert_eq!(
        got,
        vec![
            set("zoom", 2.5),
            set("zoom", 2.0),
            set("zoom", 1.25),
            set("hue", 180.0),
            set("zoom", 1.5),
            set("hue", 360.0),
            set("zoom", 1.0),
        ]
    );
    let counters = h.counters();
    assert_eq!(counters.get(Counter::WrongArgument), 0);
    assert_eq!(counters.get(Counter::Malformed), 0);
}

#[test]
fn patterns_match_known_addresses() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let to = h.local_addr();
    send(&c, to, &f("/hypna/param/*/norm", 0.0));
    send(&c, to, &f("/hypna/param/{zoom,nope}", 2.0));
    send(&c, to, &f("/hypna/param/[h-z]u?", 90.0));
    send(&c, to, &f("/1/*", 0.0));
    let got = settle(&mut h, &c);
    assert_eq!(
        got,
        vec![
            set("zoom", 1.0),
            set("hue", 0.0),
            set("zoom", 2.0),
            set("hue", 90.0),
            set("zoom", 1.0),
            set("hue", 0.0),
        ]
    );
}

#[test]
fn scene_and_trigger_addresses() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let to = h.local_addr();
    send(
        &c,
        to,
        &msg("/hypna/scene", vec![OscType::String("tunnel".into())]),
    );
    send(&c, to, &msg("/hypna/scene", vec![OscType::Int(3)]));
    send(&c, to, &msg("/hypna/scene/next", vec![]));
    send(&c, to, &f("/hypna/scene/prev", 1.0));
    send(&c, to, &f("/hypna/scene/prev", 0.0)); // button release: nothing
    send(&c, to, &msg("/hypna/tap", vec![]));
    send(&c, to, &msg("/hypna/beat/resync", vec![]));
    let got = settle(&mut h, &c);
    assert_eq!(
        got,
        vec![
            OscEvent::Scene(SceneRequest::Name("tunnel".into())),
            OscEvent::Scene(SceneRequest::Index(3)),
            OscEvent::Scene(SceneRequest::Next),
            OscEvent::Scene(SceneRequest::Prev),
            OscEvent::Tap,
            OscEvent::Resync,
        ]
    );
}

#[test]
fn bundles_apply_in_order_and_honour_timetags() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let to = h.local_addr();
    let now = SystemTime::now();

    // Immediate and past: at once, in order (the last value for a param wins).
    send(
        &c,
        to,
        &bundle(
            IMMEDIATELY,
            vec![
                f("/hypna/param/zoom", 1.1),
                bundle(
                    tag_at(now - Duration::from_secs(2)),
                    vec![f("/hypna/param/zoom", 1.2)],
                ),
                f("/hypna/param/zoom", 1.3),
            ],
        ),
    );
    assert_eq!(
        settle(&mut h, &c),
        vec![set("zoom", 1.1), set("zoom", 1.2), set("zoom", 1.3)]
    );

    // Future: held until due, measured against real time.
    let sent_at = Instant::now();
    send(
        &c,
        to,
        &bundle(
            tag_at(SystemTime::now() + Duration::from_millis(300)),
            vec![f("/hypna/param/hue", 10.0), f("/hypna/param/hue", 20.0)],
        ),
    );
    assert_eq!(settle(&mut h, &c), vec![], "nothing before its time");
    assert_eq!(h.scheduled(), 2);
    let got = events(&mut h, 2);
    let waited = sent_at.elapsed();
    assert_eq!(got, vec![set("hue", 10.0), set("hue", 20.0)]);
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_secs(1),
        "released after {waited:?}"
    );
    assert_eq!(h.scheduled(), 0);

    // drain(now) decides: a scheduled message comes out when `now` reaches its time.
    send(
        &c,
        to,
        &bundle(
            tag_at(SystemTime::now() + Duration::from_secs(20)),
            vec![f("/hypna/param/zoom", 2.9)],
        ),
    );
    settle(&mut h, &c);
    assert_eq!(h.scheduled(), 1);
    let early: Vec<_> = h.drain(Instant::now() + Duration::from_secs(19)).collect();
    assert!(early.is_empty());
    let due: Vec<_> = h.drain(Instant::now() + Duration::from_secs(21)).collect();
    assert_eq!(due, vec![set("zoom", 2.9)]);

    // Too far ahead (a sender with a wrong clock): dropped and counted.
    send(
        &c,
        to,
        &bundle(
            tag_at(SystemTime::now() + Duration::from_hours(1)),
            vec![f("/hypna/param/zoom", 2.0)],
        ),
    );
    settle(&mut h, &c);
    assert_eq!(h.counters().get(Counter::ScheduledDropped), 1);
    assert_eq!(h.scheduled(), 0);
}

#[test]
fn scheduler_is_bounded() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server_with(&OscConfig {
        schedule_capacity: 4,
        ..loopback_config()
    });
    let c = client();
    let later = tag_at(SystemTime::now() + Duration::from_secs(30));
    send(
        &c,
        h.local_addr(),
        &bundle(
            later,
            (0..10).map(|i| f("/hypna/param/zoom", i as f32)).collect(),
        ),
    );
    settle(&mut h, &c);
    assert_eq!(h.scheduled(), 4);
    assert_eq!(h.counters().get(Counter::ScheduledDropped), 6);
    let due: Vec<_> = h.drain(Instant::now() + Duration::from_secs(31)).collect();
    assert_eq!(
        due,
        (0..4).map(|i| set("zoom", i as f32)).collect::<Vec<_>>()
    );
}

#[test]
fn query_reply_reaches_the_sender() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    send(&c, h.local_addr(), &msg("/hypna/query", vec![]));
    let got = events(&mut h, 1);
    let reply_to = match got.as_slice() {
        [OscEvent::Query { reply_to }] => *reply_to,
        other => panic!("expected one query, got {other:?}"),
    };
    assert_eq!(reply_to, c.local_addr().unwrap());
    h.reply_params(reply_to, [("zoom", 1.5), ("hue", 90.0), ("unknown", 1.0)]);
    let replies = recv_until(&c, |m| {
        m.iter().any(|m| m.addr == "/hypna/reply/query/done")
    });
    let addrs: Vec<_> = replies.iter().map(|m| m.addr.as_str()).collect();
    assert_eq!(
        addrs,
        [
            "/hypna/reply/param",
            "/hypna/reply/param",
            "/hypna/reply/query/done"
        ]
    );
    assert_eq!(
        replies[0].args,
        vec![
            OscType::String("zoom".into()),
            OscType::Float(1.5),
            OscType::Float(1.0),
            OscType::Float(3.0)
        ]
    );
    assert_eq!(replies[1].args[0], OscType::String("hue".into()));
    assert_eq!(replies[2].args, vec![OscType::Int(2)]);
}

#[test]
fn status_reply_carries_counters() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    // A second socket asks for the reply on its own port.
    let listener = client();
    let port = listener.local_addr().unwrap().port();
    send(&c, h.local_addr(), &msg("/hypna/nope", vec![]));
    send(
        &c,
        h.local_addr(),
        &msg("/hypna/status", vec![OscType::Int(i32::from(port))]),
    );
    let got = events(&mut h, 1);
    let [OscEvent::Status { reply_to }] = got.as_slice() else {
        panic!("expected one status request, got {got:?}");
    };
    assert_eq!(reply_to.port(), port);
    h.reply_status(
        *reply_to,
        &StatusInfo {
            scene: "dream".into(),
            fps: 59.9,
            frame: 1234,
            model_rates_hz: vec![("dream".into(), 12.5)],
            counters: vec![("audio.overflows".into(), 3)],
        },
    );
    let replies = recv_until(&listener, |m| {
        m.iter().any(|m| m.addr == "/hypna/reply/status/done")
    });
    assert_eq!(replies[0].addr, "/hypna/reply/status");
    assert_eq!(
        replies[0].args,
        vec![
            OscType::String("dream".into()),
            OscType::Float(59.9),
            OscType::Int(1234)
        ]
    );
    assert_eq!(replies[1].addr, "/hypna/reply/status/model");
    let counter = |name: &str| {
        replies
            .iter()
            .find(|m| {
                m.addr == "/hypna/reply/status/counter" && m.args[0] == OscType::String(name.into())
            })
            .map(|m| m.args[1].clone())
    };
    assert_eq!(counter("osc.unknown_address"), Some(OscType::Int(1)));
    assert_eq!(counter("osc.received"), Some(OscType::Int(2)));
    assert_eq!(counter("audio.overflows"), Some(OscType::Int(3)));
    let done = replies.last().unwrap();
    assert_eq!(
        done.args,
        vec![OscType::Int(i32::try_from(replies.len() - 1).unwrap())]
    );
}

#[test]
fn feedback_is_sent_rate_limited_and_latest_wins() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let controller = client();
    let mut h = server_with(&OscConfig {
        feedback: vec![feedback_to(&controller)],
        feedback_rate_hz: 20.0,
        ..loopback_config()
    });
    // A fader dragged for 0.5 s, one value every 2 ms, with an unchanged param alongside.
    let start = Instant::now();
    let mut last = 0.0;
    let mut i = 0u32;
    while start.elapsed() < Duration::from_millis(500) {
        last = 1.0 + (i as f32) * 0.001;
        h.feedback([("zoom", last), ("hue", 90.0)]);
        i += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed().as_secs_f32();
    let got = recv_for(&controller, Duration::from_millis(300));
    let zoom: Vec<f32> = got
        .iter()
        .filter(|m| m.addr == "/hypna/param/zoom")
        .map(|m| m.args[0].clone().float().unwrap())
        .collect();
    let hue: Vec<_> = got
        .iter()
        .filter(|m| m.addr == "/hypna/param/hue")
        .collect();
    let fader: Vec<f32> = got
        .iter()
        .filter(|m| m.addr == "/1/fader1")
        .map(|m| m.args[0].clone().float().unwrap())
        .collect();
    let rotary: Vec<_> = got.iter().filter(|m| m.addr == "/1/rotary").collect();
    assert!(i > 100, "the loop fed {i} values");
    let most = (elapsed * 20.0).ceil() as usize + 2;
    assert!(
        (3..=most).contains(&zoom.len()),
        "{} zoom feedback messages for {i} changes in {elapsed:.2} s at 20 Hz",
        zoom.len()
    );
    assert_eq!(
        zoom.last().map(|v| v.to_bits()),
        Some(last.to_bits()),
        "the final value is sent"
    );
    assert_eq!(hue.len(), 1, "an unchanged value is sent once");
    assert_eq!(rotary.len(), 1);
    assert_eq!(
        rotary[0].args,
        vec![OscType::Float(31.75)],
        "90 of 0..360 on 0..127"
    );
    assert_eq!(fader.len(), zoom.len());
    assert!((fader.last().unwrap() - (last - 1.0) / 2.0).abs() < 1e-6);
}

#[test]
fn allow_list_rejects_other_senders() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server_with(&OscConfig {
        allow: vec!["10.0.0.0/8".parse().unwrap()],
        ..loopback_config()
    });
    let c = client();
    send(&c, h.local_addr(), &f("/hypna/param/zoom", 2.0));
    // Counted as rejected: the packet has been handled, and nothing of it is queued.
    assert_eq!(counter_at_least(&h, Counter::RejectedSender, 1), 1);
    assert_eq!(h.drain(Instant::now()).count(), 0);

    let mut h = server_with(&OscConfig {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ..loopback_config()
    });
    send(&c, h.local_addr(), &f("/hypna/param/zoom", 2.0));
    assert_eq!(settle(&mut h, &c), vec![set("zoom", 2.0)]);
}

#[test]
fn routes_are_replaced_on_reload() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    h.set_routes(
        RouteTable::new([
            ParamRoute {
                name: "speed".into(),
                min: 0.0,
                max: 10.0,
                aliases: vec![],
            },
            ParamRoute {
                name: "hue".into(),
                min: 0.0,
                max: 1.0,
                aliases: vec![],
            },
        ])
        .unwrap(),
    );
    send(&c, h.local_addr(), &f("/hypna/param/speed/norm", 0.5));
    send(&c, h.local_addr(), &f("/hypna/param/zoom", 2.0));
    assert_eq!(settle(&mut h, &c), vec![set("speed", 5.0)]);
    assert_eq!(h.counters().get(Counter::UnknownAddress), 1);
}

#[test]
fn a_port_in_use_is_an_error_value() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = OscConfig {
        listen: taken.local_addr().unwrap(),
        ..OscConfig::default()
    };
    let err = hypna::osc::start(&config, RouteTable::default()).unwrap_err();
    assert!(matches!(err, OscError::Bind { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot listen on 127.0.0.1:"),
        "{err}"
    );
    assert!(hypna::osc::start_or_log(&config, RouteTable::default()).is_none());
}

#[test]
fn dropping_the_handle_frees_the_port() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let h = server();
    let addr: SocketAddr = h.local_addr();
    drop(h);
    let again = hypna::osc::start(
        &OscConfig {
            listen: addr,
            ..OscConfig::default()
        },
        RouteTable::default(),
    );
    assert!(again.is_ok(), "{:?}", again.err());
}

#[test]
fn feedback_to_a_host_name() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let controller = client();
    let port = controller.local_addr().unwrap().port();
    let mut h = server_with(&OscConfig {
        feedback: vec![format!("localhost:{port}").parse().unwrap()],
        ..loopback_config()
    });
    let start = Instant::now();
    let mut got = Vec::new();
    // The sender thread resolves the name when it starts; feed until something arrives.
    while got.is_empty() && start.elapsed() < DEADLINE {
        h.feedback([("zoom", 2.0 + start.elapsed().as_secs_f32())]);
        got = recv_for(&controller, Duration::from_millis(50));
    }
    assert!(got.iter().any(|m| m.addr == "/hypna/param/zoom"), "{got:?}");
}

#[test]
fn audio_echo_when_enabled() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let controller = client();
    let target = feedback_to(&controller);
    let audio = hypna::osc::AudioEcho {
        level: 0.5,
        bands: vec![0.1, 0.2, 0.3],
        beat: true,
        bpm: 120.0,
    };
    // Off by default: nothing is sent.
    let mut h = server_with(&OscConfig {
        feedback: vec![Clone::clone(&target)],
        ..loopback_config()
    });
    h.feedback_audio(&audio, Instant::now());
    assert!(recv_for(&controller, Duration::from_millis(100)).is_empty());
    drop(h);

    let mut h = server_with(&OscConfig {
        feedback: vec![target],
        echo_audio: true,
        feedback_rate_hz: 10.0,
        ..loopback_config()
    });
    let t0 = Instant::now();
    h.feedback_audio(&audio, t0);
    // Within the interval: held back, but its beat is remembered for the next send.
    let quiet = hypna::osc::AudioEcho {
        beat: false,
        ..audio.clone()
    };
    h.feedback_audio(&audio, t0 + Duration::from_millis(10));
    h.feedback_audio(&quiet, t0 + Duration::from_millis(150));
    h.feedback_audio(&quiet, t0 + Duration::from_millis(300));
    let got = recv_until(&controller, |m| {
        m.iter().filter(|m| m.addr == "/hypna/audio/bpm").count() >= 3
    });
    let beats: Vec<_> = got
        .iter()
        .filter(|m| m.addr == "/hypna/audio/beat")
        .map(|m| m.args.clone())
        .collect();
    assert_eq!(
        beats,
        vec![
            vec![OscType::Int(1)],
            vec![OscType::Int(1)],
            vec![OscType::Int(0)]
        ]
    );
    let bands = got.iter().find(|m| m.addr == "/hypna/audio/bands").unwrap();
    assert_eq!(bands.args.len(), 3);
}

#[test]
fn the_handle_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<hypna::osc::OscHandle>();
}
