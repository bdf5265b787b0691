//! Call-site inline caches (rule A2): mono → poly → megamorphic transitions, validation
//! against the receiver's class, hook call counts identical to `Object::call`, and
//! correctness when classes are added (including hot reload) after the site is full.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynacast::{
    static_body, CallSite, CallSiteState, ClassRef, DynError, DynHost, DynObject, DynamicCastable,
    InterfaceRef, Runtime, TypeRef, Value, CALL_SITE_ENTRIES,
};

type Rt = Runtime<DynHost>;
type Iface = InterfaceRef<DynHost>;

/// Serves `requested` with `implementation` (or nothing) and counts its calls.
struct CountingHook {
    requested: Iface,
    implementation: Option<TypeRef<DynHost>>,
    get_implementation: Arc<AtomicUsize>,
}

impl DynamicCastable<DynHost> for CountingHook {
    fn is_interface_implemented(
        &self,
        _: &DynObject,
        iface: &Iface,
        _: bool,
        _: &mut (),
    ) -> Result<bool, DynError> {
        Ok(*iface == self.requested)
    }
    fn get_interface_implementation(
        &self,
        _: &DynObject,
        iface: &Iface,
        _: &mut (),
    ) -> Result<Option<TypeRef<DynHost>>, DynError> {
        self.get_implementation.fetch_add(1, Ordering::SeqCst);
        Ok(if *iface == self.requested {
            self.implementation.clone()
        } else {
            None
        })
    }
}

/// `IShape { name() }`, a static helper, a non-virtual helper, and `IShapeImpl`, whose
/// `name` answers "dyn:<class name>", so every result names the class that served it.
struct Fixture {
    rt: Rt,
    shape: Iface,
    shape_impl: Iface,
}

fn fixture() -> Fixture {
    let rt = Rt::new();
    let shape = rt
        .interface("IShape")
        .abstract_method("name", 0)
        .abstract_method("scale", 1)
        .helper("helper", 0, |_| Ok(Value::from("helper")))
        .static_method_body("create", 0, static_body(|_| Ok(Value::Int(3))))
        .define()
        .unwrap();
    let shape_impl = rt
        .interface("IShapeImpl")
        .base(&shape)
        .override_base(&shape, "name", |call| {
            let (this, _, _) = call.into_parts();
            Ok(Value::from(format!("dyn:{}", this.class().name())))
        })
        .override_base(&shape, "scale", |call| {
            let (_, args, _): (_, &[Value], _) = call.into_parts();
            Ok(args[0].clone())
        })
        .dynamic_castable_implementation()
        .define()
        .unwrap();
    Fixture {
        rt,
        shape,
        shape_impl,
    }
}

impl Fixture {
    /// A class served by the hook, with its own counter.
    fn hooked(&self, name: &str) -> (ClassRef<DynHost>, Arc<AtomicUsize>) {
        let counter = Arc::new(AtomicUsize::new(0));
        let class = self
            .rt
            .class(name)
            .hook(CountingHook {
                requested: self.shape.clone(),
                implementation: Some(self.shape_impl.as_type()),
                get_implementation: counter.clone(),
            })
            .define()
            .unwrap();
        (class, counter)
    }

    /// A class implementing `IShape` in its metadata: "static:<name>".
    fn static_class(&self, name: &str) -> ClassRef<DynHost> {
        let answer = format!("static:{name}");
        self.rt
            .class(name)
            .implement(&self.shape)
            .virtual_method("name", 0, move |_| Ok(Value::from(answer.as_str())))
            .virtual_method("scale", 1, |_| Ok(Value::Nil))
            .define()
            .unwrap()
    }

    fn obj(&self, class: &ClassRef<DynHost>) -> DynObject {
        self.rt.new_object(class, Value::Nil).unwrap()
    }

    fn name_site(&self) -> CallSite<DynHost> {
        CallSite::new(self.shape.method("name").unwrap())
    }
}

#[test]
fn an_unused_site_is_empty() {
    let f = fixture();
    let site = f.name_site();
    assert_eq!(site.state(), CallSiteState::Empty);
    assert_eq!(site.cached_classes(), 0);
    assert_eq!(site.method().name(), "name");
}

#[test]
fn goes_monomorphic_then_polymorphic_then_megamorphic() {
    let f = fixture();
    let site = f.name_site();
    let classes: Vec<_> = (0..CALL_SITE_ENTRIES + 2)
        .map(|i| f.hooked(&format!("C{i}")).0)
        .collect();

    let first = f.obj(&classes[0]);
    for _ in 0..3 {
        assert_eq!(
            site.call(&first, &[], &mut ()).unwrap(),
            Value::from("dyn:C0")
        );
        assert_eq!(site.state(), CallSiteState::Monomorphic);
    }
    for (i, class) in classes.iter().enumerate().take(CALL_SITE_ENTRIES).skip(1) {
        let obj = f.obj(class);
        assert_eq!(
            site.call(&obj, &[], &mut ()).unwrap(),
            Value::from(format!("dyn:C{i}"))
        );
        assert_eq!(site.state(), CallSiteState::Polymorphic(i + 1));
    }
    assert_eq!(site.cached_classes(), CALL_SITE_ENTRIES);

    // The ninth class misses a full site: megamorphic, served by the normal path.
    let ninth = f.obj(&classes[CALL_SITE_ENTRIES]);
    assert_eq!(
        site.call(&ninth, &[], &mut ()).unwrap(),
        Value::from(format!("dyn:C{CALL_SITE_ENTRIES}"))
    );
    assert_eq!(site.state(), CallSiteState::Megamorphic);
    assert_eq!(site.cached_classes(), CALL_SITE_ENTRIES);

    // Every class, cached or not, keeps getting its own answer.
    for round in 0..3 {
        for (i, class) in classes.iter().enumerate() {
            let obj = f.obj(class);
            assert_eq!(
                site.call(&obj, &[], &mut ()).unwrap(),
                Value::from(format!("dyn:C{i}")),
                "round {round}, class C{i}"
            );
        }
    }
    assert_eq!(site.state(), CallSiteState::Megamorphic);
    assert_eq!(site.cached_classes(), CALL_SITE_ENTRIES);
}

#[test]
fn a_cached_entry_is_never_used_for_another_class() {
    let f = fixture();
    let site = f.name_site();
    let (hooked, _) = f.hooked("Hooked");
    let plain = f.static_class("Plain");
    // Subclasses inherit everything but are other classes: each gets its own entry.
    let sub = f.rt.class("SubHooked").base(&hooked).define().unwrap();
    let a = f.obj(&hooked);
    let b = f.obj(&plain);
    let c = f.obj(&sub);
    assert_eq!(
        site.call(&a, &[], &mut ()).unwrap(),
        Value::from("dyn:Hooked")
    );
    assert_eq!(
        site.call(&b, &[], &mut ()).unwrap(),
        Value::from("static:Plain")
    );
    assert_eq!(
        site.call(&c, &[], &mut ()).unwrap(),
        Value::from("dyn:SubHooked")
    );
    assert_eq!(
        site.call(&a, &[], &mut ()).unwrap(),
        Value::from("dyn:Hooked")
    );
    assert_eq!(
        site.call(&b, &[], &mut ()).unwrap(),
        Value::from("static:Plain")
    );
    assert_eq!(site.state(), CallSiteState::Polymorphic(3));
}

#[test]
fn hook_calls_are_the_same_as_through_object_call() {
    let f = fixture();
    let site = f.name_site();
    let method = f.shape.method("name").unwrap();
    let (through_site, site_count) = f.hooked("ThroughSite");
    let (through_call, call_count) = f.hooked("ThroughCall");
    for _ in 0..3 {
        for _ in 0..4 {
            let o = f.obj(&through_site);
            assert_eq!(
                site.call(&o, &[], &mut ()).unwrap(),
                Value::from("dyn:ThroughSite")
            );
            let o = f.obj(&through_call);
            assert_eq!(
                o.call(&method, &[], &mut ()).unwrap(),
                Value::from("dyn:ThroughCall")
            );
        }
    }
    // D1: one hook call per (class, method), whichever way the calls came.
    assert_eq!(site_count.load(Ordering::SeqCst), 1);
    assert_eq!(call_count.load(Ordering::SeqCst), 1);
    assert_eq!(through_site.cached_resolutions(), 1);
    assert_eq!(through_call.cached_resolutions(), 1);

    // A site warmed by another class still resolves a new class through its per-type
    // cache: calls made earlier through Object::call are not asked about again.
    let o = f.obj(&through_call);
    assert_eq!(
        site.call(&o, &[], &mut ()).unwrap(),
        Value::from("dyn:ThroughCall")
    );
    assert_eq!(call_count.load(Ordering::SeqCst), 1);
}

#[test]
fn failures_are_not_cached_and_ask_the_hook_every_time() {
    let f = fixture();
    let site = f.name_site();
    let counter = Arc::new(AtomicUsize::new(0));
    let refuses =
        f.rt.class("Refuses")
            .hook(CountingHook {
                requested: f.shape.clone(),
                implementation: None,
                get_implementation: counter.clone(),
            })
            .define()
            .unwrap();
    let obj = f.obj(&refuses);
    for n in 1..=3 {
        let err = site.call(&obj, &[], &mut ()).unwrap_err();
        assert_eq!(err.kind(), "InvalidCast");
        assert_eq!(
            err.to_string(),
            "Unable to cast object of type 'Refuses' to type 'IShape'."
        );
        assert_eq!(counter.load(Ordering::SeqCst), n);
        assert_eq!(site.state(), CallSiteState::Empty);
    }
}

#[test]
fn a_class_without_hook_or_implementation_fails_like_object_call() {
    let f = fixture();
    let site = f.name_site();
    let rock = f.rt.class("Rock").define().unwrap();
    let obj = f.obj(&rock);
    let via_site = site.call(&obj, &[], &mut ()).unwrap_err();
    let via_call = obj
        .call(&f.shape.method("name").unwrap(), &[], &mut ())
        .unwrap_err();
    assert_eq!(via_site.kind(), "InvalidCast");
    assert_eq!(via_site.to_string(), via_call.to_string());
    assert_eq!(site.state(), CallSiteState::Empty);
}

#[test]
fn classes_added_after_the_site_is_full_still_dispatch_correctly() {
    let f = fixture();
    let site = f.name_site();
    for i in 0..CALL_SITE_ENTRIES {
        let (class, _) = f.hooked(&format!("Early{i}"));
        site.call(&f.obj(&class), &[], &mut ()).unwrap();
    }
    assert_eq!(site.state(), CallSiteState::Polymorphic(CALL_SITE_ENTRIES));

    // New types defined after the site filled up: hooked, static, and a hot reload of a
    // cached class's name (a new class with a new uid and a different answer).
    let (late, late_count) = f.hooked("Late");
    let late_static = f.static_class("LateStatic");
    let reloaded =
        f.rt.class("Early0")
            .implement(&f.shape)
            .virtual_method("name", 0, |_| Ok(Value::from("reloaded")))
            .virtual_method("scale", 1, |_| Ok(Value::Nil))
            .redefine()
            .define()
            .unwrap();
    for _ in 0..3 {
        assert_eq!(
            site.call(&f.obj(&late), &[], &mut ()).unwrap(),
            Value::from("dyn:Late")
        );
        assert_eq!(
            site.call(&f.obj(&late_static), &[], &mut ()).unwrap(),
            Value::from("static:LateStatic")
        );
        assert_eq!(
            site.call(&f.obj(&reloaded), &[], &mut ()).unwrap(),
            Value::from("reloaded")
        );
    }
    // The normal path still caches per type: one hook call for the late class.
    assert_eq!(late_count.load(Ordering::SeqCst), 1);
    assert_eq!(site.state(), CallSiteState::Megamorphic);
    assert_eq!(site.cached_classes(), CALL_SITE_ENTRIES);
}

#[test]
fn a_reloaded_class_gets_its_own_entry_while_old_objects_keep_theirs() {
    let f = fixture();
    let site = f.name_site();
    let old = f.static_class("Shape");
    let old_obj = f.obj(&old);
    assert_eq!(
        site.call(&old_obj, &[], &mut ()).unwrap(),
        Value::from("static:Shape")
    );
    let new =
        f.rt.class("Shape")
            .implement(&f.shape)
            .virtual_method("name", 0, |_| Ok(Value::from("v2")))
            .virtual_method("scale", 1, |_| Ok(Value::Nil))
            .redefine()
            .define()
            .unwrap();
    assert_ne!(old.uid(), new.uid());
    assert_eq!(
        site.call(&f.obj(&new), &[], &mut ()).unwrap(),
        Value::from("v2")
    );
    assert_eq!(
        site.call(&old_obj, &[], &mut ()).unwrap(),
        Value::from("static:Shape")
    );
    assert_eq!(site.state(), CallSiteState::Polymorphic(2));
}

#[test]
fn arguments_reach_the_body_and_arity_errors_match_object_call() {
    let f = fixture();
    let scale = f.shape.method("scale").unwrap();
    let site = CallSite::new(scale.clone());
    let (class, _) = f.hooked("Scaled");
    let obj = f.obj(&class);
    assert_eq!(
        site.call(&obj, &[Value::Int(7)], &mut ()).unwrap(),
        Value::Int(7)
    );
    assert_eq!(
        site.call(&obj, &[Value::Int(8)], &mut ()).unwrap(),
        Value::Int(8)
    );
    let via_site = site.call(&obj, &[], &mut ()).unwrap_err();
    let via_call = obj.call(&scale, &[], &mut ()).unwrap_err();
    assert_eq!(via_site.kind(), "ArgumentCount");
    assert_eq!(via_site.to_string(), via_call.to_string());
    assert_eq!(site.state(), CallSiteState::Monomorphic);
}

#[test]
fn helpers_and_statics_are_called_directly_and_never_cached() {
    let f = fixture();
    let (class, counter) = f.hooked("Helped");
    let obj = f.obj(&class);
    let helper = CallSite::new(f.shape.method("helper").unwrap());
    let create = CallSite::new(f.shape.method("create").unwrap());
    assert_eq!(
        helper.call(&obj, &[], &mut ()).unwrap(),
        Value::from("helper")
    );
    assert_eq!(create.call(&obj, &[], &mut ()).unwrap(), Value::Int(3));
    assert_eq!(helper.state(), CallSiteState::Empty);
    assert_eq!(create.state(), CallSiteState::Empty);
    assert_eq!(counter.load(Ordering::SeqCst), 0);
}

#[test]
fn racing_threads_fill_one_entry_per_class() {
    let f = fixture();
    let site = Arc::new(f.name_site());
    let classes: Vec<_> = (0..4).map(|i| f.hooked(&format!("Race{i}"))).collect();
    let objects: Vec<_> = classes.iter().map(|(c, _)| f.obj(c)).collect();
    std::thread::scope(|s| {
        for t in 0..2 {
            let site = &site;
            let objects = &objects;
            s.spawn(move || {
                for round in 0..200 {
                    let i = (round + t) % objects.len();
                    assert_eq!(
                        site.call(&objects[i], &[], &mut ()).unwrap(),
                        Value::from(format!("dyn:Race{i}"))
                    );
                }
            });
        }
    });
    // No duplicates: four classes, four entries.
    assert_eq!(site.state(), CallSiteState::Polymorphic(4));
    for (class, counter) in &classes {
        // D1 under a race: the hook may run more than once, but one answer is kept.
        assert!(counter.load(Ordering::SeqCst) >= 1);
        assert_eq!(class.cached_resolutions(), 1);
    }
}

/// A host whose values are zero-sized, so an argument slice can have `usize::MAX` elements:
/// the one length that matches `MethodRef`'s "not virtual" sentinel.
struct UnitHost;

impl dynacast::Host for UnitHost {
    type Value = ();
    type Error = dynacast::HostError;
    type Context = ();
    type Payload = ();
}

#[test]
fn non_virtual_members_called_with_usize_max_arguments_get_the_arity_error() {
    let rt = Runtime::<UnitHost>::new();
    let iface = rt
        .interface("IUnit")
        .helper("help", 0, |_| Ok(()))
        .static_method_body("make", 0, static_body::<UnitHost, _>(|_| Ok(())))
        .define()
        .unwrap();
    let class = rt.class("Unit").implement(&iface).define().unwrap();
    let obj = rt.new_object(&class, ()).unwrap();
    let args: &[()] = &[(); usize::MAX];
    for name in ["help", "make"] {
        let method = iface.method(name).unwrap();
        let site = CallSite::new(method.clone());
        for err in [
            obj.call(&method, args, &mut ()).unwrap_err(),
            site.call(&obj, args, &mut ()).unwrap_err(),
        ] {
            assert_eq!(err.kind(), "ArgumentCount");
            assert_eq!(
                err.to_string(),
                format!(
                    "Method 'IUnit.{name}' takes 0 argument(s) but was called with {}.",
                    usize::MAX
                )
            );
        }
        assert_eq!(site.state(), CallSiteState::Empty);
    }
}
