//! The name of a task or context: cheap to clone, whether written in the source or made at run
//! time.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::ops::Deref;
use std::sync::Arc;

/// The name of a task or context: its function's full path for a macro registration, or what
/// it was [registered](crate::App::register_task) under. Reads as a `&str`; cloning it never
/// allocates, so that starting and stopping tasks does not copy names.
///
/// ```
/// use lifespan_core::Name;
///
/// let name = Name::from(String::from("jobs::poll"));
/// assert_eq!(name, "jobs::poll");
/// assert!(name.ends_with("::poll"));
/// ```
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Name {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(name) => name,
            Repr::Shared(name) => name,
        }
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Name {
    fn from(name: &'static str) -> Self {
        Name(Repr::Static(name))
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Name(Repr::Shared(name.into()))
    }
}

impl From<Cow<'static, str>> for Name {
    fn from(name: Cow<'static, str>) -> Self {
        match name {
            Cow::Borrowed(name) => name.into(),
            Cow::Owned(name) => name.into(),
        }
    }
}

/// Why `name` cannot name a task or context, if it cannot: it is empty, or it holds a character
/// that would forge or garble the log lines it is written into ([`forbidden`]).
pub(crate) fn problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".to_owned());
    }
    let (at, c) = name.char_indices().find(|&(_, c)| forbidden(c))?;
    Some(format!(
        "the name contains {c:?} (U+{:04X}) at byte {at}: a control character, line separator or \
         bidirectional control would forge or garble the log lines the name is written into",
        u32::from(c)
    ))
}

/// Whether a name may not hold `c`: a control character (a newline, a carriage return, an
/// escape, ...), a line or paragraph separator, or a bidirectional control, which reorders text.
pub(crate) fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// A set of distinct names, kept as indices into a list of them that its owner holds: a
/// constant-time check that a name is not taken, at 4 to 11 bytes a name, where a
/// `HashSet<Name>` would keep a copy of each (24 bytes a slot).
#[derive(Default)]
pub(crate) struct NameIndex {
    /// Open addressing with linear probing, never more than 3/4 full; a power of two long. 0 is
    /// a free slot, any other value an index plus one.
    slots: Vec<u32>,
    len: usize,
    hasher: RandomState,
}

impl NameIndex {
    /// Whether `name` is in the set; `name_at` gives the name of each index added.
    pub(crate) fn contains<'a>(&self, name: &str, name_at: impl Fn(u32) -> &'a str) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.hasher.hash_one(name) as usize & mask;
        loop {
            match self.slots[at] {
                0 => return false,
                slot if name_at(slot - 1) == name => return true,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Adds `index` (below `u32::MAX`), whose name, `name_at(index)`, is not in the set yet.
    pub(crate) fn insert<'a>(&mut self, index: u32, name_at: impl Fn(u32) -> &'a str) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let grown = vec![0; (self.slots.len() * 2).max(8)];
            let slots = std::mem::replace(&mut self.slots, grown);
            for slot in slots.into_iter().filter(|&slot| slot != 0) {
                self.place(slot - 1, name_at(slot - 1));
            }
        }
        self.place(index, name_at(index));
        self.len += 1;
    }

    fn place(&mut self, index: u32, name: &str) {
        let mask = self.slots.len() - 1;
        let mut at = self.hasher.hash_one(name) as usize & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = index + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_is_empty_or_holds_a_control_character_has_a_problem() {
        assert_eq!(problem(""), Some("the name is empty".to_owned()));
        let newline = problem("poll\nINFO forged").unwrap();
        assert!(
            newline.starts_with("the name contains '\\n' (U+000A) at byte 4: "),
            "{newline}"
        );
        for name in [
            "a\rb",
            "\u{1b}[31mred",
            "tab\t",
            "del\u{7f}",
            "a\u{2028}b",
            "\u{202E}evil",
        ] {
            assert!(problem(name).is_some(), "{name:?}");
        }
        for name in [
            "poller",
            "jobs::poll",
            "stats reporter",
            "Bäckerei 🍞",
            "a-b_c.d",
        ] {
            assert_eq!(problem(name), None, "{name:?}");
        }
    }

    #[test]
    fn a_name_index_finds_every_name_added_and_no_other() {
        let names: Vec<String> = (0..1_000).map(|i| format!("task{i}")).collect();
        let mut index = NameIndex::default();
        let name_at = |at: u32| names[at as usize].as_str();
        for (at, name) in names.iter().enumerate() {
            assert!(!index.contains(name, name_at), "{name}");
            index.insert(at as u32, name_at);
            assert!(index.contains(name, name_at), "{name}");
        }
        assert!(names.iter().all(|name| index.contains(name, name_at)));
        assert!(!index.contains("task1000", name_at));
        assert!(!index.contains("", name_at));
        assert_eq!(index.slots.len(), 2_048);
    }
}
