//! The cast path, top to bottom: `is_instance_of` (C# `is`) and `cast` (C# explicit cast).
//! Its steps and rules (B1–B6) are in the rules chapter, `crate::rules`, section Casts.

use crate::error::{Error, InvalidOperation};
use crate::hook;
use crate::host::Host;
use crate::object::Object;
use crate::types::{CastTarget, TypeView};

impl<H: Host> Object<H> {
    /// C# `obj is T`: whether the object is of type `target`, asking the class's hook
    /// (with `throw_if_not_implemented = false`) when the metadata says no.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.interface("IShape").define()?;
    /// let square = rt.class("Square").implement(&shape).define()?;
    /// let obj = rt.new_object(&square, Value::Nil)?;
    /// assert!(obj.is_instance_of(&shape, &mut ())?);
    /// assert!(obj.is_instance_of(rt.object_class(), &mut ())?);
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    #[inline(always)]
    pub fn is_instance_of<T>(
        &self,
        target: &T,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>>
    where
        T: CastTarget<H> + ?Sized,
    {
        let view = target.view();
        if self.implements_exactly(view) {
            return Ok(true);
        }
        self.is_instance_of_beyond_exact(view, cx)
    }

    #[inline(never)]
    fn is_instance_of_beyond_exact(
        &self,
        view: TypeView<'_, H>,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>> {
        self.check_cast(view, false, cx)
    }

    /// C# `(T)obj`: the object itself when it is of type `target`, asking the class's hook
    /// (with `throw_if_not_implemented = true`) when the metadata says no. Fails with
    /// [`Error::InvalidCast`] ("Unable to cast object of type 'X' to type 'Y'.") or with the
    /// hook's own error. Returning the object lets a cast and a call chain:
    /// `obj.cast(&iface, cx)?.call(&method, args, cx)`.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let cx = &mut ();
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.interface("IShape").abstract_method("area", 0).define()?;
    /// let square = rt
    ///     .class("Square")
    ///     .implement(&shape)
    ///     .virtual_method("area", 0, |_| Ok(Value::Int(4)))
    ///     .define()?;
    /// let rock = rt.class("Rock").define()?;
    /// let obj = rt.new_object(&square, Value::Nil)?;
    /// assert_eq!(obj.cast(&shape, cx)?.call(&shape.method("area")?, &[], cx)?, Value::Int(4));
    /// let err = rt.new_object(&rock, Value::Nil)?.cast(&shape, cx).unwrap_err();
    /// assert_eq!(err.to_string(), "Unable to cast object of type 'Rock' to type 'IShape'.");
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    #[inline(always)]
    pub fn cast<T>(&self, target: &T, cx: &mut H::Context) -> Result<&Self, Error<H::Error>>
    where
        T: CastTarget<H> + ?Sized,
    {
        // Inlined: an interface the class implements exactly (its primary one, else a scan
        // of the rest), the common case, and the hook of a hooked class that implements no
        // interface (then its metadata has said no: B1). The rest (class targets,
        // variance, hooked classes with interfaces, errors) is out of line.
        let view = target.view();
        if let TypeView::Interface(iface) = view {
            // A class taken over (live reload) has its gates closed: out of line.
            let class = self.own_class_data();
            let uid = iface.uid();
            let primary = class.primary_gate();
            if uid == primary {
                return Ok(self);
            }
            if let Some(hook) = class.hook_for_cast(iface.data()) {
                hook::nested(&class.name, iface, || {
                    // SAFETY: invariant "thin hook pointer": `hook` was copied from the
                    // class's own hook, which the class (borrowed through `self`) keeps.
                    unsafe { hook.cast(self, iface, cx) }
                })?;
                return Ok(self);
            }
            if primary != 0 && class.implements_other_exactly(uid) {
                return Ok(self);
            }
        }
        self.cast_by_metadata_then_hook(view, cx).map(|()| self)
    }

    /// Fast path of B1: the class implements exactly the target interface.
    #[inline(always)]
    fn implements_exactly(&self, view: TypeView<'_, H>) -> bool {
        match view {
            // A class taken over (live reload) has its fast paths closed: this misses.
            TypeView::Interface(iface) => self.own_class_data().implements_exactly(iface.uid()),
            TypeView::Class(_) => false,
        }
    }

    // Cold: the casts a caller makes in a loop are exact or go to the hook inline; marking
    // the rest unlikely keeps the register allocator from paying for it in those loops.
    #[cold]
    #[inline(never)]
    fn cast_by_metadata_then_hook(
        &self,
        view: TypeView<'_, H>,
        cx: &mut H::Context,
    ) -> Result<(), Error<H::Error>> {
        if self.check_cast(view, true, cx)? {
            return Ok(());
        }
        Err(self.invalid_cast(view))
    }

    /// B4: the error of a cast that failed.
    #[cold]
    pub(crate) fn invalid_cast(&self, view: TypeView<'_, H>) -> Error<H::Error> {
        let target_name = match view {
            TypeView::Class(c) => &c.data().name,
            TypeView::Interface(i) => &i.data().name,
        };
        Error::invalid_cast(&self.class_data().name, target_name)
    }

    /// The metadata answer alone: never calls a hook.
    pub fn is_instance_of_static<T>(&self, target: &T) -> bool
    where
        T: CastTarget<H> + ?Sized,
    {
        let class = self.class_data();
        match target.view() {
            TypeView::Class(c) => class.derives_from(c.data()),
            TypeView::Interface(i) => class.find_interface(i.data()).is_some(),
        }
    }

    #[inline]
    /// Steps 1–2 of the module docs after the inlined exact-interface check.
    fn check_cast(
        &self,
        target: TypeView<'_, H>,
        throw: bool,
        cx: &mut H::Context,
    ) -> Result<bool, Error<H::Error>> {
        let class = self.class_data();
        // A type of another runtime: an error, and the hook is never asked about it. (Uids
        // are process-unique, so the inlined exact check can never have matched one.)
        let (target_runtime, target_name) = match target {
            TypeView::Class(c) => (c.data().runtime, &c.data().name),
            TypeView::Interface(i) => (i.data().runtime, &i.data().name),
        };
        if target_runtime != class.runtime {
            return Err(foreign_type(target_name));
        }
        match target {
            // Casting to a class never calls the hook.
            TypeView::Class(c) => Ok(class.derives_from(c.data())),
            TypeView::Interface(iface) => {
                // The exact match was checked inline by the caller, on the class the
                // object was created with; variance remains. An object another class took
                // over (live reload) had that check miss: check its new class's metadata
                // whole (the real index, not the fast paths' gate).
                if class.direct().is_none() && class.find_interface(iface.data()).is_some() {
                    return Ok(true);
                }
                if class.implements_by_variance(iface.data()) {
                    return Ok(true);
                }
                match &class.hook {
                    Some(hook) => hook::nested(&class.name, iface, || {
                        hook.is_interface_implemented(self, iface, throw, cx)
                    }),
                    None => Ok(false),
                }
            }
        }
    }
}

/// The error for a handle of another runtime: "Type 'X' belongs to another Runtime."
#[cold]
pub(crate) fn foreign_type<E>(type_name: &std::sync::Arc<str>) -> Error<E> {
    InvalidOperation::ForeignType {
        type_name: type_name.clone(),
    }
    .into_error()
}
