//! Just enough GLSL lexing to adapt old-style sources without disturbing their columns:
//! tokens with byte offsets (comments skipped, preprocessor lines marked), the global
//! `varying`/`in`/`out` declarations, and the call sites of texture functions.
//!
//! The adaptations that need it are done by blanking words (replacing them with spaces of
//! the same length) or by inserting text; [`Edits`] applies them and keeps a per-line map of
//! insertions, so an error in the result still points at the author's line and column.

/// A token of GLSL source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: Kind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// True inside a preprocessor directive line.
    pub directive: bool,
}

/// Token kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A name or keyword.
    Ident,
    /// A number.
    Number,
    /// Any other single character (operators are split into characters).
    Punct(u8),
}

/// Splits `src` into tokens, skipping whitespace and comments.
#[must_use]
pub fn tokens(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    let mut directive = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            // A backslash-newline continues a directive.
            let continued = directive && i > 0 && b[i - 1] == b'\\';
            directive = continued;
            line_start = true;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
            continue;
        }
        if line_start && c == b'#' {
            directive = true;
        }
        line_start = false;
        let start = i;
        let kind = if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Kind::Ident
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                // Exponent signs: 1e-3.
                if (b[i] == b'e' || b[i] == b'E')
                    && matches!(b.get(i + 1), Some(b'-' | b'+'))
                    && !src[start..i].starts_with("0x")
                {
                    i += 1;
                }
                i += 1;
            }
            Kind::Number
        } else {
            i += 1;
            Kind::Punct(c)
        };
        out.push(Token {
            kind,
            start,
            end: i,
            directive,
        });
    }
    out
}

/// A global `varying`/`in`/`out` variable of an old-style shader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Varying {
    /// Its name.
    pub name: String,
    /// Its GLSL type (`vec2`, `mat2`, `float`...).
    pub ty: String,
    /// Array length, when declared as an array with a literal length.
    pub array: Option<u32>,
    /// True when declared `out` (in a fragment shader: a colour output).
    pub out: bool,
}

const STORAGE: [&str; 4] = ["varying", "in", "out", "attribute"];
const DECORATION: [&str; 9] = [
    "flat",
    "smooth",
    "noperspective",
    "centroid",
    "invariant",
    "highp",
    "mediump",
    "lowp",
    "precise",
];

/// Finds the global `varying`/`in`/`out` declarations of `src` (also inside `#if` branches,
/// so one name can be declared twice) and returns them with the byte ranges of the storage
/// and interpolation words to blank, which turns each into a plain global variable.
#[must_use]
pub fn global_varyings(src: &str, toks: &[Token]) -> (Vec<Varying>, Vec<(usize, usize)>) {
    let text = |t: &Token| &src[t.start..t.end];
    let mut found: Vec<Varying> = Vec::new();
    let mut blanks = Vec::new();
    let code: Vec<&Token> = toks.iter().filter(|t| !t.directive).collect();
    let mut depth = 0i32;
    let mut statement_start = true;
    let mut i = 0;
    while i < code.len() {
        let t = code[i];
        if depth == 0 && statement_start && t.kind == Kind::Ident {
            // Qualifiers, then type, then declarators.
            let mut j = i;
            let mut storage = None;
            let mut words = Vec::new();
            while j < code.len()
                && code[j].kind == Kind::Ident
                && (STORAGE.contains(&text(code[j])) || DECORATION.contains(&text(code[j])))
            {
                if STORAGE.contains(&text(code[j])) {
                    storage = Some(text(code[j]));
                }
                let precision = matches!(text(code[j]), "highp" | "mediump" | "lowp");
                if !precision {
                    words.push((code[j].start, code[j].end));
                }
                j += 1;
            }
            if let Some(storage) = storage
                && j + 1 < code.len()
                && code[j].kind == Kind::Ident
            {
                let ty = text(code[j]).to_string();
                j += 1;
                // Skip a precision word after the storage word (`varying highp vec2`).
                let mut declared = Vec::new();
                while let Some(name) = code.get(j).filter(|t| t.kind == Kind::Ident) {
                    let mut array = None;
                    j += 1;
                    if code.get(j).map(|t| t.kind) == Some(Kind::Punct(b'['))
                        && let Some(n) = code.get(j + 1)
                        && code.get(j + 2).map(|t| t.kind) == Some(Kind::Punct(b']'))
                    {
                        array = text(n).trim_end_matches(['u', 'U']).parse().ok();
                        j += 3;
                    }
                    declared.push(Varying {
                        name: text(name).to_string(),
                        ty: ty.clone(),
                        array,
                        out: storage == "out",
                    });
                    if code.get(j).map(|t| t.kind) == Some(Kind::Punct(b',')) {
                        j += 1;
                    } else {
                        break;
                    }
                }
                if code.get(j).map(|t| t.kind) == Some(Kind::Punct(b';')) && !declared.is_empty() {
                    blanks.extend(words);
                    for v in declared {
                        if !found.iter().any(|f| f.name == v.name) {
                            found.push(v);
                        }
                    }
                    i = j + 1;
                    statement_start = true;
                    continue;
                }
            }
        }
        match t.kind {
            Kind::Punct(b'{') => depth += 1,
            Kind::Punct(b'}') => depth -= 1,
            _ => {}
        }
        statement_start = matches!(t.kind, Kind::Punct(b';' | b'{' | b'}'));
        i += 1;
    }
    (found, blanks)
}

/// A call `name(arg, arg, ...)` found in the source: byte ranges of each argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Index of the name token.
    pub name: usize,
    /// Byte range of each argument (trimmed of surrounding tokens; may be empty).
    pub args: Vec<(usize, usize)>,
}

/// Every call of a function in `names` in `toks`, with its argument ranges (commas at the
/// call's own parenthesis depth split arguments). Calls inside directives count too (macro
/// bodies), but not a declaration `vec4 texture(...)` of a function of that name.
#[must_use]
pub fn calls(src: &str, toks: &[Token], names: &[&str]) -> Vec<Call> {
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.kind != Kind::Ident || !names.contains(&&src[t.start..t.end]) {
            continue;
        }
        if toks.get(i + 1).map(|t| t.kind) != Some(Kind::Punct(b'(')) {
            continue;
        }
        // A type before the name makes it a declaration.
        if i > 0
            && toks[i - 1].kind == Kind::Ident
            && !matches!(&src[toks[i - 1].start..toks[i - 1].end], "return" | "else")
        {
            continue;
        }
        let mut depth = 0;
        let mut args = Vec::new();
        let mut arg_start: Option<usize> = None;
        let mut arg_end = 0;
        let mut closed = false;
        for t in &toks[i + 1..] {
            match t.kind {
                Kind::Punct(b'(' | b'[') => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                Kind::Punct(b')' | b']') => {
                    depth -= 1;
                    if depth == 0 {
                        if let Some(s) = arg_start {
                            args.push((s, arg_end));
                        }
                        closed = true;
                        break;
                    }
                }
                Kind::Punct(b',') if depth == 1 => {
                    args.push((arg_start.unwrap_or(t.start), arg_end.max(t.start)));
                    arg_start = None;
                    continue;
                }
                _ => {}
            }
            arg_start.get_or_insert(t.start);
            arg_end = t.end;
        }
        if closed {
            out.push(Call { name: i, args });
        }
    }
    out
}

/// Byte-level edits of a source: blanks and insertions. Applying them gives the new text and,
/// per line, the insertions made, so columns in the result map back to the original.
#[derive(Debug, Default, Clone)]
pub struct Edits {
    /// (offset, text) insertions; several at one offset keep their order.
    inserts: Vec<(usize, String)>,
    /// Byte ranges replaced by spaces.
    blanks: Vec<(usize, usize)>,
}

/// Where the inserted text of one line stands: `(column in the result, length)`, 1-based.
pub type LineInserts = Vec<(u32, u32)>;

impl Edits {
    /// Inserts `text` (no newlines) before byte `offset`.
    pub fn insert(&mut self, offset: usize, text: impl Into<String>) {
        self.inserts.push((offset, text.into()));
    }

    /// Replaces `start..end` (no newlines) with spaces.
    pub fn blank(&mut self, start: usize, end: usize) {
        self.blanks.push((start, end));
    }

    /// The edited text and, for each line of it, the insertions on that line.
    #[must_use]
    pub fn apply(mut self, src: &str) -> (String, Vec<LineInserts>) {
        self.inserts.sort_by_key(|(o, _)| *o);
        let mut bytes = src.as_bytes().to_vec();
        for (s, e) in &self.blanks {
            for b in &mut bytes[*s..(*e).min(src.len())] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
        // Blanking ASCII words in valid UTF-8 keeps it valid.
        let blanked = String::from_utf8(bytes).unwrap_or_else(|_| src.to_string());
        let mut out = String::with_capacity(src.len() + 64);
        let mut lines: Vec<LineInserts> = vec![Vec::new()];
        let mut col: u32 = 1;
        let mut next = self.inserts.iter().peekable();
        for (i, ch) in blanked.char_indices() {
            while let Some((_, text)) = next.next_if(|(o, _)| *o <= i) {
                let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
                if let Some(line) = lines.last_mut() {
                    line.push((col, len));
                }
                out.push_str(text);
                col += len;
            }
            out.push(ch);
            if ch == '\n' {
                lines.push(Vec::new());
                col = 1;
            } else {
                col += u32::try_from(ch.len_utf8()).unwrap_or(1);
            }
        }
        for (_, text) in next {
            out.push_str(text);
        }
        (out, lines)
    }
}

/// The original column of `col` on a line with `inserts` (an inserted character maps to
/// the place it was inserted at).
#[must_use]
pub fn original_col(inserts: &[(u32, u32)], col: u32) -> u32 {
    let mut shift = 0;
    for &(at, len) in inserts {
        if col >= at + len {
            shift += len;
        } else if col >= at {
            return at - shift;
        }
    }
    col - shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_skip_comments_and_mark_directives() {
        let src = "#define A(x) texture(x)\n// texture(no)\n/* texture(no) */ a.b = 1.5e-3;";
        let toks = tokens(src);
        let words: Vec<(&str, bool)> = toks
            .iter()
            .map(|t| (&src[t.start..t.end], t.directive))
            .collect();
        assert_eq!(words[0], ("#", true));
        assert!(words.contains(&("texture", true)));
        assert!(!words.contains(&("no", false)));
        assert!(words.contains(&("1.5e-3", false)));
    }

    #[test]
    fn varyings_are_found_in_both_branches_and_blanked() {
        let src = "#if __VERSION__ <= 120\nvarying vec2 off[5];\n#else\nin vec2 off[5];\n#endif\nflat varying float a, b;\nuniform float u;\nvoid main() { float in_x = 1.0; }\nout vec4 colour;\n";
        let toks = tokens(src);
        let (found, blanks) = global_varyings(src, &toks);
        let names: Vec<(&str, &str, Option<u32>, bool)> = found
            .iter()
            .map(|v| (v.name.as_str(), v.ty.as_str(), v.array, v.out))
            .collect();
        assert_eq!(
            names,
            [
                ("off", "vec2", Some(5), false),
                ("a", "float", None, false),
                ("b", "float", None, false),
                ("colour", "vec4", None, true)
            ]
        );
        let mut edits = Edits::default();
        for (s, e) in blanks {
            edits.blank(s, e);
        }
        let (text, _) = edits.apply(src);
        assert!(text.contains("\n        vec2 off[5];\n"), "{text}");
        assert!(text.contains("\n   vec2 off[5];\n"), "{text}");
        assert!(text.contains("\n             float a, b;\n"), "{text}");
        assert!(text.contains("uniform float u;"));
        assert!(text.contains("    vec4 colour;"));
    }

    #[test]
    fn calls_split_arguments_at_their_own_depth() {
        let src = "vec4 texture(vec2 p) { return texture(s, f(a, b)[0].xy, 1.0); }";
        let toks = tokens(src);
        let found = calls(src, &toks, &["texture"]);
        assert_eq!(found.len(), 1, "the declaration is not a call");
        let args: Vec<&str> = found[0].args.iter().map(|(s, e)| &src[*s..*e]).collect();
        assert_eq!(args, ["s", "f(a, b)[0].xy", "1.0"]);
    }

    #[test]
    fn edits_map_columns_back() {
        let src = "ab cd\nef";
        let mut e = Edits::default();
        e.insert(3, "XYZ(");
        e.insert(5, ")");
        e.blank(0, 2);
        let (text, lines) = e.apply(src);
        assert_eq!(text, "   XYZ(cd)\nef");
        assert_eq!(lines[0], vec![(4, 4), (10, 1)]);
        assert_eq!(
            original_col(&lines[0], 8),
            4,
            "`c` is column 4 of the original"
        );
        assert_eq!(
            original_col(&lines[0], 5),
            4,
            "inside an insertion: its place"
        );
        assert_eq!(original_col(&lines[0], 2), 2);
        assert!(lines[1].is_empty());
    }
}
