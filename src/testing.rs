//! Test support shared by the library's own unit tests and the integration tests
//! (`tests/it`), so each fake and each wait exists once. Not part of hypna's API: nothing in
//! the library outside `#[cfg(test)]` code uses it, and it sits above every other module.

use std::time::{Duration, Instant};

use crate::infer::{InferError, Output, Runner, Tensor, Worker};
use crate::osc::{OscAlias, ParamRoute};

/// A panic payload whose own drop panics again: a run that panics with it ends its thread
/// outside the caught run (how the tests kill an inference thread).
#[derive(Debug)]
pub struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the panic payload exploded while being dropped");
    }
}

/// A model without ONNX Runtime: echoes its inputs after `delay`; panics on an input named
/// `panic`, fails on `fail`, and kills its thread on `bomb` (see [`Bomb`]).
#[derive(Debug, Clone, Copy)]
pub struct Echo {
    /// How long each run takes.
    pub delay: Duration,
}

impl Runner for Echo {
    fn run(&mut self, inputs: &[(String, Tensor)]) -> Result<Vec<(String, Tensor)>, InferError> {
        let has = |n: &str| inputs.iter().any(|(name, _)| name == n);
        if has("bomb") {
            std::panic::panic_any(Bomb);
        }
        std::thread::sleep(self.delay);
        assert!(!has("panic"), "boom");
        if has("fail") {
            return Err(InferError::Run {
                model: "echo".into(),
                message: "asked to fail".into(),
                inputs: String::new(),
            });
        }
        Ok(inputs.to_vec())
    }
}

/// Polls `worker` (as a frame loop would, never blocking) until the output for job `id`
/// arrives; the newest output seen when `timeout` passes otherwise (or a panic when none
/// came at all).
#[must_use]
pub fn wait_for_output(worker: &Worker, id: u64, timeout: Duration) -> Option<Output> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(out) = worker.try_result() {
            let done = out.job >= id;
            last = Some(out);
            if done {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    last
}

/// Two routed params: `zoom` 1..3 with the alias `/1/fader1` (0..1), and `hue` 0..360 with
/// `hue_alias`.
#[must_use]
pub fn zoom_and_hue(hue_alias: OscAlias) -> Vec<ParamRoute> {
    vec![
        ParamRoute {
            name: "zoom".into(),
            min: 1.0,
            max: 3.0,
            aliases: vec![OscAlias::new("/1/fader1")],
        },
        ParamRoute {
            name: "hue".into(),
            min: 0.0,
            max: 360.0,
            aliases: vec![hue_alias],
        },
    ]
}
