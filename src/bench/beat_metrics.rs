//! Beat-tracking metrics, as `mir_eval.beat` defines them (F-measure, `CMLt`, `AMLt`), plus the
//! ones a live show cares about: tempo accuracy over time, octave flips, off-beat lock and
//! re-lock time after a tempo change. Pure functions on beat times in seconds; `hypna bench
//! --beats` applies them (see `beats.rs`), and `scripts/beat-eval-check.py` checks the
//! first three against `mir_eval` itself.

/// `mir_eval.beat.trim_beats`: beats before `min_secs` are not scored (lock-in time).
#[must_use]
pub fn trim(beats: &[f64], min_secs: f64) -> Vec<f64> {
    beats.iter().copied().filter(|&b| b >= min_secs).collect()
}

/// Size of a maximum matching between `reference` and `estimated` events where a pair may
/// match when they are at most `window_secs` apart (`mir_eval.util.match_events`), by
/// augmenting paths (Kuhn's algorithm).
#[must_use]
pub fn matched(reference: &[f64], estimated: &[f64], window_secs: f64) -> usize {
    // Candidates of each reference event: estimated events within the window (both sorted,
    // so a sliding start keeps this linear plus the matches).
    let mut candidates: Vec<Vec<usize>> = Vec::with_capacity(reference.len());
    let mut lo = 0;
    for &r in reference {
        while lo < estimated.len() && estimated[lo] < r - window_secs {
            lo += 1;
        }
        let mut c = Vec::new();
        let mut j = lo;
        while j < estimated.len() && estimated[j] <= r + window_secs {
            if (estimated[j] - r).abs() <= window_secs {
                c.push(j);
            }
            j += 1;
        }
        candidates.push(c);
    }
    let mut owner: Vec<Option<usize>> = vec![None; estimated.len()];
    let mut count = 0;
    for r in 0..reference.len() {
        let mut seen = vec![false; estimated.len()];
        if augment(r, &candidates, &mut owner, &mut seen) {
            count += 1;
        }
    }
    count
}

fn augment(
    r: usize,
    candidates: &[Vec<usize>],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for &e in &candidates[r] {
        if seen[e] {
            continue;
        }
        seen[e] = true;
        if owner[e].is_none_or(|other| augment(other, candidates, owner, seen)) {
            owner[e] = Some(r);
            return true;
        }
    }
    false
}

/// `mir_eval.beat.f_measure`: matches within `window_secs` (0.07), F = 2PR / (P + R).
#[must_use]
pub fn f_measure(reference: &[f64], estimated: &[f64], window_secs: f64) -> f64 {
    if reference.is_empty() || estimated.is_empty() {
        return 0.0;
    }
    let m = matched(reference, estimated, window_secs) as f64;
    let (p, r) = (m / estimated.len() as f64, m / reference.len() as f64);
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// The continuity metrics of `mir_eval.beat.continuity` (thresholds 0.175 of a beat for
/// phase and for period): `CMLc`, `CMLt`, `AMLc`, `AMLt`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Continuity {
    /// Correct metrical level, longest continuous correct run as a share of the beats.
    pub cml_c: f64,
    /// Correct metrical level, all correct beats as a share.
    pub cml_t: f64,
    /// Any metrical level (double, half, off-beat), continuous.
    pub aml_c: f64,
    /// Any metrical level, total.
    pub aml_t: f64,
}

/// `mir_eval.beat._get_reference_beat_variations`: the annotations, the off-beats, double
/// tempo, and half tempo on the odd and on the even beats.
fn variations(reference: &[f64]) -> [Vec<f64>; 5] {
    let n = reference.len();
    // Interpolated at half-beat indices 0, 0.5, ..., n - 1.
    let double: Vec<f64> = (0..(2 * n - 1))
        .map(|i| {
            let k = i / 2;
            if i % 2 == 0 {
                reference[k]
            } else {
                0.5 * (reference[k] + reference[k + 1])
            }
        })
        .collect();
    let off: Vec<f64> = double.iter().skip(1).step_by(2).copied().collect();
    let half_odd: Vec<f64> = reference.iter().step_by(2).copied().collect();
    let half_even: Vec<f64> = reference.iter().skip(1).step_by(2).copied().collect();
    [reference.to_vec(), off, double, half_odd, half_even]
}

/// `mir_eval.beat.continuity` with its default thresholds (0.175, 0.175).
#[must_use]
pub fn continuity(reference: &[f64], estimated: &[f64]) -> Continuity {
    const PHASE: f64 = 0.175;
    const PERIOD: f64 = 0.175;
    if reference.len() <= 1 || estimated.len() <= 1 {
        return Continuity::default();
    }
    let mut cont = Vec::with_capacity(5);
    let mut total = Vec::with_capacity(5);
    for refs in variations(reference) {
        if refs.is_empty() {
            cont.push(0.0);
            total.push(0.0);
            continue;
        }
        let n = refs.len().max(estimated.len());
        let mut used = vec![false; n];
        let mut success = vec![false; estimated.len()];
        for (m, &e) in estimated.iter().enumerate() {
            let (nearest, diff) = refs
                .iter()
                .enumerate()
                .map(|(i, &r)| (i, (e - r).abs()))
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            if used[nearest] {
                continue;
            }
            let (ref_interval, est_interval) = if m == 0 || nearest == 0 {
                let ri = if nearest + 1 < refs.len() {
                    refs[nearest + 1] - refs[nearest]
                } else if nearest > 0 {
                    refs[nearest] - refs[nearest - 1]
                } else {
                    0.0
                };
                let ei = if m + 1 < estimated.len() {
                    estimated[m + 1] - e
                } else {
                    e - estimated[m - 1]
                };
                (ri, ei)
            } else {
                (refs[nearest] - refs[nearest - 1], e - estimated[m - 1])
            };
            let (phase, period) = if ref_interval == 0.0 {
                (
                    if diff == 0.0 { 1.0 } else { f64::INFINITY },
                    if est_interval == 0.0 {
                        0.0
                    } else {
                        f64::INFINITY
                    },
                )
            } else {
                (
                    (diff / ref_interval).abs(),
                    (1.0 - est_interval / ref_interval).abs(),
                )
            };
            if phase < PHASE && period < PERIOD {
                used[nearest] = true;
                success[m] = true;
            }
        }
        // Longest run of successes.
        let (mut longest, mut run) = (0usize, 0usize);
        for &s in &success {
            run = if s { run + 1 } else { 0 };
            longest = longest.max(run);
        }
        let len = success.len() as f64;
        cont.push(longest as f64 / len);
        total.push(success.iter().filter(|&&s| s).count() as f64 / len);
    }
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    Continuity {
        cml_c: cont[0],
        cml_t: total[0],
        aml_c: max(&cont),
        aml_t: max(&total),
    }
}

/// The annotated tempo at `t`, BPM: from the two annotated beats around `t`.
#[must_use]
pub fn local_bpm(reference: &[f64], t: f64) -> Option<f64> {
    if reference.len() < 2 {
        return None;
    }
    let i = reference
        .partition_point(|&r| r <= t)
        .clamp(1, reference.len() - 1);
    let interval = reference[i] - reference[i - 1];
    (interval > 0.0).then(|| 60.0 / interval)
}

/// The octave class of a tempo estimate against the true tempo: 0 when within 8% of it, +1
/// for double (or x3/2 .. x3 rounded on a log2 scale), -1 for half, and so on.
fn octave_class(bpm: f64, truth: f64) -> i32 {
    (bpm / truth).log2().round() as i32
}

/// Tempo over time: how often it was right, and how often it jumped between octaves.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TempoScore {
    /// Share of the time (after the lock-in) the reported tempo is within 4% of the annotated
    /// one.
    pub accuracy: f64,
    /// Share within 4% of the annotated tempo, or of 1/3, 1/2, 2 or 3 times it.
    pub accuracy_octave: f64,
    /// Changes of octave class (a tempo near 2x, 1/2x ... of the one before).
    pub octave_flips: usize,
}

/// Scores `(time_secs, bpm)` reports against the annotations, from `from_secs` on. An octave
/// flip is counted when the class (log2 of the ratio to the annotated tempo, rounded) changes
/// and stays for at least `hold_secs` (a class change that reverts sooner is counted too, as
/// two flips, if it lasted at least one report).
#[must_use]
pub fn tempo_score(reference: &[f64], reports: &[(f64, f64)], from_secs: f64) -> TempoScore {
    let mut n = 0usize;
    let (mut right, mut right_octave) = (0usize, 0usize);
    let mut flips = 0usize;
    let mut class: Option<i32> = None;
    for &(t, bpm) in reports.iter().filter(|(t, _)| *t >= from_secs) {
        let Some(truth) = local_bpm(reference, t) else {
            continue;
        };
        n += 1;
        let r = bpm / truth;
        if (r - 1.0).abs() <= 0.04 {
            right += 1;
        }
        if [1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]
            .iter()
            .any(|k| (r / k - 1.0).abs() <= 0.04)
        {
            right_octave += 1;
        }
        let c = octave_class(bpm, truth);
        if class.is_some_and(|old| old != c) {
            flips += 1;
        }
        class = Some(c);
    }
    if n == 0 {
        return TempoScore::default();
    }
    TempoScore {
        accuracy: right as f64 / n as f64,
        accuracy_octave: right_octave as f64 / n as f64,
        octave_flips: flips,
    }
}

/// The longest stretch, seconds, during which the estimated beats sit on the off-beats of the
/// annotations: consecutive estimated beats (after `from_secs`) each within 0.175 of a beat
/// of the midpoint between two annotated beats, at the annotated tempo (interval within 17.5%),
/// measured from the first to the last such beat plus one beat.
#[must_use]
pub fn off_beat_lock_secs(reference: &[f64], estimated: &[f64], from_secs: f64) -> f64 {
    let mut longest = 0.0f64;
    let mut run_start: Option<f64> = None;
    let mut prev: Option<f64> = None;
    for &e in estimated.iter().filter(|&&e| e >= from_secs) {
        let i = reference.partition_point(|&r| r <= e);
        let off = if i == 0 || i >= reference.len() {
            false
        } else {
            let (a, b) = (reference[i - 1], reference[i]);
            let phase = (e - a) / (b - a);
            let period_ok = prev.is_some_and(|p| ((e - p) / (b - a) - 1.0).abs() < 0.175);
            (phase - 0.5).abs() < 0.175 && period_ok
        };
        if off {
            let start = *run_start.get_or_insert(e);
            let beat = prev.map_or(0.0, |p| e - p);
            longest = longest.max(e - start + beat);
        } else {
            run_start = None;
        }
        prev = Some(e);
    }
    longest
}

/// Seconds from `change_secs` until the tracker is right again: the first annotated beat
/// after the change from which `run` consecutive annotated beats each have an estimated beat
/// within `window_secs`, with no other estimated beat between them. `None` if that never
/// happens.
#[must_use]
pub fn relock_secs(
    reference: &[f64],
    estimated: &[f64],
    change_secs: f64,
    window_secs: f64,
    run: usize,
) -> Option<f64> {
    let hit = |r: f64| {
        estimated
            .iter()
            .filter(|&&e| (e - r).abs() <= window_secs)
            .count()
            == 1
    };
    let between = |a: f64, b: f64| {
        estimated
            .iter()
            .filter(|&&e| e > a + window_secs && e < b - window_secs)
            .count()
    };
    // From the first beat strictly after the change (the change itself falls on a beat of
    // both tempi, which any tracker still at the old tempo hits).
    let start = reference.partition_point(|&r| r <= change_secs);
    for i in start..reference.len() {
        if i + run > reference.len() {
            break;
        }
        let window = &reference[i..i + run];
        let all_hit = window.iter().all(|&r| hit(r));
        let clean = window.windows(2).all(|w| between(w[0], w[1]) == 0);
        if all_hit && clean {
            return Some((window[0] - change_secs).max(0.0));
        }
    }
    None
}

/// Signed timing errors, seconds (estimated minus reference; negative = early), of the
/// estimated beat nearest each reference beat, for those within `window_secs`.
#[must_use]
pub fn offsets(reference: &[f64], estimated: &[f64], window_secs: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(reference.len());
    let mut j = 0;
    for &r in reference {
        while j + 1 < estimated.len() && estimated[j + 1] <= r {
            j += 1;
        }
        let nearest = estimated
            .get(j..(j + 2).min(estimated.len()))
            .unwrap_or(&[])
            .iter()
            .map(|&e| e - r)
            .min_by(|a, b| a.abs().total_cmp(&b.abs()));
        if let Some(d) = nearest
            && d.abs() <= window_secs
        {
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    fn grid(start: f64, period: f64, n: usize) -> Vec<f64> {
        (0..n).map(|k| start + k as f64 * period).collect()
    }

    #[test]
    fn f_measure_matches_mir_eval_by_hand() {
        let r = grid(0.0, 0.5, 20);
        assert!((f_measure(&r, &r, 0.07) - 1.0).abs() < 1e-12);
        // Half of them 60 ms late (inside), half 80 ms late (outside): P = R = 0.5.
        let e: Vec<f64> = r
            .iter()
            .enumerate()
            .map(|(i, t)| t + if i % 2 == 0 { 0.06 } else { 0.08 })
            .collect();
        assert!((f_measure(&r, &e, 0.07) - 0.5).abs() < 1e-12);
        // Double tempo: P = 0.5, R = 1 -> F = 2/3.
        let d = grid(0.0, 0.25, 40);
        assert!((f_measure(&r, &d, 0.07) - 2.0 / 3.0).abs() < 0.02);
        assert_eq!(f_measure(&r, &[], 0.07), 0.0);
    }

    #[test]
    fn matching_is_maximal_not_greedy() {
        // A greedy nearest match would pair 1.0 with 1.05 and leave 1.1 without a partner.
        assert_eq!(matched(&[1.0, 1.1], &[0.99, 1.05], 0.07), 2);
    }

    #[test]
    fn continuity_of_the_metrical_levels() {
        let r = grid(5.0, 0.5, 40);
        let c = continuity(&r, &r);
        assert!((c.cml_t - 1.0).abs() < 1e-12 && (c.aml_t - 1.0).abs() < 1e-12);
        // Off-beat: nothing at the correct level, everything at some level.
        let off: Vec<f64> = r.iter().map(|t| t + 0.25).collect();
        let c = continuity(&r, &off);
        assert!(c.cml_t < 0.05, "{c:?}");
        assert!(c.aml_t > 0.95, "{c:?}");
        // Half tempo.
        let half = grid(5.0, 1.0, 20);
        let c = continuity(&r, &half);
        assert!(c.cml_t < 0.1 && c.aml_t > 0.95, "{c:?}");
    }

    #[test]
    fn offsets_are_signed_and_windowed() {
        let r = [1.0, 2.0, 3.0, 4.0];
        let e = [0.99, 2.02, 3.5, 3.97];
        let o = offsets(&r, &e, 0.07);
        assert_eq!(o.len(), 3, "{o:?}");
        assert!(
            (o[0] + 0.01).abs() < 1e-9 && (o[1] - 0.02).abs() < 1e-9 && (o[2] + 0.03).abs() < 1e-9
        );
        assert!(offsets(&r, &[], 0.07).is_empty());
    }

    #[test]
    fn tempo_score_counts_octave_flips() {
        let r = grid(0.0, 0.5, 100); // 120 BPM
        let mut reports: Vec<(f64, f64)> = (0..400).map(|i| (f64::from(i) * 0.1, 120.0)).collect();
        for (t, b) in &mut reports {
            if (20.0..22.0).contains(t) {
                *b = 240.0;
            }
        }
        let s = tempo_score(&r, &reports, 5.0);
        assert_eq!(s.octave_flips, 2);
        assert!((s.accuracy - (1.0 - 20.0 / 350.0)).abs() < 0.01, "{s:?}");
        assert!((s.accuracy_octave - 1.0).abs() < 1e-12);
    }

    #[test]
    fn off_beat_runs_and_relock() {
        let r = grid(0.0, 0.5, 60);
        let mut e = grid(0.0, 0.5, 60);
        for t in e.iter_mut().skip(20).take(8) {
            *t += 0.25;
        }
        let secs = off_beat_lock_secs(&r, &e, 5.0);
        assert!((secs - 3.5).abs() < 0.01, "{secs}");
        assert_eq!(off_beat_lock_secs(&r, &r, 5.0), 0.0);
        // Wrong until 14 s, right after.
        let wrong: Vec<f64> = r
            .iter()
            .map(|t| if *t < 14.0 { t + 0.2 } else { *t })
            .collect();
        let s = relock_secs(&r, &wrong, 10.0, 0.07, 4).unwrap();
        assert!((s - 4.0).abs() < 1e-9, "{s}");
    }
}
