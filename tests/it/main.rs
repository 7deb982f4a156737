//! hypna's integration tests: one binary (each test binary links the whole crate, so one
//! builds and links once), one module per area. Shared helpers live in the `*_support` and
//! `common` modules here, and fakes shared with the library's own tests in
//! `hypna::testing`.
//!
//! Tests that need a process to themselves (resident memory measured, process-wide
//! configuration read once) re-run this binary for just that test: see [`common::alone`].
//! Tests take turns on the machine ([`common::take_turn`]): renders beside renders, timing
//! tests beside timing tests, benchmarks and the soak alone.

// A test fails loudly: its helpers unwrap too (the library never does; see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Helpers.
mod audio_support;
mod common;
mod dream_support;
mod infer_support;
mod osc_support;

// Tests, by area.
mod audio_analysis;
mod audio_bench;
mod audio_capture;
mod audio_engine;
mod audio_file;
mod audio_restart;
mod audio_scene;
mod bad_input;
mod beatnet;
mod bench_smoke;
mod cli;
mod dream;
mod dream_errors;
mod dream_ops;
mod dream_step;
mod encode;
mod feedback;
mod fuzz;
mod generator;
mod harden;
mod infer_discovery;
mod infer_models;
mod infer_worker;
mod isf;
mod isf_scene;
mod isf_transition;
mod layers;
mod media;
mod memory;
mod midi;
mod models;
mod osc_bench;
mod osc_burst;
mod osc_e2e;
mod osc_hardening;
mod osc_peers;
mod osc_restart;
mod osc_udp;
mod overlay;
mod record;
mod reload;
mod remote;
mod remote_browser;
mod show;
mod show_timing;
mod snapshots;
mod soak;
mod timing;
mod window;
mod window_hidden;
mod window_spam;
mod worker_recovery;
