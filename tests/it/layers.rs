//! The house rule of `docs/architecture.md`: modules are layered in data-flow order and none
//! imports a module of a layer above its own (nor a peer of its own layer). Every path to
//! another module in `src/` is read (`crate::x`, `use crate::{x, y}`, `super::` climbing out
//! of a module), outside `#[cfg(test)]` code (the test module closes each file or is a
//! `tests.rs` of its own, and tests may use `crate::testing`). Within a module's folder, files
//! must not import each other in a cycle either (a parent and its children excepted: `mod.rs`
//! declares them and they use its error type).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may import its own files and any module of a lower
/// layer; peers in one layer stay independent. Modules planned but not yet written are
/// listed where they go.
const LAYERS: &[&[&str]] = &[
    // Base: located errors, frame time, restarting threads.
    &["diag", "clock", "restart"],
    // Untrusted text in: bounded reads and shape guards before any parser.
    &["untrusted"],
    // The scene format.
    &["scene"],
    // What is set from it.
    &["params", "settings"],
    // ONNX Runtime: sessions and inference workers (the audio analysis runs a network too).
    &["infer"],
    // Input services (`midi`, `media` and `remote` join them).
    &["audio", "osc", "midi", "media", "remote"],
    // The GPU (ISF support goes inside it).
    &["render"],
    // Model nodes, and the dream compiler beside them (pure: no GPU, no runtime).
    &["model", "dream"],
    // The frame, loading, services, transitions, status, offline renders.
    &["runtime"],
    // Playlists, schedules, reload.
    &["show"],
    // The live window.
    &["window"],
    // Benchmarks (drive the window through its hook).
    &["bench", "fuzz"],
    // Operations: log file, memory janitor, health line, param log.
    &["ops"],
    // Test support, used by tests only.
    &["testing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module path of a file below `src/` (`window/overlay/ui.rs` -> `window::overlay::ui`).
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The text of a file that is not test code and not comments.
fn code_of(source: &str) -> String {
    let mut out = String::new();
    for line in source.lines() {
        if line.trim_end() == "#[cfg(test)]" {
            break;
        }
        let code = line.find("//").map_or(line, |i| &line[..i]);
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The path that starts `code`: identifiers joined by `::` (`a::b::C` of `a::b::C::new()`
/// is `a`, `b`, `C`, `new`; it ends at the first character that continues no path).
fn path_at(code: &str) -> Vec<String> {
    let mut path = Vec::new();
    let mut rest = code;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        path.push(name);
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    path
}

/// Every module path a piece of code refers to, resolved from `module` (the file's own path).
fn references(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if boundary && rest.starts_with("crate::") {
            let after = &rest["crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                // `crate::{a::b, c}`: the first segment of each item at depth one.
                let mut depth = 1;
                let mut item_start = true;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        ',' if depth == 1 => item_start = true,
                        c if item_start && depth == 1 && !c.is_whitespace() => {
                            let name = ident(&group[j..]);
                            if !name.is_empty() {
                                found.insert(vec![name]);
                            }
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                let path = path_at(after);
                if !path.is_empty() {
                    found.insert(path);
                }
            }
            i += "crate::".len();
            continue;
        }
        if boundary && rest.starts_with("super::") {
            let mut base: Vec<String> = module.to_vec();
            let mut after = rest;
            while let Some(r) = after.strip_prefix("super::") {
                base.pop();
                after = r;
            }
            base.extend(path_at(after));
            found.insert(base);
            i += rest.len() - after.len();
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// Every library file (not `main.rs`, not `lib.rs`) with its module path and code.
fn files() -> Vec<(PathBuf, Vec<String>, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&src).unwrap().to_path_buf();
                // `tests.rs` is a module's unit tests in a file of their own
                // (`#[cfg(test)] mod tests;`): test code, like a closing test module.
                if relative == Path::new("main.rs")
                    || relative == Path::new("lib.rs")
                    || relative.file_name().is_some_and(|f| f == "tests.rs")
                {
                    continue;
                }
                let code = code_of(&std::fs::read_to_string(&path).unwrap());
                out.push((relative.clone(), module_path(&relative), code));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for (file, module, code) in files() {
        let top = &module[0];
        let Some(own) = layer_of(top) else {
            panic!(
                "src/{}: module `{top}` is in no layer of LAYERS",
                file.display()
            );
        };
        for path in references(&module, &code) {
            let Some(other) = path.first() else { continue };
            if other == top {
                continue;
            }
            match layer_of(other) {
                Some(layer) if layer < own => {}
                // A path that names no module of ours (`crate::Foo` re-exports): none exist.
                None if other.chars().next().is_some_and(char::is_uppercase) => {}
                _ => upward.push(format!(
                    "src/{}: `{top}` imports `{}` (layer {:?}, its own is {own})",
                    file.display(),
                    path.join("::"),
                    layer_of(other)
                )),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the data flow (see docs/architecture.md):\n{}",
        upward.join("\n")
    );
}

/// Depth-first search from `node`: every back edge found is a cycle, written to `cycles`.
fn visit(
    node: &Vec<String>,
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    stack: &mut Vec<Vec<String>>,
    done: &mut BTreeSet<Vec<String>>,
    cycles: &mut Vec<String>,
) {
    if done.contains(node) {
        return;
    }
    if let Some(at) = stack.iter().position(|n| n == node) {
        let cycle: Vec<String> = stack[at..]
            .iter()
            .chain(std::iter::once(node))
            .map(|m| m.join("::"))
            .collect();
        cycles.push(cycle.join(" -> "));
        return;
    }
    stack.push(node.clone());
    for next in edges.get(node).into_iter().flatten() {
        visit(next, edges, stack, done, cycles);
    }
    stack.pop();
    done.insert(node.clone());
}

#[test]
fn files_of_a_module_do_not_import_each_other_in_a_cycle() {
    let files = files();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(_, m, _)| m.clone()).collect();
    // The file a path lands in: its longest prefix that is a file's module.
    let owner = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
    };
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (_, module, code) in &files {
        for path in references(module, code) {
            let Some(target) = owner(&path) else { continue };
            let related = target.starts_with(module) || module.starts_with(&target);
            if target[0] == module[0] && !related {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_reader_finds_every_kind_of_path() {
    let module = vec![
        "window".to_string(),
        "overlay".to_string(),
        "ui".to_string(),
    ];
    let code = "use crate::{scene::ParamDef, diag};\nlet x = crate::render::texture_2d(..);\n\
                use super::super::hud::Hud;\nuse super::data::X;\nfn supercrate::y() {}\n";
    let found: Vec<String> = references(&module, code)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        found,
        [
            "diag",
            "render::texture_2d",
            "scene",
            "window::hud::Hud",
            "window::overlay::data::X"
        ]
    );
    assert_eq!(
        code_of("use crate::a; // crate::b\n#[cfg(test)]\nmod tests { use crate::c; }\n"),
        "use crate::a; \n"
    );
    assert_eq!(
        module_path(Path::new("window/overlay/mod.rs")),
        ["window", "overlay"]
    );
}
