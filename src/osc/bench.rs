//! `hypna bench --osc`: how fast the OSC server takes messages, whether it loses any at a
//! sustained rate, and how long a message takes from `send` to [`OscHandle::drain`].
//!
//! Everything runs over UDP on 127.0.0.1 with an ephemeral port. The latency figure is the
//! transport and hand-off alone: `drain` is polled continuously here, while the frame loop
//! polls once per frame, which adds up to one frame interval on top.

use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rosc::{OscMessage, OscPacket, OscType, encoder};

use super::counters::{CounterSnapshot, OscCounters};
use super::ingest::{Arrival, Ingest};
use super::route::{OscEvent, ParamRoute, RouteTable};
use super::{OscConfig, OscError, OscHandle, start};

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
    let counters = OscCounters::default();
    let mut ingest = Ingest::new(&counters, 60.0);
    let packets: Vec<Vec<u8>> = (0..64u8).map(|i| encode_set(f32::from(i))).collect();
    let arrival = Arrival {
        from: SocketAddr::from(([127, 0, 0, 1], 1)),
        at: Instant::now(),
        wall: SystemTime::now(),
    };
    let mut events = 0u64;
    let start = Instant::now();
    for i in 0..messages as usize {
        let p = packets
            .get(i % packets.len())
            .map_or(&[][..], Vec::as_slice);
        ingest.packet(p, arrival, &routes, &mut |_| events += 1);
    }
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
