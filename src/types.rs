//! Type handles and assignability (rules M1–M6, B1).
//!
//! Every defined type gets a process-wide unique id (`uid`), never reused, so caches that
//! remember a type by id can never mistake one type for another, even across runtimes.

use std::fmt;
use std::sync::Arc;

use crate::class::ClassRef;
use crate::host::Host;
use crate::interface::{InterfaceData, InterfaceRef, Variance};

/// A fresh process-wide unique id for a type or a runtime (the counter lives in the
/// `sync` facade, which makes it per-model-iteration under loom).
pub(crate) use crate::sync::next_uid;

/// A handle to any defined type: a class or an interface (possibly a closed generic one).
pub enum TypeRef<H: Host> {
    /// A class.
    Class(ClassRef<H>),
    /// An interface.
    Interface(InterfaceRef<H>),
}

impl<H: Host> Clone for TypeRef<H> {
    fn clone(&self) -> Self {
        match self {
            TypeRef::Class(c) => TypeRef::Class(c.clone()),
            TypeRef::Interface(i) => TypeRef::Interface(i.clone()),
        }
    }
}

impl<H: Host> PartialEq for TypeRef<H> {
    fn eq(&self, other: &Self) -> bool {
        self.uid() == other.uid()
    }
}
impl<H: Host> Eq for TypeRef<H> {}

impl<H: Host> std::hash::Hash for TypeRef<H> {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        self.uid().hash(state)
    }
}

impl<H: Host> fmt::Debug for TypeRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Class(c) => write!(f, "class {}", c.name()),
            TypeRef::Interface(i) => write!(f, "interface {}", i.name()),
        }
    }
}

impl<H: Host> fmt::Display for TypeRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<H: Host> From<ClassRef<H>> for TypeRef<H> {
    fn from(c: ClassRef<H>) -> Self {
        TypeRef::Class(c)
    }
}
impl<H: Host> From<InterfaceRef<H>> for TypeRef<H> {
    fn from(i: InterfaceRef<H>) -> Self {
        TypeRef::Interface(i)
    }
}
impl<H: Host> From<&ClassRef<H>> for TypeRef<H> {
    fn from(c: &ClassRef<H>) -> Self {
        TypeRef::Class(c.clone())
    }
}
impl<H: Host> From<&InterfaceRef<H>> for TypeRef<H> {
    fn from(i: &InterfaceRef<H>) -> Self {
        TypeRef::Interface(i.clone())
    }
}

impl<H: Host> TypeRef<H> {
    /// The type's display name (closed generics include their arguments: `IFoo<int, string>`).
    pub fn name(&self) -> &str {
        &self.name_arc()[..]
    }

    pub(crate) fn name_arc(&self) -> &Arc<str> {
        match self {
            TypeRef::Class(c) => &c.data().name,
            TypeRef::Interface(i) => &i.data().name,
        }
    }

    /// The process-wide unique id of the type.
    pub fn uid(&self) -> u64 {
        match self {
            TypeRef::Class(c) => c.data().uid,
            TypeRef::Interface(i) => i.data().uid,
        }
    }

    pub(crate) fn runtime_id(&self) -> u64 {
        match self {
            TypeRef::Class(c) => c.data().runtime,
            TypeRef::Interface(i) => i.data().runtime,
        }
    }

    /// The class, if this is one.
    pub fn as_class(&self) -> Option<&ClassRef<H>> {
        match self {
            TypeRef::Class(c) => Some(c),
            TypeRef::Interface(_) => None,
        }
    }

    /// The interface, if this is one.
    pub fn as_interface(&self) -> Option<&InterfaceRef<H>> {
        match self {
            TypeRef::Interface(i) => Some(i),
            TypeRef::Class(_) => None,
        }
    }

    /// Whether a value of type `self` may be used where `target` is expected, by metadata
    /// alone: class inheritance, implemented interfaces and their bases, generic variance.
    /// Every type is assignable to the runtime's root class `object`; an interface is
    /// assignable to no other class. A type of another runtime is never assignable.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime};
    /// let rt = Runtime::<DynHost>::new();
    /// let base = rt.interface("IBase").define()?;
    /// let derived = rt.interface("IDerived").base(&base).define()?;
    /// let class = rt.class("C").implement(&derived).define()?;
    /// let object = rt.object_class().as_type();
    /// assert!(class.as_type().is_assignable_to(&base.as_type()));
    /// assert!(derived.as_type().is_assignable_to(&object));
    /// assert!(!derived.as_type().is_assignable_to(&class.as_type()));
    /// assert!(!base.as_type().is_assignable_to(&derived.as_type()));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn is_assignable_to(&self, target: &TypeRef<H>) -> bool {
        // Types of two runtimes are unrelated, the root classes included.
        self.runtime_id() == target.runtime_id() && is_assignable(self, target)
    }
}

/// A type a cast can target: [`ClassRef`], [`InterfaceRef`] or [`TypeRef`].
pub trait CastTarget<H: Host>: sealed::Sealed {
    #[doc(hidden)]
    fn view(&self) -> TypeView<'_, H>;
}

mod sealed {
    pub trait Sealed {}
}

impl<H: Host> sealed::Sealed for ClassRef<H> {}
impl<H: Host> sealed::Sealed for InterfaceRef<H> {}
impl<H: Host> sealed::Sealed for TypeRef<H> {}

impl<H: Host> CastTarget<H> for ClassRef<H> {
    fn view(&self) -> TypeView<'_, H> {
        TypeView::Class(self)
    }
}
impl<H: Host> CastTarget<H> for InterfaceRef<H> {
    fn view(&self) -> TypeView<'_, H> {
        TypeView::Interface(self)
    }
}
impl<H: Host> CastTarget<H> for TypeRef<H> {
    fn view(&self) -> TypeView<'_, H> {
        match self {
            TypeRef::Class(c) => TypeView::Class(c),
            TypeRef::Interface(i) => TypeView::Interface(i),
        }
    }
}

/// A borrowed view of a cast target.
#[doc(hidden)]
pub enum TypeView<'a, H: Host> {
    Class(&'a ClassRef<H>),
    Interface(&'a InterfaceRef<H>),
}

impl<H: Host> Clone for TypeView<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Host> Copy for TypeView<'_, H> {}

/// rule B1: the metadata answer to "is `from` a `to`?".
pub(crate) fn is_assignable<H: Host>(from: &TypeRef<H>, to: &TypeRef<H>) -> bool {
    match (from, to) {
        (_, TypeRef::Class(target)) => match from {
            TypeRef::Class(c) => c.data().derives_from(target.data()),
            // Interfaces are only assignable to the root class.
            TypeRef::Interface(_) => target.data().is_root(),
        },
        (TypeRef::Class(c), TypeRef::Interface(i)) => c.data().find_interface(i.data()).is_some(),
        (TypeRef::Interface(a), TypeRef::Interface(b)) => interface_assignable(a.data(), b.data()),
    }
}

/// Whether interface `from` (or one of its bases) is `to`, honouring variance.
pub(crate) fn interface_assignable<H: Host>(
    from: &InterfaceData<H>,
    to: &InterfaceData<H>,
) -> bool {
    if from.uid == to.uid {
        return true;
    }
    // Without a variant parameter in `to`, only `to` itself is compatible with it (a live
    // instantiation is unique per argument list): an exact membership test.
    if !has_variance(to) {
        return from.has_base(to.uid);
    }
    variant_compatible(from, to)
        || from
            .all_bases
            .iter()
            .any(|b| variant_compatible(b.data(), to))
}

/// `from` and `to` are the same interface, or closed instantiations of one generic
/// definition whose arguments convert according to each parameter's variance.
pub(crate) fn variant_compatible<H: Host>(from: &InterfaceData<H>, to: &InterfaceData<H>) -> bool {
    if from.uid == to.uid {
        return true;
    }
    let (Some(f), Some(t)) = (&from.generic, &to.generic) else {
        return false;
    };
    if f.definition.uid() != t.definition.uid() {
        return false;
    }
    let variances = f.definition.variances();
    f.args
        .iter()
        .zip(t.args.iter())
        .zip(variances.iter())
        .all(|((fa, ta), v)| match v {
            Variance::Invariant => fa.uid() == ta.uid(),
            Variance::Covariant => is_assignable(fa, ta),
            Variance::Contravariant => is_assignable(ta, fa),
        })
}

/// Whether `iface` is a closed generic with at least one variant parameter, so that a
/// lookup by exact id may miss a compatible interface.
#[inline]
pub(crate) fn has_variance<H: Host>(iface: &InterfaceData<H>) -> bool {
    iface.has_variant_params
}
