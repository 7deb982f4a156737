//! Hostile and broken input over real UDP: every case is dropped and counted, nothing
//! panics, and the server keeps answering afterwards.

use crate::osc_support;

use std::time::{Duration, Instant};

use hypna::osc::{Counter, OscConfig, OscHandle};
use osc_support::*;
use rosc::{OscType, encoder};

/// `/hypna/param/zoom ,f 2.0` as bytes.
fn valid() -> Vec<u8> {
    encoder::encode(&f("/hypna/param/zoom", 2.0)).unwrap()
}

/// Raw bundle bytes around raw elements (for shapes rosc's encoder would not produce).
fn raw_bundle(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"#bundle\0".to_vec();
    out.extend_from_slice(&1u64.to_be_bytes());
    for e in elements {
        out.extend_from_slice(&u32::try_from(e.len()).unwrap().to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The server still turns a good message into an event.
fn still_works(h: &mut OscHandle) {
    let c = client();
    send_bytes(&c, h.local_addr(), &valid());
    assert_eq!(settle(h, &c), vec![set("zoom", 2.0)]);
}

#[test]
fn truncated_packets() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let good = valid();
    let cuts: Vec<usize> = (1..good.len()).collect();
    for &n in &cuts {
        send_bytes(&c, h.local_addr(), &good[..n]);
    }
    // A bundle whose element claims more bytes than follow.
    let mut short = raw_bundle(std::slice::from_ref(&good));
    short.truncate(short.len() - 4);
    send_bytes(&c, h.local_addr(), &short);
    assert_eq!(settle(&mut h, &c), vec![]);
    assert_eq!(h.counters().get(Counter::Malformed), cuts.len() as u64 + 1);
    still_works(&mut h);
}

#[test]
fn bad_padding_and_alignment() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let good = valid();
    // "/hypna/param/zoom" is 17 bytes: NUL at 17, padding 18..20.
    let mut nonzero = good.clone();
    nonzero[18] = b'x';
    // Type tags without their padding: every later field is misaligned.
    let mut unpadded = b"/hypna/param/zoom\0\0\0,f\0".to_vec();
    unpadded.extend_from_slice(&2f32.to_be_bytes());
    // A blob whose padding is not zero.
    let mut blob =
        encoder::encode(&msg("/hypna/param/zoom", vec![OscType::Blob(vec![1])])).unwrap();
    let n = blob.len();
    blob[n - 1] = 7;
    for p in [&nonzero, &unpadded, &blob] {
        send_bytes(&c, h.local_addr(), p);
    }
    assert_eq!(settle(&mut h, &c), vec![]);
    assert_eq!(h.counters().get(Counter::Malformed), 3);
    still_works(&mut h);
}

#[test]
fn unknown_type_tags() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    for tag in [b'x', b'S', b'$', 0xff] {
        let mut p = b"/hypna/param/zoom\0\0\0,".to_vec();
        p.extend_from_slice(&[tag, 0, 0]);
        p.extend_from_slice(&2f32.to_be_bytes());
        send_bytes(&c, h.local_addr(), &p);
    }
    assert_eq!(settle(&mut h, &c), vec![]);
    assert_eq!(h.counters().get(Counter::Malformed), 4);
}

#[test]
fn oversized_packets() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server_with(&OscConfig {
        max_packet_bytes: 512,
        ..loopback_config()
    });
    let c = client();
    let big = encoder::encode(&msg(
        "/hypna/param/zoom",
        vec![OscType::Blob(vec![0; 1000])],
    ))
    .unwrap();
    send_bytes(&c, h.local_addr(), &big);
    send_bytes(&c, h.local_addr(), &vec![0u8; 60_000]);
    assert_eq!(settle(&mut h, &c), vec![]);
    assert_eq!(h.counters().get(Counter::Oversized), 2);
    still_works(&mut h);
}

#[test]
fn unknown_addresses_and_wrong_arguments() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server();
    let c = client();
    let to = h.local_addr();
    send(&c, to, &f("/hypna/param/nope", 1.0));
    send(&c, to, &f("/something/else", 1.0));
    send(&c, to, &f("/hypna/param/n*", 1.0));
    send(&c, to, &f("/hypna/param/[zoom", 1.0)); // bad pattern
    send(
        &c,
        to,
        &msg("/hypna/param/zoom", vec![OscType::String("2.0".into())]),
    );
    send(&c, to, &msg("/hypna/param/zoom", vec![]));
    send(&c, to, &f("/hypna/param/zoom", f32::NAN));
    send(&c, to, &f("/hypna/param/zoom", f32::INFINITY));
    send(
        &c,
        to,
        &msg("/hypna/param/zoom", vec![OscType::Double(1e300)]),
    );
    send(&c, to, &msg("/hypna/param/zoom", vec![OscType::Nil]));
    send(&c, to, &msg("/hypna/scene", vec![OscType::Float(1.5)]));
    send(
        &c,
        to,
        &msg("/hypna/scene/next", vec![OscType::String("go".into())]),
    );
    assert_eq!(settle(&mut h, &c), vec![]);
    let counters = h.counters();
    assert_eq!(counters.get(Counter::UnknownAddress), 3);
    assert_eq!(counters.get(Counter::BadPattern), 1);
    assert_eq!(counters.get(Counter::WrongArgument), 8);
    assert_eq!(counters.get(Counter::Malformed), 0);
}

#[test]
fn empty_and_nested_bundles() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let mut h = server_with(&OscConfig {
        max_packet_bytes: 65_507,
        ..loopback_config()
    });
    let c = client();
    let to = h.local_addr();
    send(&c, to, &bundle(IMMEDIATELY, vec![]));
    send(
        &c,
        to,
        &bundle(IMMEDIATELY, vec![bundle(IMMEDIATELY, vec![])]),
    );
    // Eight levels are fine...
    let mut ok = f("/hypna/param/zoom", 1.5);
    for _ in 0..8 {
        ok = bundle(IMMEDIATELY, vec![ok]);
    }
    send(&c, to, &ok);
    assert_eq!(settle(&mut h, &c), vec![set("zoom", 1.5)]);
    assert_eq!(h.counters().get(Counter::Malformed), 0);
    // ...nine are not, nor the ~3000 levels a 64 KiB datagram can hold (no stack overflow).
    let mut nine = valid();
    for _ in 0..9 {
        nine = raw_bundle(&[nine]);
    }
    let mut deep = raw_bundle(&[]);
    while deep.len() + 20 < 65_000 {
        deep = raw_bundle(&[deep]);
    }
    send_bytes(&c, to, &nine);
    send_bytes(&c, to, &deep);
    // A bundle element of size 0, and an element that is not a packet.
    let mut zero = raw_bundle(&[]);
    zero.extend_from_slice(&[0; 4]);
    send_bytes(&c, to, &zero);
    send_bytes(&c, to, &raw_bundle(&[b"abcd".to_vec()]));
    assert_eq!(settle(&mut h, &c), vec![]);
    assert_eq!(h.counters().get(Counter::Malformed), 4);
    still_works(&mut h);
}

#[test]
fn a_flood_is_bounded_and_counted() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let capacity = 64;
    let mut h = server_with(&OscConfig {
        queue_capacity: capacity,
        ..loopback_config()
    });
    let c = client();
    let to = h.local_addr();
    let good = valid();
    let junk = vec![0xabu8; 64];
    // Nobody drains while the flood lasts: the socket thread must keep reading regardless.
    let start = Instant::now();
    let n = 20_000;
    for i in 0..n {
        send_bytes(&c, to, if i % 4 == 3 { &junk } else { &good });
    }
    let sending = start.elapsed();
    // Wait until the socket thread has read everything the kernel kept.
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = h.counters().get(Counter::Received);
        if now == last {
            break;
        }
        last = now;
    }
    // One drain takes at most the queue; the backlog's newest value of each param follows in
    // later drains (values of one param waiting there replace each other: `coalesced`).
    let first = h.drain(Instant::now()).count() as u64;
    let mut drained = first;
    crate::common::wait_until(
        "every datagram applied or counted",
        Duration::from_secs(10),
        || {
            drained += h.drain(Instant::now()).count() as u64;
            let c = h.counters();
            drained
                + c.get(Counter::Coalesced)
                + c.get(Counter::QueueOverflow)
                + c.get(Counter::Malformed)
                == c.get(Counter::Received)
        },
    );
    let counters = h.counters();
    let received = counters.get(Counter::Received);
    let malformed = counters.get(Counter::Malformed);
    let overflow = counters.get(Counter::QueueOverflow);
    let coalesced = counters.get(Counter::Coalesced);
    eprintln!(
        "flood: {n} sent in {sending:?}; received {received}, malformed {malformed}, first drain {first}, drained {drained}, coalesced {coalesced}, overflow {overflow}"
    );
    assert!(
        received > capacity as u64 * 4,
        "the socket thread kept reading: {received}"
    );
    assert_eq!(first, capacity as u64, "the queue is bounded");
    assert!(coalesced > 0, "a flood of one param is coalesced");
    assert_eq!(
        drained + coalesced + overflow + malformed,
        received,
        "every datagram was applied or counted"
    );
    still_works(&mut h);
}
