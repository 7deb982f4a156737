//! The size expressions of ISF `PASSES` (`"WIDTH": "floor($WIDTH/4.0)"`): a small, safe
//! arithmetic evaluator. No allocation per evaluation beyond the parsed tree, bounded length
//! and nesting, no loops: an untrusted file cannot make it run long or overflow the stack.
//!
//! Grammar (the subset of `DDMathParser` that ISF files use, and a little more):
//! `expr = sum; sum = product (("+"|"-") product)*; product = unary (("*"|"/"|"%") unary)*;
//! unary = ("-"|"+") unary | power; power = atom ("^" unary)?;
//! atom = number | "$" name | name "(" expr ("," expr)* ")" | name | "(" expr ")"`.
//! Names without `(` are the constants `pi` and `e`. Functions: `floor`, `ceil`, `round`,
//! `trunc`, `abs`, `sqrt`, `exp`, `log` (natural), `ln`, `log2`, `log10`, `sin`, `cos`, `tan`,
//! `min`, `max`, `pow`, `mod`, `clamp`.

use std::fmt;

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 256;
/// Deepest nesting of parentheses and unary operators accepted.
pub const MAX_DEPTH: usize = 32;

/// What went wrong parsing or evaluating an expression. `at` is a byte offset into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", at + 1)]
pub struct ExprError {
    /// Byte offset of the problem in the expression.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed size expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    text: String,
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Number(f64),
    Var(String),
    Neg(Box<Node>),
    Binary(Op, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Floor,
    Ceil,
    Round,
    Trunc,
    Abs,
    Sqrt,
    Exp,
    Ln,
    Log2,
    Log10,
    Sin,
    Cos,
    Tan,
    Min,
    Max,
    Pow,
    Mod,
    Clamp,
}

impl Func {
    fn parse(name: &str) -> Option<(Self, usize)> {
        Some(match name.to_ascii_lowercase().as_str() {
            "floor" => (Self::Floor, 1),
            "ceil" => (Self::Ceil, 1),
            "round" => (Self::Round, 1),
            "trunc" => (Self::Trunc, 1),
            "abs" => (Self::Abs, 1),
            "sqrt" => (Self::Sqrt, 1),
            "exp" => (Self::Exp, 1),
            "log" | "ln" => (Self::Ln, 1),
            "log2" => (Self::Log2, 1),
            "log10" => (Self::Log10, 1),
            "sin" => (Self::Sin, 1),
            "cos" => (Self::Cos, 1),
            "tan" => (Self::Tan, 1),
            "min" => (Self::Min, 2),
            "max" => (Self::Max, 2),
            "pow" => (Self::Pow, 2),
            "mod" => (Self::Mod, 2),
            "clamp" => (Self::Clamp, 3),
            _ => return None,
        })
    }

    fn apply(self, a: &[f64]) -> f64 {
        match self {
            Self::Floor => a[0].floor(),
            Self::Ceil => a[0].ceil(),
            Self::Round => a[0].round(),
            Self::Trunc => a[0].trunc(),
            Self::Abs => a[0].abs(),
            Self::Sqrt => a[0].sqrt(),
            Self::Exp => a[0].exp(),
            Self::Ln => a[0].ln(),
            Self::Log2 => a[0].log2(),
            Self::Log10 => a[0].log10(),
            Self::Sin => a[0].sin(),
            Self::Cos => a[0].cos(),
            Self::Tan => a[0].tan(),
            Self::Min => a[0].min(a[1]),
            Self::Max => a[0].max(a[1]),
            Self::Pow => a[0].powf(a[1]),
            Self::Mod => a[0].rem_euclid(a[1]),
            Self::Clamp => a[0].max(a[1]).min(a[2]),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Expr {
    /// Parses `text`.
    ///
    /// # Errors
    /// A syntax error, an unknown function or constant, a wrong argument count, or an
    /// expression longer than [`MAX_LEN`] or nested deeper than [`MAX_DEPTH`].
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        if text.len() > MAX_LEN {
            return Err(ExprError {
                at: MAX_LEN,
                message: format!("expression longer than {MAX_LEN} characters"),
            });
        }
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        let root = p.sum()?;
        p.skip_ws();
        if p.i < p.s.len() {
            return Err(p.error("unexpected text after the expression"));
        }
        Ok(Self {
            text: text.to_string(),
            root,
        })
    }

    /// The variables (`$NAME`, without the `$`) the expression reads, in order of first use.
    #[must_use]
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_vars(&self.root, &mut out);
        out
    }

    /// Evaluates with `lookup` giving each variable's value (`None`: unknown variable).
    ///
    /// # Errors
    /// An unknown variable, or a result that is not a finite number.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, ExprError> {
        let v = eval(&self.root, lookup)?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(ExprError {
                at: 0,
                message: format!("`{}` is not a finite number ({v})", self.text),
            })
        }
    }
}

fn collect_vars<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
    match node {
        Node::Number(_) => {}
        Node::Var(v) => {
            if !out.contains(&v.as_str()) {
                out.push(v);
            }
        }
        Node::Neg(a) => collect_vars(a, out),
        Node::Binary(_, a, b) => {
            collect_vars(a, out);
            collect_vars(b, out);
        }
        Node::Call(_, args) => args.iter().for_each(|a| collect_vars(a, out)),
    }
}

fn eval(node: &Node, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, ExprError> {
    Ok(match node {
        Node::Number(v) => *v,
        Node::Var(name) => lookup(name).ok_or_else(|| ExprError {
            at: 0,
            message: format!("unknown variable `${name}`"),
        })?,
        Node::Neg(a) => -eval(a, lookup)?,
        Node::Binary(op, a, b) => {
            let (a, b) = (eval(a, lookup)?, eval(b, lookup)?);
            match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div => a / b,
                Op::Rem => a % b,
                Op::Pow => a.powf(b),
            }
        }
        Node::Call(f, args) => {
            let mut values = [0.0; 3];
            for (slot, a) in values.iter_mut().zip(args) {
                *slot = eval(a, lookup)?;
            }
            f.apply(&values[..args.len()])
        }
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ExprError {
        ExprError {
            at: self.i,
            message: message.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("expression nested too deeply"));
        }
        Ok(())
    }

    fn sum(&mut self) -> Result<Node, ExprError> {
        let mut left = self.product()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let right = self.product()?;
            let op = if c == b'+' { Op::Add } else { Op::Sub };
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        while let Some(c @ (b'*' | b'/' | b'%')) = self.peek() {
            self.i += 1;
            let right = self.unary()?;
            let op = match c {
                b'*' => Op::Mul,
                b'/' => Op::Div,
                _ => Op::Rem,
            };
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let node = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                Node::Neg(Box::new(self.unary()?))
            }
            Some(b'+') => {
                self.i += 1;
                self.unary()?
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Ok(node)
    }

    fn power(&mut self) -> Result<Node, ExprError> {
        let base = self.atom()?;
        if self.peek() == Some(b'^') {
            self.i += 1;
            let exponent = self.unary()?;
            return Ok(Node::Binary(Op::Pow, Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn name(&mut self) -> &str {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        // Only ASCII bytes were consumed.
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }

    fn atom(&mut self) -> Result<Node, ExprError> {
        match self.peek() {
            None => Err(self.error("expected a number, `$name`, a function or `(`")),
            Some(b'(') => {
                self.i += 1;
                self.enter()?;
                let inner = self.sum()?;
                self.depth -= 1;
                if self.peek() != Some(b')') {
                    return Err(self.error("expected `)`"));
                }
                self.i += 1;
                Ok(inner)
            }
            Some(b'$') => {
                self.i += 1;
                let name = self.name().to_string();
                if name.is_empty() {
                    return Err(self.error("expected a name after `$`"));
                }
                Ok(Node::Var(name))
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let at = self.i;
                let name = self.name().to_string();
                if self.peek() != Some(b'(') {
                    return match name.to_ascii_lowercase().as_str() {
                        "pi" => Ok(Node::Number(std::f64::consts::PI)),
                        "e" => Ok(Node::Number(std::f64::consts::E)),
                        _ => Err(ExprError {
                            at,
                            message: format!(
                                "unknown name `{name}` (variables are written `${name}`)"
                            ),
                        }),
                    };
                }
                let Some((func, arity)) = Func::parse(&name) else {
                    return Err(ExprError {
                        at,
                        message: format!("unknown function `{name}`"),
                    });
                };
                self.i += 1;
                self.enter()?;
                let mut args = vec![self.sum()?];
                while self.peek() == Some(b',') {
                    self.i += 1;
                    args.push(self.sum()?);
                }
                self.depth -= 1;
                if self.peek() != Some(b')') {
                    return Err(self.error("expected `,` or `)`"));
                }
                self.i += 1;
                if args.len() != arity {
                    return Err(ExprError {
                        at,
                        message: format!(
                            "`{name}` takes {arity} argument{}, not {}",
                            if arity == 1 { "" } else { "s" },
                            args.len()
                        ),
                    });
                }
                Ok(Node::Call(func, args))
            }
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn number(&mut self) -> Result<Node, ExprError> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        {
            self.i += 1;
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E'))
            && self
                .s
                .get(self.i + 1)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'+')
        {
            self.i += 2;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        text.parse::<f64>()
            .map(Node::Number)
            .map_err(|_| ExprError {
                at: start,
                message: format!("`{text}` is not a number"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_with(text: &str, w: f64, h: f64) -> Result<f64, ExprError> {
        Expr::parse(text)?.eval(&|name| match name {
            "WIDTH" => Some(w),
            "HEIGHT" => Some(h),
            "amount" => Some(0.5),
            _ => None,
        })
    }

    #[test]
    fn corpus_forms_evaluate() {
        assert_eq!(eval_with("floor($WIDTH/4.0)", 1283.0, 0.0), Ok(320.0));
        assert_eq!(eval_with("$WIDTH/16.0", 1280.0, 0.0), Ok(80.0));
        assert_eq!(
            eval_with("max(floor($HEIGHT*0.02),1.0)", 0.0, 20.0),
            Ok(1.0)
        );
        assert_eq!(
            eval_with("floor($WIDTH*min((0.8),1.0))", 100.0, 0.0),
            Ok(80.0)
        );
        assert_eq!(
            eval_with("max(8.0,floor($WIDTH*$amount))", 100.0, 0.0),
            Ok(50.0)
        );
        assert_eq!(eval_with("1", 0.0, 0.0), Ok(1.0));
        assert_eq!(eval_with("512", 0.0, 0.0), Ok(512.0));
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(eval_with("2+3*4", 0.0, 0.0), Ok(14.0));
        assert_eq!(eval_with("(2+3)*4", 0.0, 0.0), Ok(20.0));
        assert_eq!(eval_with("10-4-3", 0.0, 0.0), Ok(3.0));
        assert_eq!(eval_with("2^3^2", 0.0, 0.0), Ok(512.0));
        assert_eq!(eval_with("-2^2", 0.0, 0.0), Ok(-4.0));
        assert_eq!(eval_with("7 % 4", 0.0, 0.0), Ok(3.0));
        assert_eq!(eval_with("clamp(5, 0, 2) + pi*0", 0.0, 0.0), Ok(2.0));
        assert_eq!(eval_with("1.5e2", 0.0, 0.0), Ok(150.0));
    }

    #[test]
    fn errors_are_located() {
        let e = eval_with("floor($WIDTH/4.0", 1.0, 1.0).unwrap_err();
        assert_eq!(e.at, 16, "{e}");
        let e = Expr::parse("foo($WIDTH)").unwrap_err();
        assert!(e.message.contains("unknown function `foo`"), "{e}");
        let e = Expr::parse("max(1)").unwrap_err();
        assert!(e.message.contains("2 arguments, not 1"), "{e}");
        let e = Expr::parse("WIDTH/2").unwrap_err();
        assert!(e.message.contains("`$WIDTH`"), "{e}");
        let e = eval_with("$nope*2", 1.0, 1.0).unwrap_err();
        assert!(e.message.contains("unknown variable `$nope`"), "{e}");
        let e = eval_with("1/0", 1.0, 1.0).unwrap_err();
        assert!(e.message.contains("not a finite number"), "{e}");
        assert!(Expr::parse("2 3").is_err());
    }

    #[test]
    fn hostile_input_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
        assert!(Expr::parse(&deep).is_err());
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(Expr::parse(&deep).unwrap_err().message.contains("nested"));
        assert!(Expr::parse(&"-".repeat(200)).is_err());
    }

    #[test]
    fn variables_are_listed_once() {
        let e = Expr::parse("max($WIDTH, $WIDTH*$amount)").unwrap();
        assert_eq!(e.variables(), vec!["WIDTH", "amount"]);
    }
}
