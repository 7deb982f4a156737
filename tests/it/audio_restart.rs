//! A panicking audio thread is restarted while a reader polls like the frame loop: the
//! analysis restarts on the same ring with fresh state, the file player goes on where it was,
//! the device supervisor reopens the device; `AudioStats::thread_restarts` counts each.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use hypna::audio::synthetic::{SyntheticDevice, sine};
use hypna::audio::{
    AudioConfig, AudioEngine, AudioFeatures, AudioThread, CaptureStatus, FeaturesReader,
};

/// Polls every 5 ms until `done` holds for the engine and the newest features (or fails
/// after 5 s); returns the longest read.
fn poll_features(
    reader: &mut FeaturesReader,
    engine: &AudioEngine,
    mut done: impl FnMut(&AudioEngine, &AudioFeatures) -> bool,
) -> Duration {
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    loop {
        let t = Instant::now();
        let features = reader.latest();
        longest = longest.max(t.elapsed());
        if done(engine, features) {
            return longest;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out; status {:?}, level {}, {:?}",
            engine.status(),
            features.level,
            engine.stats()
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// [`poll_features`] on the level alone.
fn poll_until(
    reader: &mut FeaturesReader,
    engine: &AudioEngine,
    mut done: impl FnMut(&AudioEngine, f32) -> bool,
) -> Duration {
    poll_features(reader, engine, |e, f| done(e, f.level))
}

/// A looping 2 s, 440 Hz tone at 48 kHz.
fn write_tone(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in sine(440.0, 0.5, 2.0, 48_000) {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn file_engine(dir: &Path) -> AudioEngine {
    let path = dir.join("tone.wav");
    write_tone(&path);
    AudioEngine::start(&AudioConfig {
        file: Some(path),
        loop_file: true,
        ..AudioConfig::default()
    })
    .unwrap()
}

#[test]
fn a_panicking_analysis_restarts_on_the_same_stream() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let dir = tempfile::tempdir().unwrap();
    let engine = file_engine(dir.path());
    let mut reader = engine.reader();
    let mut longest = poll_until(&mut reader, &engine, |_, l| l > 0.3);

    for n in 1..=2 {
        engine.inject_panic(AudioThread::Analysis);
        // Readers see silence, not a frozen value, while it waits to restart...
        let l = poll_until(&mut reader, &engine, |e, _| e.stats().thread_restarts == n);
        longest = longest.max(l);
        // (the check is the wait: silence within 5 s, or poll_until fails)
        let l = poll_until(&mut reader, &engine, |_, l| l < 0.01);
        longest = longest.max(l);
        // ...then the fresh analysis reads the same ring: the tone comes back and time moves.
        let l = poll_until(&mut reader, &engine, |_, l| l > 0.3);
        longest = longest.max(l);
        let pos = reader.latest().stream_pos;
        // (the check is the wait: the restarted analysis keeps going, or it fails)
        let l = poll_features(&mut reader, &engine, |_, f| f.stream_pos > pos);
        longest = longest.max(l);
    }
    let stats = engine.stats();
    assert_eq!(stats.thread_restarts, 2, "{stats:?}");
    // While a panic is being reported (a backtrace, when RUST_BACKTRACE asks for one, takes
    // seconds to resolve in a debug build on a busy machine) nothing drains the ring, and what
    // overflows then is counted. Once restarted, the analysis keeps the ring drained: another
    // half second of audio adds no overflow.
    let after_restarts = stats.overflow_samples;
    let pos = reader.latest().stream_pos;
    let l = poll_features(&mut reader, &engine, |_, f| f.stream_pos > pos + 24_000);
    longest = longest.max(l);
    assert_eq!(
        engine.stats().overflow_samples,
        after_restarts,
        "the restarted analysis drains the ring"
    );
    assert!(
        longest < Duration::from_millis(50),
        "a read took {longest:?}"
    );
    engine.stop();
}

#[test]
fn a_panicking_file_player_goes_on_playing() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let dir = tempfile::tempdir().unwrap();
    let engine = file_engine(dir.path());
    let mut reader = engine.reader();
    poll_until(&mut reader, &engine, |_, l| l > 0.3);
    engine.inject_panic(AudioThread::Producer);
    poll_until(&mut reader, &engine, |e, _| e.stats().thread_restarts == 1);
    // The player kept its end of the ring: 1.2 s more of audio later the tone still plays (a
    // dropped ring would go silent within a second).
    let pos = reader.latest().stream_pos;
    poll_features(&mut reader, &engine, |_, f| f.stream_pos >= pos + 57_600);
    let level = reader.latest().level;
    assert!(level > 0.3, "level {level}, {:?}", engine.stats());
    assert!(matches!(engine.status(), CaptureStatus::File { .. }));
    engine.stop();
}

#[test]
fn a_panicking_supervisor_reopens_the_device() {
    crate::common::take_turn(crate::common::Turn::Timing);
    // A device that plays a 440 Hz tone, mono f32 at 48 kHz.
    let tone = SyntheticDevice::new("Tone", sine(440.0, 0.5, 1.0, 48_000), 48_000, 256).looped();
    let opens = tone.opens();
    let engine = AudioEngine::start_with_backend(
        &AudioConfig {
            retry_secs: 0.1,
            ..AudioConfig::default()
        },
        Box::new(tone),
    )
    .unwrap();
    let mut reader = engine.reader();
    let connected = |e: &AudioEngine| matches!(e.status(), CaptureStatus::Connected { .. });
    poll_until(&mut reader, &engine, |e, l| connected(e) && l > 0.3);

    engine.inject_panic(AudioThread::Producer);
    poll_until(&mut reader, &engine, |e, _| {
        matches!(e.status(), CaptureStatus::Reconnecting { ref reason, .. } if reason.contains("panicked"))
            || e.stats().thread_restarts == 1
    });
    poll_until(&mut reader, &engine, |e, l| {
        connected(e) && l > 0.3 && opens.load(Ordering::Acquire) == 2
    });
    let stats = engine.stats();
    assert_eq!(stats.thread_restarts, 1, "{stats:?}");
    assert_eq!(stats.reconnects, 1, "{stats:?}");
    engine.stop();
}
