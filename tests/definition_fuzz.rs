//! Bad input on the definition API: proptest feeds arbitrary sequences of definition calls
//! (empty, duplicate and unknown names; bases that are classes, interfaces or unknown;
//! maps to missing methods; wrong arities; generic arity errors; overrides of non-bases;
//! foreign types; hot-reload redefinitions) and then casts and calls on whatever got
//! defined. Nothing may panic, and every error is typed: its `kind()` is in the allowed
//! set and its message is not empty. A few facts are checked exactly: an empty name or a
//! taken name (without `redefine`) is a `TypeLoad`, and a defined name looks up to the
//! type just defined.
//!
//! Prints `definition sequences: N`; failing sequences are kept in
//! `proptest-regressions/definition_fuzz.txt`.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use dynacast::{
    body, static_body, DynError, DynHost, DynObject, DynamicCastable, GenericInterface,
    InterfaceRef, Runtime, TypeExpr, TypeRef, Value, Variance,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

const NAMES: [&str; 12] = [
    "",
    "object",
    "A",
    "B",
    "I",
    "J",
    "G",
    "m",
    "n",
    "x y",
    "IGreet<int>",
    "ünï",
];

/// A type as an operation refers to it.
#[derive(Clone, Debug)]
enum TypeChoice {
    /// By name (possibly unknown, empty, or a generic definition's name).
    Named(usize),
    /// The n-th handle defined so far (wrapping), class or interface.
    Handle(usize),
    /// A type parameter (in range or not).
    Param(usize),
    /// The n-th generic definition instantiated with these handles (any count).
    Generic(usize, Vec<usize>),
    /// A type of another runtime.
    Foreign,
}

#[derive(Clone, Debug)]
enum Sort {
    Abstract,
    Default,
    Helper,
    Static,
}

#[derive(Clone, Debug)]
enum DefOp {
    Interface {
        name: usize,
        params: Vec<u8>,
        generic: bool,
        bases: Vec<TypeChoice>,
        methods: Vec<(usize, usize, Sort)>,
        overrides: Vec<(TypeChoice, usize, bool)>,
        marked: bool,
        redefine: bool,
    },
    Class {
        name: usize,
        base: Option<TypeChoice>,
        is_abstract: bool,
        methods: Vec<(usize, usize, bool)>,
        overrides: Vec<usize>,
        implements: Vec<TypeChoice>,
        maps: Vec<(TypeChoice, usize, usize)>,
        hook: Option<Vec<usize>>,
        redefine: bool,
    },
    Instantiate(usize, Vec<usize>),
    NewObject(usize),
    Method(usize, usize),
}

fn name_strategy() -> impl Strategy<Value = usize> {
    // Mostly fresh names (T12…), so that many definitions get through.
    prop_oneof![1 => 0..NAMES.len(), 2 => NAMES.len()..NAMES.len() + 40]
}

fn name(n: usize) -> String {
    NAMES
        .get(n)
        .map_or_else(|| format!("T{n}"), |s| s.to_string())
}

fn type_choice() -> impl Strategy<Value = TypeChoice> {
    prop_oneof![
        2 => name_strategy().prop_map(TypeChoice::Named),
        6 => any::<usize>().prop_map(TypeChoice::Handle),
        1 => (0usize..4).prop_map(TypeChoice::Param),
        2 => (any::<usize>(), vec(any::<usize>(), 0..4)).prop_map(|(g, a)| TypeChoice::Generic(g, a)),
        1 => Just(TypeChoice::Foreign),
    ]
}

fn sort() -> impl Strategy<Value = Sort> {
    prop_oneof![
        Just(Sort::Abstract),
        Just(Sort::Default),
        Just(Sort::Helper),
        Just(Sort::Static)
    ]
}

fn def_op() -> impl Strategy<Value = DefOp> {
    let iface = (
        name_strategy(),
        vec(0u8..3, 0..3),
        // Mostly the right define call for the parameters; sometimes the wrong one.
        proptest::bool::weighted(0.1),
        vec(type_choice(), 0..3),
        vec((0usize..6, 0usize..3, sort()), 0..4),
        vec((type_choice(), 0usize..6, any::<bool>()), 0..2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, params, wrong_call, bases, methods, overrides, marked, redefine)| {
                DefOp::Interface {
                    name,
                    generic: params.is_empty() == wrong_call,
                    params,
                    bases,
                    methods,
                    overrides,
                    marked,
                    redefine,
                }
            },
        );
    let class = (
        name_strategy(),
        proptest::option::of(type_choice()),
        any::<bool>(),
        vec((0usize..6, 0usize..3, proptest::bool::weighted(0.2)), 0..4),
        vec(0usize..6, 0..2),
        vec(type_choice(), 0..3),
        vec((type_choice(), 0usize..6, 0usize..6), 0..2),
        proptest::option::of(vec(any::<usize>(), 0..4)),
        any::<bool>(),
    )
        .prop_map(
            |(name, base, is_abstract, methods, overrides, implements, maps, hook, redefine)| {
                DefOp::Class {
                    name,
                    base,
                    is_abstract,
                    methods,
                    overrides,
                    implements,
                    maps,
                    hook,
                    redefine,
                }
            },
        );
    prop_oneof![
        4 => iface,
        4 => class,
        1 => (any::<usize>(), vec(any::<usize>(), 0..4)).prop_map(|(g, a)| DefOp::Instantiate(g, a)),
        1 => any::<usize>().prop_map(DefOp::NewObject),
        1 => (any::<usize>(), 0usize..6).prop_map(|(i, m)| DefOp::Method(i, m)),
    ]
}

const METHOD_NAMES: [&str; 6] = ["m", "n", "o", "", "m", "p q"];

/// A hook answering, per interface asked, one of the defined types (or none).
struct RandomHook {
    answers: Vec<usize>,
    handles: Mutex<Vec<TypeRef<DynHost>>>,
}

impl DynamicCastable<DynHost> for RandomHook {
    fn is_interface_implemented(
        &self,
        _: &DynObject,
        iface: &InterfaceRef<DynHost>,
        throw: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        match (iface.uid() as usize + self.answers.len()) % 3 {
            0 => Ok(true),
            1 if throw => Err(dynacast::HostError::new("no").into()),
            _ => Ok(false),
        }
    }

    fn get_interface_implementation(
        &self,
        _: &DynObject,
        iface: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        let handles = self.handles.lock().unwrap();
        if self.answers.is_empty() || handles.is_empty() {
            return Ok(None);
        }
        let pick = self.answers[iface.uid() as usize % self.answers.len()];
        Ok(handles.get(pick % (handles.len() + 1)).cloned())
    }
}

struct State {
    rt: Runtime<DynHost>,
    foreign: TypeRef<DynHost>,
    handles: Vec<TypeRef<DynHost>>,
    generics: Vec<GenericInterface<DynHost>>,
    names: HashSet<String>,
    objects: Vec<DynObject>,
    hooks: Vec<std::sync::Arc<RandomHook>>,
}

impl State {
    fn handle(&self, n: usize) -> Option<TypeRef<DynHost>> {
        (!self.handles.is_empty()).then(|| self.handles[n % self.handles.len()].clone())
    }

    fn expr(&self, c: &TypeChoice) -> TypeExpr<DynHost> {
        match c {
            TypeChoice::Named(n) => TypeExpr::from(name(*n)),
            TypeChoice::Handle(n) => match self.handle(*n) {
                Some(t) => TypeExpr::Type(t),
                None => TypeExpr::from("unknown"),
            },
            TypeChoice::Param(i) => TypeExpr::Param(*i),
            TypeChoice::Generic(g, args) => {
                match self.generics.get(*g % self.generics.len().max(1)) {
                    Some(def) => TypeExpr::generic(
                        def,
                        args.iter().map(|a| {
                            self.handle(*a)
                                .map_or(TypeExpr::from("object"), TypeExpr::Type)
                        }),
                    ),
                    None => TypeExpr::from("NoGeneric"),
                }
            }
            TypeChoice::Foreign => TypeExpr::Type(self.foreign.clone()),
        }
    }
}

/// Checks that an error is typed: an allowed kind and a non-empty message.
fn typed(e: &DynError, allowed: &[&str], what: &str) -> Result<(), TestCaseError> {
    if e.kind() == "TypeLoad" {
        REJECTED.fetch_add(1, Ordering::Relaxed);
    }
    let message = e.to_string();
    prop_assert!(
        allowed.contains(&e.kind()),
        "{what}: unexpected kind {} ({message})",
        e.kind()
    );
    prop_assert!(!message.is_empty(), "{what}: empty message for {e:?}");
    Ok(())
}

/// Outcome counts over the whole run, to show (and check) that sequences reach both
/// accepted and rejected definitions, objects and calls.
static DEFINED: AtomicUsize = AtomicUsize::new(0);
static REJECTED: AtomicUsize = AtomicUsize::new(0);
static OPERATIONS: AtomicUsize = AtomicUsize::new(0);

const DEFINITION_ERRORS: [&str; 3] = ["TypeLoad", "MissingMember", "InvalidOperation"];

fn apply(s: &mut State, op: &DefOp) -> Result<(), TestCaseError> {
    match op {
        DefOp::Interface {
            name: n,
            params,
            generic,
            bases,
            methods,
            overrides,
            marked,
            redefine,
        } => {
            let name = name(*n);
            let taken = s.names.contains(&name);
            // Live reload: a definition the same as the registered one returns it.
            let registered = s.rt.lookup(&name);
            let variances: Vec<Variance> = params
                .iter()
                .map(|p| {
                    [
                        Variance::Invariant,
                        Variance::Covariant,
                        Variance::Contravariant,
                    ][*p as usize]
                })
                .collect();
            let mut b = if variances.is_empty() {
                s.rt.interface(&name)
            } else {
                s.rt.generic_interface(&name, &variances)
            };
            for base in bases {
                b = b.base(s.expr(base));
            }
            for (m, arity, sort) in methods {
                let m = METHOD_NAMES[*m];
                let body = body(|_| Ok(Value::Nil));
                b = match sort {
                    Sort::Abstract => b.abstract_method(m, *arity),
                    Sort::Default => b.default_method_body(m, *arity, body),
                    Sort::Helper => b.helper_body(m, *arity, body),
                    Sort::Static => {
                        b.static_method_body(m, *arity, static_body(|_| Ok(Value::Nil)))
                    }
                };
            }
            for (base, m, reabstract) in overrides {
                let m = METHOD_NAMES[*m];
                b = if *reabstract {
                    b.reabstract(s.expr(base), m)
                } else {
                    b.override_base(s.expr(base), m, |_| Ok(Value::Nil))
                };
            }
            if *marked {
                b = b.dynamic_castable_implementation();
            }
            if *redefine {
                b = b.redefine();
            }
            let must_fail = name.is_empty() || (taken && (!redefine || name == "object"));
            if *generic {
                match b.define_generic() {
                    Ok(g) => {
                        prop_assert!(!must_fail, "generic '{name}' defined over a taken name");
                        prop_assert!(!variances.is_empty(), "generic without parameters");
                        prop_assert_eq!(g.arity(), variances.len());
                        prop_assert!(s.rt.lookup_generic(&name).is_some());
                        s.names.insert(name);
                        s.generics.push(g);
                        DEFINED.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        typed(&e, &DEFINITION_ERRORS, "define_generic")?;
                        prop_assert_eq!(e.kind(), "TypeLoad");
                    }
                }
            } else {
                match b.define() {
                    Ok(i) => {
                        prop_assert!(
                            !must_fail || (name != "object" && registered == Some(i.as_type())),
                            "interface '{name}' defined over a taken name"
                        );
                        prop_assert!(variances.is_empty(), "define() of a generic interface");
                        prop_assert_eq!(s.rt.lookup(&name), Some(i.as_type()));
                        s.names.insert(name);
                        s.handles.push(i.as_type());
                        DEFINED.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        typed(&e, &DEFINITION_ERRORS, "define interface")?;
                        prop_assert_eq!(e.kind(), "TypeLoad");
                    }
                }
            }
        }
        DefOp::Class {
            name: n,
            base,
            is_abstract,
            methods,
            overrides,
            implements,
            maps,
            hook,
            redefine,
        } => {
            let name = name(*n);
            let taken = s.names.contains(&name);
            // Live reload: a definition the same as the registered one returns it.
            let registered = s.rt.lookup(&name);
            let mut b = s.rt.class(&name);
            if let Some(base) = base {
                b = b.base(s.expr(base));
            }
            if *is_abstract {
                b = b.abstract_class();
            }
            for (m, arity, abstract_method) in methods {
                let m = METHOD_NAMES[*m];
                b = if *abstract_method {
                    b.abstract_method(m, *arity)
                } else {
                    b.virtual_method(m, *arity, |_| Ok(Value::Nil))
                };
            }
            for m in overrides {
                b = b.override_method(METHOD_NAMES[*m], |_| Ok(Value::Nil));
            }
            for i in implements {
                b = b.implement(s.expr(i));
            }
            for (i, im, cm) in maps {
                b = b.map(s.expr(i), METHOD_NAMES[*im], METHOD_NAMES[*cm]);
            }
            if let Some(answers) = hook {
                let h = std::sync::Arc::new(RandomHook {
                    answers: answers.clone(),
                    handles: Mutex::new(Vec::new()),
                });
                s.hooks.push(h.clone());
                b = b.shared_hook(h);
            }
            if *redefine {
                b = b.redefine();
            }
            let must_fail = name.is_empty() || (taken && (!redefine || name == "object"));
            match b.define() {
                Ok(c) => {
                    prop_assert!(
                        !must_fail || (name != "object" && registered == Some(c.as_type())),
                        "class '{name}' defined over a taken name"
                    );
                    prop_assert_eq!(s.rt.lookup(&name), Some(c.as_type()));
                    s.names.insert(name);
                    s.handles.push(c.as_type());
                    DEFINED.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    typed(&e, &DEFINITION_ERRORS, "define class")?;
                    prop_assert_eq!(e.kind(), "TypeLoad");
                }
            }
        }
        DefOp::Instantiate(g, args) => {
            if let Some(def) = s.generics.get(*g % s.generics.len().max(1)).cloned() {
                let args: Vec<TypeRef<DynHost>> = args
                    .iter()
                    .map(|a| s.handle(*a).unwrap_or_else(|| s.foreign.clone()))
                    .collect();
                match def.instantiate(&args) {
                    Ok(i) => {
                        prop_assert_eq!(args.len(), def.arity());
                        prop_assert_eq!(
                            def.instantiate(&args).ok(),
                            Some(i.clone()),
                            "one identity per arguments"
                        );
                        s.handles.push(i.as_type());
                    }
                    Err(e) => typed(&e, &DEFINITION_ERRORS, "instantiate")?,
                }
            }
        }
        DefOp::NewObject(n) => {
            if let Some(TypeRef::Class(c)) = s.handle(*n) {
                match s.rt.new_object(&c, Value::Nil) {
                    Ok(o) => {
                        prop_assert!(!c.is_abstract());
                        s.objects.push(o);
                    }
                    Err(e) => {
                        typed(&e, &DEFINITION_ERRORS, "new_object")?;
                        prop_assert!(c.is_abstract());
                    }
                }
            }
        }
        DefOp::Method(n, m) => {
            if let Some(TypeRef::Interface(i)) = s.handle(*n) {
                if let Err(e) = i.method(METHOD_NAMES[*m]) {
                    typed(&e, &["MissingMember"], "method")?;
                }
            }
        }
    }
    Ok(())
}

/// After the definitions: every object is cast to every type and every interface method
/// is called on it (with the right and a wrong argument count); only typed errors.
fn exercise(s: &State) -> Result<(), TestCaseError> {
    for h in &s.hooks {
        *h.handles.lock().unwrap() = s.handles.clone();
    }
    let all = [
        "InvalidCast",
        "InvalidOperation",
        "EntryPointNotFound",
        "AmbiguousImplementation",
        "MissingMember",
        "ArgumentCount",
        "Host",
    ];
    for o in &s.objects {
        for t in &s.handles {
            OPERATIONS.fetch_add(2, Ordering::Relaxed);
            if let Err(e) = o.is_instance_of(t, &mut ()) {
                typed(&e, &["Host"], "is_instance_of")?;
            }
            if let Err(e) = o.cast(t, &mut ()) {
                typed(&e, &["InvalidCast", "Host"], "cast")?;
            }
            if let TypeRef::Interface(i) = t {
                for m in i.methods() {
                    for argc in [m.arity(), m.arity() + 1] {
                        OPERATIONS.fetch_add(1, Ordering::Relaxed);
                        if let Err(e) = o.call(&m, &vec![Value::Nil; argc], &mut ()) {
                            typed(&e, &all, "call")?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("DYNACAST_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

#[test]
fn arbitrary_definition_sequences_give_typed_errors_only() {
    let mut config = Config::with_cases(cases());
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/definition_fuzz.txt",
    )));
    config.source_file = Some(file!());
    let mut runner = TestRunner::new(config);
    let generated = Mutex::new(0usize);
    let result = runner.run(&vec(def_op(), 0..24), |ops| {
        *generated.lock().unwrap() += 1;
        let other = Runtime::<DynHost>::new();
        let foreign = other.interface("IForeign").define().unwrap().as_type();
        let rt = Runtime::<DynHost>::new();
        let mut s = State {
            handles: vec![rt.object_class().as_type()],
            names: HashSet::from(["object".to_string()]),
            rt,
            foreign,
            generics: Vec::new(),
            objects: Vec::new(),
            hooks: Vec::new(),
        };
        for op in &ops {
            apply(&mut s, op)?;
        }
        exercise(&s)
    });
    let generated = *generated.lock().unwrap();
    let (defined, rejected, operations) = (
        DEFINED.load(Ordering::Relaxed),
        REJECTED.load(Ordering::Relaxed),
        OPERATIONS.load(Ordering::Relaxed),
    );
    let _ = std::io::stderr().write_all(
        format!(
            "definition sequences: {generated} ({defined} types defined, {rejected} TypeLoad rejections, {operations} casts and calls)\n"
        )
        .as_bytes(),
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        defined > 0 && rejected > 0 && operations > 0,
        "the alphabet must reach every path"
    );
}
