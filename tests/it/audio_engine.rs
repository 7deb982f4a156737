//! The live engine through the backend seam: a fake device that can fail, vanish, stall and
//! return, while a reader polls like the frame loop and must never wait.
#![allow(clippy::float_cmp)] // exact zeros and exact samples are the point of these tests

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hypna::audio::{
    AudioConfig, AudioEngine, AudioError, CaptureBackend, CaptureSink, CaptureStatus,
    DeviceSelector, ErrorReporter, FeaturesReader, OpenedStream, StreamErrorKind, TrackerKind,
};

/// What the fake device does.
#[derive(Default)]
struct Control {
    /// `open` fails while set (the device is unplugged).
    absent: AtomicBool,
    /// The running stream reports `DeviceLost` and stops (the device was pulled).
    pull: AtomicBool,
    /// The running stream stops pushing without any error (a hung driver).
    stall: AtomicBool,
    opens: AtomicU32,
    reporter: Mutex<Option<ErrorReporter>>,
}

struct FakeBackend(Arc<Control>);

struct FakeStream {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for FakeStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            // A panic of the fake device's thread fails the test that caused it by itself.
            drop(t.join());
        }
    }
}

impl CaptureBackend for FakeBackend {
    fn open(
        &mut self,
        selector: &DeviceSelector,
        _buffer_frames: Option<u32>,
        mut sink: CaptureSink,
    ) -> Result<OpenedStream, AudioError> {
        let c = Arc::clone(&self.0);
        if c.absent.load(Ordering::Acquire) {
            return Err(AudioError::NoDevice {
                selector: selector.to_string(),
                available: "none".into(),
            });
        }
        c.opens.fetch_add(1, Ordering::AcqRel);
        c.pull.store(false, Ordering::Release);
        c.stall.store(false, Ordering::Release);
        *c.reporter.lock().unwrap() = Some(sink.reporter());
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            // A 440 Hz tone, stereo i16, 256-frame buffers at 48 kHz, paced by the clock.
            let mut phase = 0.0f64;
            let mut buf = [0i16; 512];
            let period = Duration::from_secs_f64(256.0 / 48_000.0);
            let mut next = Instant::now();
            while !stop2.load(Ordering::Acquire) {
                if c.pull.load(Ordering::Acquire) {
                    if let Some(r) = c.reporter.lock().unwrap().as_ref() {
                        r.report(StreamErrorKind::DeviceLost);
                    }
                    return;
                }
                if !c.stall.load(Ordering::Acquire) {
                    for frame in buf.chunks_exact_mut(2) {
                        let v = (phase.sin() * 16_000.0) as i16;
                        frame[0] = v;
                        frame[1] = v;
                        phase += 2.0 * std::f64::consts::PI * 440.0 / 48_000.0;
                    }
                    sink.push_interleaved(&buf, 2);
                }
                // Like a device clock: late buffers are caught up, never skipped, so the
                // stream keeps pace with the wall clock (taps are placed by wall time).
                next += period;
                let now = Instant::now();
                if next > now {
                    thread::sleep(next - now);
                }
            }
        });
        Ok(OpenedStream {
            guard: Box::new(FakeStream {
                stop,
                thread: Some(thread),
            }),
            name: "Fake Mic".into(),
            sample_rate_hz: 48_000,
            channels: 2,
            sample_format: "i16".into(),
        })
    }
}

fn config() -> AudioConfig {
    AudioConfig {
        retry_secs: 0.1,
        stall_secs: 0.3,
        // Engine mechanics: the cheap classic tracker keeps debug builds in real time.
        tracker: Some(TrackerKind::Classic),
        ..AudioConfig::default()
    }
}

/// Polls like a 200 Hz frame loop until `done` or `timeout`; returns the longest read.
fn poll_until(
    reader: &mut FeaturesReader,
    engine: &AudioEngine,
    timeout: Duration,
    mut done: impl FnMut(&AudioEngine, f32) -> bool,
) -> Duration {
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    loop {
        let t = Instant::now();
        let level = reader.latest().level;
        longest = longest.max(t.elapsed());
        if done(engine, level) {
            return longest;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out; status {:?}, level {level}, {:?}",
            engine.status(),
            engine.stats()
        );
        thread::sleep(Duration::from_millis(5));
    }
}

fn connected(e: &AudioEngine) -> bool {
    matches!(e.status(), CaptureStatus::Connected { .. })
}

#[test]
fn a_device_error_mid_stream_reconnects_without_blocking_the_reader() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let control = Arc::new(Control::default());
    let engine =
        AudioEngine::start_with_backend(&config(), Box::new(FakeBackend(Arc::clone(&control))))
            .unwrap();
    let mut reader = engine.reader();
    let mut longest = poll_until(&mut reader, &engine, Duration::from_secs(5), |e, level| {
        connected(e) && level > 0.3
    });
    match engine.status() {
        CaptureStatus::Connected {
            name,
            sample_rate_hz,
            channels,
            ..
        } => assert_eq!(
            (name.as_str(), sample_rate_hz, channels),
            ("Fake Mic", 48_000, 2)
        ),
        s => panic!("{s:?}"),
    }

    // Unplug: the stream reports the loss, and the device stays away for a while.
    control.absent.store(true, Ordering::Release);
    control.pull.store(true, Ordering::Release);
    longest = longest.max(poll_until(
        &mut reader,
        &engine,
        Duration::from_secs(5),
        |e, _| matches!(e.status(), CaptureStatus::Reconnecting { attempts, .. } if attempts >= 2),
    ));
    // Features decay to silence meanwhile.
    longest = longest.max(poll_until(
        &mut reader,
        &engine,
        Duration::from_secs(5),
        |_, level| level < 0.01,
    ));
    assert!(reader.latest().bands.iter().all(|&b| b < 0.05));

    // Plug back in.
    control.absent.store(false, Ordering::Release);
    longest = longest.max(poll_until(
        &mut reader,
        &engine,
        Duration::from_secs(5),
        |e, level| connected(e) && level > 0.3,
    ));
    let stats = engine.stats();
    assert_eq!(stats.reconnects, 1, "{stats:?}");
    assert!(stats.stream_errors >= 1, "{stats:?}");
    assert_eq!(control.opens.load(Ordering::Acquire), 2);
    // Generous for a loaded machine; waiting on the supervisor would take 100 ms or more.
    assert!(
        longest < Duration::from_millis(50),
        "a read took {longest:?}"
    );
    engine.stop();
}

#[test]
fn a_stalled_device_is_reopened() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let control = Arc::new(Control::default());
    let engine =
        AudioEngine::start_with_backend(&config(), Box::new(FakeBackend(Arc::clone(&control))))
            .unwrap();
    let mut reader = engine.reader();
    poll_until(&mut reader, &engine, Duration::from_secs(5), |e, l| {
        connected(e) && l > 0.3
    });
    // The driver hangs, and the device is not there when the engine tries again.
    control.absent.store(true, Ordering::Release);
    control.stall.store(true, Ordering::Release);
    poll_until(&mut reader, &engine, Duration::from_secs(5), |e, _| {
        matches!(
            e.status(),
            CaptureStatus::Reconnecting { ref reason, attempts, .. }
                if reason.contains("no samples") && attempts >= 1
        )
    });
    control.absent.store(false, Ordering::Release);
    poll_until(&mut reader, &engine, Duration::from_secs(5), |e, l| {
        connected(e) && l > 0.3 && e.stats().reconnects == 1
    });
    engine.stop();
}

#[test]
fn a_missing_device_is_retried_until_it_appears() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let control = Arc::new(Control::default());
    control.absent.store(true, Ordering::Release);
    let engine =
        AudioEngine::start_with_backend(&config(), Box::new(FakeBackend(Arc::clone(&control))))
            .unwrap();
    let mut reader = engine.reader();
    poll_until(
        &mut reader,
        &engine,
        Duration::from_secs(5),
        |e, _| matches!(e.status(), CaptureStatus::Reconnecting { attempts, .. } if attempts >= 3),
    );
    // Silence is analysed meanwhile: time moves on, the phase runs, values stay zero.
    let before = reader.latest().stream_pos;
    crate::common::wait_until(
        "the analysis to keep running on silence",
        Duration::from_secs(5),
        || reader.latest().stream_pos > before,
    );
    assert_eq!(reader.latest().level, 0.0);
    control.absent.store(false, Ordering::Release);
    poll_until(&mut reader, &engine, Duration::from_secs(5), |e, l| {
        connected(e) && l > 0.3
    });
    assert_eq!(
        engine.stats().reconnects,
        0,
        "a first connection is not a reconnection"
    );
    engine.stop();
}

#[test]
fn taps_through_the_engine_set_the_tempo() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let control = Arc::new(Control::default());
    let engine =
        AudioEngine::start_with_backend(&config(), Box::new(FakeBackend(Arc::clone(&control))))
            .unwrap();
    let mut reader = engine.reader();
    poll_until(&mut reader, &engine, Duration::from_secs(5), |e, _| {
        connected(e)
    });
    let start = Instant::now();
    for i in 0..5u32 {
        let at = start + Duration::from_millis(600) * i;
        thread::sleep(at.saturating_duration_since(Instant::now()));
        engine.tap();
    }
    // Taps come from a sleeping test thread; allow for a loaded machine. The analysis
    // publishes the tapped tempo with its next hop.
    crate::common::wait_until(
        "a tapped tempo of 100 BPM with full confidence",
        Duration::from_secs(5),
        || {
            let f = reader.latest();
            (f.bpm - 100.0).abs() < 2.0 && f.bpm_confidence == 1.0
        },
    );
    engine.clear_tap();
    engine.resync();
    assert_eq!(engine.stats().dropped_controls, 0);
    engine.stop();
}
