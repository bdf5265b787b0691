//! Classes: a single base class, virtual methods in vtable slots, interface maps, abstract
//! classes and the optional dynamic-castable hook (SPEC §1).
//!
//! Everything static about a class is computed here, once, when it is defined: its ancestor
//! chain, its vtable, its full interface set and, for each of those interfaces, the body
//! every method slot resolves to. A metadata cast or a static call is then a couple of loads.

use std::fmt;
use std::sync::Arc;

use crate::default_methods::{most_specific_default, DefaultResolution};
use crate::dispatch_cache::DispatchCache;
use crate::error::Error;
use crate::hook::DynamicCastable;
use crate::host::{Body, Host};
use crate::interface::{InterfaceData, InterfaceRef, MemberKind, MethodKey, MethodRef, TypeExpr};
use crate::runtime::{NamedType, Runtime};
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

/// An entry of a class's interface index.
pub(crate) struct InterfaceIndex {
    uid: u64,
    first_slot: usize,
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
    /// Ancestor uids, the root class first and this class last.
    pub(crate) ancestors: Box<[u64]>,
    is_abstract: bool,
    pub(crate) vtable: Box<[VirtualMethod<H>]>,
    /// Every implemented interface (including bases): its uid and where its slots start in
    /// `static_bodies`; sorted by uid, parallel to `interfaces`.
    interface_index: Box<[InterfaceIndex]>,
    interfaces: Box<[ImplementedInterface<H>]>,
    /// The bodies of every interface's slots, one flat array (`None`: no body, see
    /// `interfaces` for why). A static call reads it straight from the index entry, one
    /// dependent load fewer than going through `interfaces[i].slots`.
    static_bodies: Box<[Option<Body<H>>]>,
    pub(crate) hook: Option<Arc<dyn DynamicCastable<H>>>,
    /// Present exactly when `hook` is: the per-type cache of dynamic resolutions (SPEC D1).
    pub(crate) dispatch_cache: Option<DispatchCache<H>>,
}

impl<H: Host> ClassData<H> {
    pub(crate) fn depth(&self) -> usize {
        self.ancestors.len() - 1
    }

    pub(crate) fn is_root(&self) -> bool {
        self.ancestors.len() == 1
    }

    /// The class's implementation of `iface`, by metadata (SPEC B1/C1): an exact match,
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
    #[inline]
    pub(crate) fn implements_exactly(&self, uid: u64) -> bool {
        self.interface_position(uid).is_some()
    }

    /// Whether the class implements a variance-compatible instantiation of `iface`.
    pub(crate) fn implements_by_variance(&self, iface: &InterfaceData<H>) -> bool {
        self.find_by_variance(iface).is_some()
    }

    /// The static call's fast path (SPEC C1): the body serving `key` when the class
    /// implements `key`'s interface exactly (not through variance) and the slot has one.
    /// `None` sends the caller to [`find_interface`](Self::find_interface).
    #[inline]
    pub(crate) fn static_body(&self, key: MethodKey) -> Option<&Body<H>> {
        let i = self.interface_position(key.iface)?;
        let first = self.interface_index[i].first_slot;
        self.static_bodies.get(first + key.slot as usize)?.as_ref()
    }
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
    /// let base = rt.class("Base").method("who", 0, body(|_, _, _| Ok(Value::from("base")))).define()?;
    /// let derived = rt
    ///     .class("Derived")
    ///     .base(&base)
    ///     .override_method("who", body(|_, _, _| Ok(Value::from("derived"))))
    ///     .define()?;
    /// let obj = rt.new_object(&derived, Value::Nil)?;
    /// assert_eq!(obj.call_virtual(&base.method("who")?, &[], &mut ())?, Value::from("derived"));
    /// # Ok::<(), dynacast::DynError>(())
    /// ```
    pub fn method(&self, name: &str) -> Result<ClassMethodRef<H>, Error<H::Error>> {
        self.0
            .vtable
            .iter()
            .position(|m| &*m.name == name)
            .map(|slot| ClassMethodRef {
                class: self.clone(),
                slot,
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

    /// The implementation interface whose default serves `method` on this class, if a
    /// dynamic resolution of it is cached (for diagnostics: which answer of the hook won).
    pub fn cached_implementation(&self, method: &MethodRef<H>) -> Option<InterfaceRef<H>> {
        let cache = self.0.dispatch_cache.as_ref()?;
        cache.get(method.key).map(|r| r.implementation.clone())
    }
}

/// A virtual method of a class: a vtable slot, called with
/// [`Object::call_virtual`](crate::Object::call_virtual) on instances of the class or its
/// subclasses.
pub struct ClassMethodRef<H: Host> {
    pub(crate) class: ClassRef<H>,
    pub(crate) slot: usize,
}

impl<H: Host> Clone for ClassMethodRef<H> {
    fn clone(&self) -> Self {
        ClassMethodRef {
            class: self.class.clone(),
            slot: self.slot,
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
        self.class.0.vtable[self.slot].arity
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
    hook: Option<Arc<dyn DynamicCastable<H>>>,
    redefine: bool,
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

    /// Declares a new virtual method (a new vtable slot).
    pub fn method(mut self, name: &str, arity: usize, body: Body<H>) -> Self {
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
    pub fn override_method(mut self, name: &str, body: Body<H>) -> Self {
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
    /// let shape = rt.interface("IShape").method("area", 0).define()?;
    /// let square = rt
    ///     .class("Square")
    ///     .implement(&shape)
    ///     .method("surface", 0, body(|_, _, _| Ok(Value::Int(4))))
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
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Gives the class a hook shared with other classes.
    pub fn shared_hook(mut self, hook: Arc<dyn DynamicCastable<H>>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Lets the definition take over the name of an existing type (hot reload). Existing
    /// objects keep their old class.
    pub fn redefine(mut self) -> Self {
        self.redefine = true;
        self
    }

    /// Defines the class and registers its name.
    ///
    /// ```
    /// use dynacast::{body, DynHost, Runtime, Value};
    /// let rt = Runtime::<DynHost>::new();
    /// let shape = rt.interface("IShape").method("area", 0).define()?;
    /// let square = rt
    ///     .class("Square")
    ///     .implement(&shape)
    ///     .method("area", 0, body(|_, _, _| Ok(Value::Int(4))))
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
        rt.register(&name, redefine, |runtime| {
            let class = ClassRef(Arc::new(self.build(runtime, &base, &interfaces, &maps)?));
            Ok((NamedType::Type(TypeRef::Class(class.clone())), class))
        })
    }

    fn build(
        self,
        runtime: u64,
        base: &ClassRef<H>,
        listed: &[InterfaceRef<H>],
        maps: &[(InterfaceRef<H>, Arc<str>, Arc<str>)],
    ) -> Result<ClassData<H>, Error<H::Error>> {
        let name = &self.name;
        let base_data = base.data();

        // The vtable: inherited slots, then our own new ones, then our overrides.
        let mut vtable: Vec<VirtualMethod<H>> = base_data.vtable.to_vec();
        for m in self.methods {
            if vtable.iter().any(|v| v.name == m.name) {
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
        for (i, (method, body)) in self.overrides.iter().enumerate() {
            if self.overrides[..i].iter().any(|(m, _)| m == method) {
                return Err(Error::type_load(
                    name,
                    format!("method '{method}' is overridden twice"),
                ));
            }
            let slot = base_data
                .vtable
                .iter()
                .position(|v| v.name == *method)
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
        let mut relisted: Vec<u64> = Vec::new();
        for iface in listed {
            for i in std::iter::once(iface).chain(iface.all_bases().iter()) {
                if !set.iter().any(|s| s.uid() == i.uid()) {
                    set.push(i.clone());
                }
                relisted.push(i.uid());
            }
        }

        // Explicit maps, checked and turned into (method key → vtable slot).
        let mut explicit: Vec<(MethodKey, usize)> = Vec::new();
        for (iface, iface_method, class_method) in maps {
            if !set.iter().any(|s| s.uid() == iface.uid()) {
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
            let slot = vtable
                .iter()
                .position(|v| v.name == *class_method)
                .ok_or_else(|| {
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
            if explicit.iter().any(|(k, _)| *k == method.key) {
                return Err(Error::type_load(
                    name,
                    format!(
                        "'{}.{iface_method}' is mapped twice",
                        method.interface().name()
                    ),
                ));
            }
            explicit.push((method.key, slot));
        }

        // Resolve every slot of every interface in the set.
        let mut implemented: Vec<ImplementedInterface<H>> = Vec::with_capacity(set.len());
        for iface in &set {
            let inherited = base_data
                .interfaces
                .iter()
                .find(|i| i.iface.uid() == iface.uid());
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
                    vtable
                        .iter()
                        .position(|v| v.name == decl.name && v.arity == decl.arity)
                };
                let mapped = explicit
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, s)| *s)
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
                        match most_specific_default(set.iter(), &method) {
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
        let mut ancestors = base_data.ancestors.to_vec();
        ancestors.push(uid);
        let hook = self.hook.or_else(|| base_data.hook.clone());
        Ok(ClassData {
            uid,
            runtime,
            name: self.name.clone(),
            base: Some(base.clone()),
            ancestors: ancestors.into_boxed_slice(),
            is_abstract: self.is_abstract,
            vtable: vtable.into_boxed_slice(),
            interface_index: interface_index(&implemented),
            static_bodies: implemented
                .iter()
                .flat_map(|i| i.slots.iter())
                .map(|slot| match slot {
                    SlotImpl::Body(body) => Some(body.clone()),
                    _ => None,
                })
                .collect(),
            interfaces: implemented.into_boxed_slice(),
            dispatch_cache: hook.as_ref().map(|_| DispatchCache::new()),
            hook,
        })
    }
}

/// The index of `implemented` (sorted by uid): each interface's uid and first slot in the
/// flat body array, which lists every interface's slots in the same order.
fn interface_index<H: Host>(implemented: &[ImplementedInterface<H>]) -> Box<[InterfaceIndex]> {
    let mut first_slot = 0;
    implemented
        .iter()
        .map(|i| {
            let entry = InterfaceIndex {
                uid: i.iface.uid(),
                first_slot,
            };
            first_slot += i.slots.len();
            entry
        })
        .collect()
}

/// The runtime's root class `object`, base of every class.
pub(crate) fn root_class<H: Host>(runtime: u64) -> ClassRef<H> {
    let uid = next_uid();
    ClassRef(Arc::new(ClassData {
        uid,
        runtime,
        name: Arc::from("object"),
        base: None,
        ancestors: Box::new([uid]),
        is_abstract: false,
        vtable: Box::new([]),
        interface_index: Box::new([]),
        interfaces: Box::new([]),
        static_bodies: Box::new([]),
        hook: None,
        dispatch_cache: None,
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
