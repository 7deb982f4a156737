//! Opening hours: when the show runs, on civil local time, with fades at opening and closing.
//!
//! The rules are a pure function of a civil date-time ([`jiff::civil::DateTime`]): tests inject
//! any time and [`now_local`] is the only place that reads the real clock. The week is a circle
//! of open intervals measured from Monday 00:00, so a range that crosses midnight (Saturday
//! 20:00-02:00) or the week's end (Sunday into Monday) is one interval, and ranges that touch
//! (Monday 22:00-24:00 and Tuesday 00:00-02:00) merge: no fade in the middle of the night.
//!
//! Civil time means a daylight-saving change shifts the show with the wall clock, which is what
//! opening hours mean; on the night clocks go back, an hour may repeat.

use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use jiff::civil::DateTime;
use serde::Deserialize;
use toml::Spanned;

use crate::diag::Collector as Ctx;
use crate::diag::Diagnostics;

const DAY_SECS: i64 = 24 * 60 * 60;
const WEEK_SECS: i64 = 7 * DAY_SECS;
const NS_PER_SEC: i64 = 1_000_000_000;

/// Default of `fade_secs`.
pub const DEFAULT_FADE_SECS: f64 = 10.0;

/// Day keys in week order, Monday first (as [`jiff::civil::Weekday::to_monday_zero_offset`]).
pub const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `[schedule]` exactly as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Monday's hours: `"10:00-18:00"`, a list of ranges, `"open"` or `"closed"`. Default:
    /// `default`, else closed (else always open when no day is given at all).
    pub monday: Option<Spanned<toml::Value>>,
    /// Tuesday's hours (as `monday`).
    pub tuesday: Option<Spanned<toml::Value>>,
    /// Wednesday's hours (as `monday`).
    pub wednesday: Option<Spanned<toml::Value>>,
    /// Thursday's hours (as `monday`).
    pub thursday: Option<Spanned<toml::Value>>,
    /// Friday's hours (as `monday`).
    pub friday: Option<Spanned<toml::Value>>,
    /// Saturday's hours (as `monday`).
    pub saturday: Option<Spanned<toml::Value>>,
    /// Sunday's hours (as `monday`).
    pub sunday: Option<Spanned<toml::Value>>,
    /// Hours of every day not listed. Default: none (omitted days are closed).
    pub default: Option<Spanned<toml::Value>>,
    /// Seconds of fade to black before closing and from black after opening. Default: 10.
    pub fade_secs: Option<Spanned<f64>>,
    /// What shows while closed: `"black"` or a scene file (relative to this file). Default:
    /// `"black"`.
    pub idle: Option<Spanned<String>>,
}

/// A file holding only a `[schedule]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScheduleFile {
    schedule: RawSchedule,
}

/// What the screen shows while closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idle {
    /// Nothing: the output is black.
    Black,
    /// This scene (resolved against the file's folder; it existed when the file was loaded).
    Scene(PathBuf),
}

/// Validated opening hours.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Seconds of fade before closing and after opening (0 = cut).
    pub fade_secs: f64,
    /// What shows while closed.
    pub idle: Idle,
    /// Open intervals in nanoseconds from Monday 00:00 of the week before, through the week
    /// after (three weeks unrolled, merged where they touch), so every interval that contains
    /// an instant of the middle week is whole. Empty when always closed.
    spans: Vec<(i64, i64)>,
    /// `Some(true)` always open, `Some(false)` always closed, `None` changes during the week.
    constant: Option<bool>,
}

/// The schedule's answer for one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleState {
    /// Inside opening hours.
    pub open: bool,
    /// Show brightness 0..=1: 0 while closed, ramping over `fade_secs` after opening and before
    /// closing.
    pub level: f32,
    /// The next opening or closing, `None` when the schedule never changes.
    pub next_change: Option<DateTime>,
}

impl Default for Schedule {
    /// Always open, no fades, black when closed (never).
    fn default() -> Self {
        Self {
            fade_secs: 0.0,
            idle: Idle::Black,
            spans: Vec::new(),
            constant: Some(true),
        }
    }
}

/// The current civil date-time in the system's time zone (the real clock; everything else here
/// takes the time as an argument).
#[must_use]
pub fn now_local() -> DateTime {
    jiff::Zoned::now().datetime()
}

/// Nanoseconds since Monday 00:00 of `at`'s week.
fn week_pos_ns(at: DateTime) -> i64 {
    let day = i64::from(at.weekday().to_monday_zero_offset());
    let secs = day * DAY_SECS
        + i64::from(at.hour()) * 3600
        + i64::from(at.minute()) * 60
        + i64::from(at.second());
    secs * NS_PER_SEC + i64::from(at.subsec_nanosecond())
}

impl Schedule {
    /// Reads and validates a file that holds only a `[schedule]` table.
    ///
    /// # Errors
    /// An unreadable file, or every problem found, each located in the file.
    pub fn load(path: &Path) -> Result<Self, Diagnostics> {
        let source = crate::untrusted::read_toml(path, "schedule")
            .map_err(|e| Diagnostics(vec![e.into_diagnostic(path, "schedule")]))?;
        Self::parse(&source, path)
    }

    /// Validates `source` (a file with only a `[schedule]` table) as if read from `path`.
    ///
    /// # Errors
    /// Every problem found, each located in the file.
    pub fn parse(source: &str, path: &Path) -> Result<Self, Diagnostics> {
        let raw: RawScheduleFile =
            crate::diag::from_toml(path, source).map_err(|d| Diagnostics(vec![d]))?;
        let mut ctx = Ctx::new(path, source);
        let schedule = Self::from_raw(raw.schedule, &mut ctx);
        ctx.finish(schedule)
    }

    /// Validates a raw `[schedule]` read from `ctx.path`; problems go to `ctx`.
    pub(crate) fn from_raw(raw: RawSchedule, ctx: &mut Ctx<'_>) -> Self {
        let fade_secs = match raw.fade_secs {
            Some(f) => {
                let span = f.span();
                let v = f.into_inner();
                if v.is_finite() && v >= 0.0 {
                    v
                } else {
                    ctx.error(&span, format!("fade_secs = {v} must be a number >= 0"));
                    DEFAULT_FADE_SECS
                }
            }
            None => DEFAULT_FADE_SECS,
        };
        let idle = match raw.idle {
            None => Idle::Black,
            Some(s) => {
                let span = s.span();
                let v = s.into_inner();
                if v == "black" {
                    Idle::Black
                } else {
                    let path = ctx.path().parent().unwrap_or(Path::new("")).join(&v);
                    if let Err(e) = crate::untrusted::regular_file(&path) {
                        ctx.error(
                            &span,
                            format!("idle scene `{v}` {e} (looked at {})", path.display()),
                        )
                        .notes
                        .push(("idle is \"black\" or a scene file relative to this file").into());
                    }
                    Idle::Scene(path)
                }
            }
        };

        let days = [
            raw.monday,
            raw.tuesday,
            raw.wednesday,
            raw.thursday,
            raw.friday,
            raw.saturday,
            raw.sunday,
        ];
        let default = raw.default.map(|d| {
            let span = d.span();
            (span.clone(), parse_day(ctx, "default", &span, d.get_ref()))
        });
        let always_open = days.iter().all(Option::is_none) && default.is_none();

        let mut week: Vec<(i64, i64)> = Vec::new();
        for (day, value) in days.into_iter().enumerate() {
            let ranges = match value {
                Some(v) => parse_day(ctx, DAY_NAMES[day], &v.span(), v.get_ref()),
                None => default.as_ref().map(|(_, r)| r.clone()).unwrap_or_default(),
            };
            // `day` is 0..7.
            let day_start = i64::try_from(day).unwrap_or(0) * DAY_SECS;
            for (start, end) in ranges {
                let (s, e) = (day_start + start, day_start + end);
                // A range crossing the week's end (Sunday night) continues on Monday morning.
                if e > WEEK_SECS {
                    week.push((s, WEEK_SECS));
                    week.push((0, e - WEEK_SECS));
                } else {
                    week.push((s, e));
                }
            }
        }

        let merged = merge(week);
        let constant = if always_open || merged == [(0, WEEK_SECS)] {
            Some(true)
        } else if merged.is_empty() {
            Some(false)
        } else {
            None
        };
        let unrolled = (-1..=1)
            .flat_map(|k| {
                merged
                    .iter()
                    .map(move |&(s, e)| (s + k * WEEK_SECS, e + k * WEEK_SECS))
            })
            .collect();
        let spans = merge(unrolled)
            .into_iter()
            .map(|(s, e)| (s * NS_PER_SEC, e * NS_PER_SEC))
            .collect();
        Self {
            fade_secs,
            idle,
            spans,
            constant,
        }
    }

    /// True when the show never closes (no days given, or open around the clock).
    #[must_use]
    pub fn is_always_open(&self) -> bool {
        self.constant == Some(true)
    }

    /// The open interval containing `pos` (nanoseconds into the week), if any.
    fn span_at(&self, pos: i64) -> Option<(i64, i64)> {
        self.spans
            .iter()
            .copied()
            .find(|&(s, e)| s <= pos && pos < e)
    }

    /// True inside opening hours (a range includes its start and excludes its end).
    #[must_use]
    pub fn is_open(&self, at: DateTime) -> bool {
        match self.constant {
            Some(open) => open,
            None => self.span_at(week_pos_ns(at)).is_some(),
        }
    }

    /// The next instant after `at` when the schedule opens or closes; `None` when it never
    /// changes (always open or always closed) or the date would leave jiff's range.
    #[must_use]
    pub fn next_change(&self, at: DateTime) -> Option<DateTime> {
        if self.constant.is_some() {
            return None;
        }
        let pos = week_pos_ns(at);
        let target = match self.span_at(pos) {
            Some((_, end)) => end,
            None => self.spans.iter().map(|&(s, _)| s).find(|&s| s > pos)?,
        };
        at.checked_add(SignedDuration::from_nanos(target - pos))
            .ok()
    }

    /// Show brightness at `at`: 1 while open, 0 while closed, a linear ramp over `fade_secs`
    /// after opening and before closing (a range shorter than two fades peaks below 1).
    #[must_use]
    pub fn level(&self, at: DateTime) -> f32 {
        if let Some(open) = self.constant {
            return f32::from(u8::from(open));
        }
        let pos = week_pos_ns(at);
        let Some((start, end)) = self.span_at(pos) else {
            return 0.0;
        };
        if self.fade_secs <= 0.0 {
            return 1.0;
        }
        let nearest_edge_secs = (pos - start).min(end - pos) as f64 / NS_PER_SEC as f64;
        (nearest_edge_secs / self.fade_secs).clamp(0.0, 1.0) as f32
    }

    /// Open, level and next change at `at` in one call.
    #[must_use]
    pub fn state(&self, at: DateTime) -> ScheduleState {
        ScheduleState {
            open: self.is_open(at),
            level: self.level(at),
            next_change: self.next_change(at),
        }
    }
}

/// Sorts intervals and merges those that overlap or touch.
fn merge(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

const DAY_HINT: &str =
    "a day is \"HH:MM-HH:MM\" (24-hour clock), a list of them, \"open\" or \"closed\"";

/// One day's value as `(start, end)` seconds from that day's midnight; `end` may exceed a day
/// when the range crosses midnight. Problems go to `ctx` and the bad range is skipped.
fn parse_day(
    ctx: &mut Ctx<'_>,
    key: &str,
    span: &Range<usize>,
    value: &toml::Value,
) -> Vec<(i64, i64)> {
    match value {
        toml::Value::String(s) => match s.trim() {
            "closed" => Vec::new(),
            "open" => vec![(0, DAY_SECS)],
            text => match parse_range(text) {
                Ok(r) => vec![r],
                Err(message) => {
                    ctx.error(span, format!("{key}: {message}"))
                        .notes
                        .push((DAY_HINT).into());
                    Vec::new()
                }
            },
        },
        toml::Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                let at = element_span(ctx.source(), span, item);
                match item {
                    toml::Value::String(s) => match parse_range(s.trim()) {
                        Ok(r) => out.push(r),
                        Err(message) => ctx
                            .error(&at, format!("{key}: {message}"))
                            .notes
                            .push((DAY_HINT).into()),
                    },
                    other => ctx
                        .error(
                            &at,
                            format!("{key}: expected a string like \"10:00-18:00\", found {other}"),
                        )
                        .notes
                        .push((DAY_HINT).into()),
                }
            }
            out
        }
        other => {
            ctx.error(
                span,
                format!("{key}: expected a string or a list of strings, found {other}"),
            )
            .notes
            .push((DAY_HINT).into());
            Vec::new()
        }
    }
}

/// Where a list element is in the file: TOML keeps no spans inside arrays, so look for the
/// element's text inside the list's span (the first occurrence; the list start otherwise).
fn element_span(source: &str, list: &Range<usize>, item: &toml::Value) -> Range<usize> {
    let needle = match item {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    source
        .get(list.clone())
        .and_then(|text| text.find(&needle))
        .map_or_else(
            || list.clone(),
            |i| {
                // Point at the opening quote of a string, like TOML's own errors do.
                let start = list.start + i;
                let start = if matches!(item, toml::Value::String(_)) {
                    start.saturating_sub(1)
                } else {
                    start
                };
                start..start + needle.len()
            },
        )
}

/// `"HH:MM-HH:MM"` -> seconds from midnight; an end before the start is on the next day.
fn parse_range(text: &str) -> Result<(i64, i64), String> {
    let Some((a, b)) = text.split_once('-') else {
        return Err(format!("`{text}` is not a range: expected HH:MM-HH:MM"));
    };
    let start = parse_time(a.trim())?;
    let end = parse_time(b.trim())?;
    if start == DAY_SECS {
        return Err(format!(
            "`{text}`: a range cannot start at 24:00 (write 00:00)"
        ));
    }
    if start == end {
        return Err(format!(
            "`{text}` is empty: start and end are the same time (write \"open\" for the whole day)"
        ));
    }
    let end = if end <= start { end + DAY_SECS } else { end };
    if end - start > DAY_SECS {
        return Err(format!("`{text}` is longer than a day"));
    }
    Ok((start, end))
}

/// `"HH:MM"` (`24:00` allowed, meaning the end of the day) -> seconds from midnight.
fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a time of day: expected HH:MM, e.g. 09:30");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, max_len: usize| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return Err(bad());
    }
    let hour: i64 = h.parse().map_err(|_| bad())?;
    let minute: i64 = m.parse().map_err(|_| bad())?;
    if hour > 24 || (hour == 24 && minute != 0) {
        return Err(format!(
            "`{text}`: hour {hour} is out of range 00..=23 (or 24:00)"
        ));
    }
    if minute > 59 {
        return Err(format!("`{text}`: minute {minute} is out of range 00..=59"));
    }
    Ok(hour * 3600 + minute * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// 2026-11-23 is a Monday.
    fn at(day: usize, h: i8, m: i8, s: i8) -> DateTime {
        date(2026, 11, 23 + day as i8).at(h, m, s, 0)
    }
    const MON: usize = 0;
    const TUE: usize = 1;
    const SAT: usize = 5;
    const SUN: usize = 6;

    fn schedule(body: &str) -> Schedule {
        let text = format!("[schedule]\n{body}");
        match Schedule::parse(&text, Path::new("s.toml")) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn errors(body: &str) -> String {
        let text = format!("[schedule]\n{body}");
        match Schedule::parse(&text, Path::new("s.toml")) {
            Ok(s) => panic!("expected an error, got {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn test_dates_are_the_weekdays_they_claim() {
        assert_eq!(at(MON, 0, 0, 0).weekday(), jiff::civil::Weekday::Monday);
        assert_eq!(at(SUN, 0, 0, 0).weekday(), jiff::civil::Weekday::Sunday);
    }

    #[test]
    fn opens_and_closes_on_a_weekday() {
        let s = schedule("monday = \"10:00-18:00\"\nfade_secs = 0");
        assert!(!s.is_open(at(MON, 9, 59, 59)));
        assert!(s.is_open(at(MON, 10, 0, 0)));
        assert!(s.is_open(at(MON, 17, 59, 59)));
        assert!(!s.is_open(at(MON, 18, 0, 0)));
        // Omitted days are closed.
        assert!(!s.is_open(at(TUE, 12, 0, 0)));
        assert_eq!(s.next_change(at(MON, 9, 0, 0)), Some(at(MON, 10, 0, 0)));
        assert_eq!(s.next_change(at(MON, 10, 0, 0)), Some(at(MON, 18, 0, 0)));
        // After Monday's closing the next opening is a week later.
        assert_eq!(
            s.next_change(at(MON, 18, 0, 0)),
            Some(date(2026, 11, 30).at(10, 0, 0, 0))
        );
    }

    #[test]
    fn several_ranges_in_a_day() {
        let s = schedule("tuesday = [\"10:00-13:00\", \"14:00-22:00\"]");
        assert!(s.is_open(at(TUE, 12, 0, 0)));
        assert!(!s.is_open(at(TUE, 13, 30, 0)));
        assert!(s.is_open(at(TUE, 14, 0, 0)));
        assert!(!s.is_open(at(TUE, 22, 0, 0)));
        assert_eq!(s.next_change(at(TUE, 13, 0, 0)), Some(at(TUE, 14, 0, 0)));
    }

    #[test]
    fn saturday_night_runs_into_sunday_even_when_sunday_is_closed() {
        let s = schedule("saturday = \"20:00-02:00\"\nsunday = \"closed\"");
        assert!(!s.is_open(at(SAT, 19, 0, 0)));
        assert!(s.is_open(at(SAT, 23, 59, 59)));
        assert!(s.is_open(at(SUN, 0, 0, 0)));
        assert!(s.is_open(at(SUN, 1, 59, 0)));
        assert!(!s.is_open(at(SUN, 2, 0, 0)));
        assert_eq!(s.next_change(at(SAT, 21, 0, 0)), Some(at(SUN, 2, 0, 0)));
    }

    #[test]
    fn sunday_night_wraps_into_monday() {
        let s = schedule("sunday = \"22:00-03:00\"\nfade_secs = 60");
        assert!(s.is_open(at(SUN, 23, 0, 0)));
        assert!(s.is_open(at(MON, 2, 0, 0)));
        assert!(!s.is_open(at(MON, 3, 0, 0)));
        // Monday 02:00 belongs to the range that opened on the Sunday of the week before.
        assert_eq!(s.next_change(at(MON, 2, 0, 0)), Some(at(MON, 3, 0, 0)));
        assert_eq!(s.next_change(at(SUN, 23, 0, 0)), Some(at(7, 3, 0, 0)));
        // Full brightness across the week boundary (the range is one interval).
        assert!((s.level(at(MON, 0, 0, 0)) - 1.0).abs() < 1e-6);
        assert!((s.level(at(SUN, 23, 59, 59)) - 1.0).abs() < 1e-6);
        assert!(s.level(at(MON, 2, 59, 30)) < 0.51);
    }

    #[test]
    fn touching_ranges_merge_without_a_fade_at_midnight() {
        let s = schedule("monday = \"18:00-24:00\"\ntuesday = \"00:00-02:00\"\nfade_secs = 60");
        assert!((s.level(at(TUE, 0, 0, 0)) - 1.0).abs() < 1e-6);
        assert_eq!(s.next_change(at(MON, 23, 0, 0)), Some(at(TUE, 2, 0, 0)));
    }

    #[test]
    fn fades_before_closing_and_after_opening() {
        let s = schedule("monday = \"10:00-18:00\"\nfade_secs = 10");
        assert!((s.level(at(MON, 9, 0, 0))).abs() < 1e-6);
        assert!((s.level(at(MON, 10, 0, 0))).abs() < 1e-6);
        assert!((s.level(at(MON, 10, 0, 5)) - 0.5).abs() < 1e-6);
        assert!((s.level(at(MON, 10, 0, 10)) - 1.0).abs() < 1e-6);
        assert!((s.level(at(MON, 17, 59, 50)) - 1.0).abs() < 1e-6);
        assert!((s.level(at(MON, 17, 59, 55)) - 0.5).abs() < 1e-6);
        assert!((s.level(at(MON, 18, 0, 0))).abs() < 1e-6);
        // Sub-second precision: the ramp is smooth, not stepped per second.
        let half_past = date(2026, 11, 23).at(10, 0, 2, 500_000_000);
        assert!((s.level(half_past) - 0.25).abs() < 1e-6);
        let st = s.state(at(MON, 17, 59, 55));
        assert!(st.open);
        assert_eq!(st.next_change, Some(at(MON, 18, 0, 0)));
    }

    #[test]
    fn no_days_is_always_open_and_all_closed_is_always_closed() {
        let open = schedule("fade_secs = 5");
        assert!(open.is_always_open());
        assert!(open.is_open(at(SUN, 3, 0, 0)));
        assert!((open.level(at(SUN, 3, 0, 0)) - 1.0).abs() < 1e-6);
        assert_eq!(open.next_change(at(SUN, 3, 0, 0)), None);

        let closed = schedule("monday = \"closed\"");
        assert!(!closed.is_always_open());
        assert!(!closed.is_open(at(MON, 12, 0, 0)));
        assert_eq!(closed.next_change(at(MON, 12, 0, 0)), None);
        assert!(closed.level(at(MON, 12, 0, 0)).abs() < 1e-6);

        let around_the_clock = schedule("default = \"open\"");
        assert!(around_the_clock.is_always_open());
        assert_eq!(around_the_clock.next_change(at(TUE, 1, 0, 0)), None);
    }

    #[test]
    fn default_applies_to_omitted_days_only() {
        let s = schedule("default = \"09:00-17:00\"\nsunday = \"closed\"\nidle = \"black\"");
        assert!(s.is_open(at(TUE, 9, 0, 0)));
        assert!(s.is_open(at(SAT, 16, 0, 0)));
        assert!(!s.is_open(at(SUN, 12, 0, 0)));
        assert_eq!(s.idle, Idle::Black);
        assert!((s.fade_secs - DEFAULT_FADE_SECS).abs() < 1e-12);
    }

    #[test]
    fn bad_times_are_located_errors() {
        let e = errors("monday = \"25:00-18:00\"");
        assert!(
            e.starts_with("s.toml:2:10: monday: `25:00`: hour 25"),
            "{e}"
        );
        let e = errors("monday = \"10-18\"");
        assert!(
            e.starts_with("s.toml:2:10: monday: `10` is not a time of day"),
            "{e}"
        );
        let e = errors("monday = \"10:00-10:00\"");
        assert!(
            e.starts_with("s.toml:2:10: monday: `10:00-10:00` is empty"),
            "{e}"
        );
        let e = errors("monday = \"10:00\"");
        assert!(e.contains("is not a range"), "{e}");
        let e = errors("monday = \"10:60-11:00\"");
        assert!(e.contains("minute 60"), "{e}");
        let e = errors("monday = \"24:00-02:00\"");
        assert!(e.contains("cannot start at 24:00"), "{e}");
        let e = errors("monday = 10");
        assert!(e.contains("expected a string or a list"), "{e}");
    }

    #[test]
    fn errors_inside_lists_point_at_the_element_and_all_are_reported() {
        let e = errors("tuesday = [\"10:00-13:00\", \"14:00-2200\"]\nfade_secs = -1");
        let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("s.toml")).collect();
        assert_eq!(lines.len(), 2, "{e}");
        assert!(lines[0].starts_with("s.toml:3:13: fade_secs"), "{e}");
        assert!(
            lines[1].starts_with("s.toml:2:27: tuesday: `2200` is not a time"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_and_missing_idle_scenes_are_errors() {
        let e = errors("mon = \"10:00-18:00\"");
        assert!(e.starts_with("s.toml:2:1:"), "{e}");
        assert!(e.contains("unknown field `mon`"), "{e}");
        let e = errors("idle = \"nowhere.toml\"");
        assert!(
            e.starts_with("s.toml:2:8: idle scene `nowhere.toml` not found"),
            "{e}"
        );
    }

    #[test]
    fn merge_joins_overlapping_and_touching() {
        assert_eq!(
            merge(vec![(5, 8), (0, 2), (2, 3), (7, 9), (20, 30)]),
            vec![(0, 3), (5, 9), (20, 30)]
        );
    }
}
