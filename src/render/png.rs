//! The one PNG writer: images read back from the GPU are encoded and written on a thread of
//! its own, through a bounded queue. An offline render waits for room ([`PngWriter::write`]:
//! memory stays flat, no frame is lost); the live window never waits ([`PngWriter::try_write`]:
//! a full queue drops the image and counts it).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use super::readback::ReadImage;

/// Errors from writing PNG files.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
    /// The writer stopped (after a failed write, with [`OnFailure::Stop`]).
    #[error("the PNG writer stopped")]
    Stopped,
    /// The writer thread could not be started.
    #[error("cannot start the PNG writer: {0}")]
    Thread(#[source] std::io::Error),
}

/// How the bytes of an image are to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    /// RGBA as read back, alpha included (renders).
    Rgba,
    /// What the window shows: alpha made opaque (surfaces keep no meaningful alpha), red
    /// and blue swapped when `bgra` (a BGRA surface).
    Opaque {
        /// The surface format is BGRA.
        bgra: bool,
    },
}

/// What the writer does when a file cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop: later writes fail, [`PngWriter::finish`] returns the error (renders).
    Stop,
    /// Log it and go on (the live window's screenshots and captures).
    Log,
}

struct Job {
    image: ReadImage,
    path: PathBuf,
    pixels: Pixels,
}

/// PNG files written on a thread; see the module doc.
pub struct PngWriter {
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Result<u64, PngError>>>,
    /// Images dropped by [`Self::try_write`] because the queue was full.
    dropped: u64,
}

impl PngWriter {
    /// Starts the writer with room for `queue` images waiting.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(queue: usize, on_failure: OnFailure) -> Result<Self, PngError> {
        let (tx, rx) = sync_channel(queue.max(1));
        let thread = std::thread::Builder::new()
            .name("hypna-png".into())
            .spawn(move || write_all(&rx, on_failure))
            .map_err(PngError::Thread)?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            dropped: 0,
        })
    }

    /// Queues `image` to be written to `path`, waiting for room.
    ///
    /// # Errors
    /// [`PngError::Stopped`] when the writer stopped after a failure.
    pub fn write(&self, image: ReadImage, path: PathBuf, pixels: Pixels) -> Result<(), PngError> {
        let tx = self.tx.as_ref().ok_or(PngError::Stopped)?;
        tx.send(Job {
            image,
            path,
            pixels,
        })
        .map_err(|_| PngError::Stopped)
    }

    /// Queues `image` to be written to `path` without waiting; returns false when it was
    /// dropped (the queue is full, or the writer stopped).
    pub fn try_write(&mut self, image: ReadImage, path: PathBuf, pixels: Pixels) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(Job {
            image,
            path,
            pixels,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                self.dropped += 1;
                tracing::warn!(
                    "{} not written: the PNG writer is behind ({} dropped)",
                    job.path.display(),
                    self.dropped
                );
                false
            }
        }
    }

    /// Images dropped by [`Self::try_write`] so far.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Writes everything queued, stops the thread and returns how many files were written.
    ///
    /// # Errors
    /// The first failed write (with [`OnFailure::Stop`]).
    pub fn finish(mut self) -> Result<u64, PngError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<u64, PngError> {
        // Closing the queue ends the thread once it has written what is queued.
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(PngError::Stopped),
            None => Ok(0),
        }
    }
}

impl Drop for PngWriter {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("{e}");
        }
    }
}

fn write_all(rx: &Receiver<Job>, on_failure: OnFailure) -> Result<u64, PngError> {
    let mut written = 0;
    for job in rx {
        match save(job) {
            Ok(path) => {
                written += 1;
                if on_failure == OnFailure::Log {
                    tracing::info!("saved {}", path.display());
                }
            }
            Err(e) => match on_failure {
                OnFailure::Stop => return Err(e),
                OnFailure::Log => tracing::warn!("{e}"),
            },
        }
    }
    Ok(written)
}

fn save(job: Job) -> Result<PathBuf, PngError> {
    let Job {
        mut image,
        path,
        pixels,
    } = job;
    if let Pixels::Opaque { bgra } = pixels {
        for px in image.rgba.chunks_exact_mut(4) {
            if bgra {
                px.swap(0, 2);
            }
            px[3] = 255;
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return Err(PngError::Write {
            path: path.clone(),
            source: image::ImageError::IoError(e),
        });
    }
    image::save_buffer(
        &path,
        &image.rgba,
        image.size[0],
        image.size[1],
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|source| PngError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// The file name of frame `frame` in a folder of numbered frames (`frame_00042.png`).
#[must_use]
pub fn numbered(dir: &Path, stem: &str, frame: u64) -> PathBuf {
    dir.join(format!("{stem}_{frame:05}.png"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(frame: u64) -> ReadImage {
        ReadImage {
            frame,
            size: [2, 1],
            rgba: vec![10, 20, 30, 40, 50, 60, 70, 80],
        }
    }

    #[test]
    fn images_are_written_in_the_order_asked_with_their_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let writer = PngWriter::start(2, OnFailure::Stop).unwrap();
        let raw = numbered(dir.path(), "frame", 0);
        let surface = numbered(&dir.path().join("sub"), "window", 1);
        writer.write(image(0), raw.clone(), Pixels::Rgba).unwrap();
        writer
            .write(image(1), surface.clone(), Pixels::Opaque { bgra: true })
            .unwrap();
        assert_eq!(writer.finish().unwrap(), 2);
        let a = image::open(&raw).unwrap().to_rgba8().into_raw();
        assert_eq!(a, [10, 20, 30, 40, 50, 60, 70, 80]);
        let b = image::open(&surface).unwrap().to_rgba8().into_raw();
        assert_eq!(b, [30, 20, 10, 255, 70, 60, 50, 255]);
    }

    #[test]
    fn a_failed_write_stops_a_render_writer_and_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: the write fails.
        let blocked = dir.path().join("frame_00000.png");
        std::fs::create_dir(&blocked).unwrap();
        let writer = PngWriter::start(1, OnFailure::Stop).unwrap();
        writer.write(image(0), blocked, Pixels::Rgba).unwrap();
        let e = writer.finish().unwrap_err();
        assert!(matches!(e, PngError::Write { .. }), "{e}");
    }
}
