//! A deliberately naive reference model of dynacast's semantics, written straight from
//! the rules chapter (`dynacast::rules`: rules B1–B5, C1–C5, D1) with no caches and no precomputed tables: every
//! question is answered by walking the plain-data definitions again.
//!
//! The model knows nothing of the engine's internals. It reads the same definitions the
//! tests feed the engine (as plain data: names, indices, tags) and predicts, for every cast
//! and every call, the result or the exact error (kind, and the message where the rules fix
//! it), and which hook is called how many times. Bodies are identified by integer tags:
//! every body the tests define returns its own tag.
//!
//! [`gen`] turns random bytes into definitions and operations; [`build`] feeds definitions
//! to the engine; [`within`] is the watchdog every concurrent test runs under.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

pub mod build;
pub mod gen;

use std::collections::HashMap;

/// A body's identity: the value it returns.
pub type Tag = i64;
/// An index into [`Model::types`].
pub type TypeId = usize;

/// A generic parameter's variance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    Inv,
    Out,
    In,
}

/// What an interface member is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Abstract,
    Default(Tag),
    Helper(Tag),
    Static(Tag),
}

impl Kind {
    pub fn is_virtual(&self) -> bool {
        matches!(self, Kind::Abstract | Kind::Default(_))
    }
}

#[derive(Clone, Debug)]
pub struct Method {
    pub name: String,
    pub arity: usize,
    pub kind: Kind,
}

/// An interface's body for (`Some`) or re-abstraction of (`None`) a base's method, by the
/// base named and the method name as written.
#[derive(Clone, Debug)]
pub struct Override {
    pub base: TypeId,
    pub method: String,
    pub body: Option<Tag>,
}

#[derive(Clone, Debug)]
pub struct Iface {
    pub name: String,
    pub methods: Vec<Method>,
    pub bases: Vec<TypeId>,
    pub overrides: Vec<Override>,
    pub marked: bool,
    /// For a closed generic: (definition index, argument types).
    pub generic: Option<(usize, Vec<TypeId>)>,
}

#[derive(Clone, Debug)]
pub struct VMethod {
    pub name: String,
    pub arity: usize,
    /// `None`: abstract.
    pub body: Option<Tag>,
}

#[derive(Clone, Debug)]
pub struct Class {
    pub name: String,
    /// `None` only for the root class `object`.
    pub base: Option<TypeId>,
    pub is_abstract: bool,
    pub methods: Vec<VMethod>,
    pub overrides: Vec<(String, Tag)>,
    pub implements: Vec<TypeId>,
    /// (interface, interface method name, class method name).
    pub maps: Vec<(TypeId, String, String)>,
    pub hook: Option<usize>,
}

#[derive(Clone, Debug)]
pub enum Type {
    Class(Class),
    Iface(Iface),
}

/// A generic interface definition (no bases: instantiations carry methods only).
#[derive(Clone, Debug)]
pub struct GenericDef {
    pub name: String,
    pub variances: Vec<Var>,
    pub methods: Vec<Method>,
    pub marked: bool,
}

/// What a hook's `is_interface_implemented` answers for one interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsAnswer {
    Yes,
    No,
    /// `Err("REQUESTED=<name>")` when asked to throw, `false` otherwise (scenarios S1–S7 fixture).
    ThrowIfAsked,
    /// `Err("is failed: <name>")` always.
    Fail,
}

/// What a hook's `get_interface_implementation` answers for one interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetAnswer {
    None,
    Type(TypeId),
    /// `Err("get failed: <name>")`.
    Fail,
}

/// A hook: answers per interface (absent: `No` / `None`).
#[derive(Clone, Debug, Default)]
pub struct Hook {
    pub is: HashMap<TypeId, IsAnswer>,
    pub get: HashMap<TypeId, GetAnswer>,
}

/// Every definition of one runtime, in definition order (type 0 is `object`).
#[derive(Clone, Debug)]
pub struct Model {
    pub types: Vec<Type>,
    pub generics: Vec<GenericDef>,
    pub hooks: Vec<Hook>,
}

/// A predicted outcome: a value (a body's tag, or a cast answer) or an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect<T> {
    Ok(T),
    /// Error kind, and the exact message where the rules fix it.
    Err(&'static str, Option<String>),
}

/// Which hook a prediction calls, and how often (0 or 1 per operation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookCalls {
    pub hook: Option<usize>,
    pub is_calls: usize,
    pub get_calls: usize,
}

/// The outcome of the most-specific-default search (C4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Default {
    Body(Tag),
    Missing,
    Reabstracted,
    Ambiguous,
}

/// Published dynamic resolutions (D1): (class, declaring interface, slot) → body. This is
/// the state rule D1 describes, not a cache of the model's own work.
pub type Published = HashMap<(TypeId, TypeId, usize), Tag>;

pub fn invalid_cast(obj: &str, target: &str) -> Expect<Tag> {
    Expect::Err(
        "InvalidCast",
        Some(format!(
            "Unable to cast object of type '{obj}' to type '{target}'."
        )),
    )
}

impl Model {
    pub fn new() -> Self {
        Model {
            types: vec![Type::Class(Class {
                name: "object".into(),
                base: None,
                is_abstract: false,
                methods: vec![],
                overrides: vec![],
                implements: vec![],
                maps: vec![],
                hook: None,
            })],
            generics: vec![],
            hooks: vec![],
        }
    }

    pub fn name(&self, t: TypeId) -> &str {
        match &self.types[t] {
            Type::Class(c) => &c.name,
            Type::Iface(i) => &i.name,
        }
    }

    pub fn class(&self, t: TypeId) -> Option<&Class> {
        match &self.types[t] {
            Type::Class(c) => Some(c),
            Type::Iface(_) => None,
        }
    }

    pub fn iface(&self, t: TypeId) -> Option<&Iface> {
        match &self.types[t] {
            Type::Iface(i) => Some(i),
            Type::Class(_) => None,
        }
    }

    pub fn is_iface(&self, t: TypeId) -> bool {
        self.iface(t).is_some()
    }

    pub fn ifaces(&self) -> Vec<TypeId> {
        (0..self.types.len())
            .filter(|t| self.is_iface(*t))
            .collect()
    }

    pub fn classes(&self) -> Vec<TypeId> {
        (0..self.types.len())
            .filter(|t| !self.is_iface(*t))
            .collect()
    }

    // ----- interfaces -------------------------------------------------------------------

    /// Every base of `i`, transitively: each direct base then its bases, first seen first.
    pub fn all_bases(&self, i: TypeId) -> Vec<TypeId> {
        let mut out = Vec::new();
        for &b in &self.iface(i).expect("interface").bases {
            for x in std::iter::once(b).chain(self.all_bases(b)) {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
        out
    }

    /// The method `name` as seen from `i`: declared by `i`, else by its bases in order.
    pub fn find_method(&self, i: TypeId, name: &str) -> Option<(TypeId, usize)> {
        std::iter::once(i).chain(self.all_bases(i)).find_map(|j| {
            let slot = self.iface(j)?.methods.iter().position(|m| m.name == name)?;
            Some((j, slot))
        })
    }

    pub fn method(&self, decl: TypeId, slot: usize) -> &Method {
        &self.iface(decl).expect("interface").methods[slot]
    }

    /// `a` and `b` are one interface, or instantiations of one generic definition whose
    /// arguments convert per variance.
    pub fn variant_compatible(&self, a: TypeId, b: TypeId) -> bool {
        if a == b {
            return true;
        }
        let (Some((da, xa)), Some((db, xb))) = (
            self.iface(a).and_then(|i| i.generic.clone()),
            self.iface(b).and_then(|i| i.generic.clone()),
        ) else {
            return false;
        };
        if da != db {
            return false;
        }
        let vars = &self.generics[da].variances;
        (0..vars.len()).all(|k| match vars[k] {
            Var::Inv => xa[k] == xb[k],
            Var::Out => self.assignable(xa[k], xb[k]),
            Var::In => self.assignable(xb[k], xa[k]),
        })
    }

    pub fn iface_assignable(&self, a: TypeId, b: TypeId) -> bool {
        std::iter::once(a)
            .chain(self.all_bases(a))
            .any(|x| self.variant_compatible(x, b))
    }

    // ----- classes ----------------------------------------------------------------------

    /// `c`, its base, …, `object`.
    pub fn chain(&self, c: TypeId) -> Vec<TypeId> {
        let mut out = vec![c];
        let mut k = c;
        while let Some(b) = self.class(k).expect("class").base {
            out.push(b);
            k = b;
        }
        out
    }

    pub fn derives(&self, c: TypeId, target: TypeId) -> bool {
        self.chain(c).contains(&target)
    }

    /// The interfaces `c` lists itself, with their bases.
    pub fn listed_closure(&self, c: TypeId) -> Vec<TypeId> {
        let mut out = Vec::new();
        for &i in &self.class(c).expect("class").implements {
            for x in std::iter::once(i).chain(self.all_bases(i)) {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
        out
    }

    /// Every interface `c` implements by metadata: its own listed ones and its bases'.
    pub fn iface_set(&self, c: TypeId) -> Vec<TypeId> {
        let mut out = Vec::new();
        for k in self.chain(c).into_iter().rev() {
            for x in self.listed_closure(k) {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
        out
    }

    /// B1/C1: the interface of `c`'s set that serves `target`: itself, else a
    /// variance-compatible one (generators keep at most one instantiation per definition
    /// in a class's set, so this is never a choice).
    pub fn implements(&self, c: TypeId, target: TypeId) -> Option<TypeId> {
        let set = self.iface_set(c);
        if set.contains(&target) {
            return Some(target);
        }
        set.into_iter()
            .find(|&i| self.variant_compatible(i, target))
    }

    /// B1: metadata assignability of any type to any type.
    pub fn assignable(&self, from: TypeId, to: TypeId) -> bool {
        match (self.is_iface(from), self.is_iface(to)) {
            (_, false) if to == 0 => true,
            (false, false) => self.derives(from, to),
            (true, false) => false,
            (false, true) => self.implements(from, to).is_some(),
            (true, true) => self.iface_assignable(from, to),
        }
    }

    pub fn hook_of(&self, c: TypeId) -> Option<usize> {
        self.chain(c)
            .into_iter()
            .find_map(|k| self.class(k).expect("class").hook)
    }

    /// The vtable of `c`: inherited slots, new ones, then overrides applied.
    pub fn vtable(&self, c: TypeId) -> Vec<VMethod> {
        let class = self.class(c).expect("class");
        let mut v = match class.base {
            Some(b) => self.vtable(b),
            None => Vec::new(),
        };
        v.extend(class.methods.iter().cloned());
        for (name, tag) in &class.overrides {
            if let Some(m) = v.iter_mut().find(|m| &m.name == name) {
                m.body = Some(*tag);
            }
        }
        v
    }

    /// How `c` serves slot `slot` of interface `i` (which is in its set), by metadata: an
    /// explicit map, else a same-name-and-arity virtual method of a class that lists `i`,
    /// the most derived such class first; else the most specific default (C4).
    pub fn static_slot(&self, c: TypeId, i: TypeId, slot: usize) -> Default {
        let decl = self.method(i, slot).clone();
        if !decl.kind.is_virtual() {
            return Default::Missing;
        }
        let vt = self.vtable(c);
        let body_of = |name: &str| match vt.iter().find(|m| m.name == name) {
            Some(VMethod { body: Some(t), .. }) => Default::Body(*t),
            _ => Default::Missing,
        };
        for k in self.chain(c) {
            if !self.iface_set(k).contains(&i) {
                break;
            }
            let class = self.class(k).expect("class");
            for (mi, mname, cname) in &class.maps {
                if self.find_method(*mi, mname) == Some((i, slot)) {
                    return body_of(cname);
                }
            }
            if self.listed_closure(k).contains(&i) {
                if let Some(m) = self
                    .vtable(k)
                    .iter()
                    .find(|m| m.name == decl.name && m.arity == decl.arity)
                {
                    return body_of(&m.name);
                }
            }
        }
        self.most_specific_default(&self.iface_set(c), i, slot)
    }

    /// C4: among `set`, the interfaces that give a body for (or re-abstract) method
    /// (`decl`, `slot`); the ones no other candidate derives from are most specific.
    /// Declarations of exactly `decl` count first; variance-compatible instantiations of
    /// it only when there are none (CoreCLR's order, documented in the engine).
    pub fn most_specific_default(&self, set: &[TypeId], decl: TypeId, slot: usize) -> Default {
        let mut candidates = self.candidates(set, decl, slot, false);
        if candidates.is_empty() {
            candidates = self.candidates(set, decl, slot, true);
        }
        let most: Vec<(TypeId, Option<Tag>)> = candidates
            .iter()
            .copied()
            .filter(|(c, _)| {
                !candidates
                    .iter()
                    .any(|(o, _)| o != c && self.all_bases(*o).contains(c))
            })
            .collect();
        match most.as_slice() {
            [] => Default::Missing,
            [(_, Some(t))] => Default::Body(*t),
            [(_, None)] => Default::Reabstracted,
            _ => Default::Ambiguous,
        }
    }

    /// What each interface of `set` declares for method (`decl`, `slot`): its own default
    /// (when it is `decl`, or with `variance` a compatible instantiation of it), or an
    /// override or re-abstraction of it.
    fn candidates(
        &self,
        set: &[TypeId],
        decl: TypeId,
        slot: usize,
        variance: bool,
    ) -> Vec<(TypeId, Option<Tag>)> {
        let same = |a: TypeId| {
            if variance {
                self.variant_compatible(a, decl)
            } else {
                a == decl
            }
        };
        let mut out = Vec::new();
        for &j in set {
            let iface = self.iface(j).expect("interface");
            if same(j) {
                if let Kind::Default(t) = iface.methods[slot].kind {
                    out.push((j, Some(t)));
                }
                continue;
            }
            for o in &iface.overrides {
                let Some((target, tslot)) = self.find_method(o.base, &o.method) else {
                    continue;
                };
                if tslot == slot && same(target) {
                    out.push((j, o.body));
                    break;
                }
            }
        }
        out
    }

    /// Whether defining class `c` must fail with `TypeLoad` (only the checks generated
    /// definitions can trip: abstract members left in a concrete class).
    pub fn define_fails(&self, c: TypeId) -> bool {
        let class = self.class(c).expect("class");
        // A class method named like a method of an interface the class lists, with another
        // arity and no explicit map, fails (default body or not, abstract class or not).
        let vt = self.vtable(c);
        for i in self.listed_closure(c) {
            let n = self.iface(i).expect("interface").methods.len();
            for s in 0..n {
                let decl = self.method(i, s);
                if !decl.kind.is_virtual() {
                    continue;
                }
                let mapped = class
                    .maps
                    .iter()
                    .any(|(mi, mname, _)| self.find_method(*mi, mname) == Some((i, s)));
                let named: Vec<_> = vt.iter().filter(|m| m.name == decl.name).collect();
                if !mapped && !named.is_empty() && named.iter().all(|m| m.arity != decl.arity) {
                    return true;
                }
            }
        }
        if class.is_abstract {
            return false;
        }
        if self.vtable(c).iter().any(|m| m.body.is_none()) {
            return true;
        }
        self.iface_set(c).into_iter().any(|i| {
            let n = self.iface(i).expect("interface").methods.len();
            (0..n).any(|s| {
                self.method(i, s).kind.is_virtual() && self.static_slot(c, i, s) == Default::Missing
            })
        })
    }

    // ----- casts (rules B1–B6) --------------------------------------------------------------

    /// `is_instance_of` (`throw = false`) or `cast` (`throw = true`) of an instance of `c`
    /// to `target`.
    pub fn cast(&self, c: TypeId, target: TypeId, throw: bool) -> (Expect<bool>, HookCalls) {
        let mut calls = HookCalls::default();
        let fail = |calls| {
            if throw {
                let Expect::Err(k, m) = invalid_cast(self.name(c), self.name(target)) else {
                    unreachable!()
                };
                (Expect::Err(k, m), calls)
            } else {
                (Expect::Ok(false), calls)
            }
        };
        if self.assignable(c, target) {
            return (Expect::Ok(true), calls);
        }
        if !self.is_iface(target) {
            return fail(calls);
        }
        let Some(h) = self.hook_of(c) else {
            return fail(calls);
        };
        calls.hook = Some(h);
        calls.is_calls = 1;
        let answer = self.hooks[h]
            .is
            .get(&target)
            .copied()
            .unwrap_or(IsAnswer::No);
        let name = self.name(target);
        match answer {
            IsAnswer::Yes => (Expect::Ok(true), calls),
            IsAnswer::No => fail(calls),
            IsAnswer::ThrowIfAsked if throw => (
                Expect::Err("Host", Some(format!("REQUESTED={name}"))),
                calls,
            ),
            IsAnswer::ThrowIfAsked => (Expect::Ok(false), calls),
            IsAnswer::Fail => (
                Expect::Err("Host", Some(format!("is failed: {name}"))),
                calls,
            ),
        }
    }

    // ----- dispatch (rules C1–D3) -----------------------------------------------------------

    /// A call of method `name`, looked up from interface `holder`, with `argc` arguments,
    /// on an instance of `c`. Updates `published` as D1 says.
    pub fn call(
        &self,
        c: TypeId,
        holder: TypeId,
        name: &str,
        argc: usize,
        published: &mut Published,
    ) -> (Expect<Tag>, HookCalls) {
        let mut calls = HookCalls::default();
        let (decl, slot) = self.find_method(holder, name).expect("method exists");
        let m = self.method(decl, slot).clone();
        let dname = self.name(decl).to_string();
        let cname = self.name(c).to_string();
        if m.arity != argc {
            return (
                Expect::Err(
                    "ArgumentCount",
                    Some(format!(
                        "Method '{dname}.{}' takes {} argument(s) but was called with {argc}.",
                        m.name, m.arity
                    )),
                ),
                calls,
            );
        }
        match m.kind {
            Kind::Helper(t) | Kind::Static(t) => return (Expect::Ok(t), calls),
            Kind::Abstract | Kind::Default(_) => {}
        }
        let from_default = |d: Default| match d {
            Default::Body(t) => Expect::Ok(t),
            Default::Missing | Default::Reabstracted => Expect::Err("EntryPointNotFound", None),
            Default::Ambiguous => Expect::Err("AmbiguousImplementation", None),
        };
        // C1: metadata first; the hook is never asked.
        if let Some(i) = self.implements(c, decl) {
            return (from_default(self.static_slot(c, i, slot)), calls);
        }
        let Some(h) = self.hook_of(c) else {
            return (invalid_cast(&cname, &dname), calls);
        };
        calls.hook = Some(h);
        // D1: a published resolution serves every instance of the class.
        if let Some(t) = published.get(&(c, decl, slot)) {
            return (Expect::Ok(*t), calls);
        }
        // C2: the hook is asked about the declaring interface.
        calls.get_calls = 1;
        let answer = self.hooks[h]
            .get
            .get(&decl)
            .copied()
            .unwrap_or(GetAnswer::None);
        let imp = match answer {
            GetAnswer::None => return (invalid_cast(&cname, &dname), calls),
            GetAnswer::Fail => {
                return (
                    Expect::Err("Host", Some(format!("get failed: {dname}"))),
                    calls,
                )
            }
            GetAnswer::Type(t) => t,
        };
        // C3, in order.
        let rname = self.name(imp).to_string();
        let op = |msg: String| Expect::Err("InvalidOperation", Some(msg));
        let Some(iface) = self.iface(imp) else {
            return (
                op(format!(
                    "Type '{rname}' returned by IDynamicInterfaceCastable is not an interface."
                )),
                calls,
            );
        };
        if !iface.marked {
            return (
                op(format!("Type '{rname}' returned by IDynamicInterfaceCastable does not have the attribute 'DynamicInterfaceCastableImplementationAttribute'.")),
                calls,
            );
        }
        if !self.iface_assignable(imp, decl) {
            return (
                op(format!("Type '{rname}' returned by IDynamicInterfaceCastable does not implement the requested interface '{dname}'.")),
                calls,
            );
        }
        // C4 within the implementation interface and its bases.
        let set: Vec<TypeId> = std::iter::once(imp).chain(self.all_bases(imp)).collect();
        let d = self.most_specific_default(&set, decl, slot);
        if let Default::Body(t) = d {
            published.insert((c, decl, slot), t);
        }
        (from_default(d), calls)
    }
}

/// Runs `f` on a fresh thread (with Rust's default 2 MiB stack) and fails the test if it has not
/// finished within `secs` seconds: a deadlock or a hang becomes a failure, not a stuck CI.
/// A panic inside `f` is re-raised here.
pub fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(());
            out
        })
        .expect("spawn");
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(()) => match handle.join().expect("joined") {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(_) => panic!("watchdog: not finished after {secs} s (deadlock or hang)"),
    }
}
