//! Default-interface-method resolution (rule C4): among a set of interfaces, find the most
//! specific default body for an interface method.
//!
//! Used twice: once per class when it is defined (for interface methods the class does not
//! implement itself), and on a dynamic dispatch miss, within the implementation interface a
//! hook named and its bases.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::host::{Body, Host};
use crate::interface::{
    InterfaceData, InterfaceRef, MemberKind, MethodKey, MethodRef, OverrideDecl,
};
use crate::types::{has_variance, variant_compatible};

/// The outcome of a default-method search.
pub(crate) enum DefaultResolution<H: Host> {
    /// Exactly one most specific default body.
    Body(Body<H>),
    /// No interface in the set gives a body.
    Missing,
    /// The most specific declaration re-abstracts the method (in the named interface).
    Reabstracted(Arc<str>),
    /// Several unrelated interfaces give most specific bodies (a diamond).
    Ambiguous(Vec<Arc<str>>),
}

/// What one interface of the set says about the method: a body, or a re-abstraction.
struct Candidate<'a, H: Host> {
    iface: &'a InterfaceRef<H>,
    body: Option<&'a Body<H>>,
}

/// What `iface` itself declares for `method`, if anything: its own default (when it is the
/// declaring interface, or with `variance` a variance-compatible instantiation of it) or an
/// explicit override or re-abstraction of it.
fn declaration<'a, H: Host>(
    iface: &'a InterfaceRef<H>,
    method: &MethodRef<H>,
    variance: bool,
) -> Option<Candidate<'a, H>> {
    let declaring = method.iface.data();
    let slot = method.key.slot;
    let matches = |target: &InterfaceData<H>| {
        if variance {
            variant_compatible(target, declaring)
        } else {
            target.uid == declaring.uid
        }
    };
    if matches(iface.data()) {
        // Same generic definition (or the same interface): same slot layout.
        return match &iface.data().methods.get(slot as usize)?.kind {
            MemberKind::Virtual(Some(body)) => Some(Candidate {
                iface,
                body: Some(body),
            }),
            _ => None,
        };
    }
    let data = iface.data();
    let found = if variance {
        data.overrides
            .iter()
            .find(|o| o.target.key.slot == slot && matches(o.target.iface.data()))
    } else {
        // The exact method: by the index, not a scan of every override.
        data.override_of(method.key)
    };
    found.map(|o| Candidate {
        iface,
        body: o.body.as_ref(),
    })
}

/// Up to this many bases, an implementation interface is searched by a pass over its set
/// (a few compares beat the index's binary searches); beyond, through its index.
pub(crate) const SCANNED_BASES: usize = 8;

/// The most specific default for `method` among `set`: candidates that no other candidate
/// derives from. One survivor wins; none is `Missing`; several are a diamond.
///
/// Like CoreCLR, declarations of the exact declaring interface are searched first, and
/// variance-compatible instantiations only when there are none: a class implementing both
/// `IG<string>` and `IG<object>` (`out T`) calls each one's own default, not a diamond.
pub(crate) fn most_specific_default<'a, H: Host>(
    set: impl Iterator<Item = &'a InterfaceRef<H>> + Clone,
    method: &MethodRef<H>,
) -> DefaultResolution<H> {
    let mut candidates: SmallVec<[Candidate<'a, H>; 4]> = set
        .clone()
        .filter_map(|iface| declaration(iface, method, false))
        .collect();
    if candidates.is_empty() {
        candidates = set
            .filter_map(|iface| declaration(iface, method, true))
            .collect();
    }
    pick_most_specific(candidates)
}

/// [`most_specific_default`] without a pass over the whole set: the declaring interface's
/// own default is found through `position_of` (its position in the set, if it is in it)
/// and overrides through `overrides` (built over the same set, whose `n`-th interface
/// `at(n)` returns). The set is scanned only for a method whose interface has variant
/// parameters and no exact declaration; without variant parameters that scan could only
/// find the exact declarations again.
pub(crate) fn most_specific_default_indexed<'a, H: Host>(
    set: impl Iterator<Item = &'a InterfaceRef<H>>,
    at: impl Fn(usize) -> Option<&'a InterfaceRef<H>>,
    position_of: impl Fn(u64) -> Option<usize>,
    overrides: &Overrides,
    method: &MethodRef<H>,
) -> DefaultResolution<H> {
    let own = position_of(method.key.iface);
    let mut positions: SmallVec<[usize; 4]> = own.into_iter().collect();
    positions.extend(overrides.positions(method.key));
    // Set order, as a pass over the set would find them (it names a diamond's members).
    positions.sort_unstable();
    let mut candidates: SmallVec<[Candidate<'a, H>; 4]> = positions
        .into_iter()
        .filter_map(&at)
        .filter_map(|iface| declaration(iface, method, false))
        .collect();
    if candidates.is_empty() && has_variance(method.iface.data()) {
        candidates = set
            .filter_map(|iface| declaration(iface, method, true))
            .collect();
    }
    pick_most_specific(candidates)
}

/// Where the overrides and re-abstractions of every method sit in a set of interfaces:
/// `(method, position in the set)`, sorted.
#[derive(Default)]
pub(crate) struct Overrides(Box<[(MethodKey, usize)]>);

impl Overrides {
    /// The index of the set given as each interface's own overrides, in set order.
    pub(crate) fn of<'a, H: Host + 'a>(set: impl Iterator<Item = &'a [OverrideDecl<H>]>) -> Self {
        let mut entries = Vec::new();
        for (position, overrides) in set.enumerate() {
            entries.extend(overrides.iter().map(|o| (o.target.key, position)));
        }
        entries.sort_unstable();
        Overrides(entries.into_boxed_slice())
    }

    /// The positions overriding `key`, in set order.
    fn positions(&self, key: MethodKey) -> impl Iterator<Item = usize> + '_ {
        let first = self.0.partition_point(|(k, _)| *k < key);
        self.0
            .get(first..)
            .unwrap_or_default()
            .iter()
            .take_while(move |(k, _)| *k == key)
            .map(|(_, position)| *position)
    }
}

/// The candidates that no other candidate derives from: one is the answer, none is
/// `Missing`, several are a diamond.
fn pick_most_specific<'a, H: Host>(
    candidates: SmallVec<[Candidate<'a, H>; 4]>,
) -> DefaultResolution<H> {
    let derives = |sub: &InterfaceRef<H>, sup: &InterfaceRef<H>| sub.data().has_base(sup.uid());
    let most_specific: SmallVec<[&Candidate<'a, H>; 4]> = candidates
        .iter()
        .filter(|c| {
            !candidates
                .iter()
                .any(|other| other.iface.uid() != c.iface.uid() && derives(other.iface, c.iface))
        })
        .collect();
    match most_specific.as_slice() {
        [] => DefaultResolution::Missing,
        [only] => match only.body {
            Some(body) => DefaultResolution::Body(body.clone()),
            None => DefaultResolution::Reabstracted(only.iface.data().name.clone()),
        },
        several => DefaultResolution::Ambiguous(
            several
                .iter()
                .map(|c| c.iface.data().name.clone())
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::{DynHost, Runtime, Value};

    use super::{most_specific_default, DefaultResolution};

    /// The override index finds each exact method's own override (or re-abstraction)
    /// among many, declared in an order unrelated to their keys.
    #[test]
    fn each_exact_method_resolves_to_its_own_override() {
        let rt = Runtime::<DynHost>::new();
        let bases: Vec<_> = (0..40)
            .map(|i| {
                rt.interface(&format!("IBase{i}"))
                    .abstract_method("a", 0)
                    .abstract_method("b", 0)
                    .define()
                    .unwrap()
            })
            .collect();
        let mut builder = rt.interface("IImpl");
        for base in &bases {
            builder = builder.base(base);
        }
        for (i, base) in bases.iter().enumerate().rev() {
            let value = i64::try_from(i).unwrap();
            builder = builder.override_base(base, "a", move |_| Ok(Value::Int(value)));
            if i != 7 {
                builder = builder.override_base(base, "b", move |_| Ok(Value::Int(1000 + value)));
            }
        }
        let implementation = builder.reabstract(&bases[7], "b").define().unwrap();
        let class = rt.class("C").define().unwrap();
        let obj = rt.new_object(&class, Value::Nil).unwrap();
        let set = || std::iter::once(&implementation).chain(implementation.all_bases().iter());
        for (i, base) in bases.iter().enumerate() {
            let value = i64::try_from(i).unwrap();
            for (name, expected) in [("a", value), ("b", 1000 + value)] {
                let method = base.method(name).unwrap();
                match most_specific_default(set(), &method) {
                    DefaultResolution::Body(found) => {
                        assert_eq!(
                            found.call(&obj, &[], &mut ()).unwrap(),
                            Value::Int(expected)
                        );
                    }
                    DefaultResolution::Reabstracted(r) if (i, name) == (7, "b") => {
                        assert_eq!(&*r, "IImpl");
                    }
                    _ => panic!("{name} of IBase{i}: not its own override"),
                }
            }
        }
    }
}
