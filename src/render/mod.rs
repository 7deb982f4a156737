//! Everything on the GPU: the device ([`context`]), frame globals ([`globals`]), shader loading
//! ([`shader`]), the pass chain ([`chain`]), presenting ([`blit`]) and pipelined readback
//! ([`readback`]).

pub mod blit;
pub mod chain;
pub mod context;
pub mod globals;
pub mod readback;
pub mod shader;
