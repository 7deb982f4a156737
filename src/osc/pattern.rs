//! OSC 1.0 address patterns: `*`, `?`, `[abc]`, `[a-z]`, `[!a]` and `{foo,bar}`.
//!
//! A pattern compiles to a small NFA that is simulated one character at a time (Thompson's
//! construction), so matching costs O(pattern × address) with no backtracking: `{a,b}{a,b}...`
//! or `*a*a*a*b` cannot blow up. Patterns are capped at [`MAX_PATTERN_BYTES`] and every
//! match runs against a step budget, so one packet's work is bounded whatever it contains.
//! As in OSC 1.0, no wildcard matches `/`.

/// Longest pattern compiled; longer ones are rejected.
pub const MAX_PATTERN_BYTES: usize = 256;

pub use crate::scene::osc::is_pattern;

/// Why a pattern did not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternError {
    /// Longer than [`MAX_PATTERN_BYTES`].
    TooLong,
    /// A `[` without `]`, or an empty `[]`.
    BadClass,
    /// A `{` without `}`, a nested `{`, or a stray `]` or `}`.
    BadBraces,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TooLong => "pattern longer than 256 bytes",
            Self::BadClass => "unterminated or empty [...]",
            Self::BadBraces => "unbalanced {...} or stray ] or }",
        })
    }
}

#[derive(Debug, Clone)]
enum Node {
    /// Consumes exactly this character.
    Char(char),
    /// `?`: consumes any character but `/`.
    Any,
    /// `[...]`: consumes a character (never `/`) inside (or, negated, outside) the ranges.
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    /// `*`: consumes any run of characters but `/`.
    Star,
    /// `{a,b}`: continues at each alternative without consuming.
    Split(Vec<usize>),
    /// End of an alternative: continues after the braces without consuming.
    Jump(usize),
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    nodes: Vec<Node>,
    /// The literal text before the first pattern character: a cheap pre-filter.
    prefix: String,
}

impl Pattern {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// [`PatternError`] for an over-long or malformed pattern.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(PatternError::TooLong);
        }
        let prefix: String = pattern
            .chars()
            .take_while(|c| !matches!(c, '*' | '?' | '[' | ']' | '{' | '}'))
            .collect();
        let mut nodes = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if !matches!(nodes.last(), Some(Node::Star)) {
                        nodes.push(Node::Star);
                    }
                }
                '?' => nodes.push(Node::Any),
                '[' => {
                    let negated = chars.next_if_eq(&'!').is_some();
                    let mut ranges = Vec::new();
                    loop {
                        let lo = chars.next().ok_or(PatternError::BadClass)?;
                        if lo == ']' {
                            break;
                        }
                        // `a-z` is a range; a `-` just before `]` is literal.
                        if chars.peek() == Some(&'-') {
                            let mut ahead = chars.clone();
                            ahead.next();
                            match ahead.next() {
                                Some(hi) if hi != ']' => {
                                    chars.next();
                                    chars.next();
                                    ranges.push((lo.min(hi), lo.max(hi)));
                                    continue;
                                }
                                _ => {}
                            }
                        }
                        ranges.push((lo, lo));
                    }
                    if ranges.is_empty() {
                        return Err(PatternError::BadClass);
                    }
                    nodes.push(Node::Class { ranges, negated });
                }
                '{' => {
                    let split_at = nodes.len();
                    nodes.push(Node::Split(Vec::new()));
                    let mut starts = vec![nodes.len()];
                    let mut jumps = Vec::new();
                    loop {
                        match chars.next().ok_or(PatternError::BadBraces)? {
                            '}' => break,
                            ',' => {
                                jumps.push(nodes.len());
                                nodes.push(Node::Jump(0));
                                starts.push(nodes.len());
                            }
                            '{' => return Err(PatternError::BadBraces),
                            other => nodes.push(Node::Char(other)),
                        }
                    }
                    jumps.push(nodes.len());
                    nodes.push(Node::Jump(0));
                    let end = nodes.len();
                    for j in jumps {
                        if let Some(n) = nodes.get_mut(j) {
                            *n = Node::Jump(end);
                        }
                    }
                    if let Some(n) = nodes.get_mut(split_at) {
                        *n = Node::Split(starts);
                    }
                }
                ']' | '}' => return Err(PatternError::BadBraces),
                other => nodes.push(Node::Char(other)),
            }
        }
        Ok(Self { nodes, prefix })
    }

    /// True when the pattern matches all of `address`, `None` when `budget` (NFA steps) ran
    /// out first. `scratch` is reused between calls to avoid allocating per candidate.
    pub fn matches(
        &self,
        address: &str,
        budget: &mut usize,
        scratch: &mut Scratch,
    ) -> Option<bool> {
        if !address.starts_with(&self.prefix) {
            return Some(false);
        }
        let n = self.nodes.len();
        scratch.reset(n + 1);
        self.close(&mut scratch.current, &mut scratch.stack, 0);
        for c in address.chars() {
            scratch.next.clear();
            scratch.next.resize(n + 1, false);
            let mut any = false;
            for i in 0..n {
                if !scratch.current.get(i).copied().unwrap_or(false) {
                    continue;
                }
                *budget = budget.checked_sub(1)?;
                let to = match self.nodes.get(i) {
                    Some(Node::Char(x)) if *x == c => i + 1,
                    Some(Node::Any) if c != '/' => i + 1,
                    Some(Node::Class { ranges, negated })
                        if c != '/'
                            && ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
                                != *negated =>
                    {
                        i + 1
                    }
                    Some(Node::Star) if c != '/' => i,
                    _ => continue,
                };
                any = true;
                self.close(&mut scratch.next, &mut scratch.stack, to);
            }
            if !any {
                return Some(false);
            }
            std::mem::swap(&mut scratch.current, &mut scratch.next);
        }
        Some(scratch.current.get(n).copied().unwrap_or(false))
    }

    /// Adds `from` and everything reachable from it without consuming to `set`.
    fn close(&self, set: &mut [bool], stack: &mut Vec<usize>, from: usize) {
        stack.clear();
        stack.push(from);
        while let Some(i) = stack.pop() {
            match set.get_mut(i) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            match self.nodes.get(i) {
                Some(Node::Star) => stack.push(i + 1),
                Some(Node::Split(targets)) => stack.extend(targets.iter().copied()),
                Some(Node::Jump(t)) => stack.push(*t),
                _ => {}
            }
        }
    }
}

/// Reusable state sets for [`Pattern::matches`].
#[derive(Debug, Default)]
pub struct Scratch {
    current: Vec<bool>,
    next: Vec<bool>,
    stack: Vec<usize>,
}

impl Scratch {
    fn reset(&mut self, len: usize) {
        self.current.clear();
        self.current.resize(len, false);
        self.next.clear();
        self.next.resize(len, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, address: &str) -> bool {
        let mut budget = 1_000_000;
        Pattern::new(pattern)
            .unwrap()
            .matches(address, &mut budget, &mut Scratch::default())
            .unwrap()
    }

    #[test]
    fn osc_1_0_pattern_syntax() {
        assert!(m("/hypna/param/zoom", "/hypna/param/zoom"));
        assert!(!m("/hypna/param/zoom", "/hypna/param/zoomx"));
        assert!(m("/hypna/param/*", "/hypna/param/zoom"));
        assert!(m("/hypna/param/*", "/hypna/param/"));
        assert!(
            !m("/hypna/param/*", "/hypna/param/zoom/norm"),
            "* stops at /"
        );
        assert!(m("/hypna/*/zoom/norm", "/hypna/param/zoom/norm"));
        assert!(m("/hypna/param/zo?m", "/hypna/param/zoom"));
        assert!(!m("/hypna/param/zo?m", "/hypna/param/zom"));
        assert!(!m("/a?b", "/a/b"), "? never matches /");
        assert!(m("/p/[abc]x", "/p/bx"));
        assert!(!m("/p/[abc]x", "/p/dx"));
        assert!(m("/p/[a-c]", "/p/b"));
        assert!(m("/p/[c-a]", "/p/b"), "reversed range");
        assert!(m("/p/[!a-c]", "/p/d"));
        assert!(!m("/p/[!a-c]", "/p/b"));
        assert!(!m("/p[!a]", "/p/"), "negated class never matches /");
        assert!(m("/p/[a-]", "/p/-"), "trailing - is literal");
        assert!(m("/p/{foo,bar}", "/p/bar"));
        assert!(m("/p/{foo,bar}/x", "/p/foo/x"));
        assert!(!m("/p/{foo,bar}", "/p/baz"));
        assert!(m("/p/{,x}y", "/p/y"), "empty alternative");
        assert!(m("/p/{a,ab}c", "/p/abc"), "alternatives are not greedy");
        assert!(m("/*/*/*", "/a/b/c"));
        assert!(m("/a**b", "/ab"));
        assert!(m("/fader[0-9]", "/fader7"));
        assert!(m("/ünï/*", "/ünï/cödé"));
    }

    #[test]
    fn malformed_patterns_are_errors() {
        assert_eq!(Pattern::new("/a[bc").unwrap_err(), PatternError::BadClass);
        assert_eq!(Pattern::new("/a[]").unwrap_err(), PatternError::BadClass);
        assert_eq!(Pattern::new("/a{b,c").unwrap_err(), PatternError::BadBraces);
        assert_eq!(
            Pattern::new("/a{b{c}}").unwrap_err(),
            PatternError::BadBraces
        );
        assert_eq!(Pattern::new("/a}").unwrap_err(), PatternError::BadBraces);
        assert_eq!(
            Pattern::new(&"/*".repeat(200)).unwrap_err(),
            PatternError::TooLong
        );
    }

    #[test]
    fn pathological_patterns_stay_cheap() {
        // Exponential for a backtracking matcher; linear here.
        let pattern = format!("/{}b", "*a".repeat(60));
        let address = format!("/{}", "a".repeat(200));
        let p = Pattern::new(&pattern).unwrap();
        let mut budget = 100_000;
        let start = std::time::Instant::now();
        assert_eq!(
            p.matches(&address, &mut budget, &mut Scratch::default()),
            Some(false)
        );
        assert!(start.elapsed().as_millis() < 50);
        let braces = format!("/{}", "{a,aa}".repeat(40));
        let p = Pattern::new(&braces).unwrap();
        let mut budget = 100_000;
        assert_eq!(
            p.matches(
                &format!("/{}c", "a".repeat(60)),
                &mut budget,
                &mut Scratch::default()
            ),
            Some(false)
        );
        // A tiny budget stops the match instead of finishing it.
        let mut budget = 10;
        assert_eq!(
            p.matches(
                &format!("/{}", "a".repeat(60)),
                &mut budget,
                &mut Scratch::default()
            ),
            None
        );
    }
}
