//! Parity with the Rust builders (point 8): generic interfaces defined and instantiated from
//! Lua (with variance), explicit interface maps, statics on classes and interfaces.
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::{lua, run};

use dynacast::lua::{lua_to_object, LuaType};
use mlua::Value;

#[test]
fn generic_interfaces_are_instantiated_from_lua_and_cast_with_variance() {
    let (lua, rt) = lua();
    run(
        &lua,
        r#"
        local Animal = dynacast.class("Animal", {})
        local Dog = dynacast.class("Dog", { base = Animal })
        local ISource = dynacast.generic_interface("ISource", { params = { "out" },
            methods = { take = 0 } })
        local ISink = dynacast.generic_interface("ISink", { params = { "in" },
            methods = { put = 1 } })
        local IBox = dynacast.generic_interface("IBox", { params = { "invariant" } })
        assert(tostring(ISource) == "generic interface ISource" and ISource.arity == 1)
        -- One instantiation per argument list: the same type handle each time.
        assert(ISource(Dog) == ISource(Dog) and ISource(Dog) == dynacast.instantiate(ISource, "Dog"))
        local Kennel = dynacast.class("Kennel", { implements = { ISource(Dog), ISink(Animal), IBox(Dog) },
            methods = {
                take = function(self) return "a dog" end,
                put = function(self, a) self.last = a; return true end,
            } })
        local k = Kennel:new()
        -- out T: a source of dogs is a source of animals, not the reverse.
        assert(k:is(ISource(Animal)) and ISource(Dog):assignable_to(ISource(Animal)))
        assert(not ISource(Animal):assignable_to(ISource(Dog)))
        -- in T: a sink of animals is a sink of dogs.
        assert(k:is(ISink(Dog)) and not ISink(Dog):assignable_to(ISink(Animal)))
        -- invariant: only the exact argument.
        assert(k:is(IBox(Dog)) and not k:is(IBox(Animal)))
        -- Calls through an instantiation reached by variance.
        assert(ISource(Animal).take(k) == "a dog")
        assert(ISink(Dog).put(k, 7) == true and k.last == 7)
        local ok, e = pcall(ISource, Dog, Animal)
        assert(not ok and e.kind == "TypeLoad", tostring(e))
        assert(e.message == "Could not load type 'ISource': wrong number of type arguments: expected 1, got 2", e.message)
        ok, e = pcall(dynacast.generic_interface, "IBad", { params = { "sideways" } })
        assert(not ok and e.kind == "TypeLoad" and e.message ==
            "Could not load type 'IBad': 'params' lists variances (\"out\", \"in\" or \"invariant\"), got 'sideways'", tostring(e))
        ok, e = pcall(dynacast.interface, "INotGeneric", { params = { "out" } })
        assert(not ok and e.kind == "TypeLoad" and e.message ==
            "Could not load type 'INotGeneric': 'params' makes a generic interface: define it with dynacast.generic_interface", tostring(e))
        kennel, ISourceDef = k, ISource
        "#,
    );
    // Rust sees the same instantiation: a cast from Rust with variance.
    let k: Value = lua.globals().get("kennel").unwrap();
    let obj = lua_to_object(&lua, &k).unwrap();
    let of_animal = lua
        .load(r#"return dynacast.lookup("ISource") == nil and dynacast.instantiate(ISourceDef, "Animal")"#)
        .eval::<mlua::AnyUserData>()
        .unwrap();
    let of_animal = of_animal.borrow::<LuaType>().unwrap().0.clone();
    assert_eq!(of_animal.name(), "ISource<Animal>");
    assert!(obj.is_instance_of(&of_animal, &mut lua.clone()).unwrap());
    let animal = rt.lookup("Animal").unwrap();
    assert!(!obj.is_instance_of(&animal, &mut lua.clone()).unwrap());
}

#[test]
fn explicit_interface_maps_route_an_interface_method_to_a_class_method() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local IShape = dynacast.interface("IShape", { methods = { area = 0 } })
        local IBox = dynacast.generic_interface("IBoxed", { params = { "out" }, methods = { area = 0 } })
        local Square = dynacast.class("Square", {
            implements = { IShape, IBox(IShape) },
            methods = {
                surface = function(self) return self.side * self.side end,
                boxed = function(self) return -1 end,
            },
            maps = { ["IShape.area"] = "surface", ["IBoxed<IShape>.area"] = "boxed" },
        })
        local s = Square:new { side = 3 }
        assert(IShape.area(s) == 9 and IShape.area(s) == 9) -- first call, then the kept one
        assert(IBox(IShape).area(s) == -1)
        assert(IShape:method("area")(s) == 9) -- the handle goes through the engine
        assert(s:surface() == 9)
        -- Two interfaces have 'area': obj:area() is ambiguous.
        local ok, e = pcall(function() return s:area() end)
        assert(not ok and e.kind == "AmbiguousName", tostring(e))
        ok, e = pcall(dynacast.class, "Bad", { implements = { IShape }, methods = { f = function(self) end },
            maps = { area = "f" } })
        assert(not ok and e.kind == "TypeLoad" and e.message ==
            "Could not load type 'Bad': 'maps' keys are \"Interface.method\", got 'area'", tostring(e))
        ok, e = pcall(dynacast.class, "Bad2", { implements = { IShape }, methods = { f = function(self) end },
            maps = { ["IShape.area"] = 1 } })
        assert(not ok and e.kind == "TypeLoad" and e.message ==
            "Could not load type 'Bad2': 'maps' maps 'IShape.area' to a class method name, got a integer", tostring(e))
        "#,
    );
}

#[test]
fn statics_on_classes_and_interfaces() {
    let (lua, _rt) = lua();
    run(
        &lua,
        r#"
        local IMath = dynacast.interface("IMath", { statics = { twice = function(x) return 2 * x end } })
        assert(IMath.twice(21) == 42)
        local Vec = dynacast.class("Vec", {
            init = function(self, x, y) self.x, self.y = x, y end,
            methods = { len2 = function(self) return self.x * self.x + self.y * self.y end },
            statics = { zero = function() return dynacast.lookup("Vec")(0, 0) end },
        })
        local Vec3 = dynacast.class("Vec3", { base = Vec, statics = { dims = function() return 3 end } })
        assert(Vec.zero():len2() == 0)
        -- Inherited by subclasses, as C# finds a base's static through a derived type.
        assert(Vec3.zero ~= nil and Vec3.dims() == 3)
        local ok, e = pcall(function() return Vec.dims end)
        assert(not ok and e.kind == "MissingMember" and e.message == "Member 'dims' not found on type 'Vec'.", tostring(e))
        -- Statics are not members of the objects.
        local v = Vec(3, 4)
        assert(v:len2() == 25 and v.zero == nil)
        ok, e = pcall(dynacast.class, "Clash", {
            methods = { f = function(self) end }, statics = { f = function() end } })
        assert(not ok and e.kind == "TypeLoad" and e.message ==
            "Could not load type 'Clash': 'f' is both a method and a static", tostring(e))
        ok, e = pcall(dynacast.class, "NotFn", { statics = { f = 1 } })
        assert(not ok and e.kind == "TypeLoad" and e.message ==
            "Could not load type 'NotFn': 'f' must be a function, got a integer", tostring(e))
        "#,
    );
}
