//! The embedder's side of the engine: value, error, context and payload types.
//!
//! dynacast never forces a value representation on its host. Everything that flows
//! through a call (arguments, results, errors, the caller's context) and what an object
//! carries (its payload) is chosen by the embedder through one [`Host`] type. Hosts that
//! have no value type of their own can use [`DynHost`](crate::DynHost).

use std::sync::Arc;

use crate::error::Error;
use crate::object::Object;

/// The types an embedder plugs into the engine.
///
/// Implement it on a marker type (an empty struct) and use it as the `H` parameter of
/// [`Runtime`](crate::Runtime), [`Object`] and every handle.
pub trait Host: Sized + 'static {
    /// Arguments and results of method bodies.
    type Value;
    /// The host's own error type; it reaches callers unchanged inside [`Error::Host`].
    type Error: std::error::Error + Send + Sync + 'static;
    /// What the caller passes down to bodies and hooks (a script engine's call context,
    /// an interpreter state, `()` when nothing is needed). Bodies and hooks receive it as
    /// `&mut`, so a re-entrant call simply reborrows it.
    type Context: ?Sized;
    /// What every object carries besides its class.
    type Payload;
}

/// Result of a method body or a call.
pub type CallResult<H> = Result<<H as Host>::Value, Error<<H as Host>::Error>>;

/// A virtual or non-virtual instance method body: `(this, args, cx)`.
///
/// `this` is always the original object the call was made on: no wrapper, no proxy.
pub type Body<H> = Arc<
    dyn Fn(&Object<H>, &[<H as Host>::Value], &mut <H as Host>::Context) -> CallResult<H>
        + Send
        + Sync,
>;

/// A static method body: `(args, cx)`.
pub type StaticBody<H> =
    Arc<dyn Fn(&[<H as Host>::Value], &mut <H as Host>::Context) -> CallResult<H> + Send + Sync>;

/// Wraps a closure as a [`Body`].
///
/// ```
/// use dynacast::{body, DynHost, Value};
/// let b = body::<DynHost, _>(|_this, args, _cx| Ok(args[0].clone()));
/// # let _ = b;
/// ```
pub fn body<H, F>(f: F) -> Body<H>
where
    H: Host,
    F: Fn(&Object<H>, &[H::Value], &mut H::Context) -> CallResult<H> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// Wraps a closure as a [`StaticBody`].
pub fn static_body<H, F>(f: F) -> StaticBody<H>
where
    H: Host,
    F: Fn(&[H::Value], &mut H::Context) -> CallResult<H> + Send + Sync + 'static,
{
    Arc::new(f)
}
