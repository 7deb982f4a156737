//! Capture: the realtime side ([`CaptureSink`], used inside the device callback) and device
//! access behind the [`CaptureBackend`] seam ([`CpalBackend`] for real devices; tests and the
//! benchmark plug in their own).
//!
//! The callback mixes any channel count and sample format down to mono `f32` and pushes it
//! into an `rtrb` ring: no lock, no allocation, no print. When the ring is full the samples
//! that do not fit are dropped and counted. Stream errors only set atomics; the supervisor
//! thread (see [`super::engine`]) reads them, logs, and reopens the device.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use rtrb::Producer;

use super::AudioError;
use crate::scene::audio::DeviceSelector;

/// Capacity of the callback-to-analysis ring, in mono samples (1.4 s at 48 kHz): room for
/// the analysis thread to be descheduled for a long while before anything is dropped.
pub const RING_CAPACITY: usize = 1 << 16;

/// Counters shared by every connection of one engine.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Mono samples dropped because the ring was full.
    pub overflow_samples: AtomicU64,
    /// Buffer over/underruns the driver reported.
    pub xruns: AtomicU64,
    /// Other stream errors reported (including device loss).
    pub stream_errors: AtomicU64,
}

/// State of one open stream, shared between its callbacks and the supervisor.
#[derive(Debug)]
pub(crate) struct Connection {
    /// Frames delivered by the callback (for stall detection).
    pub frames: AtomicU64,
    /// The stream reported that its device is gone.
    pub lost: AtomicBool,
    /// Errors other than xruns this stream reported (for error-storm detection).
    pub errors: AtomicU64,
    pub counters: Arc<Counters>,
}

impl Connection {
    pub(crate) fn new(counters: Arc<Counters>) -> Arc<Self> {
        Arc::new(Self {
            frames: AtomicU64::new(0),
            lost: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            counters,
        })
    }
}

/// What a backend's data callback pushes samples into. Realtime-safe: every method is
/// wait-free, allocation-free and silent.
#[derive(Debug)]
pub struct CaptureSink {
    producer: Producer<f32>,
    conn: Arc<Connection>,
}

impl CaptureSink {
    pub(crate) fn new(producer: Producer<f32>, conn: Arc<Connection>) -> Self {
        Self { producer, conn }
    }

    /// Pushes interleaved frames of `channels` samples, mixed down to mono (the mean of the
    /// channels). A trailing partial frame is ignored.
    pub fn push_interleaved<T>(&mut self, data: &[T], channels: usize)
    where
        T: Copy,
        f32: FromSample<T>,
    {
        let channels = channels.max(1);
        let frames = data.len() / channels;
        let n = frames.min(self.producer.slots());
        if n < frames {
            self.conn
                .counters
                .overflow_samples
                .fetch_add((frames - n) as u64, Ordering::Relaxed);
        }
        if n > 0
            && let Ok(chunk) = self.producer.write_chunk_uninit(n)
        {
            let scale = 1.0 / channels as f32;
            let mono = data
                .chunks_exact(channels)
                .map(|f| f.iter().map(|&s| f32::from_sample_(s)).sum::<f32>() * scale);
            chunk.fill_from_iter(mono);
        }
        self.conn.frames.fetch_add(frames as u64, Ordering::Release);
    }

    /// Pushes mono samples.
    pub fn push_mono(&mut self, samples: &[f32]) {
        self.push_interleaved(samples, 1);
    }

    /// A handle for the stream's error callback.
    #[must_use]
    pub fn reporter(&self) -> ErrorReporter {
        ErrorReporter(Arc::clone(&self.conn))
    }
}

/// Kinds of stream error, as far as reconnection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamErrorKind {
    /// A buffer over- or underrun: counted, the stream goes on.
    Xrun,
    /// The device is gone or the stream is no longer valid: reopen.
    DeviceLost,
    /// Anything else: counted, the stream goes on; a stall, or a storm of these (see
    /// `engine`), still triggers a reopen.
    Other,
}

/// Reports stream errors from any thread, including the audio thread (atomics only).
#[derive(Debug, Clone)]
pub struct ErrorReporter(Arc<Connection>);

impl ErrorReporter {
    /// Records one error.
    pub fn report(&self, kind: StreamErrorKind) {
        let c = &self.0.counters;
        match kind {
            StreamErrorKind::Xrun => {
                c.xruns.fetch_add(1, Ordering::Relaxed);
            }
            StreamErrorKind::DeviceLost => {
                c.stream_errors.fetch_add(1, Ordering::Relaxed);
                self.0.errors.fetch_add(1, Ordering::Relaxed);
                self.0.lost.store(true, Ordering::Release);
            }
            StreamErrorKind::Other => {
                c.stream_errors.fetch_add(1, Ordering::Relaxed);
                self.0.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A running stream handed back by a backend.
pub struct OpenedStream {
    /// Keeps the stream running; dropping it stops the stream. The engine drops it on a
    /// throwaway thread, since closing a dead device can block.
    pub guard: Box<dyn Send>,
    /// Device name for status and logs.
    pub name: String,
    /// Sample rate of the samples pushed, Hz.
    pub sample_rate_hz: u32,
    /// Channels of the device (before the mix-down).
    pub channels: u16,
    /// Sample format of the device, for logs (`"f32"`, `"i16"`, ...).
    pub sample_format: String,
}

impl std::fmt::Debug for OpenedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedStream")
            .field("name", &self.name)
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("channels", &self.channels)
            .field("sample_format", &self.sample_format)
            .finish_non_exhaustive()
    }
}

/// Where capture streams come from. The engine's supervisor thread calls `open` to connect
/// and again, every `retry_secs`, after a loss; the stream must push into `sink` from its
/// callback and report errors through `sink.reporter()`.
pub trait CaptureBackend: Send + 'static {
    /// Opens and starts a stream on the device `selector` names.
    ///
    /// # Errors
    /// Whatever keeps the device from opening; the engine retries.
    fn open(
        &mut self,
        selector: &DeviceSelector,
        buffer_frames: Option<u32>,
        sink: CaptureSink,
    ) -> Result<OpenedStream, AudioError>;
}

/// Real devices through cpal (ALSA on Linux, `CoreAudio` on macOS, WASAPI on Windows).
#[derive(Debug, Default, Clone, Copy)]
pub struct CpalBackend;

/// An input device as `hypna devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDeviceInfo {
    /// Position in the list; `device = <index>` selects it.
    pub index: usize,
    /// Human-readable name.
    pub name: String,
    /// Backend id (for ALSA the PCM name, e.g. `hw:CARD=0,DEV=0`); names match it too.
    pub id: String,
    /// Whether this is the system default input.
    pub is_default: bool,
    /// The device's default input configuration, e.g. `2 ch, 48000 Hz, f32`, when it could be
    /// queried.
    pub default_config: Option<String>,
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map_or_else(|_| "(unnamed)".to_string(), |desc| desc.name().to_string())
}

fn device_id(d: &cpal::Device) -> String {
    d.id().map(|id| id.id().to_string()).unwrap_or_default()
}

fn cpal_error(device: &str, e: &cpal::Error) -> AudioError {
    AudioError::Device {
        device: device.to_string(),
        message: e.to_string(),
    }
}

/// Input devices of the default host, in the order `device = <index>` counts them.
///
/// # Errors
/// [`AudioError::Device`] when the host cannot enumerate devices.
pub fn list_input_devices() -> Result<Vec<InputDeviceInfo>, AudioError> {
    let host = cpal::default_host();
    let default_id = host.default_input_device().map(|d| device_id(&d));
    let devices = host
        .input_devices()
        .map_err(|e| cpal_error("(enumeration)", &e))?;
    Ok(devices
        .enumerate()
        .map(|(index, d)| {
            let id = device_id(&d);
            InputDeviceInfo {
                index,
                name: device_name(&d),
                is_default: default_id.as_deref() == Some(id.as_str()),
                id,
                default_config: d.default_input_config().ok().map(|c| {
                    format!(
                        "{} ch, {} Hz, {}",
                        c.channels(),
                        c.sample_rate(),
                        c.sample_format()
                    )
                }),
            }
        })
        .collect())
}

/// Finds the device `selector` names among `candidates` `(name, id)`: the index, else an exact
/// (case-insensitive) name or id, else the first substring match.
#[must_use]
pub fn select_device(selector: &DeviceSelector, candidates: &[(String, String)]) -> Option<usize> {
    match selector {
        DeviceSelector::Index(i) => (*i < candidates.len()).then_some(*i),
        DeviceSelector::Name(wanted) => {
            let w = wanted.to_lowercase();
            candidates
                .iter()
                .position(|(n, id)| n.to_lowercase() == w || id.to_lowercase() == w)
                .or_else(|| {
                    candidates.iter().position(|(n, id)| {
                        n.to_lowercase().contains(&w) || id.to_lowercase().contains(&w)
                    })
                })
        }
    }
}

fn find_device(host: &cpal::Host, selector: &DeviceSelector) -> Result<cpal::Device, AudioError> {
    if selector.is_default() {
        return host.default_input_device().ok_or(AudioError::NoDevice {
            selector: selector.to_string(),
            available: "no default input device".to_string(),
        });
    }
    let devices: Vec<cpal::Device> = host
        .input_devices()
        .map_err(|e| cpal_error("(enumeration)", &e))?
        .collect();
    let names: Vec<(String, String)> = devices
        .iter()
        .map(|d| (device_name(d), device_id(d)))
        .collect();
    match select_device(selector, &names).and_then(|i| devices.get(i)) {
        Some(d) => Ok(d.clone()),
        None => Err(AudioError::NoDevice {
            selector: selector.to_string(),
            available: if names.is_empty() {
                "no input devices".to_string()
            } else {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, (n, id))| format!("{i}: {n} ({id})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        }),
    }
}

fn push_typed<T>(sink: &mut CaptureSink, data: &cpal::Data, channels: usize)
where
    T: SizedSample,
    f32: FromSample<T>,
{
    if let Some(samples) = data.as_slice::<T>() {
        sink.push_interleaved(samples, channels);
    }
}

impl CaptureBackend for CpalBackend {
    fn open(
        &mut self,
        selector: &DeviceSelector,
        buffer_frames: Option<u32>,
        mut sink: CaptureSink,
    ) -> Result<OpenedStream, AudioError> {
        let host = cpal::default_host();
        let device = find_device(&host, selector)?;
        let name = device_name(&device);
        let id = device_id(&device);
        let label = if id.is_empty() || id == name {
            name.clone()
        } else {
            format!("{name} ({id})")
        };
        let supported = device
            .default_input_config()
            .map_err(|e| cpal_error(&label, &e))?;
        let format = supported.sample_format();
        let channels = supported.channels();
        let mut config = supported.config();
        if let Some(frames) = buffer_frames {
            let frames = match supported.buffer_size() {
                cpal::SupportedBufferSize::Range { min, max } => frames.clamp(*min, *max),
                cpal::SupportedBufferSize::Unknown => frames,
            };
            config.buffer_size = cpal::BufferSize::Fixed(frames);
        }
        let ch = usize::from(channels.max(1));
        let reporter = sink.reporter();
        let data_callback = move |data: &cpal::Data, _: &cpal::InputCallbackInfo| match format {
            SampleFormat::I8 => push_typed::<i8>(&mut sink, data, ch),
            SampleFormat::I16 => push_typed::<i16>(&mut sink, data, ch),
            SampleFormat::I24 => push_typed::<cpal::I24>(&mut sink, data, ch),
            SampleFormat::I32 => push_typed::<i32>(&mut sink, data, ch),
            SampleFormat::I64 => push_typed::<i64>(&mut sink, data, ch),
            SampleFormat::U8 => push_typed::<u8>(&mut sink, data, ch),
            SampleFormat::U16 => push_typed::<u16>(&mut sink, data, ch),
            SampleFormat::U24 => push_typed::<cpal::U24>(&mut sink, data, ch),
            SampleFormat::U32 => push_typed::<u32>(&mut sink, data, ch),
            SampleFormat::U64 => push_typed::<u64>(&mut sink, data, ch),
            SampleFormat::F32 => push_typed::<f32>(&mut sink, data, ch),
            SampleFormat::F64 => push_typed::<f64>(&mut sink, data, ch),
            // Rejected below before the stream is built.
            _ => {}
        };
        if matches!(
            format,
            SampleFormat::DsdU8 | SampleFormat::DsdU16 | SampleFormat::DsdU32
        ) {
            return Err(AudioError::Device {
                device: label,
                message: format!("sample format {format} is not supported"),
            });
        }
        let error_callback = move |e: cpal::Error| {
            reporter.report(match e.kind() {
                cpal::ErrorKind::Xrun => StreamErrorKind::Xrun,
                cpal::ErrorKind::DeviceNotAvailable
                | cpal::ErrorKind::StreamInvalidated
                | cpal::ErrorKind::DeviceChanged => StreamErrorKind::DeviceLost,
                _ => StreamErrorKind::Other,
            });
        };
        let stream = device
            .build_input_stream_raw(config, format, data_callback, error_callback, None)
            .map_err(|e| cpal_error(&label, &e))?;
        stream.play().map_err(|e| cpal_error(&label, &e))?;
        Ok(OpenedStream {
            guard: Box::new(stream),
            name: label,
            sample_rate_hz: config.sample_rate,
            channels,
            sample_format: format.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtrb::RingBuffer;

    fn sink(capacity: usize) -> (CaptureSink, rtrb::Consumer<f32>, Arc<Connection>) {
        let (p, c) = RingBuffer::new(capacity);
        let conn = Connection::new(Arc::new(Counters::default()));
        (CaptureSink::new(p, Arc::clone(&conn)), c, conn)
    }

    fn drain(c: &mut rtrb::Consumer<f32>) -> Vec<f32> {
        let mut v = Vec::new();
        while let Ok(x) = c.pop() {
            v.push(x);
        }
        v
    }

    #[test]
    fn mixes_every_format_down_to_mono() {
        let (mut s, mut c, _) = sink(64);
        s.push_interleaved(&[i16::MAX, 0, i16::MIN, i16::MIN], 2);
        let v = drain(&mut c);
        assert!(
            (v[0] - 0.5).abs() < 1e-3 && (v[1] + 1.0).abs() < 1e-6,
            "{v:?}"
        );
        s.push_interleaved(&[u16::MAX, 32768u16, 32768u16, 32768u16], 2);
        let v = drain(&mut c);
        assert!((v[0] - 0.5).abs() < 1e-3 && v[1].abs() < 1e-6, "{v:?}");
        s.push_interleaved(&[0.25f32, 0.75, -0.5], 3);
        let v = drain(&mut c);
        assert_eq!(v.len(), 1);
        assert!((v[0] - 1.0 / 6.0).abs() < 1e-6, "{v:?}");
        s.push_interleaved(&[cpal::I24::new(1 << 22).unwrap_or_default()], 1);
        assert!((drain(&mut c)[0] - 0.5).abs() < 1e-3);
        s.push_interleaved(&[0.5f64, 0.5], 1);
        assert_eq!(drain(&mut c), vec![0.5, 0.5]);
        s.push_interleaved(&[0u8, 128u8], 1);
        let v = drain(&mut c);
        assert!((v[0] + 1.0).abs() < 1e-6 && v[1].abs() < 1e-6, "{v:?}");
    }

    #[test]
    fn overflow_is_counted_not_blocking() {
        let (mut s, mut c, conn) = sink(4);
        s.push_mono(&[0.1; 10]);
        assert_eq!(drain(&mut c).len(), 4);
        assert_eq!(conn.counters.overflow_samples.load(Ordering::Relaxed), 6);
        assert_eq!(conn.frames.load(Ordering::Relaxed), 10);
        s.reporter().report(StreamErrorKind::DeviceLost);
        assert!(conn.lost.load(Ordering::Relaxed));
    }

    #[test]
    fn selection_prefers_exact_then_substring() {
        let c = vec![
            ("Built-in Mic".to_string(), "hw:0".to_string()),
            ("USB Mic".to_string(), "hw:1".to_string()),
            ("usb".to_string(), "hw:2".to_string()),
        ];
        assert_eq!(
            select_device(&DeviceSelector::Name("USB".into()), &c),
            Some(2)
        );
        assert_eq!(
            select_device(&DeviceSelector::Name("mic".into()), &c),
            Some(0)
        );
        assert_eq!(
            select_device(&DeviceSelector::Name("hw:1".into()), &c),
            Some(1)
        );
        assert_eq!(select_device(&DeviceSelector::Index(1), &c), Some(1));
        assert_eq!(select_device(&DeviceSelector::Index(3), &c), None);
        assert_eq!(select_device(&DeviceSelector::Name("zzz".into()), &c), None);
    }
}
