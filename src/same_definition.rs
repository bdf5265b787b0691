//! Live reload's "same definition, same type": when defining a type whose definition is
//! the same as the registered one's, the definition returns the registered type (so
//! re-running an unchanged module is a no-op and old objects keep casting to its types).
//!
//! "The same" is the whole shape, and the same code:
//! - an interface: name, methods in order (name, arity, kind: abstract, default, helper,
//!   static), bases (the same types, in the same order), overrides of base methods (the
//!   same target methods, in order), and the `dynamic_castable_implementation` flag;
//! - a class: name, base class (the same type), abstractness, vtable in order (name,
//!   arity), the same implemented interfaces and the same resolution of every one of their
//!   slots (maps included: they decide those resolutions), and the same hook;
//! - bodies and hooks are code, compared by identity: copies of one [`Body`] (or one
//!   `Arc` hook) are the same, two closures with the same text are not (Rust cannot compare
//!   code). A binding that wants a re-run with unchanged functions to be a no-op reuses its
//!   `Body` values (e.g. keyed by the function's source).
//!
//! Anything else is a new definition: with `redefine` it replaces the name (and a class
//! may take over the old one's objects: `ClassBuilder::take_over`), without it the
//! definition fails as before. Generic interface definitions are always new.

use crate::class::{ClassData, SlotImpl, VirtualMethod};
use crate::host::{same_body, same_static_body, Body, Host};
use crate::interface::{InterfaceData, InterfaceRef, MemberKind, MethodDecl};

/// Whether two optional bodies are the same code (both absent, or copies of one body).
fn same_optional_body<H: Host>(a: &Option<Body<H>>, b: &Option<Body<H>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_body(a, b),
        _ => false,
    }
}

fn same_types<H: Host>(a: &[InterfaceRef<H>], b: &[InterfaceRef<H>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a == b)
}

fn same_method<H: Host>(a: &MethodDecl<H>, b: &MethodDecl<H>) -> bool {
    a.name == b.name
        && a.arity == b.arity
        && match (&a.kind, &b.kind) {
            (MemberKind::Virtual(a), MemberKind::Virtual(b)) => same_optional_body(a, b),
            (MemberKind::Helper(a), MemberKind::Helper(b)) => same_body(a, b),
            (MemberKind::Static(a), MemberKind::Static(b)) => same_static_body(a, b),
            _ => false,
        }
}

/// Whether `a` and `b` define the same interface (see the module docs).
pub(crate) fn same_interface<H: Host>(a: &InterfaceData<H>, b: &InterfaceData<H>) -> bool {
    a.runtime == b.runtime
        && a.name == b.name
        && a.generic.is_none()
        && b.generic.is_none()
        && a.dynamic_castable_implementation == b.dynamic_castable_implementation
        && a.methods.len() == b.methods.len()
        && a.methods
            .iter()
            .zip(&b.methods[..])
            .all(|(a, b)| same_method(a, b))
        && same_types(&a.all_bases, &b.all_bases)
        && a.overrides.len() == b.overrides.len()
        && a.overrides
            .iter()
            .zip(&b.overrides[..])
            .all(|(a, b)| a.target.key == b.target.key && same_optional_body(&a.body, &b.body))
}

fn same_virtual<H: Host>(a: &VirtualMethod<H>, b: &VirtualMethod<H>) -> bool {
    a.name == b.name && a.arity == b.arity && same_optional_body(&a.body, &b.body)
}

fn same_slot<H: Host>(a: &SlotImpl<H>, b: &SlotImpl<H>) -> bool {
    match (a, b) {
        (SlotImpl::Body(a), SlotImpl::Body(b)) => same_body(a, b),
        (SlotImpl::NotVirtual, SlotImpl::NotVirtual) | (SlotImpl::Missing, SlotImpl::Missing) => {
            true
        }
        (SlotImpl::Reabstracted(a), SlotImpl::Reabstracted(b)) => a == b,
        (SlotImpl::Ambiguous(a), SlotImpl::Ambiguous(b)) => a == b,
        _ => false,
    }
}

/// Whether `a` and `b` define the same class (see the module docs).
pub(crate) fn same_class<H: Host>(a: &ClassData<H>, b: &ClassData<H>) -> bool {
    let same_hook = match (&a.hook, &b.hook) {
        (None, None) => true,
        (Some(x), Some(y)) => x.same_as(y),
        _ => false,
    };
    a.runtime == b.runtime
        && a.name == b.name
        && a.base_uid() == b.base_uid()
        && a.is_abstract == b.is_abstract
        && same_hook
        && a.vtable.len() == b.vtable.len()
        && a.vtable
            .iter()
            .zip(&b.vtable[..])
            .all(|(a, b)| same_virtual(a, b))
        && a.implemented().len() == b.implemented().len()
        && a.implemented().iter().zip(b.implemented()).all(|(a, b)| {
            a.iface == b.iface
                && a.slots.len() == b.slots.len()
                && a.slots
                    .iter()
                    .zip(&b.slots[..])
                    .all(|(a, b)| same_slot(a, b))
        })
}
