//! Live reload (README "Live reload"): flushing a class's dispatch cache, re-defining an
//! unchanged type, and the memory bound over many reload cycles.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use dynacast::{
    CallSite, CallSiteState, DynError, DynHost, DynObject, DynamicCastable, InterfaceRef, Runtime,
    TypeRef, Value, CALL_SITE_ENTRIES,
};

type Iface = InterfaceRef<DynHost>;

// ---------------------------------------------------------------------------------------
// A live-bytes counter: net heap bytes allocated by this thread (allocations minus frees).

struct LiveBytes;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    let _ = LIVE.try_with(|n| n.set(n.get() + delta));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// only addition is a thread-local counter, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded as received; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded as received; `ptr` came from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

// ---------------------------------------------------------------------------------------
// Fixtures.

/// Answers every dispatch question with `answers[choice]`, counting the questions.
struct Switchable {
    answers: Vec<TypeRef<DynHost>>,
    choice: Arc<AtomicUsize>,
    asked: Arc<AtomicUsize>,
}

impl DynamicCastable<DynHost> for Switchable {
    fn get_interface_implementation(
        &self,
        _: &DynObject,
        _: &Iface,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .answers
            .get(self.choice.load(Ordering::SeqCst))
            .cloned())
    }
}

impl Switchable {
    /// A hook answering `answers[choice]` (choice 0 at first), and its (choice, asked)
    /// counters.
    fn new(answers: Vec<TypeRef<DynHost>>) -> (Self, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (choice, asked) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let hook = Switchable {
            answers,
            choice: choice.clone(),
            asked: asked.clone(),
        };
        (hook, choice, asked)
    }
}

/// `IGreet` (`hello`, `bye`), two marked implementations answering "old …" and "new …",
/// and a class `Proxy` whose hook answers with the one `choice` picks.
struct Fixture {
    rt: Runtime<DynHost>,
    greet: Iface,
    proxy: dynacast::ClassRef<DynHost>,
    choice: Arc<AtomicUsize>,
    asked: Arc<AtomicUsize>,
}

fn implementation(rt: &Runtime<DynHost>, greet: &Iface, name: &str, word: &'static str) -> Iface {
    rt.interface(name)
        .base(greet)
        .override_base(greet, "hello", move |_| {
            Ok(Value::from(format!("{word} hello")))
        })
        .override_base(greet, "bye", move |_| {
            Ok(Value::from(format!("{word} bye")))
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap()
}

fn fixture() -> Fixture {
    let rt = Runtime::<DynHost>::with_live_reload();
    let greet = rt
        .interface("IGreet")
        .abstract_method("hello", 0)
        .abstract_method("bye", 0)
        .define()
        .unwrap();
    let old = implementation(&rt, &greet, "IGreetOld", "old");
    let new = implementation(&rt, &greet, "IGreetNew", "new");
    let (hook, choice, asked) = Switchable::new(vec![old.as_type(), new.as_type()]);
    let proxy = rt.class("Proxy").hook(hook).define().unwrap();
    Fixture {
        rt,
        greet,
        proxy,
        choice,
        asked,
    }
}

fn call(obj: &DynObject, iface: &Iface, method: &str) -> Value {
    obj.call(&iface.method(method).unwrap(), &[], &mut ())
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Point 1: flush.

#[test]
fn a_flush_makes_the_next_call_ask_the_hook_again() {
    let f = fixture();
    let obj = f.rt.new_object(&f.proxy, Value::Nil).unwrap();
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    assert_eq!(
        f.asked.load(Ordering::SeqCst),
        1,
        "cached after the first call"
    );

    // The hook's answer changes: without a flush, the cached resolution still serves.
    f.choice.store(1, Ordering::SeqCst);
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    assert_eq!(f.asked.load(Ordering::SeqCst), 1);

    f.proxy.flush().unwrap();
    assert_eq!(f.proxy.cached_resolutions(), 0);
    // Both methods now follow the new answer: no object runs one old and one new method.
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("new hello"));
    assert_eq!(call(&obj, &f.greet, "bye"), Value::from("new bye"));
    assert_eq!(
        f.asked.load(Ordering::SeqCst),
        3,
        "one question per method after the flush"
    );
    // Cached again, in the flushable table.
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("new hello"));
    assert_eq!(call(&obj, &f.greet, "bye"), Value::from("new bye"));
    assert_eq!(f.asked.load(Ordering::SeqCst), 3);
    assert_eq!(f.proxy.cached_resolutions(), 2);
    let implementation = f
        .proxy
        .cached_implementation(&f.greet.method("bye").unwrap())
        .unwrap();
    assert_eq!(implementation.name(), "IGreetNew");
}

#[test]
fn repeated_flushes_keep_asking_once_per_method() {
    let f = fixture();
    let obj = f.rt.new_object(&f.proxy, Value::Nil).unwrap();
    for round in 1..=5 {
        f.choice.store(round % 2, Ordering::SeqCst);
        let word = if round % 2 == 1 { "new" } else { "old" };
        for _ in 0..3 {
            assert_eq!(
                call(&obj, &f.greet, "hello"),
                Value::from(format!("{word} hello"))
            );
            assert_eq!(
                call(&obj, &f.greet, "bye"),
                Value::from(format!("{word} bye"))
            );
        }
        assert_eq!(f.asked.load(Ordering::SeqCst), 2 * round);
        f.proxy.flush().unwrap();
    }
}

#[test]
fn a_flushed_cache_grows_and_keeps_its_entries() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let mut b = rt.interface("IMany");
    for i in 0..40 {
        b = b.abstract_method(&format!("m{i}"), 0);
    }
    let many = b.define().unwrap();
    let mut b = rt
        .interface("IManyImpl")
        .base(&many)
        .dynamic_castable_implementation();
    for i in 0..40 {
        b = b.override_base(&many, &format!("m{i}"), move |_| Ok(Value::Int(i)));
    }
    let answer = b.define().unwrap();
    let (hook, _, asked) = Switchable::new(vec![answer.as_type()]);
    let class = rt.class("Many").hook(hook).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    class.flush().unwrap(); // before anything is cached: the next tables are flushable ones
    for round in 0..2 {
        for i in 0..40 {
            assert_eq!(call(&obj, &many, &format!("m{i}")), Value::Int(i));
        }
        assert_eq!(asked.load(Ordering::SeqCst), 40, "round {round}");
    }
    assert_eq!(class.cached_resolutions(), 40);
    // Growth retired the smaller tables; single-threaded, each was freed at once.
    assert_eq!(class.tables_awaiting_reclamation(), 0);
}

#[test]
fn a_body_may_flush_its_own_class() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let work = rt
        .interface("IWork")
        .abstract_method("run", 0)
        .define()
        .unwrap();
    let work_impl = rt
        .interface("IWorkImpl")
        .base(&work)
        .override_base(&work, "run", |call| {
            // Flushes the cache this very call was served from, then returns.
            call.this().class().flush().unwrap();
            Ok(Value::from("ran"))
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let (hook, _, asked) = Switchable::new(vec![work_impl.as_type()]);
    let class = rt.class("Worker").hook(hook).define().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    for n in 1..=3 {
        assert_eq!(call(&obj, &work, "run"), Value::from("ran"));
        assert_eq!(asked.load(Ordering::SeqCst), n);
    }
}

#[test]
fn a_call_in_flight_finishes_with_the_body_it_started_with() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let work = rt
        .interface("IWork")
        .abstract_method("run", 0)
        .define()
        .unwrap();
    let (entered, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (e, r) = (entered.clone(), release.clone());
    let slow = rt
        .interface("ISlow")
        .base(&work)
        .override_base(&work, "run", move |_| {
            e.wait();
            r.wait(); // the other thread flushes (twice) meanwhile
            Ok(Value::from("slow"))
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let fast = rt
        .interface("IFast")
        .base(&work)
        .override_base(&work, "run", |_| Ok(Value::from("fast")))
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    let (hook, choice, asked) = Switchable::new(vec![slow.as_type(), fast.as_type()]);
    let class = rt.class("Worker").hook(hook).define().unwrap();
    // Flushed once first, so that the call below is served from a flushable table.
    class.flush().unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    let (obj2, work2) = (obj.clone(), work.clone());
    let in_flight = thread::spawn(move || call(&obj2, &work2, "run"));
    entered.wait();
    choice.store(1, Ordering::SeqCst);
    class.flush().unwrap();
    assert_eq!(call(&obj, &work, "run"), Value::from("fast"));
    class.flush().unwrap();
    release.wait();
    assert_eq!(in_flight.join().unwrap(), Value::from("slow"));
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    // The in-flight reader held no table (it cloned its resolution), so nothing waits.
    assert_eq!(class.tables_awaiting_reclamation(), 0);
}

#[test]
fn runtime_flush_reaches_every_hooked_class_even_a_replaced_one() {
    let f = fixture();
    let obj = f.rt.new_object(&f.proxy, Value::Nil).unwrap();
    // A redefinition replaces `Proxy`'s name; `obj` keeps the old class, which still flushes.
    let replacement =
        f.rt.class("Proxy")
            .redefine()
            .hook(Switchable::new(vec![]).0)
            .define()
            .unwrap();
    assert_ne!(replacement, f.proxy);
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    f.choice.store(1, Ordering::SeqCst);
    f.rt.flush().unwrap();
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("new hello"));
    assert_eq!(f.asked.load(Ordering::SeqCst), 2);
}

#[test]
fn a_call_site_misses_after_a_flush() {
    let f = fixture();
    let obj = f.rt.new_object(&f.proxy, Value::Nil).unwrap();
    let site = CallSite::new(f.greet.method("hello").unwrap());
    let via_site = || site.call(&obj, &[], &mut ()).unwrap();
    assert_eq!(
        [via_site(), via_site()],
        ["old hello", "old hello"].map(Value::from)
    );
    assert_eq!(f.asked.load(Ordering::SeqCst), 1);
    f.choice.store(1, Ordering::SeqCst);
    f.proxy.flush().unwrap();
    assert_eq!(
        [via_site(), via_site()],
        ["new hello", "new hello"].map(Value::from)
    );
    assert_eq!(f.asked.load(Ordering::SeqCst), 2);
    // The stale entry stays (a reader may be using it) and misses; a flushed class's
    // resolutions are clones out of tables a flush frees, which sites do not keep: the
    // class's own cache serves the site from now on.
    assert_eq!(site.state(), CallSiteState::Monomorphic);
}

#[test]
fn a_site_serves_each_flush_s_answer_over_more_flushes_than_it_has_entries() {
    let f = fixture();
    let obj = f.rt.new_object(&f.proxy, Value::Nil).unwrap();
    let site = CallSite::new(f.greet.method("hello").unwrap());
    let expected = ["old hello", "new hello"].map(Value::from);
    for round in 0..=CALL_SITE_ENTRIES + 2 {
        f.choice.store(round % 2, Ordering::SeqCst);
        f.proxy.flush().unwrap();
        for _ in 0..2 {
            assert_eq!(site.call(&obj, &[], &mut ()).unwrap(), expected[round % 2]);
        }
        // Once per flush: the site never serves an answer from before it.
        assert_eq!(f.asked.load(Ordering::SeqCst), round + 1);
    }
    assert_eq!(site.state(), CallSiteState::Empty);
}

/// Memory over 10,000 flush-and-call cycles with live objects is flat: the live heap bytes
/// after 10,000 cycles equal those after the first 100 (README "Live reload").
#[test]
fn memory_is_flat_over_ten_thousand_flushes() {
    let f = fixture();
    let objects: Vec<DynObject> = (0..10)
        .map(|i| f.rt.new_object(&f.proxy, Value::Int(i)).unwrap())
        .collect();
    let (hello, bye) = (
        f.greet.method("hello").unwrap(),
        f.greet.method("bye").unwrap(),
    );
    let cycle = |n: usize| {
        f.choice.store(n % 2, Ordering::SeqCst);
        f.proxy.flush().unwrap();
        for obj in &objects {
            obj.call(&hello, &[], &mut ()).unwrap();
            obj.call(&bye, &[], &mut ()).unwrap();
        }
    };
    for n in 0..100 {
        cycle(n);
    }
    let after_warm_up = live_bytes();
    for n in 100..10_000 {
        cycle(n);
    }
    assert_eq!(live_bytes() - after_warm_up, 0, "live heap bytes grew");
    assert_eq!(f.asked.load(Ordering::SeqCst), 2 * 10_000);
    assert_eq!(f.proxy.tables_awaiting_reclamation(), 0);
}

// ---------------------------------------------------------------------------------------
// Point 3: objects follow a redefined class.

/// `IShape` (`area`) and a class `Square` whose area is `factor × side²` (side: payload).
fn square(
    rt: &Runtime<DynHost>,
    shape: &Iface,
    factor: i64,
    old: Option<&dynacast::ClassRef<DynHost>>,
) -> dynacast::ClassRef<DynHost> {
    let mut b = rt.class("Square");
    if let Some(old) = old {
        b = b.redefine().take_over(old);
    }
    b.implement(shape)
        .virtual_method("area", 0, move |call| {
            let side = call.payload().as_int().unwrap_or(0);
            Ok(Value::Int(factor * side * side))
        })
        .define()
        .unwrap()
}

fn shape(rt: &Runtime<DynHost>) -> Iface {
    rt.interface("IShape")
        .abstract_method("area", 0)
        .define()
        .unwrap()
}

#[test]
fn taken_over_objects_dispatch_as_the_new_class_and_keep_their_payload() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let shape = shape(&rt);
    let v1 = square(&rt, &shape, 1, None);
    let obj = rt.new_object(&v1, Value::Int(3)).unwrap();
    assert_eq!(call(&obj, &shape, "area"), Value::Int(9));
    let v2 = square(&rt, &shape, 10, Some(&v1));
    assert_eq!(call(&obj, &shape, "area"), Value::Int(90));
    assert_eq!(obj.payload(), &Value::Int(3));
    assert_eq!(obj.class(), &v1, "the class it was created with");
    assert_eq!(obj.current_class(), v2);
    assert_eq!(v1.successor(), Some(v2.clone()));
    assert_eq!(v2.successor(), None);
    // Casts follow too: the object is an instance of v2 now, and no longer of v1.
    assert!(obj.is_instance_of(&v2, &mut ()).unwrap());
    assert!(!obj.is_instance_of(&v1, &mut ()).unwrap());
    assert!(obj.is_instance_of(&shape, &mut ()).unwrap());
    assert!(obj.is_instance_of_static(&shape));
    assert_eq!(
        obj.cast(&shape, &mut ())
            .unwrap()
            .call(&shape.method("area").unwrap(), &[], &mut ())
            .unwrap(),
        Value::Int(90)
    );
    // Virtual calls follow the new vtable, and calls by name the new class's methods.
    assert_eq!(
        obj.call_by_name("area", &[], &mut ()).unwrap(),
        Value::Int(90)
    );
    let area = v2.virtual_method("area").unwrap();
    assert_eq!(
        obj.call_virtual(&area, &[], &mut ()).unwrap(),
        Value::Int(90)
    );

    // A third version takes over the second: the first version's objects follow it
    // directly, and so do the second's.
    let obj2 = rt.new_object(&v2, Value::Int(2)).unwrap();
    let v3 = square(&rt, &shape, 100, Some(&v2));
    assert_eq!(call(&obj, &shape, "area"), Value::Int(900));
    assert_eq!(call(&obj2, &shape, "area"), Value::Int(400));
    assert_eq!(v1.successor(), Some(v3.clone()));
    assert_eq!(v2.successor(), Some(v3.clone()));

    // Taking over a version that was already taken over is refused, and defines nothing.
    let err = rt
        .class("Square2")
        .take_over(&v1)
        .implement(&shape)
        .virtual_method("area", 0, |_| Ok(Value::Int(0)))
        .define()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Could not load type 'Square2': 'Square' was already taken over by a newer 'Square' (#{}): take over the newest version",
            v3.uid()
        )
    );
    assert_eq!(rt.lookup("Square2"), None);
    assert_eq!(call(&obj, &shape, "area"), Value::Int(900));
}

#[test]
fn take_over_refuses_abstract_classes_the_root_and_foreign_classes() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let shape = shape(&rt);
    let v1 = square(&rt, &shape, 1, None);
    let err = rt
        .class("Abstract")
        .abstract_class()
        .take_over(&v1)
        .define()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not load type 'Abstract': an abstract class cannot take over the objects of 'Square'"
    );
    let err = rt
        .class("Root")
        .take_over(rt.object_class())
        .define()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not load type 'Root': cannot take over the root class 'object'"
    );
    let other = Runtime::<DynHost>::with_live_reload();
    let err = other.class("Square").take_over(&v1).define().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not load type 'Square': cannot take over 'Square', a class of another runtime"
    );
    assert_eq!(v1.successor(), None);
}

#[test]
fn an_object_whose_new_class_drops_an_interface_follows_the_new_rules() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let shape = shape(&rt);
    let v1 = square(&rt, &shape, 1, None);
    let obj = rt.new_object(&v1, Value::Int(3)).unwrap();
    obj.cast(&shape, &mut ()).unwrap();
    let area = shape.method("area").unwrap();
    let _v2 = rt
        .class("Square")
        .redefine()
        .take_over(&v1)
        .define()
        .unwrap();
    assert!(!obj.is_instance_of(&shape, &mut ()).unwrap());
    let err = obj.call(&area, &[], &mut ()).unwrap_err();
    assert_eq!(err.kind(), "InvalidCast");
    assert_eq!(
        err.to_string(),
        obj.cast(&shape, &mut ()).unwrap_err().to_string(),
        "the call fails exactly as a cast would"
    );
}

#[test]
fn a_taken_over_object_asks_the_new_class_hook_not_the_old_cache() {
    let f = fixture();
    let obj = f.rt.new_object(&f.proxy, Value::Nil).unwrap();
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    assert_eq!(f.asked.load(Ordering::SeqCst), 1);
    let new_impl = f.rt.lookup("IGreetNew").unwrap();
    let (new_hook, _, asked_new) = Switchable::new(vec![new_impl]);
    let v2 =
        f.rt.class("Proxy")
            .redefine()
            .take_over(&f.proxy)
            .hook(new_hook)
            .define()
            .unwrap();
    for _ in 0..3 {
        assert_eq!(call(&obj, &f.greet, "hello"), Value::from("new hello"));
        assert_eq!(call(&obj, &f.greet, "bye"), Value::from("new bye"));
    }
    assert_eq!(
        f.asked.load(Ordering::SeqCst),
        1,
        "the old hook is not asked again"
    );
    assert_eq!(
        asked_new.load(Ordering::SeqCst),
        2,
        "the new hook: once per method"
    );
    assert_eq!(v2.cached_resolutions(), 2);
}

#[test]
fn a_call_site_follows_a_takeover() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let shape = shape(&rt);
    let v1 = square(&rt, &shape, 1, None);
    let obj = rt.new_object(&v1, Value::Int(3)).unwrap();
    let site = CallSite::new(shape.method("area").unwrap());
    assert_eq!(site.call(&obj, &[], &mut ()).unwrap(), Value::Int(9));
    assert_eq!(site.call(&obj, &[], &mut ()).unwrap(), Value::Int(9));
    let _v2 = square(&rt, &shape, 10, Some(&v1));
    assert_eq!(site.call(&obj, &[], &mut ()).unwrap(), Value::Int(90));
    assert_eq!(site.call(&obj, &[], &mut ()).unwrap(), Value::Int(90));
}

#[test]
fn a_call_in_flight_finishes_on_the_class_it_started_with() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let shape = shape(&rt);
    let (entered, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (e, r) = (entered.clone(), release.clone());
    let v1 = rt
        .class("Square")
        .implement(&shape)
        .virtual_method("area", 0, move |_| {
            e.wait();
            r.wait(); // two takeovers happen meanwhile
            Ok(Value::from("v1"))
        })
        .define()
        .unwrap();
    let obj = rt.new_object(&v1, Value::Nil).unwrap();
    let (obj2, shape2) = (obj.clone(), shape.clone());
    let in_flight = thread::spawn(move || call(&obj2, &shape2, "area"));
    entered.wait();
    let v2 = rt
        .class("Square")
        .redefine()
        .take_over(&v1)
        .implement(&shape)
        .virtual_method("area", 0, |_| Ok(Value::from("v2")))
        .define()
        .unwrap();
    assert_eq!(call(&obj, &shape, "area"), Value::from("v2"));
    let _v3 = rt
        .class("Square")
        .redefine()
        .take_over(&v2)
        .implement(&shape)
        .virtual_method("area", 0, |_| Ok(Value::from("v3")))
        .define()
        .unwrap();
    drop(v2);
    assert_eq!(call(&obj, &shape, "area"), Value::from("v3"));
    release.wait();
    assert_eq!(in_flight.join().unwrap(), Value::from("v1"));
}

/// Counts live instances: one per closure of every class version defined below.
struct Alive(Arc<AtomicUsize>);
impl Alive {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Alive(count.clone())
    }
}
impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// 10,000 takeovers with live objects of the first version and of a middle one: every
/// intermediate version is freed (its body's captured value is dropped), and the live heap
/// is flat (README "Live reload").
#[test]
fn memory_is_flat_over_ten_thousand_takeovers() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let shape = shape(&rt);
    let alive = Arc::new(AtomicUsize::new(0));
    let version = |n: i64, old: Option<&dynacast::ClassRef<DynHost>>| {
        let mut b = rt.class("Square");
        if let Some(old) = old {
            b = b.redefine().take_over(old);
        }
        let token = Alive::new(&alive);
        b.implement(&shape)
            .virtual_method("area", 0, move |_| {
                let _ = &token;
                Ok(Value::Int(n))
            })
            .define()
            .unwrap()
    };
    let mut newest = version(0, None);
    let first: Vec<DynObject> = (0..10)
        .map(|i| rt.new_object(&newest, Value::Int(i)).unwrap())
        .collect();
    let mut middle = Vec::new();
    let area = shape.method("area").unwrap();
    let mut cycle = |n: i64, newest: &mut dynacast::ClassRef<DynHost>| {
        *newest = version(n, Some(newest));
        if n == 50 {
            middle.push(rt.new_object(newest, Value::Nil).unwrap());
        }
        for obj in first.iter().chain(&middle) {
            assert_eq!(obj.call(&area, &[], &mut ()).unwrap(), Value::Int(n));
        }
    };
    for n in 1..=100 {
        cycle(n, &mut newest);
    }
    let after_warm_up = live_bytes();
    for n in 101..=10_000 {
        cycle(n, &mut newest);
    }
    assert_eq!(live_bytes() - after_warm_up, 0, "live heap bytes grew");
    // Alive: the first version (its objects), the middle one (its object) and the newest;
    // single-threaded, each replaced version's grace period is over at the next takeover.
    assert_eq!(alive.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------
// Point 2: same definition, same type.

#[test]
fn an_unchanged_interface_is_the_registered_one_with_or_without_redefine() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let describe = dynacast::body(|_| Ok(Value::from("a shape")));
    let define = |redefine: bool| {
        let b = rt
            .interface("IShape")
            .abstract_method("area", 0)
            .default_method_body("describe", 0, describe.clone());
        if redefine { b.redefine() } else { b }.define()
    };
    let first = define(false).unwrap();
    let class = rt
        .class("Square")
        .implement(&first)
        .virtual_method("area", 0, |_| Ok(Value::Int(4)))
        .define()
        .unwrap();
    let obj = rt.new_object(&class, Value::Nil).unwrap();
    assert_eq!(define(false).unwrap(), first);
    let again = define(true).unwrap();
    assert_eq!(again, first);
    assert_eq!(rt.lookup("IShape"), Some(first.as_type()));
    // Old objects keep casting to it, and old method handles work on them.
    assert!(obj.is_instance_of(&again, &mut ()).unwrap());
    assert_eq!(call(&obj, &again, "describe"), Value::from("a shape"));

    // The same text with a new closure is new code: a new type (with redefine) …
    let changed = rt
        .interface("IShape")
        .redefine()
        .abstract_method("area", 0)
        .default_method("describe", 0, |_| Ok(Value::from("a shape")))
        .define()
        .unwrap();
    assert_ne!(changed, first);
    // … and an error without it.
    let err = rt
        .interface("IShape")
        .abstract_method("area", 0)
        .default_method("describe", 0, |_| Ok(Value::from("a shape")))
        .define()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Could not load type 'IShape': a type named 'IShape' is already defined"
    );
    // A different shape (another arity) is new as well.
    let other = rt
        .interface("IShape")
        .redefine()
        .abstract_method("area", 1)
        .default_method_body("describe", 0, describe.clone())
        .define()
        .unwrap();
    assert_ne!(other, changed);
}

#[test]
fn an_unchanged_class_is_the_registered_one_and_keeps_its_cache() {
    let f = fixture();
    let obj = f.rt.new_object(&f.proxy, Value::Nil).unwrap();
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    assert_eq!(f.asked.load(Ordering::SeqCst), 1);
    let hook: Arc<dyn DynamicCastable<DynHost>> = Arc::new(Switchable {
        answers: vec![f.rt.lookup("IGreetNew").unwrap()],
        choice: Arc::new(AtomicUsize::new(0)),
        asked: f.asked.clone(),
    });
    let area = dynacast::body(|_| Ok(Value::Int(1)));
    let define = |redefine: bool, hook: &Arc<dyn DynamicCastable<DynHost>>| {
        let b =
            f.rt.class("Shared")
                .shared_hook(hook.clone())
                .virtual_method_body("area", 0, area.clone());
        if redefine { b.redefine() } else { b }.define()
    };
    let shared = define(false, &hook).unwrap();
    let shared_obj = f.rt.new_object(&shared, Value::Nil).unwrap();
    assert_eq!(
        call(&shared_obj, &f.greet, "hello"),
        Value::from("new hello")
    );
    assert_eq!(f.asked.load(Ordering::SeqCst), 2);
    assert_eq!(define(false, &hook).unwrap(), shared);
    assert_eq!(define(true, &hook).unwrap(), shared);
    // The same class, so its cache is kept: no new question.
    assert_eq!(
        call(&shared_obj, &f.greet, "hello"),
        Value::from("new hello")
    );
    assert_eq!(f.asked.load(Ordering::SeqCst), 2);
    assert_eq!(shared.cached_resolutions(), 1);

    // Another hook (even an equal one) makes another class.
    let other_hook: Arc<dyn DynamicCastable<DynHost>> = Arc::new(Switchable {
        answers: vec![f.rt.lookup("IGreetNew").unwrap()],
        choice: Arc::new(AtomicUsize::new(0)),
        asked: f.asked.clone(),
    });
    let replaced = define(true, &other_hook).unwrap();
    assert_ne!(replaced, shared);

    // A same definition that asks to take over the registered class is that class: there
    // is nothing to take over.
    let same =
        f.rt.class("Shared")
            .redefine()
            .take_over(&replaced)
            .shared_hook(other_hook.clone())
            .virtual_method_body("area", 0, area.clone())
            .define()
            .unwrap();
    assert_eq!(same, replaced);
    assert_eq!(replaced.successor(), None);
}

/// Casts and calls on four threads while the main thread flushes and takes over 200 times:
/// every answer is one a version gave (never a mix, never a crash), and once the last
/// takeover has returned, every path (cast, call, call site) serves the newest version.
/// (While a takeover runs, a call site may still serve the previous version for a moment
/// after a direct call has followed the new one: README "Live reload".)
#[test]
fn casts_and_calls_racing_with_flushes_and_takeovers() {
    let rt = Runtime::<DynHost>::with_live_reload();
    let shape = shape(&rt);
    let first = square(&rt, &shape, 1, None);
    let objects: Vec<DynObject> = (0..4)
        .map(|_| rt.new_object(&first, Value::Int(1)).unwrap())
        .collect();
    let done = Arc::new(Barrier::new(objects.len() + 1));
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = objects
        .iter()
        .map(|obj| {
            let (obj, shape) = (obj.clone(), shape.clone());
            let (done, finished) = (done.clone(), finished.clone());
            thread::spawn(move || {
                let area = shape.method("area").unwrap();
                let site = CallSite::new(area.clone());
                let calls = || {
                    assert!(obj.is_instance_of(&shape, &mut ()).unwrap());
                    [
                        obj.call(&area, &[], &mut ()).unwrap(),
                        site.call(&obj, &[], &mut ()).unwrap(),
                        obj.cast(&shape, &mut ())
                            .unwrap()
                            .call(&area, &[], &mut ())
                            .unwrap(),
                    ]
                };
                let mut rounds = 0;
                while !finished.load(Ordering::SeqCst) || rounds < 100 {
                    for value in calls() {
                        assert!(
                            matches!(value, Value::Int(1..=200)),
                            "not a version's answer: {value:?}"
                        );
                    }
                    rounds += 1;
                }
                done.wait();
                calls()
            })
        })
        .collect();
    let mut newest = first;
    for n in 2..=200 {
        newest = square(&rt, &shape, n, Some(&newest));
        rt.flush().unwrap();
    }
    finished.store(true, Ordering::SeqCst);
    done.wait();
    for worker in workers {
        assert_eq!(
            worker.join().unwrap(),
            [Value::Int(200), Value::Int(200), Value::Int(200)]
        );
    }
}

/// Panics on the first dispatch question after `armed` is set, then answers `answer`.
struct PanicsOnce {
    answer: TypeRef<DynHost>,
    armed: Arc<std::sync::atomic::AtomicBool>,
    asked: Arc<AtomicUsize>,
}

impl DynamicCastable<DynHost> for PanicsOnce {
    fn get_interface_implementation(
        &self,
        _: &DynObject,
        _: &Iface,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if self.armed.swap(false, Ordering::SeqCst) {
            panic!("hook panics on purpose");
        }
        Ok(Some(self.answer.clone()))
    }
}

#[test]
fn a_hook_panicking_after_a_flush_leaves_the_cache_usable() {
    let f = fixture();
    let (armed, asked) = (
        Arc::new(std::sync::atomic::AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let class =
        f.rt.class("Fragile")
            .hook(PanicsOnce {
                answer: f.rt.lookup("IGreetOld").unwrap(),
                armed: armed.clone(),
                asked: asked.clone(),
            })
            .define()
            .unwrap();
    let obj = f.rt.new_object(&class, Value::Nil).unwrap();
    assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    class.flush().unwrap();
    armed.store(true, Ordering::SeqCst);
    let hello = f.greet.method("hello").unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        obj.call(&hello, &[], &mut ())
    }));
    assert!(panicked.is_err());
    assert_eq!(
        class.cached_resolutions(),
        0,
        "a panicking hook publishes nothing"
    );
    for _ in 0..2 {
        assert_eq!(call(&obj, &f.greet, "hello"), Value::from("old hello"));
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        3,
        "first call, the panic, the retry"
    );
    assert_eq!(class.cached_resolutions(), 1);
}

#[test]
fn a_runtime_without_live_reload_refuses_flushes_and_takeovers() {
    let rt = Runtime::<DynHost>::new();
    assert!(!rt.has_live_reload());
    let shape = shape(&rt);
    let v1 = square(&rt, &shape, 1, None);
    assert_eq!(
        v1.flush().unwrap_err().to_string(),
        "Cannot flush 'Square': live reload is not enabled; make its Runtime with Runtime::with_live_reload()."
    );
    assert_eq!(
        rt.flush().unwrap_err().to_string(),
        format!(
            "Cannot flush 'Runtime#{}': live reload is not enabled; make its Runtime with Runtime::with_live_reload().",
            rt.id()
        )
    );
    let err = rt
        .class("Square")
        .redefine()
        .take_over(&v1)
        .implement(&shape)
        .virtual_method("area", 0, |_| Ok(Value::Int(2)))
        .define()
        .unwrap_err();
    assert_eq!(err.kind(), "TypeLoad");
    assert_eq!(
        err.to_string(),
        "Could not load type 'Square': cannot take over the objects of 'Square': live reload is not enabled (make the Runtime with Runtime::with_live_reload())"
    );
    // Nothing was defined: the name still gives the first class.
    assert_eq!(rt.lookup("Square"), Some(v1.as_type()));
}
