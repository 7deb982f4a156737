//! Senders we did not write: liblo's `oscsend` and python-osc each deliver messages that the
//! server turns into the right events. Missing tools skip (printed), or fail when
//! `HYPNA_REQUIRE_GPU=1` (CI).

use crate::osc_support;

use std::process::Command;
use std::time::{Duration, Instant};

use hypna::osc::OscEvent;
use osc_support::*;

fn runs(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

#[test]
fn oscsend_sets_params() {
    crate::common::take_turn(crate::common::Turn::Timing);
    // oscsend without arguments prints its usage and fails; it only has to exist.
    let present = Command::new("oscsend").output().is_ok();
    if !peer_available(
        "oscsend_sets_params",
        "oscsend",
        present,
        "apt-get install liblo-tools",
    ) {
        return;
    }
    let mut h = server();
    let port = h.local_addr().port().to_string();
    let send = |args: &[&str]| {
        let out = Command::new("oscsend")
            .args(["127.0.0.1", &port])
            .args(args)
            .output()
            .expect("oscsend runs");
        assert!(
            out.status.success(),
            "oscsend {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    send(&["/hypna/param/zoom", "f", "2.5"]);
    send(&["/1/rotary", "i", "127"]);
    send(&["/hypna/param/hue/norm", "d", "0.25"]);
    send(&["/hypna/scene", "s", "tunnel"]);
    send(&["/hypna/tap", "T"]);
    let got = events(&mut h, 5);
    assert_eq!(
        got,
        vec![
            set("zoom", 2.5),
            set("hue", 360.0),
            set("hue", 90.0),
            OscEvent::Scene(hypna::osc::SceneRequest::Name("tunnel".into())),
            OscEvent::Tap,
        ]
    );
}

#[test]
fn python_osc_sets_params() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let present = runs(python3().args(["-c", "import pythonosc"]));
    if !peer_available(
        "python_osc_sets_params",
        "python-osc",
        present,
        "pip install python-osc",
    ) {
        return;
    }
    let mut h = server();
    let script = format!(
        r#"
import time
from pythonosc.udp_client import SimpleUDPClient
from pythonosc import osc_bundle_builder, osc_message_builder
c = SimpleUDPClient("127.0.0.1", {port})
c.send_message("/hypna/param/zoom", 1.75)
c.send_message("/1/fader1", 1.0)
b = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
for v in (10.0, 20.0):
    m = osc_message_builder.OscMessageBuilder(address="/hypna/param/hue")
    m.add_arg(v)
    b.add_content(m.build())
c.send(b.build())
# Timed: python-osc converts Unix time to an NTP timetag itself.
t = osc_bundle_builder.OscBundleBuilder(time.time() + 0.4)
m = osc_message_builder.OscMessageBuilder(address="/hypna/param/hue")
m.add_arg(30.0)
t.add_content(m.build())
c.send(t.build())
"#,
        port = h.local_addr().port()
    );
    let started = Instant::now();
    let out = python3()
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python-osc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = events(&mut h, 5);
    assert_eq!(
        got,
        vec![
            set("zoom", 1.75),
            set("zoom", 3.0),
            set("hue", 10.0),
            set("hue", 20.0),
            set("hue", 30.0),
        ]
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "the timed bundle came after {waited:?}"
    );
}

#[test]
fn python_osc_reads_query_replies() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let present = runs(python3().args(["-c", "import pythonosc"]));
    if !peer_available(
        "python_osc_reads_query_replies",
        "python-osc",
        present,
        "pip install python-osc",
    ) {
        return;
    }
    let mut h = server();
    // The docs/osc.md recipe: ask for the replies on a port of our own, print what comes.
    let script = format!(
        r#"
import socket
from pythonosc.udp_client import SimpleUDPClient
from pythonosc.osc_message import OscMessage
replies = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
replies.bind(("127.0.0.1", 0))
replies.settimeout(3.0)
SimpleUDPClient("127.0.0.1", {port}).send_message("/hypna/query", replies.getsockname()[1])
while True:
    reply = OscMessage(replies.recvfrom(65536)[0])
    print(reply.address, reply.params)
    if reply.address == "/hypna/reply/query/done":
        break
"#,
        port = h.local_addr().port()
    );
    let child = python3()
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let got = events(&mut h, 1);
    let [OscEvent::Query { reply_to }] = got.as_slice() else {
        panic!("expected one query, got {got:?}");
    };
    h.reply_params(*reply_to, [("zoom", 2.0), ("hue", 90.0)]);
    let out = child.wait_with_output().expect("python3 finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-osc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "/hypna/reply/param ['zoom', 2.0, 1.0, 3.0]",
            "/hypna/reply/param ['hue', 90.0, 0.0, 360.0]",
            "/hypna/reply/query/done [2]",
        ]
    );
}

/// `python3` that also sees the project-local python-osc `scripts/setup.sh test` installs.
fn python3() -> Command {
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".hypna/python");
    let mut path = std::ffi::OsString::from(local);
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        path.push(":");
        path.push(existing);
    }
    let mut c = Command::new("python3");
    c.env("PYTHONPATH", path);
    c
}
