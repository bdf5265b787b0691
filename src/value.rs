//! A ready dynamic value type, for hosts that have none of their own.
//!
//! [`DynHost`] plugs [`Value`] in as arguments, results and payloads, [`HostError`] as the
//! host error and `()` as the call context.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::class::ClassRef;
use crate::error::Error;
use crate::host::Host;
use crate::interface::InterfaceRef;
use crate::object::Object;
use crate::runtime::Runtime;
use crate::types::TypeRef;

/// The ready-made [`Host`]: dynamic [`Value`]s, [`HostError`]s, no context.
///
/// Its context is `()`: write `let cx = &mut ();` once and pass `cx` to every call and
/// cast (a `&mut` passed on is reborrowed, so the one binding serves them all).
///
/// ```
/// use dynacast::{DynHost, Runtime, Value};
/// let cx = &mut ();
/// let rt = Runtime::<DynHost>::new();
/// let i = rt.interface("I").default_method("one", 0, |_| Ok(Value::Int(1))).define()?;
/// let obj = rt.new_object(&rt.class("C").implement(&i).define()?, Value::Nil)?;
/// obj.cast(&i, cx)?;
/// assert_eq!(obj.call(&i.method("one")?, &[], cx)?, Value::Int(1));
/// assert_eq!(obj.call_by_name("one", &[], cx)?, Value::Int(1));
/// # Ok::<(), dynacast::DynError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DynHost;

impl Host for DynHost {
    type Value = Value;
    type Error = HostError;
    type Context = ();
    type Payload = Value;
}

/// [`Error`] with [`DynHost`]'s host error.
pub type DynError = Error<HostError>;
/// A [`Runtime`] of [`DynHost`].
pub type DynRuntime = Runtime<DynHost>;
/// An [`Object`] of [`DynHost`].
pub type DynObject = Object<DynHost>;

/// A dynamically typed value.
#[derive(Clone, Default)]
pub enum Value {
    /// No value.
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(Arc<str>),
    /// A list.
    List(Arc<[Value]>),
    /// An object.
    Object(Object<DynHost>),
    /// A type.
    Type(TypeRef<DynHost>),
    /// Anything else the host wants to carry.
    Any(Arc<dyn Any + Send + Sync>),
}

/// Dropped iteratively: objects linked through their payloads (a linked list of a million
/// objects) and lists nested in lists would otherwise drop recursively, one stack frame per
/// link. Only values whose last handle dies here are taken apart; shared ones stay intact.
impl Drop for Value {
    fn drop(&mut self) {
        let mut pending: Vec<Value> = Vec::new();
        detach_links(self, &mut pending);
        while let Some(mut value) = pending.pop() {
            detach_links(&mut value, &mut pending);
        }
    }
}

/// Moves the objects and lists `value` alone holds into `pending`, leaving `Nil` behind.
fn detach_links(value: &mut Value, pending: &mut Vec<Value>) {
    let holds_links = |v: &Value| matches!(v, Value::Object(_) | Value::List(_));
    match value {
        Value::Object(object) => {
            if let Some(payload) = object.unique_payload_mut().filter(|p| holds_links(p)) {
                pending.push(std::mem::take(payload));
            }
        }
        Value::List(items) => {
            if let Some(items) = Arc::get_mut(items) {
                pending.extend(
                    items
                        .iter_mut()
                        .filter(|v| holds_links(v))
                        .map(std::mem::take),
                );
            }
        }
        _ => {}
    }
}

impl Value {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<DynHost>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }
    /// The type, if this is one.
    pub fn as_type(&self) -> Option<&TypeRef<DynHost>> {
        match self {
            Value::Type(t) => Some(t),
            _ => None,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => Object::ptr_eq(a, b),
            (Value::Type(a), Value::Type(b)) => a == b,
            (Value::Any(a), Value::Any(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Object(o) => write!(f, "{o:?}"),
            Value::Type(t) => write!(f, "{t:?}"),
            Value::Any(_) => f.write_str("<any>"),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(Arc::from(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Arc::from(s))
    }
}
impl From<Object<DynHost>> for Value {
    fn from(o: Object<DynHost>) -> Self {
        Value::Object(o)
    }
}
impl From<TypeRef<DynHost>> for Value {
    fn from(t: TypeRef<DynHost>) -> Self {
        Value::Type(t)
    }
}
impl From<ClassRef<DynHost>> for Value {
    fn from(c: ClassRef<DynHost>) -> Self {
        Value::Type(TypeRef::Class(c))
    }
}
impl From<InterfaceRef<DynHost>> for Value {
    fn from(i: InterfaceRef<DynHost>) -> Self {
        Value::Type(TypeRef::Interface(i))
    }
}

/// Reading a [`Value`] as the Rust type it holds, and holding Rust state in one.
///
/// ```
/// use dynacast::Value;
///
/// struct Health(u32);
/// let v = Value::any(Health(7));
/// assert_eq!(v.downcast_ref::<Health>().map(|h| h.0), Some(7));
///
/// let list = Value::from(vec![Value::from(1), Value::from(2.5), Value::from(true)]);
/// let items = list.as_list().unwrap();
/// assert_eq!((items[0].as_float(), items[1].as_float(), items[2].as_bool()), (Some(1.0), Some(2.5), Some(true)));
/// assert_eq!(list.to_string(), "[1, 2.5, true]");
/// ```
impl Value {
    /// Rust state of any type, shared (a payload that carries a host's own struct).
    pub fn any<T: Any + Send + Sync>(value: T) -> Self {
        Value::Any(Arc::new(value))
    }
    /// The `T` inside a [`Value::Any`], if it holds one.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Value::Any(a) => a.downcast_ref(),
            _ => None,
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The number as a float: a float, or an integer converted (as Lua reads numbers).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// Whether this is [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

/// What a person reads: strings unquoted, lists as `[a, b]`, objects as `Class@address`,
/// types by name.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Type(t) => write!(f, "{t}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            other => write!(f, "{other:?}"),
        }
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::List(items.into())
    }
}
impl From<&[Value]> for Value {
    fn from(items: &[Value]) -> Self {
        Value::List(items.into())
    }
}
impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Nil
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is [`Value::Nil`].
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Nil, Into::into)
    }
}

/// [`DynHost`]'s error: a message, for errors raised by bodies and hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    message: Arc<str>,
}

impl HostError {
    /// An error with this message.
    pub fn new(message: impl Into<Arc<str>>) -> Self {
        HostError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}
