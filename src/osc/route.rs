//! Address routing: which OSC addresses exist for a scene and what a message to each becomes.
//!
//! A [`RouteTable`] is built from the scene's params (name, range, aliases) when a scene loads
//! and handed to the server ([`super::OscHandle::set_routes`] on reload). Routing turns one
//! message into zero or more [`OscEvent`]s: a plain address is one hash lookup; a pattern is
//! matched against every known address within a step budget (see [`super::pattern`]).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use rosc::{OscMessage, OscType};

use super::OscError;
use super::counters::{Counter, OscCounters};
use super::pattern::{Pattern, Scratch, is_pattern};
use crate::scene::ParamDef;
use crate::scene::osc::OscAlias;

/// Prefix of the per-param addresses.
pub const PARAM_PREFIX: &str = "/hypna/param/";

/// NFA steps one datagram may spend on matching address patterns.
pub const PATTERN_BUDGET_PER_PACKET: usize = 200_000;

/// What the OSC server needs to know about one param.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRoute {
    /// The param's name (`/hypna/param/<name>`).
    pub name: String,
    /// Lowest value, in the param's units.
    pub min: f32,
    /// Highest value, in the param's units.
    pub max: f32,
    /// Extra addresses from the scene (`osc = ...`).
    pub aliases: Vec<OscAlias>,
}

impl ParamRoute {
    /// The route for a validated scene param.
    #[must_use]
    pub fn from_def(def: &ParamDef, aliases: Vec<OscAlias>) -> Self {
        Self {
            name: def.name.clone(),
            min: def.min,
            max: def.max,
            aliases,
        }
    }
}

/// What a message asks the frame loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum OscEvent {
    /// Set a param's target, in its own units (already mapped from `/norm` or an alias's input
    /// range, not yet clamped: `ParamStore::set` clamps).
    SetParam {
        /// The param.
        name: Arc<str>,
        /// The value.
        value: f32,
    },
    /// Change scene.
    Scene(SceneRequest),
    /// Answer with every param: call [`super::OscHandle::reply_params`].
    Query {
        /// Where the answer goes (the sender, or the port it asked for).
        reply_to: SocketAddr,
    },
    /// Answer with the runtime's status: call [`super::OscHandle::reply_status`].
    Status {
        /// Where the answer goes.
        reply_to: SocketAddr,
    },
    /// A tap for tap tempo.
    Tap,
    /// Put the beat phase back to 0 now.
    Resync,
    /// Start (true) or stop (false) recording the output (`/hypna/record start|stop`).
    Record(bool),
}

/// Which scene to change to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SceneRequest {
    /// By scene name.
    Name(String),
    /// By position in the playlist, from 0.
    Index(usize),
    /// The next one.
    Next,
    /// The previous one.
    Prev,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Param(usize),
    Norm(usize),
    Alias { param: usize, alias: usize },
    Scene,
    SceneNext,
    ScenePrev,
    Query,
    Status,
    Tap,
    Resync,
    Record,
}

/// One param as the server sees it.
#[derive(Debug, Clone)]
pub(crate) struct ParamEntry {
    pub(crate) name: Arc<str>,
    pub(crate) min: f32,
    pub(crate) max: f32,
    pub(crate) aliases: Vec<OscAlias>,
}

impl ParamEntry {
    /// `value` (param units) as the controller's number for `alias`.
    pub(crate) fn to_alias_input(&self, alias: &OscAlias, value: f32) -> f32 {
        let span = self.max - self.min;
        let n = if span > 0.0 {
            (value - self.min) / span
        } else {
            0.0
        };
        let [lo, hi] = alias.input_range;
        lo + n * (hi - lo)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    address: Box<str>,
    actions: Vec<Action>,
}

/// Every address a scene answers to, and what each does.
#[derive(Debug, Clone)]
pub struct RouteTable {
    params: Vec<ParamEntry>,
    entries: Vec<Entry>,
    exact: HashMap<Box<str>, usize>,
    by_name: HashMap<Arc<str>, usize>,
}

impl Default for RouteTable {
    /// Only the fixed `/hypna/...` addresses (no scene loaded).
    fn default() -> Self {
        let mut t = Self {
            params: Vec::new(),
            entries: Vec::new(),
            exact: HashMap::new(),
            by_name: HashMap::new(),
        };
        for (address, action) in [
            ("/hypna/scene", Action::Scene),
            ("/hypna/scene/next", Action::SceneNext),
            ("/hypna/scene/prev", Action::ScenePrev),
            ("/hypna/query", Action::Query),
            ("/hypna/status", Action::Status),
            ("/hypna/tap", Action::Tap),
            ("/hypna/beat/resync", Action::Resync),
            ("/hypna/record", Action::Record),
        ] {
            t.add(address, action);
        }
        t
    }
}

impl RouteTable {
    /// The table for `params`: `/hypna/param/<name>`, `/hypna/param/<name>/norm`, every alias,
    /// and the fixed `/hypna/...` addresses.
    ///
    /// # Errors
    /// [`OscError::Route`] for a duplicate or unusable name, a bad range, or a bad alias.
    pub fn new(params: impl IntoIterator<Item = ParamRoute>) -> Result<Self, OscError> {
        let mut t = Self::default();
        for p in params {
            let bad = |reason: String| OscError::Route {
                param: p.name.clone(),
                reason,
            };
            if p.name.is_empty()
                || is_pattern(&p.name)
                || p.name.contains(['/', '#', ',', ' '])
                || p.name.chars().any(char::is_control)
            {
                return Err(bad(
                    "the name cannot be part of an OSC address (empty, or contains / # , space or a pattern character)".into(),
                ));
            }
            if t.by_name.contains_key(p.name.as_str()) {
                return Err(bad("declared twice".into()));
            }
            if !(p.min.is_finite() && p.max.is_finite() && p.min <= p.max) {
                return Err(bad(format!(
                    "range [{}, {}] is not finite and ordered",
                    p.min, p.max
                )));
            }
            for a in &p.aliases {
                a.check().map_err(bad)?;
            }
            let index = t.params.len();
            let name: Arc<str> = p.name.as_str().into();
            t.add(&format!("{PARAM_PREFIX}{}", p.name), Action::Param(index));
            t.add(
                &format!("{PARAM_PREFIX}{}/norm", p.name),
                Action::Norm(index),
            );
            for (alias, a) in p.aliases.iter().enumerate() {
                t.add(
                    &a.address,
                    Action::Alias {
                        param: index,
                        alias,
                    },
                );
            }
            t.by_name.insert(Arc::clone(&name), index);
            t.params.push(ParamEntry {
                name,
                min: p.min,
                max: p.max,
                aliases: p.aliases,
            });
        }
        Ok(t)
    }

    /// The table for validated scene params without aliases.
    ///
    /// # Errors
    /// As [`Self::new`] (not for params a scene validated).
    pub fn from_defs(defs: &[ParamDef]) -> Result<Self, OscError> {
        Self::new(defs.iter().map(|d| ParamRoute::from_def(d, Vec::new())))
    }

    /// Every address answered, in table order.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| &*e.address)
    }

    fn add(&mut self, address: &str, action: Action) {
        if let Some(&i) = self.exact.get(address) {
            if let Some(e) = self.entries.get_mut(i) {
                e.actions.push(action);
            }
        } else {
            self.exact.insert(address.into(), self.entries.len());
            self.entries.push(Entry {
                address: address.into(),
                actions: vec![action],
            });
        }
    }

    pub(crate) fn params(&self) -> &[ParamEntry] {
        &self.params
    }

    pub(crate) fn param_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn param(&self, name: &str) -> Option<&ParamEntry> {
        self.by_name.get(name).and_then(|&i| self.params.get(i))
    }

    /// Routes one message; each event goes to `out`. Problems are counted (and the first of
    /// each kind logged); nothing here fails.
    pub(crate) fn route(
        &self,
        msg: &OscMessage,
        from: SocketAddr,
        ctx: &mut RouteContext<'_>,
        out: &mut impl FnMut(OscEvent),
    ) {
        if is_pattern(&msg.addr) {
            let pattern = match Pattern::new(&msg.addr) {
                Ok(p) => p,
                Err(e) => {
                    ctx.counters.problem(Counter::BadPattern, || {
                        format!("`{}` from {from}: {e}", clip(&msg.addr))
                    });
                    return;
                }
            };
            ctx.matched.clear();
            for (i, entry) in self.entries.iter().enumerate() {
                match pattern.matches(&entry.address, ctx.budget, ctx.scratch) {
                    Some(true) => ctx.matched.push(i),
                    Some(false) => {}
                    None => {
                        ctx.counters.problem(Counter::BadPattern, || {
                            format!(
                                "`{}` from {from}: matching it costs more than the per-packet budget",
                                clip(&msg.addr)
                            )
                        });
                        return;
                    }
                }
            }
            if ctx.matched.is_empty() {
                ctx.counters.problem(Counter::UnknownAddress, || {
                    format!(
                        "pattern `{}` from {from} matches no address",
                        clip(&msg.addr)
                    )
                });
            }
            for &i in ctx.matched.iter() {
                if let Some(entry) = self.entries.get(i) {
                    self.apply(entry, msg, from, ctx.counters, out);
                }
            }
        } else if let Some(entry) = self
            .exact
            .get(msg.addr.as_str())
            .and_then(|&i| self.entries.get(i))
        {
            self.apply(entry, msg, from, ctx.counters, out);
        } else {
            ctx.counters.problem(Counter::UnknownAddress, || {
                format!(
                    "`{}` from {from} is not an address of this scene",
                    clip(&msg.addr)
                )
            });
        }
    }

    fn apply(
        &self,
        entry: &Entry,
        msg: &OscMessage,
        from: SocketAddr,
        counters: &OscCounters,
        out: &mut impl FnMut(OscEvent),
    ) {
        for action in &entry.actions {
            match self.event(*action, &msg.args, from) {
                Ok(Some(event)) => out(event),
                Ok(None) => {}
                Err(problem) => counters.problem(Counter::WrongArgument, || {
                    format!("`{}` from {from}: {problem}", entry.address)
                }),
            }
        }
    }

    fn event(
        &self,
        action: Action,
        args: &[OscType],
        from: SocketAddr,
    ) -> Result<Option<OscEvent>, ArgProblem> {
        let set = |p: &ParamEntry, value: f32| {
            if value.is_finite() {
                Ok(Some(OscEvent::SetParam {
                    name: Arc::clone(&p.name),
                    value,
                }))
            } else {
                Err(ArgProblem::NonFinite)
            }
        };
        match action {
            Action::Param(i) => {
                let p = self.params.get(i).ok_or(ArgProblem::Missing)?;
                set(p, number(args.first())?)
            }
            Action::Norm(i) => {
                let p = self.params.get(i).ok_or(ArgProblem::Missing)?;
                let n = number(args.first())?;
                set(p, p.min + n * (p.max - p.min))
            }
            Action::Alias { param, alias } => {
                let p = self.params.get(param).ok_or(ArgProblem::Missing)?;
                let a = p.aliases.get(alias).ok_or(ArgProblem::Missing)?;
                let x = number(args.get(a.arg))?;
                let [lo, hi] = a.input_range;
                let n = (x - lo) / (hi - lo);
                set(p, p.min + n * (p.max - p.min))
            }
            Action::Scene => scene(args.first()).map(|s| Some(OscEvent::Scene(s))),
            Action::SceneNext => {
                Ok(trigger(args.first())?.then_some(OscEvent::Scene(SceneRequest::Next)))
            }
            Action::ScenePrev => {
                Ok(trigger(args.first())?.then_some(OscEvent::Scene(SceneRequest::Prev)))
            }
            Action::Tap => Ok(trigger(args.first())?.then_some(OscEvent::Tap)),
            Action::Resync => Ok(trigger(args.first())?.then_some(OscEvent::Resync)),
            Action::Record => match args.first() {
                Some(OscType::String(s)) if s.eq_ignore_ascii_case("start") => {
                    Ok(Some(OscEvent::Record(true)))
                }
                Some(OscType::String(s)) if s.eq_ignore_ascii_case("stop") => {
                    Ok(Some(OscEvent::Record(false)))
                }
                Some(OscType::String(_)) | None => Err(ArgProblem::Missing),
                first => Ok(Some(OscEvent::Record(number(first)? != 0.0))),
            },
            Action::Query | Action::Status => {
                let reply_to = match args.first() {
                    Some(OscType::Int(port)) if (1024..=65535).contains(port) => {
                        SocketAddr::new(from.ip(), u16::try_from(*port).unwrap_or(0))
                    }
                    first => {
                        if !trigger(first)? {
                            return Ok(None);
                        }
                        from
                    }
                };
                Ok(Some(if action == Action::Query {
                    OscEvent::Query { reply_to }
                } else {
                    OscEvent::Status { reply_to }
                }))
            }
        }
    }
}

/// Per-datagram routing state: the pattern budget and reusable buffers.
pub(crate) struct RouteContext<'a> {
    pub(crate) counters: &'a OscCounters,
    pub(crate) budget: &'a mut usize,
    pub(crate) scratch: &'a mut Scratch,
    pub(crate) matched: &'a mut Vec<usize>,
}

/// Why an argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgProblem {
    Missing,
    WrongType(&'static str),
    NonFinite,
    Negative,
}

impl fmt::Display for ArgProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("the argument is missing"),
            Self::WrongType(t) => write!(f, "wants a number (int, float, double or bool), got {t}"),
            Self::NonFinite => f.write_str("the value is not finite"),
            Self::Negative => f.write_str("a scene index must be a whole number from 0"),
        }
    }
}

fn type_name(arg: &OscType) -> &'static str {
    match arg {
        OscType::Int(_) => "int",
        OscType::Float(_) => "float",
        OscType::String(_) => "string",
        OscType::Blob(_) => "blob",
        OscType::Time(_) => "timetag",
        OscType::Long(_) => "int64",
        OscType::Double(_) => "double",
        OscType::Char(_) => "char",
        OscType::Color(_) => "color",
        OscType::Midi(_) => "midi",
        OscType::Bool(_) => "bool",
        OscType::Array(_) => "array",
        OscType::Nil => "nil",
        OscType::Inf => "infinitum",
    }
}

/// A finite number from an int, float, double, int64 or bool (T = 1, F = 0).
fn number(arg: Option<&OscType>) -> Result<f32, ArgProblem> {
    let v = match arg {
        None => return Err(ArgProblem::Missing),
        Some(OscType::Int(i)) => *i as f32,
        Some(OscType::Float(f)) => *f,
        Some(OscType::Double(d)) => *d as f32,
        Some(OscType::Long(l)) => *l as f32,
        Some(OscType::Bool(b)) => f32::from(u8::from(*b)),
        Some(other) => return Err(ArgProblem::WrongType(type_name(other))),
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ArgProblem::NonFinite)
    }
}

/// Button semantics for triggers: no argument, nil or impulse fires; a number or bool fires
/// when non-zero, so a `TouchOSC` button (1 on press, 0 on release) fires once.
fn trigger(arg: Option<&OscType>) -> Result<bool, ArgProblem> {
    match arg {
        None | Some(OscType::Nil | OscType::Inf) => Ok(true),
        Some(_) => number(arg).map(|v| v != 0.0),
    }
}

fn scene(arg: Option<&OscType>) -> Result<SceneRequest, ArgProblem> {
    match arg {
        Some(OscType::String(s)) if !s.is_empty() => Ok(SceneRequest::Name(s.clone())),
        Some(OscType::Int(_) | OscType::Long(_) | OscType::Float(_) | OscType::Double(_)) => {
            let v = match arg {
                Some(OscType::Int(i)) => f64::from(*i),
                Some(OscType::Long(l)) => *l as f64,
                Some(OscType::Float(f)) => f64::from(*f),
                Some(OscType::Double(d)) => *d,
                _ => f64::NAN,
            };
            if !v.is_finite() {
                return Err(ArgProblem::NonFinite);
            }
            if v < 0.0 || v.fract() != 0.0 || v > f64::from(u32::MAX) {
                return Err(ArgProblem::Negative);
            }
            Ok(SceneRequest::Index(v as usize))
        }
        Some(OscType::String(_)) | None => Err(ArgProblem::Missing),
        Some(other) => Err(ArgProblem::WrongType(type_name(other))),
    }
}

/// At most 64 characters of an untrusted address, for a log line.
pub(crate) fn clip(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::new(crate::testing::zoom_and_hue(OscAlias {
            address: "/1/xy".into(),
            input_range: [0.0, 127.0],
            arg: 1,
        }))
        .unwrap()
    }

    fn route(t: &RouteTable, addr: &str, args: Vec<OscType>) -> (Vec<OscEvent>, OscCounters) {
        let counters = OscCounters::default();
        let mut budget = PATTERN_BUDGET_PER_PACKET;
        let mut scratch = Scratch::default();
        let mut matched = Vec::new();
        let mut ctx = RouteContext {
            counters: &counters,
            budget: &mut budget,
            scratch: &mut scratch,
            matched: &mut matched,
        };
        let mut out = Vec::new();
        let from: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        t.route(
            &OscMessage {
                addr: addr.into(),
                args,
            },
            from,
            &mut ctx,
            &mut |e| out.push(e),
        );
        (out, counters)
    }

    fn set(name: &str, value: f32) -> OscEvent {
        OscEvent::SetParam {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn params_norm_and_aliases_map_to_units() {
        let t = table();
        assert_eq!(
            route(&t, "/hypna/param/zoom", vec![OscType::Float(2.5)]).0,
            vec![set("zoom", 2.5)]
        );
        assert_eq!(
            route(&t, "/hypna/param/zoom", vec![OscType::Int(9)]).0,
            vec![set("zoom", 9.0)],
            "not clamped here"
        );
        assert_eq!(
            route(&t, "/hypna/param/zoom", vec![OscType::Double(1.5)]).0,
            vec![set("zoom", 1.5)]
        );
        assert_eq!(
            route(&t, "/hypna/param/zoom", vec![OscType::Bool(true)]).0,
            vec![set("zoom", 1.0)]
        );
        assert_eq!(
            route(&t, "/hypna/param/zoom/norm", vec![OscType::Float(0.25)]).0,
            vec![set("zoom", 1.5)]
        );
        assert_eq!(
            route(&t, "/1/fader1", vec![OscType::Float(1.0)]).0,
            vec![set("zoom", 3.0)]
        );
        assert_eq!(
            route(&t, "/1/xy", vec![OscType::Float(0.0), OscType::Int(127)]).0,
            vec![set("hue", 360.0)],
            "second argument, 0..127"
        );
    }

    #[test]
    fn wrong_arguments_are_counted() {
        let t = table();
        for args in [
            vec![],
            vec![OscType::String("1.0".into())],
            vec![OscType::Float(f32::NAN)],
            vec![OscType::Float(f32::INFINITY)],
            vec![OscType::Double(1e300)],
            vec![OscType::Blob(vec![1])],
        ] {
            let (events, c) = route(&t, "/hypna/param/zoom", args.clone());
            assert!(events.is_empty(), "{args:?}");
            assert_eq!(c.get(Counter::WrongArgument), 1, "{args:?}");
        }
        let (events, c) = route(&t, "/1/xy", vec![OscType::Float(0.5)]);
        assert!(events.is_empty());
        assert_eq!(c.get(Counter::WrongArgument), 1, "alias argument 1 missing");
        let (_, c) = route(&t, "/hypna/scene", vec![OscType::Int(-1)]);
        assert_eq!(c.get(Counter::WrongArgument), 1);
        let (_, c) = route(&t, "/nope", vec![]);
        assert_eq!(c.get(Counter::UnknownAddress), 1);
    }

    #[test]
    fn scene_triggers_and_replies() {
        let t = table();
        let from: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        assert_eq!(
            route(&t, "/hypna/scene", vec![OscType::String("dream".into())]).0,
            vec![OscEvent::Scene(SceneRequest::Name("dream".into()))]
        );
        assert_eq!(
            route(&t, "/hypna/scene", vec![OscType::Float(2.0)]).0,
            vec![OscEvent::Scene(SceneRequest::Index(2))]
        );
        assert_eq!(
            route(&t, "/hypna/scene/next", vec![]).0,
            vec![OscEvent::Scene(SceneRequest::Next)]
        );
        assert_eq!(
            route(&t, "/hypna/scene/prev", vec![OscType::Float(1.0)]).0,
            vec![OscEvent::Scene(SceneRequest::Prev)]
        );
        let (events, c) = route(&t, "/hypna/scene/next", vec![OscType::Float(0.0)]);
        assert!(events.is_empty(), "button release does nothing");
        assert_eq!(c.get(Counter::WrongArgument), 0);
        assert_eq!(
            route(&t, "/hypna/tap", vec![OscType::Bool(true)]).0,
            vec![OscEvent::Tap]
        );
        assert_eq!(
            route(&t, "/hypna/record", vec![OscType::String("start".into())]).0,
            vec![OscEvent::Record(true)]
        );
        assert_eq!(
            route(&t, "/hypna/record", vec![OscType::Int(0)]).0,
            vec![OscEvent::Record(false)]
        );
        let (events, c) = route(&t, "/hypna/record", vec![OscType::String("go".into())]);
        assert!(events.is_empty());
        assert_eq!(c.get(Counter::WrongArgument), 1, "start or stop");
        assert_eq!(
            route(&t, "/hypna/beat/resync", vec![OscType::Inf]).0,
            vec![OscEvent::Resync]
        );
        assert_eq!(
            route(&t, "/hypna/query", vec![]).0,
            vec![OscEvent::Query { reply_to: from }]
        );
        assert_eq!(
            route(&t, "/hypna/status", vec![OscType::Int(9001)]).0,
            vec![OscEvent::Status {
                reply_to: "127.0.0.1:9001".parse().unwrap()
            }]
        );
    }

    #[test]
    fn patterns_reach_every_match() {
        let t = table();
        let (events, _) = route(&t, "/hypna/param/*/norm", vec![OscType::Float(1.0)]);
        assert_eq!(events, vec![set("zoom", 3.0), set("hue", 360.0)]);
        let (events, _) = route(&t, "/hypna/param/{zoom,hue}", vec![OscType::Float(2.0)]);
        assert_eq!(events, vec![set("zoom", 2.0), set("hue", 2.0)]);
        let (events, _) = route(&t, "/hypna/param/[a-z]oo?", vec![OscType::Float(2.0)]);
        assert_eq!(events, vec![set("zoom", 2.0)]);
        let (events, c) = route(&t, "/hypna/param/x*", vec![OscType::Float(2.0)]);
        assert!(events.is_empty());
        assert_eq!(c.get(Counter::UnknownAddress), 1);
        let (_, c) = route(&t, "/hypna/param/[zoom", vec![OscType::Float(2.0)]);
        assert_eq!(c.get(Counter::BadPattern), 1);
    }

    #[test]
    fn bad_tables_are_errors() {
        let p = |name: &str, min: f32, max: f32| ParamRoute {
            name: name.into(),
            min,
            max,
            aliases: vec![],
        };
        assert!(RouteTable::new([p("a", 0.0, 1.0), p("a", 0.0, 1.0)]).is_err());
        assert!(RouteTable::new([p("a/b", 0.0, 1.0)]).is_err());
        assert!(RouteTable::new([p("a*", 0.0, 1.0)]).is_err());
        assert!(RouteTable::new([p("a", 1.0, 0.0)]).is_err());
        let mut bad_alias = p("a", 0.0, 1.0);
        bad_alias.aliases.push(OscAlias::new("fader"));
        let err = RouteTable::new([bad_alias]).unwrap_err().to_string();
        assert!(
            err.contains("`a`") && err.contains("must start with `/`"),
            "{err}"
        );
        let t = table();
        assert!(t.addresses().any(|a| a == "/hypna/param/hue/norm"));
        assert!(t.addresses().any(|a| a == "/1/xy"));
    }

    #[test]
    fn feedback_maps_back_to_alias_input() {
        let t = table();
        let hue = t.param("hue").unwrap();
        let alias = &hue.aliases[0];
        assert!((hue.to_alias_input(alias, 180.0) - 63.5).abs() < 1e-4);
    }
}
