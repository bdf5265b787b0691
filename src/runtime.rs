//! The runtime: owner of every type definition and its name (rules M1–M6).
//!
//! Types are defined through builders and are immutable once defined; handles are cheap
//! `Arc`s, so casts and calls never touch the runtime. The name registry is a mutex-guarded
//! map: only definitions and name look-ups take it, never a cast or a call, never while
//! a hook runs and never while a definition is built (only to check and insert its name).

use std::fmt;
use std::sync::{Arc, Weak};

use ahash::RandomState;
use hashbrown::HashMap;

use crate::class::{root_class, ClassBuilder, ClassData, ClassRef};
use crate::error::{Error, InvalidOperation};
use crate::host::Host;
use crate::interface::{GenericInterface, InterfaceBuilder, Variance};
use crate::object::Object;
use crate::reload::{Grace, Retired};
use crate::sync::{lock, Mutex, Ordering};
use crate::types::{next_uid, TypeRef};

/// What a name in the registry stands for.
pub(crate) enum NamedType<H: Host> {
    Type(TypeRef<H>),
    Generic(GenericInterface<H>),
}

impl<H: Host> Clone for NamedType<H> {
    fn clone(&self) -> Self {
        match self {
            NamedType::Type(t) => NamedType::Type(t.clone()),
            NamedType::Generic(g) => NamedType::Generic(g.clone()),
        }
    }
}

struct RuntimeInner<H: Host> {
    id: u64,
    object: ClassRef<H>,
    names: Mutex<HashMap<Arc<str>, NamedType<H>, RandomState>>,
    /// Every class defined with a hook (its own or inherited), weakly: what
    /// [`Runtime::flush`] flushes, replaced definitions included.
    hooked: Mutex<Vec<Weak<ClassData<H>>>>,
    /// Live reload's takeovers (see `crate::reload`).
    takeovers: Mutex<Takeovers<H>>,
    /// The grace period of every class's `forward` pointer.
    grace: Arc<Grace>,
    /// Whether classes may be flushed and taken over ([`Runtime::with_live_reload`]).
    live_reload: bool,
}

/// What the takeover lock guards.
struct Takeovers<H: Host> {
    /// For each class that took others over (by uid): every class whose objects now
    /// follow it, weakly, to retarget when it is itself taken over.
    followers: HashMap<u64, Vec<Weak<ClassData<H>>>, RandomState>,
    /// Forward targets replaced by a retarget, dropped after their grace period.
    retired: Vec<Retired<ClassRef<H>>>,
}

/// Owns a set of type definitions. Cheap to clone (all clones are the same runtime);
/// `Send + Sync`, and types may be defined from any thread while others cast and call.
///
/// ```
/// use dynacast::{DynHost, Runtime};
/// let rt = Runtime::<DynHost>::new();
/// let iface = rt.interface("IShape").abstract_method("area", 0).define()?;
/// assert_eq!(rt.lookup("IShape"), Some(iface.as_type()));
/// assert_eq!(rt.lookup("object"), Some(rt.object_class().as_type()));
/// # Ok::<(), dynacast::DynError>(())
/// ```
pub struct Runtime<H: Host> {
    inner: Arc<RuntimeInner<H>>,
}

impl<H: Host> Clone for Runtime<H> {
    fn clone(&self) -> Self {
        Runtime {
            inner: self.inner.clone(),
        }
    }
}

impl<H: Host> fmt::Debug for Runtime<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Runtime#{}", self.inner.id)
    }
}

impl<H: Host> Default for Runtime<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Host> Runtime<H> {
    /// A new runtime holding only the root class `object`. Its classes cannot be flushed
    /// or taken over (see [`with_live_reload`](Self::with_live_reload)).
    pub fn new() -> Self {
        Self::build(false)
    }

    /// A new runtime whose classes can be flushed ([`ClassRef::flush`],
    /// [`Runtime::flush`]) and taken over ([`ClassBuilder::take_over`]): live reload, for
    /// hosts that re-run edited scripts. Its call sites check a little more on each hit
    /// (their entries sit in a block of their own, so that a flush can reach them); a
    /// runtime made with [`new`](Self::new) pays nothing for live reload.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime};
    /// let rt = Runtime::<DynHost>::with_live_reload();
    /// assert!(rt.has_live_reload());
    /// rt.flush()?; // nothing cached yet: nothing to do
    /// let plain = Runtime::<DynHost>::new();
    /// assert_eq!(plain.flush().unwrap_err().kind(), "InvalidOperation");
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    ///
    /// [`ClassBuilder::take_over`]: crate::ClassBuilder::take_over
    pub fn with_live_reload() -> Self {
        Self::build(true)
    }

    /// Whether the runtime was made [`with_live_reload`](Self::with_live_reload).
    pub fn has_live_reload(&self) -> bool {
        self.inner.live_reload
    }

    fn build(live_reload: bool) -> Self {
        let id = next_uid();
        let grace = Arc::new(Grace::new());
        let inner = Arc::new_cyclic(|weak| {
            let object = root_class(id, WeakRuntime(weak.clone()), grace.clone(), live_reload);
            let mut names = HashMap::default();
            names.insert(Arc::from("object"), NamedType::Type(object.as_type()));
            RuntimeInner {
                id,
                object,
                names: Mutex::new(names),
                hooked: Mutex::new(Vec::new()),
                takeovers: Mutex::new(Takeovers {
                    followers: HashMap::default(),
                    retired: Vec::new(),
                }),
                grace,
                live_reload,
            }
        });
        Runtime { inner }
    }

    /// The runtime's unique id.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The root class every class derives from, and every type is assignable to.
    pub fn object_class(&self) -> &ClassRef<H> {
        &self.inner.object
    }

    /// Starts defining an interface.
    pub fn interface(&self, name: &str) -> InterfaceBuilder<H> {
        InterfaceBuilder::new(self.clone(), name, Vec::new())
    }

    /// Starts defining a generic interface with one type parameter per variance given.
    pub fn generic_interface(&self, name: &str, params: &[Variance]) -> InterfaceBuilder<H> {
        InterfaceBuilder::new(self.clone(), name, params.to_vec())
    }

    /// Starts defining a class.
    pub fn class(&self, name: &str) -> ClassBuilder<H> {
        ClassBuilder::new(self.clone(), name)
    }

    /// The type registered under `name` (closed generics are not registered by name).
    pub fn lookup(&self, name: &str) -> Option<TypeRef<H>> {
        match self.lookup_named(name)? {
            NamedType::Type(t) => Some(t),
            NamedType::Generic(_) => None,
        }
    }

    /// The generic interface definition registered under `name`.
    pub fn lookup_generic(&self, name: &str) -> Option<GenericInterface<H>> {
        match self.lookup_named(name)? {
            NamedType::Generic(g) => Some(g),
            NamedType::Type(_) => None,
        }
    }

    pub(crate) fn lookup_named(&self, name: &str) -> Option<NamedType<H>> {
        lock(&self.inner.names).get(name).cloned()
    }

    /// Builds a type and registers it under `name`; or, when `same_as` finds the built
    /// definition the same as the registered one (live reload: see `crate::same_definition`),
    /// returns the registered type instead, with or without `redefine`.
    ///
    /// The registry lock is held only to check the name (before `build`, so that a taken
    /// name fails fast) and to check it again and insert (after): never while `build` runs,
    /// so a `lookup` never waits for a definition in progress. Two concurrent definitions
    /// of one new name: the first to insert wins and the other fails as if it had come
    /// second; with `redefine` both succeed, in insertion order. Whatever dies here (a
    /// rejected definition's bodies and hook, the type a redefinition replaces) is dropped
    /// after the lock is released, so a user `Drop` may call back into the runtime.
    pub(crate) fn register<T>(
        &self,
        name: &Arc<str>,
        redefine: bool,
        build: impl FnOnce(u64) -> Result<(NamedType<H>, T), Error<H::Error>>,
        same_as: impl FnOnce(&NamedType<H>, &T) -> Option<T>,
    ) -> Result<T, Error<H::Error>> {
        let taken = {
            let names = lock(&self.inner.names);
            name_taken(names.get(name), name, redefine)
        };
        // A taken name may still be the same definition: build it to see, and report the
        // name's error (not the build's) if it is not.
        let (named, built) = match build(self.inner.id) {
            Ok(b) => b,
            Err(e) => return Err(taken.unwrap_or(e)),
        };
        let outcome = {
            let mut names = lock(&self.inner.names);
            let existing = names.get(name);
            match existing.and_then(|e| same_as(e, &built)) {
                Some(same) => Ok((same, None)),
                None => match name_taken(existing, name, redefine) {
                    Some(err) => Err(err),
                    None => Ok((built, names.insert(name.clone(), named))),
                },
            }
        };
        // Whatever dies here (the unused definition, the replaced one) dies unlocked.
        match outcome {
            Ok((handle, replaced)) => {
                drop(replaced);
                Ok(handle)
            }
            Err(err) => Err(err),
        }
    }

    /// A new object of `class` carrying `payload`. Fails with `InvalidOperation` for an
    /// abstract class or a class of another runtime.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let point = rt.class("Point").define()?;
    /// let obj = rt.new_object(&point, Value::Int(7))?;
    /// assert_eq!((obj.class(), obj.payload()), (&point, &Value::Int(7)));
    /// let other = Runtime::<DynHost>::new();
    /// let err = other.new_object(&point, Value::Nil).unwrap_err();
    /// assert_eq!(err.to_string(), "Type 'Point' belongs to another Runtime.");
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn new_object(
        &self,
        class: &ClassRef<H>,
        payload: H::Payload,
    ) -> Result<Object<H>, Error<H::Error>> {
        if class.data().runtime != self.inner.id {
            return Err(InvalidOperation::ForeignType {
                type_name: class.data().name.clone(),
            }
            .into_error());
        }
        Object::new(class, payload)
    }

    /// Flushes the dispatch cache of every class of this runtime that has a hook (live
    /// reload: see [`ClassRef::flush`]), redefined ones whose objects are still alive
    /// included: the next call through a hook asks it again.
    ///
    /// Fails with [`InvalidOperation::LiveReloadDisabled`] on a runtime made with
    /// [`new`](Self::new) (see [`with_live_reload`](Self::with_live_reload)).
    pub fn flush(&self) -> Result<(), Error<H::Error>> {
        if !self.inner.live_reload {
            return Err(live_reload_disabled(&format!("{self:?}")));
        }
        let classes: Vec<ClassRef<H>> = {
            let mut hooked = lock(&self.inner.hooked);
            hooked.retain(|c| c.strong_count() > 0);
            hooked
                .iter()
                .filter_map(|c| c.upgrade().map(ClassRef))
                .collect()
        };
        // Outside the lock: flushing drops user bodies, and so may dropping a class.
        for class in &classes {
            class.flush()?;
        }
        Ok(())
    }

    /// Records a class defined with a hook, for [`flush`](Self::flush). Dead entries are
    /// pruned whenever the list doubles, so it stays linear in the live classes.
    pub(crate) fn track_hooked(&self, class: &ClassRef<H>) {
        if !class.has_hook() {
            return;
        }
        let mut hooked = lock(&self.inner.hooked);
        if hooked.len() == hooked.capacity() {
            hooked.retain(|c| c.strong_count() > 0);
        }
        hooked.push(Arc::downgrade(&class.0));
    }

    pub(crate) fn grace(&self) -> Arc<Grace> {
        self.inner.grace.clone()
    }

    /// The checks of [`ClassBuilder::take_over`] that can fail, before anything is defined.
    pub(crate) fn check_take_over(
        &self,
        old: &ClassRef<H>,
        name: &Arc<str>,
        is_abstract: bool,
    ) -> Result<(), Error<H::Error>> {
        if !self.inner.live_reload {
            return Err(Error::type_load(
                name,
                format!(
                    "cannot take over the objects of '{}': live reload is not enabled (make the Runtime with Runtime::with_live_reload())",
                    old.name()
                ),
            ));
        }
        if old.data().runtime != self.inner.id {
            return Err(Error::type_load(
                name,
                format!(
                    "cannot take over '{}', a class of another runtime",
                    old.name()
                ),
            ));
        }
        if is_abstract {
            return Err(Error::type_load(
                name,
                format!(
                    "an abstract class cannot take over the objects of '{}'",
                    old.name()
                ),
            ));
        }
        if old.data().is_root() {
            return Err(Error::type_load(
                name,
                "cannot take over the root class 'object'",
            ));
        }
        if let Some(newer) = old.successor() {
            return Err(already_taken_over(name, old, &newer));
        }
        Ok(())
    }

    /// Makes the objects of `old`, and of every class that `old` took over, follow `new`
    /// (see [`ClassBuilder::take_over`]). Never waits; drops replaced targets once no
    /// reader can hold them, outside the lock.
    pub(crate) fn take_over(
        &self,
        old: &ClassRef<H>,
        new: &ClassRef<H>,
    ) -> Result<(), Error<H::Error>> {
        let (freed, followers) = {
            let mut takeovers = lock(&self.inner.takeovers);
            // Re-checked under the lock: a racing takeover of `old` may have won.
            if let Some(newer) = old.successor() {
                drop(takeovers);
                return Err(already_taken_over(&new.0.name, old, &newer));
            }
            let mut followers = takeovers.followers.remove(&old.uid()).unwrap_or_default();
            followers.push(Arc::downgrade(&old.0));
            let live: Vec<ClassRef<H>> = followers
                .iter()
                .filter_map(|f| f.upgrade().map(ClassRef))
                .collect();
            for follower in &live {
                let target = Arc::into_raw(new.0.clone()).cast_mut();
                let replaced = follower.0.forward.swap(target, Ordering::AcqRel);
                if !replaced.is_null() {
                    // SAFETY: a non-null `forward` is a strong count from `Arc::into_raw`
                    // (this function), which the swap just took out of `forward`; it is
                    // dropped only after its grace period (see `object::follow`).
                    let replaced = ClassRef(unsafe { Arc::from_raw(replaced.cast_const()) });
                    takeovers.retired.push(Grace::retire(replaced));
                }
            }
            followers.retain(|f| f.strong_count() > 0);
            takeovers.followers.retain(|_, f| {
                f.retain(|c| c.strong_count() > 0);
                !f.is_empty()
            });
            takeovers.followers.insert(new.uid(), followers);
            (self.inner.grace.reclaim(&mut takeovers.retired), live)
        };
        // Outside the lock, because each may drop user bodies (flushed tables, the last
        // handles of call sites, classes): the old versions' fast paths close, their call
        // sites' entries miss from now on, before `define` returns.
        for follower in &followers {
            follower.0.close_fast_paths();
            follower.0.call_sites.invalidate(&follower.0);
        }
        drop(followers);
        for class in freed {
            free_after_grace(class);
        }
        Ok(())
    }

    /// A weak handle, for hooks and bodies that need the runtime without keeping it alive
    /// (a strong one stored in a hook would form a cycle through the class that owns it).
    pub fn downgrade(&self) -> WeakRuntime<H> {
        WeakRuntime(Arc::downgrade(&self.inner))
    }
}

/// The error for a flush of `what` in a runtime made without live reload.
pub(crate) fn live_reload_disabled<E>(what: &str) -> Error<E> {
    Error::InvalidOperation(InvalidOperation::LiveReloadDisabled {
        type_name: Arc::from(what),
    })
}

/// The error for defining `name` when `existing` holds it: always for the root class,
/// and for anything else unless the definition is a `redefine`.
fn name_taken<H: Host>(
    existing: Option<&NamedType<H>>,
    name: &Arc<str>,
    redefine: bool,
) -> Option<Error<H::Error>> {
    let existing = existing?;
    let is_root = matches!(existing, NamedType::Type(TypeRef::Class(c)) if c.data().is_root());
    (!redefine || is_root)
        .then(|| Error::type_load(name, format!("a type named '{name}' is already defined")))
}

/// A [`Runtime`] that does not keep its types alive; see [`Runtime::downgrade`].
pub struct WeakRuntime<H: Host>(Weak<RuntimeInner<H>>);

impl<H: Host> Clone for WeakRuntime<H> {
    fn clone(&self) -> Self {
        WeakRuntime(self.0.clone())
    }
}

impl<H: Host> WeakRuntime<H> {
    /// The runtime, if it is still alive.
    pub fn upgrade(&self) -> Option<Runtime<H>> {
        self.0.upgrade().map(|inner| Runtime { inner })
    }
}

fn already_taken_over<H: Host>(
    name: &Arc<str>,
    old: &ClassRef<H>,
    newer: &ClassRef<H>,
) -> Error<H::Error> {
    Error::type_load(
        name,
        format!(
            "'{}' was already taken over by a newer '{}' (#{}): take over the newest version",
            old.name(),
            newer.name(),
            newer.uid()
        ),
    )
}

/// Drops a forward target retired by a takeover, after its grace period.
fn free_after_grace<H: Host>(class: ClassRef<H>) {
    // Under loom, a write that must happen after every follower's read (see `alive`).
    #[cfg(loom)]
    class.0.alive.write();
    drop(class);
}
