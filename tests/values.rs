//! `Value`: conversions, readers and what `Display` shows a person.

use dynacast::{DynHost, Runtime, Value};

#[test]
fn display_shows_values_as_a_person_reads_them() {
    let rt = Runtime::<DynHost>::new();
    let point = rt.class("Point").define().unwrap();
    let shown = |v: Value| v.to_string();
    assert_eq!(shown(Value::Nil), "nil");
    assert_eq!(shown(Value::from("plain")), "plain");
    assert_eq!(shown(Value::from(-3)), "-3");
    assert_eq!(shown(Value::from(0.5)), "0.5");
    assert_eq!(shown(Value::from(point.clone())), "Point");
    assert_eq!(
        shown(Value::from(vec![
            Value::from("a"),
            Value::from(vec![Value::Nil])
        ])),
        "[a, [nil]]"
    );
    let obj = rt.new_object(&point, Value::Nil).unwrap();
    assert!(shown(Value::from(obj)).starts_with("Point@0x"));
    assert_eq!(shown(Value::any(1u8)), "<any>");
}

#[test]
fn readers_answer_only_for_their_own_kind() {
    assert_eq!(Value::from(2).as_float(), Some(2.0));
    assert_eq!(Value::from("2").as_float(), None);
    assert_eq!(Value::from(true).as_bool(), Some(true));
    assert_eq!(Value::from(1).as_bool(), None);
    assert_eq!(Value::from(Some(4)), Value::Int(4));
    assert_eq!(Value::from(None::<i64>), Value::Nil);
    assert!(Value::from(()).is_nil());
    assert_eq!(Value::any(5u16).downcast_ref::<u32>(), None);
    assert_eq!(Value::from(5).downcast_ref::<i64>(), None);
    let items = [Value::from(1), Value::from(2)];
    assert_eq!(Value::from(&items[..]).as_list(), Some(&items[..]));
}
