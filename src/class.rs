//! Classes: a single base class, virtual methods in vtable slots, interface maps, abstract
//! classes and the optional dynamic-castable hook (rules M1–M6).
//!
//! Everything static about a class is computed here, once, when it is defined: its ancestor
//! chain, its vtable, its full interface set and, for each of those interfaces, the body
//! every method slot resolves to. A metadata cast or a static call is then a couple of loads.

use std::fmt;
use std::sync::Arc;

use ahash::RandomState;
use hashbrown::{HashMap, HashSet};

use crate::call::Call;
use crate::call_site::SiteRegistry;
use crate::default_methods::{most_specific_default_indexed, DefaultResolution, Overrides};
use crate::dispatch_cache::DispatchCache;
use crate::error::{Error, InvalidOperation};
use crate::hook::{DynamicCastable, Hook, HookEntry};
use crate::host::{Body, CallResult, Entry, Host};
use crate::interface::{InterfaceData, InterfaceRef, MemberKind, MethodKey, MethodRef, TypeExpr};
use crate::reload::Grace;
use crate::runtime::{NamedType, Runtime, WeakRuntime};
use crate::same_definition::same_class;
use crate::sync::{AtomicPtr, Ordering};
use crate::types::{has_variance, next_uid, variant_compatible, TypeRef};

/// A vtable slot.
pub(crate) struct VirtualMethod<H: Host> {
    pub(crate) name: Arc<str>,
    pub(crate) arity: usize,
    /// `None` is abstract.
    pub(crate) body: Option<Body<H>>,
}

impl<H: Host> Clone for VirtualMethod<H> {
    fn clone(&self) -> Self {
        VirtualMethod {
            name: self.name.clone(),
            arity: self.arity,
            body: self.body.clone(),
        }
    }
}

/// How one interface method slot is served for a class, decided at definition time.
pub(crate) enum SlotImpl<H: Host> {
    /// The class's own method (through its vtable) or the most specific default.
    Body(Body<H>),
    /// Non-virtual members are never dispatched.
    NotVirtual,
    /// Only in abstract classes: nothing implements the slot.
    Missing,
    /// The most specific declaration re-abstracts the method (named interface).
    Reabstracted(Arc<str>),
    /// Unrelated most specific defaults (named interfaces).
    Ambiguous(Vec<Arc<str>>),
}

/// An entry of a class's interface index: an interface's uid and the bodies of its slots
/// (`None`: no body, see `ImplementedInterface::slots` for why), so a static call reads the
/// body straight from the entry it matched.
pub(crate) struct InterfaceIndex<H: Host> {
    /// 0 (never a uid) in an empty `primary_interface`.
    uid: u64,
    bodies: Box<[Option<Body<H>>]>,
}

impl<H: Host> InterfaceIndex<H> {
    fn of(imp: &ImplementedInterface<H>) -> Self {
        InterfaceIndex {
            uid: imp.iface.uid(),
            bodies: imp
                .slots
                .iter()
                .map(|slot| match slot {
                    SlotImpl::Body(body) => Some(body.clone()),
                    _ => None,
                })
                .collect(),
        }
    }

    fn empty() -> Self {
        InterfaceIndex {
            uid: 0,
            bodies: Box::new([]),
        }
    }

    #[inline(always)]
    fn body(&self, slot: u32) -> Option<&Body<H>> {
        self.bodies.get(slot as usize)?.as_ref()
    }
}

/// A class's primary interface, with the gate its fast paths compare against.
pub(crate) struct PrimaryInterface<H: Host> {
    /// The primary interface's uid, read by the inlined fast paths (static calls, exact
    /// casts) instead of `index.uid`. Live reload closes it (stores 0) when the class is
    /// taken over, so that those paths miss and go out of line, where the object's new
    /// class is followed: a host that never reloads pays nothing for the takeover check.
    /// A std atomic even under loom: a stale read only serves a call or cast from the old
    /// class's own tables (alive as long as it is), i.e. before the takeover.
    gate: std::sync::atomic::AtomicU64,
    /// What a static call through the primary interface calls, one entry per slot: the
    /// slot's body (owned by `index.bodies`), or the route to the slow path that reports
    /// why the slot has none. Invariant **primary entries**: exactly one entry per method
    /// slot of the interface whose uid `index.uid` is (`new` builds them so), so a slot of
    /// a method of that interface is always in bounds (see `ClassData::fast_entry`).
    entries: Box<[Entry<'static, H>]>,
    /// The first [`INLINE_SLOTS`] entries again, in the class itself: a static call of one
    /// of those slots (the usual case: most interfaces are small) reads its entry without
    /// the load of `entries`' pointer. Slots past the interface's methods route, and are
    /// never read.
    inline: [Entry<'static, H>; INLINE_SLOTS],
    index: InterfaceIndex<H>,
}

/// How many primary-interface entries a class keeps inline (`PrimaryInterface::inline`).
pub(crate) const INLINE_SLOTS: usize = 8;

impl<H: Host> PrimaryInterface<H> {
    fn new(index: InterfaceIndex<H>, slot_count: usize) -> Self {
        debug_assert_eq!(
            index.bodies.len(),
            slot_count,
            "one body slot per method slot"
        );
        // Invariant "primary entries": exactly `slot_count` entries, by construction (a
        // slot the index has no body for routes to the slow path, which reports why).
        let entries: Box<[Entry<'static, H>]> = (0..slot_count)
            .map(|slot| match index.bodies.get(slot) {
                // SAFETY: the entry borrows a body of `index.bodies`, which lives in the
                // same `PrimaryInterface` and is never replaced: the entries are only read
                // through `&self` (`ClassData::fast_entry` shortens `'static` to that).
                Some(Some(body)) => unsafe { body.entry_unbounded() },
                _ => Entry::route(crate::dispatch::beyond_fast_entry::<H>),
            })
            .collect();
        let inline = std::array::from_fn(|slot| match entries.get(slot) {
            Some(entry) => *entry,
            None => Entry::route(crate::dispatch::beyond_fast_entry::<H>),
        });
        PrimaryInterface {
            gate: std::sync::atomic::AtomicU64::new(index.uid),
            entries,
            inline,
            index,
        }
    }

    #[inline(always)]
    fn gate(&self) -> u64 {
        self.gate.load(Ordering::Relaxed)
    }
}

/// One interface of a class's full interface set, with its resolved slots.
pub(crate) struct ImplementedInterface<H: Host> {
    pub(crate) iface: InterfaceRef<H>,
    pub(crate) slots: Box<[SlotImpl<H>]>,
    /// The vtable slot each interface slot is mapped to, inherited by subclasses (whose
    /// overrides of that vtable slot then serve the interface too).
    mapping: Box<[Option<usize>]>,
}

/// Everything known about a class; immutable once defined.
pub(crate) struct ClassData<H: Host> {
    pub(crate) uid: u64,
    pub(crate) runtime: u64,
    pub(crate) name: Arc<str>,
    base: Option<ClassRef<H>>,
    /// The number of classes above this one (0 for the root class `object`).
    depth: usize,
    /// The uids of the first [`DISPLAY`] classes of the ancestor chain, the root class
    /// first (this class included when shallow enough; unused entries are 0, which no uid is). A subclass
    /// test against a shallow class is one load; deeper ones walk the base chain, so a
    /// class costs a fixed size however deep it sits (no copy of its whole ancestry).
    display: [u64; DISPLAY],
    /// A skip link up the chain: the ancestor at depth `depth & (depth - 1)` (the lowest set
    /// bit cleared), when that is not `base`. A subclass test against a deep class follows
    /// these, O(log² depth) steps instead of one per level.
    jump: Option<ClassRef<H>>,
    pub(crate) is_abstract: bool,
    pub(crate) vtable: Box<[VirtualMethod<H>]>,
    /// What `Object::call_virtual` calls, one entry per vtable slot: the slot's body
    /// (owned by `vtable`), or for an abstract slot the route to the slow path's error.
    /// Invariant **virtual entries**: as long as `vtable`, and only read through `&self`.
    virtual_entries: Box<[Entry<'static, H>]>,
    /// The class's uid, read by `Object::call_virtual`'s inlined test for an instance of
    /// the method's own class; live reload closes it (stores 0) as it closes the primary
    /// interface's gate, so that the call goes out of line and follows the takeover.
    virtual_gate: std::sync::atomic::AtomicU64,
    /// Every implemented interface (including bases): its uid and its slots' bodies;
    /// sorted by uid, parallel to `interfaces`.
    interface_index: Box<[InterfaceIndex<H>]>,
    interfaces: Box<[ImplementedInterface<H>]>,
    /// The class's primary interface (the first it lists, else its base class's primary)
    /// stored inline, so a static call through it reads the body two dependent loads
    /// from the class instead of three; others go through `interface_index`.
    primary_interface: PrimaryInterface<H>,
    pub(crate) hook: Option<Hook<H>>,
    /// The cast fast path's one compare (rule B2): the class's runtime id while it has a
    /// hook, implements no interface in its metadata, and has not been taken over (live
    /// reload closes it to 0, as the other gates); else 0. An interface's `runtime` equals
    /// it exactly when the interface belongs to that runtime: the metadata, with no
    /// interface at all, has said no (B1: no exact and no variance match), so the cast
    /// asks `hook_entry` straight away.
    hook_gate: std::sync::atomic::AtomicU64,
    /// `hook`'s thin entry point (a never-called one without a hook).
    hook_entry: HookEntry<H>,
    /// Present exactly when `hook` is: the per-type cache of dynamic resolutions (rule D1).
    /// Boxed, so that a class without a hook does not carry the cache's inline tables.
    pub(crate) dispatch_cache: Option<Box<DispatchCache<H>>>,
    /// Live reload: the class that took this one over (`ClassBuilder::take_over`), as a
    /// strong count from `Arc::into_raw`; null until then, and for every class of a host
    /// that never reloads. `Object::class_data` follows it (see `crate::reload`).
    pub(crate) forward: AtomicPtr<ClassData<H>>,
    /// The runtime's grace period for `forward` (shared by all its classes).
    pub(crate) grace: Arc<Grace>,
    /// Under loom: read by a reader that follows a `forward` to this class and written by
    /// the takeover that frees it after the grace period, so that loom reports a free
    /// that does not happen after the read (broken variant `FreeWithoutGrace`).
    #[cfg(loom)]
    pub(crate) alive: crate::reload::Alive,
    /// The call sites that cached this class, for a flush or a takeover to make their
    /// entries miss (live reload; see `call_site`).
    pub(crate) call_sites: SiteRegistry<H>,
    /// Whether its runtime allows live reload ([`Runtime::with_live_reload`]).
    pub(crate) live_reload: bool,
    /// Weak: a class's bodies run under it, and a strong handle would be a cycle. Last,
    /// away from the fields the call paths read.
    pub(crate) weak_runtime: WeakRuntime<H>,
}

/// How many ancestors a class records inline for its O(1) subclass test.
const DISPLAY: usize = 6;

/// Dropped iteratively: a chain of classes each held only by its subclass would otherwise
/// drop recursively, one stack frame per level.
impl<H: Host> Drop for ClassData<H> {
    fn drop(&mut self) {
        let forward = self.forward.swap(std::ptr::null_mut(), Ordering::Acquire);
        if !forward.is_null() {
            // SAFETY: a non-null `forward` is a strong count from `Arc::into_raw` that this
            // class owns (`Runtime::take_over`); with `&mut self` no reader follows it.
            // Its target is the newest version, whose own `forward` is null or points to a
            // newer one that forwards nowhere, so this does not recurse deeply.
            drop(unsafe { Arc::from_raw(forward) });
        }
        let mut next = self.base.take();
        while let Some(class) = next {
            next = Arc::into_inner(class.0).and_then(|mut data| data.base.take());
        }
    }
}

impl<H: Host> ClassData<H> {
    /// The base class's uid (`None` for the root class).
    pub(crate) fn base_uid(&self) -> Option<u64> {
        self.base.as_ref().map(|b| b.0.uid)
    }

    /// Every implemented interface with its resolved slots, sorted by uid.
    pub(crate) fn implemented(&self) -> &[ImplementedInterface<H>] {
        &self.interfaces
    }

    /// Live reload: makes the inlined fast paths miss on this class, which has just been
    /// taken over (`forward` is set), so that they go out of line and follow it. The
    /// static tables stay as they are (a call in flight may be reading them).
    pub(crate) fn close_fast_paths(&self) {
        self.primary_interface.gate.store(0, Ordering::Release);
        self.virtual_gate.store(0, Ordering::Release);
        self.hook_gate.store(0, Ordering::Release);
        if let Some(cache) = &self.dispatch_cache {
            cache.flush();
        }
    }

    pub(crate) fn is_root(&self) -> bool {
        self.depth == 0
    }

    /// Whether `target` is this class or one of its ancestors (rule B1): one load for a
    /// target among the first [`DISPLAY`] levels, else a walk up the base chain.
    #[inline]
    pub(crate) fn derives_from(&self, target: &ClassData<H>) -> bool {
        let level = target.depth;
        if level < DISPLAY {
            return self.display[level] == target.uid;
        }
        if level > self.depth {
            return false;
        }
        self.derives_from_deep(target)
    }

    #[cold]
    fn derives_from_deep(&self, target: &ClassData<H>) -> bool {
        if self.depth == target.depth {
            return self.uid == target.uid;
        }
        self.step_towards(target.depth)
            .and_then(|up| ancestor_at(up, target.depth))
            .is_some_and(|a| a.0.uid == target.uid)
    }

    /// The first step up towards depth `level` (below our own): the skip link if it does
    /// not overshoot, else the base.
    fn step_towards(&self, level: usize) -> Option<&ClassRef<H>> {
        match &self.jump {
            Some(jump) if jump.0.depth >= level => Some(jump),
            _ => self.base.as_ref(),
        }
    }

    /// The class's implementation of `iface`, by metadata (rule B1/C1): an exact match,
    /// else (for generics with variant parameters) a variance-compatible one.
    #[inline]
    pub(crate) fn find_interface(
        &self,
        iface: &InterfaceData<H>,
    ) -> Option<&ImplementedInterface<H>> {
        match self.interface_position(iface.uid) {
            Some(i) => Some(&self.interfaces[i]),
            None => self.find_by_variance(iface),
        }
    }

    /// The part of [`find_interface`](Self::find_interface) after the exact lookup: a
    /// variance-compatible instantiation of `iface`, in definition order.
    fn find_by_variance(&self, iface: &InterfaceData<H>) -> Option<&ImplementedInterface<H>> {
        if !has_variance(iface) {
            return None;
        }
        self.interfaces
            .iter()
            .find(|imp| variant_compatible(imp.iface.data(), iface))
    }

    /// Where interface `uid` sits in `interfaces`, by exact uid.
    #[inline]
    fn interface_position(&self, uid: u64) -> Option<usize> {
        let index = &self.interface_index[..];
        // Short sets are scanned: a few compares beat a binary search's branches.
        if index.len() <= 8 {
            index.iter().position(|e| e.uid == uid)
        } else {
            index.binary_search_by_key(&uid, |e| e.uid).ok()
        }
    }

    /// Whether the class implements interface `uid` exactly (not through variance).
    #[inline(always)]
    pub(crate) fn implements_exactly(&self, uid: u64) -> bool {
        // The primary interface first (one compare), as on the static call's path; no
        // primary means no interface at all (see `primary_interface`).
        let primary = self.primary_interface.gate();
        uid == primary || (primary != 0 && self.implements_other_exactly(uid))
    }

    /// The primary interface's uid as the fast paths compare it (0: no interface, or a
    /// class taken over).
    #[inline(always)]
    pub(crate) fn primary_gate(&self) -> u64 {
        self.primary_interface.gate()
    }

    /// Whether the class implements interface `uid` exactly, other than through the primary
    /// interface's gate.
    #[inline(always)]
    pub(crate) fn implements_other_exactly(&self, uid: u64) -> bool {
        self.interface_position(uid).is_some()
    }

    /// Whether the class implements a variance-compatible instantiation of `iface`.
    pub(crate) fn implements_by_variance(&self, iface: &InterfaceData<H>) -> bool {
        self.find_by_variance(iface).is_some()
    }

    /// What `Object::call` calls for a virtual interface method called with the right
    /// number of arguments (rules C1, D1): the body of a slot of the class's primary
    /// interface, else the cached resolution in its home slot of the per-type cache, else
    /// the route to the rest (`Object::call_beyond_static`). Always an entry, so the
    /// caller makes exactly one call.
    #[inline(always)]
    pub(crate) fn fast_entry(&self, method: &MethodRef<H>) -> Entry<'_, H> {
        let key = method.key;
        let slot = key.slot as usize;
        if key.iface == self.primary_interface.gate() {
            let primary = &self.primary_interface;
            // Most interfaces are small: their entries are in the class itself, one load
            // nearer than `entries` (the slot test is a compare of a register).
            if slot < INLINE_SLOTS {
                return primary.inline[slot];
            }
            debug_assert!(slot < primary.entries.len());
            // SAFETY: invariant "primary entries": the gate is the uid of the interface
            // the entries were built for (or 0, which no interface has), one entry per
            // method slot; `key.slot` is a method slot of interface `key.iface`
            // (`MethodRef::new` takes it from that interface's method table, and uids
            // are never reused), so it is in bounds.
            return *unsafe { primary.entries.get_unchecked(slot) };
        }
        // A hooked class's usual case: the resolution in its home slot of the per-type
        // cache (D1). A hit implies the metadata does not implement the interface (C1):
        // only resolutions of interfaces it did not answer are ever published, and a
        // class's metadata never changes.
        if let Some(cache) = &self.dispatch_cache {
            if let Some(hit) = cache.get_at_home(key, method.key_hash) {
                return hit.body.entry();
            }
        }
        Entry::route(crate::dispatch::beyond_fast_entry::<H>)
    }

    /// What `Object::call_virtual` calls for `method` with the right number of arguments
    /// on an instance of this class: the slot's entry when this class is the method's
    /// class or a shallow subclass of it and has not been taken over, else the route to
    /// the rest (`Object::call_virtual_slow`: deep subclasses, live reload, errors).
    #[inline(always)]
    pub(crate) fn virtual_entry(&self, method: &ClassMethodRef<H>) -> Entry<'_, H> {
        if self.virtual_gate.load(Ordering::Relaxed) == method.class_uid {
            // The method's own class (uids are never reused; a closed gate is 0, no uid):
            // its entry, kept in the reference.
            return method.entry;
        }
        let shallow_subclass = method.class_depth < DISPLAY
            && self.display[method.class_depth] == method.class_uid
            && self.forward.load(Ordering::Relaxed).is_null();
        if shallow_subclass {
            debug_assert!(method.slot < self.virtual_entries.len());
            // SAFETY: invariant "virtual entries" (one per vtable slot): this class derives
            // from the method's class, and a subclass's vtable starts with its ancestors'
            // slots, so the method's slot, a slot of its class's vtable
            // (`ClassRef::virtual_method`), is in bounds.
            return *unsafe { self.virtual_entries.get_unchecked(method.slot) };
        }
        Entry::route(crate::dispatch::call_virtual_route::<H>)
    }

    /// The hook a cast asks about `iface` straight after the inlined exact check missed,
    /// when one compare settles that the hook is the whole remaining answer (see
    /// `hook_gate`); `None` sends the cast out of line.
    #[inline(always)]
    pub(crate) fn hook_for_cast(&self, iface: &InterfaceData<H>) -> Option<HookEntry<H>> {
        (iface.runtime == self.hook_gate.load(Ordering::Relaxed)).then_some(self.hook_entry)
    }

    /// The body serving `key` when the class implements `key`'s interface exactly (not
    /// through variance), other than its primary interface, and the slot has one.
    pub(crate) fn secondary_static_body(&self, key: MethodKey) -> Option<&Body<H>> {
        // No primary interface means no interface at all (see `primary_interface`); a
        // class taken over has its gate closed and is not asked.
        if self.primary_interface.gate() == 0 {
            return None;
        }
        let i = self.interface_position(key.iface)?;
        self.interface_index.get(i)?.body(key.slot)
    }
}

/// The ancestor of `class` (itself included) at depth `level`, following skip links.
fn ancestor_at<H: Host>(class: &ClassRef<H>, level: usize) -> Option<&ClassRef<H>> {
    let mut class = class;
    while class.0.depth > level {
        class = class.0.step_towards(level)?;
    }
    (class.0.depth == level).then_some(class)
}

/// A handle to a defined class. Cheap to clone; equality is identity.
pub struct ClassRef<H: Host>(pub(crate) Arc<ClassData<H>>);

impl<H: Host> Clone for ClassRef<H> {
    fn clone(&self) -> Self {
        ClassRef(self.0.clone())
    }
}
impl<H: Host> PartialEq for ClassRef<H> {
    fn eq(&self, other: &Self) -> bool {
        self.0.uid == other.0.uid
    }
}
impl<H: Host> Eq for ClassRef<H> {}
impl<H: Host> std::hash::Hash for ClassRef<H> {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        self.0.uid.hash(state)
    }
}
impl<H: Host> fmt::Debug for ClassRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "class {}", self.0.name)
    }
}
impl<H: Host> fmt::Display for ClassRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl<H: Host> ClassRef<H> {
    pub(crate) fn data(&self) -> &ClassData<H> {
        &self.0
    }

    /// The class's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The process-wide unique id of the class.
    pub fn uid(&self) -> u64 {
        self.0.uid
    }

    /// The base class (`None` only for the runtime's root class `object`).
    pub fn base(&self) -> Option<&ClassRef<H>> {
        self.0.base.as_ref()
    }

    /// Whether the class is abstract (has no instances).
    pub fn is_abstract(&self) -> bool {
        self.0.is_abstract
    }

    /// Whether the class (or a base) carries a dynamic-castable hook.
    pub fn has_hook(&self) -> bool {
        self.0.hook.is_some()
    }

    /// The class's hook as the embedder gave it, if it has one and it is a `T`.
    #[cfg(feature = "lua")]
    pub(crate) fn hook_as<T: DynamicCastable<H>>(&self) -> Option<&T> {
        self.0.hook.as_ref()?.downcast_ref()
    }

    /// The runtime the class belongs to, for hooks and embedder code that have an object
    /// but no runtime at hand (`obj.class().runtime()`; a body has
    /// [`Call::runtime`](crate::Call::runtime)). Classes keep only a weak handle (no cycle
    /// through their own bodies and hooks), so this fails with
    /// [`InvalidOperation::RuntimeDropped`] once every [`Runtime`] handle is gone.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime};
    /// let rt = Runtime::<DynHost>::new();
    /// let point = rt.class("Point").define()?;
    /// assert_eq!(point.runtime()?.id(), rt.id());
    /// drop(rt);
    /// assert_eq!(point.runtime().unwrap_err().kind(), "InvalidOperation");
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn runtime(&self) -> Result<Runtime<H>, Error<H::Error>> {
        self.0.weak_runtime.upgrade().ok_or_else(|| {
            Error::InvalidOperation(InvalidOperation::RuntimeDropped {
                type_name: self.0.name.clone(),
            })
        })
    }

    /// Every interface the class implements by metadata, including base interfaces.
    pub fn interfaces(&self) -> Vec<InterfaceRef<H>> {
        self.0.interfaces.iter().map(|i| i.iface.clone()).collect()
    }

    /// The virtual method called `name` (declared here or inherited), to call with
    /// [`Object::call_virtual`](crate::Object::call_virtual).
    ///
    /// ```
    /// use dynacast::{body, DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let base = rt.class("Base").virtual_method("who", 0, |_| Ok(Value::from("base"))).define()?;
    /// let derived = rt
    ///     .class("Derived")
    ///     .base(&base)
    ///     .override_method("who", |_| Ok(Value::from("derived")))
    ///     .define()?;
    /// let obj = rt.new_object(&derived, Value::Nil)?;
    /// assert_eq!(obj.call_virtual(&base.virtual_method("who")?, &[], &mut ())?, Value::from("derived"));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn virtual_method(&self, name: &str) -> Result<ClassMethodRef<H>, Error<H::Error>> {
        self.0
            .vtable
            .iter()
            .position(|m| &*m.name == name)
            .map(|slot| ClassMethodRef {
                class: self.clone(),
                slot,
                arity: self.0.vtable[slot].arity,
                class_uid: self.0.uid,
                class_depth: self.0.depth,
                entry: self.0.virtual_entries[slot],
            })
            .ok_or_else(|| Error::MissingMember {
                type_name: self.0.name.clone(),
                member: Arc::from(name),
            })
    }

    /// This class as a [`TypeRef`].
    pub fn as_type(&self) -> TypeRef<H> {
        TypeRef::Class(self.clone())
    }

    /// The number of dynamic resolutions cached for this class (0 without a hook).
    pub fn cached_resolutions(&self) -> usize {
        self.0.dispatch_cache.as_ref().map_or(0, |c| c.len())
    }

    /// Empties the class's cache of dynamic resolutions (live reload): the next call of each
    /// method through an interface the class does not implement asks its hook's
    /// `get_interface_implementation` again, and call sites that served the class miss
    /// once. A call in flight on another thread finishes with the body it found; nothing
    /// here waits for it, so a body or a hook may flush its own class. Memory stays bounded
    /// over any number of flushes (see `README.md`, "Live reload"). A class without a hook
    /// has nothing to flush. Subclasses have caches of their own: flush them too, or use
    /// [`Runtime::flush`].
    ///
    /// ```
    /// # use dynacast::{DynError, DynHost, DynamicCastable, InterfaceRef, Object, Runtime, TypeRef, Value};
    /// # use std::sync::atomic::{AtomicUsize, Ordering};
    /// # use std::sync::Arc;
    /// struct Hook(InterfaceRef<DynHost>, Arc<AtomicUsize>);
    /// impl DynamicCastable<DynHost> for Hook {
    ///     fn get_interface_implementation(&self, _: &Object<DynHost>, _: &InterfaceRef<DynHost>, _: &mut ()) -> Result<Option<TypeRef<DynHost>>, DynError> {
    ///         self.1.fetch_add(1, Ordering::Relaxed);
    ///         Ok(Some(self.0.as_type()))
    ///     }
    /// }
    /// let (rt, cx) = (Runtime::<DynHost>::with_live_reload(), &mut ());
    /// let greet = rt.interface("IGreet").abstract_method("hello", 0).define()?;
    /// let greet_impl = rt.interface("IGreetImpl").base(&greet)
    ///     .override_base(&greet, "hello", |_| Ok(Value::from("hi")))
    ///     .dynamic_castable_implementation().define()?;
    /// let asked = Arc::new(AtomicUsize::new(0));
    /// let proxy = rt.class("Proxy").hook(Hook(greet_impl, asked.clone())).define()?;
    /// let obj = rt.new_object(&proxy, Value::Nil)?;
    /// let hello = greet.method("hello")?;
    /// obj.call(&hello, &[], cx)?;
    /// obj.call(&hello, &[], cx)?;
    /// assert_eq!(asked.load(Ordering::Relaxed), 1); // cached
    /// proxy.flush()?;
    /// obj.call(&hello, &[], cx)?;
    /// assert_eq!(asked.load(Ordering::Relaxed), 2); // asked again
    /// # Ok::<(), DynError>(())
    /// ```
    ///
    /// Fails with [`InvalidOperation::LiveReloadDisabled`] in a runtime made with
    /// [`Runtime::new`] (see [`Runtime::with_live_reload`]): its call sites keep their
    /// entries where a flush cannot reach them.
    pub fn flush(&self) -> Result<(), Error<H::Error>> {
        if !self.0.live_reload {
            return Err(crate::runtime::live_reload_disabled(&self.0.name));
        }
        if let Some(cache) = &self.0.dispatch_cache {
            cache.flush();
            self.0.call_sites.invalidate(&self.0);
        }
        Ok(())
    }

    /// How many flushed tables of this class's dispatch cache still wait for readers on
    /// other threads to leave them (they are freed at a later flush or with the class).
    /// For tests and diagnostics of live reload's memory bound.
    pub fn tables_awaiting_reclamation(&self) -> usize {
        self.0
            .dispatch_cache
            .as_ref()
            .map_or(0, |c| c.retired_tables())
    }

    /// The class that took this one's objects over (live reload: the newest version), if
    /// one did.
    pub fn successor(&self) -> Option<ClassRef<H>> {
        crate::object::follow(&self.0)
    }

    /// The implementation interface whose default serves `method` on this class, if a
    /// dynamic resolution of it is cached (for diagnostics: which answer of the hook won).
    pub fn cached_implementation(&self, method: &MethodRef<H>) -> Option<InterfaceRef<H>> {
        let cache = self.0.dispatch_cache.as_ref()?;
        let hit = cache.find(method.key)?;
        Some(hit.resolved().implementation.clone())
    }
}

/// A virtual method of a class: a vtable slot, called with
/// [`Object::call_virtual`](crate::Object::call_virtual) on instances of the class or its
/// subclasses. Get it with [`ClassRef::virtual_method`]; an interface's method is a
/// [`MethodRef`] for [`Object::call`](crate::Object::call) instead.
pub struct ClassMethodRef<H: Host> {
    pub(crate) class: ClassRef<H>,
    pub(crate) slot: usize,
    /// Copies of the slot's arity (the same in every subclass: an override keeps it) and
    /// of the class's uid and depth, so `Object::call_virtual`'s inlined test reads them
    /// from the reference itself rather than through the class.
    pub(crate) arity: usize,
    pub(crate) class_uid: u64,
    pub(crate) class_depth: usize,
    /// The class's own entry for the slot (its body, or the route for an abstract slot),
    /// copied here so that a call on an instance of exactly this class reads it from the
    /// reference (no load through the class's table). It borrows the body that `class`
    /// keeps alive for as long as this reference exists (invariant "virtual entries").
    entry: Entry<'static, H>,
}

impl<H: Host> Clone for ClassMethodRef<H> {
    fn clone(&self) -> Self {
        ClassMethodRef {
            class: self.class.clone(),
            slot: self.slot,
            arity: self.arity,
            class_uid: self.class_uid,
            class_depth: self.class_depth,
            entry: self.entry,
        }
    }
}
impl<H: Host> fmt::Debug for ClassMethodRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.class.name(), self.name())
    }
}

impl<H: Host> ClassMethodRef<H> {
    /// The class the method was looked up on.
    pub fn class(&self) -> &ClassRef<H> {
        &self.class
    }
    /// The method's name.
    pub fn name(&self) -> &str {
        &self.class.0.vtable[self.slot].name
    }
    /// The number of arguments (not counting `this`).
    pub fn arity(&self) -> usize {
        self.arity
    }
}

/// An explicit interface-map entry, as written.
struct MapEntry<H: Host> {
    iface: TypeExpr<H>,
    iface_method: Arc<str>,
    class_method: Arc<str>,
}

/// Builds a class. Get one from [`Runtime::class`]; problems are reported by
/// [`define`](Self::define) as [`Error::TypeLoad`].
#[must_use = "a class is only defined by calling define()"]
pub struct ClassBuilder<H: Host> {
    rt: Runtime<H>,
    name: Arc<str>,
    base: Option<TypeExpr<H>>,
    is_abstract: bool,
    methods: Vec<VirtualMethod<H>>,
    overrides: Vec<(Arc<str>, Body<H>)>,
    interfaces: Vec<TypeExpr<H>>,
    maps: Vec<MapEntry<H>>,
    hook: Option<Hook<H>>,
    redefine: bool,
    take_over: Option<ClassRef<H>>,
}

impl<H: Host> ClassBuilder<H> {
    pub(crate) fn new(rt: Runtime<H>, name: &str) -> Self {
        ClassBuilder {
            rt,
            name: Arc::from(name),
            base: None,
            is_abstract: false,
            methods: Vec::new(),
            overrides: Vec::new(),
            interfaces: Vec::new(),
            maps: Vec::new(),
            hook: None,
            redefine: false,
            take_over: None,
        }
    }

    /// Sets the base class (default: the runtime's root class `object`).
    pub fn base(mut self, base: impl Into<TypeExpr<H>>) -> Self {
        self.base = Some(base.into());
        self
    }

    /// Makes the class abstract: it may leave methods unimplemented and has no instances.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.class("Shape").abstract_class().abstract_method("area", 0).define()?;
    /// let err = rt.new_object(&shape, Value::Nil).unwrap_err();
    /// assert_eq!(err.to_string(), "Cannot create an instance of the abstract class 'Shape'.");
    /// // A concrete class may not leave a method abstract.
    /// let err = rt.class("Blob").base(&shape).define().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Could not load type 'Blob': the class is not abstract but leaves method 'area' abstract"
    /// );
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn abstract_class(mut self) -> Self {
        self.is_abstract = true;
        self
    }

    /// Declares a new virtual method (a new vtable slot) with its body (a closure taking a
    /// [`Call`]).
    pub fn virtual_method<F>(self, name: &str, arity: usize, body: F) -> Self
    where
        F: Fn(Call<'_, H>) -> CallResult<H> + Send + Sync + 'static,
    {
        self.virtual_method_body(name, arity, crate::host::body(body))
    }

    /// [`virtual_method`](Self::virtual_method) with a prebuilt, shared [`Body`].
    pub fn virtual_method_body(mut self, name: &str, arity: usize, body: Body<H>) -> Self {
        self.methods.push(VirtualMethod {
            name: Arc::from(name),
            arity,
            body: Some(body),
        });
        self
    }

    /// Declares a new abstract virtual method (the class must be abstract).
    pub fn abstract_method(mut self, name: &str, arity: usize) -> Self {
        self.methods.push(VirtualMethod {
            name: Arc::from(name),
            arity,
            body: None,
        });
        self
    }

    /// Overrides an inherited virtual method.
    pub fn override_method<F>(self, name: &str, body: F) -> Self
    where
        F: Fn(Call<'_, H>) -> CallResult<H> + Send + Sync + 'static,
    {
        self.override_method_body(name, crate::host::body(body))
    }

    /// [`override_method`](Self::override_method) with a prebuilt, shared [`Body`].
    pub fn override_method_body(mut self, name: &str, body: Body<H>) -> Self {
        self.overrides.push((Arc::from(name), body));
        self
    }

    /// Implements an interface. Its methods (and its bases' methods) are mapped to the
    /// class's virtual methods of the same name and arity, unless [`map`](Self::map) says
    /// otherwise; what stays unmapped falls back to the interfaces' default bodies.
    pub fn implement(mut self, iface: impl Into<TypeExpr<H>>) -> Self {
        self.interfaces.push(iface.into());
        self
    }

    /// Maps `iface.iface_method` to the class's virtual method `class_method` (C#'s
    /// explicit interface implementation).
    ///
    /// ```
    /// use dynacast::{body, DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.interface("IShape").abstract_method("area", 0).define()?;
    /// let square = rt
    ///     .class("Square")
    ///     .implement(&shape)
    ///     .virtual_method("surface", 0, |_| Ok(Value::Int(4)))
    ///     .map(&shape, "area", "surface")
    ///     .define()?;
    /// let obj = rt.new_object(&square, Value::Nil)?;
    /// assert_eq!(obj.call(&shape.method("area")?, &[], &mut ())?, Value::Int(4));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn map(
        mut self,
        iface: impl Into<TypeExpr<H>>,
        iface_method: &str,
        class_method: &str,
    ) -> Self {
        self.maps.push(MapEntry {
            iface: iface.into(),
            iface_method: Arc::from(iface_method),
            class_method: Arc::from(class_method),
        });
        self
    }

    /// Gives the class a dynamic-castable hook (inherited by subclasses, which may replace it).
    pub fn hook(mut self, hook: impl DynamicCastable<H>) -> Self {
        self.hook = Some(Hook::new(hook));
        self
    }

    /// Gives the class a hook shared with other classes.
    pub fn shared_hook(mut self, hook: Arc<dyn DynamicCastable<H>>) -> Self {
        self.hook = Some(Hook::shared(hook));
        self
    }

    /// Lets the definition take over the name of an existing type (hot reload). Existing
    /// objects keep their old class, unless the definition also [takes them
    /// over](Self::take_over).
    pub fn redefine(mut self) -> Self {
        self.redefine = true;
        self
    }

    /// Live reload: once defined, the new class takes over the live objects of `old` (and
    /// of every class `old` took over): from then on they cast and dispatch as instances
    /// of the new class, payload kept ([`Object::current_class`](crate::Object::current_class)
    /// names it; [`Object::class`](crate::Object::class) stays the class they were created
    /// with). A call in flight finishes on the class it started with; a cast or call that
    /// races with the switch sees the old class or the new one, never a mix. An object
    /// cast to an interface the new class no longer implements simply follows the new
    /// class's rules at its next call (`InvalidCast`, or the new hook's answer). Subclasses
    /// of `old` are classes of their own: they keep deriving from `old` until they are
    /// redefined too.
    ///
    /// Fails with a `TypeLoad` error (and defines nothing) if the runtime was made without
    /// live reload ([`Runtime::with_live_reload`]), if `old` belongs to another
    /// runtime, was already taken over (take over the newest version instead), or if the
    /// new class is abstract (objects need a concrete class). Of two definitions racing
    /// to take over the same class, the one that loses fails the same way, its class
    /// already registered under its name. A definition that is the same as the registered
    /// class (see [`define`](Self::define)) returns it and takes nothing over.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let (rt, cx) = (Runtime::<DynHost>::with_live_reload(), &mut ());
    /// let shape = rt.interface("IShape").abstract_method("area", 0).define()?;
    /// let v1 = rt.class("Square").implement(&shape)
    ///     .virtual_method("area", 0, |call| Ok(Value::Int(call.payload().as_int().unwrap_or(0).pow(2))))
    ///     .define()?;
    /// let obj = rt.new_object(&v1, Value::Int(3))?;
    /// let area = shape.method("area")?;
    /// assert_eq!(obj.call(&area, &[], cx)?, Value::Int(9));
    /// // The edited script: area is now ten times larger; `obj` follows, payload kept.
    /// let v2 = rt.class("Square").redefine().take_over(&v1).implement(&shape)
    ///     .virtual_method("area", 0, |call| Ok(Value::Int(10 * call.payload().as_int().unwrap_or(0).pow(2))))
    ///     .define()?;
    /// assert_eq!(obj.call(&area, &[], cx)?, Value::Int(90));
    /// assert_eq!(obj.current_class(), v2);
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn take_over(mut self, old: &ClassRef<H>) -> Self {
        self.take_over = Some(old.clone());
        self
    }

    /// Defines the class and registers its name. If the name is taken by a class with the
    /// same definition (live reload: same shape, and the same `Body` values and hook
    /// `Arc`), returns that class instead, with or without [`redefine`](Self::redefine).
    ///
    /// ```
    /// use dynacast::{body, DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.interface("IShape").abstract_method("area", 0).define()?;
    /// let square = rt
    ///     .class("Square")
    ///     .implement(&shape)
    ///     .virtual_method("area", 0, |_| Ok(Value::Int(4)))
    ///     .define()?;
    /// let obj = rt.new_object(&square, Value::Nil)?;
    /// assert_eq!(obj.call(&shape.method("area")?, &[], &mut ())?, Value::Int(4));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn define(self) -> Result<ClassRef<H>, Error<H::Error>> {
        let rt = self.rt.clone();
        let name = self.name.clone();
        let redefine = self.redefine;
        if name.is_empty() {
            return Err(Error::type_load(&name, "a type needs a non-empty name"));
        }
        let base = match &self.base {
            None => rt.object_class().clone(),
            Some(TypeExpr::Named(n)) if *n == name => {
                return Err(Error::type_load(
                    &name,
                    format!("inheritance cycle: '{name}' cannot derive from itself"),
                ))
            }
            Some(expr) => match expr.bind_names(&rt, &name)?.resolve(rt.id(), &[], &name)? {
                TypeRef::Class(c) => c,
                TypeRef::Interface(i) => {
                    return Err(Error::type_load(
                        &name,
                        format!("base type '{}' is an interface, not a class", i.name()),
                    ))
                }
            },
        };
        let mut interfaces = Vec::with_capacity(self.interfaces.len());
        for expr in &self.interfaces {
            match expr.bind_names(&rt, &name)?.resolve(rt.id(), &[], &name)? {
                TypeRef::Interface(i) => interfaces.push(i),
                TypeRef::Class(c) => {
                    return Err(Error::type_load(
                        &name,
                        format!(
                            "'{}' in the interface list is a class, not an interface",
                            c.name()
                        ),
                    ))
                }
            }
        }
        let mut maps = Vec::with_capacity(self.maps.len());
        for m in &self.maps {
            match m
                .iface
                .bind_names(&rt, &name)?
                .resolve(rt.id(), &[], &name)?
            {
                TypeRef::Interface(i) => {
                    maps.push((i, m.iface_method.clone(), m.class_method.clone()))
                }
                TypeRef::Class(c) => {
                    return Err(Error::type_load(
                        &name,
                        format!(
                            "'{}' in an interface map is a class, not an interface",
                            c.name()
                        ),
                    ))
                }
            }
        }
        let weak_runtime = rt.downgrade();
        let grace = rt.grace();
        let take_over = self.take_over.clone();
        if let Some(old) = &take_over {
            rt.check_take_over(old, &name, self.is_abstract)?;
        }
        let same_as = |existing: &NamedType<H>, built: &ClassRef<H>| match existing {
            NamedType::Type(TypeRef::Class(c)) if same_class(c.data(), built.data()) => {
                Some(c.clone())
            }
            _ => None,
        };
        let class = rt.register(
            &name,
            redefine,
            |runtime| {
                let class = ClassRef(Arc::new(self.build(
                    runtime,
                    weak_runtime,
                    grace,
                    &base,
                    &interfaces,
                    &maps,
                )?));
                Ok((NamedType::Type(TypeRef::Class(class.clone())), class))
            },
            same_as,
        )?;
        rt.track_hooked(&class);
        match &take_over {
            // The same definition as `old`'s: `old` itself, nothing to take over.
            Some(old) if *old != class => rt.take_over(old, &class)?,
            _ => {}
        }
        Ok(class)
    }

    fn build(
        self,
        runtime: u64,
        weak_runtime: WeakRuntime<H>,
        grace: Arc<Grace>,
        base: &ClassRef<H>,
        listed: &[InterfaceRef<H>],
        maps: &[(InterfaceRef<H>, Arc<str>, Arc<str>)],
    ) -> Result<ClassData<H>, Error<H::Error>> {
        let name = &self.name;
        let base_data = base.data();

        // The vtable: inherited slots, then our own new ones, then our overrides. Look-ups
        // by name go through `slot_of` (hashed), so a definition is linear in its size.
        let mut vtable: Vec<VirtualMethod<H>> = base_data.vtable.to_vec();
        let mut slot_of: HashMap<Arc<str>, usize, RandomState> = vtable
            .iter()
            .enumerate()
            .map(|(slot, v)| (v.name.clone(), slot))
            .collect();
        for m in self.methods {
            if slot_of.insert(m.name.clone(), vtable.len()).is_some() {
                return Err(Error::type_load(
                    name,
                    format!(
                        "method '{}' is declared twice (an inherited method is replaced with override_method)",
                        m.name
                    ),
                ));
            }
            vtable.push(m);
        }
        let mut overridden: HashSet<&str, RandomState> = HashSet::default();
        for (method, body) in &self.overrides {
            if !overridden.insert(method) {
                return Err(Error::type_load(
                    name,
                    format!("method '{method}' is overridden twice"),
                ));
            }
            let slot = slot_of
                .get(method)
                .copied()
                .filter(|slot| *slot < base_data.vtable.len())
                .ok_or_else(|| {
                    Error::type_load(
                        name,
                        format!("there is no inherited virtual method '{method}' to override"),
                    )
                })?;
            vtable[slot].body = Some(body.clone());
        }
        if !self.is_abstract {
            if let Some(m) = vtable.iter().find(|m| m.body.is_none()) {
                return Err(Error::type_load(
                    name,
                    format!(
                        "the class is not abstract but leaves method '{}' abstract",
                        m.name
                    ),
                ));
            }
        }

        // The full interface set: the base class's, then the listed ones with their bases.
        let mut set: Vec<InterfaceRef<H>> = base_data
            .interfaces
            .iter()
            .map(|i| i.iface.clone())
            .collect();
        let mut in_set: HashSet<u64, RandomState> = set.iter().map(|i| i.uid()).collect();
        let mut relisted: HashSet<u64, RandomState> = HashSet::default();
        for iface in listed {
            for i in std::iter::once(iface).chain(iface.all_bases().iter()) {
                if in_set.insert(i.uid()) {
                    set.push(i.clone());
                }
                relisted.insert(i.uid());
            }
        }

        // Explicit maps, checked and turned into (method key → vtable slot).
        let mut explicit: HashMap<MethodKey, usize, RandomState> = HashMap::default();
        for (iface, iface_method, class_method) in maps {
            if !in_set.contains(&iface.uid()) {
                return Err(Error::type_load(
                    name,
                    format!(
                        "maps a method of '{}', which the class does not implement",
                        iface.name()
                    ),
                ));
            }
            let method = iface
                .find_method(iface_method)
                .filter(|m| m.is_virtual())
                .ok_or_else(|| {
                    Error::type_load(
                        name,
                        format!(
                            "interface '{}' has no virtual method '{iface_method}'",
                            iface.name()
                        ),
                    )
                })?;
            let slot = slot_of.get(class_method).copied().ok_or_else(|| {
                Error::type_load(
                    name,
                    format!("the class has no virtual method '{class_method}' to map"),
                )
            })?;
            if vtable[slot].arity != method.arity() {
                return Err(Error::type_load(
                    name,
                    format!(
                        "cannot map '{}.{iface_method}' ({} argument(s)) to '{class_method}' ({} argument(s))",
                        method.interface().name(),
                        method.arity(),
                        vtable[slot].arity
                    ),
                ));
            }
            if explicit.insert(method.key, slot).is_some() {
                return Err(Error::type_load(
                    name,
                    format!(
                        "'{}.{iface_method}' is mapped twice",
                        method.interface().name()
                    ),
                ));
            }
        }

        // Resolve every slot of every interface in the set.
        let mut implemented: Vec<ImplementedInterface<H>> = Vec::with_capacity(set.len());
        // Built on first need: each interface's position in `set`, and where overrides sit.
        let mut search_index: Option<(HashMap<u64, usize, RandomState>, Overrides)> = None;
        for iface in &set {
            // The base's set is sorted by uid.
            let inherited = base_data
                .interfaces
                .binary_search_by_key(&iface.uid(), |i| i.iface.uid())
                .ok()
                .and_then(|i| base_data.interfaces.get(i));
            let is_relisted = relisted.contains(&iface.uid());
            let decls = &iface.data().methods;
            let mut slots = Vec::with_capacity(decls.len());
            let mut mapping = Vec::with_capacity(decls.len());
            for (slot, decl) in decls.iter().enumerate() {
                if !matches!(decl.kind, MemberKind::Virtual(_)) {
                    slots.push(SlotImpl::NotVirtual);
                    mapping.push(None);
                    continue;
                }
                let key = MethodKey {
                    iface: iface.uid(),
                    slot: slot as u32,
                };
                let by_name = || {
                    slot_of
                        .get(&decl.name)
                        .copied()
                        .filter(|v| vtable.get(*v).is_some_and(|v| v.arity == decl.arity))
                };
                // A class method of the interface method's name but another arity is a
                // mistake, default body or not (rule C1's name-and-arity match).
                if is_relisted && !explicit.contains_key(&key) {
                    if let Some(v) = slot_of.get(&decl.name).and_then(|v| vtable.get(*v)) {
                        if v.arity != decl.arity {
                            return Err(Error::type_load(
                                name,
                                format!(
                                    "'{name}.{}' takes {} argument(s) but interface method '{}.{}' takes {}",
                                    v.name,
                                    v.arity,
                                    iface.name(),
                                    decl.name,
                                    decl.arity
                                ),
                            ));
                        }
                    }
                }
                let mapped = explicit
                    .get(&key)
                    .copied()
                    .or_else(|| if is_relisted { by_name() } else { None })
                    .or_else(|| inherited.and_then(|i| i.mapping[slot]));
                mapping.push(mapped);
                let resolved = match mapped {
                    Some(v) => match &vtable[v].body {
                        Some(body) => SlotImpl::Body(body.clone()),
                        None => SlotImpl::Missing,
                    },
                    None => {
                        let method = MethodRef::new(iface.clone(), slot);
                        let (positions, overrides) = search_index.get_or_insert_with(|| {
                            let positions: HashMap<u64, usize, RandomState> =
                                (0..).zip(set.iter()).map(|(n, i)| (i.uid(), n)).collect();
                            let overrides =
                                Overrides::of(set.iter().map(|i| &i.data().overrides[..]));
                            (positions, overrides)
                        });
                        let at = |n: usize| set.get(n);
                        let position_of = |uid| positions.get(&uid).copied();
                        match most_specific_default_indexed(
                            set.iter(),
                            at,
                            position_of,
                            overrides,
                            &method,
                        ) {
                            DefaultResolution::Body(b) => SlotImpl::Body(b),
                            DefaultResolution::Missing => SlotImpl::Missing,
                            DefaultResolution::Reabstracted(r) => SlotImpl::Reabstracted(r),
                            DefaultResolution::Ambiguous(c) => SlotImpl::Ambiguous(c),
                        }
                    }
                };
                if !self.is_abstract && matches!(resolved, SlotImpl::Missing) {
                    return Err(Error::type_load(
                        name,
                        format!(
                            "the class is not abstract but does not implement interface method '{}.{}'",
                            iface.name(),
                            decl.name
                        ),
                    ));
                }
                slots.push(resolved);
            }
            implemented.push(ImplementedInterface {
                iface: iface.clone(),
                slots: slots.into_boxed_slice(),
                mapping: mapping.into_boxed_slice(),
            });
        }
        implemented.sort_by_key(|i| i.iface.uid());

        let uid = next_uid();
        let depth = base_data.depth + 1;
        let mut display = base_data.display;
        if let Some(entry) = display.get_mut(depth) {
            *entry = uid;
        }
        let jump_level = depth & (depth - 1);
        let jump = if jump_level + 1 < depth {
            ancestor_at(base, jump_level).cloned()
        } else {
            None
        };
        let hook = self.hook.or_else(|| base_data.hook.clone());
        let hook_gate = if hook.is_some() && implemented.is_empty() {
            runtime
        } else {
            0
        };
        Ok(ClassData {
            uid,
            runtime,
            weak_runtime,
            name: self.name.clone(),
            base: Some(base.clone()),
            depth,
            display,
            jump,
            is_abstract: self.is_abstract,
            virtual_entries: virtual_entries(&vtable),
            virtual_gate: std::sync::atomic::AtomicU64::new(uid),
            vtable: vtable.into_boxed_slice(),
            interface_index: implemented.iter().map(InterfaceIndex::of).collect(),
            primary_interface: primary_interface(listed, base_data, &implemented),
            interfaces: implemented.into_boxed_slice(),
            dispatch_cache: hook.as_ref().map(|_| Box::new(DispatchCache::new())),
            hook_gate: std::sync::atomic::AtomicU64::new(hook_gate),
            hook_entry: hook.as_ref().map_or_else(HookEntry::none, Hook::entry),
            hook,
            forward: AtomicPtr::new(std::ptr::null_mut()),
            grace,
            #[cfg(loom)]
            alive: crate::reload::Alive::new(),
            call_sites: SiteRegistry::new(),
            live_reload: base_data.live_reload,
        })
    }
}

/// The class's primary interface: the first one it lists, else its base class's primary
/// (whose slots this class may override, so its entry is rebuilt from `implemented`).
/// Empty (uid 0) exactly when the class implements no interface: its set is its base's
/// plus what it lists, so an empty primary all the way up the chain means an empty set.
fn primary_interface<H: Host>(
    listed: &[InterfaceRef<H>],
    base: &ClassData<H>,
    implemented: &[ImplementedInterface<H>],
) -> PrimaryInterface<H> {
    let uid = listed
        .first()
        .map_or(base.primary_interface.index.uid, |i| i.uid());
    match implemented.iter().find(|i| i.iface.uid() == uid) {
        Some(imp) => PrimaryInterface::new(InterfaceIndex::of(imp), imp.iface.data().methods.len()),
        None => PrimaryInterface::new(InterfaceIndex::empty(), 0),
    }
}

/// A class's `virtual_entries`, built from its vtable (invariant "virtual entries").
fn virtual_entries<H: Host>(vtable: &[VirtualMethod<H>]) -> Box<[Entry<'static, H>]> {
    vtable
        .iter()
        .map(|slot| match &slot.body {
            // SAFETY: the entry points at the closure inside the `Arc` of a body of the
            // class's `vtable` (moving the `Body` does not move it), which the class keeps
            // and never replaces; the entries are only read through `&self`
            // (`ClassData::virtual_entry` shortens `'static` to that).
            Some(body) => unsafe { body.entry_unbounded() },
            None => Entry::route(crate::dispatch::call_virtual_route::<H>),
        })
        .collect()
}

/// The runtime's root class `object`, base of every class.
pub(crate) fn root_class<H: Host>(
    runtime: u64,
    weak_runtime: WeakRuntime<H>,
    grace: Arc<Grace>,
    live_reload: bool,
) -> ClassRef<H> {
    let uid = next_uid();
    ClassRef(Arc::new(ClassData {
        uid,
        runtime,
        weak_runtime,
        name: Arc::from("object"),
        base: None,
        depth: 0,
        display: std::array::from_fn(|level| if level == 0 { uid } else { 0 }),
        jump: None,
        is_abstract: false,
        vtable: Box::new([]),
        virtual_entries: Box::new([]),
        virtual_gate: std::sync::atomic::AtomicU64::new(uid),
        interface_index: Box::new([]),
        interfaces: Box::new([]),
        primary_interface: PrimaryInterface::new(InterfaceIndex::empty(), 0),
        hook: None,
        hook_gate: std::sync::atomic::AtomicU64::new(0),
        hook_entry: HookEntry::none(),
        dispatch_cache: None,
        forward: AtomicPtr::new(std::ptr::null_mut()),
        grace,
        #[cfg(loom)]
        alive: crate::reload::Alive::new(),
        call_sites: SiteRegistry::new(),
        live_reload,
    }))
}

/// Reflection for embedders (the Lua binding lists a class's methods to scripts).
impl<H: Host> ClassRef<H> {
    /// The names of the class's virtual methods, inherited ones included, in slot order
    /// (the root class's first).
    pub fn method_names(&self) -> Vec<String> {
        self.0.vtable.iter().map(|m| m.name.to_string()).collect()
    }
}
