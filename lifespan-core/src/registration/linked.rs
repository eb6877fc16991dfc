//! The registrations collected at link time, indexed once per process: in the order apps run
//! them, and by name.
//!
//! They cannot change while the process runs, so that no app sorts them, and no registration by
//! hand scans them for its name.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::registration::entry::{collected, Entry, Registration};

/// The link-time registrations, indexed at the first start or registration by hand of the
/// process.
pub(crate) struct Linked {
    /// An entry per registration, in the order apps run them: modules by path, then source
    /// order within a module (file, line), then name; never the link-time iteration order.
    in_order: Vec<Entry>,
    /// The modules of `in_order`, in order: a module selection reads these rather than each
    /// registration.
    modules: Vec<Module>,
    /// The registrations by name, built at the first registration by hand: an app that only
    /// runs what is linked never hashes a name.
    names: OnceLock<Names>,
}

/// A module's path, and the range of its entries in the order apps run them.
pub(crate) struct Module {
    pub(crate) path: &'static str,
    pub(crate) entries: std::ops::Range<usize>,
}

/// The runs of one module path in `registrations`, which are sorted by it.
fn module_runs(registrations: impl Iterator<Item = &'static Registration>) -> Vec<Module> {
    let mut modules: Vec<Module> = Vec::new();
    for (index, registration) in registrations.enumerate() {
        let path = registration.info().module_path;
        match modules.last_mut() {
            Some(last) if same_or(last.path, path) == Ordering::Equal => {
                last.entries.end = index + 1
            }
            _ => modules.push(Module {
                path,
                entries: index..index + 1,
            }),
        }
    }
    modules
}

/// The link-time registrations by name.
struct Names {
    /// The registration of each name (the first in link-time iteration order).
    by_name: HashMap<&'static str, &'static Registration>,
    /// Every registration of each name that has several (two versions of a crate), in
    /// link-time iteration order; usually empty.
    several: HashMap<&'static str, Vec<&'static Registration>>,
}

impl Names {
    fn index() -> Names {
        let mut by_name = HashMap::new();
        let mut several: HashMap<_, Vec<_>> = HashMap::new();
        for registration in collected() {
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
        Names { by_name, several }
    }
}

impl Linked {
    /// The index, built on the first call.
    pub(crate) fn get() -> &'static Linked {
        static LINKED: OnceLock<Linked> = OnceLock::new();
        LINKED.get_or_init(Linked::index)
    }

    fn index() -> Linked {
        let registrations: Vec<&'static Registration> = collected().collect();
        let ranks = place_ranks(&registrations);
        // Place and line packed in one key; the position in link-time iteration order breaks
        // the last ties, so that the unstable sort orders as a stable one would.
        let mut in_order: Vec<(u64, u32, &'static Registration)> = ranks
            .into_iter()
            .zip(registrations)
            .enumerate()
            .map(|(position, (rank, registration))| {
                let key = (u64::from(rank) << 32) | u64::from(registration.place().2);
                (key, position as u32, registration)
            })
            .collect();
        // The strings are compared once per place (module and file), not once per comparison.
        let order = |(a_key, a_position, a): &(u64, u32, &Registration),
                     (b_key, b_position, b): &(u64, u32, &Registration)| {
            a_key
                .cmp(b_key)
                .then_with(|| same_or(a.name(), b.name()))
                .then(a_position.cmp(b_position))
        };
        // Link-time iteration is often the source order, or its reverse: then no sort is needed.
        if !in_order.is_sorted_by(|a, b| order(a, b).is_le()) {
            in_order.sort_unstable_by(order);
        }
        let modules = module_runs(in_order.iter().map(|(_, _, registration)| *registration));
        Linked {
            in_order: in_order
                .into_iter()
                .map(|(_, _, registration)| Registration::entry(registration))
                .collect(),
            modules,
            names: OnceLock::new(),
        }
    }

    /// The modules, in order, each with the range of its entries in [`in_order`](Self::in_order).
    pub(crate) fn modules(&'static self) -> &'static [Module] {
        &self.modules
    }

    /// Every registration's entry, in the order apps run them.
    pub(crate) fn in_order(&'static self) -> &'static [Entry] {
        &self.in_order
    }

    /// The registrations named `name`, in link-time iteration order.
    pub(crate) fn named(&'static self, name: &str) -> &'static [&'static Registration] {
        if self.in_order.is_empty() {
            return &[];
        }
        let names = self.names.get_or_init(Names::index);
        if !names.several.is_empty() {
            if let Some(registrations) = names.several.get(name) {
                return registrations;
            }
        }
        names.by_name.get(name).map_or(&[], std::slice::from_ref)
    }
}

/// The rank of each registration's place (its module path, then its file) among the places of
/// all: registrations with equal places get equal ranks. The registrations of one module are
/// usually adjacent and share their strings, so each place is looked up once per run of them.
fn place_ranks(registrations: &[&'static Registration]) -> Vec<u32> {
    type Place = (&'static str, &'static str);
    let key = |(module, file): Place| (module.as_ptr(), module.len(), file.as_ptr(), file.len());
    let mut places: Vec<Place> = Vec::new();
    let mut ids = HashMap::new();
    let mut last: Option<(Place, u32)> = None;
    let of_each: Vec<u32> = registrations
        .iter()
        .map(|registration| {
            let (module, file, _) = registration.place();
            let place = (module, file);
            if let Some((seen, id)) = last {
                if key(seen) == key(place) {
                    return id;
                }
            }
            let id = *ids.entry(key(place)).or_insert_with(|| {
                places.push(place);
                places.len() as u32 - 1
            });
            last = Some((place, id));
            id
        })
        .collect();
    // Places sorted by their text; equal texts (one string at two addresses) share a rank.
    let mut sorted: Vec<u32> = (0..places.len() as u32).collect();
    sorted.sort_by(|&a, &b| compare_places(places[a as usize], places[b as usize]));
    let mut rank_of = vec![0u32; places.len()];
    let mut rank = 0;
    for (position, &id) in sorted.iter().enumerate() {
        if position > 0 {
            let before = places[sorted[position - 1] as usize];
            if compare_places(before, places[id as usize]) != Ordering::Equal {
                rank += 1;
            }
        }
        rank_of[id as usize] = rank;
    }
    of_each.into_iter().map(|id| rank_of[id as usize]).collect()
}

/// Two places in the order apps run registrations: by module path, then file.
fn compare_places(a: (&str, &str), b: (&str, &str)) -> Ordering {
    same_or(a.0, b.0).then_with(|| same_or(a.1, b.1))
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
