//! A size-bounded rotating log file for weeks-long runs.
//!
//! `hypna.log` grows to `max_bytes`; the next write that would pass it shifts
//! `hypna.log.(keep-1)` -> `hypna.log.keep`, ..., `hypna.log` -> `hypna.log.1` (the old
//! `hypna.log.keep` is deleted) and starts a new `hypna.log`. Disk use stays at most
//! `(keep + 1) * max_bytes`.
//!
//! Logging must never stop the show: after the file opened once, a failing write, rename or
//! open is counted ([`LogStats`]) and the text dropped; `write` still reports success so the
//! `tracing` layer does not complain on every event. Writes go straight to the file (no
//! buffer), so the last lines before a crash are on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// Counters of what went wrong (or right) since the file was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Rotations done.
    pub rotations: u64,
    /// Writes (or parts of them) dropped because the file could not be written.
    pub dropped_writes: u64,
    /// Failed file operations (open, write, rename, delete).
    pub errors: u64,
}

/// A log file that rotates by size. Use [`SharedRotatingFile`] from several threads.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: Option<File>,
    /// Bytes in the current file.
    len: u64,
    stats: LogStats,
}

impl RotatingFile {
    /// Opens (appending) or creates `path`, creating its folder; `max_bytes` per file (at
    /// least 1), `keep` rotated files besides `path` (0 = truncate instead of rotating).
    ///
    /// # Errors
    /// When the folder or the file cannot be created or opened now (a bad `--log-file` is
    /// reported at startup; later failures are only counted).
    pub fn new(path: impl Into<PathBuf>, max_bytes: u64, keep: usize) -> io::Result<Self> {
        let path = path.into();
        if max_bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "log file max_bytes must be at least 1",
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            path,
            max_bytes,
            keep,
            file: Some(file),
            len,
            stats: LogStats::default(),
        })
    }

    /// The file being written.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong so far.
    #[must_use]
    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// `path.n` (`hypna.log.1`).
    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Shifts the numbered files up by one, moves the current file to `.1` and opens a new,
    /// empty current file. The new file is opened truncating, so even when a rename fails
    /// the current file stays within `max_bytes`.
    fn rotate(&mut self) {
        self.file = None;
        self.stats.rotations += 1;
        if self.keep > 0 {
            let oldest = self.numbered(self.keep);
            if oldest.exists() && std::fs::remove_file(&oldest).is_err() {
                self.stats.errors += 1;
            }
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() && std::fs::rename(&from, self.numbered(n + 1)).is_err() {
                    self.stats.errors += 1;
                }
            }
            if std::fs::rename(&self.path, self.numbered(1)).is_err() {
                self.stats.errors += 1;
            }
        }
        self.open_truncated();
    }

    fn open_truncated(&mut self) {
        match OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)
        {
            Ok(file) => {
                self.file = Some(file);
                self.len = 0;
            }
            Err(_) => self.stats.errors += 1,
        }
    }

    /// Writes `buf` (cut to `max_bytes` if a single write is bigger), rotating first when it
    /// would not fit. Returns the bytes taken from `buf` as written, even when dropped.
    fn write_bounded(&mut self, buf: &[u8]) {
        if buf.is_empty() {
            return;
        }
        let max = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        let buf = &buf[..buf.len().min(max)];
        if self.len > 0 && self.len + buf.len() as u64 > self.max_bytes {
            self.rotate();
        }
        if self.file.is_none() {
            // The file vanished or a previous open failed: try again (a full disk may
            // have been cleared). Truncating keeps the size bound whatever was there.
            self.open_truncated();
        }
        let Some(file) = self.file.as_mut() else {
            self.stats.dropped_writes += 1;
            return;
        };
        if file.write_all(buf).is_ok() {
            self.len += buf.len() as u64;
        } else {
            self.stats.errors += 1;
            self.stats.dropped_writes += 1;
            // Part of `buf` may have been written: re-read the size so the bound holds.
            self.len = file.metadata().map_or(self.max_bytes, |m| m.len());
        }
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_bounded(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(file) = self.file.as_mut()
            && file.flush().is_err()
        {
            self.stats.errors += 1;
        }
        Ok(())
    }
}

/// A [`RotatingFile`] shared between threads; a `tracing_subscriber` [`MakeWriter`]:
///
/// ```no_run
/// use hypna::ops::logfile::{RotatingFile, SharedRotatingFile};
/// let file = SharedRotatingFile::new(RotatingFile::new("/var/log/hypna/hypna.log", 10 << 20, 5)?);
/// tracing_subscriber::fmt().with_writer(file.clone()).with_ansi(false).init();
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Each `write` call holds the lock for its whole buffer; the `fmt` layer writes an event
/// in one call, so lines from different threads never interleave.
#[derive(Debug, Clone)]
pub struct SharedRotatingFile(Arc<Mutex<RotatingFile>>);

impl SharedRotatingFile {
    /// Shares `file`.
    #[must_use]
    pub fn new(file: RotatingFile) -> Self {
        Self(Arc::new(Mutex::new(file)))
    }

    /// What went wrong so far.
    #[must_use]
    pub fn stats(&self) -> LogStats {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stats()
    }
}

impl Write for SharedRotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A thread that panicked while logging leaves the file usable: take it anyway.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}

impl<'a> MakeWriter<'a> for SharedRotatingFile {
    type Writer = SharedRotatingFile;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    fn total_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    }

    #[test]
    fn rotates_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hypna.log");
        let mut log = RotatingFile::new(&path, 10, 2).unwrap();
        for line in [
            "aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n",
        ] {
            log.write_all(line.as_bytes()).unwrap();
        }
        assert_eq!(read(&path), "gggg\n");
        assert_eq!(read(&dir.path().join("hypna.log.1")), "eeee\nffff\n");
        assert_eq!(read(&dir.path().join("hypna.log.2")), "cccc\ndddd\n");
        // aaaa/bbbb were in the oldest file and are gone; nothing beyond keep.
        assert!(!dir.path().join("hypna.log.3").exists());
        assert_eq!(log.stats().rotations, 3);
        assert_eq!(log.stats().errors, 0);
    }

    #[test]
    fn disk_use_stays_bounded_over_many_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hypna.log");
        let (max, keep) = (100, 3);
        let mut log = RotatingFile::new(&path, max, keep).unwrap();
        for i in 0..5000 {
            // Lines of varying length, some longer than a whole file.
            let line = "x".repeat(i % 150) + "\n";
            log.write_all(line.as_bytes()).unwrap();
            assert!(total_bytes(dir.path()) <= (keep as u64 + 1) * max);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), keep + 1);
    }

    #[test]
    fn appends_to_an_existing_file_and_counts_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/hypna.log");
        {
            let mut log = RotatingFile::new(&path, 12, 1).unwrap();
            log.write_all(b"first\n").unwrap();
        }
        let mut log = RotatingFile::new(&path, 12, 1).unwrap();
        log.write_all(b"again\n").unwrap();
        assert_eq!(read(&path), "first\nagain\n");
        log.write_all(b"third\n").unwrap();
        assert_eq!(read(&path), "third\n");
        assert_eq!(read(&dir.path().join("logs/hypna.log.1")), "first\nagain\n");
    }

    #[test]
    fn keep_zero_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hypna.log");
        let mut log = RotatingFile::new(&path, 8, 0).unwrap();
        log.write_all(b"12345\n").unwrap();
        log.write_all(b"67890\n").unwrap();
        assert_eq!(read(&path), "67890\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_arguments_and_paths_fail_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        assert!(RotatingFile::new(dir.path().join("a.log"), 0, 1).is_err());
        // A file where the folder should be.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "").unwrap();
        assert!(RotatingFile::new(blocker.join("hypna.log"), 100, 1).is_err());
    }

    #[test]
    fn failures_after_start_are_counted_not_raised() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        let path = sub.join("hypna.log");
        let mut log = RotatingFile::new(&path, 10, 1).unwrap();
        log.write_all(b"0123456789").unwrap();
        // The folder disappears (an operator cleaning up): rotation and reopening fail.
        std::fs::remove_dir_all(&sub).unwrap();
        assert_eq!(log.write(b"lost\n").unwrap(), 5);
        let stats = log.stats();
        assert_eq!(stats.dropped_writes, 1);
        assert!(stats.errors >= 2, "{stats:?}");
        // It comes back once the folder does.
        std::fs::create_dir(&sub).unwrap();
        log.write_all(b"back\n").unwrap();
        assert_eq!(read(&path), "back\n");
    }

    #[test]
    fn works_as_a_tracing_writer_from_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hypna.log");
        let shared = SharedRotatingFile::new(RotatingFile::new(&path, 1 << 20, 1).unwrap());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(shared.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(n = 1, "hello from the log");
        });
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let mut w = shared.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        w.write_all(format!("thread{t} line{i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let text = read(&path);
        assert!(text.contains("hello from the log"), "{text}");
        assert!(text.contains("n=1"), "{text}");
        assert_eq!(
            text.lines().filter(|l| l.starts_with("thread")).count(),
            400
        );
        assert!(
            text.lines()
                .filter(|l| l.starts_with("thread"))
                .all(|l| l.split(' ').count() == 2)
        );
        assert_eq!(shared.stats(), LogStats::default());
    }
}
