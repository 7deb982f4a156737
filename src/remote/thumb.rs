//! The thumbnail encoder (`hypna-thumb`): read-back frames in through a queue of one (a frame
//! offered while the last is still being encoded is dropped and counted), JPEG out into the
//! latest-thumbnail cell that `GET /thumbnail.jpg` serves. The frame loop only hands over a
//! buffer; scaling and encoding happen here.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, PoisonError};

use image::ExtendedColorType;
use image::codecs::jpeg::JpegEncoder;

use super::snapshot::RemoteCounters;
use super::{RemoteError, Shared};

/// JPEG quality (1..100).
const QUALITY: u8 = 70;

/// One encoded thumbnail.
#[derive(Debug)]
pub(crate) struct Jpeg {
    /// The JPEG file.
    pub(crate) bytes: Vec<u8>,
}

/// The frame loop's end of the encoder thread.
pub(super) struct Encoder {
    tx: SyncSender<([u32; 2], Vec<u8>)>,
}

impl Encoder {
    pub(super) fn start(shared: Arc<Shared>) -> Result<Self, RemoteError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("hypna-thumb".into())
            .spawn(move || encode_loop(&rx, &shared))
            .map_err(|e| RemoteError::Thread("hypna-thumb", e))?;
        Ok(Self { tx })
    }

    /// Queues a frame unless the encoder is busy.
    pub(super) fn offer(&self, size: [u32; 2], rgba: Vec<u8>, counters: &RemoteCounters) {
        match self.tx.try_send((size, rgba)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                RemoteCounters::bump(&counters.thumbnails_dropped);
            }
        }
    }
}

/// Encodes frames until the handle's end of the queue is dropped.
fn encode_loop(rx: &Receiver<([u32; 2], Vec<u8>)>, shared: &Shared) {
    let mut warned = false;
    while let Ok((size, rgba)) = rx.recv() {
        match encode(size, &rgba) {
            Ok(bytes) => {
                *shared
                    .thumbnail
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(Jpeg { bytes }));
                RemoteCounters::bump(&shared.counters.thumbnails);
            }
            Err(e) if !warned => {
                warned = true;
                tracing::warn!("thumbnail not encoded: {e} (reported once)");
            }
            Err(_) => {}
        }
    }
}

/// JPEG of an RGBA8 image (alpha dropped: JPEG has none).
pub(crate) fn encode(size: [u32; 2], rgba: &[u8]) -> Result<Vec<u8>, image::ImageError> {
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
        &rgb,
        size[0],
        size[1],
        ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_a_jpeg() {
        let rgba: Vec<u8> = (0..16 * 8).flat_map(|i| [i as u8, 0, 255, 255]).collect();
        let jpeg = super::encode([16, 8], &rgba).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "SOI marker");
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (16, 8));
    }
}
