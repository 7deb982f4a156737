//! Mutations of a file's bytes, the way outsiders break files: cut, duplicate, swap, flip
//! bytes, deep nesting, huge numbers, bytes that are not UTF-8, long expressions, many
//! params, lines spliced in from another file. Each case is a pure function of its seed, so
//! a failure is reproduced from `(seed, case)` alone.

use std::fmt::Write as _;

/// `SplitMix64`: small, seedable, well mixed; fuzzing needs repeatability, not secrecy.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// What a file is, for mutations that know the syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// TOML (scenes, playlists, settings).
    Toml,
    /// WGSL.
    Wgsl,
}

/// The kinds of mutation, in the order [`mutate`] draws them.
pub const KINDS: [&str; 12] = [
    "cut",
    "delete-range",
    "duplicate",
    "swap-lines",
    "flip-bytes",
    "not-utf8",
    "deep-nesting",
    "huge-number",
    "long-expression",
    "many-params",
    "splice",
    "empty",
];

/// Applies one to four mutations to `bytes`; returns the new bytes and the kinds applied.
/// `other` is another file of the corpus, for splicing.
pub fn mutate(rng: &mut Rng, bytes: &[u8], syntax: Syntax, other: &[u8]) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    let mut applied = Vec::new();
    let rounds = 1 + {
        let big = rng.one_in(3);
        rng.below(if big { 4 } else { 1 })
    };
    for _ in 0..rounds {
        let kind = KINDS[rng.below(KINDS.len())];
        out = apply(rng, kind, &out, syntax, other);
        applied.push(kind);
    }
    (out, applied.join("+"))
}

fn range(rng: &mut Rng, len: usize) -> (usize, usize) {
    let a = rng.below(len + 1);
    let b = rng.below(len + 1);
    (a.min(b), a.max(b))
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

fn apply(rng: &mut Rng, kind: &str, bytes: &[u8], syntax: Syntax, other: &[u8]) -> Vec<u8> {
    let len = bytes.len();
    match kind {
        "cut" => bytes[..rng.below(len + 1)].to_vec(),
        "delete-range" => {
            let (a, b) = range(rng, len);
            [&bytes[..a], &bytes[b..]].concat()
        }
        "duplicate" => {
            let (a, b) = range(rng, len);
            let at = rng.below(len + 1);
            let times = 1 + {
                let big = rng.one_in(8);
                rng.below(if big { 200 } else { 3 })
            };
            let mut out = bytes[..at].to_vec();
            for _ in 0..times {
                out.extend_from_slice(&bytes[a..b]);
            }
            out.extend_from_slice(&bytes[at..]);
            out
        }
        "swap-lines" => {
            let mut ls = lines(bytes);
            if ls.len() >= 2 {
                let (i, j) = (rng.below(ls.len()), rng.below(ls.len()));
                ls.swap(i, j);
            }
            ls.concat()
        }
        "flip-bytes" => {
            let mut out = bytes.to_vec();
            for _ in 0..=rng.below(8) {
                if out.is_empty() {
                    break;
                }
                let i = rng.below(out.len());
                out[i] = if rng.one_in(2) {
                    out[i] ^ (1 << rng.below(8))
                } else {
                    *rng.pick(b"[]{}()=\"'#.,;:<>+-*/0123456789\n\\@")
                        .unwrap_or(&b'x')
                };
            }
            out
        }
        "not-utf8" => {
            let at = rng.below(len + 1);
            let bad: &[&[u8]] = &[b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\x80\x80"];
            let insert = rng.pick(bad).copied().unwrap_or(b"\xff");
            [&bytes[..at], insert, &bytes[at..]].concat()
        }
        "deep-nesting" => {
            let depth = 10 + {
                let big = rng.one_in(4);
                rng.below(if big { 100_000 } else { 300 })
            };
            let at = rng.below(len + 1);
            let nest = match (syntax, rng.below(3)) {
                (Syntax::Toml, 0) => format!("\nx = {}1{}\n", "[".repeat(depth), "]".repeat(depth)),
                (Syntax::Toml, 1) => {
                    format!("\nx = {}1{}\n", "{a = ".repeat(depth), "}".repeat(depth))
                }
                (Syntax::Toml, _) => format!("\n[{}]\n", vec!["k"; depth].join(".")),
                (Syntax::Wgsl, 0) => format!("{}1.0{}", "(".repeat(depth), ")".repeat(depth)),
                (Syntax::Wgsl, 1) => format!(
                    "\nfn q() {{ {} }}\n",
                    "{".repeat(depth) + &"}".repeat(depth)
                ),
                (Syntax::Wgsl, _) => {
                    format!("\nconst QQ = {};\n", vec!["1.0"; depth * 10].join(" + "))
                }
            };
            [&bytes[..at], nest.as_bytes(), &bytes[at..]].concat()
        }
        "huge-number" => replace_number(rng, bytes),
        "long-expression" => {
            let terms = 100 + {
                let big = rng.one_in(2);
                rng.below(if big { 30_000 } else { 3_000 })
            };
            let text = match syntax {
                Syntax::Wgsl => format!("\nconst QQ = {};\n", vec!["1.0"; terms].join(" + ")),
                Syntax::Toml => format!("\nx = [{}]\n", vec!["1.5"; terms].join(", ")),
            };
            let at = line_start(bytes, rng.below(len + 1));
            [&bytes[..at], text.as_bytes(), &bytes[at..]].concat()
        }
        "many-params" => match syntax {
            Syntax::Toml => {
                let n = 100 + rng.below(6000);
                let mut text = String::from("\n");
                for i in 0..n {
                    // Writing to a String cannot fail.
                    writeln!(text, "[params.fz{i}]\ndefault = 0.5").ok();
                }
                // Params must come before the array tables to stay valid TOML.
                let at = find(bytes, b"\n[[").map_or(len, |i| i + 1);
                [&bytes[..at], text.as_bytes(), &bytes[at..]].concat()
            }
            Syntax::Wgsl => {
                let n = 100 + rng.below(6000);
                let fields = (0..n).fold(String::new(), |mut s, i| {
                    // Writing to a String cannot fail.
                    writeln!(s, "    f{i}: f32,").ok();
                    s
                });
                let text = format!("\nstruct Fz {{\n{fields}}}\n");
                [bytes, text.as_bytes()].concat()
            }
        },
        "splice" => {
            let theirs = lines(other);
            let mut ours = lines(bytes);
            if !theirs.is_empty() {
                let (a, b) = range(rng, theirs.len());
                let at = rng.below(ours.len() + 1);
                for (k, l) in theirs[a..b].iter().enumerate() {
                    ours.insert(at + k, l);
                }
            }
            ours.concat()
        }
        _ => Vec::new(),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn line_start(bytes: &[u8], at: usize) -> usize {
    bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// Replaces one number of `bytes` with a huge, tiny, negative or odd one.
fn replace_number(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let numbers: Vec<(usize, usize)> = {
        let mut spans = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                spans.push((start, i));
            } else {
                i += 1;
            }
        }
        spans
    };
    let Some(&(a, b)) = rng.pick(&numbers) else {
        return bytes.to_vec();
    };
    let huge: &[&str] = &[
        "4294967296",
        "4294967295",
        "2147483648",
        "18446744073709551616",
        "100000",
        "16385",
        "16384",
        "65536",
        "1e39",
        "1e308",
        "-1",
        "-0.0",
        "0",
        "1e-45",
        "nan",
        "inf",
        "99999999999999999999999999",
        "0x7fffffff",
        "3000",
        "100000",
    ];
    let with = rng.pick(huge).copied().unwrap_or("0");
    [&bytes[..a], with.as_bytes(), &bytes[b..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_repeat_for_a_seed_and_differ_between_seeds() {
        let file = b"[scene]\nname = \"x\"\nsize = [64, 64]\n\n[[pass]]\nname = \"a\"\nshader = \"a.wgsl\"\n";
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|_| mutate(&mut rng, file, Syntax::Toml, b"a = 1\n"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        // Every kind is reachable.
        let mut rng = Rng::new(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let (_, kinds) = mutate(&mut rng, file, Syntax::Toml, b"a = 1\n");
            seen.extend(kinds.split('+').map(str::to_string));
        }
        assert_eq!(seen.len(), KINDS.len(), "{seen:?}");
    }
}
