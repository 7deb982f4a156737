//! The analyser on synthetic signals: bands, silence, centroid, onsets, beats.
#![allow(clippy::float_cmp)] // exact zeros and exact samples are the point of these tests

use crate::audio_support;

use audio_support::{add_noise, click_track, drum_pattern, f_measure, sine, sweep};
use hypna::audio::{Analyzer, AudioConfig, AudioFeatures, MIN_DB, TrackerKind};

const RATE: u32 = 48_000;

/// Features after every hop.
fn run(config: &AudioConfig, rate: u32, signal: &[f32]) -> (Analyzer, Vec<AudioFeatures>) {
    let mut a = Analyzer::new(config, rate).expect("analyzer");
    let mut out = Vec::new();
    // Odd chunk sizes, as a device would deliver them.
    for chunk in signal.chunks(333) {
        a.process_with(chunk, |f| out.push(f.clone()));
    }
    (a, out)
}

fn band_edges(config: &AudioConfig) -> Vec<f64> {
    let (lo, hi) = (f64::from(config.min_hz), f64::from(config.max_hz));
    (0..=config.bands)
        .map(|b| lo * (hi / lo).powf(b as f64 / config.bands as f64))
        .collect()
}

#[test]
fn sines_land_in_their_band() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    for bands in [8usize, 16] {
        let config = AudioConfig {
            bands,
            ..AudioConfig::default()
        };
        let edges = band_edges(&config);
        for b in 0..bands {
            // The geometric centre of the band; the lowest 16-band bands are narrower than an
            // FFT bin, so those are checked with 8 bands only.
            let f = (edges[b] * edges[b + 1]).sqrt();
            if bands == 16 && b < 3 {
                continue;
            }
            let (a, _) = run(&config, RATE, &sine(f, 0.5, 1.0, RATE));
            let got = a.features().active_bands();
            let argmax = got
                .iter()
                .enumerate()
                .max_by(|x, y| x.1.total_cmp(y.1))
                .map(|(i, _)| i)
                .unwrap();
            assert_eq!(argmax, b, "{bands} bands, {f:.0} Hz: {got:?}");
            assert!(got[b] > 0.95, "{bands} bands, {f:.0} Hz: {got:?}");
            for (i, v) in got.iter().enumerate() {
                if i.abs_diff(b) >= 2 {
                    assert!(*v < 0.5, "{bands} bands, {f:.0} Hz, band {i}: {got:?}");
                }
            }
        }
    }
}

#[test]
fn sines_land_in_their_band_at_44k1() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = AudioConfig::default();
    let edges = band_edges(&config);
    for b in 0..8 {
        let f = (edges[b] * edges[b + 1]).sqrt();
        let (a, _) = run(&config, 44_100, &sine(f, 0.3, 1.0, 44_100));
        let got = a.features().active_bands();
        let argmax = got
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(i, _)| i)
            .unwrap();
        assert_eq!(argmax, b, "{f:.0} Hz: {got:?}");
    }
}

#[test]
fn silence_gives_zeros() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = AudioConfig::default();
    let (a, all) = run(&config, RATE, &vec![0.0; RATE as usize * 3]);
    for f in &all {
        assert_eq!(f.level, 0.0);
        assert_eq!(f.level_db, MIN_DB);
        assert_eq!(f.peak, 0.0);
        assert!(f.bands.iter().all(|&b| b == 0.0), "{:?}", f.bands);
        assert_eq!(f.centroid, 0.0);
        assert_eq!(f.centroid_hz, 0.0);
        assert_eq!(f.flux, 0.0);
        assert_eq!(f.onset, 0.0);
        assert_eq!(f.beat, 0.0);
        assert_eq!(f.bpm_confidence, 0.0);
        assert!(f.spectrum.iter().all(|&s| s == 0.0));
        assert!(f.waveform.iter().all(|&s| s == 0.0));
    }
    let f = a.features();
    assert_eq!((f.onset_count, f.beat_count), (0, 0));
    // The phase keeps running in silence.
    assert!(all.windows(2).any(|w| w[1].beat_phase < w[0].beat_phase));
}

#[test]
fn sound_then_silence_decays_to_exact_zeros() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = AudioConfig::default();
    let mut signal = sine(440.0, 0.5, 1.0, RATE);
    signal.extend(vec![0.0; RATE as usize * 4]);
    let (a, _) = run(&config, RATE, &signal);
    let f = a.features();
    assert_eq!(f.level, 0.0);
    assert_eq!(f.peak, 0.0);
    assert!(f.bands.iter().all(|&b| b == 0.0), "{:?}", f.bands);
    assert_eq!(f.flux, 0.0);
    assert!(f.spectrum.iter().all(|&s| s == 0.0));
}

#[test]
fn level_and_peak_are_calibrated() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = AudioConfig::default();
    let (a, _) = run(&config, RATE, &sine(1000.0, 0.5, 1.0, RATE));
    let f = a.features();
    assert!((f.level - 0.5 / 2f32.sqrt()).abs() < 0.01, "{}", f.level);
    assert!((f.level_db - (-9.03)).abs() < 0.2, "{}", f.level_db);
    assert!((f.peak - 0.5).abs() < 0.01, "{}", f.peak);
}

#[test]
fn a_sweep_moves_the_centroid_monotonically() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = AudioConfig::default();
    let signal = sweep(60.0, 12_000.0, 0.5, 6.0, RATE);
    let (_, all) = run(&config, RATE, &signal);
    // Skip the first 0.2 s (window filling, smoothing settling).
    let hops: Vec<&AudioFeatures> = all.iter().filter(|f| f.time_secs > 0.2).collect();
    for w in hops.windows(2) {
        assert!(
            w[1].centroid >= w[0].centroid - 1e-4,
            "centroid fell at {:.3} s: {} -> {}",
            w[1].time_secs,
            w[0].centroid,
            w[1].centroid
        );
    }
    let first = hops.first().unwrap();
    let last = hops.last().unwrap();
    assert!(
        first.centroid < 0.2 && last.centroid > 0.8,
        "{} .. {}",
        first.centroid,
        last.centroid
    );
    // In Hz it tracks the sweep frequency within a few percent once settled.
    let mid = hops.iter().find(|f| f.time_secs >= 3.0).unwrap();
    let expected = 60.0 * (12_000.0f64 / 60.0).powf(mid.time_secs / 6.0);
    assert!(
        (f64::from(mid.centroid_hz) / expected - 1.0).abs() < 0.06,
        "{} Hz vs {expected:.0} Hz",
        mid.centroid_hz
    );
}

#[test]
fn onsets_of_drum_patterns_score_f_at_least_0_9() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = AudioConfig::default();
    let mut scores = Vec::new();
    for seed in [1u32, 2, 3, 4] {
        let (signal, truth) = drum_pattern(15.0, RATE, seed);
        let (_, all) = run(&config, RATE, &signal);
        let mut detected = Vec::new();
        let mut count = 0;
        for f in &all {
            if f.onset_count > count {
                count = f.onset_count;
                detected.push(f.time_secs);
            }
        }
        let (p, r, fm) = f_measure(&truth, &detected, 0.05);
        scores.push((seed, truth.len(), detected.len(), p, r, fm));
    }
    for s in &scores {
        println!(
            "seed {}: {} hits, {} detected, P {:.3} R {:.3} F {:.3}",
            s.0, s.1, s.2, s.3, s.4, s.5
        );
    }
    for s in &scores {
        assert!(s.5 >= 0.9, "{scores:?}");
    }
}

/// The classic tracker (the neural one has its own tests in `tests/it/beatnet.rs`).
fn classic() -> AudioConfig {
    AudioConfig {
        tracker: Some(TrackerKind::Classic),
        ..AudioConfig::default()
    }
}

/// Beats after lock-in: events, and the phase just before and after each.
fn check_click_track(bpm: f64) {
    let config = classic();
    let (signal, clicks) = click_track(bpm, 16.0, 0.437, RATE);
    let (a, all) = run(&config, RATE, &signal);
    let hop = i64::try_from(a.hop_len()).unwrap();
    let lock_in = 6.0;
    let f = a.features();
    assert!(
        (f64::from(f.bpm) - bpm).abs() < 1.0,
        "{bpm}: estimated {}",
        f.bpm
    );
    assert!(
        f.bpm_confidence > 0.5,
        "{bpm}: confidence {}",
        f.bpm_confidence
    );

    let mut beats = Vec::new();
    for w in all.windows(2) {
        let (prev, cur) = (&w[0], &w[1]);
        if cur.time_secs < lock_in {
            continue;
        }
        assert!(
            (f64::from(cur.bpm) - bpm).abs() < 1.0,
            "{bpm}: {} at {:.2}",
            cur.bpm,
            cur.time_secs
        );
        let beat = cur.beat_count > prev.beat_count;
        let wrapped = cur.beat_phase < prev.beat_phase;
        assert_eq!(
            beat, wrapped,
            "{bpm}: beat and phase wrap disagree at {:.3} s",
            cur.time_secs
        );
        if beat {
            assert!(
                prev.beat_phase > 0.9 && cur.beat_phase < 0.1,
                "{bpm}: {} -> {}",
                prev.beat_phase,
                cur.beat_phase
            );
            beats.push(cur.stream_pos.cast_signed());
        }
    }
    let clicks: Vec<i64> = clicks
        .iter()
        .map(|&c| c.cast_signed())
        .filter(|&c| {
            c as f64 / f64::from(RATE) > lock_in + 0.1
                && (c as f64) < (signal.len() as f64 - 0.1 * f64::from(RATE))
        })
        .collect();
    let errors: Vec<i64> = clicks
        .iter()
        .map(|c| {
            beats
                .iter()
                .map(|b| b - c)
                .min_by_key(|d| d.abs())
                .unwrap_or(i64::MAX)
        })
        .collect();
    println!(
        "{bpm} BPM: estimated {:.2}, confidence {:.2}, beat - click in samples: {errors:?}",
        f.bpm, f.bpm_confidence
    );
    for e in &errors {
        assert!(
            e.abs() <= hop,
            "{bpm}: a beat is {e} samples from its click (hop {hop}): {errors:?}"
        );
    }
    assert!(
        beats.len() <= clicks.len() + 2,
        "{bpm}: {} beats for {} clicks",
        beats.len(),
        clicks.len()
    );
}

#[test]
fn click_track_90_bpm() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    check_click_track(90.0);
}

#[test]
fn click_track_120_bpm() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    check_click_track(120.0);
}

#[test]
fn click_track_140_bpm() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    check_click_track(140.0);
}

#[test]
fn tapped_tempo_holds_and_resync_moves_the_beat() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = classic();
    let mut a = Analyzer::new(&config, RATE).unwrap();
    let mut noise = vec![0.0; RATE as usize];
    add_noise(&mut noise, -40.0, 3);
    a.process(&noise);
    // Taps every 0.5 s: 120 BPM.
    for _ in 0..4 {
        let pos = a.position();
        a.tap(pos);
        a.process(&noise[..RATE as usize / 2]);
    }
    let f = a.features().clone();
    assert!((f.bpm - 120.0).abs() < 0.5, "{}", f.bpm);
    assert_eq!(f.bpm_confidence, 1.0);
    // A beat at the last tap + 0.5 s: the phase is near 0 (or 1) now.
    assert!(
        f.beat_phase < 0.05 || f.beat_phase > 0.95,
        "{}",
        f.beat_phase
    );
    let pos = a.position();
    a.resync(pos - u64::from(RATE) / 8);
    a.process(&noise[..256]);
    let phase = a.features().beat_phase;
    assert!((phase - 0.26).abs() < 0.03, "{phase}");
    a.clear_tap();
    a.process(&noise[..256]);
    assert!(a.features().bpm_confidence < 1.0);
}

#[test]
fn a_drum_loop_locks_to_its_tempo() {
    // Analysis of long signals keeps a core busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let config = classic();
    for (bpm, rate) in [
        (128.0, 44_100u32),
        (96.0, 48_000),
        (150.0, 48_000),
        (160.0, 44_100),
    ] {
        let (a, _) = run(&config, rate, &audio_support::drum_loop(bpm, 12.0, rate));
        let f = a.features();
        println!(
            "drum loop {bpm} BPM at {rate} Hz: {:.2} BPM, confidence {:.2}",
            f.bpm, f.bpm_confidence
        );
        assert!((f64::from(f.bpm) - bpm).abs() < 1.0, "{bpm}: {}", f.bpm);
        assert!(f.bpm_confidence > 0.3, "{bpm}: {}", f.bpm_confidence);
    }
}
