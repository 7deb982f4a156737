//! hypna: a realtime runtime for generative art installations.
//!
//! Scenes (TOML) name WGSL passes, ONNX models and parameters; the runtime renders them every
//! frame to a window or headless, deterministically when asked. The modules are listed in
//! data-flow order and none imports one listed after it (`tests/it/layers.rs` checks it;
//! `docs/architecture.md` draws the house): base, scene format, input services, render, model
//! nodes, the runtime, the show, the window, benchmarks, operations. See `docs/` for the file
//! formats.

// Base: located errors, frame time, restarting threads.
pub mod clock;
pub mod diag;
mod restart;
// Untrusted text in: bounded reads and shape guards before any parser.
pub mod untrusted;
// The scene format and what is set from it.
pub mod params;
pub mod scene;
pub mod settings;
// Input services: each runs its own threads and hands the frame loop the newest values.
pub mod audio;
pub mod infer;
pub mod media;
pub mod midi;
pub mod osc;
pub mod remote;
// The GPU.
pub mod render;
// Model nodes: inference workers bridged to textures and params; the dream compiler beside them
// (pure: ONNX graphs in, ONNX graphs out, no GPU, no runtime).
pub mod dream;
pub mod model;
// One scene (or a crossfade of two) per frame, and loading.
pub mod runtime;
// Which scene plays when: playlists, schedules, hot reload.
pub mod show;
// The live window.
pub mod window;
// Benchmarks (drive the window through its frame hook).
pub mod bench;
// The fuzzer: mutated shipped files through `check` and a headless load.
pub mod fuzz;
// Operations: log file, memory janitor, health line, param log.
pub mod ops;
// Test support shared by unit and integration tests (not part of the API).
#[doc(hidden)]
pub mod testing;
