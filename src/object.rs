//! Objects: a pointer to their class (the method-table pointer) and the host's payload.
//!
//! Casting is in `src/cast.rs`, calling in `src/dispatch.rs` (their steps: [`rules`](crate::rules)).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::class::{ClassData, ClassRef};
use crate::error::{Error, InvalidOperation};
use crate::host::Host;
use crate::sync::Ordering;

struct ObjectInner<H: Host> {
    class: ClassRef<H>,
    payload: H::Payload,
}

/// An instance of a class. Cheap to clone: clones are the same object (compare them with
/// [`Object::ptr_eq`]). Inside every method body `this` is the original object.
pub struct Object<H: Host>(Arc<ObjectInner<H>>);

impl<H: Host> Clone for Object<H> {
    fn clone(&self) -> Self {
        Object(self.0.clone())
    }
}

impl<H: Host> fmt::Debug for Object<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{:p}", self.0.class.name(), Arc::as_ptr(&self.0))
    }
}

impl<H: Host> Object<H> {
    /// A new instance of `class`. Abstract classes have no instances.
    pub fn new(class: &ClassRef<H>, payload: H::Payload) -> Result<Self, Error<H::Error>> {
        if class.is_abstract() {
            return Err(InvalidOperation::AbstractClass {
                class: class.data().name.clone(),
            }
            .into_error());
        }
        Ok(Object(Arc::new(ObjectInner {
            class: class.clone(),
            payload,
        })))
    }

    /// The class the object was created with (after a live-reload takeover it casts and
    /// dispatches as [`current_class`](Self::current_class)).
    pub fn class(&self) -> &ClassRef<H> {
        &self.0.class
    }

    /// The class the object casts and dispatches as: the class it was created with, or
    /// the newest class that took that one over (live reload, see `crate::reload`). A host
    /// that never reloads pays one load and one never-taken branch here.
    #[inline(always)]
    pub(crate) fn class_data(&self) -> ClassView<'_, H> {
        let data = self.0.class.data();
        if data.forward.load(Ordering::Relaxed).is_null() {
            return ClassView::Direct(data);
        }
        match follow(data) {
            Some(newer) => ClassView::Forwarded(newer),
            None => ClassView::Direct(data),
        }
    }

    /// The class the object was created with, not followed: for the inlined call and
    /// exact-cast fast paths only, which miss on a class taken over (live reload closes
    /// its fast paths: `ClassData::close_fast_paths`) and go out of line.
    #[inline(always)]
    pub(crate) fn own_class_data(&self) -> &ClassData<H> {
        self.0.class.data()
    }

    /// The class the object was created with, when no class has taken it over (live
    /// reload): the inlined fast paths of casts and calls, which hold it across user code
    /// and so must not hold a [`ClassView`] (whose drop would follow the call). `None`
    /// sends them to their out-of-line paths, which use [`class_data`](Self::class_data).
    #[inline(always)]
    pub(crate) fn direct_class(&self) -> Option<&ClassData<H>> {
        let data = self.0.class.data();
        data.forward
            .load(Ordering::Relaxed)
            .is_null()
            .then_some(data)
    }

    /// The class the object now casts and dispatches as: [`class`](Self::class), or the
    /// newest class that took it over ([`ClassBuilder::take_over`](crate::ClassBuilder::take_over)).
    pub fn current_class(&self) -> ClassRef<H> {
        match self.direct_class() {
            Some(_) => self.0.class.clone(),
            None => follow(self.0.class.data()).unwrap_or_else(|| self.0.class.clone()),
        }
    }

    /// The host's payload.
    pub fn payload(&self) -> &H::Payload {
        &self.0.payload
    }

    /// The payload, when this handle is the object's only one (for dropping chains of
    /// objects iteratively: see `Value`'s `Drop`).
    pub(crate) fn unique_payload_mut(&mut self) -> Option<&mut H::Payload> {
        Arc::get_mut(&mut self.0).map(|inner| &mut inner.payload)
    }

    /// Whether `a` and `b` are the same object.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

/// Embedder support: how many handles share an object.
impl<H: Host> Object<H> {
    /// How many [`Object`] handles (clones) of this object exist right now.
    ///
    /// A binding whose scripting runtime holds one handle per object learns from this
    /// whether anyone else (the embedder's Rust code) still holds the object, e.g. to keep
    /// the script-side state of an object alive only while Rust holds it (the Lua binding
    /// does). The count can change at any time on other threads; treat it as a snapshot.
    pub fn handle_count(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

/// An object's class as the cast and call paths read it (see [`Object::class_data`]).
pub(crate) enum ClassView<'a, H: Host> {
    /// The class the object was created with, borrowed.
    Direct(&'a ClassData<H>),
    /// The class that took it over, held for the duration of the operation, so that a
    /// takeover that happens meanwhile cannot free it.
    Forwarded(ClassRef<H>),
}

impl<'a, H: Host> ClassView<'a, H> {
    /// The class borrowed for as long as the object, when the object is not forwarded.
    #[inline(always)]
    pub(crate) fn direct(&self) -> Option<&'a ClassData<H>> {
        match self {
            ClassView::Direct(data) => Some(data),
            ClassView::Forwarded(_) => None,
        }
    }
}

impl<H: Host> Deref for ClassView<'_, H> {
    type Target = ClassData<H>;
    #[inline(always)]
    fn deref(&self) -> &ClassData<H> {
        match self {
            ClassView::Direct(data) => data,
            ClassView::Forwarded(class) => class.data(),
        }
    }
}

/// The class that took `data` over, if any, as a strong handle.
#[cold]
#[inline(never)]
pub(crate) fn follow<H: Host>(data: &ClassData<H>) -> Option<ClassRef<H>> {
    let _reader = data.grace.enter();
    // Loaded after `enter` (its fence): see "Grace periods" in `crate::reload`.
    let newer = data.forward.load(Ordering::Acquire);
    if newer.is_null() {
        return None;
    }
    // SAFETY: as below: `newer` is a live class while this reader is registered.
    #[cfg(loom)]
    unsafe { &*newer }.alive.read();
    // SAFETY: invariant "a retargeted forward is dropped after its grace period": a
    // non-null `forward` is a strong count from `Arc::into_raw` (`Runtime::take_over`)
    // that is released only after every reader registered before its replacement has
    // left (`Runtime::take_over` retires it to the runtime's grace list) or with `data`
    // itself, which `&data` keeps alive. So the count is live here, and taking one more
    // gives this reader a handle of its own.
    let class = unsafe {
        Arc::increment_strong_count(newer.cast_const());
        Arc::from_raw(newer.cast_const())
    };
    Some(ClassRef(class))
}
