//! What the scene checks share (`validate` for passes and params, `models` for model
//! tables): the problem collector, locations in the file, and the rules for names that
//! become WGSL identifiers.

use std::ops::Range;

use super::Location;
use crate::diag::Collector;

/// Largest texture side we accept (the WebGPU default limit is 8192; most GPUs do 16384).
pub const MAX_SIDE_PX: u32 = 16384;

/// The collector of a scene file's problems.
pub(super) type Ctx<'a> = Collector<'a>;

/// Where `span` starts, as a scene [`Location`].
pub(super) fn location(ctx: &Ctx<'_>, span: &Range<usize>) -> Location {
    let (line, col) = ctx.line_col(span);
    Location { line, col }
}

/// True when WGSL accepts `name` as a struct member and a local (the uses a param name
/// gets; pass names only appear behind `tex_`/`samp_`): naga decides, so every keyword and reserved word of the WGSL spec is covered.
fn wgsl_accepts(name: &str) -> bool {
    naga::front::wgsl::parse_str(&format!(
        "struct S {{ {name}: f32, }}\nfn f() {{ let {name} = 1.0; }}\n"
    ))
    .is_ok()
}

/// Names become WGSL identifiers (`params.<name>`, `tex_<name>`), so they must be ones.
pub(super) fn check_identifier(ctx: &mut Ctx<'_>, span: &Range<usize>, what: &str, name: &str) {
    if !is_identifier(name) {
        ctx.error(
            span,
            format!("{what} name `{name}` is not a valid identifier"),
        )
        .notes
        .push(
            "use letters, digits and `_`, starting with a letter (it is used as a WGSL name)"
                .into(),
        );
    } else if name.starts_with("hypna_") || (what == "param" && !wgsl_accepts(name)) {
        ctx.error(
            span,
            format!("{what} name `{name}` is reserved in WGSL or by hypna; choose another"),
        );
    }
}

/// True for `[A-Za-z][A-Za-z0-9_]*`.
#[must_use]
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn names_must_be_identifiers_that_wgsl_accepts() {
        assert!(is_identifier("speed_2"));
        assert!(!is_identifier("2speed") && !is_identifier("") && !is_identifier("a-b"));
        let source = "abc";
        let mut ctx = Ctx::new(Path::new("s.toml"), source);
        check_identifier(&mut ctx, &(0..3), "param", "fine");
        assert!(ctx.is_clean());
        // A WGSL keyword, a name hypna keeps for itself, a name that is no identifier.
        check_identifier(&mut ctx, &(0..3), "param", "loop");
        check_identifier(&mut ctx, &(1..3), "pass", "hypna_x");
        check_identifier(&mut ctx, &(2..3), "pass", "a b");
        let errors = ctx.finish(()).unwrap_err().0;
        let found: Vec<(Option<u32>, bool)> = errors
            .iter()
            .map(|d| (d.col, d.message.contains("reserved")))
            .collect();
        assert_eq!(found, [(Some(1), true), (Some(2), true), (Some(3), false)]);
        assert_eq!(
            location(&Collector::new(Path::new("x"), "ab\ncd"), &(4..5)),
            Location { line: 2, col: 2 }
        );
    }
}
