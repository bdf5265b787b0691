//! Feeds a [`Model`]'s definitions to the engine, with bodies that return their tags and
//! hooks that answer from the model's tables and count their calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use dynacast::{
    body, static_body, DynError, DynHost, DynamicCastable, Error, GenericInterface, HostError,
    InterfaceRef, Object, Runtime, TypeExpr, TypeRef, Value, Variance,
};

use super::{Expect, GetAnswer, IsAnswer, Kind, Model, Tag, Type, TypeId, Var};

/// Hook call counters, one pair per model hook.
#[derive(Default)]
pub struct Counters {
    pub is_calls: Vec<AtomicUsize>,
    pub get_calls: Vec<AtomicUsize>,
}

impl Counters {
    pub fn snapshot(&self) -> Vec<(usize, usize)> {
        self.is_calls
            .iter()
            .zip(&self.get_calls)
            .map(|(a, b)| (a.load(Ordering::SeqCst), b.load(Ordering::SeqCst)))
            .collect()
    }
}

/// What hooks answer, by engine uid, filled in once every type is defined.
#[derive(Default)]
struct HookTables {
    is: Vec<HashMap<u64, (IsAnswer, String)>>,
    get: Vec<HashMap<u64, (GetAnswerRef, String)>>,
}

#[derive(Clone)]
enum GetAnswerRef {
    None,
    Type(TypeRef<DynHost>),
    Fail,
}

/// A hook answering from the model's table for hook `id`.
pub struct ModelHook {
    id: usize,
    tables: Arc<OnceLock<HookTables>>,
    counters: Arc<Counters>,
}

impl DynamicCastable<DynHost> for ModelHook {
    fn is_interface_implemented(
        &self,
        _obj: &Object<DynHost>,
        iface: &InterfaceRef<DynHost>,
        throw: bool,
        _cx: &mut (),
    ) -> Result<bool, DynError> {
        self.counters.is_calls[self.id].fetch_add(1, Ordering::SeqCst);
        let tables = self.tables.get().expect("tables are set before any cast");
        match tables.is[self.id].get(&iface.uid()) {
            None | Some((IsAnswer::No, _)) => Ok(false),
            Some((IsAnswer::Yes, _)) => Ok(true),
            Some((IsAnswer::ThrowIfAsked, name)) if throw => {
                Err(HostError::new(format!("REQUESTED={name}")).into())
            }
            Some((IsAnswer::ThrowIfAsked, _)) => Ok(false),
            Some((IsAnswer::Fail, name)) => {
                Err(HostError::new(format!("is failed: {name}")).into())
            }
        }
    }

    fn get_interface_implementation(
        &self,
        _obj: &Object<DynHost>,
        iface: &InterfaceRef<DynHost>,
        _cx: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.counters.get_calls[self.id].fetch_add(1, Ordering::SeqCst);
        let tables = self.tables.get().expect("tables are set before any call");
        match tables.get[self.id].get(&iface.uid()) {
            None | Some((GetAnswerRef::None, _)) => Ok(None),
            Some((GetAnswerRef::Type(t), _)) => Ok(Some(t.clone())),
            Some((GetAnswerRef::Fail, name)) => {
                Err(HostError::new(format!("get failed: {name}")).into())
            }
        }
    }
}

/// The engine's side of a model: one handle per model type (`None` when the definition
/// failed, as the model predicted), the hooks' counters, two objects per concrete class.
pub struct Built {
    pub rt: Runtime<DynHost>,
    pub types: Vec<Option<TypeRef<DynHost>>>,
    pub counters: Arc<Counters>,
    pub objects: HashMap<TypeId, Vec<Object<DynHost>>>,
}

fn variance(v: Var) -> Variance {
    match v {
        Var::Inv => Variance::Invariant,
        Var::Out => Variance::Covariant,
        Var::In => Variance::Contravariant,
    }
}

fn tag_body(tag: Tag) -> dynacast::Body<DynHost> {
    body(move |_| Ok(Value::Int(tag)))
}

/// An engine result as a comparable prediction.
pub fn observed<T>(r: Result<T, DynError>) -> Expect<T> {
    match r {
        Ok(v) => Expect::Ok(v),
        Err(e) => {
            let message = e.to_string();
            Expect::Err(e.kind(), Some(message))
        }
    }
}

/// Whether an observed outcome matches a prediction (messages compared where predicted).
pub fn matches<T: PartialEq>(observed: &Expect<T>, predicted: &Expect<T>) -> bool {
    match (observed, predicted) {
        (Expect::Ok(a), Expect::Ok(b)) => a == b,
        (Expect::Err(ka, ma), Expect::Err(kb, mb)) => {
            ka == kb && (mb.is_none() || ma == mb) && ma.as_ref().is_some_and(|m| !m.is_empty())
        }
        _ => false,
    }
}

/// Defines everything in `model` on a fresh runtime. Class definitions the model says
/// must fail are checked to fail with `TypeLoad`; a mismatch is returned as an error.
pub fn build(model: &Model) -> Result<Built, String> {
    let rt = Runtime::<DynHost>::new();
    let counters = Arc::new(Counters {
        is_calls: (0..model.hooks.len())
            .map(|_| AtomicUsize::new(0))
            .collect(),
        get_calls: (0..model.hooks.len())
            .map(|_| AtomicUsize::new(0))
            .collect(),
    });
    let tables: Arc<OnceLock<HookTables>> = Arc::new(OnceLock::new());
    let mut generics: Vec<GenericInterface<DynHost>> = Vec::new();
    for g in &model.generics {
        let vars: Vec<Variance> = g.variances.iter().map(|v| variance(*v)).collect();
        let mut b = rt.generic_interface(&g.name, &vars);
        for m in &g.methods {
            b = match m.kind {
                Kind::Abstract => b.abstract_method(&m.name, m.arity),
                Kind::Default(t) => b.default_method_body(&m.name, m.arity, tag_body(t)),
                Kind::Helper(t) => b.helper_body(&m.name, m.arity, tag_body(t)),
                Kind::Static(t) => {
                    b.static_method_body(&m.name, m.arity, static_body(move |_| Ok(Value::Int(t))))
                }
            };
        }
        if g.marked {
            b = b.dynamic_castable_implementation();
        }
        generics.push(
            b.define_generic()
                .map_err(|e| format!("generic {}: {e}", g.name))?,
        );
    }
    let mut types: Vec<Option<TypeRef<DynHost>>> = vec![Some(rt.object_class().as_type())];
    let get = |types: &Vec<Option<TypeRef<DynHost>>>, t: TypeId| types[t].clone();
    for (id, ty) in model.types.iter().enumerate().skip(1) {
        let defined = match ty {
            Type::Iface(i) => {
                if let Some((g, args)) = &i.generic {
                    let args: Option<Vec<TypeRef<DynHost>>> =
                        args.iter().map(|a| get(&types, *a)).collect();
                    let args = args.ok_or("generic argument undefined")?;
                    let inst = generics[*g]
                        .instantiate(&args)
                        .map_err(|e| format!("instantiate {}: {e}", i.name))?;
                    if inst.name() != i.name {
                        return Err(format!("instance named {} not {}", inst.name(), i.name));
                    }
                    Some(inst.as_type())
                } else {
                    let mut b = rt.interface(&i.name);
                    for base in &i.bases {
                        b = b.base(TypeExpr::Type(get(&types, *base).ok_or("base undefined")?));
                    }
                    for m in &i.methods {
                        b = match m.kind {
                            Kind::Abstract => b.abstract_method(&m.name, m.arity),
                            Kind::Default(t) => {
                                b.default_method_body(&m.name, m.arity, tag_body(t))
                            }
                            Kind::Helper(t) => b.helper_body(&m.name, m.arity, tag_body(t)),
                            Kind::Static(t) => b.static_method_body(
                                &m.name,
                                m.arity,
                                static_body(move |_| Ok(Value::Int(t))),
                            ),
                        };
                    }
                    for o in &i.overrides {
                        let base = TypeExpr::Type(get(&types, o.base).ok_or("base undefined")?);
                        b = match o.body {
                            Some(t) => b.override_base_body(base, &o.method, tag_body(t)),
                            None => b.reabstract(base, &o.method),
                        };
                    }
                    if i.marked {
                        b = b.dynamic_castable_implementation();
                    }
                    let iface = b
                        .define()
                        .map_err(|e| format!("interface {}: {e}", i.name))?;
                    Some(iface.as_type())
                }
            }
            Type::Class(c) => {
                let base = c.base.and_then(|b| get(&types, b));
                if c.base.is_some() && base.is_none() {
                    None // its base failed to define: the model skips it too
                } else {
                    let mut b = rt.class(&c.name);
                    if let Some(base) = base {
                        b = b.base(TypeExpr::Type(base));
                    }
                    if c.is_abstract {
                        b = b.abstract_class();
                    }
                    for m in &c.methods {
                        b = match m.body {
                            Some(t) => b.virtual_method_body(&m.name, m.arity, tag_body(t)),
                            None => b.abstract_method(&m.name, m.arity),
                        };
                    }
                    for (name, t) in &c.overrides {
                        b = b.override_method_body(name, tag_body(*t));
                    }
                    for i in &c.implements {
                        b = b.implement(TypeExpr::Type(get(&types, *i).ok_or("iface undefined")?));
                    }
                    for (i, im, cm) in &c.maps {
                        b = b.map(
                            TypeExpr::Type(get(&types, *i).ok_or("iface undefined")?),
                            im,
                            cm,
                        );
                    }
                    if let Some(h) = c.hook {
                        b = b.hook(ModelHook {
                            id: h,
                            tables: tables.clone(),
                            counters: counters.clone(),
                        });
                    }
                    let must_fail = model.define_fails(id);
                    match b.define() {
                        Ok(class) if !must_fail => Some(class.as_type()),
                        Ok(_) => {
                            return Err(format!(
                                "class {} defined; the model says TypeLoad",
                                c.name
                            ))
                        }
                        Err(Error::TypeLoad { .. }) if must_fail => None,
                        Err(e) => return Err(format!("class {}: unexpected {e}", c.name)),
                    }
                }
            }
        };
        types.push(defined);
    }
    // Hook tables, by engine uid.
    let mut t = HookTables::default();
    for hook in &model.hooks {
        let mut is = HashMap::new();
        let mut getm = HashMap::new();
        for (iface, answer) in &hook.is {
            if let Some(r) = &types[*iface] {
                is.insert(r.uid(), (*answer, model.name(*iface).to_string()));
            }
        }
        for (iface, answer) in &hook.get {
            if let Some(r) = &types[*iface] {
                let a = match answer {
                    GetAnswer::None => GetAnswerRef::None,
                    GetAnswer::Fail => GetAnswerRef::Fail,
                    GetAnswer::Type(x) => match &types[*x] {
                        Some(x) => GetAnswerRef::Type(x.clone()),
                        None => return Err("hook answers an undefined type".into()),
                    },
                };
                getm.insert(r.uid(), (a, model.name(*iface).to_string()));
            }
        }
        t.is.push(is);
        t.get.push(getm);
    }
    let _ = tables.set(t);
    let mut objects = HashMap::new();
    for (id, ty) in types.iter().enumerate() {
        if let Some(TypeRef::Class(c)) = ty {
            if !c.is_abstract() {
                let objs = (0..2)
                    .map(|k| rt.new_object(c, Value::Int(k)).expect("concrete class"))
                    .collect();
                objects.insert(id, objs);
            }
        }
    }
    Ok(Built {
        rt,
        types,
        counters,
        objects,
    })
}
