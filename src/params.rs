//! The parameter store: typed, range-clamped, smoothed values, one per scene param.
//!
//! Only the frame loop writes it (CLI `--set`, OSC, the parameter panel and a replayed param
//! log all go through the frame loop), so a recorded script of updates replays exactly. Each
//! frame it is advanced by `dt` and snapshotted into the bytes of the WGSL `Params` uniform.

use std::collections::HashMap;

use crate::scene::ParamDef;

/// Errors from setting params by name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// No param has that name.
    #[error("unknown param `{name}`; this scene has: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The scene's params, comma-separated (or "no params").
        known: String,
    },
    /// The value is not a finite number.
    #[error("param `{name}`: `{value}` is not a finite number")]
    NotANumber {
        /// The param.
        name: String,
        /// What was given.
        value: String,
    },
    /// `--set` without `=`.
    #[error("`{0}` is not of the form name=value")]
    Malformed(String),
}

/// One live param.
#[derive(Debug, Clone)]
struct Slot {
    def: ParamDef,
    /// Where the value is heading (already clamped).
    target: f32,
    /// Smoothed value before modulation.
    current: f32,
    /// Audio modulation added on top (not part of the target, so not fed back over OSC).
    modulation: f32,
}

impl Slot {
    /// What shaders see: the smoothed value plus modulation, clamped into the range.
    fn seen(&self) -> f32 {
        self.def.clamp(self.current + self.modulation)
    }
}

/// All params of a scene, in declaration order.
#[derive(Debug, Clone)]
pub struct ParamStore {
    slots: Vec<Slot>,
    /// Slot index by name: a set from OSC is one hash lookup, whatever the param count.
    by_name: HashMap<String, usize>,
}

impl ParamStore {
    /// Every param at its default.
    #[must_use]
    pub fn new(defs: &[ParamDef]) -> Self {
        let slots = defs
            .iter()
            .map(|d| Slot {
                def: d.clone(),
                target: d.default,
                current: d.default,
                modulation: 0.0,
            })
            .collect();
        let by_name = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        Self { slots, by_name }
    }

    /// Sets the target of `name` (clamped into its range; smoothing applies). Returns the
    /// clamped value.
    ///
    /// # Errors
    /// [`ParamError::Unknown`] for a name the scene does not declare,
    /// [`ParamError::NotANumber`] for NaN or infinity.
    pub fn set(&mut self, name: &str, value: f32) -> Result<f32, ParamError> {
        // No allocation on the way to a known param: the OSC path calls this per message.
        let Some(i) = self.index_of(name) else {
            return Err(self.unknown(name));
        };
        if !value.is_finite() {
            return Err(ParamError::NotANumber {
                name: name.to_string(),
                value: value.to_string(),
            });
        }
        let slot = &mut self.slots[i];
        slot.target = slot.def.clamp(value);
        Ok(slot.target)
    }

    /// Sets the target of the param at `index` (declaration order) as [`Self::set`] does;
    /// returns the clamped value, or `None` for an index out of range or a value that is not
    /// a finite number (both left alone).
    pub fn set_at(&mut self, index: usize, value: f32) -> Option<f32> {
        let slot = self.slots.get_mut(index)?;
        if !value.is_finite() {
            return None;
        }
        slot.target = slot.def.clamp(value);
        Some(slot.target)
    }

    /// The declaration index of the param `name`.
    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The error for a name this scene does not declare (built only when one is refused).
    fn unknown(&self, name: &str) -> ParamError {
        ParamError::Unknown {
            name: name.to_string(),
            known: self.known(),
        }
    }

    /// Sets and jumps there at once, skipping smoothing (offline renders, scene start).
    ///
    /// # Errors
    /// As [`Self::set`].
    pub fn set_now(&mut self, name: &str, value: f32) -> Result<f32, ParamError> {
        let v = self.set(name, value)?;
        if let Some(i) = self.index_of(name) {
            self.slots[i].current = v;
        }
        Ok(v)
    }

    /// Applies a `name=value` assignment (the CLI's `--set`).
    ///
    /// # Errors
    /// [`ParamError::Malformed`], [`ParamError::NotANumber`] or [`ParamError::Unknown`].
    pub fn assign(&mut self, assignment: &str) -> Result<(String, f32), ParamError> {
        let (name, value) = parse_assignment(assignment)?;
        let v = self.set_now(&name, value)?;
        Ok((name, v))
    }

    /// Moves every current value towards its target by `dt_secs` of exponential smoothing.
    pub fn advance(&mut self, dt_secs: f32) {
        for s in &mut self.slots {
            s.current = if s.def.smooth_secs <= 0.0 {
                s.target
            } else if dt_secs <= 0.0 {
                // No time passed (a first frame): hold, as the smoothing law says.
                s.current
            } else {
                let k = 1.0 - (-dt_secs / s.def.smooth_secs).exp();
                let next = s.current + (s.target - s.current) * k;
                // f32 steps stall a few ulps short: land exactly within a millionth of the range,
                // so "settled" is observable and replays compare equal.
                if (s.target - next).abs() <= (s.def.max - s.def.min) * 1e-6 {
                    s.target
                } else {
                    next
                }
            };
        }
    }

    /// The value shaders see this frame.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<f32> {
        self.slots.get(self.index_of(name)?).map(Slot::seen)
    }

    /// Sets the audio modulation of the param at `index` (added after smoothing).
    pub fn set_modulation(&mut self, index: usize, value: f32) {
        if let Some(s) = self.slots.get_mut(index) {
            s.modulation = if value.is_finite() { value } else { 0.0 };
        }
    }

    /// `(name, target)` in declaration order: where each value is heading (what a controller
    /// should show).
    pub fn targets(&self) -> impl Iterator<Item = (&str, f32)> {
        self.slots.iter().map(|s| (s.def.name.as_str(), s.target))
    }

    /// The name of the param at `index` (declaration order).
    #[must_use]
    pub fn name_of(&self, index: usize) -> Option<&str> {
        self.slots.get(index).map(|s| s.def.name.as_str())
    }

    /// The current value of the param at `index` (declaration order).
    #[must_use]
    pub fn value_at(&self, index: usize) -> Option<f32> {
        self.slots.get(index).map(Slot::seen)
    }

    /// `(name, current)` in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f32)> {
        self.slots.iter().map(|s| (s.def.name.as_str(), s.seen()))
    }

    /// Current values in declaration order: the `Params` uniform's fields.
    #[must_use]
    pub fn snapshot(&self) -> Vec<f32> {
        self.slots.iter().map(Slot::seen).collect()
    }

    /// Keeps the values of params that still exist in `defs` (hot reload), defaults otherwise.
    #[must_use]
    pub fn carried_over(&self, defs: &[ParamDef]) -> Self {
        let mut next = Self::new(defs);
        for slot in &mut next.slots {
            if let Some(old) = self
                .index_of(&slot.def.name)
                .and_then(|i| self.slots.get(i))
            {
                slot.target = slot.def.clamp(old.target);
                slot.current = slot.def.clamp(old.current);
            }
        }
        next
    }

    fn known(&self) -> String {
        if self.slots.is_empty() {
            "no params".to_string()
        } else {
            self.slots
                .iter()
                .map(|s| s.def.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// Splits `name=value` and parses the value as a finite number.
///
/// # Errors
/// [`ParamError::Malformed`] without `=`, [`ParamError::NotANumber`] when the value is not a
/// finite number.
pub fn parse_assignment(assignment: &str) -> Result<(String, f32), ParamError> {
    let (name, value) = assignment
        .split_once('=')
        .ok_or_else(|| ParamError::Malformed(assignment.to_string()))?;
    let name = name.trim().to_string();
    let value_str = value.trim();
    match value_str.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok((name, v)),
        _ => Err(ParamError::NotANumber {
            name,
            value: value_str.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, smooth: f32) -> ParamDef {
        ParamDef {
            modulation: None,
            names: Vec::new(),
            osc: Vec::new(),
            midi: None,
            name: name.into(),
            at: crate::scene::Location::default(),
            default: 0.5,
            min: 0.0,
            max: 2.0,
            smooth_secs: smooth,
            label: name.into(),
            group: None,
        }
    }

    #[test]
    fn set_clamps_and_rejects_unknown() {
        let mut p = ParamStore::new(&[def("zoom", 0.0)]);
        assert_eq!(p.set("zoom", 5.0), Ok(2.0));
        p.advance(0.016);
        assert_eq!(p.get("zoom"), Some(2.0));
        let err = p.set("nope", 1.0).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown param `nope`; this scene has: zoom"),
            "{err}"
        );
        assert!(matches!(
            p.set("zoom", f32::NAN),
            Err(ParamError::NotANumber { .. })
        ));
    }

    #[test]
    fn smoothing_approaches_target_exponentially() {
        let mut p = ParamStore::new(&[def("x", 1.0)]);
        p.set("x", 1.5).unwrap();
        p.advance(1.0);
        let v = p.get("x").unwrap();
        // One time constant covers 1 - 1/e of the distance.
        let expected = 0.5 + 1.0 * (1.0 - (-1.0f32).exp());
        assert!((v - expected).abs() < 1e-5, "{v} vs {expected}");
        for _ in 0..200 {
            p.advance(0.1);
        }
        assert_eq!(p.get("x"), Some(1.5));
    }

    #[test]
    fn modulation_adds_after_smoothing_and_is_not_a_target() {
        let mut p = ParamStore::new(&[def("x", 1.0)]);
        p.set_modulation(0, 0.25);
        assert_eq!(p.get("x"), Some(0.75));
        assert_eq!(p.targets().next(), Some(("x", 0.5)));
        p.set_modulation(0, 10.0);
        assert_eq!(p.get("x"), Some(2.0), "clamped into the range");
        p.set_modulation(0, f32::NAN);
        assert_eq!(p.get("x"), Some(0.5));
    }

    #[test]
    fn no_time_means_no_movement() {
        let mut p = ParamStore::new(&[def("x", 1.0)]);
        p.set("x", 2.0).unwrap();
        p.advance(0.0);
        assert_eq!(p.get("x"), Some(0.5));
        let mut immediate = ParamStore::new(&[def("y", 0.0)]);
        immediate.set("y", 2.0).unwrap();
        immediate.advance(0.0);
        assert_eq!(immediate.get("y"), Some(2.0));
    }

    #[test]
    fn assignments_parse() {
        assert_eq!(parse_assignment("zoom=1.5"), Ok(("zoom".into(), 1.5)));
        assert!(matches!(
            parse_assignment("zoom"),
            Err(ParamError::Malformed(_))
        ));
        assert!(matches!(
            parse_assignment("zoom=fast"),
            Err(ParamError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_assignment("zoom=inf"),
            Err(ParamError::NotANumber { .. })
        ));
    }

    #[test]
    fn reload_keeps_surviving_values() {
        let mut p = ParamStore::new(&[def("a", 0.0), def("b", 0.0)]);
        p.set_now("a", 1.25).unwrap();
        let next = p.carried_over(&[def("a", 0.0), def("c", 0.0)]);
        assert_eq!(next.get("a"), Some(1.25));
        assert_eq!(next.get("c"), Some(0.5));
        assert_eq!(next.get("b"), None);
    }
}
