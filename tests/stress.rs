//! Stress: caster threads cast and dispatch for a bounded time while definer threads
//! define new classes (subclasses of a hooked class, so their dispatch caches start empty
//! and the casters race on first resolutions), unrelated interfaces, and hot-reload
//! redefinitions. Afterwards:
//! - every answer given during the run matched the reference model;
//! - the dispatch hook ran at most (caster threads) times per (type, method);
//! - every answer, asked again single-threaded, matches the model with exact hook counts;
//! - nothing deadlocked (a watchdog fails the test instead of hanging);
//! - the peak resident memory (VmHWM) stays under a bound, and is printed.

mod model;

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use dynacast::{
    ClassRef, DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, MethodRef, Runtime,
    TypeRef, Value,
};
use model::build::{matches, observed};
use model::{
    Class, Expect, GetAnswer, Hook, Iface, IsAnswer, Kind, Method, Model, Override, Type, TypeId,
};

const CASTERS: usize = 4;
const DEFINERS: usize = 2;
const RUN_FOR: Duration = Duration::from_secs(2);
/// Per definer thread: the run is bounded in work as well as in time.
const MAX_DEFINITIONS: usize = 4000;
const INTERFACES: usize = 4;
const MEMORY_BOUND_KB: u64 = 1 << 20; // 1 GiB

/// Counts hook calls per (object class, interface), answering from fixed tables.
struct StressHook {
    is_yes: Vec<u64>,
    get: HashMap<u64, TypeRef<DynHost>>,
    is_calls: Mutex<HashMap<(u64, u64), usize>>,
    get_calls: Mutex<HashMap<(u64, u64), usize>>,
    /// (is, get) calls per object class.
    per_class: Mutex<HashMap<u64, (usize, usize)>>,
}

impl DynamicCastable<DynHost> for StressHook {
    fn is_interface_implemented(
        &self,
        obj: &DynObject,
        iface: &InterfaceRef<DynHost>,
        _throw: bool,
        _cx: &mut (),
    ) -> Result<bool, DynError> {
        *self
            .is_calls
            .lock()
            .unwrap()
            .entry((obj.class().uid(), iface.uid()))
            .or_default() += 1;
        self.per_class
            .lock()
            .unwrap()
            .entry(obj.class().uid())
            .or_default()
            .0 += 1;
        Ok(self.is_yes.contains(&iface.uid()))
    }

    fn get_interface_implementation(
        &self,
        obj: &DynObject,
        iface: &InterfaceRef<DynHost>,
        _cx: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        *self
            .get_calls
            .lock()
            .unwrap()
            .entry((obj.class().uid(), iface.uid()))
            .or_default() += 1;
        self.per_class
            .lock()
            .unwrap()
            .entry(obj.class().uid())
            .or_default()
            .1 += 1;
        Ok(self.get.get(&iface.uid()).cloned())
    }
}

/// The universe as model data: `ITest{k} { m }` with marked `ITestImpl{k}` (m → k),
/// `IFail { m }` the hook has no implementation for, `IStatic { s }` implemented by the
/// hooked class `Base` through a class method. Model type ids are fixed here.
struct Universe {
    model: Model,
    itest: Vec<TypeId>,
    ifail: TypeId,
    istatic: TypeId,
    base: TypeId,
}

fn universe() -> Universe {
    let mut m = Model::new();
    let mut itest = Vec::new();
    let mut hook = Hook::default();
    for k in 0..INTERFACES {
        let i = m.types.len();
        m.types.push(Type::Iface(Iface {
            name: format!("ITest{k}"),
            methods: vec![Method {
                name: "m".into(),
                arity: 0,
                kind: Kind::Abstract,
            }],
            bases: vec![],
            overrides: vec![],
            marked: false,
            generic: None,
        }));
        m.types.push(Type::Iface(Iface {
            name: format!("ITestImpl{k}"),
            methods: vec![],
            bases: vec![i],
            overrides: vec![Override {
                base: i,
                method: "m".into(),
                body: Some(k as i64),
            }],
            marked: true,
            generic: None,
        }));
        hook.is.insert(i, IsAnswer::Yes);
        hook.get.insert(i, GetAnswer::Type(i + 1));
        itest.push(i);
    }
    let ifail = m.types.len();
    m.types.push(Type::Iface(Iface {
        name: "IFail".into(),
        methods: vec![Method {
            name: "m".into(),
            arity: 0,
            kind: Kind::Abstract,
        }],
        bases: vec![],
        overrides: vec![],
        marked: false,
        generic: None,
    }));
    hook.is.insert(ifail, IsAnswer::No);
    hook.get.insert(ifail, GetAnswer::None);
    let istatic = m.types.len();
    m.types.push(Type::Iface(Iface {
        name: "IStatic".into(),
        methods: vec![Method {
            name: "s".into(),
            arity: 0,
            kind: Kind::Abstract,
        }],
        bases: vec![],
        overrides: vec![],
        marked: false,
        generic: None,
    }));
    let base = m.types.len();
    m.types.push(Type::Class(Class {
        name: "Base".into(),
        base: Some(0),
        is_abstract: false,
        methods: vec![model::VMethod {
            name: "s".into(),
            arity: 0,
            body: Some(-1),
        }],
        overrides: vec![],
        implements: vec![istatic],
        maps: vec![],
        hook: Some(0),
    }));
    m.hooks.push(hook);
    Universe {
        model: m,
        itest,
        ifail,
        istatic,
        base,
    }
}

/// One operation of the casters' alphabet: (cast target or called interface, is a cast).
#[derive(Clone, Copy)]
enum Op {
    Is(TypeId),
    Cast(TypeId),
    Call(TypeId),
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn casting_and_dispatching_while_types_are_defined() {
    let report = model::within(120, run);
    let _ = std::io::stderr().write_all(report.as_bytes());
}

fn run() -> String {
    let u = Arc::new(universe());
    let m = &u.model;
    // The engine's side, built by hand from the same definitions.
    let rt = Runtime::<DynHost>::new();
    let mut engine_types: HashMap<TypeId, TypeRef<DynHost>> = HashMap::new();
    let mut methods: HashMap<TypeId, MethodRef<DynHost>> = HashMap::new();
    for &i in &u.itest {
        let itest = rt
            .interface(m.name(i))
            .abstract_method("m", 0)
            .define()
            .unwrap();
        let tag = u.itest.iter().position(|x| *x == i).unwrap() as i64;
        let imp = rt
            .interface(m.name(i + 1))
            .base(&itest)
            .override_base(&itest, "m", move |_| Ok(Value::Int(tag)))
            .dynamic_castable_implementation()
            .define()
            .unwrap();
        methods.insert(i, itest.method("m").unwrap());
        engine_types.insert(i, itest.as_type());
        engine_types.insert(i + 1, imp.as_type());
    }
    let ifail = rt
        .interface("IFail")
        .abstract_method("m", 0)
        .define()
        .unwrap();
    methods.insert(u.ifail, ifail.method("m").unwrap());
    engine_types.insert(u.ifail, ifail.as_type());
    let istatic = rt
        .interface("IStatic")
        .abstract_method("s", 0)
        .define()
        .unwrap();
    methods.insert(u.istatic, istatic.method("s").unwrap());
    engine_types.insert(u.istatic, istatic.as_type());
    let hook = Arc::new(StressHook {
        is_yes: u.itest.iter().map(|i| engine_types[i].uid()).collect(),
        get: u
            .itest
            .iter()
            .map(|i| (engine_types[i].uid(), engine_types[&(i + 1)].clone()))
            .collect(),
        is_calls: Mutex::new(HashMap::new()),
        get_calls: Mutex::new(HashMap::new()),
        per_class: Mutex::new(HashMap::new()),
    });
    let base = rt
        .class("Base")
        .implement(&istatic)
        .virtual_method("s", 0, |_| Ok(Value::Int(-1)))
        .shared_hook(hook.clone())
        .define()
        .unwrap();

    let mut alphabet = Vec::new();
    for &i in u.itest.iter().chain([&u.ifail, &u.istatic]) {
        alphabet.extend([Op::Is(i), Op::Cast(i), Op::Call(i)]);
    }
    // What `Base` answers (no call published yet: the model's D1 state starts empty).
    let expected: Vec<Expect<i64>> = alphabet
        .iter()
        .map(|op| match *op {
            Op::Is(t) => match m.cast(u.base, t, false).0 {
                Expect::Ok(b) => Expect::Ok(b as i64),
                Expect::Err(k, msg) => Expect::Err(k, msg),
            },
            Op::Cast(t) => match m.cast(u.base, t, true).0 {
                Expect::Ok(_) => Expect::Ok(1),
                Expect::Err(k, msg) => Expect::Err(k, msg),
            },
            Op::Call(i) => {
                m.call(
                    u.base,
                    i,
                    m.iface(i).unwrap().methods[0].name.as_str(),
                    0,
                    &mut Default::default(),
                )
                .0
            }
        })
        .collect();
    let engine_types = Arc::new(engine_types);
    let methods = Arc::new(methods);
    let alphabet = Arc::new(alphabet);
    let expected = Arc::new(expected);

    let classes: Arc<RwLock<Vec<ClassRef<DynHost>>>> = Arc::new(RwLock::new(vec![base.clone()]));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let (casts, calls, defined) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut threads = Vec::new();
    for t in 0..DEFINERS {
        let (rt, classes, stop, defined, base) = (
            rt.clone(),
            classes.clone(),
            stop.clone(),
            defined.clone(),
            base.clone(),
        );
        threads.push(std::thread::spawn(move || {
            for n in 0..MAX_DEFINITIONS {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let class = if n % 50 == 0 && t == 0 {
                    // Hot reload: the name moves to a new class; both keep working.
                    rt.class("Hot").base(&base).redefine().define().unwrap()
                } else {
                    rt.class(&format!("Dyn{t}_{n}"))
                        .base(&base)
                        .define()
                        .unwrap()
                };
                rt.interface(&format!("IJunk{t}_{n}"))
                    .abstract_method("j", 0)
                    .define()
                    .unwrap();
                classes.write().unwrap().push(class);
                defined.fetch_add(2, Ordering::Relaxed);
                // A short pause keeps the newest class newest for a moment, so several
                // casters reach its first resolutions together.
                std::thread::sleep(Duration::from_micros(300));
            }
        }));
    }
    for t in 0..CASTERS {
        let (rt, classes, stop, failures, casts, calls) = (
            rt.clone(),
            classes.clone(),
            stop.clone(),
            failures.clone(),
            casts.clone(),
            calls.clone(),
        );
        let (engine_types, methods, alphabet, expected) = (
            engine_types.clone(),
            methods.clone(),
            alphabet.clone(),
            expected.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            while !stop.load(Ordering::Relaxed) {
                let class = {
                    let list = classes.read().unwrap();
                    // Mostly the newest class: its cache is empty, so the casters race.
                    if next() % 2 == 0 {
                        list[list.len() - 1].clone()
                    } else {
                        list[(next() % list.len() as u64) as usize].clone()
                    }
                };
                let obj = rt.new_object(&class, Value::Int(t as i64)).unwrap();
                for _ in 0..8 {
                    let k = (next() % alphabet.len() as u64) as usize;
                    let got: Expect<i64> = match alphabet[k] {
                        Op::Is(i) => {
                            casts.fetch_add(1, Ordering::Relaxed);
                            observed(
                                obj.is_instance_of(&engine_types[&i], &mut ())
                                    .map(i64::from),
                            )
                        }
                        Op::Cast(i) => {
                            casts.fetch_add(1, Ordering::Relaxed);
                            observed(obj.cast(&engine_types[&i], &mut ()).map(|_| 1))
                        }
                        Op::Call(i) => {
                            calls.fetch_add(1, Ordering::Relaxed);
                            observed(
                                obj.call(&methods[&i], &[], &mut ())
                                    .map(|v| v.as_int().unwrap_or(i64::MIN)),
                            )
                        }
                    };
                    let want = renamed(&expected[k], class.name());
                    if !matches(&got, &want) {
                        failures.lock().unwrap().push(format!(
                            "{}: op {k}: engine {got:?}, model {want:?}",
                            class.name()
                        ));
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    std::thread::sleep(RUN_FOR);
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        th.join().expect("no thread panicked");
    }
    let elapsed = started.elapsed();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} disagreements, first: {:?}",
        failures.len(),
        failures.first()
    );

    // D1 under races: per (type, method) the hook ran at most once per racing thread.
    let classes = classes.read().unwrap().clone();
    let get_calls = hook.get_calls.lock().unwrap().clone();
    let mut raced = 0;
    let mut max_per_pair = 0;
    for class in &classes {
        for &i in &u.itest {
            let n = get_calls
                .get(&(class.uid(), engine_types[&i].uid()))
                .copied()
                .unwrap_or(0);
            assert!(
                n <= CASTERS,
                "{}: get_interface_implementation ran {n} times for {}",
                class.name(),
                m.name(i)
            );
            max_per_pair = max_per_pair.max(n);
            if n > 1 {
                raced += 1;
            }
        }
    }

    // Afterwards, single-threaded, every answer of every class matches the model with
    // exact hook counts: the model learns the classes and which calls were published.
    let mut model = u.model.clone();
    let mut published = model::Published::new();
    let mut checked = 0;
    for class in &classes {
        let id = if class.name() == "Base" && class.uid() == base.uid() {
            u.base
        } else {
            model.types.push(Type::Class(Class {
                name: class.name().to_string(),
                base: Some(u.base),
                is_abstract: false,
                methods: vec![],
                overrides: vec![],
                implements: vec![],
                maps: vec![],
                hook: None,
            }));
            model.types.len() - 1
        };
        for &i in &u.itest {
            if get_calls.contains_key(&(class.uid(), engine_types[&i].uid())) {
                published.insert(
                    (id, i, 0),
                    u.itest.iter().position(|x| *x == i).unwrap() as i64,
                );
            }
        }
        let obj = rt.new_object(class, Value::Nil).unwrap();
        for op in alphabet.iter() {
            let key_before = hook_totals(&hook, class.uid());
            let (ok, want_calls) = match *op {
                Op::Is(t) | Op::Cast(t) => {
                    let throw = matches!(op, Op::Cast(_));
                    let (want, c) = model.cast(id, t, throw);
                    let got = if throw {
                        observed(obj.cast(&engine_types[&t], &mut ()).map(|_| true))
                    } else {
                        observed(obj.is_instance_of(&engine_types[&t], &mut ()))
                    };
                    (matches(&got, &want), (c.is_calls, c.get_calls))
                }
                Op::Call(i) => {
                    let name = model.iface(i).unwrap().methods[0].name.clone();
                    let (want, c) = model.call(id, i, &name, 0, &mut published);
                    let got = observed(
                        obj.call(&methods[&i], &[], &mut ())
                            .map(|v| v.as_int().unwrap_or(i64::MIN)),
                    );
                    (matches(&got, &want), (c.is_calls, c.get_calls))
                }
            };
            let after = hook_totals(&hook, class.uid());
            assert!(
                ok,
                "{}: answer differs from the model after the run",
                class.name()
            );
            assert_eq!(
                (after.0 - key_before.0, after.1 - key_before.1),
                want_calls,
                "{}: hook calls differ from the model after the run",
                class.name()
            );
            checked += 1;
        }
    }
    let peak = peak_rss_kb();
    if let Some(kb) = peak {
        assert!(kb < MEMORY_BOUND_KB, "peak RSS {kb} kB");
    }
    format!(
        "stress: {CASTERS} caster + {DEFINERS} definer threads for {:.1} s: {} casts, {} calls, {} definitions ({} classes); \
         dispatch hook max {} per (type, method), {} pairs raced; {} post-run checks; peak RSS (VmHWM) {} kB\n",
        elapsed.as_secs_f64(),
        casts.load(Ordering::Relaxed),
        calls.load(Ordering::Relaxed),
        defined.load(Ordering::Relaxed),
        classes.len(),
        max_per_pair,
        raced,
        checked,
        peak.map_or("unknown".to_string(), |k| k.to_string()),
    )
}

/// The hook's total (is, get) calls for objects of class `uid`.
fn hook_totals(hook: &StressHook, uid: u64) -> (usize, usize) {
    hook.per_class
        .lock()
        .unwrap()
        .get(&uid)
        .copied()
        .unwrap_or_default()
}

/// `Base`'s expected answer for a class of another name (messages name the object's type).
fn renamed(e: &Expect<i64>, class: &str) -> Expect<i64> {
    match e {
        Expect::Err(k, Some(msg)) => Expect::Err(
            k,
            Some(msg.replace(
                "object of type 'Base'",
                &format!("object of type '{class}'"),
            )),
        ),
        other => other.clone(),
    }
}

/// Hands each thread a different implementation interface (breaking the hook contract on
/// purpose), so that which answer got published is visible.
struct PerThreadHook {
    impls: Vec<TypeRef<DynHost>>,
    calls: AtomicUsize,
}

impl DynamicCastable<DynHost> for PerThreadHook {
    fn is_interface_implemented(
        &self,
        _: &DynObject,
        _: &InterfaceRef<DynHost>,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        Ok(true)
    }

    fn get_interface_implementation(
        &self,
        obj: &DynObject,
        _: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // Widen the race window so that several threads are inside the hook at once.
        std::thread::yield_now();
        let t = obj.payload().as_int().unwrap_or(0) as usize;
        Ok(Some(self.impls[t % self.impls.len()].clone()))
    }
}

/// rule D1 under a race: threads released together on a fresh class each may ask the
/// hook, but exactly one answer is published and every caller, then and later, gets it.
#[test]
fn racing_first_resolutions_publish_exactly_one_answer() {
    const ROUNDS: usize = 200;
    let report = model::within(120, || {
        let rt = Runtime::<DynHost>::new();
        let itest = rt
            .interface("ITest")
            .abstract_method("m", 0)
            .define()
            .unwrap();
        let m = itest.method("m").unwrap();
        let impls: Vec<TypeRef<DynHost>> = (0..CASTERS as i64)
            .map(|t| {
                rt.interface(&format!("Impl{t}"))
                    .base(&itest)
                    .override_base(&itest, "m", move |_| Ok(Value::Int(t)))
                    .dynamic_castable_implementation()
                    .define()
                    .unwrap()
                    .as_type()
            })
            .collect();
        let mut max_calls = 0;
        let mut contended = 0;
        for round in 0..ROUNDS {
            let hook = Arc::new(PerThreadHook {
                impls: impls.clone(),
                calls: AtomicUsize::new(0),
            });
            let class = rt
                .class(&format!("Fresh{round}"))
                .shared_hook(hook.clone())
                .define()
                .unwrap();
            let barrier = Arc::new(std::sync::Barrier::new(CASTERS));
            let answers: Vec<i64> = (0..CASTERS)
                .map(|t| {
                    let (rt, class, m, barrier) =
                        (rt.clone(), class.clone(), m.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let obj = rt.new_object(&class, Value::Int(t as i64)).unwrap();
                        barrier.wait();
                        obj.call(&m, &[], &mut ()).unwrap().as_int().unwrap()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect();
            assert!(
                answers.iter().all(|a| *a == answers[0]),
                "round {round}: callers saw different answers {answers:?}"
            );
            let calls = hook.calls.load(Ordering::SeqCst);
            assert!(
                (1..=CASTERS).contains(&calls),
                "round {round}: {calls} hook calls"
            );
            let later = rt.new_object(&class, Value::Int(1)).unwrap();
            assert_eq!(
                later.call(&m, &[], &mut ()).unwrap(),
                Value::Int(answers[0])
            );
            assert_eq!(
                hook.calls.load(Ordering::SeqCst),
                calls,
                "published: no more calls"
            );
            max_calls = max_calls.max(calls);
            if calls > 1 {
                contended += 1;
            }
        }
        format!(
            "race: {ROUNDS} rounds of {CASTERS} threads on a fresh class: {contended} rounds with \
             several hook calls (max {max_calls}), one published answer in every round\n"
        )
    });
    let _ = std::io::stderr().write_all(report.as_bytes());
}
