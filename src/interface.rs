//! Interfaces: method slots, default bodies, base interfaces, explicit overrides of base
//! methods, re-abstraction, the dynamic-castable-implementation mark, and generic
//! interface definitions with variance (rules M1–M6).

use std::fmt;
use std::sync::{Arc, Weak};

use crate::sync::{lock, Mutex};

use ahash::RandomState;
use hashbrown::{HashMap, HashSet};

use crate::call::{Call, StaticCall};
use crate::class::ClassRef;
use crate::default_methods::{Overrides, SCANNED_BASES};
use crate::error::{Error, InvalidOperation};
use crate::host::{static_body, Body, CallResult, Host, StaticBody};
use crate::runtime::{NamedType, Runtime, WeakRuntime};
use crate::same_definition::same_interface;
use crate::types::{next_uid, TypeRef};

/// The variance of a generic interface's type parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variance {
    /// `T`: arguments must be identical.
    Invariant,
    /// `out T`: `I<Derived>` is assignable to `I<Base>`.
    Covariant,
    /// `in T`: `I<Base>` is assignable to `I<Derived>`.
    Contravariant,
}

/// The kind of an interface member.
pub(crate) enum MemberKind<H: Host> {
    /// A virtual slot, dispatched on `this`; `None` is abstract.
    Virtual(Option<Body<H>>),
    /// A non-virtual instance helper, called directly (rule C5).
    Helper(Body<H>),
    /// A static member, called directly without `this`.
    Static(StaticBody<H>),
}

pub(crate) struct MethodDecl<H: Host> {
    pub(crate) name: Arc<str>,
    pub(crate) arity: usize,
    pub(crate) kind: MemberKind<H>,
}

impl<H: Host> Clone for MethodDecl<H> {
    fn clone(&self) -> Self {
        MethodDecl {
            name: self.name.clone(),
            arity: self.arity,
            kind: match &self.kind {
                MemberKind::Virtual(b) => MemberKind::Virtual(b.clone()),
                MemberKind::Helper(b) => MemberKind::Helper(b.clone()),
                MemberKind::Static(b) => MemberKind::Static(b.clone()),
            },
        }
    }
}

/// An interface's own default body for (or re-abstraction of) a base interface's method.
pub(crate) struct OverrideDecl<H: Host> {
    pub(crate) target: MethodRef<H>,
    /// `None` re-abstracts the method.
    pub(crate) body: Option<Body<H>>,
}

/// The closed generic arguments of an instantiated interface.
pub(crate) struct GenericInstance<H: Host> {
    pub(crate) definition: GenericInterface<H>,
    pub(crate) args: Box<[TypeRef<H>]>,
}

/// Everything known about an interface; immutable once defined.
pub(crate) struct InterfaceData<H: Host> {
    pub(crate) uid: u64,
    pub(crate) runtime: u64,
    pub(crate) name: Arc<str>,
    pub(crate) methods: Box<[MethodDecl<H>]>,
    /// Every base interface, transitively, without duplicates and without `self`.
    pub(crate) all_bases: Box<[InterfaceRef<H>]>,
    /// In declaration order (the variance search takes the first compatible one).
    pub(crate) overrides: Box<[OverrideDecl<H>]>,
    /// Each override's target key and position in `overrides`, sorted by key: finds the
    /// override of an exact method in O(log n) (a hook's implementation interface may
    /// override thousands of methods, searched on every first resolution).
    override_index: Box<[(MethodKey, usize)]>,
    pub(crate) dynamic_castable_implementation: bool,
    pub(crate) generic: Option<GenericInstance<H>>,
    /// A closed generic with at least one covariant or contravariant parameter: only then
    /// can a class implement it through variance. Precomputed so that the cast and dispatch
    /// paths test one flag instead of following `generic` to the definition's variances.
    pub(crate) has_variant_params: bool,
    /// How deep generic instantiations nest in this type: 0 for a plain interface, else 1 +
    /// the deepest argument's (bounded by [`MAX_GENERIC_NESTING`]).
    pub(crate) nesting: usize,
    /// For an implementation interface (marked): where each method's overrides sit in
    /// `self` then `all_bases`, and each base's uid with its position there (sorted by uid),
    /// so that checking a hook's answer and resolving against an interface with thousands
    /// of bases are look-ups. Empty for unmarked interfaces.
    pub(crate) overrides_index: Overrides,
    base_positions: Box<[(u64, usize)]>,
    /// The longest base chain above this interface (0 without bases), at most
    /// [`MAX_INTERFACE_DEPTH`].
    depth: usize,
    /// Whether its runtime allows live reload: how a [`CallSite`](crate::CallSite) of one
    /// of its methods keeps its entries.
    pub(crate) live_reload: bool,
    /// Weak, for static bodies' [`StaticCall::runtime`]: a strong handle would be a cycle
    /// through the runtime's registry. Last, away from the fields the call paths read.
    pub(crate) weak_runtime: WeakRuntime<H>,
}

/// The deepest interface inheritance allowed: a chain of interfaces each deriving from the
/// previous one may be this many levels deep. Each interface lists its whole ancestry, so
/// a chain's memory grows with the square of its depth (5,000 levels: about 100 MB).
pub const MAX_INTERFACE_DEPTH: usize = 5_000;

/// The methods visible through an interface by name, as [`InterfaceRef::method`] finds
/// them (its own first, then its bases' in order): one pass instead of a scan per look-up.
struct MethodsByName<H: Host>(HashMap<Arc<str>, MethodRef<H>, RandomState>);

impl<H: Host> MethodsByName<H> {
    fn of(iface: &InterfaceRef<H>) -> Self {
        let mut map: HashMap<Arc<str>, MethodRef<H>, RandomState> = HashMap::default();
        for i in std::iter::once(iface).chain(iface.0.all_bases.iter()) {
            for (slot, m) in i.0.methods.iter().enumerate() {
                map.entry(m.name.clone())
                    .or_insert_with(|| MethodRef::new(i.clone(), slot));
            }
        }
        MethodsByName(map)
    }

    fn find(&self, name: &str) -> Option<MethodRef<H>> {
        self.0.get(name).cloned()
    }
}

/// A handle to a defined interface (or a closed generic instantiation). Cheap to clone;
/// equality is identity.
pub struct InterfaceRef<H: Host>(pub(crate) Arc<InterfaceData<H>>);

impl<H: Host> Clone for InterfaceRef<H> {
    fn clone(&self) -> Self {
        InterfaceRef(self.0.clone())
    }
}
impl<H: Host> PartialEq for InterfaceRef<H> {
    fn eq(&self, other: &Self) -> bool {
        self.0.uid == other.0.uid
    }
}
impl<H: Host> Eq for InterfaceRef<H> {}
impl<H: Host> std::hash::Hash for InterfaceRef<H> {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        self.0.uid.hash(state)
    }
}
impl<H: Host> fmt::Debug for InterfaceRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interface {}", self.0.name)
    }
}
impl<H: Host> fmt::Display for InterfaceRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl<H: Host> InterfaceData<H> {
    /// Whether interface `uid` is one of `all_bases` (exactly): a binary search for an
    /// implementation interface, a scan for the others.
    pub(crate) fn has_base(&self, uid: u64) -> bool {
        if self.dynamic_castable_implementation && self.all_bases.len() > SCANNED_BASES {
            self.position_in_closure(uid).is_some()
        } else {
            self.all_bases.iter().any(|b| b.0.uid == uid)
        }
    }

    /// For an implementation interface: where interface `uid` sits in `self` (0) then
    /// `all_bases` (1…), by binary search.
    pub(crate) fn position_in_closure(&self, uid: u64) -> Option<usize> {
        if uid == self.uid {
            return Some(0);
        }
        let i = self
            .base_positions
            .binary_search_by_key(&uid, |(u, _)| *u)
            .ok()?;
        self.base_positions.get(i).map(|(_, position)| *position)
    }

    /// This interface's own override (or re-abstraction) of exactly method `key`.
    pub(crate) fn override_of(&self, key: MethodKey) -> Option<&OverrideDecl<H>> {
        let i = self
            .override_index
            .binary_search_by_key(&key, |(k, _)| *k)
            .ok()?;
        self.overrides.get(self.override_index[i].1)
    }
}

/// `InterfaceData::override_index` of `overrides` (whose keys are distinct).
fn override_index<H: Host>(overrides: &[OverrideDecl<H>]) -> Box<[(MethodKey, usize)]> {
    let mut index: Vec<(MethodKey, usize)> = overrides
        .iter()
        .enumerate()
        .map(|(i, o)| (o.target.key, i))
        .collect();
    index.sort_unstable();
    index.into_boxed_slice()
}

impl<H: Host> InterfaceRef<H> {
    pub(crate) fn data(&self) -> &InterfaceData<H> {
        &self.0
    }

    /// The interface's name (closed generics include their arguments).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The process-wide unique id of the interface.
    pub fn uid(&self) -> u64 {
        self.0.uid
    }

    /// The runtime that defined the interface. Interfaces keep only a weak handle (no
    /// cycle through their own bodies), so this fails with
    /// [`InvalidOperation::RuntimeDropped`] once every [`Runtime`] handle is gone.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime};
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.interface("IShape").define()?;
    /// assert_eq!(shape.runtime()?.id(), rt.id());
    /// drop(rt);
    /// assert_eq!(
    ///     shape.runtime().unwrap_err().to_string(),
    ///     "The Runtime of type 'IShape' was dropped: keep a Runtime handle alive while its objects are called."
    /// );
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn runtime(&self) -> Result<Runtime<H>, Error<H::Error>> {
        self.0.weak_runtime.upgrade().ok_or_else(|| {
            Error::InvalidOperation(InvalidOperation::RuntimeDropped {
                type_name: self.0.name.clone(),
            })
        })
    }

    /// Whether the interface carries the dynamic-castable-implementation mark
    /// (not inherited by derived interfaces).
    pub fn is_dynamic_castable_implementation(&self) -> bool {
        self.0.dynamic_castable_implementation
    }

    /// The generic definition and arguments, for a closed generic interface.
    pub fn generic_arguments(&self) -> Option<(&GenericInterface<H>, &[TypeRef<H>])> {
        self.0
            .generic
            .as_ref()
            .map(|g| (&g.definition, &g.args[..]))
    }

    /// Every base interface, transitively.
    pub fn all_bases(&self) -> &[InterfaceRef<H>] {
        &self.0.all_bases
    }

    /// The method called `name`, declared here or inherited from a base interface. The
    /// returned reference names the *declaring* interface, which is what dispatch and the
    /// hook see (rule C2). A name declared by several bases resolves to the first in
    /// base-list order.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime};
    /// let rt = Runtime::<DynHost>::new();
    /// let base = rt.interface("IBase").abstract_method("m", 1).define()?;
    /// let derived = rt.interface("IDerived").base(&base).define()?;
    /// let m = derived.method("m")?;
    /// assert_eq!((m.interface(), m.arity()), (&base, 1));
    /// let err = derived.method("nope").unwrap_err();
    /// assert_eq!(err.to_string(), "Member 'nope' not found on type 'IDerived'.");
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn method(&self, name: &str) -> Result<MethodRef<H>, Error<H::Error>> {
        self.find_method(name).ok_or_else(|| Error::MissingMember {
            type_name: self.0.name.clone(),
            member: Arc::from(name),
        })
    }

    pub(crate) fn find_method(&self, name: &str) -> Option<MethodRef<H>> {
        std::iter::once(self)
            .chain(self.0.all_bases.iter())
            .find_map(|iface| {
                let slot = iface.0.methods.iter().position(|m| &*m.name == name)?;
                Some(MethodRef::new(iface.clone(), slot))
            })
    }

    /// The methods this interface declares itself, in slot order.
    pub fn methods(&self) -> Vec<MethodRef<H>> {
        (0..self.0.methods.len())
            .map(|slot| MethodRef::new(self.clone(), slot))
            .collect()
    }

    /// This interface as a [`TypeRef`].
    pub fn as_type(&self) -> TypeRef<H> {
        TypeRef::Interface(self.clone())
    }
}

/// The identity of an interface method: declaring interface and slot. Used as the key of
/// the per-type dispatch cache (rule D1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct MethodKey {
    pub(crate) iface: u64,
    pub(crate) slot: u32,
}

/// `MethodRef::virtual_arity` of a helper or a static member.
const NOT_VIRTUAL: usize = usize::MAX;

/// A reference to a method of an interface: its declaring interface and slot. Get it with
/// [`InterfaceRef::method`] and call it with [`Object::call`](crate::Object::call) (a
/// class's own virtual method is a [`ClassMethodRef`](crate::ClassMethodRef), from
/// [`ClassRef::virtual_method`](crate::ClassRef::virtual_method), for
/// [`Object::call_virtual`](crate::Object::call_virtual); either, by name:
/// [`Object::call_by_name`](crate::Object::call_by_name)).
pub struct MethodRef<H: Host> {
    pub(crate) iface: InterfaceRef<H>,
    pub(crate) key: MethodKey,
    /// The declaration's arity, and `arity` again for a virtual slot or [`NOT_VIRTUAL`]
    /// for the others, copied here so the call fast paths (`Object::call`, `CallSite`)
    /// test "a virtual slot called with the right number of arguments" with one compare
    /// on the reference itself, without reading the declaring interface's method table.
    /// (A virtual method of arity `usize::MAX` also gets `usize::MAX`; the slow paths
    /// re-check the kind, so the sentinel only ever costs a detour, never a wrong call.)
    arity: usize,
    pub(crate) virtual_arity: usize,
    /// `key`'s hash in the per-type dispatch cache, computed once here so a cached
    /// dispatch finds its home slot with a shift (no multiply on the call path).
    pub(crate) key_hash: u64,
}

impl<H: Host> Clone for MethodRef<H> {
    fn clone(&self) -> Self {
        MethodRef {
            iface: self.iface.clone(),
            key: self.key,
            arity: self.arity,
            virtual_arity: self.virtual_arity,
            key_hash: self.key_hash,
        }
    }
}
impl<H: Host> PartialEq for MethodRef<H> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<H: Host> Eq for MethodRef<H> {}
impl<H: Host> fmt::Debug for MethodRef<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.iface.name(), self.name())
    }
}

impl<H: Host> MethodRef<H> {
    pub(crate) fn new(iface: InterfaceRef<H>, slot: usize) -> Self {
        let key = MethodKey {
            iface: iface.0.uid,
            // Slots come from a Box<[MethodDecl]>; more than u32::MAX methods cannot be built.
            slot: slot as u32,
        };
        let decl = &iface.0.methods[slot];
        let arity = decl.arity;
        let virtual_arity = match decl.kind {
            MemberKind::Virtual(_) => arity,
            MemberKind::Helper(_) | MemberKind::Static(_) => NOT_VIRTUAL,
        };
        MethodRef {
            iface,
            key,
            arity,
            virtual_arity,
            key_hash: crate::dispatch_cache::key_hash(key),
        }
    }

    pub(crate) fn decl(&self) -> &MethodDecl<H> {
        &self.iface.0.methods[self.key.slot as usize]
    }

    /// The interface that declares the method.
    pub fn interface(&self) -> &InterfaceRef<H> {
        &self.iface
    }

    /// The method's name.
    pub fn name(&self) -> &str {
        &self.decl().name
    }

    /// The number of arguments the method takes (not counting `this`).
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// The method's slot in its declaring interface.
    pub fn slot(&self) -> usize {
        self.key.slot as usize
    }

    /// Whether calls dispatch on `this` (a virtual slot) rather than going straight to
    /// the declared body (a non-virtual helper or a static member).
    #[inline]
    pub fn is_virtual(&self) -> bool {
        // Only the sentinel needs the declaration: usually no load beyond `self`.
        self.virtual_arity != NOT_VIRTUAL || matches!(self.decl().kind, MemberKind::Virtual(_))
    }

    /// Whether the method is static.
    pub fn is_static(&self) -> bool {
        matches!(self.decl().kind, MemberKind::Static(_))
    }

    /// Calls a static member directly. Instance members need an object, so they answer
    /// [`Error::MissingMember`] here: call them through [`Object::call`](crate::Object::call).
    pub fn call_static(&self, args: &[H::Value], cx: &mut H::Context) -> CallResult<H> {
        match &self.decl().kind {
            MemberKind::Static(body) => {
                self.check_arity(args.len())?;
                body(StaticCall::new(self, args, cx))
            }
            _ => Err(Error::MissingMember {
                type_name: self.iface.0.name.clone(),
                member: Arc::from(format!("static {}", self.name())),
            }),
        }
    }

    pub(crate) fn check_arity(&self, actual: usize) -> Result<(), Error<H::Error>> {
        let expected = self.arity;
        if expected == actual {
            Ok(())
        } else {
            Err(self.arity_error(actual))
        }
    }

    #[cold]
    fn arity_error(&self, actual: usize) -> Error<H::Error> {
        Error::ArgumentCount {
            method: Arc::from(format!("{}.{}", self.iface.name(), self.name())),
            expected: self.arity,
            actual,
        }
    }

    pub(crate) fn qualified_name(&self) -> Arc<str> {
        self.decl().name.clone()
    }
}

/// A type as written in a definition: a handle, a name to look up in the runtime, a type
/// parameter of the generic interface being defined, or a generic instantiation.
pub enum TypeExpr<H: Host> {
    /// A defined type.
    Type(TypeRef<H>),
    /// A type looked up by name in the runtime when the definition is made.
    Named(Arc<str>),
    /// The n-th type parameter of the generic interface being defined.
    Param(usize),
    /// A generic interface instantiated with these arguments.
    Generic(GenericInterface<H>, Vec<TypeExpr<H>>),
}

impl<H: Host> Clone for TypeExpr<H> {
    fn clone(&self) -> Self {
        match self {
            TypeExpr::Type(t) => TypeExpr::Type(t.clone()),
            TypeExpr::Named(n) => TypeExpr::Named(n.clone()),
            TypeExpr::Param(i) => TypeExpr::Param(*i),
            TypeExpr::Generic(d, a) => TypeExpr::Generic(d.clone(), a.clone()),
        }
    }
}

impl<H: Host> TypeExpr<H> {
    /// `def<args…>`.
    pub fn generic(def: &GenericInterface<H>, args: impl IntoIterator<Item = TypeExpr<H>>) -> Self {
        TypeExpr::Generic(def.clone(), args.into_iter().collect())
    }

    /// Replaces names by the types they name now, so that later instantiations of a
    /// generic template need no registry. Checks the nesting limit first, so that every
    /// recursive walk of the expression afterwards has a bounded depth.
    pub(crate) fn bind_names(
        &self,
        rt: &Runtime<H>,
        owner: &Arc<str>,
    ) -> Result<Self, Error<H::Error>> {
        self.check_nesting(owner)?;
        self.bind_checked(rt, owner)
    }

    /// Fails when generic instantiations nest more than [`MAX_GENERIC_NESTING`] deep;
    /// iterative, so any depth is safe to check.
    pub(crate) fn check_nesting(&self, owner: &Arc<str>) -> Result<(), Error<H::Error>> {
        let mut pending: Vec<(&TypeExpr<H>, usize)> = vec![(self, 0)];
        while let Some((expr, depth)) = pending.pop() {
            if let TypeExpr::Generic(_, args) = expr {
                if depth >= MAX_GENERIC_NESTING {
                    return Err(Error::type_load(
                        owner,
                        format!(
                            "a type expression nests generic instantiations more than {MAX_GENERIC_NESTING} deep"
                        ),
                    ));
                }
                pending.extend(args.iter().map(|a| (a, depth + 1)));
            }
        }
        Ok(())
    }

    fn bind_checked(&self, rt: &Runtime<H>, owner: &Arc<str>) -> Result<Self, Error<H::Error>> {
        Ok(match self {
            TypeExpr::Named(name) => match rt.lookup_named(name) {
                Some(NamedType::Type(t)) => TypeExpr::Type(t),
                Some(NamedType::Generic(g)) => {
                    return Err(Error::type_load(
                        owner,
                        format!(
                            "'{}' is a generic interface and needs {} type argument(s)",
                            name,
                            g.arity()
                        ),
                    ))
                }
                None => return Err(Error::type_load(owner, format!("unknown type '{name}'"))),
            },
            TypeExpr::Generic(def, args) => TypeExpr::Generic(
                def.clone(),
                args.iter()
                    .map(|a| a.bind_checked(rt, owner))
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Resolves to a concrete type, given the type arguments of the enclosing generic.
    pub(crate) fn resolve(
        &self,
        runtime: u64,
        params: &[TypeRef<H>],
        owner: &Arc<str>,
    ) -> Result<TypeRef<H>, Error<H::Error>> {
        match self {
            TypeExpr::Type(t) => {
                if t.runtime_id() != runtime {
                    return Err(Error::type_load(
                        owner,
                        format!("type '{}' belongs to another Runtime", t.name()),
                    ));
                }
                Ok(t.clone())
            }
            TypeExpr::Param(i) => params.get(*i).cloned().ok_or_else(|| {
                Error::type_load(
                    owner,
                    format!(
                        "type parameter {i} is out of range ({} parameter(s))",
                        params.len()
                    ),
                )
            }),
            TypeExpr::Generic(def, args) => {
                // Checked here too (not only by `instantiate`) so the error names the type
                // being defined rather than the generic definition.
                self.check_generic_arity(owner)?;
                let args = args
                    .iter()
                    .map(|a| a.resolve(runtime, params, owner))
                    .collect::<Result<Vec<_>, _>>()?;
                if def.0.runtime != runtime {
                    return Err(Error::type_load(
                        owner,
                        format!(
                            "generic interface '{}' belongs to another Runtime",
                            def.name()
                        ),
                    ));
                }
                def.instantiate(&args).map(TypeRef::Interface)
            }
            // Names are bound before any resolution; reaching one means it was never bound.
            TypeExpr::Named(name) => Err(Error::type_load(owner, format!("unknown type '{name}'"))),
        }
    }

    /// Every generic instantiation in the expression has as many arguments as its
    /// definition has parameters; errors name `owner`, the type being defined.
    fn check_generic_arity(&self, owner: &Arc<str>) -> Result<(), Error<H::Error>> {
        if let TypeExpr::Generic(def, args) = self {
            if args.len() != def.arity() {
                return Err(Error::type_load(
                    owner,
                    format!(
                        "wrong number of type arguments for generic interface '{}': expected {}, got {}",
                        def.name(),
                        def.arity(),
                        args.len()
                    ),
                ));
            }
            for a in args {
                a.check_generic_arity(owner)?;
            }
        }
        Ok(())
    }

    fn max_param(&self) -> Option<usize> {
        match self {
            TypeExpr::Param(i) => Some(*i),
            TypeExpr::Generic(_, args) => args.iter().filter_map(|a| a.max_param()).max(),
            _ => None,
        }
    }
}

/// Dropped iteratively: a user may nest an expression deeper than the stack could recurse.
impl<H: Host> Drop for TypeExpr<H> {
    fn drop(&mut self) {
        let TypeExpr::Generic(_, args) = self else {
            return;
        };
        if !args.iter().any(|a| matches!(a, TypeExpr::Generic(..))) {
            return;
        }
        let mut pending = std::mem::take(args);
        while let Some(mut expr) = pending.pop() {
            if let TypeExpr::Generic(_, args) = &mut expr {
                pending.append(args);
            }
        }
    }
}

/// The deepest nesting of generic instantiations a type may have (`I<I<I<T>>>` is 3):
/// deeper type expressions and instantiations fail with `TypeLoad`. Assignability and type
/// names recurse through generic arguments, so their depth must be bounded.
pub const MAX_GENERIC_NESTING: usize = 64;

/// How deep generic instantiations nest in `args` (0 when none is a closed generic).
fn generic_depth<H: Host>(args: &[TypeRef<H>]) -> usize {
    args.iter()
        .map(|a| a.as_interface().map_or(0, |i| i.0.nesting))
        .max()
        .unwrap_or(0)
}

impl<H: Host> From<TypeRef<H>> for TypeExpr<H> {
    fn from(t: TypeRef<H>) -> Self {
        TypeExpr::Type(t)
    }
}
impl<H: Host> From<&TypeRef<H>> for TypeExpr<H> {
    fn from(t: &TypeRef<H>) -> Self {
        TypeExpr::Type(t.clone())
    }
}
impl<H: Host> From<&InterfaceRef<H>> for TypeExpr<H> {
    fn from(i: &InterfaceRef<H>) -> Self {
        TypeExpr::Type(TypeRef::Interface(i.clone()))
    }
}
impl<H: Host> From<InterfaceRef<H>> for TypeExpr<H> {
    fn from(i: InterfaceRef<H>) -> Self {
        TypeExpr::Type(TypeRef::Interface(i))
    }
}
impl<H: Host> From<&ClassRef<H>> for TypeExpr<H> {
    fn from(c: &ClassRef<H>) -> Self {
        TypeExpr::Type(TypeRef::Class(c.clone()))
    }
}
impl<H: Host> From<ClassRef<H>> for TypeExpr<H> {
    fn from(c: ClassRef<H>) -> Self {
        TypeExpr::Type(TypeRef::Class(c))
    }
}
impl<H: Host> From<&str> for TypeExpr<H> {
    fn from(name: &str) -> Self {
        TypeExpr::Named(Arc::from(name))
    }
}
impl<H: Host> From<String> for TypeExpr<H> {
    fn from(name: String) -> Self {
        TypeExpr::Named(Arc::from(name))
    }
}

/// A default body for (or re-abstraction of) a base interface's method, as written.
struct OverrideExpr<H: Host> {
    base: TypeExpr<H>,
    method: Arc<str>,
    body: Option<Body<H>>,
}

impl<H: Host> Clone for OverrideExpr<H> {
    fn clone(&self) -> Self {
        OverrideExpr {
            base: self.base.clone(),
            method: self.method.clone(),
            body: self.body.clone(),
        }
    }
}

/// What an interface builder collected; for a generic definition, the template that each
/// instantiation is built from.
struct InterfaceTemplate<H: Host> {
    methods: Vec<MethodDecl<H>>,
    bases: Vec<TypeExpr<H>>,
    overrides: Vec<OverrideExpr<H>>,
    marked: bool,
}

impl<H: Host> InterfaceTemplate<H> {
    /// For a generic definition: reports now, rather than at its first instantiation, the
    /// errors that do not depend on the type arguments. Bases that do not mention a type
    /// parameter must be interfaces; a template that mentions no parameter in its bases or
    /// overrides is built once, which checks everything `build` checks.
    fn check_without_params(
        &self,
        runtime: u64,
        weak_runtime: &WeakRuntime<H>,
        name: &Arc<str>,
    ) -> Result<(), Error<H::Error>> {
        let mentions_params = self
            .bases
            .iter()
            .chain(self.overrides.iter().map(|o| &o.base))
            .any(|e| e.max_param().is_some());
        if !mentions_params {
            return self
                .build(runtime, weak_runtime, name.clone(), &[], None)
                .map(drop);
        }
        for expr in self.bases.iter().filter(|e| e.max_param().is_none()) {
            if let TypeRef::Class(c) = expr.resolve(runtime, &[], name)? {
                return Err(Error::type_load(
                    name,
                    format!(
                        "'{}' in the base list of interface '{name}' is not an interface",
                        c.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Builds one interface from the template with `params` substituted.
    fn build(
        &self,
        runtime: u64,
        weak_runtime: &WeakRuntime<H>,
        name: Arc<str>,
        params: &[TypeRef<H>],
        generic: Option<GenericInstance<H>>,
    ) -> Result<InterfaceData<H>, Error<H::Error>> {
        let mut all_bases: Vec<InterfaceRef<H>> = Vec::new();
        let mut seen: HashSet<u64, RandomState> = HashSet::default();
        let mut depth = 0;
        for expr in &self.bases {
            let base = match expr.resolve(runtime, params, &name)? {
                TypeRef::Interface(i) => i,
                TypeRef::Class(c) => {
                    return Err(Error::type_load(
                        &name,
                        format!(
                            "'{}' in the base list of interface '{name}' is not an interface",
                            c.name()
                        ),
                    ))
                }
            };
            // Each interface keeps its whole ancestry (`all_bases`), so a chain costs the
            // square of its depth: the depth is bounded to keep that finite.
            depth = depth.max(base.0.depth + 1);
            if depth > MAX_INTERFACE_DEPTH {
                return Err(Error::type_load(
                    &name,
                    format!("interface inheritance is more than {MAX_INTERFACE_DEPTH} levels deep"),
                ));
            }
            for b in std::iter::once(&base).chain(base.0.all_bases.iter()) {
                if seen.insert(b.0.uid) {
                    all_bases.push(b.clone());
                }
            }
        }

        let mut overrides: Vec<OverrideDecl<H>> = Vec::new();
        let mut overridden: HashSet<MethodKey, RandomState> = HashSet::default();
        let mut methods_by_base: HashMap<u64, MethodsByName<H>, RandomState> = HashMap::default();
        for o in &self.overrides {
            let base = match o.base.resolve(runtime, params, &name)? {
                TypeRef::Interface(i) if seen.contains(&i.0.uid) => i,
                other => {
                    return Err(Error::type_load(
                        &name,
                        format!(
                            "'{}' is not a base interface of '{name}', so '{name}' cannot give a body for its method '{}'",
                            other.name(),
                            o.method
                        ),
                    ))
                }
            };
            let target = methods_by_base
                .entry(base.0.uid)
                .or_insert_with(|| MethodsByName::of(&base))
                .find(&o.method)
                .filter(|m| m.is_virtual())
                .ok_or_else(|| {
                    Error::type_load(
                        &name,
                        format!(
                            "base interface '{}' has no virtual method '{}'",
                            base.name(),
                            o.method
                        ),
                    )
                })?;
            if !overridden.insert(target.key) {
                return Err(Error::type_load(
                    &name,
                    format!(
                        "method '{}.{}' is overridden twice",
                        target.iface.name(),
                        target.name()
                    ),
                ));
            }
            overrides.push(OverrideDecl {
                target,
                body: o.body.clone(),
            });
        }

        let uid = next_uid();
        let methods = self.methods.clone().into_boxed_slice();
        let (overrides_index, base_positions) = if self.marked {
            let inherited = all_bases.iter().map(|b| &b.0.overrides[..]);
            let index = Overrides::of(std::iter::once(&overrides[..]).chain(inherited));
            let mut positions: Vec<(u64, usize)> = (1..)
                .zip(all_bases.iter())
                .map(|(position, b)| (b.0.uid, position))
                .collect();
            positions.sort_unstable();
            (index, positions.into())
        } else {
            (Overrides::default(), Box::default())
        };
        Ok(InterfaceData {
            uid,
            runtime,
            name,
            methods,
            overrides_index,
            base_positions,
            all_bases: all_bases.into_boxed_slice(),
            override_index: override_index(&overrides),
            overrides: overrides.into_boxed_slice(),
            dynamic_castable_implementation: self.marked,
            depth,
            nesting: generic.as_ref().map_or(0, |g| generic_depth(&g.args) + 1),
            has_variant_params: generic.as_ref().is_some_and(|g| {
                g.definition
                    .variances()
                    .iter()
                    .any(|v| *v != Variance::Invariant)
            }),
            generic,
            // A runtime already dropped: the sites take the form that is right either way.
            live_reload: weak_runtime.upgrade().is_none_or(|rt| rt.has_live_reload()),
            weak_runtime: weak_runtime.clone(),
        })
    }
}

/// Builds an interface (or a generic interface definition). Get one from
/// [`Runtime::interface`] or [`Runtime::generic_interface`]; problems are reported by
/// [`define`](Self::define) as [`Error::TypeLoad`].
#[must_use = "an interface is only defined by calling define()"]
pub struct InterfaceBuilder<H: Host> {
    rt: Runtime<H>,
    name: Arc<str>,
    variances: Vec<Variance>,
    template: InterfaceTemplate<H>,
    redefine: bool,
}

impl<H: Host> InterfaceBuilder<H> {
    pub(crate) fn new(rt: Runtime<H>, name: &str, variances: Vec<Variance>) -> Self {
        InterfaceBuilder {
            rt,
            name: Arc::from(name),
            variances,
            template: InterfaceTemplate {
                methods: Vec::new(),
                bases: Vec::new(),
                overrides: Vec::new(),
                marked: false,
            },
            redefine: false,
        }
    }

    /// Adds a base interface.
    pub fn base(mut self, base: impl Into<TypeExpr<H>>) -> Self {
        self.template.bases.push(base.into());
        self
    }

    fn member(mut self, name: &str, arity: usize, kind: MemberKind<H>) -> Self {
        self.template.methods.push(MethodDecl {
            name: Arc::from(name),
            arity,
            kind,
        });
        self
    }

    /// Declares an abstract virtual method slot (classes implement it; see
    /// [`default_method`](Self::default_method) for a slot with a body).
    pub fn abstract_method(self, name: &str, arity: usize) -> Self {
        self.member(name, arity, MemberKind::Virtual(None))
    }

    /// Declares a virtual method slot with a default body (a closure taking a
    /// [`Call`]).
    pub fn default_method<F>(self, name: &str, arity: usize, body: F) -> Self
    where
        F: Fn(Call<'_, H>) -> CallResult<H> + Send + Sync + 'static,
    {
        self.default_method_body(name, arity, crate::host::body(body))
    }

    /// [`default_method`](Self::default_method) with a prebuilt, shared [`Body`].
    pub fn default_method_body(self, name: &str, arity: usize, body: Body<H>) -> Self {
        self.member(name, arity, MemberKind::Virtual(Some(body)))
    }

    /// Declares a non-virtual instance helper: calls go straight to `body` with `this`
    /// (C#'s private or sealed interface members).
    pub fn helper<F>(self, name: &str, arity: usize, body: F) -> Self
    where
        F: Fn(Call<'_, H>) -> CallResult<H> + Send + Sync + 'static,
    {
        self.helper_body(name, arity, crate::host::body(body))
    }

    /// [`helper`](Self::helper) with a prebuilt, shared [`Body`].
    pub fn helper_body(self, name: &str, arity: usize, body: Body<H>) -> Self {
        self.member(name, arity, MemberKind::Helper(body))
    }

    /// Declares a static member: a closure taking one [`StaticCall`] (arguments, context,
    /// the member, its interface and runtime; no object). It needs no annotations.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let math = rt
    ///     .interface("IMath")
    ///     .static_method("twice", 1, |call| Ok(Value::Int(call.arg(0)?.as_int().unwrap_or(0) * 2)))
    ///     .define()?;
    /// let cx = &mut ();
    /// assert_eq!(math.method("twice")?.call_static(&[Value::Int(21)], cx)?, Value::Int(42));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn static_method<F>(self, name: &str, arity: usize, body: F) -> Self
    where
        F: Fn(StaticCall<'_, H>) -> CallResult<H> + Send + Sync + 'static,
    {
        self.static_method_body(name, arity, static_body(body))
    }

    /// Declares a static member with a prebuilt, shared [`StaticBody`].
    pub fn static_method_body(self, name: &str, arity: usize, body: StaticBody<H>) -> Self {
        self.member(name, arity, MemberKind::Static(body))
    }

    /// Gives a default body for method `method` of base interface `base` (an explicit
    /// override: `IGreetImpl` implements `IGreet.hello`).
    pub fn override_base<F>(self, base: impl Into<TypeExpr<H>>, method: &str, body: F) -> Self
    where
        F: Fn(Call<'_, H>) -> CallResult<H> + Send + Sync + 'static,
    {
        self.override_base_body(base, method, crate::host::body(body))
    }

    /// [`override_base`](Self::override_base) with a prebuilt, shared [`Body`].
    pub fn override_base_body(
        mut self,
        base: impl Into<TypeExpr<H>>,
        method: &str,
        body: Body<H>,
    ) -> Self {
        self.template.overrides.push(OverrideExpr {
            base: base.into(),
            method: Arc::from(method),
            body: Some(body),
        });
        self
    }

    /// Re-abstracts method `method` of base interface `base`: removes the inherited default.
    /// A class whose most specific declaration of the method is a re-abstraction can be
    /// defined, but calling the method fails with `EntryPointNotFound`.
    ///
    /// ```
    /// use dynacast::{body, DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let base = rt
    ///     .interface("IBase")
    ///     .default_method("m", 0, |_| Ok(Value::Int(1)))
    ///     .define()?;
    /// let re = rt.interface("IRe").base(&base).reabstract(&base, "m").define()?;
    /// let class = rt.class("C").implement(&re).define()?;
    /// let obj = rt.new_object(&class, Value::Nil)?;
    /// let err = obj.call(&base.method("m")?, &[], &mut ()).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Entry point not found: type 'C' has no implementation of 'IBase.m' \
    ///      (the most specific declaration, in 'IRe', is abstract)."
    /// );
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn reabstract(mut self, base: impl Into<TypeExpr<H>>, method: &str) -> Self {
        self.template.overrides.push(OverrideExpr {
            base: base.into(),
            method: Arc::from(method),
            body: None,
        });
        self
    }

    /// Marks the interface as a dynamic-castable implementation (.NET's
    /// `[DynamicInterfaceCastableImplementation]`). The mark is not inherited.
    pub fn dynamic_castable_implementation(mut self) -> Self {
        self.template.marked = true;
        self
    }

    /// Lets the definition take over the name of an existing type (hot reload). Objects
    /// and handles of the old type keep working with the old definition.
    pub fn redefine(mut self) -> Self {
        self.redefine = true;
        self
    }

    fn validate(&mut self) -> Result<(), Error<H::Error>> {
        let name = &self.name;
        if name.is_empty() {
            return Err(Error::type_load(name, "a type needs a non-empty name"));
        }
        let mut declared: HashSet<&str, RandomState> = HashSet::default();
        for m in &self.template.methods {
            if !declared.insert(&m.name) {
                return Err(Error::type_load(
                    name,
                    format!("method '{}' is declared twice", m.name),
                ));
            }
        }
        let params = self.variances.len();
        let exprs = self
            .template
            .bases
            .iter()
            .chain(self.template.overrides.iter().map(|o| &o.base));
        for e in exprs {
            e.check_nesting(name)?;
            e.check_generic_arity(name)?;
            if let Some(i) = e.max_param().filter(|i| *i >= params) {
                return Err(Error::type_load(
                    name,
                    format!("type parameter {i} is out of range ({params} parameter(s))"),
                ));
            }
            if let TypeExpr::Named(n) = e {
                if n == name {
                    return Err(Error::type_load(
                        name,
                        format!("inheritance cycle: '{name}' cannot derive from itself"),
                    ));
                }
            }
        }
        for b in &mut self.template.bases {
            *b = b.bind_names(&self.rt, name)?;
        }
        for o in &mut self.template.overrides {
            o.base = o.base.bind_names(&self.rt, name)?;
        }
        Ok(())
    }

    /// Defines the interface and registers its name. If the name is taken by an interface
    /// with the same definition (live reload: same shape, and the same `Body` values),
    /// returns that interface instead, with or without [`redefine`](Self::redefine), so
    /// that re-running an unchanged module is a no-op.
    ///
    /// ```
    /// use dynacast::{body, DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let greet = rt.interface("IGreet").abstract_method("hello", 0).define()?;
    /// let greet_impl = rt
    ///     .interface("IGreetImpl")
    ///     .base(&greet)
    ///     .override_base(&greet, "hello", |_| Ok(Value::from("hi")))
    ///     .dynamic_castable_implementation()
    ///     .define()?;
    /// assert!(greet_impl.as_type().is_assignable_to(&greet.as_type()));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn define(mut self) -> Result<InterfaceRef<H>, Error<H::Error>> {
        if !self.variances.is_empty() {
            return Err(Error::type_load(
                &self.name,
                "a generic interface is defined with define_generic()",
            ));
        }
        self.validate()?;
        let same_as = |existing: &NamedType<H>, built: &InterfaceRef<H>| match existing {
            NamedType::Type(TypeRef::Interface(i)) if same_interface(i.data(), built.data()) => {
                Some(i.clone())
            }
            _ => None,
        };
        self.rt.register(
            &self.name,
            self.redefine,
            |runtime| {
                let weak_runtime = self.rt.downgrade();
                let data =
                    self.template
                        .build(runtime, &weak_runtime, self.name.clone(), &[], None)?;
                let iface = InterfaceRef(Arc::new(data));
                Ok((NamedType::Type(TypeRef::Interface(iface.clone())), iface))
            },
            same_as,
        )
    }

    /// Defines a generic interface definition; close it with [`GenericInterface::instantiate`].
    pub fn define_generic(mut self) -> Result<GenericInterface<H>, Error<H::Error>> {
        if self.variances.is_empty() {
            return Err(Error::type_load(
                &self.name,
                "a generic interface needs at least one type parameter",
            ));
        }
        self.validate()?;
        self.template
            .check_without_params(self.rt.id(), &self.rt.downgrade(), &self.name)?;
        self.rt.register(
            &self.name,
            self.redefine,
            |runtime| {
                let def = GenericInterface(Arc::new(GenericDef {
                    uid: next_uid(),
                    runtime,
                    weak_runtime: self.rt.downgrade(),
                    name: self.name.clone(),
                    variances: self.variances.into_boxed_slice(),
                    template: self.template,
                    instances: Mutex::new(InstanceCache::new()),
                }));
                Ok((NamedType::Generic(def.clone()), def))
            },
            |_, _| None,
        )
    }
}

pub(crate) struct GenericDef<H: Host> {
    uid: u64,
    pub(crate) runtime: u64,
    /// Handed to each instantiation (see `InterfaceData::weak_runtime`).
    weak_runtime: WeakRuntime<H>,
    name: Arc<str>,
    variances: Box<[Variance]>,
    template: InterfaceTemplate<H>,
    /// Closed instantiations by argument uids: each exists once while it lives, so that type
    /// identity holds. Weak: an instantiation holds its definition, so a strong link back
    /// would be a cycle keeping both (and every argument type) alive forever.
    instances: Mutex<InstanceCache<H>>,
}

/// A generic definition's weak cache of its closed instantiations.
struct InstanceCache<H: Host> {
    live: HashMap<Box<[u64]>, Weak<InterfaceData<H>>, RandomState>,
    /// Dead entries are swept when the map reaches this size, which then becomes twice the
    /// live count: the sweep's cost is amortized over the insertions that preceded it, and
    /// the map never holds more than about twice the live instantiations.
    sweep_at: usize,
}

impl<H: Host> InstanceCache<H> {
    fn new() -> Self {
        InstanceCache {
            live: HashMap::default(),
            sweep_at: 16,
        }
    }

    fn get(&self, key: &[u64]) -> Option<InterfaceRef<H>> {
        self.live.get(key).and_then(Weak::upgrade).map(InterfaceRef)
    }

    fn insert(&mut self, key: Box<[u64]>, iface: &InterfaceRef<H>) {
        if self.live.len() >= self.sweep_at {
            // Dropping a dead `Weak` frees memory only: no user code runs under the lock.
            self.live.retain(|_, w| w.strong_count() > 0);
            self.sweep_at = (self.live.len() * 2).max(16);
        }
        self.live.insert(key, Arc::downgrade(&iface.0));
    }
}

/// A generic interface definition such as `ITestGeneric<in T, out U>`. Each closed
/// instantiation is its own interface type.
pub struct GenericInterface<H: Host>(pub(crate) Arc<GenericDef<H>>);

impl<H: Host> Clone for GenericInterface<H> {
    fn clone(&self) -> Self {
        GenericInterface(self.0.clone())
    }
}
impl<H: Host> fmt::Debug for GenericInterface<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "generic interface {}", self.0.name)
    }
}

impl<H: Host> GenericInterface<H> {
    /// The definition's name, without arguments.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub(crate) fn uid(&self) -> u64 {
        self.0.uid
    }

    /// The variance of each type parameter.
    pub fn variances(&self) -> &[Variance] {
        &self.0.variances
    }

    /// The number of type parameters.
    pub fn arity(&self) -> usize {
        self.0.variances.len()
    }

    /// The closed interface `Self<args…>`; the same arguments give the same interface for
    /// as long as it is alive (held by a handle, a class or another type). The definition
    /// keeps only weak links to its instantiations, so one that nothing holds is freed, and
    /// a later call builds a new one (with a new uid).
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime, Variance};
    /// let rt = Runtime::<DynHost>::new();
    /// let animal = rt.class("Animal").define()?;
    /// let cat = rt.class("Cat").base(&animal).define()?;
    /// let producer = rt
    ///     .generic_interface("IProducer", &[Variance::Covariant])
    ///     .abstract_method("get", 0)
    ///     .define_generic()?;
    /// let of_cat = producer.instantiate(&[cat.as_type()])?;
    /// let of_animal = producer.instantiate(&[animal.as_type()])?;
    /// assert_eq!(of_cat.name(), "IProducer<Cat>");
    /// assert_eq!(producer.instantiate(&[cat.as_type()])?, of_cat);
    /// // `out T`: a producer of cats is a producer of animals, not the reverse.
    /// assert!(of_cat.as_type().is_assignable_to(&of_animal.as_type()));
    /// assert!(!of_animal.as_type().is_assignable_to(&of_cat.as_type()));
    /// assert_eq!(producer.instantiate(&[]).unwrap_err().kind(), "TypeLoad");
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn instantiate(&self, args: &[TypeRef<H>]) -> Result<InterfaceRef<H>, Error<H::Error>> {
        let def = &self.0;
        if args.len() != def.variances.len() {
            return Err(Error::type_load(
                &def.name,
                format!(
                    "wrong number of type arguments: expected {}, got {}",
                    def.variances.len(),
                    args.len()
                ),
            ));
        }
        if let Some(foreign) = args.iter().find(|a| a.runtime_id() != def.runtime) {
            return Err(Error::type_load(
                &def.name,
                format!(
                    "type argument '{}' belongs to another Runtime",
                    foreign.name()
                ),
            ));
        }
        let key: Box<[u64]> = args.iter().map(|a| a.uid()).collect();
        if let Some(found) = lock(&def.instances).get(&key) {
            return Ok(found);
        }
        let depth = generic_depth(args) + 1;
        if depth > MAX_GENERIC_NESTING {
            return Err(Error::type_load(
                &def.name,
                format!("generic instantiations nest more than {MAX_GENERIC_NESTING} deep"),
            ));
        }
        // Built outside the lock: building may instantiate other generics (its bases).
        let names: Vec<&str> = args.iter().map(|a| a.name()).collect();
        let name: Arc<str> = Arc::from(format!("{}<{}>", def.name, names.join(", ")));
        let generic = GenericInstance {
            definition: self.clone(),
            args: args.to_vec().into_boxed_slice(),
        };
        let data = def
            .template
            .build(def.runtime, &def.weak_runtime, name, args, Some(generic))?;
        let built = InterfaceRef(Arc::new(data));
        // First published wins, so that every caller sees one identity per argument list.
        // A losing `built` is dropped after the guard: its bodies are user code's.
        let published = {
            let mut instances = lock(&def.instances);
            match instances.get(&key) {
                Some(found) => found,
                None => {
                    instances.insert(key, &built);
                    built.clone()
                }
            }
        };
        drop(built);
        Ok(published)
    }

    /// The number of closed instantiations of this definition alive now (held by a class,
    /// a handle or another type). Instantiations nobody holds are freed, and a later
    /// `instantiate` with the same arguments builds a new one.
    pub fn live_instantiations(&self) -> usize {
        lock(&self.0.instances)
            .live
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}
