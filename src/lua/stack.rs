//! The Rust stack guard of Lua crossings.
//!
//! A call that crosses Rust (a hook, a body run from Rust, an embedder's function calling
//! the engine) takes Rust stack on each nested crossing: about 16 KiB in a debug build,
//! about 3.4 KiB optimized. Lua bounds its own nesting by levels ("C stack overflow" at
//! about 200), but a debug build on a 2 MiB thread runs out of Rust stack (an abort, not an
//! error) near 125. So the binding measures the stack in bytes: the outermost crossing on a
//! thread notes the address of a local, and each nested one compares its own local's
//! distance from it with the thread's budget ([`set_stack_budget`]); past it, the crossing
//! is refused with a `StackLimit` error before any Lua code runs.

use std::cell::Cell;

use super::error::BindingError;

/// The budget of a thread that never set one: 1 MiB, half of a Rust thread's default 2 MiB
/// stack (the rest is the caller's, and the engine's frames below the outermost crossing).
pub const DEFAULT_STACK_BUDGET: usize = 1 << 20;

thread_local! {
    /// The address of a local of the outermost crossing on this thread (0: none running).
    static OUTERMOST: Cell<usize> = const { Cell::new(0) };
    static BUDGET: Cell<usize> = const { Cell::new(DEFAULT_STACK_BUDGET) };
}

/// Sets how many bytes of Rust stack calls that cross Rust may take on the current thread,
/// counted from the outermost crossing (default [`DEFAULT_STACK_BUDGET`]); a nested
/// crossing past it fails with a `dynacast.Error` of kind `StackLimit`. Returns the previous
/// budget. Per thread, as stacks are: a thread spawned with a larger stack may allow more,
/// e.g. three quarters of its size.
///
/// ```
/// use dynacast::lua::{set_stack_budget, DEFAULT_STACK_BUDGET};
///
/// let big = std::thread::Builder::new().stack_size(16 << 20).spawn(|| {
///     let previous = set_stack_budget(12 << 20);
///     assert_eq!(previous, DEFAULT_STACK_BUDGET);
///     // ... run scripts whose calls cross Rust deeply ...
/// })?;
/// big.join().expect("the thread ran");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_stack_budget(bytes: usize) -> usize {
    BUDGET.with(|b| b.replace(bytes))
}

/// A crossing in progress (see [`enter`]).
pub(crate) struct Crossing {
    outermost: bool,
}

impl Drop for Crossing {
    fn drop(&mut self) {
        if self.outermost {
            OUTERMOST.with(|o| o.set(0));
        }
    }
}

/// Enters a crossing of Rust into Lua, or refuses it when the stack taken since the
/// outermost one is past the thread's budget.
// Not inlined: the local whose address is taken lives in this frame, at the caller's depth.
#[inline(never)]
pub(crate) fn enter() -> mlua::Result<Crossing> {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let outermost = OUTERMOST.with(Cell::get);
    if outermost == 0 {
        OUTERMOST.with(|o| o.set(here));
        return Ok(Crossing { outermost: true });
    }
    // Stacks grow down on every platform Lua runs on; the distance is taken either way.
    let used = outermost.abs_diff(here);
    let budget = BUDGET.with(Cell::get);
    if used > budget {
        return Err(mlua::Error::external(BindingError {
            kind: "StackLimit",
            message: format!(
                "calls that cross Rust nest too deep: they take {used} bytes of Rust stack, past this thread's budget of {budget} (dynacast::lua::set_stack_budget)"
            ),
        }));
    }
    Ok(Crossing { outermost: false })
}
