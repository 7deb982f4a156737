//! How a playlist moves from one scene to the next: `transition = { kind = "crossfade",
//! secs = 4.0 }`, `{ kind = "cut" }`, or an ISF transition file `{ isf = "Wipe.fs", secs =
//! 2.0, set = ["smoothness=0.2"] }` (docs/playlists.md). Validated with the playlist; an ISF
//! transition's file is read then (its header, its inputs as params), so a file that is not a
//! transition, or a `set` naming no input, is located in the playlist or in the `.fs`.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::Collector as Ctx;
use crate::runtime::isf_transition::IsfTransitionSpec;
use crate::scene::{Scene, SceneError};

/// Crossfade length when a transition says `kind = "crossfade"` without `secs`, and of the
/// playlist default when `[playlist] transition` is absent; also an ISF transition's length
/// without `secs`.
pub const DEFAULT_CROSSFADE_SECS: f64 = 2.0;

/// `{ kind = "crossfade", secs = 4.0 }` or `{ isf = "file.fs", secs = 2.0, set = [...] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTransition {
    kind: Option<Spanned<TransitionKind>>,
    secs: Option<Spanned<f64>>,
    isf: Option<Spanned<String>>,
    #[serde(default)]
    set: Vec<Spanned<String>>,
}

/// How one scene replaces another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransitionKind {
    /// At once.
    Cut,
    /// Both scenes render while the new one's weight goes 0 -> 1 over `secs`.
    Crossfade,
    /// An ISF transition file draws the change over `secs` (its `progress` going 0 -> 1).
    Isf,
}

/// A validated transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Cut, crossfade or ISF transition.
    pub kind: TransitionKind,
    /// Length in seconds; always 0 for [`TransitionKind::Cut`].
    pub secs: f64,
    /// The ISF transition and its input values ([`TransitionKind::Isf`] only).
    pub isf: Option<Arc<IsfTransitionSpec>>,
}

impl Transition {
    /// An immediate switch.
    pub const CUT: Self = Self {
        kind: TransitionKind::Cut,
        secs: 0.0,
        isf: None,
    };

    /// The fade length in seconds (0 for a cut).
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // seconds of a fade
    pub fn fade_secs(&self) -> f32 {
        match self.kind {
            TransitionKind::Cut => 0.0,
            TransitionKind::Crossfade | TransitionKind::Isf => self.secs as f32,
        }
    }
}

impl Default for Transition {
    /// A crossfade of [`DEFAULT_CROSSFADE_SECS`].
    fn default() -> Self {
        Self {
            kind: TransitionKind::Crossfade,
            secs: DEFAULT_CROSSFADE_SECS,
            isf: None,
        }
    }
}

/// Validates one `transition = {...}` (`span`: the whole table); ISF files resolve against
/// `dir`, the playlist's folder.
pub(super) fn validate(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    span: &std::ops::Range<usize>,
    raw: RawTransition,
) -> Transition {
    let secs = match raw.secs {
        Some(s) => {
            let v = *s.get_ref();
            if v.is_finite() && v >= 0.0 {
                v
            } else {
                ctx.error(
                    &s.span(),
                    format!("transition secs = {v} must be a number >= 0"),
                );
                DEFAULT_CROSSFADE_SECS
            }
        }
        None => DEFAULT_CROSSFADE_SECS,
    };
    let kind = raw.kind.as_ref().map(|k| (*k.get_ref(), k.span()));
    match (kind, raw.isf) {
        (None | Some((TransitionKind::Isf, _)), Some(isf)) => {
            let spec = isf_spec(ctx, dir, &isf, raw.set);
            Transition {
                kind: TransitionKind::Isf,
                secs,
                isf: spec.map(Arc::new),
            }
        }
        (Some((_, kind_span)), Some(_)) => {
            ctx.error(
                &kind_span,
                "a transition has `kind` or `isf`, not both: an `isf` transition needs no kind",
            );
            Transition::default()
        }
        (Some((TransitionKind::Isf, kind_span)), None) => {
            ctx.error(&kind_span, "kind = \"isf\" needs the file: isf = \"file.fs\"")
                .notes
                .push("e.g. transition = { isf = \"../shaders/isf/transitions/Wipe Left.fs\", secs = 2.0 }".into());
            Transition::default()
        }
        (None, None) => {
            ctx.error(span, "a transition needs `kind` (\"crossfade\" or \"cut\") or `isf` (an ISF transition file)");
            Transition::default()
        }
        (Some((kind, _)), None) => {
            if let Some(first) = raw.set.first() {
                ctx.error(
                    &first.span(),
                    "`set` applies to an `isf` transition's inputs only",
                );
            }
            if kind == TransitionKind::Cut {
                Transition::CUT
            } else {
                Transition {
                    kind,
                    secs,
                    isf: None,
                }
            }
        }
    }
}

/// Reads the ISF transition `isf` (relative to `dir`) and checks `set` against its inputs.
fn isf_spec(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    isf: &Spanned<String>,
    set: Vec<Spanned<String>>,
) -> Option<IsfTransitionSpec> {
    let text = isf.get_ref();
    let file = dir.join(text);
    let scene = match Scene::read_transition(&file, crate::scene::validate::DEFAULT_SIZE) {
        Ok(scene) => scene,
        Err(SceneError::Io { source, .. }) => {
            ctx.error(
                &isf.span(),
                format!(
                    "ISF transition `{text}` {source} (looked at {})",
                    file.display()
                ),
            );
            return None;
        }
        Err(SceneError::Invalid(problems)) => {
            let (located, whole): (Vec<_>, Vec<_>) =
                problems.0.into_iter().partition(|d| d.line.is_some());
            let reason = whole
                .iter()
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let e = ctx.error(
                &isf.span(),
                if reason.is_empty() {
                    format!("ISF transition `{text}` does not load (its problems follow)")
                } else {
                    format!("ISF transition `{text}` {reason}")
                },
            );
            if !located.is_empty() {
                e.notes.push(format!("in {}:", file.display()));
            }
            for d in located {
                ctx.push(d);
            }
            return None;
        }
    };
    let mut values = Vec::with_capacity(set.len());
    for assignment in set {
        match crate::params::parse_assignment(assignment.get_ref()) {
            Ok((name, _)) if name == "progress" => {
                ctx.error(
                    &assignment.span(),
                    "`progress` is the transition's own: it runs 0 -> 1 over `secs`",
                );
            }
            Ok((name, value)) if scene.param(&name).is_some() => values.push((name, value)),
            Ok((name, _)) => {
                let known = scene
                    .params
                    .iter()
                    .filter(|p| p.name != "progress")
                    .map(|p| format!("`{}`", p.name))
                    .collect::<Vec<_>>();
                ctx.error(
                    &assignment.span(),
                    format!("ISF transition `{text}` has no input `{name}`"),
                )
                .notes
                .push(if known.is_empty() {
                    "it has no inputs besides startImage, endImage and progress".into()
                } else {
                    format!("its inputs: {}", known.join(", "))
                });
            }
            Err(err) => {
                ctx.error(
                    &assignment.span(),
                    format!("ISF transition `{text}`: {err}"),
                );
            }
        }
    }
    Some(IsfTransitionSpec { file, values })
}
