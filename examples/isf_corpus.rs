//! Measures hypna's GLSL paths on a folder of ISF files (the reference collection
//! Vidvox/ISF-Files, or any other): for each `.fs` (and its `.vs`), whether the header parses,
//! and for each compiler (naga's GLSL front end; glslang to SPIR-V then naga's SPIR-V front
//! end) whether it parses and whether naga validates the result.
//!
//! ```text
//! cargo run --release --example isf_corpus -- /path/to/ISF-Files/ISF [--list]
//! ```
//! `--list` prints every failure with its first error; `--dump DIR` writes each generated
//! GLSL source there (`<name>.frag`, `<name>.vert`). Exit status 0 always: it measures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hypna::render::glsl::{self, Compiler, Stage, isf};
use hypna::scene::isf::header;

#[derive(Default)]
struct Tally {
    parsed: usize,
    validated: usize,
    time: Duration,
    failures: Vec<(String, String)>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: isf_corpus <folder of .fs files> [--list]");
        std::process::exit(2);
    };
    let rest: Vec<String> = args.collect();
    let list = rest.iter().any(|a| a == "--list");
    let dump = rest
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| rest.get(i + 1))
        .map(PathBuf::from);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "fs"))
        .collect();
    files.sort();
    let mut headers_ok: u32 = 0;
    let mut header_failures = Vec::new();
    let compilers = [Compiler::Naga, Compiler::Glslang];
    let mut tallies: Vec<Tally> = compilers.iter().map(|_| Tally::default()).collect();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source = std::fs::read_to_string(path).unwrap_or_default();
        let header = match header::parse(&source, path) {
            Ok(h) => h,
            Err(e) => {
                header_failures.push((name, e[0].to_string()));
                continue;
            }
        };
        headers_ok += 1;
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
        if let Some(dir) = &dump {
            for (stage, composed) in &stages {
                let ext = if *stage == Stage::Fragment {
                    "frag"
                } else {
                    "vert"
                };
                let file = dir.join(&name).with_extension(ext);
                if let Err(e) = std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&file, &composed.text))
                {
                    eprintln!("{}: {e}", file.display());
                }
            }
        }
        for (compiler, tally) in compilers.iter().zip(&mut tallies) {
            let start = Instant::now();
            let mut parsed = true;
            let mut valid = true;
            for (stage, composed) in &stages {
                match glsl::front(composed, *stage, *compiler) {
                    Ok(module) => {
                        if let Err(d) = glsl::validate(composed, &module, *compiler) {
                            valid = false;
                            tally
                                .failures
                                .push((name.clone(), format!("validate: {d}")));
                        }
                    }
                    Err(e) => {
                        parsed = false;
                        valid = false;
                        let message = match e {
                            Ok(d) => d.to_string(),
                            Err(e) => e.to_string(),
                        };
                        tally
                            .failures
                            .push((name.clone(), format!("parse: {message}")));
                    }
                }
                if !valid {
                    break;
                }
            }
            tally.time += start.elapsed();
            tally.parsed += usize::from(parsed);
            tally.validated += usize::from(valid);
        }
    }
    let total = files.len();
    println!("{total} .fs files in {}", Path::new(&dir).display());
    println!("header parsed: {headers_ok}/{total}");
    for (name, e) in &header_failures {
        println!("  header {name}: {}", e.lines().next().unwrap_or(""));
    }
    for (compiler, tally) in compilers.iter().zip(&tallies) {
        println!(
            "{:8} parse/translate OK: {}/{total}  naga-validates: {}/{total}  ({:.1} ms per file)",
            compiler.name(),
            tally.parsed,
            tally.validated,
            tally.time.as_secs_f64() * 1000.0 / f64::from(headers_ok.max(1))
        );
        if list {
            for (name, e) in &tally.failures {
                println!("  {name}: {}", e.lines().next().unwrap_or(""));
            }
        }
    }
}
