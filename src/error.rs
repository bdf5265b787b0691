//! The one error type of the engine.
//!
//! Every failure is a value of [`Error`]; messages name the types and members involved so
//! that a person can act on them. The cast and dispatch messages follow .NET's wording.

use std::fmt;
use std::sync::Arc;

/// Everything that can go wrong in dynacast. `E` is the host's own error type
/// ([`Host::Error`](crate::Host::Error)), passed through unchanged in [`Error::Host`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error<E> {
    /// An object is not of the requested type (a failed cast, or a call through an
    /// interface the object neither implements nor can get from its hook).
    InvalidCast {
        /// The object's class.
        object_type: Arc<str>,
        /// The requested type.
        target_type: Arc<str>,
    },
    /// A hook answered something the engine cannot use, or an operation is not allowed.
    InvalidOperation(InvalidOperation),
    /// The called method has no implementation (none at all, or re-abstracted).
    EntryPointNotFound {
        /// The object's class.
        type_name: Arc<str>,
        /// The interface that declares the method.
        interface: Arc<str>,
        /// The method's name.
        method: Arc<str>,
        /// The implementation interface a hook named, for a dynamic dispatch.
        implementation: Option<Arc<str>>,
        /// The interface whose re-abstraction is the most specific declaration, if any.
        reabstracted_in: Option<Arc<str>>,
    },
    /// Two or more unrelated interfaces give the most specific default body (a diamond).
    AmbiguousImplementation {
        /// The object's class.
        type_name: Arc<str>,
        /// The interface that declares the method.
        interface: Arc<str>,
        /// The method's name.
        method: Arc<str>,
        /// The implementation interface a hook named, for a dynamic dispatch.
        implementation: Option<Arc<str>>,
        /// The interfaces whose defaults compete.
        candidates: Vec<Arc<str>>,
    },
    /// A type definition was rejected.
    TypeLoad {
        /// The type being defined.
        type_name: Arc<str>,
        /// What is wrong with it.
        message: String,
    },
    /// A type has no member of that name.
    MissingMember {
        /// The type searched.
        type_name: Arc<str>,
        /// The member asked for.
        member: Arc<str>,
    },
    /// A call by name ([`Object::call_by_name`](crate::Object::call_by_name)) matches
    /// methods of two interfaces the class implements.
    AmbiguousName {
        /// The class.
        type_name: Arc<str>,
        /// The name asked for.
        member: Arc<str>,
        /// One interface with a method of that name.
        first: Arc<str>,
        /// Another one.
        second: Arc<str>,
    },
    /// A method was called with the wrong number of arguments.
    ArgumentCount {
        /// `Type.method` of the called method.
        method: Arc<str>,
        /// The method's arity.
        expected: usize,
        /// The number of arguments passed.
        actual: usize,
    },
    /// The host's own error, returned by a body or a hook, unchanged.
    Host(E),
}

/// The reasons behind [`Error::InvalidOperation`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidOperation {
    /// rule C3.2: the hook returned a class.
    NotAnInterface {
        /// The type the hook returned.
        returned: Arc<str>,
    },
    /// rule C3.3: the hook returned an interface without the dynamic-castable-implementation mark.
    NotMarked {
        /// The type the hook returned.
        returned: Arc<str>,
    },
    /// rule C3.4: the returned interface is not assignable to the requested one.
    DoesNotImplement {
        /// The type the hook returned.
        returned: Arc<str>,
        /// The interface the call was made through.
        requested: Arc<str>,
    },
    /// The hook returned a type defined in another [`Runtime`](crate::Runtime).
    ForeignRuntime {
        /// The type the hook returned.
        returned: Arc<str>,
    },
    /// A type of another [`Runtime`](crate::Runtime) was used.
    ForeignType {
        /// The type.
        type_name: Arc<str>,
    },
    /// Hook calls nested deeper than [`max_hook_depth`](crate::hook::max_hook_depth) on
    /// one thread: a hook asks itself again without end.
    HookRecursion {
        /// The class whose hook was about to be called.
        type_name: Arc<str>,
        /// The interface it was to be asked about.
        interface: Arc<str>,
        /// The limit in force.
        limit: usize,
    },
    /// An abstract class cannot have instances.
    AbstractClass {
        /// The class.
        class: Arc<str>,
    },
    /// A body asked for its runtime ([`Call::runtime`](crate::Call::runtime)) after
    /// every handle to the runtime was dropped.
    RuntimeDropped {
        /// The class of the object the body runs on, or the interface of a static member.
        type_name: Arc<str>,
    },
    /// A flush of a class (or runtime) whose runtime was made without live reload
    /// ([`Runtime::with_live_reload`](crate::Runtime::with_live_reload)).
    LiveReloadDisabled {
        /// The class flushed, or the runtime.
        type_name: Arc<str>,
    },
    /// A body asked for an argument past the end ([`Call::arg`](crate::Call::arg)).
    MissingArgument {
        /// `Type.method` of the running method (or "a method body of 'Class'" when unknown).
        method: Arc<str>,
        /// The index asked for.
        index: usize,
        /// The number of arguments the call has.
        count: usize,
    },
}

impl<E> Error<E> {
    /// A stable, short name of the error's kind, for hosts that map errors to their own
    /// exception types: `"InvalidCast"`, `"InvalidOperation"`, `"EntryPointNotFound"`,
    /// `"AmbiguousImplementation"`, `"TypeLoad"`, `"MissingMember"`, `"AmbiguousName"`,
    /// `"ArgumentCount"` or
    /// `"Host"`.
    ///
    /// ```
    /// use dynacast::{DynHost, Runtime};
    /// let rt = Runtime::<DynHost>::new();
    /// let err = rt.class("C").base("Missing").define().unwrap_err();
    /// assert_eq!(err.kind(), "TypeLoad");
    /// assert_eq!(err.to_string(), "Could not load type 'C': unknown type 'Missing'");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidCast { .. } => "InvalidCast",
            Error::InvalidOperation(_) => "InvalidOperation",
            Error::EntryPointNotFound { .. } => "EntryPointNotFound",
            Error::AmbiguousImplementation { .. } => "AmbiguousImplementation",
            Error::TypeLoad { .. } => "TypeLoad",
            Error::MissingMember { .. } => "MissingMember",
            Error::AmbiguousName { .. } => "AmbiguousName",
            Error::ArgumentCount { .. } => "ArgumentCount",
            Error::Host(_) => "Host",
        }
    }

    /// The host error inside, if this is [`Error::Host`].
    pub fn host_error(&self) -> Option<&E> {
        match self {
            Error::Host(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn type_load(type_name: &Arc<str>, message: impl Into<String>) -> Self {
        Error::TypeLoad {
            type_name: type_name.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid_cast(object_type: &Arc<str>, target_type: &Arc<str>) -> Self {
        Error::InvalidCast {
            object_type: object_type.clone(),
            target_type: target_type.clone(),
        }
    }
}

impl InvalidOperation {
    /// This reason as an [`Error`] of any host. (Not a `From` impl: that would overlap the
    /// blanket `From<E> for Error<E>` below when a host's error type is `InvalidOperation`.)
    pub fn into_error<E>(self) -> Error<E> {
        Error::InvalidOperation(self)
    }
}

/// The `?` story for bodies and hooks: a host error converts into [`Error::Host`], so
/// `Err(MyError)?` and `my_result?` work in a body returning `Result<_, Error<MyError>>`
/// with no `From` impl of the host's own.
///
/// ```
/// use dynacast::{body, Error, Host, Runtime};
///
/// #[derive(Debug, PartialEq)]
/// struct NoFuel;
/// impl std::fmt::Display for NoFuel {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("out of fuel")
///     }
/// }
/// impl std::error::Error for NoFuel {}
///
/// struct Game;
/// impl Host for Game {
///     type Value = i64;
///     type Error = NoFuel;
///     type Context = ();
///     type Payload = i64;
/// }
///
/// fn burn(fuel: i64) -> Result<i64, NoFuel> {
///     if fuel > 0 { Ok(fuel - 1) } else { Err(NoFuel) }
/// }
///
/// let rt = Runtime::<Game>::new();
/// let engine = rt.interface("IEngine").abstract_method("burn", 0).define()?;
/// let car = rt
///     .class("Car")
///     .implement(&engine)
///     .virtual_method("burn", 0, |call| { let (this, _, _): (&dynacast::Object<Game>, &[i64], &mut ()) = call.into_parts(); Ok(burn(*this.payload())?) })
///     .define()?;
/// let burn_it = engine.method("burn")?;
/// assert_eq!(rt.new_object(&car, 2)?.call(&burn_it, &[], &mut ())?, 1);
/// assert_eq!(rt.new_object(&car, 0)?.call(&burn_it, &[], &mut ()), Err(Error::Host(NoFuel)));
/// # Ok::<(), Error<NoFuel>>(())
/// ```
impl<E> From<E> for Error<E> {
    fn from(e: E) -> Self {
        Error::Host(e)
    }
}

const ATTRIBUTE: &str = "DynamicInterfaceCastableImplementationAttribute";

impl fmt::Display for InvalidOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidOperation::NotAnInterface { returned } => write!(
                f,
                "Type '{returned}' returned by IDynamicInterfaceCastable is not an interface."
            ),
            InvalidOperation::NotMarked { returned } => write!(
                f,
                "Type '{returned}' returned by IDynamicInterfaceCastable does not have the attribute '{ATTRIBUTE}'."
            ),
            InvalidOperation::DoesNotImplement { returned, requested } => write!(
                f,
                "Type '{returned}' returned by IDynamicInterfaceCastable does not implement the requested interface '{requested}'."
            ),
            InvalidOperation::ForeignRuntime { returned } => write!(
                f,
                "Type '{returned}' returned by IDynamicInterfaceCastable belongs to another Runtime."
            ),
            InvalidOperation::ForeignType { type_name } => {
                write!(f, "Type '{type_name}' belongs to another Runtime.")
            }
            InvalidOperation::HookRecursion {
                type_name,
                interface,
                limit,
            } => write!(
                f,
                "Hook calls nested more than {limit} deep asking type '{type_name}' about '{interface}': the hook recurses without end."
            ),
            InvalidOperation::AbstractClass { class } => {
                write!(f, "Cannot create an instance of the abstract class '{class}'.")
            }
            InvalidOperation::RuntimeDropped { type_name } => write!(
                f,
                "The Runtime of type '{type_name}' was dropped: keep a Runtime handle alive while its objects are called."
            ),
            InvalidOperation::LiveReloadDisabled { type_name } => write!(
                f,
                "Cannot flush '{type_name}': live reload is not enabled; make its Runtime with Runtime::with_live_reload()."
            ),
            InvalidOperation::MissingArgument {
                method,
                index,
                count,
            } => write!(
                f,
                "'{method}' asked for argument {index} but was called with {count} argument(s): declare the arity the body reads."
            ),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidCast {
                object_type,
                target_type,
            } => write!(
                f,
                "Unable to cast object of type '{object_type}' to type '{target_type}'."
            ),
            Error::InvalidOperation(op) => op.fmt(f),
            Error::EntryPointNotFound {
                type_name,
                interface,
                method,
                implementation,
                reabstracted_in,
            } => {
                write!(
                    f,
                    "Entry point not found: type '{type_name}' has no implementation of '{interface}.{method}'"
                )?;
                if let Some(implementation) = implementation {
                    write!(f, " in implementation interface '{implementation}'")?;
                }
                match reabstracted_in {
                    Some(r) => write!(
                        f,
                        " (the most specific declaration, in '{r}', is abstract)."
                    ),
                    None => f.write_str("."),
                }
            }
            Error::AmbiguousImplementation {
                type_name,
                interface,
                method,
                implementation,
                candidates,
            } => {
                write!(
                    f,
                    "The call to '{interface}.{method}' on type '{type_name}' is ambiguous: "
                )?;
                let names: Vec<String> = candidates.iter().map(|c| format!("'{c}'")).collect();
                write!(
                    f,
                    "{} each give a most specific default",
                    names.join(" and ")
                )?;
                if let Some(implementation) = implementation {
                    write!(f, " in implementation interface '{implementation}'")?;
                }
                f.write_str(".")
            }
            Error::TypeLoad { type_name, message } => {
                write!(f, "Could not load type '{type_name}': {message}")
            }
            Error::MissingMember { type_name, member } => {
                write!(f, "Member '{member}' not found on type '{type_name}'.")
            }
            Error::AmbiguousName {
                type_name,
                member,
                first,
                second,
            } => write!(
                f,
                "Class '{type_name}' implements '{member}' of both '{first}' and '{second}': call it through one of them."
            ),
            Error::ArgumentCount {
                method,
                expected,
                actual,
            } => write!(
                f,
                "Method '{method}' takes {expected} argument(s) but was called with {actual}."
            ),
            Error::Host(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Host(e) => e.source(),
            _ => None,
        }
    }
}
