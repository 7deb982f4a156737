//! `hypna bench --osc`: how fast the OSC server takes messages, whether it loses any at a
//! sustained rate, and how long a message takes from `send` to [`OscHandle::drain`]
//! ([`run`]); then, with a scene running, how many frames a value takes from `send` to the
//! uniforms and what a flood of messages costs the frame ([`run_frames`]).
//!
//! Everything runs over UDP on 127.0.0.1 with an ephemeral port. The ingest latency is the
//! transport and hand-off alone: `drain` is polled continuously there, while the frame loop
//! polls once per frame, which adds up to one frame interval on top.

use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rosc::{OscMessage, OscPacket, OscType, encoder};

use std::path::{Path, PathBuf};

use super::{BenchError, Stats, percentile, timed_frame};
use crate::clock::Clock;
use crate::osc::{
    CounterSnapshot, OscConfig, OscError, OscEvent, OscHandle, ParamRoute, RouteTable, start,
};
use crate::render::context::Gpu;
use crate::runtime::{LoadError, OscMode, Runtime, RuntimeOptions};
use crate::scene::Scene;

/// What to measure.
#[derive(Debug, Clone)]
pub struct OscBenchOptions {
    /// Messages for the decode and ingest rate measurements.
    pub ingest_messages: u32,
    /// Rate of the sustained-load measurement, messages per second.
    pub sustained_rate_hz: u32,
    /// Length of the sustained-load measurement, seconds.
    pub sustained_secs: f32,
    /// Round trips for the latency measurement.
    pub latency_samples: u32,
}

impl Default for OscBenchOptions {
    /// 200 000 messages, 5000 messages/s for 3 s, 2000 latency samples.
    fn default() -> Self {
        Self {
            ingest_messages: 200_000,
            sustained_rate_hz: 5000,
            sustained_secs: 3.0,
            latency_samples: 2000,
        }
    }
}

/// The figures.
#[derive(Debug, Clone, Default)]
pub struct OscBenchReport {
    /// Check, decode and route in-process (no socket), messages per second.
    pub decode_msgs_per_sec: f64,
    /// Messages per second through the socket thread to `drain`, with at most
    /// [`INGEST_WINDOW`] in flight so the kernel's socket buffer never overflows.
    pub ingest_msgs_per_sec: f64,
    /// Messages sent in the ingest measurement.
    pub ingest_sent: u64,
    /// Messages of those that never reached `drain`.
    pub ingest_lost: u64,
    /// Messages sent at the sustained rate.
    pub sustained_sent: u64,
    /// Messages of those that never reached `drain`.
    pub sustained_lost: u64,
    /// The sustained rate achieved, messages per second.
    pub sustained_rate_hz: f64,
    /// Send-to-`drain` latency, median, microseconds.
    pub latency_p50_us: f64,
    /// 99th percentile, microseconds.
    pub latency_p99_us: f64,
    /// Worst, microseconds.
    pub latency_max_us: f64,
    /// The server's counters at the end.
    pub counters: CounterSnapshot,
}

/// Messages in flight at most during the ingest measurement.
pub const INGEST_WINDOW: u64 = 128;

impl fmt::Display for OscBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "OSC decode + route (in-process): {:>10.0} msg/s",
            self.decode_msgs_per_sec
        )?;
        writeln!(
            f,
            "OSC ingest over loopback:        {:>10.0} msg/s ({} sent, {} lost)",
            self.ingest_msgs_per_sec, self.ingest_sent, self.ingest_lost
        )?;
        writeln!(
            f,
            "OSC sustained {:.0} msg/s:         {} sent, {} lost",
            self.sustained_rate_hz, self.sustained_sent, self.sustained_lost
        )?;
        writeln!(
            f,
            "OSC send -> drain latency:       p50 {:.0} us, p99 {:.0} us, max {:.0} us",
            self.latency_p50_us, self.latency_p99_us, self.latency_max_us
        )?;
        write!(f, "OSC counters: {}", self.counters)
    }
}

fn encode_set(value: f32) -> Vec<u8> {
    encoder::encode(&OscPacket::Message(OscMessage {
        addr: "/hypna/param/x".into(),
        args: vec![OscType::Float(value)],
    }))
    .unwrap_or_default()
}

fn routes() -> Result<RouteTable, OscError> {
    RouteTable::new([ParamRoute {
        name: "x".into(),
        min: 0.0,
        max: 1.0e7,
        aliases: Vec::new(),
    }])
}

fn set_values(handle: &mut OscHandle) -> Vec<f32> {
    handle
        .drain(Instant::now())
        .filter_map(|e| match e {
            OscEvent::SetParam { value, .. } => Some(value),
            _ => None,
        })
        .collect()
}

/// Runs every measurement (a few seconds with the defaults).
///
/// # Errors
/// [`OscError`] when a socket cannot be bound or used.
pub fn run(options: &OscBenchOptions) -> Result<OscBenchReport, OscError> {
    let mut report = OscBenchReport {
        decode_msgs_per_sec: decode_rate(options.ingest_messages)?,
        ..OscBenchReport::default()
    };
    let config = OscConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        queue_capacity: 1 << 16,
        ..OscConfig::default()
    };
    let mut handle = start(&config, routes()?)?;
    let to = handle.local_addr();
    let sender = UdpSocket::bind("127.0.0.1:0")?;
    ingest(
        &mut handle,
        &sender,
        to,
        options.ingest_messages,
        &mut report,
    )?;
    sustained(&mut handle, &sender, to, options, &mut report)?;
    latency(
        &mut handle,
        &sender,
        to,
        options.latency_samples,
        &mut report,
    )?;
    report.counters = handle.counters();
    Ok(report)
}

fn decode_rate(messages: u32) -> Result<f64, OscError> {
    let routes = routes()?;
    let packets: Vec<Vec<u8>> = (0..64u8).map(|i| encode_set(f32::from(i))).collect();
    let start = Instant::now();
    let events = crate::osc::route_in_process(&routes, &packets, messages as usize);
    Ok(events as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

fn ingest(
    handle: &mut OscHandle,
    sender: &UdpSocket,
    to: SocketAddr,
    messages: u32,
    report: &mut OscBenchReport,
) -> Result<(), OscError> {
    let delivered = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let socket = sender.try_clone()?;
    let total = u64::from(messages);
    let packet = encode_set(1.0);
    let send_thread = {
        let delivered = Arc::clone(&delivered);
        let done = Arc::clone(&done);
        std::thread::spawn(move || -> std::io::Result<()> {
            for sent in 0..total {
                let stall_start = Instant::now();
                while sent.saturating_sub(delivered.load(Ordering::Acquire)) >= INGEST_WINDOW
                    && stall_start.elapsed() < Duration::from_millis(50)
                {
                    // Yield rather than spin: on a small machine the socket thread and the
                    // draining thread need the cores.
                    std::thread::yield_now();
                }
                socket.send_to(&packet, to)?;
            }
            done.store(true, Ordering::Release);
            Ok(())
        })
    };
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_event = start;
    let mut count = 0u64;
    loop {
        let n = set_values(handle).len() as u64;
        if n > 0 {
            count += n;
            delivered.store(count, Ordering::Release);
            last_progress = Instant::now();
            last_event = last_progress;
        } else {
            std::thread::yield_now();
        }
        let finished = done.load(Ordering::Acquire) || send_thread.is_finished();
        if count >= total || (finished && last_progress.elapsed() > Duration::from_millis(300)) {
            break;
        }
    }
    send_thread
        .join()
        .map_err(|_| std::io::Error::other("the send thread panicked"))??;
    report.ingest_sent = total;
    report.ingest_lost = total.saturating_sub(count);
    report.ingest_msgs_per_sec =
        count as f64 / last_event.duration_since(start).as_secs_f64().max(1e-9);
    Ok(())
}

fn sustained(
    handle: &mut OscHandle,
    sender: &UdpSocket,
    to: SocketAddr,
    options: &OscBenchOptions,
    report: &mut OscBenchReport,
) -> Result<(), OscError> {
    let rate = f64::from(options.sustained_rate_hz.max(1));
    let total = (rate * f64::from(options.sustained_secs.max(0.0))).round() as u64;
    let packet = encode_set(2.0);
    let socket = sender.try_clone()?;
    let send_thread = std::thread::spawn(move || -> std::io::Result<(u64, Duration)> {
        let start = Instant::now();
        let mut sent = 0u64;
        while sent < total {
            let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
            while sent < due {
                socket.send_to(&packet, to)?;
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok((sent, start.elapsed()))
    });
    let mut count = 0u64;
    let mut quiet_since = Instant::now();
    loop {
        let n = set_values(handle).len() as u64;
        if n > 0 {
            count += n;
            quiet_since = Instant::now();
        }
        // A frame loop's cadence, roughly: the queue has to hold what arrives in between.
        std::thread::sleep(Duration::from_millis(2));
        if send_thread.is_finished() && quiet_since.elapsed() > Duration::from_millis(300) {
            break;
        }
    }
    let (sent, took) = send_thread
        .join()
        .map_err(|_| std::io::Error::other("the send thread panicked"))??;
    report.sustained_sent = sent;
    report.sustained_lost = sent.saturating_sub(count);
    report.sustained_rate_hz = sent as f64 / took.as_secs_f64().max(1e-9);
    Ok(())
}

fn latency(
    handle: &mut OscHandle,
    sender: &UdpSocket,
    to: SocketAddr,
    samples: u32,
    report: &mut OscBenchReport,
) -> Result<(), OscError> {
    let mut micros = Vec::with_capacity(samples as usize);
    for i in 0..samples {
        let value = 1000.0 + i as f32;
        let packet = encode_set(value);
        let sent_at = Instant::now();
        sender.send_to(&packet, to)?;
        loop {
            if set_values(handle).contains(&value) {
                micros.push(sent_at.elapsed().as_secs_f64() * 1e6);
                break;
            }
            if sent_at.elapsed() > Duration::from_millis(200) {
                break; // lost; shows as a missing sample, not as a hang
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((micros.len().saturating_sub(1)) as f64 * q).round() as usize;
        micros.get(i).copied().unwrap_or(f64::NAN)
    };
    report.latency_p50_us = at(0.5);
    report.latency_p99_us = at(0.99);
    report.latency_max_us = micros.last().copied().unwrap_or(f64::NAN);
    Ok(())
}

/// Frame-level OSC figures: how soon a value reaches the uniforms, and what a message flood
/// costs the frame.
#[derive(Debug, Clone)]
pub struct OscFrameReport {
    /// The scene measured.
    pub scene: PathBuf,
    /// Its render size.
    pub size: [u32; 2],
    /// The adapter.
    pub adapter: String,
    /// Frame times without OSC traffic, ms.
    pub frames_quiet: Stats,
    /// Frame times while 5,000 messages/s arrive, ms.
    pub frames_loaded: Stats,
    /// For each probe: frames started after the send up to the first whose uniforms carried
    /// the value (1 = the next frame after the send).
    pub latency_frames: Vec<f64>,
    /// For each probe: milliseconds from the send to the start of that frame.
    pub latency_ms: Vec<f64>,
    /// Messages the server counted as received during the run.
    pub received: u64,
    /// CPU time the benchmark's own sender thread used during the loaded phases, ms (Linux;
    /// 0 elsewhere): on a machine with few cores it competes with the frame.
    pub sender_cpu_ms: f64,
    /// CPU time hypna's OSC receive thread (`hypna-osc-rx`: decode, route, queue) used
    /// during the loaded phases, ms (Linux; 0 elsewhere): the server's own cost, off the
    /// frame thread but on the same cores.
    pub receiver_cpu_ms: f64,
    /// Wall time of the loaded phases, ms.
    pub loaded_wall_ms: f64,
}

/// CPU time of the calling thread in nanoseconds (Linux: `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU time of this process's threads named `name` in nanoseconds (Linux: each thread's
/// `schedstat`; 0 elsewhere).
fn named_threads_cpu_ns(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|t| {
            std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| {
                    s.split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .sum()
}

impl OscFrameReport {
    /// The OSC receive thread's CPU time over the loaded wall time (share of one core).
    #[must_use]
    pub fn receiver_share(&self) -> f64 {
        self.receiver_cpu_ms / self.loaded_wall_ms.max(1e-9)
    }

    /// The sender's CPU time over the loaded wall time: the share of one core the benchmark's
    /// own sender took from the machine while the loaded frames were measured.
    #[must_use]
    pub fn sender_share(&self) -> f64 {
        self.sender_cpu_ms / self.loaded_wall_ms.max(1e-9)
    }

    /// Mean loaded frame time over mean quiet frame time.
    #[must_use]
    pub fn load_ratio(&self) -> f64 {
        self.frames_loaded.mean_ms / self.frames_quiet.mean_ms.max(1e-9)
    }

    /// The 99th percentile of `latency_frames`.
    #[must_use]
    pub fn latency_p99_frames(&self) -> f64 {
        percentile(&self.latency_frames, 0.99)
    }
}

impl fmt::Display for OscFrameReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench --osc (frames): {} at {}x{} on {}",
            self.scene.display(),
            self.size[0],
            self.size[1],
            self.adapter
        )?;
        writeln!(
            f,
            "  send -> uniforms: p99 {:.0} frame(s), max {:.0} (goal: at most 1 at p99; {} probes); {:.1} ms mean",
            self.latency_p99_frames(),
            self.latency_frames.iter().copied().fold(0.0, f64::max),
            self.latency_frames.len(),
            Stats::of(&self.latency_ms).mean_ms
        )?;
        write!(
            f,
            "  frame mean quiet {:.2} ms, under 5,000 msg/s {:.2} ms: ratio {:.3} (goal <= 1.05); {} messages received",
            self.frames_quiet.mean_ms,
            self.frames_loaded.mean_ms,
            self.load_ratio(),
            self.received
        )?;
        write!(
            f,
            "\n  the benchmark's own sender used {:.1} ms of CPU in {:.1} ms of loaded frames: {:.1} % of one core, taken from the frame on a machine with few cores ({} cores here)",
            self.sender_cpu_ms,
            self.loaded_wall_ms,
            self.sender_share() * 100.0,
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        )?;
        write!(
            f,
            "\n  hypna's OSC receive thread used {:.1} ms of CPU in the same time: {:.1} % of one core",
            self.receiver_cpu_ms,
            self.receiver_share() * 100.0
        )
    }
}

/// Runs `scene` live with OSC on an ephemeral loopback port: quiet and loaded phases
/// alternate (a sender thread pushes `rate_hz` messages/s to a param during loaded phases),
/// and `probes` single messages measure send-to-uniform latency in frames.
///
/// # Errors
/// When the scene does not load or has no params.
pub fn run_frames(
    gpu: &Gpu,
    scene: &Path,
    size: [u32; 2],
    frames: u32,
    rounds: u32,
    probes: u32,
) -> Result<OscFrameReport, BenchError> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let scene_def = Scene::read(scene).map_err(LoadError::from)?;
    let Some(param) = scene_def.params.first().cloned() else {
        return Err(BenchError::Unsupported(format!(
            "{} has no params to drive",
            scene.display()
        )));
    };
    let options = RuntimeOptions {
        size: Some(size),
        osc: OscMode::On {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            settings: None,
        },
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::new(gpu, scene_def, &options)?;
    let Some((addr, _)) = runtime.osc_status() else {
        return Err(BenchError::Unsupported(
            "the OSC server did not start".into(),
        ));
    };
    let address = format!("/hypna/param/{}", param.name);
    let encode = |value: f32| {
        rosc::encoder::encode(&rosc::OscPacket::Message(rosc::OscMessage {
            addr: address.clone(),
            args: vec![rosc::OscType::Float(value)],
        }))
        .unwrap_or_default()
    };
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Unsupported(e.to_string()))?;
    let mut clock = Clock::real();
    let mut frame = |runtime: &mut Runtime| timed_frame(gpu, runtime, &mut clock, "bench.osc");
    for _ in 0..5 {
        frame(&mut runtime);
    }
    // Latency probes from their own thread at random moments (a controller does not know
    // the frame phase): each value is timed from its send to the start of the first frame
    // whose uniforms carry it, in units of the mean frame time.
    let probe: Arc<std::sync::Mutex<Option<(f32, Instant)>>> =
        Arc::new(std::sync::Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let probe_thread = {
        let probe = Arc::clone(&probe);
        let done = Arc::clone(&done);
        let socket = socket
            .try_clone()
            .map_err(|e| BenchError::Unsupported(e.to_string()))?;
        let (min, max) = (param.min, param.max);
        let packets: Vec<(f32, Vec<u8>)> = (0..17)
            .map(|k| {
                let v = min + (max - min) * (0.1 + 0.8 * (k as f32 / 16.0));
                (v, encode(v))
            })
            .collect();
        std::thread::spawn(move || {
            let mut seed: u64 = 0x5eed;
            for i in 0..probes as usize {
                // Wait 100..300 ms, pseudo-randomly, so sends land anywhere in a frame.
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                std::thread::sleep(std::time::Duration::from_millis(100 + (seed >> 33) % 200));
                let (v, bytes) = &packets[i % packets.len()];
                if let Ok(mut slot) = probe.lock() {
                    *slot = Some((*v, Instant::now()));
                }
                if let Err(e) = socket.send_to(bytes, addr) {
                    tracing::debug!("OSC probe not sent: {e}");
                }
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    let mut latency_ms = Vec::new();
    let mut latency_frames = Vec::new();
    // Frames started since the pending probe was sent.
    let mut started_since_send = 0u32;
    let mut current: Option<Instant> = None;
    while !done.load(Ordering::Relaxed) {
        let pending = probe.lock().ok().and_then(|slot| *slot);
        if pending.map(|(_, sent)| sent) != current {
            current = pending.map(|(_, sent)| sent);
            started_since_send = 0;
        }
        let started = Instant::now();
        if current.is_some_and(|sent| started >= sent) {
            started_since_send += 1;
        }
        frame(&mut runtime);
        if let Some((value, sent)) = pending
            && started >= sent
            && runtime
                .params()
                .targets()
                .any(|(name, v)| name == param.name && (v - value).abs() < 1e-6)
        {
            latency_ms.push(started.saturating_duration_since(sent).as_secs_f64() * 1e3);
            latency_frames.push(f64::from(started_since_send));
            if let Ok(mut slot) = probe.lock() {
                *slot = None;
            }
        }
    }
    if probe_thread.join().is_err() {
        return Err(BenchError::Setup("the probe thread panicked".into()));
    }
    // Load: quiet and loaded phases alternate.
    let (mut quiet, mut loaded) = (Vec::new(), Vec::new());
    let (mut sender_cpu_ns, mut loaded_wall) = (0u64, Duration::ZERO);
    let mut receiver_cpu_ns = 0u64;
    let flood = encode(param.min);
    for _ in 0..rounds {
        for _ in 0..frames {
            quiet.push(frame(&mut runtime));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let stop = Arc::clone(&stop);
            let socket = socket
                .try_clone()
                .map_err(|e| BenchError::Unsupported(e.to_string()))?;
            let flood = flood.clone();
            std::thread::spawn(move || {
                let cpu_start = thread_cpu_ns();
                let start = Instant::now();
                let mut sent: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    // 5,000 messages per second, paced in small batches.
                    let due = (start.elapsed().as_secs_f64() * 5000.0) as u64;
                    while sent < due {
                        // A full socket buffer drops the message: that is the flood.
                        drop(socket.send_to(&flood, addr));
                        sent += 1;
                    }
                    std::thread::sleep(std::time::Duration::from_micros(500));
                }
                thread_cpu_ns().saturating_sub(cpu_start)
            })
        };
        let phase = Instant::now();
        let receiver_start = named_threads_cpu_ns(crate::osc::RX_THREAD);
        for _ in 0..frames {
            loaded.push(frame(&mut runtime));
        }
        loaded_wall += phase.elapsed();
        receiver_cpu_ns +=
            named_threads_cpu_ns(crate::osc::RX_THREAD).saturating_sub(receiver_start);
        stop.store(true, Ordering::Relaxed);
        match sender.join() {
            Ok(ns) => sender_cpu_ns += ns,
            Err(_) => return Err(BenchError::Setup("the flood thread panicked".into())),
        }
    }
    let received = runtime
        .osc_status()
        .map_or(0, |(_, c)| c.get(crate::osc::Counter::Received));
    Ok(OscFrameReport {
        scene: scene.to_path_buf(),
        size,
        adapter: gpu.describe(),
        frames_quiet: Stats::of(&quiet),
        frames_loaded: Stats::of(&loaded),
        latency_frames,
        latency_ms,
        received,
        sender_cpu_ms: sender_cpu_ns as f64 / 1e6,
        receiver_cpu_ms: receiver_cpu_ns as f64 / 1e6,
        loaded_wall_ms: loaded_wall.as_secs_f64() * 1e3,
    })
}
