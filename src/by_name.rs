//! Calling a method by its name on an object, where the name is unambiguous (the rule the
//! Lua binding's `obj:name()` uses too).

use std::sync::Arc;

use crate::class::{ClassMethodRef, ClassRef};
use crate::error::Error;
use crate::host::{CallResult, Host};
use crate::interface::MethodRef;
use crate::object::Object;

/// A method found by name on a class ([`ClassRef::find_method`]): a class virtual method
/// or an interface method.
pub enum NamedMethod<H: Host> {
    /// The class's own (or inherited) virtual method.
    Class(ClassMethodRef<H>),
    /// The one method of that name among the interfaces the class implements.
    Interface(MethodRef<H>),
}

impl<H: Host> Clone for NamedMethod<H> {
    fn clone(&self) -> Self {
        match self {
            NamedMethod::Class(m) => NamedMethod::Class(m.clone()),
            NamedMethod::Interface(m) => NamedMethod::Interface(m.clone()),
        }
    }
}

impl<H: Host> std::fmt::Debug for NamedMethod<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamedMethod::Class(m) => write!(f, "Class({m:?})"),
            NamedMethod::Interface(m) => write!(f, "Interface({m:?})"),
        }
    }
}

impl<H: Host> NamedMethod<H> {
    /// Calls the method on `obj`: [`Object::call_virtual`] or [`Object::call`].
    pub fn call(&self, obj: &Object<H>, args: &[H::Value], cx: &mut H::Context) -> CallResult<H> {
        match self {
            NamedMethod::Class(m) => obj.call_virtual(m, args, cx),
            NamedMethod::Interface(m) => obj.call(m, args, cx),
        }
    }
}

impl<H: Host> ClassRef<H> {
    /// The method a call by `name` on an instance of this class means: the class's virtual
    /// method `name` (declared or inherited), else the one non-static method `name` among
    /// the interfaces the class implements in its metadata. Two such interface methods
    /// are an [`Error::AmbiguousName`] naming both; none is [`Error::MissingMember`].
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let a = rt.interface("IA").default_method("hi", 0, |_| Ok(Value::from("a"))).define()?;
    /// let b = rt.interface("IB").default_method("hi", 0, |_| Ok(Value::from("b"))).define()?;
    /// let ab = rt.class("AB").implement(&a).implement(&b).define()?;
    /// let err = ab.find_method("hi").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Class 'AB' implements 'hi' of both 'IA' and 'IB': call it through one of them."
    /// );
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn find_method(&self, name: &str) -> Result<NamedMethod<H>, Error<H::Error>> {
        if let Ok(m) = self.virtual_method(name) {
            return Ok(NamedMethod::Class(m));
        }
        let mut found = self
            .interfaces()
            .into_iter()
            .filter_map(|i| i.method(name).ok())
            .filter(|m| !m.is_static());
        let Some(first) = found.next() else {
            return Err(Error::MissingMember {
                type_name: Arc::from(self.name()),
                member: Arc::from(name),
            });
        };
        if let Some(second) = found.next() {
            return Err(Error::AmbiguousName {
                type_name: Arc::from(self.name()),
                member: Arc::from(name),
                first: Arc::from(first.interface().name()),
                second: Arc::from(second.interface().name()),
            });
        }
        Ok(NamedMethod::Interface(first))
    }
}

impl<H: Host> Object<H> {
    /// Calls the method `name` of this object's class, found as
    /// [`ClassRef::find_method`] says. Each call looks the name up: in a loop, keep the
    /// handle `find_method` returns (or a [`MethodRef`]) instead.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.interface("IShape").abstract_method("area", 0).define()?;
    /// let square = rt
    ///     .class("Square")
    ///     .implement(&shape)
    ///     .virtual_method("area", 0, |call| Ok(Value::Int(call.payload().as_int().unwrap_or(0).pow(2))))
    ///     .define()?;
    /// let obj = rt.new_object(&square, Value::Int(3))?;
    /// assert_eq!(obj.call_by_name("area", &[], &mut ())?, Value::Int(9));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn call_by_name(
        &self,
        name: &str,
        args: &[H::Value],
        cx: &mut H::Context,
    ) -> CallResult<H> {
        // The class the object dispatches as (live reload: a class that took it over).
        let method = match self.direct_class() {
            Some(_) => self.class().find_method(name)?,
            None => self.current_class().find_method(name)?,
        };
        method.call(self, args, cx)
    }
}
