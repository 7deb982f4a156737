//! Unit tests of playlists: parsing, located errors, durations and the cursor (sequence,
//! shuffle, previous, goto, looping).

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
    let schedule =
        crate::show::schedule::Schedule::parse(&schedule, &path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!schedule.is_always_open());
}
