//! loom model checks of dynacast's concurrent paths (issue 4, rule D1–D2, §5).
//!
//! Everything here compiles only under `--cfg loom`; without it this crate is empty, so
//! `cargo test --workspace` builds it to nothing. Run the models with
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release -p loom-tests --target-dir target/loom -- --nocapture
//! ```
//!
//! and the must-fail variants (each breaks one protocol step; its model must fail) with
//! `--cfg dynacast_broken` added to `RUSTFLAGS` (and their own target dir).
//!
//! - `fixtures`: a host, a counting hook, and a small world of types per model iteration;
//! - `models`: one model per invariant, shared by the passing and the must-fail tests;
//! - `reload_models`: live reload's models (flush versus call, switch versus call);
//! - `explore`: runs a model, counts loom's iterations and the outcomes it saw.

#[cfg(loom)]
pub mod explore;
#[cfg(loom)]
pub mod fixtures;
#[cfg(loom)]
pub mod models;
#[cfg(loom)]
pub mod reload_models;
