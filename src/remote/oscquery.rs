//! The OSCQuery namespace (Vidvox/OSCQueryProposal): hypna's OSC address space as JSON nodes,
//! attribute queries with the status codes the proposal gives, `HOST_INFO`, and what
//! `LISTEN`ers receive. Pure functions of a published [`Namespace`] and [`Values`], so the
//! unit tests need no socket.
//!
//! The tree (every method as documented in `docs/osc.md`):
//!
//! ```text
//! /hypna/param/<name>        f  ACCESS 3  VALUE, RANGE, DESCRIPTION (label), CLIPMODE both, TAGS (group)
//! /hypna/param/<name>/norm   f  ACCESS 2  RANGE 0..1
//! <alias address>            f  ACCESS 2  RANGE: the alias's input range (one-value aliases)
//! /hypna/scene               s  ACCESS 3 with a playlist (VALUE: the entry, RANGE VALS: entries), else 2
//! /hypna/scene/next|prev     N  ACCESS 2
//! /hypna/tap, /hypna/beat/resync, /hypna/query   N  ACCESS 2
//! /hypna/status              N  ACCESS 2 (the OSC reply), CONTENTS read-only values (ACCESS 1)
//! ```

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::snapshot::{Namespace, Values};

/// Attributes this server knows (a query for any other is a 400).
const KNOWN: [&str; 14] = [
    "FULL_PATH",
    "CONTENTS",
    "TYPE",
    "VALUE",
    "RANGE",
    "DESCRIPTION",
    "TAGS",
    "EXTENDED_TYPE",
    "UNIT",
    "CRITICAL",
    "CLIPMODE",
    "ACCESS",
    "OVERLOADS",
    "HOST_INFO",
];

/// A read-only status value under `/hypna/status`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// OSC `f`.
    Float(f32),
    /// OSC `h`.
    Int(i64),
    /// OSC `s`.
    Text(String),
}

/// What went wrong with a query, as the HTTP status the proposal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// 404: no container or method at that path.
    NotFound,
    /// 204: a known attribute the node does not have (`VALUE` of a write-only method).
    NoContent,
    /// 400: an attribute this server does not know.
    BadRequest,
}

impl QueryError {
    /// The HTTP status code.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::NoContent => 204,
            Self::BadRequest => 400,
        }
    }
}

/// Every method of the address space: (full path, attributes without `FULL_PATH` and
/// `CONTENTS`), in a stable order.
fn methods(ns: &Namespace, values: Option<&Values>) -> Vec<(String, Map<String, Value>)> {
    let mut out = Vec::new();
    let current = values.filter(|v| v.scene == ns.scene);
    for (i, p) in ns.params.iter().enumerate() {
        let mut m = Map::new();
        m.insert("TYPE".into(), json!("f"));
        m.insert("ACCESS".into(), json!(3));
        m.insert("DESCRIPTION".into(), json!(p.label));
        m.insert("RANGE".into(), json!([{ "MIN": p.min, "MAX": p.max }]));
        m.insert("CLIPMODE".into(), json!(["both"]));
        if let Some(g) = &p.group {
            m.insert("TAGS".into(), json!([g]));
        }
        let value = current
            .and_then(|v| v.params.get(i).copied())
            .unwrap_or(p.default);
        m.insert("VALUE".into(), json!([value]));
        out.push((format!("/hypna/param/{}", p.name), m));
        let mut n = Map::new();
        n.insert("TYPE".into(), json!("f"));
        n.insert("ACCESS".into(), json!(2));
        n.insert(
            "DESCRIPTION".into(),
            json!(format!("{} (0..1 of its range)", p.label)),
        );
        n.insert("RANGE".into(), json!([{ "MIN": 0.0, "MAX": 1.0 }]));
        n.insert("CLIPMODE".into(), json!(["both"]));
        out.push((format!("/hypna/param/{}/norm", p.name), n));
        for (address, [lo, hi]) in &p.aliases {
            let mut a = Map::new();
            a.insert("TYPE".into(), json!("f"));
            a.insert("ACCESS".into(), json!(2));
            a.insert(
                "DESCRIPTION".into(),
                json!(format!("{} (controller alias)", p.label)),
            );
            a.insert("RANGE".into(), json!([{ "MIN": lo, "MAX": hi }]));
            a.insert("CLIPMODE".into(), json!(["both"]));
            out.push((address.clone(), a));
        }
    }
    let mut scene = Map::new();
    scene.insert("TYPE".into(), json!("s"));
    if ns.entries.is_empty() {
        scene.insert("ACCESS".into(), json!(2));
        scene.insert(
            "DESCRIPTION".into(),
            json!("Jump to a playlist entry (a single scene plays: ignored)"),
        );
    } else {
        scene.insert("ACCESS".into(), json!(3));
        scene.insert(
            "DESCRIPTION".into(),
            json!("The playlist entry on show; send a name to jump"),
        );
        scene.insert("RANGE".into(), json!([{ "VALS": ns.entries }]));
        let entry = current
            .and_then(|v| v.health.entry.as_ref())
            .map(|(_, n)| n.clone());
        if let Some(e) = entry {
            scene.insert("VALUE".into(), json!([e]));
        }
    }
    out.push(("/hypna/scene".into(), scene));
    for (path, what) in [
        ("/hypna/scene/next", "Next playlist entry"),
        ("/hypna/scene/prev", "Previous playlist entry"),
        ("/hypna/tap", "One tap for tap tempo"),
        ("/hypna/beat/resync", "Beat phase to 0 now"),
        ("/hypna/query", "Replies with every param over OSC"),
        (
            "/hypna/status",
            "Replies with the status over OSC; the values below are read-only",
        ),
    ] {
        let mut m = Map::new();
        m.insert("TYPE".into(), json!("N"));
        m.insert("ACCESS".into(), json!(2));
        m.insert("DESCRIPTION".into(), json!(what));
        out.push((path.into(), m));
    }
    for (name, what, value) in status_values(current) {
        let mut m = Map::new();
        let (ty, v) = match value {
            Scalar::Float(f) => ("f", json!(f)),
            Scalar::Int(i) => ("h", json!(i)),
            Scalar::Text(s) => ("s", json!(s)),
        };
        m.insert("TYPE".into(), json!(ty));
        m.insert("ACCESS".into(), json!(1));
        m.insert("DESCRIPTION".into(), json!(what));
        m.insert("VALUE".into(), json!([v]));
        if let Some(unit) = unit_of(name) {
            m.insert("UNIT".into(), json!([unit]));
        }
        out.push((format!("/hypna/status/{name}"), m));
    }
    out
}

/// The read-only values under `/hypna/status`.
fn status_values(values: Option<&Values>) -> Vec<(&'static str, &'static str, Scalar)> {
    let h = values.map(|v| &v.health);
    let f = |g: fn(&super::Health) -> f32| Scalar::Float(h.map_or(0.0, g));
    vec![
        ("fps", "Frames per second", f(|h| h.fps)),
        ("frame_ms", "The last frame's duration", f(|h| h.frame_ms)),
        (
            "frame",
            "Frames shown",
            Scalar::Int(h.map_or(0, |h| i64::try_from(h.frame).unwrap_or(i64::MAX))),
        ),
        (
            "scene",
            "The scene on show",
            Scalar::Text(h.map(|h| h.scene.clone()).unwrap_or_default()),
        ),
        (
            "uptime",
            "Time since the show started",
            #[allow(clippy::cast_possible_truncation)] // seconds as OSC float
            f(|h| h.uptime_secs as f32),
        ),
        (
            "audio_level",
            "Input level (-120 without audio)",
            f(|h| h.audio_level_db.unwrap_or(-120.0)),
        ),
    ]
}

/// OSCQuery units (units.md) of the status values that have one.
fn unit_of(name: &str) -> Option<&'static str> {
    match name {
        "frame_ms" => Some("time.ms"),
        "uptime" => Some("time.s"),
        "audio_level" => Some("gain.dB"),
        _ => None,
    }
}

/// The node at `path` (`/` is the root) with its whole subtree.
///
/// # Errors
/// [`QueryError::NotFound`] when nothing is there.
pub fn node(ns: &Namespace, values: Option<&Values>, path: &str) -> Result<Value, QueryError> {
    let path = normalise(path);
    let mut root = Map::new();
    root.insert("FULL_PATH".into(), json!("/"));
    root.insert("ACCESS".into(), json!(0));
    root.insert("DESCRIPTION".into(), json!(format!("hypna: {}", ns.scene)));
    root.insert("CONTENTS".into(), json!({}));
    let mut root = Value::Object(root);
    for (full, attrs) in methods(ns, values) {
        insert(&mut root, &full, attrs);
    }
    let mut at = &root;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at = at
            .get("CONTENTS")
            .and_then(|c| c.get(part))
            .ok_or(QueryError::NotFound)?;
    }
    Ok(at.clone())
}

/// `path` without a trailing slash (except the root) and without the query.
fn normalise(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or("/");
    if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    }
}

/// Puts a method's attributes at `full` in the tree, creating containers on the way.
fn insert(root: &mut Value, full: &str, attrs: Map<String, Value>) {
    let mut at = root;
    let mut so_far = String::new();
    for part in full.split('/').filter(|p| !p.is_empty()) {
        so_far.push('/');
        so_far.push_str(part);
        let Some(contents) = at.get_mut("CONTENTS").and_then(Value::as_object_mut) else {
            return;
        };
        let child = contents
            .entry(part)
            .or_insert_with(|| json!({ "FULL_PATH": so_far, "ACCESS": 0, "CONTENTS": {} }));
        if child.get("CONTENTS").is_none()
            && let Some(o) = child.as_object_mut()
        {
            o.insert("CONTENTS".into(), json!({}));
        }
        at = child;
    }
    if let Some(o) = at.as_object_mut() {
        o.extend(attrs);
    }
}

/// One attribute of the node at `path`, as the object `{ ATTR: value }`.
///
/// # Errors
/// 404 without a node, 400 for an unknown attribute, 204 when the node lacks it (or its
/// `VALUE` is not readable).
pub fn attribute(
    ns: &Namespace,
    values: Option<&Values>,
    path: &str,
    attr: &str,
) -> Result<Value, QueryError> {
    let n = node(ns, values, path)?;
    if !KNOWN.contains(&attr) {
        return Err(QueryError::BadRequest);
    }
    if attr == "VALUE" && n.get("ACCESS").and_then(Value::as_u64).unwrap_or(0) & 1 == 0 {
        return Err(QueryError::NoContent);
    }
    let v = n.get(attr).ok_or(QueryError::NoContent)?;
    Ok(json!({ attr: v }))
}

/// The `HOST_INFO` object: name, OSC port and transport, WebSocket port (the HTTP port) and
/// the extensions this server supports.
#[must_use]
pub fn host_info(name: &str, osc_port: Option<u16>, ws_port: u16) -> Value {
    let mut info = Map::new();
    info.insert("NAME".into(), json!(name));
    if let Some(p) = osc_port {
        info.insert("OSC_PORT".into(), json!(p));
        info.insert("OSC_TRANSPORT".into(), json!("UDP"));
    }
    info.insert("WS_PORT".into(), json!(ws_port));
    info.insert(
        "EXTENSIONS".into(),
        json!({
            "ACCESS": true, "VALUE": true, "RANGE": true, "DESCRIPTION": true, "TAGS": true,
            "CLIPMODE": true, "UNIT": true, "CRITICAL": false, "EXTENDED_TYPE": false,
            "OVERLOADS": false, "LISTEN": true, "PATH_CHANGED": true, "PATH_ADDED": true,
            "PATH_REMOVED": true, "PATH_RENAMED": false, "HTML": true
        }),
    );
    Value::Object(info)
}

/// Every method path with a fingerprint of its description (its attributes without `VALUE`),
/// to tell which paths a new namespace added, removed or changed.
#[must_use]
pub fn fingerprints(ns: &Namespace) -> BTreeMap<String, String> {
    methods(ns, None)
        .into_iter()
        .filter(|(path, _)| !path.starts_with("/hypna/status/"))
        .map(|(path, mut attrs)| {
            attrs.remove("VALUE");
            (path, Value::Object(attrs).to_string())
        })
        .collect()
}

/// The structural differences from `old` to `new` as WebSocket notifications
/// (`PATH_ADDED`, `PATH_REMOVED`, `PATH_CHANGED`); more than `max` are coalesced into one
/// `PATH_CHANGED` of `/hypna` as the proposal allows.
#[must_use]
pub fn changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    max: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (path, fp) in new {
        match old.get(path) {
            None => out.push(json!({ "COMMAND": "PATH_ADDED", "DATA": path })),
            Some(o) if o != fp => out.push(json!({ "COMMAND": "PATH_CHANGED", "DATA": path })),
            Some(_) => {}
        }
    }
    for path in old.keys().filter(|p| !new.contains_key(*p)) {
        out.push(json!({ "COMMAND": "PATH_REMOVED", "DATA": path }));
    }
    if out.len() > max {
        vec![json!({ "COMMAND": "PATH_CHANGED", "DATA": "/hypna" })]
    } else {
        out
    }
}

/// The value a `LISTEN`er of `path` receives, if `path` has a readable value.
#[must_use]
pub fn listen_value(ns: &Namespace, values: &Values, path: &str) -> Option<Scalar> {
    if let Some(name) = path.strip_prefix("/hypna/param/") {
        if values.scene != ns.scene {
            return None;
        }
        let i = ns.params.iter().position(|p| p.name == name)?;
        return values.params.get(i).map(|v| Scalar::Float(*v));
    }
    if path == "/hypna/scene" {
        return values
            .health
            .entry
            .as_ref()
            .map(|(_, n)| Scalar::Text(n.clone()));
    }
    let name = path.strip_prefix("/hypna/status/")?;
    status_values(Some(values))
        .into_iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, v)| v)
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{Health, ParamInfo};
    use super::*;

    fn ns() -> Namespace {
        Namespace {
            scene: "demo".into(),
            params: vec![ParamInfo {
                name: "zoom".into(),
                label: "Zoom".into(),
                min: 0.5,
                max: 4.0,
                default: 1.0,
                group: Some("camera".into()),
                names: Vec::new(),
                aliases: vec![("/1/fader1".into(), [0.0, 127.0])],
            }],
            entries: vec!["a".into(), "b".into()],
        }
    }

    #[test]
    fn params_are_methods_with_range_and_value() {
        let values = Values {
            scene: "demo".into(),
            params: vec![2.0],
            health: Health {
                entry: Some((1, "b".into())),
                ..Health::default()
            },
        };
        let n = node(&ns(), Some(&values), "/hypna/param/zoom").unwrap();
        assert_eq!(n["FULL_PATH"], "/hypna/param/zoom");
        assert_eq!(n["TYPE"], "f");
        assert_eq!(n["VALUE"], json!([2.0]));
        assert_eq!(n["RANGE"], json!([{ "MIN": 0.5, "MAX": 4.0 }]));
        assert_eq!(n["DESCRIPTION"], "Zoom");
        assert_eq!(n["CLIPMODE"], json!(["both"]));
        assert_eq!(n["ACCESS"], 3);
        assert_eq!(n["CONTENTS"]["norm"]["ACCESS"], 2);
        let alias = node(&ns(), Some(&values), "/1/fader1").unwrap();
        assert_eq!(alias["RANGE"], json!([{ "MIN": 0.0, "MAX": 127.0 }]));
        assert_eq!(alias["ACCESS"], 2);
        let root = node(&ns(), Some(&values), "/").unwrap();
        assert_eq!(
            root["CONTENTS"]["hypna"]["CONTENTS"]["scene"]["VALUE"],
            json!(["b"])
        );
        assert_eq!(
            attribute(&ns(), Some(&values), "/hypna/param/zoom/", "VALUE").unwrap(),
            json!({ "VALUE": [2.0] })
        );
    }

    #[test]
    fn queries_answer_the_proposal_codes() {
        let n = ns();
        assert_eq!(node(&n, None, "/nope"), Err(QueryError::NotFound));
        assert_eq!(
            attribute(&n, None, "/hypna/param/zoom", "COLOUR"),
            Err(QueryError::BadRequest)
        );
        assert_eq!(
            attribute(&n, None, "/hypna/param/zoom/norm", "VALUE"),
            Err(QueryError::NoContent)
        );
        assert_eq!(
            attribute(&n, None, "/hypna/param/zoom", "UNIT"),
            Err(QueryError::NoContent)
        );
        let info = host_info("hypna", Some(9000), 9080);
        assert_eq!(info["OSC_PORT"], 9000);
        assert_eq!(info["OSC_TRANSPORT"], "UDP");
        assert_eq!(info["EXTENSIONS"]["LISTEN"], true);
    }

    #[test]
    fn namespace_changes_are_listed() {
        let a = ns();
        let mut b = ns();
        b.params[0].max = 8.0;
        b.params.push(ParamInfo {
            name: "hue".into(),
            ..b.params[0].clone()
        });
        let c = changes(&fingerprints(&a), &fingerprints(&b), 16);
        assert!(c.contains(&json!({ "COMMAND": "PATH_CHANGED", "DATA": "/hypna/param/zoom" })));
        assert!(c.contains(&json!({ "COMMAND": "PATH_ADDED", "DATA": "/hypna/param/hue" })));
        assert!(c.contains(&json!({ "COMMAND": "PATH_ADDED", "DATA": "/hypna/param/hue/norm" })));
        let back = changes(&fingerprints(&b), &fingerprints(&a), 16);
        assert!(back.contains(&json!({ "COMMAND": "PATH_REMOVED", "DATA": "/hypna/param/hue" })));
        assert_eq!(changes(&fingerprints(&a), &fingerprints(&b), 1).len(), 1);
    }
}
