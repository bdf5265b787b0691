//! Objects: a pointer to their class (the method-table pointer) and the host's payload.
//!
//! Casting is in `src/cast.rs`, calling in `src/dispatch.rs` (their steps: [`rules`](crate::rules)).

use std::fmt;
use std::sync::Arc;

use crate::class::{ClassData, ClassRef};
use crate::error::{Error, InvalidOperation};
use crate::host::Host;

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

    /// The object's class.
    pub fn class(&self) -> &ClassRef<H> {
        &self.0.class
    }

    #[inline]
    pub(crate) fn class_data(&self) -> &ClassData<H> {
        self.0.class.data()
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
