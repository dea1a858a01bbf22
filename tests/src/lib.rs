//! Integration tests of patchpanel live in `tests/`; this library holds what they share
//! and compiles the README's Rust examples as doctests, so the README cannot drift.
#![doc = include_str!("../../README.md")]

pub mod fixture;
pub mod futures;
pub mod recorder;
