//! WAV input: decoding, offline determinism and alignment, live playback paced in real time.
#![allow(clippy::float_cmp)] // exact zeros and exact samples are the point of these tests

use crate::audio_support;

use std::time::{Duration, Instant};

use audio_support::{drum_pattern, sine, write_wav};
use hypna::audio::{
    AudioConfig, AudioEngine, CaptureStatus, OfflineAudio, TrackerKind, decode_wav,
};

#[test]
fn decodes_int_and_float_wavs_to_mono() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let dir = tempfile::tempdir().unwrap();
    // 24-bit stereo: left +0.5, right -0.25 -> mono 0.125.
    let p24 = dir.path().join("s24.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&p24, spec).unwrap();
    for _ in 0..100 {
        w.write_sample(1i32 << 22).unwrap();
        w.write_sample(-(1i32 << 21)).unwrap();
    }
    w.finalize().unwrap();
    let (v, rate) = decode_wav(&p24).unwrap();
    assert_eq!((v.len(), rate), (100, 44_100));
    assert!(v.iter().all(|x| (x - 0.125).abs() < 1e-6), "{:?}", &v[..4]);

    // 32-bit float mono.
    let pf = dir.path().join("f32.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&pf, spec).unwrap();
    for i in 0..10 {
        w.write_sample(i as f32 / 10.0).unwrap();
    }
    w.finalize().unwrap();
    let (v, rate) = decode_wav(&pf).unwrap();
    assert_eq!(rate, 48_000);
    assert!((v[7] - 0.7).abs() < 1e-6);

    // Not a WAV: an error naming the file.
    let bad = dir.path().join("bad.wav");
    std::fs::write(&bad, b"not a wav at all").unwrap();
    let e = decode_wav(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.wav"), "{e}");
}

#[test]
fn offline_features_are_deterministic_in_any_order() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drums.wav");
    let (signal, _) = drum_pattern(6.0, 44_100, 11);
    write_wav(&path, &signal, 44_100, 2);
    let config = AudioConfig::default();
    let fps = 30.0;
    let mut a = OfflineAudio::open(&path, &config).unwrap();
    let first: Vec<_> = a.frames(fps).collect();
    assert_eq!(first.len(), 181, "frames 0..=180 of a 6 s file at 30 fps");
    assert!(first.iter().any(|f| f.onset > 0.5));
    let mut b = OfflineAudio::open(&path, &config).unwrap();
    let second: Vec<_> = b.frames(fps).collect();
    assert!(first == second, "two runs differ");
    // Out of order (jumping back restarts the analysis) gives the same frames.
    for n in [150u64, 20, 90, 20, 180] {
        assert!(
            *b.features_at_frame(n, fps) == first[n as usize],
            "frame {n}"
        );
    }
}

#[test]
fn frame_n_sees_exactly_the_audio_up_to_n_over_fps() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let rate = 48_000u32;
    let fps = 60.0;
    let mut signal = vec![0.0f32; rate as usize * 5];
    // Impulses at awkward times, and a ramp so every sample is distinguishable.
    let impulses = [0.5123, 1.7001, 2.9999, 3.9];
    for (i, s) in signal.iter_mut().enumerate() {
        *s = (i % 1000) as f32 * 1e-5;
    }
    for &t in &impulses {
        signal[(t * f64::from(rate)) as usize] = 0.9;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("impulses.wav");
    write_wav(&path, &signal, rate, 1);
    let (decoded, _) = decode_wav(&path).unwrap();
    let config = AudioConfig::default();
    let mut audio = OfflineAudio::open(&path, &config).unwrap();
    let hop = 256u64;
    let frames = (5.0 * fps) as u64;
    let mut peaks = Vec::new();
    for n in 0..frames {
        let f = audio.features_at_frame(n, fps).clone();
        // The analysis covers the audio up to n / fps, to the hop.
        let upto = n * u64::from(rate) / 60;
        assert_eq!(f.stream_pos, upto / hop * hop, "frame {n}");
        // The waveform ends with exactly the file's samples before that point.
        if f.stream_pos >= 512 {
            let end = f.stream_pos as usize;
            assert_eq!(&f.waveform[..], &decoded[end - 512..end], "frame {n}");
        }
        peaks.push(f.peak);
    }
    for &t in &impulses {
        let s = (t * f64::from(rate)) as u64;
        // The first frame whose hops include the impulse's hop.
        let hop_end = (s / hop + 1) * hop;
        let frame = (0..frames)
            .find(|&n| n * u64::from(rate) / 60 >= hop_end)
            .unwrap();
        assert!(
            frame as f64 / fps >= t
                && (frame as f64 / fps) < t + 1.0 / fps + hop as f64 / f64::from(rate),
            "impulse {t}: frame {frame}"
        );
        assert!(
            peaks[frame as usize] > 0.8,
            "impulse {t} missing at frame {frame}: {}",
            peaks[frame as usize]
        );
        assert!(
            peaks[frame as usize - 1] < 0.1,
            "impulse {t} early at frame {}",
            frame - 1
        );
    }
}

#[test]
fn live_file_plays_in_real_time() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    write_wav(&path, &sine(1000.0, 0.5, 2.0, 48_000), 48_000, 2);
    let config = AudioConfig {
        file: Some(path.clone()),
        // Engine mechanics: the cheap classic tracker keeps debug builds in real time.
        tracker: Some(TrackerKind::Classic),
        ..AudioConfig::default()
    };
    let engine = AudioEngine::start(&config).unwrap();
    assert!(matches!(
        engine.status(),
        CaptureStatus::File {
            sample_rate_hz: 48_000,
            ..
        }
    ));
    let mut reader = engine.reader();
    let start = Instant::now();
    // 1.5 s of audio analysed, then compared with the time it took.
    crate::common::wait_until("1.5 s of audio played", Duration::from_secs(10), || {
        reader.latest().stream_pos >= 72_000
    });
    let f = reader.latest().clone();
    let elapsed = start.elapsed().as_secs_f64();
    let played = f.stream_pos as f64 / 48_000.0;
    assert!(
        (played - elapsed).abs() < 0.15,
        "played {played:.3} s of audio in {elapsed:.3} s"
    );
    assert!((f.level - 0.35).abs() < 0.05, "{}", f.level);
    assert!(
        f.centroid_hz > 900.0 && f.centroid_hz < 1100.0,
        "{}",
        f.centroid_hz
    );
    // Looping: still playing after the 2 s file ended.
    crate::common::wait_until("2.3 s of audio played", Duration::from_secs(10), || {
        reader.latest().stream_pos >= 110_400
    });
    assert!(reader.latest().level > 0.3);
    assert_eq!(engine.stats().overflow_samples, 0);
    engine.stop();
}

#[test]
fn a_missing_file_is_an_error_at_start() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let config = AudioConfig {
        file: Some("/nonexistent/song.wav".into()),
        // Engine mechanics: the cheap classic tracker keeps debug builds in real time.
        tracker: Some(TrackerKind::Classic),
        ..AudioConfig::default()
    };
    let e = AudioEngine::start(&config).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/song.wav"), "{e}");
}
