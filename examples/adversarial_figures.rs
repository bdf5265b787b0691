//! Time and memory figures for the adversarial cases of issue 11 (the README's
//! "Guarantees" table). Not a test: nothing is asserted, the numbers are printed.
//!
//! ```sh
//! cargo run --release --example adversarial_figures            # every case
//! cargo run --release --example adversarial_figures -- classes  # one case, fresh process
//! ```
//!
//! Memory is the process's resident set (`VmRSS`, `VmHWM` from `/proc/self/status`), so run
//! one case per process for clean figures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dynacast::{
    DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, Runtime, TypeRef, Value, Variance,
};

type Rt = Runtime<DynHost>;

/// A field of `/proc/self/status` in kB (0 where there is none).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn rss_mb() -> f64 {
    status_kb("VmRSS:") as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A hook that names `implementation` for every interface.
struct Serve(InterfaceRef<DynHost>);

impl DynamicCastable<DynHost> for Serve {
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
        _: &DynObject,
        _: &InterfaceRef<DynHost>,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        Ok(Some(self.0.as_type()))
    }
}

fn class_chain(depth: usize) -> Result<(), DynError> {
    let before = rss_mb();
    let start = Instant::now();
    let rt = Rt::new();
    let mut class = rt.object_class().clone();
    let mut near_root = class.clone();
    for level in 1..=depth {
        class = rt.class("Link").redefine().base(&class).define()?;
        if level == 8 {
            near_root = class.clone();
        }
    }
    let defined = start.elapsed();
    let obj = rt.new_object(&class, Value::Nil)?;
    // Level 8 is past the inline display: the cast walks the whole chain up to it.
    let deep_cast = Instant::now();
    obj.cast(&near_root, &mut ())?;
    let cold = deep_cast.elapsed();
    let warm_start = Instant::now();
    for _ in 0..1000 {
        obj.cast(&near_root, &mut ())?;
    }
    let warm = warm_start.elapsed() / 1000;
    drop(near_root);
    let grown = rss_mb() - before;
    let drop_start = Instant::now();
    drop((obj, class, rt));
    println!(
        "class_chain depth {depth}: define {:.1} ms, +{grown:.1} MB RSS, leaf cast to level 8 (skip links) {:.2} us cold / {:.3} us warm, drop {:.1} ms",
        ms(defined),
        cold.as_secs_f64() * 1e6,
        warm.as_secs_f64() * 1e6,
        ms(drop_start.elapsed())
    );
    Ok(())
}

fn interface_chain(depth: usize) -> Result<(), DynError> {
    let before = rss_mb();
    let start = Instant::now();
    let rt = Rt::new();
    let mut leaf = rt.interface("I").abstract_method("m", 0).define()?;
    for _ in 1..depth {
        leaf = rt.interface("I").redefine().base(&leaf).define()?;
    }
    let chain = start.elapsed();
    let class_start = Instant::now();
    rt.class("C")
        .implement(&leaf)
        .virtual_method("m", 0, |_| Ok(Value::Nil))
        .define()?;
    println!(
        "interface_chain depth {depth}: chain {:.1} ms, class on its leaf {:.1} ms, +{:.1} MB RSS",
        ms(chain),
        ms(class_start.elapsed()),
        rss_mb() - before
    );
    Ok(())
}

/// An interface with `n` methods (each with a default), an implementation interface
/// overriding all of them, and the first resolution of one through a hook.
fn many_methods(n: usize) -> Result<(), DynError> {
    let rt = Rt::new();
    let start = Instant::now();
    let mut big = rt.interface("IBig");
    for i in 0..n {
        big = big.abstract_method(&format!("m{i}"), 0);
    }
    let big = big.define()?;
    let defined = start.elapsed();
    let impl_start = Instant::now();
    let mut imp = rt
        .interface("IBigImpl")
        .base(&big)
        .dynamic_castable_implementation();
    for i in 0..n {
        imp = imp.override_base(&big, &format!("m{i}"), |_| Ok(Value::Nil));
    }
    let imp = imp.define()?;
    let implemented = impl_start.elapsed();
    let method = big.method(&format!("m{}", n / 2))?;
    let first = first_resolution(&rt, &imp, &method)?;
    println!(
        "interface with {n} methods: define {:.1} ms, implementation overriding all {:.1} ms, first resolution {first:.2} us",
        ms(defined),
        ms(implemented),
    );
    Ok(())
}

/// The median time in µs of a first call of `method` on a fresh class whose hook names
/// `implementation` (hook, checks, default-method search and publication), over 101 classes.
fn first_resolution(
    rt: &Rt,
    implementation: &InterfaceRef<DynHost>,
    method: &dynacast::MethodRef<DynHost>,
) -> Result<f64, DynError> {
    let mut times = Vec::with_capacity(101);
    for _ in 0..101 {
        let class = rt
            .class("C")
            .redefine()
            .hook(Serve(implementation.clone()))
            .define()?;
        let obj = rt.new_object(&class, Value::Nil)?;
        let start = Instant::now();
        obj.call(method, &[], &mut ())?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(50).copied().unwrap_or_default())
}

/// An implementation interface with `n` bases (each with one defaulted method), and the
/// first resolution of one of them through a hook.
fn many_bases(n: usize) -> Result<(), DynError> {
    let rt = Rt::new();
    let mut bases = Vec::with_capacity(n);
    for i in 0..n {
        let base = rt
            .interface(&format!("IB{i}"))
            .default_method("b", 0, |_| Ok(Value::Nil))
            .define()?;
        bases.push(base);
    }
    let start = Instant::now();
    let mut wide = rt.interface("IWide").dynamic_castable_implementation();
    for base in &bases {
        wide = wide.base(base);
    }
    let wide = wide.define()?;
    let defined = start.elapsed();
    let first = first_resolution(&rt, &wide, &bases[n / 2].method("b")?)?;
    println!(
        "interface with {n} bases: define {:.1} ms, first resolution {first:.2} us",
        ms(defined),
    );
    Ok(())
}

/// Looks "Probe" up in a loop on another thread until `done`: (worst latency, lookups,
/// lookups slower than 1 ms).
fn lookup_loop(rt: &Rt, done: &Arc<AtomicBool>) -> std::thread::JoinHandle<(Duration, u64, u64)> {
    let (rt, done) = (rt.clone(), done.clone());
    std::thread::spawn(move || {
        let (mut worst, mut count, mut slow) = (Duration::ZERO, 0u64, 0u64);
        while !done.load(Ordering::Acquire) {
            let t = Instant::now();
            let found = rt.lookup("Probe").is_some();
            let took = t.elapsed();
            worst = worst.max(took);
            slow += u64::from(took > Duration::from_millis(1));
            count += u64::from(found);
        }
        (worst, count, slow)
    })
}

/// The worst `lookup` latency on one thread while another defines an interface with `n`
/// methods and a class implementing them, and (for comparison) while it does plain work
/// that takes no engine lock for as long: the difference is what the registry lock costs,
/// the rest is the scheduler.
fn lookup_latency(n: usize) -> Result<(), DynError> {
    let rt = Rt::new();
    rt.class("Probe").define()?;
    let done = Arc::new(AtomicBool::new(false));
    let reader = lookup_loop(&rt, &done);
    let start = Instant::now();
    let mut iface = rt.interface("IHuge");
    let mut class = rt.class("Huge").implement("IHuge");
    for i in 0..n {
        let name = format!("m{i}");
        iface = iface.abstract_method(&name, 0);
        class = class.virtual_method(&name, 0, |_| Ok(Value::Nil));
    }
    iface.define()?;
    class.define()?;
    let defining = start.elapsed();
    done.store(true, Ordering::Release);
    let (worst, count, slow) = reader.join().unwrap_or_default();
    println!(
        "lookup during a {n}-method interface + class definition ({:.1} ms): {count} lookups, worst {:.3} ms, {slow} over 1 ms",
        ms(defining),
        ms(worst)
    );
    let done = Arc::new(AtomicBool::new(false));
    let reader = lookup_loop(&rt, &done);
    let start = Instant::now();
    let mut plain: Vec<String> = Vec::new();
    while start.elapsed() < defining {
        plain.push(format!("m{}", plain.len()));
    }
    done.store(true, Ordering::Release);
    let (worst, count, slow) = reader.join().unwrap_or_default();
    println!(
        "lookup while the other thread does plain work as long: {count} lookups, worst {:.3} ms, {slow} over 1 ms",
        ms(worst)
    );
    Ok(())
}

/// `n` reloads of a hooked class implemented through `IFactory<P>`.
fn reloads(n: usize) -> Result<(), DynError> {
    let rt = Rt::new();
    let factory = rt
        .generic_interface("IFactory", &[Variance::Covariant])
        .abstract_method("make", 0)
        .define_generic()?;
    let before = rss_mb();
    let mut after_first_tenth = 0.0;
    for i in 0..n {
        let p = rt
            .class("P")
            .redefine()
            .hook(Serve(factory.instantiate(&[rt.object_class().as_type()])?))
            .virtual_method("m", 0, |_| Ok(Value::Nil))
            .define()?;
        let of_p = factory.instantiate(&[p.as_type()])?;
        rt.class("Q")
            .redefine()
            .implement(&of_p)
            .virtual_method("make", 0, |_| Ok(Value::Nil))
            .define()?;
        if i == n / 10 {
            after_first_tenth = rss_mb();
        }
    }
    println!(
        "{n} reloads with generics: RSS {before:.1} MB before, {after_first_tenth:.1} MB after {} reloads, {:.1} MB after all; peak {:.1} MB; live instantiations {}",
        n / 10,
        rss_mb(),
        status_kb("VmHWM:") as f64 / 1024.0,
        factory.live_instantiations()
    );
    Ok(())
}

fn runtimes(n: usize) -> Result<(), DynError> {
    let before = rss_mb();
    for _ in 0..n {
        let rt = Rt::new();
        let g = rt
            .generic_interface("IG", &[Variance::Invariant])
            .default_method("m", 0, |_| Ok(Value::Nil))
            .define_generic()?;
        let c = rt.class("C").define()?;
        g.instantiate(&[c.as_type()])?;
    }
    println!(
        "{n} runtimes with one instantiation each: RSS {before:.1} MB before, {:.1} MB after",
        rss_mb()
    );
    Ok(())
}

fn classes(n: usize, hooked: bool) -> Result<(), DynError> {
    let rt = Rt::new();
    let iface = rt.interface("I").define()?;
    let before = rss_mb();
    let mut kept = Vec::with_capacity(n);
    for i in 0..n {
        let builder = rt.class(&format!("C{i}"));
        let builder = if hooked {
            builder.hook(Serve(iface.clone()))
        } else {
            builder
        };
        kept.push(builder.define()?);
    }
    let per_class = (rss_mb() - before) * 1024.0 * 1024.0 / n as f64;
    let kind = if hooked { "hooked" } else { "plain" };
    println!("{n} {kind} classes: {per_class:.0} bytes per class (RSS, name and handle included)");
    Ok(())
}

fn linked_objects(n: usize) -> Result<(), DynError> {
    let rt = Rt::new();
    let node = rt.class("Node").define()?;
    let mut head = Value::Nil;
    for _ in 0..n {
        head = Value::Object(rt.new_object(&node, head)?);
    }
    let start = Instant::now();
    drop(head);
    println!(
        "{n} objects linked through payloads: drop {:.1} ms",
        ms(start.elapsed())
    );
    Ok(())
}

fn main() -> Result<(), DynError> {
    let case = std::env::args().nth(1).unwrap_or_default();
    let all = case.is_empty();
    if all || case == "class_chain" {
        class_chain(10_000)?;
        class_chain(20_000)?;
    }
    if all || case == "interface_chain" {
        interface_chain(5_000)?;
    }
    if all || case == "methods" {
        many_methods(100_000)?;
    }
    if all || case == "bases" {
        many_bases(100_000)?;
    }
    if all || case == "lookup" {
        lookup_latency(50_000)?;
    }
    if all || case == "reloads" {
        reloads(100_000)?;
    }
    if all || case == "runtimes" {
        runtimes(100_000)?;
    }
    if all || case == "classes" {
        classes(200_000, false)?;
    }
    if all || case == "hooked_classes" {
        classes(200_000, true)?;
    }
    if all || case == "linked" {
        linked_objects(1_000_000)?;
    }
    Ok(())
}
