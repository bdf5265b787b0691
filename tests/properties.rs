//! Differential property tests: random interface graphs, class hierarchies and hooks
//! (see `model::gen`), built in the engine and in the naive reference model
//! (`tests/model/mod.rs`); every cast and call must agree on the result or the exact error
//! (kind, and message where the rules fix it), and on which hook ran how many times.
//!
//! The case count defaults to 10,000 (`DYNACAST_CASES` overrides it) and is printed as
//! `generated cases: N`. Failing tapes are kept in `proptest-regressions/properties.txt`
//! and replayed first on every run.

mod model;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

use model::build::{build, matches, observed};
use model::gen::{generate, Op, Tape};
use model::{Expect, Model, Published};

/// Outcome kinds seen, for the coverage check and the printed summary.
type Seen = BTreeMap<String, usize>;

fn outcome_key<T>(e: &Expect<T>, what: &str) -> String {
    match e {
        Expect::Ok(_) => format!("{what} ok"),
        Expect::Err(k, _) => format!("{what} {k}"),
    }
}

/// Builds `built_from` in the engine and checks every operation against `predict_with`
/// (the same model, except in the test that proves the harness bites).
fn check(
    built_from: &Model,
    predict_with: &Model,
    ops: &[Op],
    seen: &mut Seen,
) -> Result<(), String> {
    let built = build(built_from)?;
    let m = predict_with;
    // B1: metadata assignability between every pair of defined types.
    for a in 0..m.types.len() {
        for b in 0..m.types.len() {
            if let (Some(ta), Some(tb)) = (&built.types[a], &built.types[b]) {
                if ta.is_assignable_to(tb) != m.assignable(a, b) {
                    return Err(format!(
                        "is_assignable_to({}, {}) = {}, model says {}",
                        m.name(a),
                        m.name(b),
                        ta.is_assignable_to(tb),
                        m.assignable(a, b)
                    ));
                }
            }
        }
    }
    let mut published = Published::new();
    for (n, op) in ops.iter().enumerate() {
        let before = built.counters.snapshot();
        let (ok, predicted_calls, got, want) = match op {
            Op::Cast {
                class,
                obj,
                target,
                throw,
            } => {
                let o = &built.objects[class][*obj];
                let t = built.types[*target].as_ref().ok_or("target undefined")?;
                let (want, calls) = m.cast(*class, *target, *throw);
                let got = if *throw {
                    observed(o.cast(t, &mut ()).map(|_| true))
                } else {
                    observed(o.is_instance_of(t, &mut ()))
                };
                let statically = o.is_instance_of_static(t);
                if statically != m.assignable(*class, *target) {
                    return Err(format!(
                        "op {n} {op:?}: is_instance_of_static = {statically}"
                    ));
                }
                *seen
                    .entry(outcome_key(&want, if *throw { "cast" } else { "is" }))
                    .or_default() += 1;
                (
                    matches(&got, &want),
                    calls,
                    format!("{got:?}"),
                    format!("{want:?}"),
                )
            }
            Op::Call {
                class,
                obj,
                holder,
                name,
                argc,
            } => {
                let o = &built.objects[class][*obj];
                let h = built.types[*holder]
                    .as_ref()
                    .and_then(|t| t.as_interface().cloned())
                    .ok_or("holder undefined")?;
                let method = h.method(name).map_err(|e| e.to_string())?;
                let args = vec![dynacast::Value::Nil; *argc];
                let got = observed(
                    o.call(&method, &args, &mut ())
                        .map(|v| v.as_int().expect("bodies return their tag")),
                );
                let (want, calls) = m.call(*class, *holder, name, *argc, &mut published);
                *seen.entry(outcome_key(&want, "call")).or_default() += 1;
                (
                    matches(&got, &want),
                    calls,
                    format!("{got:?}"),
                    format!("{want:?}"),
                )
            }
        };
        if !ok {
            return Err(format!("op {n} {op:?}: engine {got}, model {want}"));
        }
        let after = built.counters.snapshot();
        for (h, (b, a)) in before.iter().zip(&after).enumerate() {
            let expected = if predicted_calls.hook == Some(h) {
                (predicted_calls.is_calls, predicted_calls.get_calls)
            } else {
                (0, 0)
            };
            let delta = (a.0 - b.0, a.1 - b.1);
            if delta != expected {
                return Err(format!(
                    "op {n} {op:?}: hook {h} calls (is, get) = {delta:?}, model says {expected:?}"
                ));
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("DYNACAST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[test]
fn engine_agrees_with_the_model() {
    let mut config = Config::with_cases(cases());
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/properties.txt",
    )));
    config.source_file = Some(file!());
    let mut runner = TestRunner::new(config);
    let seen = Mutex::new(Seen::new());
    let generated = Mutex::new(0usize);
    let result = runner.run(&vec(any::<u8>(), 0..1500), |bytes| {
        let (m, ops) = generate(&mut Tape::new(&bytes));
        *generated.lock().unwrap() += 1;
        let mut local = Seen::new();
        check(&m, &m, &ops, &mut local).map_err(|e| {
            if std::env::var_os("DYNACAST_DUMP").is_some() {
                TestCaseError::fail(format!("{e}\n{m:?}\n{ops:?}"))
            } else {
                TestCaseError::fail(e)
            }
        })?;
        let mut seen = seen.lock().unwrap();
        for (k, v) in local {
            *seen.entry(k).or_default() += v;
        }
        Ok(())
    });
    let generated = *generated.lock().unwrap();
    let seen = seen.into_inner().unwrap();
    // Written straight to stderr (not eprintln!), so it shows under plain `cargo test`.
    let mut report = format!("generated cases: {generated}\n");
    for (k, v) in &seen {
        report.push_str(&format!("  {k}: {v}\n"));
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator must keep reaching every outcome, or the agreement means little
    // (checked on full runs; a quick `DYNACAST_CASES=10` run may miss rare ones).
    let kinds: &[&str] = if generated >= 1000 { &COVERED } else { &[] };
    for kind in kinds {
        assert!(
            seen.get(*kind).copied().unwrap_or(0) > 0,
            "no case reached '{kind}'"
        );
    }
}

/// Outcomes every full run must reach.
const COVERED: [&str; 11] = [
    "is ok",
    "cast ok",
    "cast InvalidCast",
    "cast Host",
    "call ok",
    "call InvalidCast",
    "call InvalidOperation",
    "call EntryPointNotFound",
    "call AmbiguousImplementation",
    "call Host",
    "call ArgumentCount",
];

/// The harness bites: a model whose hook answers differ from the hooks the engine was
/// given is caught.
#[test]
fn harness_reports_a_disagreement() {
    let mut runner = TestRunner::deterministic();
    let mut caught = 0;
    for _ in 0..300 {
        let bytes = vec(any::<u8>(), 200..1500)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let (m, ops) = generate(&mut Tape::new(&bytes));
        let mut wrong = m.clone();
        for hook in &mut wrong.hooks {
            for answer in hook.get.values_mut() {
                *answer = model::GetAnswer::Fail;
            }
            for answer in hook.is.values_mut() {
                *answer = model::IsAnswer::Yes;
            }
        }
        let mut seen = Seen::new();
        check(&m, &m, &ops, &mut seen).expect("the true model agrees");
        if check(&m, &wrong, &ops, &mut seen).is_err() {
            caught += 1;
        }
    }
    assert!(
        caught > 100,
        "only {caught} of 300 planted disagreements were caught"
    );
}

/// Regression, kept by hand because the tape that found it now generates another universe:
/// a marked implementation interface with bases `G1<object>` and `G1<A1>` (`out T`)
/// serves `G1<object>.d` with the exact instantiation's default, not a diamond (the model
/// first called it ambiguous; the engine follows CoreCLR and was right).
#[test]
fn exact_instantiation_default_beats_a_variant_one() {
    use model::{Class, GenericDef, GetAnswer, Hook, Iface, Kind, Method, Type, Var};
    let mut m = Model::new();
    for (name, base) in [("A0", 0), ("A1", 1)] {
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
    let d = Method {
        name: "d".into(),
        arity: 0,
        kind: Kind::Default(102),
    };
    m.generics.push(GenericDef {
        name: "G1".into(),
        variances: vec![Var::Out],
        methods: vec![d.clone()],
        marked: true,
    });
    for (name, arg) in [("G1<A1>", 2), ("G1<object>", 0)] {
        m.types.push(Type::Iface(Iface {
            name: name.into(),
            methods: vec![d.clone()],
            bases: vec![],
            overrides: vec![],
            marked: true,
            generic: Some((0, vec![arg])),
        }));
    }
    let (g_a1, g_object) = (3, 4);
    m.types.push(Type::Iface(Iface {
        name: "I1".into(),
        methods: vec![],
        bases: vec![g_object, g_a1],
        overrides: vec![],
        marked: true,
        generic: None,
    }));
    let mut hook = Hook::default();
    hook.get.insert(g_object, GetAnswer::Type(5));
    hook.get.insert(g_a1, GetAnswer::Type(5));
    m.hooks.push(hook);
    m.types.push(Type::Class(Class {
        name: "C".into(),
        base: Some(0),
        is_abstract: false,
        methods: vec![],
        overrides: vec![],
        implements: vec![],
        maps: vec![],
        hook: Some(0),
    }));
    let call = |holder| Op::Call {
        class: 6,
        obj: 0,
        holder,
        name: "d".into(),
        argc: 0,
    };
    let ops = [call(g_object), call(g_a1), call(g_object)];
    let mut published = Published::new();
    assert_eq!(
        m.call(6, g_object, "d", 0, &mut published).0,
        Expect::Ok(102)
    );
    check(&m, &m, &ops, &mut Seen::new()).unwrap();
}
