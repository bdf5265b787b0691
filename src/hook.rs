//! The dynamic-castable hook a class may carry (.NET's `IDynamicInterfaceCastable`).
//!
//! # The hook contract
//!
//! What the engine does:
//! - [`is_interface_implemented`](DynamicCastable::is_interface_implemented) runs on
//!   **every** cast to an interface that the class does not implement in its metadata, and
//!   its answer is never cached (rule B2–B3). Casts to classes never call it.
//! - [`get_interface_implementation`](DynamicCastable::get_interface_implementation) runs
//!   when an interface method is called that the class does not implement in its metadata
//!   and whose resolution for this class is not cached yet. It is asked about the interface
//!   that *declares* the method (rule C2). A successful resolution is cached for the whole
//!   class, per method (rule D1); failures are not cached, so the next call asks again.
//! - No engine lock is held while a hook runs: a hook may cast, dispatch, or define types,
//!   even on the same object.
//! - Hook calls nest at most [`max_hook_depth`] deep on one thread (default
//!   [`DEFAULT_MAX_HOOK_DEPTH`]): a hook that casts or dispatches in a way that asks itself
//!   again without end fails with [`InvalidOperation::HookRecursion`]
//!   instead of overflowing the stack and aborting the host process. Recursion through
//!   method bodies alone (a body calling itself) is the host's own recursion, which the
//!   engine does not limit.
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
//!   call fails with `InvalidCast` (no type) or `InvalidOperation` (rule C3).

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{Error, InvalidOperation};
use crate::host::Host;
use crate::interface::InterfaceRef;
use crate::object::Object;
use crate::types::{TypeRef, TypeView};

/// A class's dynamic-castable hook. Attach it with
/// [`ClassBuilder::hook`](crate::ClassBuilder::hook); subclasses inherit it. See the
/// [module docs](self) for the contract.
///
/// Both methods are provided, so a hook writes only what it needs. The common hook answers
/// one question, "which implementation interface serves `iface`?", and is implemented
/// exactly when it has an answer: write [`get_interface_implementation`] alone and the
/// provided [`is_interface_implemented`] asks it on each cast.
///
/// ```
/// use dynacast::{body, DynError, DynHost, DynamicCastable, InterfaceRef, Object, Runtime, TypeRef, Value};
///
/// let rt = Runtime::<DynHost>::new();
/// let greet = rt.interface("IGreet").abstract_method("hello", 0).define()?;
/// let greet_impl = rt
///     .interface("IGreetImpl")
///     .base(&greet)
///     .override_base(&greet, "hello", |_| Ok(Value::from("hi")))
///     .dynamic_castable_implementation()
///     .define()?;
///
/// struct Greets(InterfaceRef<DynHost>, InterfaceRef<DynHost>);
/// impl DynamicCastable<DynHost> for Greets {
///     fn get_interface_implementation(&self, _: &Object<DynHost>, iface: &InterfaceRef<DynHost>, _: &mut ()) -> Result<Option<TypeRef<DynHost>>, DynError> {
///         Ok((*iface == self.0).then(|| self.1.as_type()))
///     }
/// }
///
/// let class = rt.class("Proxy").hook(Greets(greet.clone(), greet_impl)).define()?;
/// let obj = rt.new_object(&class, Value::Nil)?;
/// assert!(obj.is_instance_of(&greet, &mut ())?); // asked get_interface_implementation
/// assert_eq!(obj.call(&greet.method("hello")?, &[], &mut ())?, Value::from("hi"));
/// # Ok::<(), DynError>(())
/// ```
///
/// [`get_interface_implementation`]: DynamicCastable::get_interface_implementation
/// [`is_interface_implemented`]: DynamicCastable::is_interface_implemented
pub trait DynamicCastable<H: Host>: Any + Send + Sync {
    /// Whether `obj` should be treated as implementing `iface`. `throw_if_not_implemented`
    /// is `false` for [`Object::is_instance_of`] and `true` for [`Object::cast`]; with
    /// `true`, the hook may return its own error, which reaches the caller unchanged.
    /// Returning `Ok(false)` under `cast` fails the cast with [`Error::InvalidCast`].
    ///
    /// Provided: `iface` is implemented exactly when
    /// [`get_interface_implementation`](Self::get_interface_implementation) names an
    /// implementation for it. That question is asked on every cast, as this one is (casts
    /// are never cached), so a hook whose answer is costly to find should write both.
    fn is_interface_implemented(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        throw_if_not_implemented: bool,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>> {
        let _ = throw_if_not_implemented;
        Ok(self.get_interface_implementation(obj, iface, cx)?.is_some())
    }

    /// The implementation interface whose default methods serve calls through `iface` on
    /// `obj`, or `None` when there is none.
    ///
    /// Provided: `None`, for hooks that only answer casts (marker interfaces, say).
    fn get_interface_implementation(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        cx: &mut H::Context,
    ) -> Result<Option<TypeRef<H>>, Error<H::Error>> {
        let _ = (obj, iface, cx);
        Ok(None)
    }
}

/// A class's hook as the engine holds it: the shared trait object, plus a *thin* entry
/// point for [`is_interface_implemented`](DynamicCastable::is_interface_implemented)
/// (asked on every cast the metadata does not answer): a function pointer monomorphized
/// for the hook's type and the hook's address, as [`Body`](crate::Body) keeps for bodies.
/// A cast then calls it without reading the `Arc<dyn>`'s vtable for the hook's alignment
/// and working out its offset in the allocation. A hook given as an `Arc<dyn>`
/// ([`ClassBuilder::shared_hook`](crate::ClassBuilder::shared_hook)) is wrapped in
/// [`SharedHook`], a hook of a known type that calls through the trait object, so every
/// hook has a thin entry point.
///
/// Invariant **thin hook pointer**: `data` points at the hook inside `owner`'s allocation,
/// `thin` was instantiated for its type, and both are set together (only in `new`) and
/// copied together with `owner` (only in `clone`), so every copy owns the hook it reads.
pub(crate) struct Hook<H: Host> {
    thin: HookEntry<H>,
    owner: Arc<dyn DynamicCastable<H>>,
    /// What `same_as` compares: the hook the embedder gave (for a shared hook, its own
    /// `Arc`'s, not the wrapper's).
    identity: *const (),
}

/// A hook's thin entry points and the hook's address, copied where a cast reads them
/// (`ClassData::hook_entry`).
pub(crate) struct HookEntry<H: Host> {
    thin: IsImplementedThin<H>,
    /// The whole of a cast's hook step (B2–B4): asks with `throw = true` and turns "no"
    /// into the cast's error inside the call, so the inlined cast keeps nothing live
    /// across it (which would cost its caller's loop a register).
    cast: CastThin<H>,
    data: *const (),
}

/// [`HookEntry::cast`]: `data` is the hook's address.
type CastThin<H> = unsafe fn(
    *const (),
    &Object<H>,
    &InterfaceRef<H>,
    &mut <H as Host>::Context,
) -> Result<(), Error<<H as Host>::Error>>;

/// The cast entry point for a hook of type `T`.
///
/// # Safety
///
/// As [`is_implemented_thin`]: `data` must point to a live `T`.
unsafe fn cast_thin<H: Host, T: DynamicCastable<H>>(
    data: *const (),
    obj: &Object<H>,
    iface: &InterfaceRef<H>,
    cx: &mut H::Context,
) -> Result<(), Error<H::Error>> {
    // SAFETY: the caller's contract (invariant "thin hook pointer").
    let hook = unsafe { &*data.cast::<T>() };
    match hook.is_interface_implemented(obj, iface, true, cx) {
        Ok(true) => Ok(()),
        Ok(false) => Err(obj.invalid_cast(TypeView::Interface(iface))),
        Err(e) => Err(e),
    }
}

impl<H: Host> Clone for HookEntry<H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Host> Copy for HookEntry<H> {}
// SAFETY: as for `Hook`: `data` only points at a hook, which is `Send + Sync`.
unsafe impl<H: Host> Send for HookEntry<H> {}
// SAFETY: see `Send`.
unsafe impl<H: Host> Sync for HookEntry<H> {}

impl<H: Host> HookEntry<H> {
    /// The entry of a class without a hook: answers "no" (never called: a class's hook
    /// gate is closed when it has no hook).
    pub(crate) fn none() -> Self {
        HookEntry {
            thin: never_implemented::<H>,
            cast: never_castable::<H>,
            data: std::ptr::null(),
        }
    }

    /// Calls the hook's `is_interface_implemented`.
    ///
    /// # Safety
    ///
    /// The hook this entry was copied from ([`Hook::entry`]) must be alive (invariant
    /// "thin hook pointer"; a class keeps its hook while it is borrowed).
    #[inline(always)]
    pub(crate) unsafe fn is_interface_implemented(
        self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        throw_if_not_implemented: bool,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>> {
        // SAFETY: the caller's contract: `data` points at the live hook `thin` was
        // instantiated for.
        unsafe { (self.thin)(self.data, obj, iface, throw_if_not_implemented, cx) }
    }

    /// A cast's hook step: `Ok` when the hook answers yes, the cast's error when it answers
    /// no, the hook's own error as it is.
    ///
    /// # Safety
    ///
    /// As [`is_interface_implemented`](Self::is_interface_implemented).
    #[inline(always)]
    pub(crate) unsafe fn cast(
        self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        cx: &mut H::Context,
    ) -> Result<(), Error<H::Error>> {
        // SAFETY: the caller's contract.
        unsafe { (self.cast)(self.data, obj, iface, cx) }
    }
}

/// [`HookEntry::none`]'s cast entry point.
fn never_castable<H: Host>(
    _: *const (),
    obj: &Object<H>,
    iface: &InterfaceRef<H>,
    _: &mut H::Context,
) -> Result<(), Error<H::Error>> {
    Err(obj.invalid_cast(TypeView::Interface(iface)))
}

/// [`HookEntry::none`]'s entry point.
fn never_implemented<H: Host>(
    _: *const (),
    _: &Object<H>,
    _: &InterfaceRef<H>,
    _: bool,
    _: &mut H::Context,
) -> Result<bool, Error<H::Error>> {
    Ok(false)
}

/// A hook given as a trait object ([`ClassBuilder::shared_hook`](crate::ClassBuilder::shared_hook)),
/// as a hook of a known type: its thin entry point calls through the trait object.
struct SharedHook<H: Host>(Arc<dyn DynamicCastable<H>>);

impl<H: Host> DynamicCastable<H> for SharedHook<H> {
    fn is_interface_implemented(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        throw_if_not_implemented: bool,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>> {
        self.0
            .is_interface_implemented(obj, iface, throw_if_not_implemented, cx)
    }

    fn get_interface_implementation(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        cx: &mut H::Context,
    ) -> Result<Option<TypeRef<H>>, Error<H::Error>> {
        self.0.get_interface_implementation(obj, iface, cx)
    }
}

/// The thin entry point of `is_interface_implemented`: `data` is the hook's address.
type IsImplementedThin<H> = unsafe fn(
    *const (),
    &Object<H>,
    &InterfaceRef<H>,
    bool,
    &mut <H as Host>::Context,
) -> Result<bool, Error<<H as Host>::Error>>;

/// The thin entry point for a hook of type `T`.
///
/// # Safety
///
/// `data` must point to a live `T` (the hook a [`Hook`] owns through its `Arc`).
unsafe fn is_implemented_thin<H: Host, T: DynamicCastable<H>>(
    data: *const (),
    obj: &Object<H>,
    iface: &InterfaceRef<H>,
    throw_if_not_implemented: bool,
    cx: &mut H::Context,
) -> Result<bool, Error<H::Error>> {
    // SAFETY: invariant "thin hook pointer": the caller passes `Hook::thin`'s `data`,
    // which points at the `T` that the `Hook`'s `owner` keeps alive while it is borrowed.
    let hook = unsafe { &*data.cast::<T>() };
    hook.is_interface_implemented(obj, iface, throw_if_not_implemented, cx)
}

// SAFETY: `data` only points at the hook `owner` holds, which is `Send + Sync`
// (`DynamicCastable` requires both); the function pointer is plain code.
unsafe impl<H: Host> Send for Hook<H> {}
// SAFETY: see `Send` above: `&Hook` gives access to `&T` only, and `T: Sync`.
unsafe impl<H: Host> Sync for Hook<H> {}

impl<H: Host> Hook<H> {
    /// A hook of a known type: calls get the thin entry point.
    pub(crate) fn new<T: DynamicCastable<H>>(hook: T) -> Self {
        let owner = Arc::new(hook);
        let data = Arc::as_ptr(&owner).cast::<()>();
        Hook {
            thin: HookEntry {
                thin: is_implemented_thin::<H, T>,
                cast: cast_thin::<H, T>,
                data,
            },
            owner,
            identity: data,
        }
    }

    /// A hook shared as a trait object: wrapped, so it has a thin entry point too.
    pub(crate) fn shared(hook: Arc<dyn DynamicCastable<H>>) -> Self {
        let identity = Arc::as_ptr(&hook).cast::<()>();
        Hook {
            identity,
            ..Hook::new(SharedHook(hook))
        }
    }

    /// Whether `self` and `other` are copies of one hook (live reload's "same definition").
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        std::ptr::eq(self.identity, other.identity)
    }

    /// The hook the embedder gave, if it is a `T` (a binding finds its own hooks so).
    #[cfg(feature = "lua")]
    pub(crate) fn downcast_ref<T: DynamicCastable<H>>(&self) -> Option<&T> {
        let owner: &dyn Any = &*self.owner;
        match owner.downcast_ref::<SharedHook<H>>() {
            Some(shared) => {
                let given: &dyn Any = &*shared.0;
                given.downcast_ref::<T>()
            }
            None => owner.downcast_ref::<T>(),
        }
    }

    /// The thin entry point, for a class to keep next to its hook gate.
    pub(crate) fn entry(&self) -> HookEntry<H> {
        self.thin
    }

    /// [`DynamicCastable::is_interface_implemented`], through the thin entry point.
    #[inline(always)]
    pub(crate) fn is_interface_implemented(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        throw_if_not_implemented: bool,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>> {
        // SAFETY: invariant "thin hook pointer" (see the type's docs): `data` points at the
        // hook `self.owner` keeps alive while `self` is borrowed.
        unsafe {
            self.thin
                .is_interface_implemented(obj, iface, throw_if_not_implemented, cx)
        }
    }

    /// [`DynamicCastable::get_interface_implementation`] (asked once per class and method:
    /// through the trait object).
    pub(crate) fn get_interface_implementation(
        &self,
        obj: &Object<H>,
        iface: &InterfaceRef<H>,
        cx: &mut H::Context,
    ) -> Result<Option<TypeRef<H>>, Error<H::Error>> {
        self.owner.get_interface_implementation(obj, iface, cx)
    }
}

impl<H: Host> Clone for Hook<H> {
    fn clone(&self) -> Self {
        // Every copy owns the hook its thin pointer reads (broken variant `LeakHookOwner`:
        // a copy that miscounts it).
        #[cfg(dynacast_broken)]
        if crate::sync::broken::is(crate::sync::broken::Variant::LeakHookOwner) {
            std::mem::forget(self.owner.clone());
        }
        Hook {
            thin: self.thin,
            owner: self.owner.clone(),
            identity: self.identity,
        }
    }
}

/// The default of [`max_hook_depth`]: deep enough for any sane nesting of hooks that cast
/// or dispatch, shallow enough that even a debug build's frames (a few KiB per level) stay
/// well inside a 2 MiB thread stack.
pub const DEFAULT_MAX_HOOK_DEPTH: usize = 128;

static MAX_HOOK_DEPTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_HOOK_DEPTH);

#[cfg(not(loom))]
std::thread_local! {
    /// Hook calls under way on this thread.
    static HOOK_DEPTH: Cell<usize> = const { Cell::new(0) };
}
// loom runs its threads on one OS thread, so std's thread-locals would be shared between
// them; its own `thread_local!` takes no `const` initializer.
#[cfg(loom)]
loom::thread_local! {
    static HOOK_DEPTH: Cell<usize> = Cell::new(0);
}

/// How deep hook calls may nest on one thread before the engine refuses the next one.
#[inline] // read on every hook call: without it, an out-of-crate caller pays a call
pub fn max_hook_depth() -> usize {
    MAX_HOOK_DEPTH.load(Ordering::Relaxed)
}

/// Sets [`max_hook_depth`] for the whole process (hosts with big stacks or deep, legitimate
/// hook nesting may raise it).
pub fn set_max_hook_depth(depth: usize) {
    MAX_HOOK_DEPTH.store(depth, Ordering::Relaxed);
}

/// Runs one hook call, counting it in this thread's hook nesting; refuses it past the limit.
/// The count is restored by a guard, so a panicking hook leaves it right.
#[inline]
pub(crate) fn nested<H: Host, R>(
    type_name: &std::sync::Arc<str>,
    iface: &InterfaceRef<H>,
    call: impl FnOnce() -> Result<R, Error<H::Error>>,
) -> Result<R, Error<H::Error>> {
    // Leaving takes the count back down by one (hook calls nest LIFO on one thread, and
    // panics unwind LIFO too). A decrement rather than a store of the count found on
    // entry: nothing stays live in a register across the hook's call, which in an inlined
    // cast cost the caller's loop a spilled register.
    struct Leave;
    impl Drop for Leave {
        #[inline]
        fn drop(&mut self) {
            // try_with: a hook may run from another thread-local's destructor.
            let _ = HOOK_DEPTH.try_with(|d| d.set(d.get().wrapping_sub(1)));
        }
    }
    let depth = HOOK_DEPTH
        .try_with(|d| {
            let depth = d.get().wrapping_add(1);
            d.set(depth);
            depth
        })
        .unwrap_or(1);
    let _leave = Leave;
    if depth > max_hook_depth() {
        return Err(too_deep(type_name, iface));
    }
    call()
}

#[cold]
fn too_deep<H: Host>(type_name: &std::sync::Arc<str>, iface: &InterfaceRef<H>) -> Error<H::Error> {
    InvalidOperation::HookRecursion {
        type_name: type_name.clone(),
        interface: iface.data().name.clone(),
        limit: max_hook_depth(),
    }
    .into_error()
}
