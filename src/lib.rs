//! hypna: a realtime runtime for generative art installations.
//!
//! Scenes (TOML) name WGSL passes and parameters; the runtime renders them every frame to a
//! window or headless, deterministically when asked. See `docs/` for the file formats.

pub mod app;
pub mod audio;
pub mod bench;
pub mod clock;
pub mod diag;
pub mod infer;
pub mod install;
pub mod isf;
pub mod model;
pub mod osc;
pub mod overlay;
pub mod params;
pub mod record;
pub mod reload;
pub mod render;
mod restart;
pub mod runtime;
pub mod scene;
pub mod settings;
pub mod show;
