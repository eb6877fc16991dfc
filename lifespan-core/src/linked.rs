//! The registrations collected at link time, indexed once per process: in the order apps run
//! them, and by name.
//!
//! They cannot change while the process runs, so that no app sorts them, and no registration by
//! hand scans them for its name.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::registration::{collected, Entry, Registration};

/// The link-time registrations, indexed at the first start or registration by hand of the
/// process.
pub(crate) struct Linked {
    /// An entry per registration, in the order apps run them: modules by path, then source
    /// order within a module (file, line), then name; never the link-time iteration order.
    in_order: Vec<Entry>,
    /// The registration of each name (the first in link-time iteration order).
    by_name: HashMap<&'static str, &'static Registration>,
    /// Every registration of each name that has several (two versions of a crate), in
    /// link-time iteration order; usually empty.
    several: HashMap<&'static str, Vec<&'static Registration>>,
}

impl Linked {
    /// The index, built on the first call.
    pub(crate) fn get() -> &'static Linked {
        static LINKED: OnceLock<Linked> = OnceLock::new();
        LINKED.get_or_init(Linked::index)
    }

    fn index() -> Linked {
        let mut in_order: Vec<&'static Registration> = collected().collect();
        let mut by_name = HashMap::with_capacity(in_order.len());
        let mut several: HashMap<_, Vec<_>> = HashMap::new();
        for &registration in &in_order {
            let name = registration.name();
            if let Some(&first) = by_name.get(name) {
                several
                    .entry(name)
                    .or_insert_with(|| vec![first])
                    .push(registration);
            } else {
                by_name.insert(name, registration);
            }
        }
        // Stable: registrations equal in all of these stay in link-time iteration order.
        in_order.sort_by(|a, b| source_order(a, b));
        Linked {
            in_order: in_order.into_iter().map(Registration::entry).collect(),
            by_name,
            several,
        }
    }

    /// Every registration's entry, in the order apps run them.
    pub(crate) fn in_order(&'static self) -> &'static [Entry] {
        &self.in_order
    }

    /// The entries that may be in module `prefix` or in a module nested in it: those whose
    /// module path starts with `prefix` (which `a::bc` does for `a::b`: check each with
    /// [`RegistrationInfo::is_within`](crate::registration::RegistrationInfo::is_within)).
    pub(crate) fn around_module(&'static self, prefix: &str) -> &'static [Entry] {
        let prefix = prefix.trim_end_matches("::");
        let module = |entry: &Entry| entry.registration().map_or("", |r| r.info().module_path);
        // Sorted by module path first: the paths that start with `prefix` are contiguous.
        let start = self
            .in_order
            .partition_point(|entry| module(entry) < prefix);
        let rest = &self.in_order[start..];
        &rest[..rest.partition_point(|entry| module(entry).starts_with(prefix))]
    }

    /// The registrations named `name`, in link-time iteration order.
    pub(crate) fn named(&'static self, name: &str) -> &'static [&'static Registration] {
        if self.by_name.is_empty() {
            return &[];
        }
        if !self.several.is_empty() {
            if let Some(registrations) = self.several.get(name) {
                return registrations;
            }
        }
        self.by_name.get(name).map_or(&[], std::slice::from_ref)
    }
}

/// The order apps run registrations in: by module path, file, line, then name.
fn source_order(a: &Registration, b: &Registration) -> Ordering {
    let (a_module, a_file, a_line) = a.place();
    let (b_module, b_file, b_line) = b.place();
    same_or(a_module, b_module)
        .then_with(|| same_or(a_file, b_file))
        .then(a_line.cmp(&b_line))
        .then_with(|| same_or(a.name(), b.name()))
}

/// `a` against `b`, without reading them if they are one string (the module paths and files
/// of the registrations of one module usually are).
fn same_or(a: &str, b: &str) -> Ordering {
    if std::ptr::eq(a, b) {
        Ordering::Equal
    } else {
        a.cmp(b)
    }
}
