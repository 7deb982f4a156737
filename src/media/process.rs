//! The FFmpeg program as a child process over pipes: find it, start it with piped stdout
//! and stderr (and stdin when asked), read raw frames of a known size from stdout, keep the
//! last lines of stderr for error messages, and kill and reap it when dropped.
//!
//! hypna runs `ffmpeg` rather than linking libavcodec: a codec that crashes or hangs takes
//! down a child process, never the show, and the build needs nothing beyond what set-up
//! installs (the `ffmpeg` package). Sources (`media/`) read frames through [`Ffmpeg`];
//! recording writes frames into its stdin the same way.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Environment variable naming the `ffmpeg` program (default: `ffmpeg` on the `PATH`).
pub const PROGRAM_ENV: &str = "HYPNA_FFMPEG";
/// Lines of stderr kept for error messages.
const TAIL_LINES: usize = 12;
/// Longest stderr line kept (characters); the rest is cut.
const TAIL_LINE_CHARS: usize = 400;

/// Errors from running FFmpeg.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// No `ffmpeg` program was found.
    #[error(
        "the `ffmpeg` program was not found on the PATH (set {PROGRAM_ENV} to its path, or \
         install it: scripts/setup.sh installs the `ffmpeg` package)"
    )]
    NotFound,
    /// The program exists but did not start.
    #[error("cannot start {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading or writing its pipes failed.
    #[error("ffmpeg pipe: {0}")]
    Io(#[from] std::io::Error),
    /// It ended with an error (its last stderr lines say why).
    #[error("ffmpeg ended with {status}{}", tail_text(tail))]
    Failed {
        /// Its exit status.
        status: ExitStatus,
        /// The last lines it wrote to stderr.
        tail: String,
    },
    /// Its output stopped in the middle of a frame.
    #[error(
        "ffmpeg stopped in the middle of a frame ({got} of {want} bytes){}",
        tail_text(tail)
    )]
    Truncated {
        /// Bytes read of the frame.
        got: usize,
        /// Bytes in a frame.
        want: usize,
        /// The last lines it wrote to stderr.
        tail: String,
    },
}

fn tail_text(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

/// The `ffmpeg` program: [`PROGRAM_ENV`] when set, else the first `ffmpeg` on the `PATH`.
///
/// # Errors
/// [`ProcessError::NotFound`].
pub fn program() -> Result<PathBuf, ProcessError> {
    if let Some(p) = std::env::var_os(PROGRAM_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ProcessError::NotFound)
        };
    }
    let name = if cfg!(windows) {
        "ffmpeg.exe"
    } else {
        "ffmpeg"
    };
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or(ProcessError::NotFound)
}

/// True when an `ffmpeg` program is available.
#[must_use]
pub fn available() -> bool {
    program().is_ok()
}

/// The last lines a process wrote to stderr (bounded), filled by a reader thread.
#[derive(Debug, Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines
            .push_back(line.chars().take(TAIL_LINE_CHARS).collect());
    }

    fn text(&self) -> String {
        self.lines.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

/// What to pipe besides stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stdin {
    /// No input (`/dev/null`): decoding and capture.
    #[default]
    Null,
    /// A pipe the caller writes into (take it with [`Ffmpeg::take_stdin`]): encoding.
    Piped,
}

/// A running `ffmpeg` process. Dropping it kills and reaps the process.
#[derive(Debug)]
pub struct Ffmpeg {
    child: Arc<Mutex<Child>>,
    id: u32,
    stdout: Option<ChildStdout>,
    stdin: Option<ChildStdin>,
    tail: Arc<Mutex<Tail>>,
    stderr_thread: Option<JoinHandle<()>>,
}

impl Ffmpeg {
    /// Starts `ffmpeg` with `-hide_banner -nostats -loglevel error` followed by `args`, stdout
    /// and stderr piped.
    ///
    /// # Errors
    /// [`ProcessError::NotFound`] or [`ProcessError::Spawn`].
    pub fn spawn(args: &[OsString], stdin: Stdin) -> Result<Self, ProcessError> {
        Self::spawn_program(&program()?, args, stdin)
    }

    /// As [`Self::spawn`] with an explicit program.
    ///
    /// # Errors
    /// [`ProcessError::Spawn`].
    pub fn spawn_program(
        program: &Path,
        args: &[OsString],
        stdin: Stdin,
    ) -> Result<Self, ProcessError> {
        let mut command = Command::new(program);
        command
            .args(["-hide_banner", "-nostats", "-loglevel", "error"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(match stdin {
                Stdin::Null => Stdio::null(),
                Stdin::Piped => Stdio::piped(),
            });
        let mut child = command.spawn().map_err(|source| ProcessError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
        let tail = Arc::new(Mutex::new(Tail::default()));
        let stderr_thread = child.stderr.take().and_then(|stderr| {
            let tail = Arc::clone(&tail);
            std::thread::Builder::new()
                .name("hypna-ffmpeg-err".into())
                .spawn(move || {
                    let mut reader = BufReader::new(stderr);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => tail
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(&line),
                        }
                    }
                })
                .ok()
        });
        Ok(Self {
            stdout: child.stdout.take(),
            stdin: child.stdin.take(),
            id: child.id(),
            child: Arc::new(Mutex::new(child)),
            tail,
            stderr_thread,
        })
    }

    /// The operating system's id of the process.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// A handle that kills this process from another thread (a reader blocked on a silent
    /// camera wakes up at the end of its stream).
    #[must_use]
    pub fn kill_switch(&self) -> KillSwitch {
        KillSwitch(Arc::clone(&self.child))
    }

    /// Its stdin, when started with [`Stdin::Piped`] (once; dropping it ends the input).
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The last lines it wrote to stderr, joined with ` | ` (empty when none yet).
    #[must_use]
    pub fn stderr_tail(&self) -> String {
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .text()
    }

    /// Reads one frame of exactly `frame.len()` bytes from stdout (raw video of a size and
    /// pixel format the caller asked for). `Ok(false)` at the end of the stream before any
    /// byte of a frame (the process is then reaped: an error exit is an error).
    ///
    /// # Errors
    /// [`ProcessError::Io`], [`ProcessError::Truncated`] (the stream ended inside a frame)
    /// or [`ProcessError::Failed`] (it ended with an error status).
    pub fn read_frame(&mut self, frame: &mut [u8]) -> Result<bool, ProcessError> {
        let Some(stdout) = self.stdout.as_mut() else {
            return Ok(false);
        };
        let mut got = 0;
        while got < frame.len() {
            match stdout.read(&mut frame[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ProcessError::Io(e)),
            }
        }
        if got == frame.len() {
            return Ok(true);
        }
        self.stdout = None;
        let status = self.wait()?;
        if !status.success() {
            return Err(ProcessError::Failed {
                status,
                tail: self.stderr_tail(),
            });
        }
        if got > 0 {
            return Err(ProcessError::Truncated {
                got,
                want: frame.len(),
                tail: self.stderr_tail(),
            });
        }
        Ok(false)
    }

    /// Waits for the process to end (closing its stdin first) and for its stderr reader, so
    /// [`Self::stderr_tail`] is complete.
    ///
    /// # Errors
    /// [`ProcessError::Io`] when waiting fails.
    pub fn wait(&mut self) -> Result<ExitStatus, ProcessError> {
        self.stdin = None;
        let status = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wait()?;
        if let Some(thread) = self.stderr_thread.take() {
            // The reader ends at the end of stderr, which the exit closed (unless a
            // grandchild holds it: then it ends when that does; never waited for here).
            if thread.is_finished() {
                drop(thread.join());
            } else {
                self.stderr_thread = Some(thread);
            }
        }
        Ok(status)
    }

    /// Waits for the process to end and turns an error exit into [`ProcessError::Failed`].
    ///
    /// # Errors
    /// [`ProcessError::Failed`] or [`ProcessError::Io`].
    pub fn finish(mut self) -> Result<(), ProcessError> {
        self.stdout = None;
        let status = self.wait()?;
        // Give the stderr reader a moment to drain what the process wrote before it ended.
        if let Some(thread) = self.stderr_thread.take() {
            drop(thread.join());
        }
        if status.success() {
            Ok(())
        } else {
            Err(ProcessError::Failed {
                status,
                tail: self.stderr_tail(),
            })
        }
    }

    /// Kills the process (if still running) and reaps it.
    pub fn kill(&mut self) {
        self.stdin = None;
        self.stdout = None;
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        // Already ended is fine: killing is best effort, reaping is what matters.
        drop(child.kill());
        drop(child.wait());
    }
}

/// Kills an [`Ffmpeg`] process from another thread (see [`Ffmpeg::kill_switch`]).
#[derive(Debug, Clone)]
pub struct KillSwitch(Arc<Mutex<Child>>);

impl KillSwitch {
    /// Kills the process if it still runs (its owner reaps it).
    pub fn kill(&self) {
        // A process that ended is already being waited for by its owner.
        if let Ok(mut child) = self.0.try_lock() {
            drop(child.kill());
        }
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        self.kill();
        if let Some(thread) = self.stderr_thread.take() {
            drop(thread.join());
        }
    }
}

/// Output arguments that make `ffmpeg` write raw RGBA frames (8 bits per channel) to stdout,
/// after `filters` (an FFmpeg filter chain; empty for none).
#[must_use]
pub fn raw_rgba_output(filters: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    if !filters.is_empty() {
        args.push("-vf".into());
        args.push(filters.into());
    }
    for a in ["-an", "-sn", "-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1"] {
        args.push(a.into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_cut_to_length() {
        let mut tail = Tail::default();
        for i in 0..20 {
            tail.push(&format!("line {i}\n"));
        }
        tail.push("\n");
        tail.push(&"x".repeat(1000));
        let text = tail.text();
        assert!(text.starts_with("line 9 |"), "{text}");
        assert!(!text.contains("line 8 "), "{text}");
        assert!(text.ends_with(&"x".repeat(TAIL_LINE_CHARS)), "{text}");
        assert_eq!(tail.lines.len(), TAIL_LINES);
    }

    #[test]
    fn an_explicit_program_that_is_missing_is_a_spawn_error() {
        let e =
            Ffmpeg::spawn_program(Path::new("/nonexistent/ffmpeg"), &[], Stdin::Null).unwrap_err();
        assert!(matches!(e, ProcessError::Spawn { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/ffmpeg"), "{e}");
    }
}
