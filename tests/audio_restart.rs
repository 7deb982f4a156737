//! A panicking audio thread is restarted while a reader polls like the frame loop: the
//! analysis restarts on the same ring with fresh state, the file player goes on where it was,
//! the device supervisor reopens the device; `AudioStats::thread_restarts` counts each.

mod audio_support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hypna::audio::{
    AudioConfig, AudioEngine, AudioError, AudioThread, CaptureBackend, CaptureSink, CaptureStatus,
    DeviceSelector, FeaturesReader, OpenedStream,
};

/// Polls every 5 ms until `done` (or fails after 5 s); returns the longest read.
fn poll_until(
    reader: &mut FeaturesReader,
    engine: &AudioEngine,
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
            start.elapsed() < Duration::from_secs(5),
            "timed out; status {:?}, level {level}, {:?}",
            engine.status(),
            engine.stats()
        );
        thread::sleep(Duration::from_millis(5));
    }
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
    for s in audio_support::sine(440.0, 0.5, 2.0, 48_000) {
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
        thread::sleep(Duration::from_millis(100));
        let later = reader.latest().stream_pos;
        assert!(
            later > pos,
            "the restarted analysis keeps going: {pos} -> {later}"
        );
    }
    let stats = engine.stats();
    assert_eq!(stats.thread_restarts, 2, "{stats:?}");
    assert_eq!(
        stats.overflow_samples, 0,
        "the ring was drained after each restart"
    );
    assert!(
        longest < Duration::from_millis(50),
        "a read took {longest:?}"
    );
    engine.stop();
}

#[test]
fn a_panicking_file_player_goes_on_playing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = file_engine(dir.path());
    let mut reader = engine.reader();
    poll_until(&mut reader, &engine, |_, l| l > 0.3);
    engine.inject_panic(AudioThread::Producer);
    poll_until(&mut reader, &engine, |e, _| e.stats().thread_restarts == 1);
    // The player kept its end of the ring: the tone goes on (a dropped ring would go silent
    // within a second).
    thread::sleep(Duration::from_millis(1200));
    let level = reader.latest().level;
    assert!(level > 0.3, "level {level}, {:?}", engine.stats());
    assert!(matches!(engine.status(), CaptureStatus::File { .. }));
    engine.stop();
}

/// A device that plays a 440 Hz tone, mono f32 at 48 kHz.
struct Tone {
    opens: Arc<AtomicU32>,
}

struct ToneStream {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for ToneStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl CaptureBackend for Tone {
    fn open(
        &mut self,
        _selector: &DeviceSelector,
        _buffer_frames: Option<u32>,
        mut sink: CaptureSink,
    ) -> Result<OpenedStream, AudioError> {
        self.opens.fetch_add(1, Ordering::AcqRel);
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let tone = audio_support::sine(440.0, 0.5, 1.0, 48_000);
            let period = Duration::from_secs_f64(256.0 / 48_000.0);
            let mut next = Instant::now();
            for chunk in tone.chunks_exact(256).cycle() {
                if stop2.load(Ordering::Acquire) {
                    return;
                }
                sink.push_mono(chunk);
                next += period;
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Ok(OpenedStream {
            guard: Box::new(ToneStream {
                stop,
                thread: Some(thread),
            }),
            name: "Tone".into(),
            sample_rate_hz: 48_000,
            channels: 1,
            sample_format: "f32".into(),
        })
    }
}

#[test]
fn a_panicking_supervisor_reopens_the_device() {
    let opens = Arc::new(AtomicU32::new(0));
    let engine = AudioEngine::start_with_backend(
        &AudioConfig {
            retry_secs: 0.1,
            ..AudioConfig::default()
        },
        Box::new(Tone {
            opens: Arc::clone(&opens),
        }),
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
