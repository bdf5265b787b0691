//! The dispatch path, top to bottom: calling an interface method on an object. Its steps
//! and rules (C1–D3) are in the rules chapter, `crate::rules`, section Dispatch.

use std::ops::Deref;

use crate::call::{Called, StaticCall};
use crate::cast::foreign_type;
use crate::class::{ClassData, ClassMethodRef, SlotImpl};
use crate::default_methods::{
    most_specific_default, most_specific_default_indexed, DefaultResolution, SCANNED_BASES,
};
use crate::dispatch_cache::{Hit, Resolved};
use crate::error::{Error, InvalidOperation};
use crate::host::{Body, CallResult, Entry, Host};
use crate::interface::{InterfaceRef, MemberKind, MethodRef};
use crate::object::Object;
use crate::types::{interface_assignable, TypeRef};

/// A resolved body: borrowed from the class's tables (the usual case) or owned (only when
/// the per-type cache is full and could not store it).
pub(crate) enum Target<'a, H: Host> {
    Borrowed(&'a Body<H>),
    Owned(Body<H>),
}

impl<H: Host> Target<'_, H> {
    /// The same body, owned (for a class held only for the call: live reload).
    fn into_owned(self) -> Target<'static, H> {
        match self {
            Target::Borrowed(b) => Target::Owned(b.clone()),
            Target::Owned(b) => Target::Owned(b),
        }
    }
}

impl<H: Host> Deref for Target<'_, H> {
    type Target = Body<H>;
    fn deref(&self) -> &Body<H> {
        match self {
            Target::Borrowed(b) => b,
            Target::Owned(b) => b,
        }
    }
}

impl<H: Host> Object<H> {
    /// Calls interface method `method` on this object with `args`.
    ///
    /// ```
    /// use dynacast::{body, DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let greet = rt
    ///     .interface("IGreet")
    ///     .default_method("hello", 0, |_| Ok(Value::from("hello")))
    ///     .define()?;
    /// let class = rt.class("Greeter").implement(&greet).define()?;
    /// let obj = rt.new_object(&class, Value::Nil)?;
    /// assert_eq!(obj.call(&greet.method("hello")?, &[], &mut ())?, Value::from("hello"));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    #[inline(always)]
    pub fn call(
        &self,
        method: &MethodRef<H>,
        args: &[H::Value],
        cx: &mut H::Context,
    ) -> CallResult<H> {
        // Inlined into the caller: the static case (C1) and a cached resolution (D1) are a
        // few loads and the body's call. Every branch picks an entry and one call runs it
        // (see `Entry`); the rest is out of line, behind routes. Arity and kind come from
        // the reference itself (one compare), not from the declaration.
        let entry = if method.virtual_arity == args.len() {
            // A class taken over (live reload) has its fast paths closed: both checks miss
            // and the route follows the object's new class.
            self.own_class_data().fast_entry(method)
        } else {
            Entry::route(call_other_route::<H>)
        };
        entry.invoke(self, args, cx, Called::interface(method))
    }

    /// A virtual call neither the primary interface nor the cache's home slot served:
    /// another exactly implemented interface, the rest of the cache's probe sequence,
    /// variance matches, static-slot errors and the hook path.
    #[inline(never)]
    fn call_beyond_static(
        &self,
        method: &MethodRef<H>,
        args: &[H::Value],
        cx: &mut H::Context,
    ) -> CallResult<H> {
        // Only a helper or static member called with `usize::MAX` (zero-sized) arguments
        // matches the sentinel of `virtual_arity` without being virtual.
        if !method.is_virtual() {
            return self.call_other(method, args, cx);
        }
        if let Some(class) = self.direct_class() {
            if let Some(body) = class.secondary_static_body(method.key) {
                return body.invoke_for(self, args, cx, Called::interface(method));
            }
        }
        // The rest of the cache's probe sequence before the metadata's variance search:
        // a hit implies the metadata does not implement the interface (see above).
        if let Some(cache) = &self.class_data().dispatch_cache {
            if let Some(hit) = cache.get(method.key) {
                return hit
                    .body
                    .invoke_for(self, args, cx, Called::interface(method));
            }
        }
        let target = self.resolve_target(method, cx)?;
        target.invoke_for(self, args, cx, Called::interface(method))
    }

    /// Non-virtual members and argument-count errors.
    #[inline(never)]
    fn call_other(
        &self,
        method: &MethodRef<H>,
        args: &[H::Value],
        cx: &mut H::Context,
    ) -> CallResult<H> {
        method.check_arity(args.len())?;
        self.check_same_runtime(method)?;
        match &method.decl().kind {
            MemberKind::Virtual(_) => {
                let target = self.resolve_target(method, cx)?;
                target.invoke_for(self, args, cx, Called::interface(method))
            }
            MemberKind::Helper(body) => body.invoke_for(self, args, cx, Called::interface(method)),
            MemberKind::Static(body) => body(StaticCall::new(method, args, cx)),
        }
    }

    /// The body a call of `method` on this object runs, without running it (for embedders
    /// that keep their own caches). Same rules, hook calls and caching as [`Object::call`].
    pub fn resolve(
        &self,
        method: &MethodRef<H>,
        cx: &mut H::Context,
    ) -> Result<Body<H>, Error<H::Error>> {
        self.check_same_runtime(method)?;
        match &method.decl().kind {
            MemberKind::Virtual(_) => Ok(self.resolve_target(method, cx)?.clone()),
            MemberKind::Helper(body) => Ok(body.clone()),
            MemberKind::Static(_) => Err(Error::MissingMember {
                type_name: method.iface.data().name.clone(),
                member: method.qualified_name(),
            }),
        }
    }

    /// Calls virtual method `method` of a class on this object (an instance of that class
    /// or a subclass): the most derived override runs.
    #[inline(always)]
    pub fn call_virtual(
        &self,
        method: &ClassMethodRef<H>,
        args: &[H::Value],
        cx: &mut H::Context,
    ) -> CallResult<H> {
        // Inlined: an instance of the method's own class (or a shallow subclass) with the
        // right argument count is a few loads and the body's call; the rest, errors and
        // classes taken over (live reload) included, is out of line behind a route.
        let entry = if method.arity == args.len() {
            self.own_class_data().virtual_entry(method)
        } else {
            Entry::route(call_virtual_route::<H>)
        };
        entry.invoke(self, args, cx, Called::class(method))
    }

    /// [`call_virtual`](Self::call_virtual)'s errors, and objects a class took over (live reload).
    #[inline(never)]
    fn call_virtual_slow(
        &self,
        method: &ClassMethodRef<H>,
        args: &[H::Value],
        cx: &mut H::Context,
    ) -> CallResult<H> {
        let class = self.class_data();
        let declaring = method.class.data();
        if declaring.runtime != class.runtime {
            return Err(foreign_type(&declaring.name));
        }
        if !class.derives_from(declaring) {
            return Err(Error::invalid_cast(&class.name, &declaring.name));
        }
        // A subclass's vtable starts with its ancestors' slots, so `method.slot` is in it.
        let Some(slot) = class.vtable.get(method.slot) else {
            return Err(Error::invalid_cast(&class.name, &declaring.name));
        };
        if slot.arity != args.len() {
            return Err(Error::ArgumentCount {
                method: format!("{}.{}", class.name, slot.name).into(),
                expected: slot.arity,
                actual: args.len(),
            });
        }
        match &slot.body {
            Some(body) => body.invoke_for(self, args, cx, Called::class(method)),
            // Only abstract classes have abstract slots, and they have no instances.
            None => Err(Error::EntryPointNotFound {
                type_name: class.name.clone(),
                interface: declaring.name.clone(),
                method: slot.name.clone(),
                implementation: None,
                reabstracted_in: None,
            }),
        }
    }

    /// Steps 2–4 of the module docs for a virtual interface method.
    #[inline]
    pub(crate) fn resolve_target(
        &self,
        method: &MethodRef<H>,
        cx: &mut H::Context,
    ) -> Result<Target<'_, H>, Error<H::Error>> {
        // A class that took this object over (live reload) is held only for this call:
        // what it serves is cloned.
        let view = self.class_data();
        match view.direct() {
            Some(class) => self.resolve_target_in(class, method, cx),
            None => Ok(self.resolve_target_in(&view, method, cx)?.into_owned()),
        }
    }

    /// [`resolve_target`](Self::resolve_target) on the class the object dispatches as.
    #[inline]
    fn resolve_target_in<'a>(
        &self,
        class: &'a ClassData<H>,
        method: &MethodRef<H>,
        cx: &mut H::Context,
    ) -> Result<Target<'a, H>, Error<H::Error>> {
        // C1: exact and variance matches, with the errors of slots that have no body.
        if let Some(imp) = class.find_interface(method.iface.data()) {
            return match &imp.slots[method.key.slot as usize] {
                SlotImpl::Body(body) => Ok(Target::Borrowed(body)),
                other => Err(self.static_slot_error(method, other)),
            };
        }
        // Uids are process-unique: a method of another runtime misses every table above and
        // is refused here, before the cache or the hook is asked about it.
        self.check_same_runtime(method)?;
        if let Some(cache) = &class.dispatch_cache {
            match cache.find(method.key) {
                Some(Hit::Shared(hit)) => return Ok(Target::Borrowed(&hit.body)),
                Some(Hit::Owned(hit)) => return Ok(Target::Owned(hit.body)),
                None => {}
            }
        }
        self.resolve_dynamic(class, method, cx)
    }

    /// Fails with "Type 'I' belongs to another Runtime." for a method of another runtime.
    #[inline]
    fn check_same_runtime(&self, method: &MethodRef<H>) -> Result<(), Error<H::Error>> {
        let iface = method.iface.data();
        if iface.runtime == self.class_data().runtime {
            Ok(())
        } else {
            Err(foreign_type(&iface.name))
        }
    }

    #[cold]
    fn static_slot_error(&self, method: &MethodRef<H>, slot: &SlotImpl<H>) -> Error<H::Error> {
        let class = self.class_data();
        let type_name = class.name.clone();
        let interface = method.iface.data().name.clone();
        let name = method.qualified_name();
        match slot {
            SlotImpl::Ambiguous(candidates) => Error::AmbiguousImplementation {
                type_name,
                interface,
                method: name,
                implementation: None,
                candidates: candidates.clone(),
            },
            SlotImpl::Reabstracted(r) => Error::EntryPointNotFound {
                type_name,
                interface,
                method: name,
                implementation: None,
                reabstracted_in: Some(r.clone()),
            },
            SlotImpl::Body(_) | SlotImpl::NotVirtual | SlotImpl::Missing => {
                Error::EntryPointNotFound {
                    type_name,
                    interface,
                    method: name,
                    implementation: None,
                    reabstracted_in: None,
                }
            }
        }
    }

    /// The hook path (C2–C4, D1): ask, check, resolve, publish.
    #[cold]
    #[inline(never)]
    fn resolve_dynamic<'a>(
        &self,
        class: &'a ClassData<H>,
        method: &MethodRef<H>,
        cx: &mut H::Context,
    ) -> Result<Target<'a, H>, Error<H::Error>> {
        let requested = &method.iface;
        let (Some(hook), Some(cache)) = (&class.hook, &class.dispatch_cache) else {
            return Err(Error::invalid_cast(&class.name, &requested.data().name));
        };
        // C2: about the declaring interface. No engine lock is held (D2).
        let answer = crate::hook::nested(&class.name, requested, || {
            hook.get_interface_implementation(self, requested, cx)
        })?;
        let implementation = self.check_implementation(answer, requested)?;
        // C4: the most specific default within the implementation interface and its bases.
        let bases = implementation.all_bases();
        let set = std::iter::once(&implementation).chain(bases.iter());
        let resolution = if bases.len() <= SCANNED_BASES {
            most_specific_default(set, method)
        } else {
            let at = |n: usize| match n {
                0 => Some(&implementation),
                n => bases.get(n - 1),
            };
            let data = implementation.data();
            let position_of = |uid| data.position_in_closure(uid);
            let overrides = &data.overrides_index;
            most_specific_default_indexed(set, at, position_of, overrides, method)
        };
        let body = match resolution {
            DefaultResolution::Body(body) => body,
            DefaultResolution::Missing => {
                return Err(self.entry_point_not_found(method, &implementation, None))
            }
            DefaultResolution::Reabstracted(r) => {
                return Err(self.entry_point_not_found(method, &implementation, Some(r)))
            }
            DefaultResolution::Ambiguous(candidates) => {
                return Err(Error::AmbiguousImplementation {
                    type_name: class.name.clone(),
                    interface: requested.data().name.clone(),
                    method: method.qualified_name(),
                    implementation: Some(implementation.data().name.clone()),
                    candidates,
                })
            }
        };
        // D1: first published wins; every racing resolver returns the published body.
        match cache.publish(
            method.key,
            Resolved {
                body,
                implementation,
            },
        ) {
            Ok(Hit::Shared(published)) => Ok(Target::Borrowed(&published.body)),
            Ok(Hit::Owned(published)) => Ok(Target::Owned(published.body)),
            Err(unstored) => Ok(Target::Owned(unstored.body)),
        }
    }

    /// C3: the checks on the hook's answer, in .NET's order.
    fn check_implementation(
        &self,
        answer: Option<TypeRef<H>>,
        requested: &InterfaceRef<H>,
    ) -> Result<InterfaceRef<H>, Error<H::Error>> {
        let class = self.class_data();
        let Some(returned) = answer else {
            return Err(Error::invalid_cast(&class.name, &requested.data().name));
        };
        let returned_name = returned.name_arc().clone();
        if returned.runtime_id() != class.runtime {
            return Err(InvalidOperation::ForeignRuntime {
                returned: returned_name,
            }
            .into_error());
        }
        let TypeRef::Interface(implementation) = returned else {
            return Err(InvalidOperation::NotAnInterface {
                returned: returned_name,
            }
            .into_error());
        };
        if !implementation.is_dynamic_castable_implementation() {
            return Err(InvalidOperation::NotMarked {
                returned: returned_name,
            }
            .into_error());
        }
        if !interface_assignable(implementation.data(), requested.data()) {
            return Err(InvalidOperation::DoesNotImplement {
                returned: returned_name,
                requested: requested.data().name.clone(),
            }
            .into_error());
        }
        Ok(implementation)
    }

    fn entry_point_not_found(
        &self,
        method: &MethodRef<H>,
        implementation: &InterfaceRef<H>,
        reabstracted_in: Option<std::sync::Arc<str>>,
    ) -> Error<H::Error> {
        Error::EntryPointNotFound {
            type_name: self.class_data().name.clone(),
            interface: method.iface.data().name.clone(),
            method: method.qualified_name(),
            implementation: Some(implementation.data().name.clone()),
            reabstracted_in,
        }
    }
}

// Routes (see `Entry`): what `Object::call`'s and `Object::call_virtual`'s single call
// runs when no body was found on the inlined path. They take the method back from
// `called`, which those always make with `Called::interface` and `Called::class`.

/// `Object::call` with a method that is not virtual or the wrong number of arguments.
fn call_other_route<'a, H: Host>(
    _: *const (),
    this: &'a Object<H>,
    args: &'a [H::Value],
    cx: &'a mut H::Context,
    called: Called<'a, H>,
) -> CallResult<H> {
    let method = called.method().ok_or_else(|| misrouted(this))?;
    this.call_other(method, args, cx)
}

/// `Object::call` when neither the primary interface nor the cache's home slot served,
/// and a slot of the primary interface without a body (abstract, re-abstracted,
/// ambiguous, not virtual), whose error the slow path reports.
pub(crate) fn beyond_fast_entry<'a, H: Host>(
    _: *const (),
    this: &'a Object<H>,
    args: &'a [H::Value],
    cx: &'a mut H::Context,
    called: Called<'a, H>,
) -> CallResult<H> {
    let method = called.method().ok_or_else(|| misrouted(this))?;
    this.call_beyond_static(method, args, cx)
}

/// `Object::call_virtual` when its inlined test did not find the body.
pub(crate) fn call_virtual_route<'a, H: Host>(
    _: *const (),
    this: &'a Object<H>,
    args: &'a [H::Value],
    cx: &'a mut H::Context,
    called: Called<'a, H>,
) -> CallResult<H> {
    let method = called.class_method().ok_or_else(|| misrouted(this))?;
    this.call_virtual_slow(method, args, cx)
}

/// Never made: a route is only called by `Object::call` or `Object::call_virtual`, with
/// the method it was called with. Kept as an error rather than a panic all the same.
#[cold]
fn misrouted<H: Host>(this: &Object<H>) -> Error<H::Error> {
    Error::MissingMember {
        type_name: this.class_data().name.clone(),
        member: "(a route called without its method)".into(),
    }
}
