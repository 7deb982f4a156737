//! Feedback: a pass that reads its own name sees its previous frame, so it accumulates;
//! a pass reading a feedback pass sees that pass's current frame.

use crate::common;

use common::{gpu, render_all};

fn write_scene(dir: &std::path::Path, feedback: bool) -> std::path::PathBuf {
    let inputs = if feedback { r#"inputs = ["acc"]"# } else { "" };
    let read = if feedback {
        "textureSample(tex_acc, samp_acc, in.uv).r"
    } else {
        "0.0"
    };
    std::fs::write(
        dir.join("acc.wgsl"),
        format!(
            "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {{\n    \
             let previous = {read};\n    return vec4<f32>(previous + params.step, 0.0, 0.0, 1.0);\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("show.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
         let v = textureSample(tex_acc, samp_acc, in.uv).r;\n    return vec4<f32>(v, v * 0.5, 0.0, 1.0);\n}\n",
    )
    .unwrap();
    let path = dir.join("acc.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"acc\"\nsize = [16, 16]\n\n[params.step]\ndefault = 0.0625\n\n\
             [[pass]]\nname = \"acc\"\nshader = \"acc.wgsl\"\n{inputs}\nformat = \"rgba16float\"\n\n\
             [[pass]]\nname = \"out\"\nshader = \"show.wgsl\"\ninputs = [\"acc\"]\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn feedback_pass_accumulates_across_frames() {
    let Some(gpu) = gpu("feedback_pass_accumulates_across_frames") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let frames = render_all(&gpu, &write_scene(dir.path(), true), [16, 16], 12, &[]);
    for (n, frame) in frames.iter().enumerate() {
        // Frame n has added `step` n + 1 times onto a buffer that starts black.
        let expected = ((n as f64 + 1.0) * 0.0625).min(1.0) * 255.0;
        let [r, g, _, _] = frame.pixel(8, 8);
        assert!(
            (f64::from(r) - expected).abs() <= 1.5,
            "frame {n}: red {r}, expected {expected:.1}"
        );
        // The downstream pass saw this frame's value (g = r / 2), not last frame's.
        assert!(
            (f64::from(g) - expected / 2.0).abs() <= 1.5,
            "frame {n}: green {g}, expected {:.1}",
            expected / 2.0
        );
    }
}

#[test]
fn pass_without_feedback_does_not_accumulate() {
    let Some(gpu) = gpu("pass_without_feedback_does_not_accumulate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let frames = render_all(
        &gpu,
        &write_scene(dir.path(), false),
        [16, 16],
        6,
        &["step=0.25"],
    );
    for frame in &frames {
        let [r, ..] = frame.pixel(3, 3);
        assert!(
            (i32::from(r) - 64).abs() <= 1,
            "red {r}, expected 64 every frame"
        );
    }
}
