//! Lua scripts define interfaces (default methods in Lua), implementation interfaces,
//! classes and objects, and cast and call them (issue 6, point 1).
#![cfg(feature = "lua")]

#[path = "common/lua.rs"]
mod common_lua;
use common_lua::lua;

#[test]
fn interface_default_methods_and_class_methods_are_lua_functions() {
    let (lua, _rt) = lua();
    let (area, describe, twice): (i64, String, i64) = lua
        .load(
            r#"
            local IShape = dynacast.interface("IShape", {
                methods = {
                    area = 0,                                          -- abstract
                    describe = function(self)                          -- default body
                        return self:class().name .. " of area " .. IShapeArea(self)
                    end,
                    scaled = function(self, k) return IShapeArea(self) * k end,
                },
            })
            IShapeArea = IShape:method("area")
            local Square = dynacast.class("Square", {
                implements = { IShape },
                methods = { area = function(self) return self.side * self.side end },
            })
            local sq = Square:new { side = 3 }
            return IShape:method("area")(sq), IShape:method("describe")(sq),
                   sq:call(IShape:method("scaled"), 2)
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(area, 9);
    assert_eq!(describe, "Square of area 9");
    assert_eq!(twice, 18);
}

#[test]
fn arity_comes_from_the_parameter_list_and_is_checked() {
    let (lua, _rt) = lua();
    let (arity_scaled, arity_area, kind, message): (i64, i64, String, String) = lua
        .load(
            r#"
            local I = dynacast.interface("I", {
                methods = { area = 0, scaled = function(self, a, b) return a + b end },
            })
            local C = dynacast.class("C", { implements = { I }, methods = { area = function(self) return 1 end } })
            local ok, e = pcall(I:method("scaled"), C:new(), 1)
            assert(not ok)
            return I:method("scaled").arity, I:method("area").arity, e.kind, e.message
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!((arity_scaled, arity_area), (2, 0));
    assert_eq!(kind, "ArgumentCount");
    assert_eq!(
        message,
        "Method 'I.scaled' takes 2 argument(s) but was called with 1."
    );
}

#[test]
fn objects_keep_their_identity_and_fields() {
    let (lua, _rt) = lua();
    let ok: bool = lua
        .load(
            r#"
            local IEcho = dynacast.interface("IEcho", {
                methods = { this = function(self) return self end },
            })
            local C = dynacast.class("C", { implements = { IEcho } })
            local a, b = C:new { n = 1 }, C:new { n = 2 }
            local this = IEcho:method("this")
            assert(rawequal(this(a), a), "return_this is the same object")
            assert(this(b) == b and this(a) ~= b)
            local seen = { [a] = "a" }
            assert(seen[this(a)] == "a", "objects work as table keys")
            a.n = a.n + 10
            assert(a.n == 11 and b.n == 2)
            assert(rawequal(dynacast.lookup("C"), C), "types keep their identity too")
            assert(a:class() == C and rawequal(a:class(), C))
            assert(tostring(a):match("^C: 0x%x+$") and tostring(a) ~= tostring(b), tostring(a))
            assert(tostring(C) == "class C" and tostring(IEcho) == "interface IEcho")
            assert(IEcho.is_interface == true and C.is_interface == false)
            return true
            "#,
        )
        .eval()
        .unwrap();
    assert!(ok);
}

#[test]
fn casts_follow_the_metadata_for_classes_and_interfaces() {
    let (lua, _rt) = lua();
    let results: Vec<bool> = lua
        .load(
            r#"
            local IBase = dynacast.interface("IBase")
            local IDerived = dynacast.interface("IDerived", { bases = { IBase } })
            local IOther = dynacast.interface("IOther")
            local Animal = dynacast.class("Animal", { implements = { "IDerived" } })
            local Dog = dynacast.class("Dog", { base = Animal })
            local d = Dog:new()
            return { d:is(IBase), d:is(IDerived), d:is(IOther), d:is(Animal), d:is("Dog"),
                     Animal:new():is(Dog), rawequal(d:cast(IBase), d) }
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(results, [true, true, false, true, true, false, true]);
}

#[test]
fn casting_to_an_unknown_type_name_is_a_type_load_error() {
    let (lua, _rt) = lua();
    let (kind, message): (String, String) = lua
        .load(
            r#"
            local C = dynacast.class("C")
            local ok, e = pcall(C:new().is, C:new(), "INope")
            assert(not ok)
            return e.kind, e.message
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(kind, "TypeLoad");
    assert_eq!(message, "Could not load type 'INope': unknown type 'INope'");
}

#[test]
fn class_methods_override_by_name_and_abstract_classes_have_no_instances() {
    let (lua, _rt) = lua();
    let (dog, cat, kind, message): (String, String, String, String) = lua
        .load(
            r#"
            local ISpeak = dynacast.interface("ISpeak", { methods = { speak = 0 } })
            local Animal = dynacast.class("Animal", {
                abstract = true,
                implements = { ISpeak },
                methods = { speak = 0, name = function(self) return "animal" end },
            })
            local Dog = dynacast.class("Dog", { base = Animal, methods = { speak = function(self) return "woof" end } })
            local Cat = dynacast.class("Cat", {
                base = Animal,
                methods = {
                    speak = function(self) return "meow from " .. Animal:method("name")(self) end,
                    name = function(self) return "cat" end,
                },
            })
            local speak = ISpeak:method("speak")
            local ok, e = pcall(Animal.new, Animal)
            assert(not ok)
            return speak(Dog:new()), speak(Cat:new()), e.kind, e.message
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!(dog, "woof");
    assert_eq!(
        cat, "meow from cat",
        "class method handles dispatch virtually"
    );
    assert_eq!(kind, "InvalidOperation");
    assert_eq!(
        message,
        "Cannot create an instance of the abstract class 'Animal'."
    );
}

#[test]
fn helpers_and_statics_are_called_directly() {
    let (lua, _rt) = lua();
    let (helper, stat): (i64, i64) = lua
        .load(
            r#"
            local I = dynacast.interface("I", {
                helpers = { two = function(self) return 2 end },
                statics = { three = function() return 3 end, add = function(a, b) return a + b end },
            })
            local C = dynacast.class("C", { implements = { I } })
            assert(I:method("add")(1, 2) == 3)
            return I:method("two")(C:new()), I:method("three")()
            "#,
        )
        .eval()
        .unwrap();
    assert_eq!((helper, stat), (2, 3));
}

#[test]
fn bad_definitions_are_type_load_errors() {
    let (lua, _rt) = lua();
    let errors: Vec<(String, String)> = lua
        .load(
            r#"
            local out = {}
            local function try(f, ...)
                local ok, e = pcall(f, ...)
                assert(not ok, "definition should fail")
                out[#out + 1] = { e.kind, e.message }
            end
            dynacast.interface("IOne", { methods = { m = 0 } })
            try(dynacast.interface, "IOne")
            try(dynacast.class, "C1", { base = "Missing" })
            try(dynacast.interface, "I2", { methods = { v = function(self, ...) end } })
            try(dynacast.interface, "I3", { methods = { s = function() end } })
            try(dynacast.interface, "I4", { methods = { m = "zero" } })
            try(dynacast.class, "C2", { implements = { "IOne" } })
            try(dynacast.interface, "I5", { bases = { "IOne" }, overrides = { nope = function(self) end } })
            try(dynacast.class, "C3", { methods = { ["\0dynacast.1"] = function(self) end } })
            local ok, e = pcall(dynacast.new, "IOne")
            assert(not ok and tostring(e):find("dynacast.new needs a class; 'IOne' is an interface", 1, true))
            local r = {}
            for i, e in ipairs(out) do r[i] = e end
            return r
            "#,
        )
        .eval::<Vec<Vec<String>>>()
        .unwrap()
        .into_iter()
        .map(|e| (e[0].clone(), e[1].clone()))
        .collect();
    let expected = [
        ("TypeLoad", "Could not load type 'IOne': a type named 'IOne' is already defined"),
        ("TypeLoad", "Could not load type 'C1': unknown type 'Missing'"),
        ("TypeLoad", "Could not load type 'I2': 'v' takes a variable number of arguments; dynacast needs a fixed parameter list"),
        ("TypeLoad", "Could not load type 'I3': 's' must take self as its first parameter"),
        ("TypeLoad", "Could not load type 'I4': method 'm' must be an arity (abstract) or a function (default body), got a string"),
        ("TypeLoad", "Could not load type 'C2': the class is not abstract but does not implement interface method 'IOne.m'"),
        ("TypeLoad", "Could not load type 'I5': no base interface of 'I5' declares a method 'nope'"),
        ("TypeLoad", "Could not load type 'C3': 'methods' has a member name beginning with \"\\0dynacast.\", which the binding reserves"),
    ];
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|(k, m)| (k.as_str(), m.as_str()))
        .collect();
    assert_eq!(got, expected);
}
