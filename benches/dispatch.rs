//! criterion benchmarks of every cast and dispatch path, each group with its baseline (a
//! direct Rust `&dyn Trait` call doing the same one-line work; see `benches/common`).
//!
//! `cargo bench --bench dispatch` (add a filter such as `-- call/` to run one group).
//! Reports: `target/criterion/<group>/<path>/report/index.html`.

mod common;

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use common::*;

/// Short runs: the machine has two cores shared with other builds.
fn configured() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
}

fn casts(c: &mut Criterion) {
    let f = Fixture::new();
    let mut g = c.benchmark_group("cast");
    g.bench_function("baseline", |b| b.iter(|| sink(baseline_check(&f))));
    g.bench_function("metadata_cast", |b| b.iter(|| sink(metadata_cast(&f))));
    g.bench_function("hook_cast", |b| b.iter(|| sink(hook_cast(&f))));
    g.bench_function("hook_alone", |b| b.iter(|| sink(hook_alone(&f))));
    g.bench_function("intertrait_cast", |b| b.iter(|| sink(intertrait_cast(&f))));
    g.finish();
}

fn calls(c: &mut Criterion) {
    let f = Fixture::new();
    let mono = f.warm_site(std::slice::from_ref(&f.hook_obj));
    let mono_static = f.warm_site(std::slice::from_ref(&f.static_obj));
    let poly = f.warm_site(&f.poly);
    cached_hook_dispatch(&f, &f.hook_obj).unwrap();

    let mut g = c.benchmark_group("call");
    g.bench_function("baseline", |b| b.iter(|| sink(baseline_call(&f))));
    g.bench_function("static_call", |b| b.iter(|| sink(static_call(&f))));
    g.bench_function("virtual_call", |b| b.iter(|| sink(virtual_call(&f))));
    g.bench_function("cached_hook_dispatch", |b| {
        b.iter(|| sink(cached_hook_dispatch(&f, &f.hook_obj)))
    });
    g.bench_function("call_site_mono", |b| {
        b.iter(|| sink(site_call(&mono, &f.hook_obj)))
    });
    g.bench_function("call_site_mono_static", |b| {
        b.iter(|| sink(site_call(&mono_static, &f.static_obj)))
    });
    // A ninth class on a site full with eight others: eight compares, then `Object::call`.
    site_call(&poly, &f.mega_obj).unwrap();
    g.bench_function("call_site_megamorphic", |b| {
        b.iter(|| sink(site_call(&poly, &f.mega_obj)))
    });
    g.finish();

    // Eight hooked classes in rotation; the baseline rotates its receiver too.
    let mut g = c.benchmark_group("call_poly8");
    let mut i = 0usize;
    let mut next = move || {
        i = (i + 1) & 7;
        i
    };
    g.bench_function("baseline", |b| {
        b.iter(|| sink(black_box(&f.baseline).work(black_box(&f.poly[next()]), &[1], &mut ())))
    });
    g.bench_function("cached_hook_dispatch", |b| {
        b.iter(|| sink(cached_hook_dispatch(&f, &f.poly[next()])))
    });
    g.bench_function("call_site", |b| {
        b.iter(|| sink(site_call(&poly, &f.poly[next()])))
    });
    g.finish();
}

fn cache_sizes(c: &mut Criterion) {
    let f = Fixture::new();

    // Lookups of 64 cached methods in rotation, with 1 … 10,000 entries on the type.
    let mut g = c.benchmark_group("cached_lookup");
    let keys0 = f.spread(1);
    let mut i = 0usize;
    g.bench_function("baseline", |b| {
        b.iter(|| {
            i = (i + 1) & 63;
            black_box(&keys0[i % keys0.len()]);
            sink(baseline_call(&f))
        })
    });
    for n in [1usize, 10, 100, 1000, 10_000] {
        let obj = f.with_cached(n);
        let keys: Vec<_> = f.spread(n).into_iter().cycle().take(64).collect();
        g.bench_with_input(BenchmarkId::new("entries", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) & 63;
                sink(wide_call(&obj, &keys[i]))
            })
        });
    }
    g.finish();

    // The first call of a method (a miss: hook, checks, default resolution, publication)
    // on a class that already caches `n` methods. Fresh classes are built untimed, and a
    // few misses are timed on each (see `misses_per_class`).
    let mut g = c.benchmark_group("first_resolution");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(300));
    g.bench_function("baseline", |b| b.iter(|| sink(baseline_call(&f))));
    for n in [10usize, 100, 1000] {
        let per_class = misses_per_class(n) as u64;
        g.bench_with_input(BenchmarkId::new("entries", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let obj = f.with_cached(n);
                    let batch = per_class.min(iters - done) as usize;
                    let start = Instant::now();
                    for m in &f.wide[n..n + batch] {
                        sink(wide_call(&obj, m));
                    }
                    timed += start.elapsed();
                    done += batch as u64;
                }
                timed
            })
        });
    }
    g.finish();
}

/// Cached dispatch on one and on two threads at once (both reading one class's cache).
fn threads(c: &mut Criterion) {
    let f = Fixture::new();
    cached_hook_dispatch(&f, &f.hook_obj).unwrap();
    let mut g = c.benchmark_group("threads");
    for threads in [1usize, 2] {
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_with_input(BenchmarkId::new("baseline", threads), &threads, |b, &t| {
            b.iter_custom(|iters| on_threads(t, iters, || baseline_call(&f)))
        });
        g.bench_with_input(
            BenchmarkId::new("cached_hook_dispatch", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    on_threads(t, iters, || cached_hook_dispatch(&f, &f.hook_obj))
                })
            },
        );
    }
    g.finish();
}

/// Wall time for `threads` threads to run `op` `iters` times each.
fn on_threads<R>(threads: usize, iters: u64, op: impl Fn() -> R + Sync) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    sink(op());
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

criterion_group! {
    name = benches;
    config = configured();
    targets = casts, calls, cache_sizes, threads
}
criterion_main!(benches);
