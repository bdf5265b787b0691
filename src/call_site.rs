//! Call sites: the inline cache an embedder keeps per call in its bytecode (rule A3).
//!
//! A [`CallSite`] remembers, for one interface method, which body served the classes that
//! reached it, so the next call on an instance of one of those classes is a compare and an
//! indirect call. It goes through the states of .NET's virtual stub dispatch:
//!
//! 1. **monomorphic**: the first class's body sits in the first entry, checked first;
//! 2. **polymorphic**: each new class takes the next free entry, up to [`CALL_SITE_ENTRIES`];
//! 3. **megamorphic**: once every entry is taken, a class that misses them is served by
//!    [`Object::call`]'s normal path (static table, per-type cache, hook) and the site stops
//!    adding entries. Entries are never re-pointed, so a reader never sees one change.
//!
//! # Why it can never return a wrong target
//!
//! Every entry holds a weak reference to the class it was resolved for, and a call uses an
//! entry only when the receiver's class is at exactly that address. The weak reference
//! keeps the class's allocation (not its data) alive, so no other class can ever be
//! allocated at that address while the entry exists: a stale entry can only miss. Comparing
//! addresses rather than class uids spares the hit one dependent load (the class itself is
//! never read); the price is that a dropped class's allocation (a few hundred bytes) is
//! freed only with the sites that called it.
//!
//! # Why it stays correct when types are added
//!
//! Types are immutable once defined and a class's resolution of a method never changes once
//! published: the static tables are computed at definition, and the per-type dynamic cache is
//! insert-only, first published wins (rule D1) until a flush (live reload), which bumps the
//! process-wide reload epoch every entry records and checks: entries filled before a flush
//! then miss, and the site fills new entries (or turns megamorphic). Redefinition
//! ([`ClassBuilder::redefine`](crate::ClassBuilder::redefine)) defines a *new* class with a
//! new address, which misses every entry and is resolved afresh. So an entry, once written, stays
//! the right answer for its class until the next flush, and serves no call after it.
//!
//! # What it changes, and what it does not
//!
//! Entries are filled only from what the class's own tables serve (its static interface
//! table or its per-type cache, after a successful resolution): a call through a site runs
//! the same bodies, calls the hook exactly as often, and fails with the same errors as
//! [`Object::call`]. Failures are never stored. Reads take no lock and allocate nothing;
//! filling an entry clones an `Arc` (no allocation).

use std::sync::{Arc, Weak};

use crate::call::Called;
use crate::class::ClassData;
use crate::dispatch::Target;
use crate::host::{Body, CallResult, Host};
use crate::interface::MethodRef;
use crate::object::Object;
use crate::reload::reload_epoch;
use crate::sync::{AtomicUsize, OnceLock, Ordering};

/// How many classes a call site remembers before it turns megamorphic.
///
/// Eight covers the polymorphic sites of typical dynamic-language code (Smalltalk and JS
/// engines use 4 to 8); a lookup that misses them all costs eight compares.
pub const CALL_SITE_ENTRIES: usize = 8;

/// The state of a [`CallSite`]'s inline cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallSiteState {
    /// No call has been resolved through the site yet.
    Empty,
    /// One class is cached.
    Monomorphic,
    /// Between two and [`CALL_SITE_ENTRIES`] classes are cached.
    Polymorphic(usize),
    /// Every entry is taken and a further class missed them: such classes take the normal
    /// dispatch path and no entry is added or re-pointed any more.
    Megamorphic,
}

/// One cached (class, body) pair.
struct SiteEntry<H: Host> {
    /// The class's address, compared on every call.
    class_addr: usize,
    /// The reload epoch the entry was resolved at (live reload): it serves only while no
    /// flush has happened since (`crate::reload`).
    epoch: u64,
    /// Keeps the allocation at `class_addr` from being reused (never read).
    _class: Weak<ClassData<H>>,
    body: Body<H>,
}

impl<H: Host> SiteEntry<H> {
    /// Whether the entry was resolved for `obj`'s class (see the module docs).
    #[inline(always)]
    fn serves(&self, obj: &Object<H>) -> bool {
        self.class_addr == class_addr(obj) && self.epoch == reload_epoch()
    }
}

/// The address of `obj`'s class, as call-site entries compare it.
#[inline(always)]
fn class_addr<H: Host>(obj: &Object<H>) -> usize {
    Arc::as_ptr(&obj.class().0) as usize
}

/// An inline cache for calls of one interface method; see the [module docs](self).
///
/// ```
/// use dynacast::{body, CallSite, CallSiteState, DynHost, Runtime, Value};
/// let rt = Runtime::<DynHost>::new();
/// let shape = rt.interface("IShape").abstract_method("area", 0).define()?;
/// let square = rt
///     .class("Square")
///     .implement(&shape)
///     .virtual_method("area", 0, |_| Ok(Value::Int(4)))
///     .define()?;
/// let site = CallSite::new(shape.method("area")?);
/// let obj = rt.new_object(&square, Value::Nil)?;
/// assert_eq!(site.call(&obj, &[], &mut ())?, Value::Int(4));
/// assert_eq!(site.state(), CallSiteState::Monomorphic);
/// # Ok::<(), dynacast::DynError>(())
/// ```
pub struct CallSite<H: Host> {
    method: MethodRef<H>,
    /// The method's arity if it is virtual (see `MethodRef::virtual_arity`), copied so
    /// the fast path is one compare on the site itself.
    virtual_arity: usize,
    /// Filled in order, each at most once; readers stop at the first empty one.
    entries: [OnceLock<SiteEntry<H>>; CALL_SITE_ENTRIES],
    /// Set (to 1) the first time a class misses a full site.
    megamorphic: AtomicUsize,
}

impl<H: Host> CallSite<H> {
    /// An empty call site for `method`.
    pub fn new(method: MethodRef<H>) -> Self {
        CallSite {
            virtual_arity: method.virtual_arity,
            method,
            entries: std::array::from_fn(|_| OnceLock::new()),
            megamorphic: AtomicUsize::new(0),
        }
    }

    /// The method this site calls.
    pub fn method(&self) -> &MethodRef<H> {
        &self.method
    }

    /// Calls the site's method on `obj`: the same result, hook calls and errors as
    /// [`Object::call`], without the lookup when the receiver's class is cached here.
    #[inline(always)]
    pub fn call(&self, obj: &Object<H>, args: &[H::Value], cx: &mut H::Context) -> CallResult<H> {
        // Inlined into the caller: the monomorphic hit is a compare and the body's call.
        if args.len() == self.virtual_arity {
            if let Some(entry) = self.entries[0].get() {
                if entry.serves(obj) {
                    return entry
                        .body
                        .invoke_for(obj, args, cx, Called::interface(&self.method));
                }
            }
        }
        self.call_beyond_first(obj, args, cx)
    }

    /// Everything but a hit in the first entry: the other entries, a miss, and the calls
    /// a site does not cache (helpers, statics, argument-count errors).
    #[inline(never)]
    fn call_beyond_first(
        &self,
        obj: &Object<H>,
        args: &[H::Value],
        cx: &mut H::Context,
    ) -> CallResult<H> {
        // `is_virtual` also catches the sentinel's one false match (see `MethodRef`).
        if args.len() != self.virtual_arity || !self.method.is_virtual() {
            return obj.call(&self.method, args, cx);
        }
        let class = class_addr(obj);
        for cell in &self.entries {
            match cell.get() {
                Some(entry) if entry.class_addr == class && entry.epoch == reload_epoch() => {
                    return entry
                        .body
                        .invoke_for(obj, args, cx, Called::interface(&self.method))
                }
                Some(_) => {}
                None => break,
            }
        }
        self.miss(obj, args, cx)
    }

    /// Resolves through the normal path, caches the body if there is room, and calls it.
    #[cold]
    #[inline(never)]
    fn miss(&self, obj: &Object<H>, args: &[H::Value], cx: &mut H::Context) -> CallResult<H> {
        // Read before resolving: an entry resolved across a flush is stale at once.
        let epoch = reload_epoch();
        let target = obj.resolve_target(&self.method, cx)?;
        // A megamorphic site adds nothing more: skip the walk over its full entries.
        // An owned target was not published in the class's cache (it was full), or was
        // cloned out of a flushed class's cache, which a flush can free; the site
        // does not keep what the class itself could not.
        if let Target::Borrowed(body) = &target {
            if self.megamorphic.load(Ordering::Relaxed) == 0 {
                self.remember(obj, body, epoch);
            }
        }
        target.invoke_for(obj, args, cx, Called::interface(&self.method))
    }

    /// Puts (class, body) in the first free entry, unless a racing caller already put this
    /// class there. When every entry is taken, marks the site megamorphic.
    fn remember(&self, obj: &Object<H>, body: &Body<H>, epoch: u64) {
        for cell in &self.entries {
            let entry = cell.get_or_init(|| SiteEntry {
                class_addr: class_addr(obj),
                epoch,
                _class: Arc::downgrade(&obj.class().0),
                body: body.clone(),
            });
            if entry.serves(obj) {
                return;
            }
        }
        if self.megamorphic.load(Ordering::Relaxed) == 0 {
            self.megamorphic.store(1, Ordering::Relaxed);
        }
    }

    /// How many classes the site has cached.
    pub fn cached_classes(&self) -> usize {
        self.entries
            .iter()
            .take_while(|e| e.get().is_some())
            .count()
    }

    /// The site's state.
    pub fn state(&self) -> CallSiteState {
        if self.megamorphic.load(Ordering::Relaxed) != 0 {
            return CallSiteState::Megamorphic;
        }
        match self.cached_classes() {
            0 => CallSiteState::Empty,
            1 => CallSiteState::Monomorphic,
            n => CallSiteState::Polymorphic(n),
        }
    }
}

impl<H: Host> std::fmt::Debug for CallSite<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSite")
            .field("method", &self.method)
            .field("state", &self.state())
            .finish()
    }
}
