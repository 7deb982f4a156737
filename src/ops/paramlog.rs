//! The param log: every param change made live (OSC, the parameter panel) can be written
//! with its show time (`run --record-params`, as the runtime's [`ParamSink`]) and replayed
//! into an offline render (`render --replay-params`), so the render matches the show.
//!
//! The file is text, one change per line: `<seconds>\t<param>\t<value>`, after a `#` header.
//! Logging never blocks the frame: lines go through a bounded queue to a writer thread;
//! when the queue is full a line is dropped and counted.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use crate::runtime::ParamSink;

/// Lines waiting for the writer at most.
const QUEUE: usize = 4096;

/// Errors reading or creating a param log.
#[derive(Debug, thiserror::Error)]
pub enum ParamLogError {
    /// The file could not be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line that is not `<seconds>\t<param>\t<value>`.
    #[error("{path}:{line}: expected `<seconds><TAB><param><TAB><value>`, found `{text}`")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The line.
        text: String,
    },
}

/// Writes param changes to a file on its own thread.
pub struct ParamLog {
    tx: Option<SyncSender<(f64, String, f32)>>,
    dropped: AtomicU64,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl ParamLog {
    /// Creates (truncates) `path` and starts the writer.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(path: &Path, scene: &Path) -> Result<Self, ParamLogError> {
        let io = |source| ParamLogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut out = BufWriter::new(file);
        writeln!(
            out,
            "# hypna param log v1: seconds<TAB>param<TAB>value; recorded from {}",
            scene.display()
        )
        .map_err(io)?;
        let (tx, rx) = sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("hypna-param-log".into())
            .spawn(move || write_lines(&rx, out))
            .map_err(io)?;
        Ok(Self {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
            writer: Some(writer),
        })
    }

    /// Appends that `param` was set to `value` at show time `secs`. Never waits.
    pub fn append(&self, secs: f64, param: &str, value: f32) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send((secs, param.to_string(), value)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!("param log: the writer is behind; changes are being dropped");
                }
            }
        }
    }

    /// Changes dropped because the writer was behind.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl ParamSink for ParamLog {
    fn changed(&self, secs: f64, param: &str, value: f32) {
        self.append(secs, param, value);
    }
}

impl Drop for ParamLog {
    fn drop(&mut self) {
        // Closing the queue ends the writer after it wrote everything queued.
        self.tx = None;
        if let Some(w) = self.writer.take()
            && w.join().is_err()
        {
            tracing::warn!(
                "param log: the writer thread panicked; the end of the log may be missing"
            );
        }
    }
}

fn write_lines(rx: &Receiver<(f64, String, f32)>, mut out: BufWriter<std::fs::File>) {
    let mut failed = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok((secs, param, value)) => {
                if writeln!(out, "{secs:.6}\t{param}\t{value}").is_err() && !failed {
                    tracing::warn!("param log: cannot write; later changes may be lost");
                    failed = true;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if out.flush().is_err() && !failed {
                    tracing::warn!("param log: cannot write; later changes may be lost");
                    failed = true;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if out.flush().is_err() && !failed {
        tracing::warn!("param log: cannot write the last changes");
    }
}

/// A param log read back, replayed in time order.
#[derive(Debug, Clone, Default)]
pub struct ParamReplay {
    changes: Vec<(f64, String, f32)>,
    next: usize,
}

impl ParamReplay {
    /// Reads a log written by [`ParamLog`].
    ///
    /// # Errors
    /// When the file cannot be read or a line is malformed.
    pub fn load(path: &Path) -> Result<Self, ParamLogError> {
        let file = std::fs::File::open(path).map_err(|source| ParamLogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut changes = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| ParamLogError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut parts = trimmed.split('\t');
            let parsed = match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(t), Some(name), Some(v), None) => t
                    .parse::<f64>()
                    .ok()
                    .zip(v.parse::<f32>().ok())
                    .filter(|(t, v)| t.is_finite() && v.is_finite())
                    .map(|(t, v)| (t, name.to_string(), v)),
                _ => None,
            };
            match parsed {
                Some(change) => changes.push(change),
                None => {
                    return Err(ParamLogError::Syntax {
                        path: path.to_path_buf(),
                        line: i + 1,
                        text: line,
                    });
                }
            }
        }
        changes.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Self { changes, next: 0 })
    }

    /// The changes due at show time `secs` (not returned before).
    pub fn due(&mut self, secs: f64) -> &[(f64, String, f32)] {
        let start = self.next;
        while self
            .changes
            .get(self.next)
            .is_some_and(|c| c.0 <= secs + 1e-9)
        {
            self.next += 1;
        }
        &self.changes[start..self.next]
    }

    /// Number of changes in the log.
    #[must_use]
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether the log has no changes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_changes_replay_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.tsv");
        {
            let rec = ParamLog::create(&path, Path::new("scene.toml")).unwrap();
            rec.append(0.5, "speed", 2.0);
            rec.append(0.25, "hue", 0.1);
            rec.append(1.0, "speed", 3.5);
        }
        let mut replay = ParamReplay::load(&path).unwrap();
        assert_eq!(replay.len(), 3);
        assert!(replay.due(0.1).is_empty());
        let due: Vec<_> = replay.due(0.5).to_vec();
        assert_eq!(
            due,
            vec![(0.25, "hue".to_string(), 0.1), (0.5, "speed".into(), 2.0)]
        );
        assert!(replay.due(0.9).is_empty());
        assert_eq!(replay.due(5.0).len(), 1);
    }

    #[test]
    fn malformed_lines_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tsv");
        std::fs::write(&path, "# header\n0.5\tspeed\t1\n1.0 speed 2\n").unwrap();
        let e = ParamReplay::load(&path).unwrap_err().to_string();
        assert!(e.contains("bad.tsv:3"), "{e}");
    }
}
