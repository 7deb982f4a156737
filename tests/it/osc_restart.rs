//! A panicking OSC thread is restarted: the socket thread keeps its port and its ring, the
//! sender thread keeps its channel, and the restarts are counted in the counters and in the
//! `/hypna/status` reply.

use crate::osc_support;

use hypna::osc::{Counter, OscConfig, OscEvent, OscThread, StatusInfo};
use osc_support::*;
use rosc::OscType;

#[test]
fn the_socket_thread_is_restarted_on_the_same_port() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let to = h.local_addr();
    send(&c, to, &f("/hypna/param/zoom", 1.5));
    assert_eq!(settle(&mut h, &c), vec![set("zoom", 1.5)]);

    h.inject_panic(OscThread::Receive);
    assert_eq!(counter_at_least(&h, Counter::ThreadRestarts, 1), 1);
    assert_eq!(h.local_addr(), to, "the port stays bound");
    // Sent while the thread may still be in its backoff: the socket buffers it meanwhile.
    send(&c, to, &f("/hypna/param/zoom", 2.5));
    assert_eq!(settle(&mut h, &c), vec![set("zoom", 2.5)]);

    // Again: the ring and the socket survive any number of restarts.
    h.inject_panic(OscThread::Receive);
    assert_eq!(counter_at_least(&h, Counter::ThreadRestarts, 2), 2);
    send(&c, to, &f("/1/fader1", 1.0));
    assert_eq!(settle(&mut h, &c), vec![set("zoom", 3.0)]);
    let counters = h.counters();
    assert_eq!(counters.get(Counter::QueueOverflow), 0);
    assert_eq!(counters.get(Counter::ThreadRestarts), 2);
}

#[test]
fn the_sender_thread_is_restarted_and_status_reports_restarts() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let controller = client();
    let mut h = server_with(&OscConfig {
        feedback: vec![feedback_to(&controller)],
        ..loopback_config()
    });
    let c = client();
    h.inject_panic(OscThread::Receive);
    h.inject_panic(OscThread::Send);
    assert_eq!(counter_at_least(&h, Counter::ThreadRestarts, 2), 2);

    // The restarted sender still sends feedback...
    h.feedback([("zoom", 2.0)]);
    let got = recv_until(&controller, |m| {
        m.iter().any(|m| m.addr == "/hypna/param/zoom")
    });
    assert!(
        got.iter()
            .any(|m| m.addr == "/hypna/param/zoom" && m.args == vec![OscType::Float(2.0)]),
        "{got:?}"
    );

    // ...and replies, whose counters include the restarts.
    let port = controller.local_addr().unwrap().port();
    send(
        &c,
        h.local_addr(),
        &msg("/hypna/status", vec![OscType::Int(i32::from(port))]),
    );
    let events = events(&mut h, 1);
    let [OscEvent::Status { reply_to }] = events.as_slice() else {
        panic!("expected one status request, got {events:?}");
    };
    h.reply_status(*reply_to, &StatusInfo::default());
    let replies = recv_until(&controller, |m| {
        m.iter().any(|m| m.addr == "/hypna/reply/status/done")
    });
    let restarts = replies.iter().find(|m| {
        m.addr == "/hypna/reply/status/counter"
            && m.args[0] == OscType::String("osc.thread_restarts".into())
    });
    assert_eq!(
        restarts.map(|m| m.args[1].clone()),
        Some(OscType::Int(2)),
        "{replies:?}"
    );
}
