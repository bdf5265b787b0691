//! What a method body receives: one [`Call`] with the object, the arguments, the
//! caller's context and what was called ([`StaticCall`] for a static member's body).

use std::marker::PhantomData;
use std::sync::Arc;

use crate::class::ClassMethodRef;
use crate::error::{Error, InvalidOperation};
use crate::host::Host;
use crate::interface::{InterfaceRef, MethodRef};
use crate::object::Object;
use crate::runtime::Runtime;

/// One call of a method body: the object it runs on, its arguments, the caller's context
/// and the method that was called (an interface method, [`method`](Self::method), or a
/// class's virtual method, [`class_method`](Self::class_method)).
///
/// A body takes a single `Call`, so a closure passed to a builder needs no annotations:
/// the builder fixes the host, and every accessor has a concrete type. A body reaches
/// its interface, its method and its runtime through the call instead of capturing them
/// (a captured handle would keep the definitions alive through their own bodies).
///
/// ```
/// use dynacast::{DynHost, Runtime, Value};
/// let rt = Runtime::<DynHost>::new();
/// let shape = rt
///     .interface("IShape")
///     .default_method("describe", 1, |call| {
///         let scale = call.arg(0)?.as_int().unwrap_or(1);
///         let name = call.method().map_or("?", |m| m.name());
///         let iface = call.interface().map_or("?", |i| i.name());
///         Ok(Value::from(format!("{iface}.{name} x{scale} of {}", call.payload())))
///     })
///     .define()?;
/// let square = rt.class("Square").implement(&shape).define()?;
/// let obj = rt.new_object(&square, Value::Int(3))?;
/// let out = obj.call(&shape.method("describe")?, &[Value::Int(2)], &mut ())?;
/// assert_eq!(out, Value::from("IShape.describe x2 of 3"));
/// # Ok::<(), dynacast::DynError>(())
/// ```
pub struct Call<'a, H: Host> {
    this: &'a Object<H>,
    args: &'a [H::Value],
    cx: &'a mut H::Context,
    called: Called<'a, H>,
}

/// What the caller called, in one word: a body's thin entry point takes it in a register
/// (an enum of the two references takes two words, and the second extra stack argument
/// cost 5–15 % on every call path; a second entry point per kind cost about 0.1 of a
/// direct call on the static or the virtual path: BENCHMARKS.md, "This session").
///
/// The word is 0 (nothing), the address of a [`MethodRef`], or the address of a
/// [`ClassMethodRef`] with bit 0 set. Invariant **called word**: a word is only made from a
/// reference of the kind its tag says, by [`interface`](Self::interface) or
/// [`class`](Self::class), and `'a` keeps that referent borrowed; both types hold an `Arc`,
/// so their addresses are at least 8-aligned and bit 0 is free for the tag. The address's
/// provenance is exposed when the word is made and taken back when it is read (a `usize`
/// keeps `Call` `Send` and `Sync` as before).
pub(crate) struct Called<'a, H: Host> {
    word: usize,
    _refs: PhantomData<(&'a MethodRef<H>, &'a ClassMethodRef<H>)>,
}

impl<H: Host> Clone for Called<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Host> Copy for Called<'_, H> {}

/// Bit 0 of a `Called` word: the address is a `ClassMethodRef`'s.
const CLASS_TAG: usize = 1;

impl<'a, H: Host> Called<'a, H> {
    /// A body run directly ([`Body::call`](crate::Body::call)).
    pub(crate) const NOTHING: Self = Called {
        word: 0,
        _refs: PhantomData,
    };

    /// An interface method ([`Object::call`], a call site, a call by name).
    #[inline(always)]
    pub(crate) fn interface(method: &'a MethodRef<H>) -> Self {
        Called {
            word: std::ptr::from_ref(method).expose_provenance(),
            _refs: PhantomData,
        }
    }

    /// A class's virtual method ([`Object::call_virtual`]).
    #[inline(always)]
    pub(crate) fn class(method: &'a ClassMethodRef<H>) -> Self {
        #[cfg(dynacast_broken)]
        if crate::sync::broken::is(crate::sync::broken::Variant::CalledTagLost) {
            return Self::NOTHING;
        }
        Called {
            word: std::ptr::from_ref(method).expose_provenance() | CLASS_TAG,
            _refs: PhantomData,
        }
    }

    /// The interface method, if that is what was called.
    #[inline]
    pub(crate) fn method(self) -> Option<&'a MethodRef<H>> {
        if self.word == 0 || self.word & CLASS_TAG != 0 {
            return None;
        }
        // SAFETY: invariant "called word": a non-zero word without the tag was made by
        // `interface` from a `&'a MethodRef<H>`, which `'a` keeps alive.
        Some(unsafe { &*std::ptr::with_exposed_provenance::<MethodRef<H>>(self.word) })
    }

    /// The class method, if that is what was called.
    #[inline]
    pub(crate) fn class_method(self) -> Option<&'a ClassMethodRef<H>> {
        if self.word & CLASS_TAG == 0 {
            return None;
        }
        // SAFETY: invariant "called word": a tagged word was made by `class` from a
        // `&'a ClassMethodRef<H>` (tag bit cleared here), which `'a` keeps alive.
        Some(unsafe {
            &*std::ptr::with_exposed_provenance::<ClassMethodRef<H>>(self.word & !CLASS_TAG)
        })
    }
}

impl<'a, H: Host> Call<'a, H> {
    /// A call of a body on `this` made outside the engine's dispatch (for a [`Body`]
    /// obtained from [`Object::resolve`](crate::Object::resolve)): it knows no method.
    ///
    /// [`Body`]: crate::Body
    pub fn new(this: &'a Object<H>, args: &'a [H::Value], cx: &'a mut H::Context) -> Self {
        Self::with_called(this, args, cx, Called::NOTHING)
    }

    #[inline(always)]
    pub(crate) fn with_called(
        this: &'a Object<H>,
        args: &'a [H::Value],
        cx: &'a mut H::Context,
        called: Called<'a, H>,
    ) -> Self {
        Call {
            this,
            args,
            cx,
            called,
        }
    }

    /// What the caller called (for passing a call on to another body).
    pub(crate) fn called(&self) -> Called<'a, H> {
        self.called
    }

    /// The object the method runs on (always the original object, never a proxy).
    pub fn this(&self) -> &'a Object<H> {
        self.this
    }

    /// The object's payload.
    pub fn payload(&self) -> &'a H::Payload {
        self.this.payload()
    }

    /// All arguments (their number is the method's arity: the engine checked it).
    pub fn args(&self) -> &'a [H::Value] {
        self.args
    }

    /// Argument `index`, or an [`InvalidOperation::MissingArgument`] error naming the
    /// method when the call has fewer (the body reads more than its declared arity).
    pub fn arg(&self, index: usize) -> Result<&'a H::Value, Error<H::Error>> {
        arg::<H>(self.args, index, || self.method_name())
    }

    /// The caller's context, to pass on to nested calls.
    pub fn cx(&mut self) -> &mut H::Context {
        self.cx
    }

    /// The interface method the caller called, when the call went through one
    /// ([`Object::call`], a call site, [`Object::call_by_name`] resolving to an interface
    /// method); `None` for [`Object::call_virtual`] (see
    /// [`class_method`](Self::class_method)) and a [`Body`](crate::Body) run directly. For a
    /// default body reached through a hook this is the *requested* method; the body itself
    /// belongs to the implementation interface the hook returned.
    pub fn method(&self) -> Option<&'a MethodRef<H>> {
        self.called.method()
    }

    /// The class's virtual method the caller called with [`Object::call_virtual`] (or
    /// [`Object::call_by_name`] resolving to one), as the caller named it: for an override
    /// running on a subclass's object this is the method of the class the caller looked
    /// it up on. `None` for calls through an interface (see [`method`](Self::method)) and
    /// a [`Body`](crate::Body) run directly.
    pub fn class_method(&self) -> Option<&'a ClassMethodRef<H>> {
        self.called.class_method()
    }

    /// The interface of [`method`](Self::method).
    pub fn interface(&self) -> Option<&'a InterfaceRef<H>> {
        self.method().map(MethodRef::interface)
    }

    /// The runtime the object's class belongs to. Classes keep only a weak handle (no
    /// cycle through their own bodies), so this fails with
    /// [`InvalidOperation::RuntimeDropped`] once every [`Runtime`] handle is gone.
    pub fn runtime(&self) -> Result<Runtime<H>, Error<H::Error>> {
        self.this.class().runtime()
    }

    /// The object, the arguments and the context, for bodies that want all three at once.
    pub fn into_parts(self) -> (&'a Object<H>, &'a [H::Value], &'a mut H::Context) {
        (self.this, self.args, self.cx)
    }

    fn method_name(&self) -> Arc<str> {
        if let Some(m) = self.called.method() {
            return qualified_name(m);
        }
        match self.called.class_method() {
            Some(m) => Arc::from(format!("{}.{}", m.class().name(), m.name())),
            None => Arc::from(format!("a method body of '{}'", self.this.class().name())),
        }
    }
}

/// One call of a static member's body: its arguments, the caller's context and the
/// member that was called (there is no object).
///
/// Like [`Call`], it lets a body reach its interface and runtime without capturing them,
/// e.g. a factory that makes objects:
///
/// ```
/// use dynacast::{DynHost, HostError, Runtime, Value};
/// let rt = Runtime::<DynHost>::new();
/// rt.class("Point").define()?;
/// let points = rt
///     .interface("Points")
///     .static_method("origin", 0, |call| {
///         let rt = call.runtime()?;
///         let class = rt.lookup("Point").and_then(|t| t.as_class().cloned());
///         let class = class.ok_or_else(|| HostError::new("no class 'Point'"))?;
///         Ok(Value::Object(rt.new_object(&class, Value::Int(0))?))
///     })
///     .define()?;
/// let cx = &mut ();
/// let made = points.method("origin")?.call_static(&[], cx)?;
/// assert_eq!(made.as_object().map(|o| o.class().name()), Some("Point"));
/// # Ok::<(), dynacast::DynError>(())
/// ```
pub struct StaticCall<'a, H: Host> {
    method: &'a MethodRef<H>,
    args: &'a [H::Value],
    cx: &'a mut H::Context,
}

impl<'a, H: Host> StaticCall<'a, H> {
    /// A call of `method`'s static body with `args`; what
    /// [`MethodRef::call_static`](crate::MethodRef::call_static) passes, after checking
    /// the arity.
    pub fn new(method: &'a MethodRef<H>, args: &'a [H::Value], cx: &'a mut H::Context) -> Self {
        StaticCall { method, args, cx }
    }

    /// All arguments (their number is the member's arity: the engine checked it).
    pub fn args(&self) -> &'a [H::Value] {
        self.args
    }

    /// Argument `index`, or an [`InvalidOperation::MissingArgument`] error naming the
    /// member when the call has fewer.
    pub fn arg(&self, index: usize) -> Result<&'a H::Value, Error<H::Error>> {
        arg::<H>(self.args, index, || qualified_name(self.method))
    }

    /// The caller's context, to pass on to nested calls.
    pub fn cx(&mut self) -> &mut H::Context {
        self.cx
    }

    /// The static member that was called.
    pub fn method(&self) -> &'a MethodRef<H> {
        self.method
    }

    /// The interface that declares it.
    pub fn interface(&self) -> &'a InterfaceRef<H> {
        self.method.interface()
    }

    /// The runtime the interface belongs to; fails with
    /// [`InvalidOperation::RuntimeDropped`] once every [`Runtime`] handle is gone.
    pub fn runtime(&self) -> Result<Runtime<H>, Error<H::Error>> {
        self.method.interface().runtime()
    }

    /// The arguments and the context, for bodies that want both at once.
    pub fn into_parts(self) -> (&'a [H::Value], &'a mut H::Context) {
        (self.args, self.cx)
    }
}

/// `args[index]`, or the error naming the method (`name` is built only on failure).
fn arg<H: Host>(
    args: &[H::Value],
    index: usize,
    name: impl FnOnce() -> Arc<str>,
) -> Result<&H::Value, Error<H::Error>> {
    args.get(index).ok_or_else(|| {
        Error::InvalidOperation(InvalidOperation::MissingArgument {
            method: name(),
            index,
            count: args.len(),
        })
    })
}

/// `Interface.method`, as errors name a method.
fn qualified_name<H: Host>(m: &MethodRef<H>) -> Arc<str> {
    Arc::from(format!("{}.{}", m.interface().name(), m.name()))
}
