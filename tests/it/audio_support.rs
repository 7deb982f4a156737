//! Synthetic signals and scoring shared by the audio tests (the basic generators come from
//! `hypna::audio::synthetic`).
#![allow(dead_code)]

use std::f64::consts::PI;

/// The library's own generators (`hypna bench --audio` uses them too).
pub use hypna::audio::synthetic::{Noise, sine};

/// Exponential sine sweep from `f0` to `f1`.
pub fn sweep(f0: f64, f1: f64, amp: f32, secs: f64, rate: u32) -> Vec<f32> {
    let n = (secs * f64::from(rate)) as usize;
    let k = (f1 / f0).ln();
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let phase = 2.0 * PI * f0 * secs / k * ((t / secs * k).exp() - 1.0);
            (f64::from(amp) * phase.sin()) as f32
        })
        .collect()
}

/// Adds low noise at `db` dBFS RMS (uniform noise has RMS 1/sqrt(3)).
pub fn add_noise(signal: &mut [f32], db: f32, seed: u32) {
    let mut n = Noise::new(seed);
    let amp = 10f32.powf(db / 20.0) * 3f32.sqrt();
    for s in signal {
        *s += n.sample() * amp;
    }
}

/// A click track: a 3 ms burst of noise plus a 2 kHz blip, decaying in ~4 ms, every beat from
/// `first_secs`. Returns the signal and the sample index of each click.
pub fn click_track(bpm: f64, secs: f64, first_secs: f64, rate: u32) -> (Vec<f32>, Vec<u64>) {
    let n = (secs * f64::from(rate)) as usize;
    let mut v = vec![0.0f32; n];
    let period = 60.0 / bpm * f64::from(rate);
    let mut clicks = Vec::new();
    let mut noise = Noise::new(99);
    let mut t = first_secs * f64::from(rate);
    while (t as usize) < n {
        let start = t.round() as usize;
        clicks.push(start as u64);
        let len = (0.03 * f64::from(rate)) as usize;
        for j in 0..len {
            if let Some(s) = v.get_mut(start + j) {
                let tt = j as f64 / f64::from(rate);
                let env = (-tt / 0.004).exp();
                *s += (env
                    * (0.35 * f64::from(noise.sample()) + 0.35 * (2.0 * PI * 2000.0 * tt).sin()))
                    as f32;
            }
        }
        t += period;
    }
    add_noise(&mut v, -70.0, 5);
    (v, clicks)
}

/// A drum-like pattern: hits of three kinds (kick: falling sine plus click; snare: noise plus
/// tone; hat: short bright noise) at random spacing 0.12..0.6 s and loudness -30..-3 dBFS,
/// over a -60 dBFS noise floor. Returns the signal and each hit's start in seconds.
pub fn drum_pattern(secs: f64, rate: u32, seed: u32) -> (Vec<f32>, Vec<f64>) {
    let rate_hz = f64::from(rate);
    let len_total = (secs * rate_hz) as usize;
    let mut out = vec![0.0f32; len_total];
    let mut rng = Noise::new(seed);
    let mut noise = Noise::new(seed.wrapping_mul(31).wrapping_add(7));
    let mut onsets = Vec::new();
    let mut at = 0.3;
    while at < secs - 0.5 {
        onsets.push(at);
        let gain = 10f64.powf(rng.range(-30.0, -3.0) / 20.0);
        let kind = (rng.range(0.0, 3.0)) as u32;
        let start = (at * rate_hz) as usize;
        let decay = match kind {
            0 => rng.range(0.08, 0.2),
            1 => rng.range(0.05, 0.15),
            _ => rng.range(0.015, 0.05),
        };
        let len = (decay * 6.0 * rate_hz) as usize;
        let mut previous = 0.0f64;
        for j in 0..len {
            let tt = j as f64 / rate_hz;
            let env = (-tt / decay).exp();
            let sample = match kind {
                0 => {
                    let freq = 50.0 + 100.0 * (-tt / 0.02).exp();
                    (2.0 * PI * freq * tt).sin()
                        + 0.3 * f64::from(noise.sample()) * (-tt / 0.003).exp()
                }
                1 => 0.7 * f64::from(noise.sample()) + 0.4 * (2.0 * PI * 190.0 * tt).sin(),
                _ => {
                    // First difference: brightens the noise like a hat.
                    let white = f64::from(noise.sample());
                    let bright = white - previous;
                    previous = white;
                    0.5 * bright
                }
            };
            if let Some(slot) = out.get_mut(start + j) {
                *slot += (gain * env * sample) as f32;
            }
        }
        at += rng.range(0.12, 0.6);
    }
    add_noise(&mut out, -60.0, seed ^ 0x55);
    (out, onsets)
}

/// Precision, recall and F-measure of `detected` against `truth` (seconds), matching each
/// truth to at most one detection within `tolerance`.
pub fn f_measure(truth: &[f64], detected: &[f64], tolerance: f64) -> (f64, f64, f64) {
    let mut used = vec![false; detected.len()];
    let mut hits = 0usize;
    for &t in truth {
        let best = detected
            .iter()
            .enumerate()
            .filter(|(i, d)| !used[*i] && (**d - t).abs() <= tolerance)
            .min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs()));
        if let Some((i, _)) = best {
            used[i] = true;
            hits += 1;
        }
    }
    let p = if detected.is_empty() {
        0.0
    } else {
        hits as f64 / detected.len() as f64
    };
    let r = if truth.is_empty() {
        0.0
    } else {
        hits as f64 / truth.len() as f64
    };
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (p, r, f)
}

/// Writes a 16-bit PCM WAV.
pub fn write_wav(path: &std::path::Path, samples: &[f32], rate: u32, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for &s in samples {
        for _ in 0..channels {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
                .expect("write");
        }
    }
    w.finalize().expect("finalize");
}

/// A drum loop: kick on every beat, snare on beats 2 and 4, closed hats on eighths, a bass
/// note per bar, over a -50 dBFS noise floor.
pub fn drum_loop(bpm: f64, secs: f64, rate: u32) -> Vec<f32> {
    let rate_hz = f64::from(rate);
    let beat = 60.0 / bpm;
    let mut noise = Noise::new(17);
    let out: Vec<f32> = (0..(secs * rate_hz) as usize)
        .map(|i| {
            let t = i as f64 / rate_hz;
            let beat_index = (t / beat).floor();
            let in_beat = t - beat_index * beat;
            let in_eighth = t % (beat / 2.0);
            let kick = (-in_beat / 0.12).exp()
                * (2.0 * PI * (45.0 + 90.0 * (-in_beat / 0.015).exp()) * in_beat).sin();
            let snare = if beat_index as i64 % 2 == 1 {
                (-in_beat / 0.08).exp()
                    * (0.5 * f64::from(noise.sample()) + 0.3 * (2.0 * PI * 180.0 * in_beat).sin())
            } else {
                0.0
            };
            let hat = 0.15 * (-in_eighth / 0.02).exp() * f64::from(noise.sample());
            let bass = 0.15 * (2.0 * PI * 55.0 * t).sin();
            (0.5 * kick + 0.5 * snare + hat + bass) as f32
        })
        .collect();
    let mut out = out;
    add_noise(&mut out, -50.0, 23);
    out
}

/// ALSA configuration for a capture PCM named `hypna_test` (shown in device lists, and the
/// default device) that reads `infile` and writes
/// what it captured to `outfile`; `plug` converts to whatever format cpal asks for.
pub fn alsa_file_pcm_conf(infile: &std::path::Path, outfile: &std::path::Path) -> String {
    format!(
        r#"
pcm.hypna_raw {{
    type file
    slave.pcm "null"
    file "{out}"
    infile "{inp}"
    format "raw"
}}
pcm.hypna_test {{
    type plug
    slave {{ pcm "hypna_raw" format S16_LE rate 48000 channels 2 }}
    hint {{ show on description "hypna test input" }}
}}
pcm.!default "hypna_test"
"#,
        out = outfile.display(),
        inp = infile.display()
    )
}

/// The system's `alsa.conf` (to chain a test configuration after it), if ALSA is installed.
pub fn system_alsa_conf() -> Option<&'static str> {
    ["/usr/share/alsa/alsa.conf", "/etc/alsa/alsa.conf"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// Makes the FIFO `path` and starts a thread that reads (and discards) what the ALSA `file`
/// plugin writes into it while the returned flag is set, reopening it after each writer goes.
/// Clearing the flag stops reading: the plugin's writes then block, as a pulled device would.
pub fn drain_fifo(path: &std::path::Path) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::io::Read;
    use std::sync::atomic::{AtomicBool, Ordering};
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
    let open = std::sync::Arc::new(AtomicBool::new(true));
    let reading = std::sync::Arc::clone(&open);
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            if !reading.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            }
            // Blocks until a writer (the plugin) opens the FIFO.
            let Ok(mut f) = std::fs::File::open(&path) else {
                continue;
            };
            while reading.load(Ordering::Acquire) {
                match f.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    });
    open
}
