//! The quick ratio run: `cargo bench --bench ratios`.
//!
//! Prints one line per path, `RATIO <path> <value>`: the median, over interleaved rounds, of
//! the path's time divided by the baseline's time measured right around it in the same
//! round (baseline, path, baseline), so drifts in machine load cancel. The baseline is a
//! direct Rust `&dyn Trait` call doing the same one-line work (see `benches/common`).
//! Then `NS <path> <value>` lines give the median nanoseconds per operation.
//!
//! Derived lines: `hook_cast_overhead` is (hook cast − the hook called directly) / baseline;
//! `metadata_cast_vs_intertrait` is our cast's time / intertrait's (below 1: ours faster);
//! `threads2_throughput_*` is two threads' combined throughput / one thread's (2.0 = perfect
//! scaling on the two cores) and `threads2_vs_baseline_*` that scaling over the baseline's,
//! measured in the same rounds (1.0: the path scales exactly as well as a plain dyn call,
//! whatever else is running on the machine).

mod common;

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

use common::*;

type Site = dynacast::CallSite<Bench>;

/// Interleaved rounds per path.
const ROUNDS: usize = 41;
/// Target duration of one timed batch.
const BATCH_NS: f64 = 300_000.0;
/// Rounds of the thread-scaling paths (each round runs ~4 batches of `THREAD_BATCH_NS`).
const THREAD_ROUNDS: usize = 15;
const THREAD_BATCH_NS: f64 = 4_000_000.0;

/// Nanoseconds per call of `op`, over `iters` calls.
///
/// The result stays where the call wrote it and only its address goes to `black_box`:
/// moving an 88-byte `Result` into `black_box` copies it with 16-byte loads right after
/// the callee's 8-byte stores, a store-forwarding stall that added ≈ 5 ns to every path
/// (and so pulled every ratio towards 1).
#[inline(always)]
fn per_op<R>(iters: u64, mut op: impl FnMut(u64) -> R) -> f64 {
    let start = Instant::now();
    for i in 0..iters {
        let result = op(i);
        black_box(&result);
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// A path: runs `iters` operations and returns ns per operation.
type Measure<'a> = Box<dyn FnMut(u64) -> f64 + 'a>;

fn measure<'a>(f: impl FnMut(u64) -> f64 + 'a) -> Measure<'a> {
    Box::new(f)
}

/// How many iterations make a batch of about `target_ns`.
fn calibrate(m: &mut Measure<'_>, target_ns: f64) -> u64 {
    let mut iters = 64u64;
    loop {
        let ns = m(iters) * iters as f64;
        if ns >= target_ns / 4.0 || iters >= 1 << 30 {
            return ((iters as f64 * target_ns / ns.max(1.0)) as u64).max(1);
        }
        iters *= 4;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Row {
    name: String,
    ratios: Vec<f64>,
    ns: Vec<f64>,
}

impl Row {
    fn new(name: &str) -> Self {
        Row {
            name: name.to_string(),
            ratios: Vec::new(),
            ns: Vec::new(),
        }
    }
}

/// Interleaved rounds of (baseline, path, baseline) for each path against its baseline.
fn run_group<'a>(mut baseline: Measure<'a>, paths: Vec<(&str, Measure<'a>)>) -> Vec<Row> {
    let base_iters = calibrate(&mut baseline, BATCH_NS);
    let mut paths: Vec<(Row, Measure<'a>, u64)> = paths
        .into_iter()
        .map(|(name, mut m)| {
            let iters = calibrate(&mut m, BATCH_NS);
            (Row::new(name), m, iters)
        })
        .collect();
    let mut base_ns = Vec::new();
    for round in 0..ROUNDS {
        // Rotate the order so no path always runs right after the same neighbour.
        let n = paths.len();
        for k in 0..n {
            let (row, m, iters) = &mut paths[(k + round) % n];
            let before = baseline(base_iters);
            let t = m(*iters);
            let after = baseline(base_iters);
            let base = (before + after) / 2.0;
            row.ratios.push(t / base);
            row.ns.push(t);
            base_ns.push(base);
        }
    }
    let mut rows = vec![Row {
        name: "baseline".into(),
        ratios: vec![1.0],
        ns: base_ns,
    }];
    rows.extend(paths.into_iter().map(|(row, _, _)| row));
    rows
}

/// Times first resolutions (misses) of methods on classes that already cache `cached`
/// methods, against the call baseline: each round builds fresh classes (untimed) and times
/// at least 50 misses, a few per class (see `misses_per_class`).
fn first_resolution(f: &Fixture, cached: usize) -> Row {
    let per_class = misses_per_class(cached);
    let classes = 50usize.div_ceil(per_class);
    let mut baseline: Measure<'_> = measure(|n| per_op(n, |_| baseline_call(f)));
    let base_iters = calibrate(&mut baseline, BATCH_NS);
    let mut row = Row::new(&format!("first_resolution_{cached}"));
    for _ in 0..ROUNDS {
        let before = baseline(base_iters);
        let mut total_ns = 0.0;
        for _ in 0..classes {
            let obj = f.with_cached(cached);
            let fresh = &f.wide[cached..cached + per_class];
            let start = Instant::now();
            for m in fresh {
                black_box(&wide_call(&obj, m));
            }
            total_ns += start.elapsed().as_nanos() as f64;
        }
        let after = baseline(base_iters);
        let t = total_ns / (classes * per_class) as f64;
        row.ratios.push(t / ((before + after) / 2.0));
        row.ns.push(t);
    }
    row
}

/// Wall-clock nanoseconds for `threads` threads to run `op` `iters` times each, at once.
fn on_threads(threads: usize, iters: u64, op: &(impl Fn() + Sync)) -> f64 {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    op();
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed().as_nanos() as f64
    })
}

/// Iterations for one thread to run `op` for about `THREAD_BATCH_NS`.
fn thread_iters(op: &(impl Fn() + Sync)) -> u64 {
    let mut m: Measure<'_> = measure(|n| per_op(n, |_| op()));
    calibrate(&mut m, THREAD_BATCH_NS)
}

/// One thread's wall time over two threads' (each thread runs `iters` operations): the
/// throughput of two threads over one.
fn scaling(op: &(impl Fn() + Sync), iters: u64) -> f64 {
    let one = on_threads(1, iters, op);
    let two = on_threads(2, iters, op);
    let one_again = on_threads(1, iters, op);
    (one + one_again) / two
}

/// Two threads' combined throughput over one thread's, for `op` and, interleaved in the
/// same rounds, for the baseline: rows `threads2_throughput_<name>` and
/// `threads2_vs_baseline_<name>` (the path's scaling over the baseline's, which takes out
/// what other processes on the two cores cost both alike).
fn thread_scaling(
    name: &str,
    base: &(impl Fn() + Sync),
    op: &(impl Fn() + Sync),
) -> (Row, Row, Row) {
    let (base_iters, iters) = (thread_iters(base), thread_iters(op));
    let mut base_row = Row::new("threads2_throughput_baseline");
    let mut row = Row::new(&format!("threads2_throughput_{name}"));
    let mut relative = Row::new(&format!("threads2_vs_baseline_{name}"));
    for _ in 0..THREAD_ROUNDS {
        let b = scaling(base, base_iters);
        let p = scaling(op, iters);
        base_row.ratios.push(b);
        row.ratios.push(p);
        relative.ratios.push(p / b);
    }
    (base_row, row, relative)
}

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: keep that a smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let started = Instant::now();
    let f = Fixture::new();
    let site_mono = f.warm_site(std::slice::from_ref(&f.hook_obj));
    let site_static = f.warm_site(std::slice::from_ref(&f.static_obj));
    let site_poly = f.warm_site(&f.poly);
    for o in &f.poly {
        cached_hook_dispatch(&f, o).unwrap();
    }
    cached_hook_dispatch(&f, &f.hook_obj).unwrap();
    site_call(&site_poly, &f.mega_obj).unwrap();
    assert_eq!(site_poly.state(), dynacast::CallSiteState::Megamorphic);
    if smoke {
        smoke_run(&f, &site_mono, &site_static, &site_poly);
        return;
    }

    let mut rows = Vec::new();

    // Casts, against a dyn call doing a cast's one-line work.
    let casts = run_group(
        measure(|n| per_op(n, |_| baseline_check(&f))),
        vec![
            (
                "metadata_cast",
                measure(|n| per_op(n, |_| metadata_cast(&f))),
            ),
            ("hook_cast", measure(|n| per_op(n, |_| hook_cast(&f)))),
            ("hook_alone", measure(|n| per_op(n, |_| hook_alone(&f)))),
            (
                "intertrait_cast",
                measure(|n| per_op(n, |_| intertrait_cast(&f))),
            ),
        ],
    );
    let derived = derive_casts(&casts);
    rows.extend(casts.into_iter().skip(1));
    rows.extend(derived);

    // Calls, against a dyn call doing the same work.
    let poly = &f.poly;
    rows.extend(
        run_group(
            measure(|n| per_op(n, |_| baseline_call(&f))),
            vec![
                ("static_call", measure(|n| per_op(n, |_| static_call(&f)))),
                ("virtual_call", measure(|n| per_op(n, |_| virtual_call(&f)))),
                (
                    "cached_hook_dispatch",
                    measure(|n| per_op(n, |_| cached_hook_dispatch(&f, &f.hook_obj))),
                ),
                (
                    "call_site_mono",
                    measure(|n| per_op(n, |_| site_call(&site_mono, &f.hook_obj))),
                ),
                (
                    "call_site_mono_static",
                    measure(|n| per_op(n, |_| site_call(&site_static, &f.static_obj))),
                ),
                (
                    "call_site_megamorphic",
                    measure(|n| per_op(n, |_| site_call(&site_poly, &f.mega_obj))),
                ),
            ],
        )
        .into_iter()
        .skip(1),
    );

    // Polymorphic: eight hooked classes in rotation; the baseline rotates receivers too.
    rows.extend(
        run_group(
            measure(|n| {
                per_op(n, |i| {
                    black_box(&f.baseline).work(black_box(&poly[(i & 7) as usize]), &[1], &mut ())
                })
            }),
            vec![
                (
                    "cached_hook_dispatch_poly8",
                    measure(|n| per_op(n, |i| cached_hook_dispatch(&f, &poly[(i & 7) as usize]))),
                ),
                (
                    "call_site_poly8",
                    measure(|n| per_op(n, |i| site_call(&site_poly, &poly[(i & 7) as usize]))),
                ),
            ],
        )
        .into_iter()
        .skip(1),
    );

    // Cached lookups with 1 … 10,000 entries on the type, 64 keys in rotation.
    let sizes = [1usize, 10, 100, 1000, 10_000];
    let objects: Vec<Obj> = sizes.iter().map(|&n| f.with_cached(n)).collect();
    let keys: Vec<Vec<_>> = sizes
        .iter()
        .map(|&n| f.spread(n).into_iter().cycle().take(64).collect())
        .collect();
    let names: Vec<String> = sizes.iter().map(|n| format!("cached_lookup_{n}")).collect();
    let lookups: Vec<(&str, Measure<'_>)> = (0..sizes.len())
        .map(|s| {
            let (obj, keys) = (&objects[s], &keys[s]);
            let m: Measure<'_> =
                measure(move |n| per_op(n, |i| wide_call(obj, &keys[(i & 63) as usize])));
            (names[s].as_str(), m)
        })
        .collect();
    let key0 = &keys[0];
    rows.extend(
        run_group(
            measure(|n| {
                per_op(n, |i| {
                    black_box(&key0[(i & 63) as usize]);
                    baseline_call(&f)
                })
            }),
            lookups,
        )
        .into_iter()
        .skip(1),
    );

    for cached in [10, 100, 1000] {
        rows.push(first_resolution(&f, cached));
    }

    let base = || {
        black_box(&baseline_call(&f));
    };
    let (base_row, dispatch, dispatch_rel) = thread_scaling("cached_hook_dispatch", &base, &|| {
        black_box(&cached_hook_dispatch(&f, &f.hook_obj));
    });
    let (_, site, site_rel) = thread_scaling("call_site_mono", &base, &|| {
        black_box(&site_call(&site_mono, &f.hook_obj));
    });
    rows.extend([base_row, dispatch, dispatch_rel, site, site_rel]);

    for row in &rows {
        println!("RATIO {} {:.3}", row.name, median(row.ratios.clone()));
    }
    for row in rows.iter().filter(|r| !r.ns.is_empty()) {
        println!("NS {} {:.2}", row.name, median(row.ns.clone()));
    }
    eprintln!(
        "# {ROUNDS} interleaved rounds per path; {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// `hook_cast_overhead` and `metadata_cast_vs_intertrait`, per round, then the median.
fn derive_casts(rows: &[Row]) -> Vec<Row> {
    let by_name = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .map(|r| &r.ratios)
            .expect("path measured above")
    };
    let (hook_cast, hook_alone) = (by_name("hook_cast"), by_name("hook_alone"));
    let (ours, theirs) = (by_name("metadata_cast"), by_name("intertrait_cast"));
    let mut overhead = Row::new("hook_cast_overhead");
    overhead.ratios = hook_cast
        .iter()
        .zip(hook_alone)
        .map(|(c, h)| c - h)
        .collect();
    let mut versus = Row::new("metadata_cast_vs_intertrait");
    versus.ratios = ours.iter().zip(theirs).map(|(o, t)| o / t).collect();
    vec![overhead, versus]
}

/// Runs every path once and checks its answer (what `cargo test --all-targets` does).
fn smoke_run(f: &Fixture, mono: &Site, stat: &Site, poly: &Site) {
    assert_eq!(baseline_call(f).unwrap(), 2);
    assert!(baseline_check(f).unwrap());
    metadata_cast(f).unwrap();
    hook_cast(f).unwrap();
    assert!(hook_alone(f).unwrap());
    assert!(intertrait_cast(f));
    assert_eq!(static_call(f).unwrap(), 2);
    assert_eq!(virtual_call(f).unwrap(), 2);
    assert_eq!(cached_hook_dispatch(f, &f.hook_obj).unwrap(), 2);
    assert_eq!(site_call(mono, &f.hook_obj).unwrap(), 2);
    assert_eq!(site_call(stat, &f.static_obj).unwrap(), 2);
    for o in &f.poly {
        assert_eq!(site_call(poly, o).unwrap(), 2);
    }
    let obj = f.with_cached(10);
    assert_eq!(wide_call(&obj, &f.wide[10]).unwrap(), 2);
    println!("ratios: smoke run ok (run `cargo bench --bench ratios` to measure)");
}
