//! The dynamic-castable hook a class may carry (.NET's `IDynamicInterfaceCastable`).
//!
//! # The hook contract
//!
//! What the engine does:
//! - [`is_interface_implemented`](DynamicCastable::is_interface_implemented) runs on
//!   **every** cast to an interface that the class does not implement in its metadata, and
//!   its answer is never cached (SPEC B2–B3). Casts to classes never call it.
//! - [`get_interface_implementation`](DynamicCastable::get_interface_implementation) runs
//!   when an interface method is called that the class does not implement in its metadata
//!   and whose resolution for this class is not cached yet. It is asked about the interface
//!   that *declares* the method (SPEC C2). A successful resolution is cached for the whole
//!   class, per method (SPEC D1); failures are not cached, so the next call asks again.
//! - No engine lock is held while a hook runs: a hook may cast, dispatch, or define types,
//!   even on the same object. An unbounded recursion (a hook that dispatches the very method
//!   it is resolving, forever) overflows the thread's stack like any unbounded recursion in
//!   Rust; the engine does not guess a depth limit for the host.
//! - A hook that panics publishes nothing; the panic reaches the caller and every cache
//!   stays as it was.
//!
//! What the hook author promises:
//! - `get_interface_implementation` answers the same for every instance of a class: the
//!   engine calls it for one instance and serves every instance of the class with the
//!   answer. When several threads resolve the same method at once, each may call the hook;
//!   exactly one answer is published and every caller, then and later, gets that one.
//! - The returned type is an interface of the same runtime, marked
//!   dynamic-castable-implementation, assignable to the requested interface; otherwise the
//!   call fails with `InvalidCast` (no type) or `InvalidOperation` (SPEC C3).

use crate::error::Error;
use crate::host::Host;
use crate::interface::InterfaceRef;
use crate::object::Object;
use crate::types::TypeRef;

/// A class's dynamic-castable hook. Attach it with
/// [`ClassBuilder::hook`](crate::ClassBuilder::hook); subclasses inherit it. See the
/// [module docs](self) for the contract.
pub trait DynamicCastable<H: Host>: Send + Sync + 'static {
    /// Whether `obj` should be treated as implementing `iface`. `throw_if_not_implemented`
    /// is `false` for [`Object::is_instance_of`] and `true` for [`Object::cast`]; with
    /// `true`, the hook may return its own error, which reaches the caller unchanged.
    /// Returning `Ok(false)` under `cast` fails the cast with [`Error::InvalidCast`].
    fn is_interface_implemented(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        throw_if_not_implemented: bool,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>>;

    /// The implementation interface whose default methods serve calls through `iface` on
    /// `obj`, or `None` when there is none.
    fn get_interface_implementation(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        cx: &mut H::Context,
    ) -> Result<Option<TypeRef<H>>, Error<H::Error>>;
}
