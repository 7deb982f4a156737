//! The real capture path: cpal -> ALSA -> the ALSA `file` plugin reading a generated file, so
//! the device code (enumeration, name selection, format conversion, the callback, the
//! supervisor) runs without a sound card.
//!
//! ALSA reads its configuration once per process, from `ALSA_CONFIG_PATH`. Setting that
//! variable in-process would need `unsafe` (forbidden here), so each test re-runs the test
//! binary for itself with the variable set (`common::alone`), and the child does the work.

#![cfg(target_os = "linux")]

use crate::audio_support;
use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hypna::audio::{
    AudioConfig, AudioEngine, CaptureStatus, DeviceSelector, FeaturesReader, TrackerKind,
    list_input_devices,
};

const CHILD_ENV: &str = "HYPNA_AUDIO_ALSA_DIR";

/// In the parent: writes the ALSA configuration from `alsa_conf(dir)` and runs `test` in a
/// child with `ALSA_CONFIG_PATH` pointing at it. Returns `None`; in the child returns the dir.
fn in_child(test: &str, alsa_conf: impl Fn(&Path) -> String) -> Option<PathBuf> {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        return Some(PathBuf::from(dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("asound.conf");
    std::fs::write(&conf, alsa_conf(dir.path())).unwrap();
    let Some(system) = audio_support::system_alsa_conf() else {
        common::prerequisite(test, "alsa.conf", false, "apt-get install libasound2-dev");
        return None;
    };
    // The child measures real-time capture: no render may run meanwhile.
    common::take_turn(common::Turn::Timing);
    let alsa_config_path = format!("{system}:{}", conf.display());
    common::alone(
        &format!("audio_capture::{test}"),
        &[
            (CHILD_ENV, dir.path().as_os_str()),
            ("ALSA_CONFIG_PATH", std::ffi::OsStr::new(&alsa_config_path)),
        ],
    );
    None
}

/// Raw `S16_LE` stereo 48 kHz: a 1 kHz tone with a loud burst every 0.25 s.
fn write_input(path: &Path, secs: f64) {
    let rate = 48_000u32;
    let tone = audio_support::sine(1000.0, 0.3, secs, rate);
    let mut noise = audio_support::Noise::new(3);
    let mut bytes = Vec::with_capacity(tone.len() * 4);
    for (i, t) in tone.iter().enumerate() {
        let in_burst = i % 12_000 < 600;
        let v = if in_burst { 0.6 * noise.sample() } else { *t };
        let s = (v * 32767.0) as i16;
        bytes.extend_from_slice(&s.to_le_bytes());
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn wait_for(
    reader: &mut FeaturesReader,
    engine: &AudioEngine,
    what: &str,
    timeout: Duration,
    mut done: impl FnMut(&AudioEngine, &hypna::audio::AudioFeatures) -> bool,
) -> Duration {
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    loop {
        let t = Instant::now();
        let f = reader.latest().clone();
        longest = longest.max(t.elapsed());
        if done(engine, &f) {
            return longest;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out waiting for {what}: {:?}, {:?}, level {}",
            engine.status(),
            engine.stats(),
            f.level
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn connected(e: &AudioEngine) -> bool {
    matches!(e.status(), CaptureStatus::Connected { .. })
}

/// The loudest band of the newest features.
fn loudest_band(f: &hypna::audio::AudioFeatures) -> usize {
    f.active_bands()
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

#[test]
fn alsa_file_plugin_drives_the_capture_path() {
    let Some(dir) = in_child("alsa_file_plugin_drives_the_capture_path", |d| {
        audio_support::alsa_file_pcm_conf(&d.join("in.raw"), Path::new("/dev/null"))
    }) else {
        return;
    };
    write_input(&dir.join("in.raw"), 4.0);

    let devices = list_input_devices().unwrap();
    let ours = devices
        .iter()
        .find(|d| d.id == "hypna_test")
        .unwrap_or_else(|| panic!("hypna_test not listed: {devices:?}"));
    assert_eq!(ours.name, "hypna test input");

    for selector in [
        DeviceSelector::Name("HYPNA TEST".into()),
        DeviceSelector::Index(ours.index),
        DeviceSelector::default(),
    ] {
        let config = AudioConfig {
            device: selector.clone(),
            buffer_frames: Some(256),
            // Engine mechanics: the cheap classic tracker keeps debug builds in real time.
            tracker: Some(TrackerKind::Classic),
            ..AudioConfig::default()
        };
        let engine = AudioEngine::start(&config).unwrap();
        let mut reader = engine.reader();
        let mut saw_tone = false;
        let mut saw_onset = false;
        wait_for(
            &mut reader,
            &engine,
            "features to move",
            Duration::from_secs(10),
            |e, f| {
                // 1 kHz lies in band 4 of the default 8 (30 Hz..16 kHz).
                saw_tone |= f.level > 0.05 && loudest_band(f) == 4;
                saw_onset |= f.onset_count > 0;
                connected(e) && saw_tone && saw_onset && e.stats().hops > 100
            },
        );
        match engine.status() {
            CaptureStatus::Connected {
                name,
                sample_rate_hz,
                ..
            } => {
                if selector.is_default() {
                    assert!(name.contains("Default"), "{name}");
                } else {
                    assert!(name.contains("hypna_test"), "{name}");
                }
                assert!(sample_rate_hz >= 8_000);
                println!("{selector}: {}", engine.status());
            }
            s => panic!("{s:?}"),
        }
        engine.stop();
    }
}

/// The capture file is a FIFO the test reads. Closing it makes every write of the plugin
/// fail, so ALSA reports errors and delivers nothing: the device is gone mid-stream. Opening it
/// again is the device coming back.
#[test]
fn alsa_device_error_mid_stream_reconnects() {
    let Some(dir) = in_child("alsa_device_error_mid_stream_reconnects", |d| {
        audio_support::alsa_file_pcm_conf(&d.join("in.raw"), &d.join("out.fifo"))
    }) else {
        return;
    };
    write_input(&dir.join("in.raw"), 4.0);
    let fifo = dir.join("out.fifo");

    // The reader of the plugin's output: drains while `open` is set, reopening after EOF.
    let open = audio_support::drain_fifo(&fifo);

    let config = AudioConfig {
        device: DeviceSelector::Name("hypna_test".into()),
        stall_secs: 0.3,
        retry_secs: 0.2,
        // Engine mechanics: the cheap classic tracker keeps debug builds in real time.
        tracker: Some(TrackerKind::Classic),
        ..AudioConfig::default()
    };
    let engine = AudioEngine::start(&config).unwrap();
    let mut reader = engine.reader();
    let mut longest = wait_for(
        &mut reader,
        &engine,
        "the first connection",
        Duration::from_secs(10),
        |e, f| connected(e) && f.level > 0.05,
    );

    // Pull the device.
    open.store(false, std::sync::atomic::Ordering::Release);
    longest = longest.max(wait_for(
        &mut reader,
        &engine,
        "the loss",
        Duration::from_secs(10),
        |e, _| matches!(e.status(), CaptureStatus::Reconnecting { .. }),
    ));
    longest = longest.max(wait_for(
        &mut reader,
        &engine,
        "silence",
        Duration::from_secs(10),
        |_, f| f.level < 0.005,
    ));
    let errors = engine.stats();
    assert!(errors.xruns + errors.stream_errors > 0, "{errors:?}");
    println!("lost: {}", engine.status());

    // Plug it back in.
    open.store(true, std::sync::atomic::Ordering::Release);
    longest = longest.max(wait_for(
        &mut reader,
        &engine,
        "the reconnection",
        Duration::from_secs(10),
        |e, f| connected(e) && f.level > 0.05 && e.stats().reconnects >= 1,
    ));
    println!(
        "back: {}, {:?}, longest read {longest:?}",
        engine.status(),
        engine.stats()
    );
    // Generous for a loaded machine; waiting on the supervisor would take 100 ms or more.
    assert!(
        longest < Duration::from_millis(50),
        "a read took {longest:?}"
    );
    drop(engine);
}
