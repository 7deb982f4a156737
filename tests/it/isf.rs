//! ISF and Shadertoy shaders through hypna's GLSL path, without a GPU: header parsing,
//! the wrappers, compilation and naga validation, and errors located in the author's file.
//!
//! Covers the ISF files written from the spec (`tests/data/isf`), a sample of the reference
//! collection Vidvox/ISF-Files (`tests/data/isf-files`, MIT), and Shadertoy-style shaders
//! (`tests/data/shadertoy`). The whole collection is measured by
//! `cargo run --example isf_corpus -- <ISF-Files/ISF>` (see docs/isf.md).

use super::common;

use std::path::{Path, PathBuf};

use hypna::diag::Diagnostic;
use hypna::render::glsl::{self, Compiler, Composed, Stage, isf, shadertoy};
use hypna::scene::isf::header;

fn data(dir: &str) -> PathBuf {
    common::root().join("tests/data").join(dir)
}

/// Whether glslang is installed (scripts/setup.sh installs it); a skip or a failure if not.
fn glslang(test: &str) -> bool {
    let present = std::process::Command::new("glslangValidator")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    common::prerequisite(
        test,
        "glslangValidator",
        present,
        "apt-get install glslang-tools, or scripts/setup.sh",
    )
}

/// The compilers to check: naga (the default) always, glslang where installed (required
/// under `make test`, whose set-up installs it).
fn compilers(test: &str) -> Vec<Compiler> {
    let mut out = vec![Compiler::Naga];
    if glslang(test) {
        out.push(Compiler::Glslang);
    }
    out
}

/// Translates and compiles one ISF file (with its `.vs`), returning the composed stages.
fn compile_isf(path: &Path, compiler: Compiler) -> Result<Vec<(Stage, naga::Module)>, String> {
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let header = header::parse(&source, path).map_err(|e| e[0].to_string())?;
    let layout = isf::IsfLayout::standalone(&header);
    let vs_path = path.with_extension("vs");
    let vs = std::fs::read_to_string(&vs_path).ok();
    let interface = vs.as_ref().map_or_else(Vec::new, |vs| {
        isf::interface(&isf::varyings(&source), &isf::varyings(vs))
    });
    let mut stages = vec![(
        Stage::Fragment,
        isf::fragment(&header, &source, path, &layout, &interface),
    )];
    if let Some(vs) = &vs {
        stages.push((
            Stage::Vertex,
            isf::vertex(&header, vs, &vs_path, &layout, &interface),
        ));
    }
    stages
        .into_iter()
        .map(|(stage, composed)| {
            glsl::compile(&composed, stage, compiler)
                .map(|m| (stage, m))
                .map_err(|e| match e {
                    Ok(d) => d.to_string(),
                    Err(e) => e.to_string(),
                })
        })
        .collect()
}

fn fs_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "fs"))
        .collect();
    files.sort();
    files
}

/// The fragment entry point writes one `vec4` at location 0; a vertex stage has one entry.
fn check_interface(path: &Path, stages: &[(Stage, naga::Module)]) {
    for (stage, module) in stages {
        let wanted = match stage {
            Stage::Fragment => naga::ShaderStage::Fragment,
            Stage::Vertex => naga::ShaderStage::Vertex,
        };
        let eps: Vec<&naga::EntryPoint> = module
            .entry_points
            .iter()
            .filter(|ep| ep.stage == wanted)
            .collect();
        assert_eq!(
            eps.len(),
            1,
            "{}: one {stage:?} entry point",
            path.display()
        );
    }
}

#[test]
fn spec_files_compile_and_validate() {
    let files = fs_files(&data("isf"));
    assert!(files.len() >= 7, "{files:?}");
    for compiler in compilers("spec_files_compile_and_validate") {
        for path in &files {
            match compile_isf(path, compiler) {
                Ok(stages) => check_interface(path, &stages),
                Err(e) => panic!("{} with {}: {e}", path.display(), compiler.name()),
            }
        }
    }
}

#[test]
fn collection_sample_compiles_with_the_default_compiler() {
    assert_eq!(
        Compiler::from_env(),
        Compiler::Naga,
        "HYPNA_GLSL_COMPILER is set"
    );
    // The sample, and the collection's files hypna ships (read where they ship, not copied).
    let shipped = common::root().join("shaders/isf");
    let mut files = fs_files(&data("isf-files"));
    files.extend(fs_files(&shipped));
    files.extend(fs_files(&shipped.join("transitions")));
    assert!(files.len() >= 28, "{files:?}");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|p| compile_isf(p, Compiler::Naga).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The measured differences between the compilers, kept honest: if glslang starts accepting
/// these (a newer glslang), docs/isf.md's failure list must change.
#[test]
fn glslang_rejects_what_the_docs_say() {
    if !glslang("glslang_rejects_what_the_docs_say") {
        return;
    }
    let e = compile_isf(
        &data("isf-files").join("Bump Distortion.fs"),
        Compiler::Glslang,
    )
    .expect_err("a redefined built-in with other precision");
    assert!(e.contains("Bump Distortion.fs:50:1: overloaded functions must have the same parameter precision qualifiers"), "{e}");
}

/// The first error of `source` (an ISF file) with `compiler`.
fn isf_error(name: &str, source: &str, compiler: Compiler) -> Diagnostic {
    let path = Path::new(name);
    let header = header::parse(source, path).expect("header");
    let layout = isf::IsfLayout::standalone(&header);
    let composed = isf::fragment(&header, source, path, &layout, &[]);
    match glsl::compile(&composed, Stage::Fragment, compiler) {
        Ok(_) => panic!("{name} compiled"),
        Err(Ok(d)) => d,
        Err(Err(e)) => panic!("{e}"),
    }
}

#[test]
fn errors_point_into_the_authors_file() {
    let source = "/*{\n  \"INPUTS\": [{\"NAME\": \"amount\", \"TYPE\": \"float\"}]\n}*/\nvoid main() {\n    vec4 c = vec4(amount);\n    gl_FragColor = c * undefinedThing;\n}\n";
    for compiler in compilers("errors_point_into_the_authors_file") {
        let d = isf_error("broken.fs", source, compiler);
        assert_eq!(d.file, Path::new("broken.fs"), "{d}");
        assert_eq!(d.line, Some(6), "{} with {}", d, compiler.name());
        assert_eq!(d.col, Some(24), "{} with {}", d, compiler.name());
        assert!(d.to_string().contains("undefinedThing"), "{d}");
    }
}

#[test]
fn type_errors_are_located_too() {
    let source =
        "/*{}*/\nvoid main() {\n    vec3 c = vec2(1.0);\n    gl_FragColor = vec4(c, 1.0);\n}\n";
    for compiler in compilers("type_errors_are_located_too") {
        let d = isf_error("types.fs", source, compiler);
        // glslang names the statement; naga's validator the function holding it, and `c`.
        let (line, mentions) = match compiler {
            Compiler::Glslang => (3, "3-component vector"),
            Compiler::Naga => (2, "'c'"),
        };
        assert_eq!(d.file, Path::new("types.fs"));
        assert_eq!(d.line, Some(line), "{} with {}", d, compiler.name());
        assert!(d.message.contains(mentions), "{d}");
    }
}

fn shadertoy_compile(
    files: &[&str],
    channels: &[u8],
    compiler: Compiler,
) -> Result<naga::Module, String> {
    let sources: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| {
            let p = data("shadertoy").join(f);
            let text = std::fs::read_to_string(&p).expect("read");
            (p, text)
        })
        .collect();
    let layout = shadertoy::ShadertoyLayout {
        params_len: 4,
        mouse: Some([0, 1, 2, 3]),
        channels: channels.to_vec(),
        opaque: true,
    };
    let composed: Composed = shadertoy::wrap(&sources, &layout);
    glsl::compile(&composed, Stage::Fragment, compiler).map_err(|e| match e {
        Ok(d) => d.to_string(),
        Err(e) => e.to_string(),
    })
}

#[test]
fn shadertoy_files_compile_and_validate() {
    for compiler in compilers("shadertoy_files_compile_and_validate") {
        for (files, channels) in [
            (&["uniforms.glsl"][..], &[][..]),
            (&["channels.glsl"], &[0]),
            (&["buffer_a.glsl"], &[0]),
            (&["common.glsl", "image.glsl"], &[0, 1]),
        ] {
            if let Err(e) = shadertoy_compile(files, channels, compiler) {
                panic!("{files:?} with {}: {e}", compiler.name());
            }
        }
    }
}

#[test]
fn shadertoy_errors_keep_the_authors_columns() {
    // The texture call on the line gets a flip inserted before the error's column.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.glsl");
    std::fs::write(
        &path,
        "void mainImage(out vec4 o, in vec2 f) {\n    o = texture(iChannel0, f / iResolution.xy) + nope;\n}\n",
    )
    .expect("write");
    let text = std::fs::read_to_string(&path).expect("read");
    let layout = shadertoy::ShadertoyLayout {
        channels: vec![0],
        ..Default::default()
    };
    let composed = shadertoy::wrap(&[(path.clone(), text)], &layout);
    for compiler in compilers("shadertoy_errors_keep_the_authors_columns") {
        let d = match glsl::compile(&composed, Stage::Fragment, compiler) {
            Err(Ok(d)) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(d.file, path);
        assert_eq!(
            (d.line, d.col),
            (Some(2), Some(50)),
            "{} with {}",
            d,
            compiler.name()
        );
    }
}

/// Neither compiler takes a `sampler2D` function parameter (Vulkan GLSL has no combined
/// sampler values): a known difference from Shadertoy, listed in docs/isf.md.
#[test]
fn sampler_parameters_are_a_known_difference() {
    for compiler in compilers("sampler_parameters_are_a_known_difference") {
        let e = shadertoy_compile(&["sampler_param.glsl"], &[0], compiler)
            .expect_err("a sampler2D parameter");
        // naga stops at the parameter, glslang at the call passing a channel.
        let line = match compiler {
            Compiler::Naga => "sampler_param.glsl:2:",
            Compiler::Glslang => "sampler_param.glsl:5:",
        };
        assert!(e.contains(line), "{e} with {}", compiler.name());
    }
}
