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
//! insert-only, first published wins (rule D1), until a flush or a takeover (live reload).
//! Redefinition ([`ClassBuilder::redefine`](crate::ClassBuilder::redefine)) defines a *new*
//! class with a new address, which misses every entry and is resolved afresh.
//!
//! # Live reload: entries that go stale
//!
//! A flush ([`ClassRef::flush`](crate::ClassRef::flush)) or a takeover
//! ([`ClassBuilder::take_over`](crate::ClassBuilder::take_over)) changes what a class's
//! objects run without changing the class's address, and is allowed only in a runtime made
//! with [`Runtime::with_live_reload`](crate::Runtime::with_live_reload). A site of such a
//! runtime keeps its entries in a block of their own (one allocation) instead of inline;
//! each class keeps a weak list of the blocks that cached it, and a flush or a takeover
//! stores a stale marker in their entries for it, so the next call misses and resolves
//! afresh. A site registers when it fills an entry and then re-reads the class's
//! invalidation count, which an invalidation bumps before walking the list: an entry
//! resolved across an invalidation is never left serving. Stale entries are not
//! re-pointed (a reader may be using one): the site fills the next free entry. A site of
//! a runtime made with [`Runtime::new`](crate::Runtime::new) keeps its entries inline and
//! pays nothing for any of this (its hit reads the first inline entry; a reloadable site
//! finds that entry empty and goes on to its block, one call further).

//! # What it changes, and what it does not
//!
//! Entries are filled only from what the class's own tables serve (its static interface
//! table or its per-type cache, after a successful resolution): a call through a site runs
//! the same bodies, calls the hook exactly as often, and fails with the same errors as
//! [`Object::call`]. Failures are never stored. Reads take no lock and allocate nothing;
//! filling an entry clones an `Arc` and registers the site with the class (under the
//! class's registry mutex; the list grows by one the first time a site caches a class).

use std::sync::{Arc, Weak};

use crate::call::Called;
use crate::class::ClassData;
use crate::dispatch::Target;
use crate::host::{Body, CallResult, Entry, Host};
use crate::interface::MethodRef;
use crate::object::Object;
use crate::sync::{lock, AtomicUsize, Mutex, OnceLock, Ordering, UnsafeCell};

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
    /// The class's address, compared on every call; [`STALE`] once a flush or a takeover
    /// of the class has made the entry miss for good (live reload).
    class_addr: AtomicUsize,
    /// Keeps the allocation at `class_addr` from being reused (never read).
    _class: Weak<ClassData<H>>,
    body: Body<H>,
}

/// What a stale entry's `class_addr` holds: no class lives at address 1.
const STALE: usize = 1;

impl<H: Host> SiteEntry<H> {
    /// Whether the entry serves calls on instances of the class at `class`.
    #[inline(always)]
    fn serves(&self, class: usize) -> bool {
        self.class_addr.load(Ordering::Relaxed) == class
    }
}

/// A site's entries, shared with the classes they cache (weakly), so that a flush or a
/// takeover of a class can make that class's entries miss without any check on a hit.
struct SiteEntries<H: Host> {
    /// Filled in order, each at most once; readers stop at the first empty one.
    cells: [OnceLock<SiteEntry<H>>; CALL_SITE_ENTRIES],
}

impl<H: Host> SiteEntries<H> {
    /// Makes every entry for the class at `class` miss from now on.
    fn forget(&self, class: usize) {
        for entry in self.cells.iter().filter_map(OnceLock::get) {
            if entry.serves(class) {
                entry.class_addr.store(STALE, Ordering::Release);
            }
        }
    }
}

/// A class's side of the call sites that cached it (live reload): a flush or a takeover
/// calls [`invalidate`](Self::invalidate), and the entries for the class miss at once.
///
/// A site that fills an entry registers with the class and then re-reads the class's
/// generation, which `invalidate` bumps *before* it walks the registered sites (both
/// under the registry's mutex for the walk and the registration): either the walk sees
/// the registration and forgets the entry, or the filler sees the new generation and
/// forgets it itself. So no entry resolved before an invalidation survives it.
pub(crate) struct SiteRegistry<H: Host> {
    generation: AtomicUsize,
    sites: Mutex<Vec<Weak<SiteEntries<H>>>>,
}

impl<H: Host> SiteRegistry<H> {
    pub(crate) fn new() -> Self {
        SiteRegistry {
            generation: AtomicUsize::new(0),
            sites: Mutex::new(Vec::new()),
        }
    }

    fn generation(&self) -> usize {
        self.generation.load(Ordering::SeqCst)
    }

    fn register(&self, site: &Arc<SiteEntries<H>>) {
        let mut sites = lock(&self.sites);
        // Dropping a dead `Weak` frees no user value (the entries went with the site).
        sites.retain(|s| s.strong_count() > 0);
        if !sites
            .iter()
            .any(|s| std::ptr::eq(s.as_ptr(), Arc::as_ptr(site)))
        {
            sites.push(Arc::downgrade(site));
        }
    }

    /// Makes every call-site entry for `class` (this registry's owner) miss.
    pub(crate) fn invalidate(&self, class: &ClassData<H>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let sites: Vec<Arc<SiteEntries<H>>> =
            lock(&self.sites).iter().filter_map(Weak::upgrade).collect();
        let addr = std::ptr::from_ref(class) as usize;
        for site in &sites {
            site.forget(addr);
        }
        // Dropped unlocked: these may be the last handles of sites, and so of bodies.
        drop(sites);
    }
}

/// The filled entry of `cells` that serves the class at `class`, if any.
#[inline(always)]
fn find<H: Host>(cells: &[OnceLock<SiteEntry<H>>], class: usize) -> Option<&SiteEntry<H>> {
    cells
        .iter()
        .map_while(OnceLock::get)
        .find(|entry| entry.serves(class))
}

/// The address of `obj`'s class, as call-site entries compare it.
#[inline(always)]
fn class_addr<H: Host>(obj: &Object<H>) -> usize {
    Arc::as_ptr(&obj.class().0) as usize
}

/// `class_addr` as the first entry's word holds it: minus the `Arc` header, so that the
/// hit compares the object's class pointer as loaded, with no add. (Any constant keeps
/// the compare exact: it is subtracted from both sides.)
#[inline(always)]
fn first_key(class_addr: usize) -> usize {
    class_addr.wrapping_sub(2 * std::mem::size_of::<usize>())
}

/// The first inline entry again, in the form the monomorphic hit reads: the class's key
/// and the body's entry point, copied from the filled entry (whose body the site owns).
///
/// Invariant **first entry publication**: `class_key` is 0 (no class) until `entry` has
/// been written, once, by the thread that filled the first inline entry, and is then
/// stored with `Release`; a reader that loads it with `Acquire` and finds its class reads
/// `entry`, which is never written again. Only a site without live reload fills it (a
/// reloadable site's entries can go stale; they live in its shared block).
struct FirstEntry<H: Host> {
    class_key: AtomicUsize,
    entry: UnsafeCell<Entry<'static, H>>,
}

// SAFETY: the cell is written once, before its publication, and only read after it
// (invariant "first entry publication"); the entry is `Send + Sync` itself.
unsafe impl<H: Host> Sync for FirstEntry<H> {}
// SAFETY: see `Sync`; moving the site moves the cell with it.
unsafe impl<H: Host> Send for FirstEntry<H> {}

impl<H: Host> FirstEntry<H> {
    fn new() -> Self {
        FirstEntry {
            class_key: AtomicUsize::new(0),
            // Never called: read only once `class_key` names a class.
            entry: UnsafeCell::new(Entry::route(crate::dispatch::beyond_fast_entry::<H>)),
        }
    }

    /// The entry serving the class at `class`, if it is the first entry's.
    #[inline(always)]
    fn serving(&self, class: usize) -> Option<Entry<'_, H>> {
        if self.class_key.load(Ordering::Acquire) != first_key(class) {
            return None;
        }
        // SAFETY: invariant "first entry publication": the key was stored with `Release`
        // after `entry`'s only write, and this `Acquire` load saw it (a class's key is
        // never 0), so the write happens-before this read and no write follows it.
        Some(self.entry.with(|p| unsafe { *p }))
    }

    /// Publishes `entry` for the class at `class`. Called at most once per site: by the
    /// thread whose `get_or_init` filled the first inline entry.
    fn publish(&self, class: usize, entry: &SiteEntry<H>) {
        // SAFETY: only this call writes the cell, once, before the key is published: no
        // reader reads it yet (they compare the key first, and it is still 0). The entry
        // point borrows `entry.body`, which the site owns until it is dropped.
        self.entry
            .with_mut(|p| unsafe { *p = entry.body.entry_unbounded() });
        self.class_key
            .store(first_key(class), first_entry_release());
    }
}

/// The first entry's publication ordering (broken variant `RelaxedFirstEntry`: `Relaxed`).
fn first_entry_release() -> Ordering {
    #[cfg(dynacast_broken)]
    if crate::sync::broken::is(crate::sync::broken::Variant::RelaxedFirstEntry) {
        return Ordering::Relaxed;
    }
    Ordering::Release
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
// `repr(C)`: the method first, so that its address (what the hit passes to the body as
// `Called`) is the site's own; then what the monomorphic hit reads, side by side.
#[repr(C)]
pub struct CallSite<H: Host> {
    method: MethodRef<H>,
    /// The method's arity if it is virtual (see `MethodRef::virtual_arity`), copied so
    /// the fast path is one compare on the site itself.
    virtual_arity: usize,
    /// The first inline entry as the monomorphic hit reads it.
    first: FirstEntry<H>,
    /// The entries, inline, in a runtime without live reload: filled in order, each at
    /// most once; readers stop at the first empty one.
    entries: [OnceLock<SiteEntry<H>>; CALL_SITE_ENTRIES],
    /// In a runtime with live reload: the entries, in one allocation shared weakly with
    /// the classes they cache (see `SiteRegistry`); `entries` then stays empty.
    reloadable: Option<Arc<SiteEntries<H>>>,
    /// Set (to 1) the first time a class misses a full site.
    megamorphic: AtomicUsize,
}

impl<H: Host> CallSite<H> {
    /// An empty call site for `method`.
    pub fn new(method: MethodRef<H>) -> Self {
        let reloadable = method.iface.data().live_reload.then(|| {
            Arc::new(SiteEntries {
                cells: std::array::from_fn(|_| OnceLock::new()),
            })
        });
        CallSite {
            virtual_arity: method.virtual_arity,
            method,
            entries: std::array::from_fn(|_| OnceLock::new()),
            reloadable,
            megamorphic: AtomicUsize::new(0),
            first: FirstEntry::new(),
        }
    }

    /// The entries in use: inline, or the shared block of a runtime with live reload.
    fn cells(&self) -> &[OnceLock<SiteEntry<H>>; CALL_SITE_ENTRIES] {
        match &self.reloadable {
            Some(shared) => &shared.cells,
            None => &self.entries,
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
            if let Some(entry) = self.first.serving(class_addr(obj)) {
                return entry.invoke(obj, args, cx, Called::interface(&self.method));
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
        // The inline entries (empty in a reloadable site), then the reloadable block.
        let found = find(&self.entries, class)
            .or_else(|| self.reloadable.as_ref().and_then(|s| find(&s.cells, class)));
        match found {
            Some(entry) => entry
                .body
                .invoke_for(obj, args, cx, Called::interface(&self.method)),
            None => self.miss(obj, args, cx),
        }
    }

    /// Resolves through the normal path, caches the body if there is room, and calls it.
    #[cold]
    #[inline(never)]
    fn miss(&self, obj: &Object<H>, args: &[H::Value], cx: &mut H::Context) -> CallResult<H> {
        // A megamorphic site adds nothing more: skip the walk over its full entries.
        if self.megamorphic.load(Ordering::Relaxed) != 0 {
            return obj.call(&self.method, args, cx);
        }
        // Read before resolving: an invalidation after this read makes the entry miss
        // (see `SiteRegistry`).
        let generation = match self.reloadable {
            Some(_) => obj.own_class_data().call_sites.generation(),
            None => 0,
        };
        let target = obj.resolve_target(&self.method, cx)?;
        // An owned target was not published in the class's cache (it was full), or was
        // cloned out of a flushed class's cache, which a flush can free; the site
        // does not keep what the class itself could not. Objects of a class that was
        // taken over dispatch as another class: the site never caches them.
        if let Target::Borrowed(body) = &target {
            if obj.direct_class().is_some() {
                self.remember(obj, body, generation);
            }
        }
        target.invoke_for(obj, args, cx, Called::interface(&self.method))
    }

    /// Puts (class, body) in the first free entry, unless a racing caller already put this
    /// class there, and registers the site with the class (see `SiteRegistry`). When every
    /// entry is taken, marks the site megamorphic.
    fn remember(&self, obj: &Object<H>, body: &Body<H>, generation: usize) {
        let class = class_addr(obj);
        for (index, cell) in self.cells().iter().enumerate() {
            let mut filled = false;
            let entry = cell.get_or_init(|| {
                filled = true;
                SiteEntry {
                    class_addr: AtomicUsize::new(class),
                    _class: Arc::downgrade(&obj.class().0),
                    body: body.clone(),
                }
            });
            if filled {
                match &self.reloadable {
                    Some(shared) => {
                        let registry = &obj.own_class_data().call_sites;
                        registry.register(shared);
                        if registry.generation() != generation {
                            entry.class_addr.store(STALE, Ordering::Release);
                        }
                    }
                    None if index == 0 => self.first.publish(class, entry),
                    None => {}
                }
                return;
            }
            if entry.serves(class) {
                return;
            }
        }
        if self.megamorphic.load(Ordering::Relaxed) == 0 {
            self.megamorphic.store(1, Ordering::Relaxed);
        }
    }

    /// How many classes the site has cached.
    pub fn cached_classes(&self) -> usize {
        self.cells()
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
