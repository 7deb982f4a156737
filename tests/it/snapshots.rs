//! Snapshot tests: every scene in `scenes/` renders headless at a small size with a fixed
//! clock, frame and params, and must match its reference PNG in `tests/snapshots/` within a
//! tolerance. On failure the actual and difference images are written next to the reference.
//!
//! Bless new references with: `HYPNA_BLESS=1 cargo test --test it snapshots::` (then look at them).

use crate::common;

use common::{Frame, compare, gpu, render_all, render_last, root};

const SIZE: [u32; 2] = [192, 108];
/// Frames rendered before the compared one (30 fps): long enough for feedback to build up.
const FRAMES: u64 = 60;
/// Mean absolute error per channel (0..255) allowed between GPUs and drivers.
const TOLERANCE: f64 = 3.0;

fn scenes() -> Vec<std::path::PathBuf> {
    let v: Vec<_> = std::fs::read_dir(root().join("scenes"))
        .expect("scenes/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    // Scenes on models that set-up installs (the eyes GAN, the compiled dreams) are
    // prerequisites (a failure under `make test`, that scene skipped otherwise).
    let mut v = common::with_installed_models("snapshots", v);
    v.sort();
    v
}

#[test]
fn every_scene_matches_its_reference() {
    let Some(gpu) = gpu("every_scene_matches_its_reference") else {
        return;
    };
    let bless = std::env::var("HYPNA_BLESS").as_deref() == Ok("1");
    let dir = root().join("tests/snapshots");
    let mut failures = Vec::new();
    let all = scenes();
    assert!(all.len() >= 2, "expected at least two scenes in scenes/");
    for scene in all {
        let stem = scene
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let actual = render_last(&gpu, &scene, SIZE, FRAMES, &[]);
        let std = actual.luma_std();
        assert!(
            std > 8.0,
            "{stem}: the frame is flat (luma std {std:.2}); a scene must not render a flat colour"
        );
        let reference = dir.join(format!("{stem}.png"));
        if bless {
            actual.save(&reference);
            eprintln!("blessed {}", reference.display());
            continue;
        }
        let Some(expected) = Frame::load(&reference) else {
            actual.save(&dir.join(format!("{stem}-actual.png")));
            failures.push(format!("{stem}: no reference {}", reference.display()));
            continue;
        };
        let (mean, diff) = compare(&actual, &expected);
        eprintln!("{stem}: mean abs error {mean:.3} (tolerance {TOLERANCE})");
        if mean > TOLERANCE {
            actual.save(&dir.join(format!("{stem}-actual.png")));
            diff.save(&dir.join(format!("{stem}-difference.png")));
            failures.push(format!("{stem}: mean abs error {mean:.3} > {TOLERANCE}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nactual and difference images are in tests/snapshots/; if the change is intended, look at them and bless with:\n  HYPNA_BLESS=1 cargo test --test it snapshots::",
        failures.join("\n")
    );
}

#[test]
fn rendering_twice_gives_identical_frames() {
    let Some(gpu) = gpu("rendering_twice_gives_identical_frames") else {
        return;
    };
    for scene in scenes() {
        let a = render_all(&gpu, &scene, [96, 54], 12, &[]);
        let b = render_all(&gpu, &scene, [96, 54], 12, &[]);
        assert_eq!(a.len(), 12);
        for (i, (fa, fb)) in a.iter().zip(&b).enumerate() {
            assert!(
                fa.rgba == fb.rgba,
                "{}: frame {i} differs between two renders",
                scene.display()
            );
        }
        // And the scene moves: a still scene would pass the check above trivially.
        let (change, _) = compare(&a[0], &a[11]);
        assert!(
            change > 0.5,
            "{}: frames 0 and 11 are nearly identical ({change:.3})",
            scene.display()
        );
    }
}

#[test]
fn set_changes_the_picture() {
    let Some(gpu) = gpu("set_changes_the_picture") else {
        return;
    };
    let scene = root().join("scenes/landscape.toml");
    let plain = render_last(&gpu, &scene, [96, 54], 1, &[]);
    let shifted = render_last(&gpu, &scene, [96, 54], 1, &["hue=0.5"]);
    let (mean, _) = compare(&plain, &shifted);
    assert!(mean > 5.0, "hue=0.5 changed the frame by only {mean:.3}");
}
