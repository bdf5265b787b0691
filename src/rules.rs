//! # The rules
//!
//! What dynacast does, rule by rule. The rules follow the .NET runtime's
//! `IDynamicInterfaceCastable` (CoreCLR's behaviour, its runtime test suite and its issue
//! history); where dynacast goes further than .NET, the rule says so. The ids (`B1`, `C4`,
//! `D1`, `S6`, …) are the ones the code, the tests and the commit history cite: each is
//! defined here and nowhere else.
//!
//! # Object model (`M`)
//!
//! - **M1 Runtime.** One [`Runtime`](crate::Runtime) owns every type definition. Types are
//!   defined at run time through builders, are immutable once defined and get a stable
//!   handle whose equality is identity. Defining types is thread safe and may happen while
//!   other threads cast and call. A bad definition (unknown base, inheritance cycle,
//!   duplicate name or method, a concrete class that leaves an interface method without any
//!   implementation, …) is a [`TypeLoad`](crate::Error::TypeLoad) error naming the type;
//!   nothing panics.
//! - **M2 Interfaces** declare method slots (name and arity). A slot may carry a default
//!   body. An interface may extend base interfaces, may give a default body for a *base*
//!   interface's method (an explicit override: `IGreetImpl` implements `IGreet.hello`), and
//!   may re-abstract a base method (which removes the inherited default). An interface may
//!   be marked *dynamic-castable implementation*; the mark is **not** inherited by derived
//!   interfaces.
//! - **M3 Generic interfaces** have type parameters, each invariant, covariant (`out`) or
//!   contravariant (`in`). Each closed instantiation is an interface type of its own;
//!   assignability honours variance.
//! - **M4 Classes** have at most one base class (every class derives from the root class
//!   `object`), virtual methods in vtable slots that subclasses override, an interface map
//!   (interface method → class method; by default, the virtual method of the same name and
//!   arity, as C#'s implicit implementation; a class method of the same name but another
//!   arity, with no explicit map of the interface method, is a definition error naming
//!   both arities, default body or not), and may be abstract. A class may carry a
//!   dynamic-castable hook ([`DynamicCastable`](crate::DynamicCastable)); subclasses
//!   inherit the hook and everything else.
//! - **M5 Objects** carry their class and the host's payload. Inside any method, `this` is
//!   the original object: no wrapper, no proxy.
//! - **M6 Host values.** The engine forces no value representation on embedders: bodies,
//!   arguments and results are the host's own types ([`Host`](crate::Host)); a ready
//!   dynamic value type ([`DynHost`](crate::DynHost)) serves hosts that have none.
//!
//! # Casts (`B`)
//!
//! [`Object::is_instance_of`](crate::Object::is_instance_of) is C#'s `is`;
//! [`Object::cast`](crate::Object::cast) is C#'s explicit cast. The path, in order (the
//! code is `src/cast.rs`, top to bottom):
//!
//! 1. The metadata answers first (B1): the class chain for class targets; the class's full
//!    interface set, with variance, for interface targets. Static facts are precomputed, so
//!    this is a couple of loads.
//! 2. Only when that fails, the target is an interface and the class has a hook, the hook's
//!    `is_interface_implemented` runs (B2), on every attempt: its answer is never cached
//!    (B3). It is asked about exactly the requested type (B5).
//! 3. Under `cast`, a `false` answer is `InvalidCast` (B4); an error of the hook's own
//!    passes through unchanged.
//!
//! The rules:
//!
//! - **B1** The metadata check runs first: the class chain, the interfaces the class (or a
//!   base) implements, and their base interfaces, with variance for generic ones. Types are
//!   immutable, so this answer never changes.
//! - **B2** Only when the metadata check fails, the target is an interface and the class
//!   has a hook, the hook's `is_interface_implemented(obj, iface, throw_if_not_implemented)`
//!   runs: `throw_if_not_implemented` is `false` for `is_instance_of`, `true` for `cast`.
//! - **B3** The hook is asked on **every** such cast. Its answer is never cached, neither
//!   per type nor per object (.NET regressions #108229 and #125577 came from caching it).
//! - **B4** With `throw_if_not_implemented = true` the hook may return its own error, which
//!   reaches the caller unchanged. If it answers `false`, the cast fails with
//!   [`InvalidCast`](crate::Error::InvalidCast) naming the object's type and the target:
//!   "Unable to cast object of type 'X' to type 'Y'."
//! - **B5** The hook is asked about exactly the requested type (the exact closed generic
//!   type).
//! - **B6** A cast to a class never asks the hook. A cast to a type of another runtime
//!   fails without asking it (dynacast's addition: .NET has one type universe per process).
//!
//! # Dispatch (`C`, `D`)
//!
//! Calling an interface method on an object: [`Object::call`](crate::Object::call). The path,
//! in order (the code is `src/dispatch.rs`, top to bottom):
//!
//! 1. Non-virtual helpers and static members are called directly (C5).
//! 2. If the class implements the method's interface in its metadata, the slot resolved
//!    when the class was defined serves the call; the hook is never asked (C1).
//! 3. Otherwise, if the class has a hook, the per-type cache is read (D1): a hit is the body
//!    a previous call published, for every instance of the class.
//! 4. On a miss, `get_interface_implementation` is asked about the interface that
//!    *declares* the method (C2), with no engine lock held (D2); its answer is checked (C3),
//!    the most specific default is found in it (C4) and the success is published to the
//!    cache (first published wins). Failures are returned and never cached.
//!
//! The rules:
//!
//! - **C1** If the class (or a base class) implements the method's interface in its
//!   metadata, its own implementation serves the call and the hook is never asked, even if
//!   it would name another.
//! - **C2** Otherwise, if the class has a hook, the engine asks
//!   `get_interface_implementation(obj, iface)`, where `iface` is the interface that
//!   **declares** the called method, not the interface the caller holds.
//! - **C3** The type the hook returns is checked in this order:
//!   - **C3.1** none → [`InvalidCast`](crate::Error::InvalidCast): "Unable to cast object
//!     of type 'X' to type 'Y'.";
//!   - **C3.2** not an interface → [`InvalidOperation`](crate::Error::InvalidOperation):
//!     "Type 'Z' returned by IDynamicInterfaceCastable is not an interface.";
//!   - **C3.3** not itself marked dynamic-castable implementation → `InvalidOperation`:
//!     "Type 'Z' returned by IDynamicInterfaceCastable does not have the attribute
//!     'DynamicInterfaceCastableImplementationAttribute'.";
//!   - **C3.4** not assignable to the requested interface (variance allowed) →
//!     `InvalidOperation`: "Type 'Z' returned by IDynamicInterfaceCastable does not
//!     implement the requested interface 'Y'."
//!
//!   A type of another runtime is refused right after C3.1 with `InvalidOperation` ("Type
//!   'Z' returned by IDynamicInterfaceCastable belongs to another Runtime.").
//! - **C4** The method is then found in the implementation interface by default-method
//!   rules: the most specific default wins, and it may come from an unmarked base
//!   interface. No default at all, or a re-abstracted one →
//!   [`EntryPointNotFound`](crate::Error::EntryPointNotFound); two unrelated
//!   most-specific defaults (a diamond) →
//!   [`AmbiguousImplementation`](crate::Error::AmbiguousImplementation). The errors name
//!   the type, the interface, the method and the implementation interface (.NET's do not).
//! - **C5** A call made from inside an implementation body is ordinary dispatch on `this`:
//!   calling a method of the requested interface goes through the hook path again (and
//!   picks up overrides); calling a virtual method declared on the implementation interface
//!   itself asks the hook about *that* interface, which normally fails with `InvalidCast`.
//!   Non-virtual helpers and static members are called directly.
//! - **D1** A successful resolution is **cached per type**, keyed by the called interface
//!   method (as CoreCLR's virtual stub dispatch keys on (type, method token)), and shared
//!   by all instances and all call sites: later calls of that method on any instance of the
//!   type skip `get_interface_implementation`. Failures (a hook error, a C3 check,
//!   `EntryPointNotFound`, `AmbiguousImplementation`) are not cached. Keying by interface
//!   instead of method would break [S6](#scenarios-s): there a successful call of one
//!   method must not decide what a later call of another method of the same interface
//!   resolves to. The hook's side of the bargain: `get_interface_implementation` answers
//!   the same for every instance of a type; under a race it may be asked more than once,
//!   and exactly one published answer is ever observed.
//! - **D2** The per-type cache is lock-free for readers. Hooks and bodies run with no
//!   engine lock held, so a hook may cast, dispatch or define types, even on the same
//!   object, without deadlock.
//! - **D3** A panicking hook publishes nothing and leaves every cache consistent; the
//!   panic reaches the caller unchanged.
//!
//! # Scenarios (`S`)
//!
//! Ported from the .NET runtime's own `IDynamicInterfaceCastable` tests; `tests/conformance.rs`
//! has one test per scenario. Fixtures: `ITest { get_my_type, return_this, get_number,
//! call_implemented(which) }`; `ITestImpl : ITest` (marked; `get_number` → 1, a private
//! helper → 2, a static helper → 3, a public virtual helper that must never run); a class
//! `DynamicInterfaceCastable` with a map interface → implementation, whose
//! `is_interface_implemented` answers from the map (raising `"REQUESTED=<name>"` when asked
//! to throw) and which also implements `IDirectlyImplemented` itself (its method returns
//! -1). Each scenario uses its own subclass, so per-type caches cannot leak between them.
//!
//! - **S1 Basic.** `is`/`cast` succeed; `return_this` is the same object; `get_my_type` is
//!   the concrete class; `call_implemented`: class → -1, interface → 1, private → 2,
//!   static → 3, public virtual helper → `InvalidCast`.
//! - **S2 Generics and variance.** `ITestGeneric<in T, out U>`; the map sends `<int,int>`
//!   to `ITestGenericIntImpl`, `<string,string>` to `ITestGenericImpl<string,string>` and
//!   `<string,object>` to `ITestGenericImpl<object,string>` (the variance case);
//!   `<bool,bool>` is not implemented (`is` false, `cast` raises the custom error naming the
//!   closed type). (An earlier text of this rule mapped `<int,int>` to
//!   `ITestGenericImpl<object,string>`, which C3.4 refuses; the .NET test maps it as here.)
//! - **S3 Overridden.** `IOverrideTestImpl : IOverrideTest : ITestImpl` (only the first is
//!   marked) overrides `get_number` → 10 and `get_my_type`; the map must also list `ITest`
//!   (C2).
//! - **S4 Not implemented.** `is INotImplemented` is false; `cast` raises the hook's error.
//! - **S5 Directly implemented.** The class's own -1 wins over the map's implementation
//!   (C1).
//! - **S6 Error handling**, one object switched between modes (passes only with D1's
//!   per-method keys and uncached failures): a class → `InvalidOperation`; an unmarked
//!   interface → `InvalidOperation`; a marked interface unrelated to `ITest` →
//!   `InvalidOperation`; a marked empty `ITest` implementation → `EntryPointNotFound`; a
//!   partial implementation whose body calls an unimplemented method →
//!   `EntryPointNotFound`; an implementation that passes `this` on as an interface the hook
//!   does not serve → `InvalidCast`; a raising hook → its error; re-abstracted →
//!   `EntryPointNotFound`; a diamond → `AmbiguousImplementation`; none → `InvalidCast`.
//! - **S7 The greeter.** `IGreet { hello, goodbye }`; `IGreetImpl` gives only `hello`,
//!   which prints "Hello World from DynamicCastable"; `goodbye` fails with
//!   `EntryPointNotFound`; a second instance's `hello` does not ask
//!   `get_interface_implementation` again, while every cast asks `is_interface_implemented`
//!   again (`examples/greeter.rs`).
//!
//! # Architecture (`A`)
//!
//! - **A1 Hot paths** allocate nothing and take no lock: a cast the metadata answers, a
//!   static call, a cached dispatch. Static facts are computed once, when a type is defined
//!   (its full interface set, its resolved interface-method tables).
//! - **A2 The per-type cache** publishes insert-only entries; writers serialize per type and
//!   re-check before publishing (the first published wins). An insert-only open-addressed
//!   table measured about 1.6× a direct `dyn` call where `ArcSwap::load` plus a hashbrown
//!   look-up measured 8.8× and `RwLock<HashMap>` 12.9× (31× with two threads).
//! - **A3 Call sites.** An embedder that keeps a [`CallSite`](crate::CallSite) per call in
//!   its bytecode gets an inline cache (monomorphic, then a few entries, then it stops
//!   re-pointing after repeated misses, as .NET's virtual stub dispatch does), validated
//!   against the class so it is never wrong.
//! - **A4 Model checking.** `loom-tests/` explores the concurrent paths with loom: every
//!   actor in a spawned thread, interesting outcomes counted and asserted seen, and a
//!   deliberately broken variant of each protocol step that its model must catch.
