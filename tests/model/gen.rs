//! Turns a tape of random bytes into a model (interfaces, generics, classes, hooks) and a
//! list of operations. Every choice reads the tape; an exhausted tape reads zeros, so
//! proptest's shrinking (shorter tapes, smaller bytes) gives simpler universes.

use super::{
    Class, GenericDef, GetAnswer, Hook, Iface, IsAnswer, Kind, Method, Model, Override, Type,
    TypeId, VMethod, Var,
};

/// The random choices.
pub struct Tape<'a> {
    bytes: &'a [u8],
    pos: usize,
    next_tag: i64,
}

impl<'a> Tape<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Tape {
            bytes,
            pos: 0,
            next_tag: 100,
        }
    }

    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (`n > 0`).
    pub fn pick(&mut self, n: usize) -> usize {
        let v = ((self.byte() as usize) << 8) | self.byte() as usize;
        v % n
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: usize) -> bool {
        (self.byte() as usize) * 100 < pct * 256
    }

    pub fn choose<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            None
        } else {
            Some(items[self.pick(items.len())].clone())
        }
    }

    fn tag(&mut self) -> i64 {
        self.next_tag += 1;
        self.next_tag
    }
}

/// One operation on the built universe.
#[derive(Clone, Debug)]
pub enum Op {
    /// `is_instance_of` (`throw = false`) or `cast` of object `obj` of class `class`.
    Cast {
        class: TypeId,
        obj: usize,
        target: TypeId,
        throw: bool,
    },
    /// A call of `name` looked up from `holder`, with `argc` arguments.
    Call {
        class: TypeId,
        obj: usize,
        holder: TypeId,
        name: String,
        argc: usize,
    },
}

const IFACE_METHODS: [&str; 4] = ["a", "b", "c", "d"];
const CLASS_METHODS: [&str; 5] = ["a", "b", "c", "d", "x"];

fn member_kind(t: &mut Tape, allow_nonvirtual: bool) -> Kind {
    let tag = t.tag();
    match t.pick(10) {
        0..=3 => Kind::Abstract,
        4..=7 => Kind::Default(tag),
        8 if allow_nonvirtual => Kind::Helper(tag),
        9 if allow_nonvirtual => Kind::Static(tag),
        _ => Kind::Default(tag),
    }
}

impl Model {
    /// Whether type `t` is (predicted to be) defined: interfaces always are; a class when
    /// its base is and its own definition does not fail.
    pub fn defined(&self, t: TypeId) -> bool {
        match &self.types[t] {
            Type::Iface(_) => true,
            Type::Class(c) => match c.base {
                None => true,
                Some(b) => self.defined(b) && !self.define_fails(t),
            },
        }
    }

    /// The generic definitions instantiated in `set`, with repeats.
    fn generic_defs(&self, set: &[TypeId]) -> Vec<usize> {
        set.iter()
            .filter_map(|i| self.iface(*i)?.generic.as_ref().map(|g| g.0))
            .collect()
    }
}

/// A random universe and operations on it.
pub fn generate(t: &mut Tape) -> (Model, Vec<Op>) {
    let mut m = Model::new();
    // Argument classes for generic instantiations: A0 : object, A1 : A0, A2 : A0.
    for (name, base) in [("A0", 0), ("A1", 1), ("A2", 1)] {
        m.types.push(Type::Class(Class {
            name: name.into(),
            base: Some(base),
            is_abstract: false,
            methods: vec![],
            overrides: vec![],
            implements: vec![],
            maps: vec![],
            hook: None,
        }));
    }
    let arg_classes = [0usize, 1, 2, 3];

    // Generic definitions and some of their closed instantiations.
    for g in 0..t.pick(3) {
        let arity = 1 + t.pick(2);
        let variances = (0..arity)
            .map(|_| [Var::Inv, Var::Out, Var::In][t.pick(3)])
            .collect();
        let mut methods: Vec<Method> = Vec::new();
        for _ in 0..1 + t.pick(2) {
            let name = IFACE_METHODS[t.pick(4)].to_string();
            if methods.iter().any(|x| x.name == name) {
                continue;
            }
            let arity = t.pick(2);
            let kind = member_kind(t, false);
            methods.push(Method { name, arity, kind });
        }
        m.generics.push(GenericDef {
            name: format!("G{g}"),
            variances,
            methods,
            marked: t.chance(50),
        });
        for _ in 0..1 + t.pick(4) {
            let args: Vec<TypeId> = (0..arity).map(|_| arg_classes[t.pick(4)]).collect();
            let exists = m.types.iter().any(
                |ty| matches!(ty, Type::Iface(i) if i.generic.as_ref() == Some(&(g, args.clone()))),
            );
            if exists {
                continue;
            }
            let def = &m.generics[g];
            let names: Vec<&str> = args.iter().map(|a| m.name(*a)).collect();
            let iface = Iface {
                name: format!("{}<{}>", def.name, names.join(", ")),
                methods: def.methods.clone(),
                bases: vec![],
                overrides: vec![],
                marked: def.marked,
                generic: Some((g, args)),
            };
            m.types.push(Type::Iface(iface));
        }
    }

    // Interfaces: bases among earlier ones, own methods, overrides and re-abstractions.
    for k in 0..2 + t.pick(7) {
        let earlier = m.ifaces();
        let mut bases: Vec<TypeId> = Vec::new();
        for _ in 0..t.pick(3) {
            if let Some(b) = t.choose(&earlier) {
                if !bases.contains(&b) {
                    bases.push(b);
                }
            }
        }
        let mut methods: Vec<Method> = Vec::new();
        for _ in 0..t.pick(3) {
            let name = IFACE_METHODS[t.pick(4)].to_string();
            if methods.iter().any(|x| x.name == name) {
                continue;
            }
            let arity = t.pick(2);
            let kind = member_kind(t, true);
            methods.push(Method { name, arity, kind });
        }
        let id = m.types.len();
        m.types.push(Type::Iface(Iface {
            name: format!("I{k}"),
            methods,
            bases: bases.clone(),
            overrides: vec![],
            marked: false,
            generic: None,
        }));
        let all = m.all_bases(id);
        let mut overrides: Vec<Override> = Vec::new();
        let mut targets = Vec::new();
        for _ in 0..t.pick(5) {
            let Some(base) = t.choose(&all) else { break };
            let name = IFACE_METHODS[t.pick(4)].to_string();
            let Some(target) = m.find_method(base, &name) else {
                continue;
            };
            if !m.method(target.0, target.1).kind.is_virtual() || targets.contains(&target) {
                continue;
            }
            targets.push(target);
            let body = if t.chance(70) { Some(t.tag()) } else { None };
            overrides.push(Override {
                base,
                method: name,
                body,
            });
        }
        let marked = t.chance(45);
        if let Type::Iface(i) = &mut m.types[id] {
            i.overrides = overrides;
            i.marked = marked;
        }
    }

    // Classes.
    let mut next_hook = 0;
    for k in 0..1 + t.pick(6) {
        let classes = m.classes();
        let base = if t.chance(50) {
            0
        } else {
            t.choose(&classes).unwrap_or(0)
        };
        let id = m.types.len();
        let is_abstract = t.chance(15);
        m.types.push(Type::Class(Class {
            name: format!("C{k}"),
            base: Some(base),
            is_abstract,
            methods: vec![],
            overrides: vec![],
            implements: vec![],
            maps: vec![],
            hook: None,
        }));
        let inherited = m.vtable(base);
        let mut methods: Vec<VMethod> = Vec::new();
        for _ in 0..t.pick(4) {
            let name = CLASS_METHODS[t.pick(5)].to_string();
            if inherited.iter().chain(&methods).any(|v| v.name == name) {
                continue;
            }
            let arity = t.pick(2);
            let body = if is_abstract && t.chance(30) {
                None
            } else {
                Some(t.tag())
            };
            methods.push(VMethod { name, arity, body });
        }
        let mut overrides: Vec<(String, i64)> = Vec::new();
        for _ in 0..t.pick(3) {
            let Some(v) = t.choose(&inherited) else { break };
            if overrides.iter().any(|(n, _)| *n == v.name) {
                continue;
            }
            overrides.push((v.name, t.tag()));
        }
        let hook = if t.chance(55) {
            next_hook += 1;
            Some(next_hook - 1)
        } else {
            None
        };
        if let Type::Class(c) = &mut m.types[id] {
            c.methods = methods;
            c.overrides = overrides;
            c.hook = hook;
        }
        // Listed interfaces, keeping at most one instantiation per generic definition in
        // the class's set (which one serves a variant call is otherwise a choice).
        let ifaces = m.ifaces();
        for _ in 0..t.pick(4) {
            let Some(i) = t.choose(&ifaces) else { break };
            let before = m.iface_set(id);
            if before.contains(&i) {
                continue;
            }
            if let Type::Class(c) = &mut m.types[id] {
                c.implements.push(i);
            }
            let defs = m.generic_defs(&m.iface_set(id));
            let unique = defs.iter().enumerate().all(|(n, d)| !defs[..n].contains(d));
            if !unique {
                if let Type::Class(c) = &mut m.types[id] {
                    c.implements.pop();
                }
            }
        }
        // Explicit maps onto class methods of the same arity.
        let set = m.iface_set(id);
        let vtable = m.vtable(id);
        let mut mapped = Vec::new();
        for _ in 0..t.pick(3) {
            let Some(i) = t.choose(&set) else { break };
            let name = IFACE_METHODS[t.pick(4)].to_string();
            let Some(target) = m.find_method(i, &name) else {
                continue;
            };
            let decl = m.method(target.0, target.1).clone();
            if !decl.kind.is_virtual() || mapped.contains(&target) {
                continue;
            }
            let fits: Vec<String> = vtable
                .iter()
                .filter(|v| v.arity == decl.arity)
                .map(|v| v.name.clone())
                .collect();
            let Some(cm) = t.choose(&fits) else { continue };
            mapped.push(target);
            if let Type::Class(c) = &mut m.types[id] {
                c.maps.push((i, name, cm));
            }
        }
    }

    // Hook tables: answers for every interface, biased towards usable implementations.
    let all_types: Vec<TypeId> = (0..m.types.len()).filter(|x| m.defined(*x)).collect();
    let ifaces = m.ifaces();
    for _ in 0..next_hook {
        let mut hook = Hook::default();
        for &i in &ifaces {
            let is = [
                IsAnswer::Yes,
                IsAnswer::No,
                IsAnswer::ThrowIfAsked,
                IsAnswer::Fail,
            ][t.pick(4)];
            hook.is.insert(i, is);
            let usable: Vec<TypeId> = ifaces
                .iter()
                .copied()
                .filter(|j| m.iface(*j).is_some_and(|x| x.marked) && m.iface_assignable(*j, i))
                .collect();
            let get = match t.pick(10) {
                0 => GetAnswer::None,
                1 => GetAnswer::Fail,
                2 | 3 => GetAnswer::Type(t.choose(&all_types).unwrap_or(0)),
                _ => match t.choose(&usable) {
                    Some(j) => GetAnswer::Type(j),
                    None => GetAnswer::None,
                },
            };
            hook.get.insert(i, get);
        }
        m.hooks.push(hook);
    }

    // Operations on instances of concrete, defined classes.
    let concrete: Vec<TypeId> = m
        .classes()
        .into_iter()
        .filter(|c| m.defined(*c) && !m.class(*c).is_some_and(|x| x.is_abstract))
        .collect();
    let mut ops = Vec::new();
    for _ in 0..8 + t.pick(40) {
        // Mostly the generated classes C*, now and then `object` or an argument class.
        let generated: Vec<TypeId> = concrete.iter().copied().filter(|c| *c > 3).collect();
        let pool = if generated.is_empty() || t.chance(10) {
            &concrete
        } else {
            &generated
        };
        let Some(class) = t.choose(pool) else {
            break;
        };
        let obj = t.pick(2);
        if t.chance(40) {
            let target = t.choose(&all_types).unwrap_or(0);
            let throw = t.chance(50);
            ops.push(Op::Cast {
                class,
                obj,
                target,
                throw,
            });
        } else {
            // Half the calls go through an interface the class implements (C1 paths).
            let own = m.iface_set(class);
            let pool = if !own.is_empty() && t.chance(50) {
                &own
            } else {
                &ifaces
            };
            let Some(holder) = t.choose(pool) else {
                continue;
            };
            let names: Vec<String> = IFACE_METHODS
                .iter()
                .filter(|n| m.find_method(holder, n).is_some())
                .map(|n| n.to_string())
                .collect();
            let Some(name) = t.choose(&names) else {
                continue;
            };
            let (d, s) = m.find_method(holder, &name).expect("found");
            let arity = m.method(d, s).arity;
            let argc = if t.chance(90) { arity } else { arity + 1 };
            ops.push(Op::Call {
                class,
                obj,
                holder,
                name,
                argc,
            });
        }
    }
    (m, ops)
}
