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
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A folder with empty scene files `a.toml` .. `e.toml` for playlists to point at.
    fn scenes() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b", "c", "d", "e"] {
            std::fs::write(dir.path().join(format!("{name}.toml")), "").unwrap();
        }
        dir
    }

    fn parse(dir: &tempfile::TempDir, text: &str) -> Result<Playlist, String> {
        Playlist::parse(text, &dir.path().join("list.toml")).map_err(|e| {
            // Relative paths in messages keep the assertions short.
            e.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
    }

    fn ok(dir: &tempfile::TempDir, text: &str) -> Playlist {
        parse(dir, text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn timed(dir: &tempfile::TempDir, order: &str, looping: bool, n: usize) -> Playlist {
        let mut text = format!("[playlist]\norder = \"{order}\"\nloop = {looping}\nseed = 7\n");
        for name in ["a", "b", "c", "d", "e"].iter().take(n) {
            writeln!(text, "[[entry]]\nscene = \"{name}.toml\"\nduration = 10").unwrap();
        }
        ok(dir, &text)
    }

    #[test]
    fn parses_every_key_with_defaults() {
        let dir = scenes();
        let p = ok(
            &dir,
            r#"
[playlist]
name = "Gallery A"
transition = { kind = "crossfade", secs = 4.0 }
[[entry]]
scene = "a.toml"
duration = "1h30m"
set = ["zoom=1.2", "hue = 0.5"]
[[entry]]
scene = "b.toml"
name = "intro"
cue = true
transition = { kind = "cut", secs = 9 }
[[entry]]
scene = "c.toml"
duration = 90
cue = false
"#,
        );
        assert_eq!(p.name, "Gallery A");
        assert_eq!(p.order, Order::Sequence);
        assert!(p.looping);
        assert_eq!(p.seed, None);
        assert!(p.schedule.is_none());
        let [a, b, c] = &p.entries[..] else {
            panic!("{:?}", p.entries)
        };
        assert_eq!(a.name, "a");
        assert_eq!(a.scene, dir.path().join("a.toml"));
        assert_eq!(a.advance, Advance::AfterSecs(5400.0));
        assert!((a.transition.secs - 4.0).abs() < 1e-12);
        assert_eq!(a.set, vec![("zoom".into(), 1.2), ("hue".into(), 0.5)]);
        assert_eq!(a.line, 6);
        assert_eq!(b.name, "intro");
        assert_eq!(b.advance, Advance::Cue);
        assert_eq!(b.transition, Transition::CUT);
        assert_eq!(c.duration_secs(), Some(90.0));
        assert_eq!(p.index_of("intro"), Some(1));
        assert_eq!(p.index_of("b"), None);
    }

    #[test]
    fn defaults_name_and_transition() {
        let dir = scenes();
        let p = ok(
            &dir,
            "[playlist]\n[[entry]]\nscene = \"a.toml\"\ncue = true\n",
        );
        assert_eq!(p.name, "list");
        assert_eq!(p.entries[0].transition, Transition::default());
        let p = ok(
            &dir,
            "[playlist]\ntransition = { kind = \"crossfade\" }\n[[entry]]\nscene = \"a.toml\"\ncue = true\n",
        );
        assert!((p.entries[0].transition.secs - DEFAULT_CROSSFADE_SECS).abs() < 1e-12);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90.0));
        assert_eq!(parse_duration("5m"), Ok(300.0));
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_duration(" 1h 30m 15s "), Ok(5415.0));
        assert_eq!(parse_duration("2.5m"), Ok(150.0));
        assert!(parse_duration("90").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("5x")
                .unwrap_err()
                .contains("unknown unit `x`")
        );
        assert!(parse_duration("5m1h").unwrap_err().contains("h, m, s"));
        assert!(parse_duration("5m5m").unwrap_err().contains("h, m, s"));
        assert!(
            parse_duration("m")
                .unwrap_err()
                .contains("expected a number")
        );
        assert!(
            parse_duration("1..5s")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn entry_errors_are_located_and_all_reported() {
        let dir = scenes();
        let e = parse(
            &dir,
            r#"[playlist]
[[entry]]
scene = "missing.toml"
duration = "5m"
[[entry]]
scene = "a.toml"
[[entry]]
scene = "b.toml"
duration = "5m"
cue = true
[[entry]]
scene = "c.toml"
duration = "0s"
set = ["zoom"]
[[entry]]
scene = "d.toml"
duration = "10"
transition = { kind = "crossfade", secs = -1 }
"#,
        )
        .unwrap_err();
        let lines: Vec<&str> = e.lines().filter(|l| !l.starts_with(' ')).collect();
        assert_eq!(lines.len(), 7, "{e}");
        assert!(
            lines[0].starts_with("list.toml:3:9: scene `missing.toml` not found"),
            "{e}"
        );
        assert!(
            lines[1].starts_with("list.toml:5:1: entry `a` needs a duration"),
            "{e}"
        );
        assert!(
            lines[2].starts_with("list.toml:9:12: entry `b` has both"),
            "{e}"
        );
        assert!(
            lines[3].starts_with("list.toml:13:12: entry `c`: duration 0 s"),
            "{e}"
        );
        assert!(
            lines[4].starts_with("list.toml:14:8: entry `c`: `zoom` is not of the form"),
            "{e}"
        );
        assert!(
            lines[5].starts_with("list.toml:17:12: entry `d`: `10` is not a duration"),
            "{e}"
        );
        assert!(
            lines[6].starts_with("list.toml:18:43: transition secs = -1"),
            "{e}"
        );
    }

    #[test]
    fn file_level_errors() {
        let dir = scenes();
        let e = parse(&dir, "[playlist]\nname = \"x\"\n").unwrap_err();
        assert!(
            e.starts_with("list.toml:1:1: the playlist has no entries"),
            "{e}"
        );
        let e = parse(&dir, "[playlist]\nshuffle = true\n").unwrap_err();
        assert!(
            e.starts_with("list.toml:2:1: unknown field `shuffle`"),
            "{e}"
        );
        let e = parse(&dir, "[playlist]\norder = \"random\"\n").unwrap_err();
        assert!(
            e.starts_with("list.toml:2:9: unknown variant `random`"),
            "{e}"
        );
        let e = parse(&dir, "[[entry]]\nscene = \"a.toml\"\ncue = true\n").unwrap_err();
        assert!(e.contains("missing field `playlist`"), "{e}");
        let e = parse(
            &dir,
            "[playlist]\n[[entry]]\nscene = \"a.toml\"\ncue = true\nname = \"x\"\n[[entry]]\nscene = \"b.toml\"\ncue = true\nname = \"x\"\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("list.toml:9:8: entry name `x` is used twice"),
            "{e}"
        );
        let e = Playlist::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(e.to_string().contains("cannot read playlist"), "{e}");
    }

    #[test]
    fn schedule_errors_are_reported_with_entry_errors() {
        let dir = scenes();
        let e = parse(
            &dir,
            "[playlist]\n[[entry]]\nscene = \"a.toml\"\n[schedule]\nmonday = \"9-5\"\n",
        )
        .unwrap_err();
        assert!(e.contains("list.toml:2:1: entry `a` needs"), "{e}");
        assert!(
            e.contains("list.toml:5:10: monday: `9` is not a time"),
            "{e}"
        );
        let p = ok(
            &dir,
            "[playlist]\n[[entry]]\nscene = \"a.toml\"\ncue = true\n[schedule]\nmonday = \"09:00-17:00\"\n",
        );
        assert!(p.schedule.is_some_and(|s| !s.is_always_open()));
    }

    #[test]
    fn tells_playlists_from_scenes() {
        let dir = scenes();
        let list = dir.path().join("list.toml");
        std::fs::write(
            &list,
            "[playlist]\n[[entry]]\nscene = \"a.toml\"\ncue = true\n",
        )
        .unwrap();
        assert!(is_playlist(&list));
        assert!(!is_playlist(&dir.path().join("a.toml")));
        assert!(!is_playlist(&dir.path().join("missing.toml")));
        std::fs::write(&list, "playlist = 3\n").unwrap();
        assert!(!is_playlist(&list));
        std::fs::write(&list, "[playlist\n").unwrap();
        assert!(!is_playlist(&list));
    }

    #[test]
    fn sequence_advances_on_time_and_loops() {
        let dir = scenes();
        let p = timed(&dir, "sequence", true, 3);
        let mut c = Cursor::new(&p);
        assert_eq!(c.current(), 0);
        assert_eq!(c.poll(9.9), None);
        assert_eq!(c.remaining_secs(9.0), Some(1.0));
        let s = c.poll(10.0).unwrap();
        assert_eq!((s.from, s.index), (0, 1));
        assert_eq!(s.transition, Transition::default());
        // The new entry's time starts at the switch.
        assert_eq!(c.poll(19.9), None);
        assert_eq!(c.poll(20.0).map(|s| s.index), Some(2));
        assert_eq!(c.poll(30.0).map(|s| s.index), Some(0));
        // After a stall, one entry per poll, not a burst.
        assert_eq!(c.poll(1000.0).map(|s| s.index), Some(1));
        assert_eq!(c.poll(1000.0), None);
    }

    #[test]
    fn sequence_without_loop_stays_on_the_last() {
        let dir = scenes();
        let p = timed(&dir, "sequence", false, 2);
        let mut c = Cursor::new(&p);
        assert_eq!(c.previous(0.0), None);
        assert_eq!(c.poll(10.0).map(|s| s.index), Some(1));
        assert_eq!(c.poll(100.0), None);
        assert_eq!(c.next(100.0), None);
        assert_eq!(c.current(), 1);
        assert_eq!(c.previous(101.0).map(|s| s.index), Some(0));
    }

    #[test]
    fn sequence_previous_wraps_when_looping() {
        let dir = scenes();
        let p = timed(&dir, "sequence", true, 3);
        let mut c = Cursor::new(&p);
        assert_eq!(c.previous(1.0).map(|s| s.index), Some(2));
        assert_eq!(c.next(2.0).map(|s| s.index), Some(0));
    }

    #[test]
    fn cue_entries_wait_for_next() {
        let dir = scenes();
        let p = ok(
            &dir,
            "[playlist]\n[[entry]]\nscene = \"a.toml\"\ncue = true\n[[entry]]\nscene = \"b.toml\"\nduration = 5\ntransition = { kind = \"cut\" }\n",
        );
        let mut c = Cursor::new(&p);
        assert_eq!(c.poll(1e9), None);
        assert_eq!(c.remaining_secs(1e9), None);
        let s = c.next(1e9).unwrap();
        assert_eq!(s.index, 1);
        assert_eq!(s.transition, Transition::CUT);
        assert_eq!(c.poll(1e9 + 5.0).map(|s| s.index), Some(0));
    }

    #[test]
    fn goto_by_index_and_name() {
        let dir = scenes();
        let p = timed(&dir, "sequence", true, 4);
        let mut c = Cursor::new(&p);
        assert_eq!(
            c.goto_name("c", 3.0).map(|s| (s.from, s.index)),
            Some((0, 2))
        );
        assert_eq!(c.goto_name("c", 4.0), None);
        assert_eq!(c.goto_name("zzz", 4.0), None);
        assert_eq!(c.goto_index(9, 4.0), None);
        assert_eq!(c.poll(12.9), None);
        assert_eq!(c.poll(13.0).map(|s| s.index), Some(3));
        assert_eq!(c.goto_index(0, 14.0).map(|s| s.index), Some(0));
    }

    /// Plays `rounds * n` entries by time and returns the indices shown, first included.
    fn play(c: &mut Cursor, count: usize) -> Vec<usize> {
        let mut shown = vec![c.current()];
        let mut now = 0.0;
        while shown.len() < count {
            now += 10.0;
            shown.push(c.poll(now).expect("a switch every 10 s").index);
        }
        shown
    }

    #[test]
    fn shuffle_rounds_cover_every_entry_without_repeats() {
        let dir = scenes();
        let p = timed(&dir, "shuffle", true, 5);
        for seed in 0..50 {
            let mut c = Cursor::with_seed(&p, seed);
            let shown = play(&mut c, 5 * 8);
            for round in shown.chunks(5) {
                let mut sorted = round.to_vec();
                sorted.sort_unstable();
                assert_eq!(sorted, vec![0, 1, 2, 3, 4], "seed {seed}: {shown:?}");
            }
            assert!(
                shown.windows(2).all(|w| w[0] != w[1]),
                "seed {seed}: {shown:?}"
            );
        }
    }

    #[test]
    fn shuffle_is_deterministic_per_seed_and_varies_between_seeds() {
        let dir = scenes();
        let p = timed(&dir, "shuffle", true, 5);
        let a = play(&mut Cursor::new(&p), 20);
        let b = play(&mut Cursor::new(&p), 20);
        assert_eq!(a, b);
        let orders: std::collections::HashSet<Vec<usize>> = (0..20)
            .map(|seed| play(&mut Cursor::with_seed(&p, seed), 20))
            .collect();
        assert!(orders.len() > 10, "{orders:?}");
    }

    #[test]
    fn shuffle_of_two_alternates() {
        let dir = scenes();
        let p = timed(&dir, "shuffle", true, 2);
        for seed in 0..20 {
            let shown = play(&mut Cursor::with_seed(&p, seed), 12);
            assert!(shown.windows(2).all(|w| w[0] != w[1]), "{shown:?}");
        }
    }

    #[test]
    fn shuffle_previous_walks_history_and_next_retraces_it() {
        let dir = scenes();
        let p = timed(&dir, "shuffle", true, 5);
        let mut c = Cursor::new(&p);
        let shown = play(&mut c, 4);
        assert_eq!(c.previous(100.0).map(|s| s.index), Some(shown[2]));
        assert_eq!(c.previous(101.0).map(|s| s.index), Some(shown[1]));
        assert_eq!(c.next(102.0).map(|s| s.index), Some(shown[2]));
        assert_eq!(c.next(103.0).map(|s| s.index), Some(shown[3]));
        // Then the round goes on with the one entry not shown yet.
        let last = c.next(104.0).unwrap().index;
        let mut round: Vec<usize> = shown.clone();
        round.push(last);
        round.sort_unstable();
        assert_eq!(round, vec![0, 1, 2, 3, 4]);
        // Back to the very first, then no further.
        for _ in 0..4 {
            assert!(c.previous(105.0).is_some());
        }
        assert_eq!(c.current(), shown[0]);
        assert_eq!(c.previous(106.0), None);
    }

    #[test]
    fn shuffle_goto_counts_as_shown_in_the_round() {
        let dir = scenes();
        let p = timed(&dir, "shuffle", true, 5);
        for seed in 0..30 {
            let mut c = Cursor::with_seed(&p, seed);
            let first = c.current();
            let target = (first + 2) % 5;
            c.goto_index(target, 1.0).unwrap();
            let mut shown = vec![first, target];
            let mut now = 1.0;
            for _ in 0..3 {
                now += 10.0;
                shown.push(c.poll(now).unwrap().index);
            }
            let mut sorted = shown.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 1, 2, 3, 4], "seed {seed}: {shown:?}");
        }
    }

    #[test]
    fn shuffle_without_loop_stops_after_one_round() {
        let dir = scenes();
        let p = timed(&dir, "shuffle", false, 3);
        let mut c = Cursor::new(&p);
        let shown = play(&mut c, 3);
        assert_eq!(c.poll(1000.0), None);
        assert_eq!(c.current(), shown[2]);
    }

    #[test]
    fn single_entry_loop_restarts_itself() {
        let dir = scenes();
        let p = timed(&dir, "shuffle", true, 1);
        let mut c = Cursor::new(&p);
        let s = c.poll(10.0).unwrap();
        assert_eq!((s.from, s.index), (0, 0));
        assert_eq!(c.poll(15.0), None);
    }

    #[test]
    fn the_shipped_example_playlist_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/playlists/gallery.toml");
        assert!(is_playlist(&path));
        let p = Playlist::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.entries.len(), 5);
        assert!(p.looping);
        // Every `set` names a param its scene has, inside the param's range.
        for entry in &p.entries {
            let scene = crate::scene::Scene::read(&entry.scene)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.scene.display()));
            for (name, value) in &entry.set {
                let def = scene
                    .param(name)
                    .unwrap_or_else(|| panic!("{}: no param `{name}`", entry.name));
                assert!((def.min..=def.max).contains(value), "{name}={value}");
            }
        }
        // The commented schedule is valid too, once uncommented.
        let text = std::fs::read_to_string(&path).unwrap();
        let schedule: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# [schedule]"))
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(schedule.contains("saturday"), "{schedule}");
        let schedule = crate::show::schedule::Schedule::parse(&schedule, &path)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!schedule.is_always_open());
    }
}
