//! The embedder's side of the engine: value, error, context and payload types.
//!
//! dynacast never forces a value representation on its host. Everything that flows
//! through a call (arguments, results, errors, the caller's context) and what an object
//! carries (its payload) is chosen by the embedder through one [`Host`] type. Hosts that
//! have no value type of their own can use [`DynHost`](crate::DynHost).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use crate::call::{Call, Called, StaticCall};
use crate::error::Error;
use crate::object::Object;

/// The types an embedder plugs into the engine.
///
/// Implement it on a marker type (an empty struct) and use it as the `H` parameter of
/// [`Runtime`](crate::Runtime), [`Object`] and every handle.
pub trait Host: Sized + 'static {
    /// Arguments and results of method bodies.
    type Value;
    /// The host's own error type; it reaches callers unchanged inside [`Error::Host`].
    /// `Error<Self::Error>` converts from it (`impl<E> From<E> for Error<E>`), so `?` on a
    /// host error works in bodies and hooks with no `From` impl of your own.
    type Error: std::error::Error + Send + Sync + 'static;
    /// What the caller passes down to bodies and hooks (a script engine's call context,
    /// an interpreter state, `()` when nothing is needed). Bodies and hooks receive it as
    /// `&mut`, so a re-entrant call simply reborrows it.
    type Context: ?Sized;
    /// What every object carries besides its class.
    type Payload;
}

/// Result of a method body or a call.
pub type CallResult<H> = Result<<H as Host>::Value, Error<<H as Host>::Error>>;

/// The function behind a [`Body`].
pub type BodyFn<H> = dyn for<'a> Fn(Call<'a, H>) -> CallResult<H> + Send + Sync;

/// The function behind a [`StaticBody`].
pub type StaticBodyFn<H> = dyn for<'a> Fn(StaticCall<'a, H>) -> CallResult<H> + Send + Sync;

/// A virtual or non-virtual instance method body: a closure taking one [`Call`]. Cheap
/// to clone (shared).
///
/// Builders take the closure directly (`default_method(name, arity, |call| …)`); a
/// `Body` is for a body built once and shared, or built by a binding (the Lua binding
/// makes one per Lua function), and goes to the builders' `…_body` variants.
///
/// Besides the shared closure it keeps a *thin* entry point: a plain function pointer
/// (monomorphized for the closure's type) and the closure's address. A call through the
/// engine's tables then loads both from where the body is stored and calls, instead of
/// going through the trait object's vtable and working out the closure's offset in the
/// `Arc` from the vtable's alignment (two dependent loads and a few instructions fewer on
/// every static, virtual, cached and call-site call).
pub struct Body<H: Host> {
    call: ThinCall<H>,
    /// The closure inside `owner`'s allocation.
    data: *const (),
    /// Keeps the closure alive (and gives the `dyn Fn` view for `Deref`).
    owner: Arc<BodyFn<H>>,
}

/// A body's monomorphized entry point: `data` is the closure's address.
///
/// The call's parts travel as separate arguments (all but the last in registers), not as
/// one [`Call`]: a `Call` built by the caller goes through memory, which cost 30–45 % on
/// the static, virtual and call-site paths. `call_thin` assembles it, where the closure is
/// inlined. What was called is one word ([`Called`]).
pub(crate) type ThinCall<H> = for<'a> unsafe fn(
    *const (),
    &'a Object<H>,
    &'a [<H as Host>::Value],
    &'a mut <H as Host>::Context,
    Called<'a, H>,
) -> CallResult<H>;

/// The entry point of a body whose closure has type `F`.
///
/// # Safety
///
/// `data` must point to a live `F` (the closure a [`Body`] owns through its `Arc`).
unsafe fn call_thin<'a, H, F>(
    data: *const (),
    this: &'a Object<H>,
    args: &'a [H::Value],
    cx: &'a mut H::Context,
    called: Called<'a, H>,
) -> CallResult<H>
where
    H: Host,
    F: Fn(Call<'_, H>) -> CallResult<H>,
{
    // SAFETY: the caller guarantees `data` is the address of a live `F` (invariant
    // "thin body pointer": `Body::data` always points into `Body::owner`'s allocation,
    // which the `Body` keeps alive while it is borrowed for the call).
    let f = unsafe { &*data.cast::<F>() };
    f(Call::with_called(this, args, cx, called))
}

// SAFETY: `data` only ever points at the closure `owner` holds, which is `Send + Sync`
// (`BodyFn` requires both); the function pointer is plain code. So sharing or sending a
// `Body` shares or sends exactly what the `Arc<BodyFn>` alone would.
unsafe impl<H: Host> Send for Body<H> {}
// SAFETY: see `Send` above: `&Body` gives access to `&F` only, and `F: Sync`.
unsafe impl<H: Host> Sync for Body<H> {}

impl<H: Host> Body<H> {
    /// Calls the body on `this` (for a body obtained from
    /// [`Object::resolve`](crate::Object::resolve)): [`Call::method`] is `None` in it.
    pub fn call(&self, this: &Object<H>, args: &[H::Value], cx: &mut H::Context) -> CallResult<H> {
        self.invoke_for(this, args, cx, Called::NOTHING)
    }

    /// Runs the body with a prepared [`Call`] (a binding passing a call on to a shared
    /// body): the body sees the same method or class method.
    pub fn invoke(&self, call: Call<'_, H>) -> CallResult<H> {
        let called = call.called();
        let (this, args, cx) = call.into_parts();
        self.invoke_for(this, args, cx, called)
    }

    /// Runs the body: the engine's hot paths use this (one indirect call through the thin
    /// entry point) rather than the `dyn Fn` that `Deref` gives.
    #[inline(always)]
    pub(crate) fn invoke_for(
        &self,
        this: &Object<H>,
        args: &[H::Value],
        cx: &mut H::Context,
        called: Called<'_, H>,
    ) -> CallResult<H> {
        self.entry().invoke(this, args, cx, called)
    }
}

impl<H: Host> Body<H> {
    /// The body's thin entry point and closure address, copied out for a call path that
    /// picks among several entries and then makes one call (`Object::call`).
    #[inline(always)]
    pub(crate) fn entry(&self) -> Entry<'_, H> {
        Entry {
            call: self.call,
            data: self.data,
            _body: PhantomData,
        }
    }

    /// [`entry`](Self::entry) with an unbounded lifetime, for a table that stores the
    /// entries of bodies it owns next to them.
    ///
    /// # Safety
    ///
    /// The entry must only be called while this body (or a clone sharing its closure) is
    /// alive: its owner must hand it out only borrowed from where it keeps the body.
    pub(crate) unsafe fn entry_unbounded(&self) -> Entry<'static, H> {
        Entry {
            call: self.call,
            data: self.data,
            _body: PhantomData,
        }
    }
}

/// What a call path calls: a body's thin entry point with its closure's address (borrowed
/// from the [`Body`] for `'a`), or a *route*: an entry point of the engine's own, with no
/// closure, that takes the call on to a slower path (`Object::call`'s misses, slots
/// without a body). Picking an entry on every branch and calling it once, instead of
/// calling on each branch, keeps the inlined call path to one call instruction: no jumps
/// back to shared code after it and no registers spilled around several calls (about ten
/// instructions fewer on the static path, BENCHMARKS.md).
pub(crate) struct Entry<'a, H: Host> {
    call: ThinCall<H>,
    data: *const (),
    _body: PhantomData<&'a Body<H>>,
}

impl<H: Host> Clone for Entry<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Host> Copy for Entry<'_, H> {}
// SAFETY: as for `Body`: `data` only ever points at a closure a `Body` owns, which is
// `Send + Sync`, and the function pointer is plain code.
unsafe impl<H: Host> Send for Entry<'_, H> {}
// SAFETY: see `Send` above.
unsafe impl<H: Host> Sync for Entry<'_, H> {}

impl<'a, H: Host> Entry<'a, H> {
    /// The entry of a route: `route` runs in place of a body, with a null `data` (a safe
    /// function with a thin entry point's parameters, which ignores `data`).
    #[inline(always)]
    pub(crate) fn route(route: ThinCall<H>) -> Self {
        Entry {
            call: route,
            data: std::ptr::null(),
            _body: PhantomData,
        }
    }

    /// Calls the entry.
    #[inline(always)]
    pub(crate) fn invoke(
        self,
        this: &Object<H>,
        args: &[H::Value],
        cx: &mut H::Context,
        called: Called<'_, H>,
    ) -> CallResult<H> {
        // SAFETY: invariant "thin body pointer", carried over from the `Body` this entry
        // was copied from (`Body::entry`), which `'a` keeps borrowed: `data` points at the
        // closure that the body's `owner` keeps alive, and `call` was instantiated for
        // that closure's type (both are set together, only in `body`, and copied together,
        // only in `clone`). A route's entry point ignores `data`.
        unsafe { (self.call)(self.data, this, args, cx, called) }
    }
}

/// A static member's body: a closure taking one [`StaticCall`]. Cheap to clone (shared).
pub struct StaticBody<H: Host>(Arc<StaticBodyFn<H>>);

impl<H: Host> Clone for Body<H> {
    fn clone(&self) -> Self {
        // Every copy owns the closure its thin pointer reads (broken variant
        // `LeakBodyOwner`: a copy that miscounts it).
        #[cfg(dynacast_broken)]
        if crate::sync::broken::is(crate::sync::broken::Variant::LeakBodyOwner) {
            std::mem::forget(self.owner.clone());
        }
        Body {
            call: self.call,
            data: self.data,
            owner: self.owner.clone(),
        }
    }
}
/// Whether two bodies are the same code: copies of one [`Body`] (live reload's "same
/// definition" compares bodies this way; two closures with the same text are different).
pub(crate) fn same_body<H: Host>(a: &Body<H>, b: &Body<H>) -> bool {
    Arc::ptr_eq(&a.owner, &b.owner)
}

/// [`same_body`] for static bodies.
pub(crate) fn same_static_body<H: Host>(a: &StaticBody<H>, b: &StaticBody<H>) -> bool {
    Arc::ptr_eq(&a.0, &b.0)
}

impl<H: Host> Clone for StaticBody<H> {
    fn clone(&self) -> Self {
        StaticBody(self.0.clone())
    }
}

impl<H: Host> Deref for Body<H> {
    type Target = BodyFn<H>;
    #[inline]
    fn deref(&self) -> &BodyFn<H> {
        &*self.owner
    }
}
impl<H: Host> Deref for StaticBody<H> {
    type Target = StaticBodyFn<H>;
    #[inline]
    fn deref(&self) -> &StaticBodyFn<H> {
        &*self.0
    }
}

impl<H: Host> fmt::Debug for Body<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Body")
    }
}
impl<H: Host> fmt::Debug for StaticBody<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticBody")
    }
}

/// Wraps a closure as a shared [`Body`] (builders take closures directly; this is for a
/// body defined once and used in several places).
///
/// ```
/// use dynacast::{body, DynHost, Runtime, Value};
/// let rt = Runtime::<DynHost>::new();
/// let name = body::<DynHost, _>(|_| Ok(Value::from("shared")));
/// let a = rt.interface("IA").default_method_body("name", 0, name.clone()).define()?;
/// let b = rt.interface("IB").default_method_body("name", 0, name).define()?;
/// let obj = rt.new_object(&rt.class("AB").implement(&a).implement(&b).define()?, Value::Nil)?;
/// assert_eq!(obj.call(&b.method("name")?, &[], &mut ())?, Value::from("shared"));
/// # Ok::<(), dynacast::DynError>(())
/// ```
pub fn body<H, F>(f: F) -> Body<H>
where
    H: Host,
    F: Fn(Call<'_, H>) -> CallResult<H> + Send + Sync + 'static,
{
    let owner = Arc::new(f);
    Body {
        call: call_thin::<H, F>,
        data: Arc::as_ptr(&owner).cast::<()>(),
        owner,
    }
}

/// Wraps a closure as a [`StaticBody`].
pub fn static_body<H, F>(f: F) -> StaticBody<H>
where
    H: Host,
    F: Fn(StaticCall<'_, H>) -> CallResult<H> + Send + Sync + 'static,
{
    StaticBody(Arc::new(f))
}
