//! Playlists: which scenes an installation shows, for how long, and how it moves between them.
//!
//! [`Playlist`] is the validated file (format in `docs/playlists.md`); [`Cursor`] is the
//! position in it, driven by injected time, so the frame loop asks "switch now?" once a frame
//! and tests script whole days in microseconds.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::schedule::{RawSchedule, Schedule};
use super::transition::RawTransition;
pub use super::transition::{DEFAULT_CROSSFADE_SECS, Transition, TransitionKind};
use crate::diag::Collector as Ctx;
use crate::diag::Diagnostics;

/// How many past entries [`Cursor::previous`] can step back through in shuffle order.
pub const HISTORY_LEN: usize = 256;

/// A playlist file exactly as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// `[playlist]`: required.
    playlist: Spanned<RawPlaylist>,
    /// `[[entry]]`: at least one.
    #[serde(default, rename = "entry")]
    entries: Vec<Spanned<RawEntry>>,
    /// `[schedule]`: opening hours. Default: always open.
    schedule: Option<RawSchedule>,
}

/// `[playlist]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaylist {
    /// Display name. Default: the file's stem.
    name: Option<String>,
    /// Default: sequence.
    order: Option<Order>,
    /// Shuffle seed. Default: 0.
    seed: Option<u64>,
    /// Transition into every entry that has none. Default: crossfade of 2 s.
    transition: Option<Spanned<RawTransition>>,
    /// Start again after the last entry. Default: true.
    #[serde(rename = "loop")]
    looping: Option<bool>,
}

/// `[[entry]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    /// Scene file relative to the playlist. Required.
    scene: Spanned<String>,
    /// Name for `goto_name` and the OSC `/hypna/scene <name>`. Default: the scene's stem.
    name: Option<Spanned<String>>,
    /// `"90s"`, `"5m"`, `"1h30m"` or seconds. Exactly one of `duration` or `cue = true`.
    duration: Option<Spanned<toml::Value>>,
    /// Stays until told to move. Default: false.
    cue: Option<Spanned<bool>>,
    /// Transition into this entry. Default: the playlist's.
    transition: Option<Spanned<RawTransition>>,
    /// Param assignments `"name=value"` applied when the entry starts. Default: none.
    #[serde(default)]
    set: Vec<Spanned<String>>,
}

/// In which order entries play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// File order.
    #[default]
    Sequence,
    /// A seeded random order: every entry once per round, never the same entry twice in a row
    /// (with two or more entries).
    Shuffle,
}

/// When an entry ends by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Advance {
    /// After this many seconds (> 0).
    AfterSecs(f64),
    /// Never: a cue entry waits for `next`/`goto` (OSC, keys).
    Cue,
}

/// One validated `[[entry]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `name`, else the scene file's stem.
    pub name: String,
    /// The scene file, resolved against the playlist's folder (it existed at load time).
    pub scene: PathBuf,
    /// Timed or cue.
    pub advance: Advance,
    /// The transition into this entry (the entry's own, else the playlist's).
    pub transition: Transition,
    /// Param assignments applied when the entry starts, in file order.
    pub set: Vec<(String, f32)>,
    /// 1-based line of the entry's `scene` key, for messages.
    pub line: u32,
    /// 1-based (line, column) of each of `set`'s assignments, in the same order.
    pub set_at: Vec<(u32, u32)>,
}

impl Entry {
    /// The duration in seconds, `None` for a cue entry.
    #[must_use]
    pub fn duration_secs(&self) -> Option<f64> {
        match self.advance {
            Advance::AfterSecs(s) => Some(s),
            Advance::Cue => None,
        }
    }
}

/// A validated playlist file.
#[derive(Debug, Clone, PartialEq)]
pub struct Playlist {
    /// The file it was read from.
    pub path: PathBuf,
    /// `[playlist] name`, else the file's stem.
    pub name: String,
    /// Sequence or shuffle.
    pub order: Order,
    /// Shuffle seed from the file; `None` lets the caller choose (see [`Cursor::with_seed`]).
    pub seed: Option<u64>,
    /// Start again after the last entry (`loop`); false stays on the last.
    pub looping: bool,
    /// At least one entry, in file order.
    pub entries: Vec<Entry>,
    /// Opening hours; `None` means always open.
    pub schedule: Option<Schedule>,
}

/// True when `path` is a TOML file with a `[playlist]` table (so `hypna run x.toml` can tell a
/// playlist from a scene). Unreadable or invalid files are not playlists.
#[must_use]
pub fn is_playlist(path: &Path) -> bool {
    crate::untrusted::read_toml(path, "playlist")
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| matches!(table.get("playlist"), Some(toml::Value::Table(_))))
}

impl Playlist {
    /// Reads and validates a playlist file.
    ///
    /// # Errors
    /// An unreadable file, or every problem found, each located in the file.
    pub fn load(path: &Path) -> Result<Self, Diagnostics> {
        let source = crate::untrusted::read_toml(path, "playlist")
            .map_err(|e| Diagnostics(vec![e.into_diagnostic(path, "playlist")]))?;
        Self::parse(&source, path)
    }

    /// Validates `source` as if read from `path` (scene files resolve against its folder and
    /// must exist).
    ///
    /// # Errors
    /// Every problem found, each located in the file.
    pub fn parse(source: &str, path: &Path) -> Result<Self, Diagnostics> {
        let raw: RawFile =
            crate::diag::from_toml(path, source).map_err(|d| Diagnostics(vec![d]))?;
        let mut ctx = Ctx::new(path, source);
        let playlist = validate(&mut ctx, raw);
        ctx.finish(playlist)
    }

    /// Index of the first entry called `name` (see [`Entry::name`]).
    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.name == name)
    }
}

fn validate(ctx: &mut Ctx<'_>, raw: RawFile) -> Playlist {
    let dir = ctx.path().parent().unwrap_or(Path::new("")).to_path_buf();
    let header_span = raw.playlist.span();
    let meta = raw.playlist.into_inner();
    let default_transition = meta
        .transition
        .map_or_else(Transition::default, |t| transition(ctx, &dir, t));
    if raw.entries.is_empty() {
        ctx.error(&header_span, "the playlist has no entries")
            .notes
            .push(
                ("add at least one [[entry]] with a scene and a duration (or cue = true)").into(),
            );
    }

    let mut entries = Vec::with_capacity(raw.entries.len());
    let mut explicit_names: Vec<String> = Vec::new();
    for spanned in raw.entries {
        let entry_span = spanned.span();
        let e = spanned.into_inner();
        let scene_span = e.scene.span();
        let scene_text = e.scene.into_inner();
        let scene = dir.join(&scene_text);
        if let Err(e) = crate::untrusted::regular_file(&scene) {
            ctx.error(
                &scene_span,
                format!("scene `{scene_text}` {e} (looked at {})", scene.display()),
            );
        }
        let name = match e.name {
            Some(n) => {
                let span = n.span();
                let n = n.into_inner();
                if n.trim().is_empty() {
                    ctx.error(&span, "entry name is empty");
                } else if explicit_names.contains(&n) {
                    ctx.error(&span, format!("entry name `{n}` is used twice"));
                }
                explicit_names.push(n.clone());
                n
            }
            None => Path::new(&scene_text)
                .file_stem()
                .map_or_else(|| scene_text.clone(), |s| s.to_string_lossy().into_owned()),
        };

        let cue = e.cue.as_ref().is_some_and(|c| *c.get_ref());
        let advance = match (e.duration, cue) {
            (Some(d), false) => {
                let span = d.span();
                match duration_secs(d.get_ref()) {
                    Ok(secs) => Advance::AfterSecs(secs),
                    Err(message) => {
                        ctx.error(&span, format!("entry `{name}`: {message}"))
.notes
.push(("a duration is \"90s\", \"5m\", \"1h30m\" or a number of seconds > 0").into());
                        Advance::Cue
                    }
                }
            }
            (Some(d), true) => {
                ctx.error(
                    &d.span(),
                    format!("entry `{name}` has both a duration and cue = true: keep one"),
                );
                Advance::Cue
            }
            (None, true) => Advance::Cue,
            (None, false) => {
                ctx.error(
                    &entry_span,
                    format!("entry `{name}` needs a duration or cue = true"),
                )
                .notes
                .push(
                    ("duration = \"5m\" moves on by itself; cue = true waits for next/goto").into(),
                );
                Advance::Cue
            }
        };
        let transition = e
            .transition
            .map_or_else(|| default_transition.clone(), |t| transition(ctx, &dir, t));
        let mut set = Vec::with_capacity(e.set.len());
        let mut set_at = Vec::with_capacity(e.set.len());
        for assignment in e.set {
            match crate::params::parse_assignment(assignment.get_ref()) {
                Ok((param, _)) if param.is_empty() => {
                    ctx.error(
                        &assignment.span(),
                        format!("`{}` has no param name", assignment.get_ref()),
                    );
                }
                Ok(pair) => {
                    set.push(pair);
                    set_at.push(crate::diag::line_col(ctx.source(), assignment.span().start));
                }
                Err(err) => {
                    ctx.error(&assignment.span(), format!("entry `{name}`: {err}"));
                }
            }
        }
        let (line, _) = crate::diag::line_col(ctx.source(), scene_span.start);
        entries.push(Entry {
            name,
            scene,
            advance,
            transition,
            set,
            line,
            set_at,
        });
    }

    let schedule = raw.schedule.map(|s| Schedule::from_raw(s, ctx));
    Playlist {
        path: ctx.path().to_path_buf(),
        name: meta.name.unwrap_or_else(|| {
            ctx.path()
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        }),
        order: meta.order.unwrap_or_default(),
        seed: meta.seed,
        looping: meta.looping.unwrap_or(true),
        entries,
        schedule,
    }
}

fn transition(ctx: &mut Ctx<'_>, dir: &Path, raw: Spanned<RawTransition>) -> Transition {
    let span = raw.span();
    super::transition::validate(ctx, dir, &span, raw.into_inner())
}

/// A `duration` value in seconds: a number, or `"1h30m"`-style text.
fn duration_secs(value: &toml::Value) -> Result<f64, String> {
    let secs = match value {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        toml::Value::String(s) => parse_duration(s)?,
        other => return Err(format!("duration must be text or a number, found {other}")),
    };
    if secs.is_finite() && secs > 0.0 {
        Ok(secs)
    } else {
        Err(format!("duration {secs} s must be more than 0"))
    }
}

/// `"90s"`, `"5m"`, `"1h30m"`, `"1h 30m 15s"`, `"2.5m"` -> seconds. Units h, m, s each at most
/// once, largest first; every number needs a unit.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let bad = |why: &str| format!("`{text}` is not a duration: {why}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut total = 0.0;
    // Index into "hms" of the last unit seen, to enforce h, m, s order without repeats.
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        if number.is_empty() {
            return Err(bad("expected a number"));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| bad(&format!("`{number}` is not a number")))?;
        let mut chars = after.chars();
        let unit = chars.next().ok_or_else(|| {
            bad("every number needs a unit (h, m or s); seconds alone are written without quotes, e.g. duration = 90")
        })?;
        let (index, scale) = match unit {
            'h' => (0, 3600.0),
            'm' => (1, 60.0),
            's' => (2, 1.0),
            other => return Err(bad(&format!("unknown unit `{other}` (use h, m or s)"))),
        };
        if last_unit.is_some_and(|last| last >= index) {
            return Err(bad("units go h, m, s, each at most once"));
        }
        last_unit = Some(index);
        total += value * scale;
        rest = chars.as_str().trim_start();
    }
    Ok(total)
}

/// Where the cursor goes and how to get there.
#[derive(Debug, Clone, PartialEq)]
pub struct Switch {
    /// The entry that was showing.
    pub from: usize,
    /// The entry to show (index into [`Playlist::entries`]).
    pub index: usize,
    /// How to get there: the transition into `index`.
    pub transition: Transition,
}

/// `SplitMix64`: a tiny, well-mixed, seedable generator; the shuffle needs determinism, not
/// cryptographic quality.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (n > 0; the modulo bias is below 2^-50 for playlist sizes).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The position in a playlist, driven by injected time.
///
/// `now_secs` everywhere is one monotonic clock in seconds that does not restart when scenes
/// change (e.g. seconds since the show started). The cursor never reads a clock.
///
/// - An entry's time starts when it becomes current. [`poll`](Self::poll) moves at most one
///   entry per call and restarts the time at `now`, so a stalled frame loop does not skip
///   entries when it resumes.
/// - Sequence order: `next`/`previous` step through the file order (wrapping when `loop`).
/// - Shuffle order: rounds of a seeded permutation, every entry once per round, never the same
///   entry twice in a row. `previous` walks back through what was actually shown (up to
///   [`HISTORY_LEN`] entries) and `next` then retraces those steps before drawing new ones.
/// - `loop = false`: after the last entry (of the first round, for shuffle) the cursor stays;
///   `poll` and `next` return `None`.
/// - A one-entry looping playlist restarts its entry (a switch to itself) after its duration.
#[derive(Debug, Clone)]
pub struct Cursor {
    durations: Vec<Option<f64>>,
    transitions: Vec<Transition>,
    names: Vec<String>,
    order_kind: Order,
    looping: bool,
    /// The current round: identity for sequence, a permutation for shuffle.
    order: Vec<usize>,
    /// Position in `order` of the last drawn entry.
    pos: usize,
    current: usize,
    started_secs: f64,
    rng: SplitMix64,
    /// Entries shown before the current one, oldest first (shuffle `previous`).
    back: Vec<usize>,
    /// Entries stepped back from, to retrace on `next` (shuffle).
    forward: Vec<usize>,
}

impl Cursor {
    /// A cursor at the playlist's first entry (the first of a shuffled round), started at
    /// time 0, shuffled with the file's seed (0 when it has none).
    #[must_use]
    pub fn new(playlist: &Playlist) -> Self {
        Self::with_seed(playlist, playlist.seed.unwrap_or(0))
    }

    /// As [`new`](Self::new) with this shuffle seed (e.g. from the clock when the file has
    /// none, so each restart plays a different order).
    #[must_use]
    pub fn with_seed(playlist: &Playlist, seed: u64) -> Self {
        let len = playlist.entries.len();
        let mut cursor = Self {
            durations: playlist.entries.iter().map(Entry::duration_secs).collect(),
            transitions: playlist
                .entries
                .iter()
                .map(|e| e.transition.clone())
                .collect(),
            names: playlist.entries.iter().map(|e| e.name.clone()).collect(),
            order_kind: playlist.order,
            looping: playlist.looping,
            order: (0..len).collect(),
            pos: 0,
            current: 0,
            started_secs: 0.0,
            rng: SplitMix64(seed),
            back: Vec::new(),
            forward: Vec::new(),
        };
        if cursor.order_kind == Order::Shuffle {
            cursor.new_round(None);
            cursor.current = cursor.order.first().copied().unwrap_or(0);
        }
        cursor
    }

    /// Restarts the current entry's time at `now_secs` (e.g. when the show really starts).
    pub fn start(&mut self, now_secs: f64) {
        self.started_secs = now_secs;
    }

    /// Index of the entry showing.
    #[must_use]
    pub fn current(&self) -> usize {
        self.current
    }

    /// Seconds until the current entry ends by itself; `None` for a cue entry.
    #[must_use]
    pub fn remaining_secs(&self, now_secs: f64) -> Option<f64> {
        let duration = self.durations.get(self.current).copied().flatten()?;
        Some((duration - (now_secs - self.started_secs)).max(0.0))
    }

    /// The switch due at `now_secs`, if the current entry's duration has elapsed (never for
    /// cue entries, nor at the end of a non-looping playlist).
    pub fn poll(&mut self, now_secs: f64) -> Option<Switch> {
        let duration = self.durations.get(self.current).copied().flatten()?;
        if now_secs - self.started_secs < duration {
            return None;
        }
        self.next(now_secs)
    }

    /// Moves on now (operator's "next"); `None` at the end of a non-looping playlist.
    pub fn next(&mut self, now_secs: f64) -> Option<Switch> {
        let len = self.order.len();
        let target = match self.order_kind {
            Order::Sequence => {
                if self.current + 1 < len {
                    self.current + 1
                } else if self.looping && len > 0 {
                    0
                } else {
                    return None;
                }
            }
            Order::Shuffle => {
                if let Some(t) = self.forward.pop() {
                    t
                } else if self.pos + 1 < len {
                    self.pos += 1;
                    self.order[self.pos]
                } else if self.looping && len > 0 {
                    self.new_round(Some(self.current));
                    self.pos = 0;
                    self.order[0]
                } else {
                    return None;
                }
            }
        };
        self.push_back(self.current);
        Some(self.switch_to(target, now_secs))
    }

    /// Goes back (operator's "previous"): the entry before in file order for sequence
    /// (wrapping when `loop`), the entry shown before for shuffle. `None` when there is none.
    pub fn previous(&mut self, now_secs: f64) -> Option<Switch> {
        let target = match self.order_kind {
            Order::Sequence => {
                if self.current > 0 {
                    self.current - 1
                } else if self.looping && self.order.len() > 1 {
                    self.order.len() - 1
                } else {
                    return None;
                }
            }
            Order::Shuffle => {
                let t = self.back.pop()?;
                self.forward.push(self.current);
                t
            }
        };
        Some(self.switch_to(target, now_secs))
    }

    /// Jumps to entry `index`; `None` when it does not exist or is already showing. In shuffle
    /// order it counts as shown in the current round (no repeat before the round ends).
    pub fn goto_index(&mut self, index: usize, now_secs: f64) -> Option<Switch> {
        if index >= self.order.len() || index == self.current {
            return None;
        }
        if self.order_kind == Order::Shuffle {
            self.forward.clear();
            if let Some(offset) = self.order[self.pos + 1..].iter().position(|&i| i == index) {
                self.order.swap(self.pos + 1, self.pos + 1 + offset);
                self.pos += 1;
            }
        }
        self.push_back(self.current);
        Some(self.switch_to(index, now_secs))
    }

    /// Jumps to the first entry called `name` (its `name` key, else the scene file's stem);
    /// `None` when there is none or it is already showing.
    pub fn goto_name(&mut self, name: &str, now_secs: f64) -> Option<Switch> {
        let index = self.names.iter().position(|n| n == name)?;
        self.goto_index(index, now_secs)
    }

    fn switch_to(&mut self, index: usize, now_secs: f64) -> Switch {
        let from = self.current;
        self.current = index;
        self.started_secs = now_secs;
        Switch {
            from,
            index,
            transition: self
                .transitions
                .get(index)
                .cloned()
                .unwrap_or(Transition::CUT),
        }
    }

    fn push_back(&mut self, index: usize) {
        if self.back.len() >= HISTORY_LEN {
            self.back.remove(0);
        }
        self.back.push(index);
    }

    /// A fresh shuffled round whose first entry is not `avoid` (when there are 2+ entries).
    fn new_round(&mut self, avoid: Option<usize>) {
        let len = self.order.len();
        for i in (1..len).rev() {
            let j = self.rng.below(i + 1);
            self.order.swap(i, j);
        }
        if len >= 2 && self.order.first().copied() == avoid {
            let j = 1 + self.rng.below(len - 1);
            self.order.swap(0, j);
        }
    }
}

#[cfg(test)]
mod tests;
