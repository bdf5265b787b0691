//! Fixtures shared by `benches/dispatch.rs` (criterion) and `benches/ratios.rs` (the quick
//! ratio run), so both measure exactly the same paths.
//!
//! Every path does the same one-line work, `payload + arg`, and returns the engine's
//! `CallResult`; the baseline is a direct call of that work through a Rust `&dyn Trait`.
//! Casts are measured against a `&dyn Trait` call doing a cast's one-line work (compare a
//! type id), which is also exactly what the trivial hook does.
#![allow(dead_code)]

use std::fmt;
use std::hint::black_box;
use std::sync::Arc;

use dynacast::{
    CallResult, CallSite, ClassMethodRef, ClassRef, DynamicCastable, Error, Host, InterfaceRef,
    MethodRef, Object, Runtime, TypeRef,
};
use intertrait::cast::CastRef;
use intertrait::{cast_to, CastFrom, CastFromSync};

/// A host with plain integers, so no path pays for a value representation.
pub struct Bench;

/// The bench host's error (never produced on the measured paths).
#[derive(Debug)]
pub struct BenchError;

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bench error")
    }
}
impl std::error::Error for BenchError {}

impl Host for Bench {
    type Value = i64;
    type Error = BenchError;
    type Context = ();
    type Payload = i64;
}

pub type Obj = Object<Bench>;
pub type Iface = InterfaceRef<Bench>;

/// The one-line work every method body does.
#[inline(always)]
fn work(this: &Obj, args: &[i64]) -> CallResult<Bench> {
    Ok(*this.payload() + args[0])
}

/// The baseline for calls: the same work behind a Rust trait object.
pub trait Work {
    fn work(&self, this: &Obj, args: &[i64], cx: &mut ()) -> CallResult<Bench>;
}

struct Adder;
impl Work for Adder {
    fn work(&self, this: &Obj, args: &[i64], _: &mut ()) -> CallResult<Bench> {
        work(this, args)
    }
}

/// The baseline for casts: a cast's one-line work (compare a type id) behind a trait object.
pub trait Check {
    fn implements(&self, iface: &Iface) -> Result<bool, Error<BenchError>>;
}

struct UidCheck(u64);
impl Check for UidCheck {
    fn implements(&self, iface: &Iface) -> Result<bool, Error<BenchError>> {
        Ok(iface.uid() == self.0)
    }
}

/// The trivial hook: serves `IWork` with `IWorkImpl` (and any wide interface with its
/// implementation), and answers casts by comparing one uid.
pub struct TrivialHook {
    served: Vec<(u64, TypeRef<Bench>)>,
}

impl DynamicCastable<Bench> for TrivialHook {
    fn is_interface_implemented(
        &self,
        _: &Obj,
        iface: &Iface,
        _: bool,
        _: &mut (),
    ) -> Result<bool, Error<BenchError>> {
        Ok(iface.uid() == self.served[0].0)
    }
    fn get_interface_implementation(
        &self,
        _: &Obj,
        iface: &Iface,
        _: &mut (),
    ) -> Result<Option<TypeRef<Bench>>, Error<BenchError>> {
        Ok(self
            .served
            .iter()
            .find(|(uid, _)| *uid == iface.uid())
            .map(|(_, t)| t.clone()))
    }
}

/// intertrait's side: a Rust struct castable from `&dyn CastFrom` to `&dyn Greet`.
pub trait Greet {
    fn greet(&self) -> i64;
}
pub struct Greeter(pub i64);
#[cast_to([sync])]
impl Greet for Greeter {
    fn greet(&self) -> i64 {
        self.0
    }
}

/// Methods in the wide interface used for the cache-size paths.
pub const WIDE: usize = 11_000;

/// How many first resolutions to time on one class that caches `n` methods: few enough
/// that the cache holds about `n` entries throughout and does not cross a growth step
/// (it doubles when it would pass half full), as the per-type cache is built today.
pub fn misses_per_class(n: usize) -> usize {
    // The table holding n entries has the smallest power-of-two size ≥ 2n (at least 8).
    let size = (2 * n).next_power_of_two().max(8);
    (n / 10).min(size / 2 - n).max(1)
}

/// How many polymorphic classes the polymorphic paths rotate through.
pub const POLY: usize = 8;

pub struct Fixture {
    pub rt: Runtime<Bench>,
    pub iwork: Iface,
    pub work: MethodRef<Bench>,
    pub iwide: Iface,
    pub wide: Vec<MethodRef<Bench>>,
    hook_served: Vec<(u64, TypeRef<Bench>)>,
    /// Implements `IWork` in its metadata; also has the virtual method `work`.
    pub static_obj: Obj,
    pub virtual_work: ClassMethodRef<Bench>,
    /// Served by the hook.
    pub hook_obj: Obj,
    /// Eight hooked classes, one instance each.
    pub poly: Vec<Obj>,
    /// A ninth hooked class: misses a call site warmed with `poly` (megamorphic).
    pub mega_obj: Obj,
    pub baseline: Box<dyn Work + Send + Sync>,
    pub check: Box<dyn Check + Send + Sync>,
    /// The hook, called directly: the hook's own work in a hook cast.
    pub hook: Arc<dyn DynamicCastable<Bench>>,
    pub greeter: Box<dyn CastFromSync>,
}

impl Fixture {
    pub fn new() -> Self {
        let rt = Runtime::<Bench>::new();
        let iwork = rt
            .interface("IWork")
            .abstract_method("work", 1)
            .define()
            .unwrap();
        let iwork_impl = rt
            .interface("IWorkImpl")
            .base(&iwork)
            .override_base(&iwork, "work", |call| {
                let (this, args, _) = call.into_parts();
                work(this, args)
            })
            .dynamic_castable_implementation()
            .define()
            .unwrap();
        // The wide interface carries its own defaults and the implementation interface
        // only marks it: a default is then found by slot, in O(1), whatever the method's
        // position. (An `override_base` is found by a linear scan of the implementation
        // interface's override list, which would make a miss cost grow with the method's
        // position instead of measuring the cache.)
        let mut wide_builder = rt.interface("IWide");
        for i in 0..WIDE {
            wide_builder = wide_builder.default_method(&format!("m{i}"), 1, |call| {
                let (this, a, _) = call.into_parts();
                work(this, a)
            });
        }
        let iwide = wide_builder.define().unwrap();
        let iwide_impl = rt
            .interface("IWideImpl")
            .base(&iwide)
            .dynamic_castable_implementation()
            .define()
            .unwrap();
        let hook_served = vec![
            (iwork.uid(), iwork_impl.as_type()),
            (iwide.uid(), iwide_impl.as_type()),
        ];
        let static_class = rt
            .class("Static")
            .implement(&iwork)
            .virtual_method("work", 1, |call| {
                let (this, args, _) = call.into_parts();
                work(this, args)
            })
            .define()
            .unwrap();
        let virtual_work = static_class.virtual_method("work").unwrap();
        let mut fixture = Fixture {
            work: iwork.method("work").unwrap(),
            wide: iwide.methods(),
            static_obj: rt.new_object(&static_class, 1).unwrap(),
            virtual_work,
            hook_obj: rt.new_object(&static_class, 1).unwrap(),
            poly: Vec::new(),
            mega_obj: rt.new_object(&static_class, 1).unwrap(),
            baseline: Box::new(Adder),
            check: Box::new(UidCheck(iwork.uid())),
            hook: Arc::new(TrivialHook {
                served: hook_served.clone(),
            }),
            greeter: Box::new(Greeter(1)),
            hook_served,
            iwork,
            iwide,
            rt,
        };
        let hooked = fixture.hooked_class("Hooked");
        fixture.hook_obj = fixture.rt.new_object(&hooked, 1).unwrap();
        let mega = fixture.hooked_class("Mega");
        fixture.mega_obj = fixture.rt.new_object(&mega, 1).unwrap();
        fixture.poly = (0..POLY)
            .map(|i| {
                let class = fixture.hooked_class(&format!("Poly{i}"));
                fixture.rt.new_object(&class, 1).unwrap()
            })
            .collect();
        fixture
    }

    /// A fresh class served by the trivial hook: its per-type cache starts empty.
    pub fn hooked_class(&self, name: &str) -> ClassRef<Bench> {
        self.rt
            .class(name)
            .hook(TrivialHook {
                served: self.hook_served.clone(),
            })
            .redefine()
            .define()
            .unwrap()
    }

    /// An instance of a fresh hooked class with the first `n` wide methods cached
    /// (`m0` … `m<n-1>`); `m<n>` and after are not.
    pub fn with_cached(&self, n: usize) -> Obj {
        let class = self.hooked_class("Wide");
        let obj = self.rt.new_object(&class, 1).unwrap();
        for m in &self.wide[..n] {
            obj.call(m, &[1], &mut ()).unwrap();
        }
        assert_eq!(class.cached_resolutions(), n);
        obj
    }

    /// Up to 64 cached methods spread over the first `n`, for lookups that do not all
    /// hit one probe chain.
    pub fn spread(&self, n: usize) -> Vec<MethodRef<Bench>> {
        let step = (n / 64).max(1);
        self.wide[..n]
            .iter()
            .step_by(step)
            .take(64)
            .cloned()
            .collect()
    }

    pub fn warm_site(&self, objects: &[Obj]) -> CallSite<Bench> {
        let site = CallSite::new(self.work.clone());
        for o in objects {
            site.call(o, &[1], &mut ()).unwrap();
        }
        site
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

// The measured operations, one per path, shared by both benches.

/// Keeps a result alive without moving it: `black_box(result)` would copy an 88-byte
/// `Result` with 16-byte loads right after the callee's 8-byte stores (a store-forwarding
/// stall of several ns that would hide the differences being measured).
#[inline(always)]
pub fn sink<R>(result: R) {
    black_box(&result);
}

#[inline(always)]
pub fn baseline_call(f: &Fixture) -> CallResult<Bench> {
    black_box(&f.baseline).work(black_box(&f.static_obj), black_box(&[1]), &mut ())
}

#[inline(always)]
pub fn baseline_check(f: &Fixture) -> Result<bool, Error<BenchError>> {
    black_box(&f.check).implements(black_box(&f.iwork))
}

#[inline(always)]
pub fn metadata_cast(f: &Fixture) -> Result<(), Error<BenchError>> {
    black_box(&f.static_obj)
        .cast(black_box(&f.iwork), &mut ())
        .map(|_| ())
}

#[inline(always)]
pub fn hook_cast(f: &Fixture) -> Result<(), Error<BenchError>> {
    black_box(&f.hook_obj)
        .cast(black_box(&f.iwork), &mut ())
        .map(|_| ())
}

#[inline(always)]
pub fn hook_alone(f: &Fixture) -> Result<bool, Error<BenchError>> {
    black_box(&f.hook).is_interface_implemented(
        black_box(&f.hook_obj),
        black_box(&f.iwork),
        true,
        &mut (),
    )
}

#[inline(always)]
pub fn intertrait_cast(f: &Fixture) -> bool {
    let from: &dyn CastFrom = black_box(&*f.greeter);
    black_box(from.cast::<dyn Greet>()).is_some()
}

#[inline(always)]
pub fn static_call(f: &Fixture) -> CallResult<Bench> {
    black_box(&f.static_obj).call(black_box(&f.work), black_box(&[1]), &mut ())
}

#[inline(always)]
pub fn virtual_call(f: &Fixture) -> CallResult<Bench> {
    black_box(&f.static_obj).call_virtual(black_box(&f.virtual_work), black_box(&[1]), &mut ())
}

#[inline(always)]
pub fn cached_hook_dispatch(f: &Fixture, obj: &Obj) -> CallResult<Bench> {
    black_box(obj).call(black_box(&f.work), black_box(&[1]), &mut ())
}

#[inline(always)]
pub fn site_call(site: &CallSite<Bench>, obj: &Obj) -> CallResult<Bench> {
    black_box(site).call(black_box(obj), black_box(&[1]), &mut ())
}

#[inline(always)]
pub fn wide_call(obj: &Obj, method: &MethodRef<Bench>) -> CallResult<Bench> {
    black_box(obj).call(black_box(method), black_box(&[1]), &mut ())
}
