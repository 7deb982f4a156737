//! ISF transitions in playlists (`transition = { isf = "...", secs = ... }`): rendered
//! offline through the show like `show.rs` does, over solid-colour scenes, so each pixel
//! says which scene it shows; and the mistakes a playlist can make with one, located.

use std::path::{Path, PathBuf};

use hypna::show::check::{CheckLine, check};
use hypna::show::playlist::Playlist;

use crate::common::{self, Frame};
use crate::show::{open, play, solid_scene};

const RED: [u8; 3] = [255, 0, 0];
const BLUE: [u8; 3] = [0, 0, 255];

fn transition(name: &str) -> PathBuf {
    common::root()
        .join("shaders/isf/transitions")
        .join(format!("{name}.fs"))
}

/// A playlist from red into blue after 2 s (frame 60 at 30 fps) through `transition`.
fn red_to_blue(transition: &str) -> String {
    format!(
        "[playlist]\nname = \"wipe\"\n\n[[entry]]\nscene = \"red.toml\"\nduration = \"2s\"\n\n\
         [[entry]]\nscene = \"blue.toml\"\nduration = \"10s\"\ntransition = {transition}\n"
    )
}

fn rgb(frame: &Frame, x: u32, y: u32) -> [u8; 3] {
    let p = frame.pixel(x, y);
    [p[0], p[1], p[2]]
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2)
}

/// Wipe Left (`mix(a, b, step(1.0 - x, progress))`, x = 0 at the left): a column shows the
/// new scene once `progress` reaches `1 - x` of its centre, the old one before. `progress`
/// runs linearly 0 -> 1 over `secs` from the first frame after the switch.
#[test]
fn an_isf_wipe_shows_the_old_scene_on_one_side_and_the_new_on_the_other() {
    let Some(gpu) =
        common::gpu("an_isf_wipe_shows_the_old_scene_on_one_side_and_the_new_on_the_other")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    solid_scene(dir.path(), "red", [1.0, 0.0, 0.0]);
    solid_scene(dir.path(), "blue", [0.0, 0.0, 1.0]);
    let text = red_to_blue(&format!(
        "{{ isf = {:?}, secs = 1.0 }}",
        transition("Wipe Left").to_string_lossy()
    ));
    let (mut show, mut runtime) = open(&gpu, dir.path(), "wipe.toml", &text);
    let run = play(&gpu, &mut show, &mut runtime, 100, |_, _, _| {});
    assert_eq!(run.events.len(), 1, "one switch: {:?}", run.events);
    assert_eq!(run.events[0].0, 60, "the switch lands at 2 s");
    for k in [0_u32, 6, 15, 24, 29, 30, 35] {
        let frame = &run.frames[60 + k as usize];
        let progress = (f64::from(k) / 30.0).min(1.0);
        let width = frame.size[0];
        for x in 0..width {
            let centre = (f64::from(x) + 0.5) / f64::from(width);
            let expected = if 1.0 - centre <= progress { BLUE } else { RED };
            for y in [0, frame.size[1] / 2, frame.size[1] - 1] {
                let got = rgb(frame, x, y);
                assert!(
                    near(got, expected),
                    "frame {} (progress {progress:.3}): pixel ({x}, {y}) should be {expected:?}, is {got:?}",
                    60 + k
                );
            }
        }
    }
    // Halfway: the left half is the old scene, the right half the new one.
    let half = &run.frames[75];
    assert!(near(rgb(half, 0, 10), RED) && near(rgb(half, half.size[0] - 1, 10), BLUE));
    // Before the switch and after the transition: one scene, whole.
    assert!(near(rgb(&run.frames[59], 63, 0), RED));
    assert!(near(rgb(&run.frames[99], 0, 0), BLUE));
}

/// Directional Wipe with `set` values: `direction = (1, 0)` wipes from the left, the same
/// in every row (its default, (1, -1), is diagonal); `smoothness` blends the edge.
#[test]
fn an_isf_transition_takes_its_inputs_from_set() {
    let Some(gpu) = common::gpu("an_isf_transition_takes_its_inputs_from_set") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    solid_scene(dir.path(), "red", [1.0, 0.0, 0.0]);
    solid_scene(dir.path(), "blue", [0.0, 0.0, 1.0]);
    let path = transition("Directional Wipe")
        .to_string_lossy()
        .into_owned();
    let frames_for = |set: &str| {
        let text = red_to_blue(&format!("{{ isf = {path:?}, secs = 1.0{set} }}"));
        let (mut show, mut runtime) = open(&gpu, dir.path(), "dir.toml", &text);
        play(&gpu, &mut show, &mut runtime, 80, |_, _, _| {}).frames
    };
    let set = frames_for(", set = [\"direction_x=1\", \"direction_y=0\", \"smoothness=0.5\"]");
    let half = &set[75];
    let [w, h] = half.size;
    assert!(near(rgb(half, 0, h / 2), BLUE), "{:?}", rgb(half, 0, h / 2));
    assert!(
        near(rgb(half, w - 1, h / 2), RED),
        "{:?}",
        rgb(half, w - 1, h / 2)
    );
    let mut last_blue = 256;
    for x in 0..w {
        let column = rgb(half, x, 0);
        for y in 1..h {
            assert!(
                near(rgb(half, x, y), column),
                "direction (1, 0) is the same in every row: ({x}, {y})"
            );
        }
        assert!(
            u32::from(column[2]) <= last_blue,
            "blue falls from left to right"
        );
        last_blue = u32::from(column[2]);
    }
    // The file's default direction (1, -1) is diagonal: rows differ.
    let default = frames_for("");
    let d = &default[75];
    assert!(
        (0..w).any(|x| !near(rgb(d, x, 0), rgb(d, x, h - 1))),
        "the default direction differs between the top and bottom rows"
    );
}

fn load_errors(dir: &Path, text: &str) -> String {
    let path = dir.join("list.toml");
    std::fs::write(&path, text).unwrap();
    Playlist::load(&path)
        .expect_err("the playlist should not load")
        .to_string()
}

/// Where `needle` starts in `text`: `line:col`, 1-based.
fn at(text: &str, needle: &str) -> String {
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

#[test]
fn isf_transition_mistakes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "").unwrap();
    let list = dir.path().join("list.toml");
    let shown = list.display();
    let kaleido = common::root().join("shaders/isf/Kaleidoscope.fs");
    let wipe = transition("Wipe Left");
    let entry = "[playlist]\n\n[[entry]]\nscene = \"a.toml\"\ncue = true\n";

    // Not a transition: located at the `isf` value, the reason named.
    let text = format!(
        "{entry}transition = {{ isf = {:?} }}\n",
        kaleido.to_string_lossy()
    );
    let e = load_errors(dir.path(), &text);
    let place = at(&text, "\"/");
    assert!(
        e.contains(&format!("{shown}:{place}: ISF transition"))
            && e.contains("is not an ISF transition")
            && e.contains("startImage"),
        "{e}"
    );

    // A missing file.
    let text = format!("{entry}transition = {{ isf = \"nowhere.fs\", secs = 3 }}\n");
    let e = load_errors(dir.path(), &text);
    assert!(
        e.contains(&format!(
            "{shown}:{}: ISF transition `nowhere.fs` not found",
            at(&text, "\"nowhere")
        )),
        "{e}"
    );

    // A `set` naming no input, `progress`, and a malformed one: each at its assignment.
    let text = format!(
        "{entry}transition = {{ isf = {:?}, set = [\"speed=2\", \"progress=0.5\", \"x\"] }}\n",
        wipe.to_string_lossy()
    );
    let e = load_errors(dir.path(), &text);
    assert!(
        e.contains(&format!("{shown}:{}: ISF transition", at(&text, "\"speed")))
            && e.contains("has no input `speed`"),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{shown}:{}: `progress` is the transition's own",
            at(&text, "\"progress")
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("{shown}:{}:", at(&text, "\"x\""))),
        "{e}"
    );

    // `kind` and `isf` together; `set` on a crossfade; neither kind nor isf.
    let text = format!(
        "{entry}transition = {{ kind = \"crossfade\", isf = {:?} }}\n",
        wipe.to_string_lossy()
    );
    let e = load_errors(dir.path(), &text);
    assert!(
        e.contains(&format!(
            "{shown}:{}: a transition has `kind` or `isf`, not both",
            at(&text, "\"crossfade")
        )),
        "{e}"
    );
    let text = format!("{entry}transition = {{ kind = \"crossfade\", set = [\"a=1\"] }}\n");
    let e = load_errors(dir.path(), &text);
    assert!(
        e.contains(&format!(
            "{shown}:{}: `set` applies to an `isf` transition",
            at(&text, "\"a=1")
        )),
        "{e}"
    );
    let text = format!("{entry}transition = {{ secs = 2 }}\n");
    let e = load_errors(dir.path(), &text);
    assert!(
        e.contains(&format!(
            "{shown}:{}: a transition needs `kind`",
            at(&text, "{ secs")
        )),
        "{e}"
    );

    // A header error in the file: located in the file, the playlist's `isf` too.
    let broken = dir.path().join("broken.fs");
    std::fs::write(&broken, "/*{\n  \"INPUTS\": [\n    {\"NAME\": \"startImage\", \"TYPE\": \"picture\"}\n  ]\n}*/\nvoid main() {}\n").unwrap();
    let text = format!("{entry}transition = {{ isf = \"broken.fs\" }}\n");
    let e = load_errors(dir.path(), &text);
    assert!(
        e.contains(&format!("{shown}:{}:", at(&text, "\"broken"))),
        "{e}"
    );
    assert!(e.contains(&format!("{}:3:", broken.display())), "{e}");
}

/// `hypna check` compiles a playlist's ISF transitions: a GLSL error is located in the
/// `.fs`, at its line.
#[test]
fn check_compiles_isf_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let wgsl = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(1.0);\n}\n";
    std::fs::write(dir.path().join("a.wgsl"), wgsl).unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "[scene]\nname = \"a\"\n\n[[pass]]\nname = \"out\"\nshader = \"a.wgsl\"\n",
    )
    .unwrap();
    let header = "/*{\n  \"INPUTS\": [\n    {\"NAME\": \"startImage\", \"TYPE\": \"image\"},\n    {\"NAME\": \"endImage\", \"TYPE\": \"image\"},\n    {\"NAME\": \"progress\", \"TYPE\": \"float\"}\n  ]\n}*/\n";
    let fs = dir.path().join("bad.fs");
    std::fs::write(
        &fs,
        format!("{header}void main() {{\n    gl_FragColor = mix(IMG_THIS_PIXEL(startImage), IMG_THIS_PIXEL(endImage), undefined_thing);\n}}\n"),
    )
    .unwrap();
    let list = dir.path().join("list.toml");
    std::fs::write(
        &list,
        "[playlist]\ntransition = { isf = \"bad.fs\", secs = 1 }\n\n[[entry]]\nscene = \"a.toml\"\ncue = true\n",
    )
    .unwrap();
    let report = check(std::slice::from_ref(&list), None);
    let problems: Vec<&String> = report
        .lines
        .iter()
        .filter_map(|l| match l {
            CheckLine::Problem(p) => Some(p),
            CheckLine::Ok(_) => None,
        })
        .collect();
    assert_eq!(report.failed, 1, "{report:#?}");
    let line = header.lines().count() + 2;
    assert!(
        problems[0].contains(&format!("{}:{line}:", fs.display())),
        "{problems:?}"
    );
    // Fixed, it passes.
    std::fs::write(
        &fs,
        format!("{header}void main() {{\n    gl_FragColor = mix(IMG_THIS_PIXEL(startImage), IMG_THIS_PIXEL(endImage), progress);\n}}\n"),
    )
    .unwrap();
    let report = check(&[list], None);
    assert_eq!(report.failed, 0, "{report:#?}");
    assert!(report.lines.contains(&CheckLine::Ok(format!(
        "ok: {} (ISF transition)",
        fs.display()
    ))));
}
