//! Running a model: loom's iterations are counted and printed, and the outcomes a model
//! calls interesting are recorded across iterations, so that a model can assert at the
//! end that loom really produced them (a model whose interesting interleavings never
//! happen proves nothing).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

/// Outcomes seen across all iterations of one model (plain std: it is bookkeeping about
/// the exploration, not part of the model).
#[derive(Default)]
pub struct Coverage {
    seen: Mutex<BTreeSet<&'static str>>,
}

impl Coverage {
    /// Records that `outcome` happened in the current iteration.
    pub fn saw(&self, outcome: &'static str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(outcome);
    }

    fn seen(&self) -> BTreeSet<&'static str> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Explores every interleaving of `model` (within `LOOM_MAX_PREEMPTIONS`), prints the
/// iteration count, and asserts that each of `expected` outcomes was seen.
pub fn explore<F>(name: &'static str, expected: &[&'static str], model: F) -> usize
where
    F: Fn(&Coverage) + Send + Sync + 'static,
{
    let iterations = Arc::new(AtomicUsize::new(0));
    let coverage = Arc::new(Coverage::default());
    {
        let iterations = iterations.clone();
        let coverage = coverage.clone();
        loom::model(move || {
            iterations.fetch_add(1, Ordering::Relaxed);
            model(&coverage);
        });
    }
    let n = iterations.load(Ordering::Relaxed);
    let seen = coverage.seen();
    println!("loom model {name}: {n} iterations; outcomes seen: {seen:?}");
    for outcome in expected {
        assert!(
            seen.contains(outcome),
            "model {name}: outcome '{outcome}' never seen in {n} iterations"
        );
    }
    n
}

/// The panic message of hooks that panic on purpose.
pub const PLANNED_PANIC: &str = "hook panics on purpose";

/// Keeps the thousands of planned hook panics (one per iteration) out of the output; every
/// other panic is reported as usual.
pub fn silence_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let planned = info.payload().downcast_ref::<&str>() == Some(&PLANNED_PANIC);
            if !planned {
                default(info);
            }
        }));
    });
}
