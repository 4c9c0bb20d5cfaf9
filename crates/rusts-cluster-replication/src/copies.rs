//! How a [`WriteQuorum`](crate::WriteQuorum) keeps its expected copies and
//! what each said: inline, with no heap allocation, for up to
//! [`INLINE_COPIES`] copies whose ids are at most [`INLINE_NAME`] bytes.
//!
//! A write's quorum is built on the thread that sends the write and dropped
//! on whichever network thread decides it. Every allocation it owned would
//! be freed on a thread other than its own, which is what kept the table of
//! in-flight writes from scaling past one thread
//! (`docs/decisions/0010-in-flight-writes-in-slots.md`).

use std::{collections::HashMap, fmt};

/// Node ids up to this many bytes are stored inline.
pub(crate) const INLINE_NAME: usize = 22;

/// Writes to up to this many copies keep them inline: a replication factor
/// of 5, or 4 plus a copy being moved in.
pub(crate) const INLINE_COPIES: usize = 5;

/// Past this many copies a write looks its nodes up in a hash map instead
/// of scanning them, so a hostile or huge node list stays linear. Real
/// shards have a handful of copies, where the scan is cheaper than hashing
/// (the same limit as `check_quorum`'s first-answer scan,
/// `docs/decisions/0002-quorum-counts-distinct-copies.md`).
const SCAN_LIMIT: usize = 16;

/// A node id: inline when short, else on the heap.
#[derive(Clone)]
enum Name {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(Box<str>),
}

impl Name {
    fn new(name: &str) -> Self {
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= INLINE_NAME => {
                let mut bytes = [0; INLINE_NAME];
                bytes[..name.len()].copy_from_slice(name.as_bytes());
                Name::Inline { len, bytes }
            }
            _ => Name::Heap(name.into()),
        }
    }

    /// Keeps `name`'s allocation when it is too long to be inline.
    fn from_string(name: String) -> Self {
        if name.len() <= INLINE_NAME {
            Name::new(&name)
        } else {
            Name::Heap(name.into_boxed_str())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Name::Heap(name) => name.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Always valid: the bytes were copied whole from a `str`.
            Name::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Name::Heap(name) => name,
        }
    }
}

impl Default for Name {
    fn default() -> Self {
        Name::Inline {
            len: 0,
            bytes: [0; INLINE_NAME],
        }
    }
}

/// What one expected copy has said so far: its first answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Answer {
    #[default]
    Missing,
    Given {
        success: bool,
        /// The answer's place among the write's first answers.
        order: u32,
        latency_ms: u64,
    },
}

/// One expected copy.
#[derive(Clone, Default)]
pub(crate) struct Expected {
    name: Name,
    pub(crate) answer: Answer,
}

impl Expected {
    pub(crate) fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The node id as an owned string, for a result.
    pub(crate) fn name_string(&self) -> String {
        self.name.as_str().to_owned()
    }
}

impl fmt::Debug for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:?}", self.name.as_str(), self.answer)
    }
}

#[derive(Clone)]
enum Storage {
    Inline {
        len: u8,
        items: [Expected; INLINE_COPIES],
    },
    Heap(Vec<Expected>),
}

/// The distinct expected copies of a write, in the order given.
#[derive(Clone)]
pub(crate) struct Copies {
    storage: Storage,
    /// Node id to position, only past [`SCAN_LIMIT`] copies.
    #[allow(
        clippy::box_collection,
        reason = "boxed, the index costs every quorum 8 bytes instead of 48, in every slot \
                  of the table of in-flight writes; only quorums of over 16 copies build it"
    )]
    index: Option<Box<HashMap<Box<str>, usize>>>,
}

impl Copies {
    pub(crate) fn new() -> Self {
        Copies {
            storage: Storage::Inline {
                len: 0,
                items: Default::default(),
            },
            index: None,
        }
    }

    pub(crate) fn as_slice(&self) -> &[Expected] {
        match &self.storage {
            Storage::Inline { len, items } => &items[..usize::from(*len)],
            Storage::Heap(items) => items,
        }
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Expected> {
        match &mut self.storage {
            Storage::Inline { len, items } => items[..usize::from(*len)].get_mut(i),
            Storage::Heap(items) => items.get_mut(i),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Where `node` is among the copies.
    pub(crate) fn position(&self, node: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(node).copied(),
            None => self
                .as_slice()
                .iter()
                .position(|copy| copy.name.as_bytes() == node.as_bytes()),
        }
    }

    /// Adds `node` unless it is there already.
    pub(crate) fn insert(&mut self, node: &str) {
        if self.position(node).is_none() {
            self.push(Name::new(node));
        }
    }

    /// [`insert`](Self::insert), keeping `node`'s allocation when it is
    /// too long to be inline.
    pub(crate) fn insert_string(&mut self, node: String) {
        if self.position(&node).is_none() {
            self.push(Name::from_string(node));
        }
    }

    fn push(&mut self, name: Name) {
        let at = self.len();
        if let Some(index) = self.index.as_mut() {
            index.insert(name.as_str().into(), at);
        } else if at == SCAN_LIMIT {
            let mut index: HashMap<Box<str>, usize> = self
                .as_slice()
                .iter()
                .enumerate()
                .map(|(i, copy)| (copy.name.as_str().into(), i))
                .collect();
            index.insert(name.as_str().into(), at);
            self.index = Some(Box::new(index));
        }
        let copy = Expected {
            name,
            answer: Answer::Missing,
        };
        match &mut self.storage {
            Storage::Inline { len, items } if usize::from(*len) < INLINE_COPIES => {
                items[usize::from(*len)] = copy;
                *len += 1;
            }
            Storage::Inline { items, .. } => {
                let mut heap = Vec::with_capacity(INLINE_COPIES * 2);
                heap.extend(items.iter_mut().map(std::mem::take));
                heap.push(copy);
                self.storage = Storage::Heap(heap);
            }
            Storage::Heap(items) => items.push(copy),
        }
    }
}

impl fmt::Debug for Copies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_inline_and_on_the_heap() {
        let long = "x".repeat(INLINE_NAME + 1);
        for name in ["", "a", "node-17", "é✓", &"y".repeat(INLINE_NAME), &long] {
            let mut copies = Copies::new();
            copies.insert(name);
            assert_eq!(copies.as_slice()[0].name(), name);
            assert_eq!(copies.position(name), Some(0));
        }
        assert!(matches!(Name::new(&long), Name::Heap(_)));
        assert!(matches!(Name::new("node-17"), Name::Inline { .. }));
    }

    #[test]
    fn copies_spill_to_the_heap_and_then_to_an_index_in_order() {
        let mut copies = Copies::new();
        let names: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            copies.insert_string(name.clone());
            copies.insert(name);
            assert_eq!(copies.len(), i + 1, "listed twice counts once");
            assert_eq!(
                matches!(copies.storage, Storage::Inline { .. }),
                i < INLINE_COPIES
            );
            assert_eq!(copies.index.is_some(), i >= SCAN_LIMIT);
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(copies.position(name), Some(i));
            assert_eq!(copies.as_slice()[i].name(), name);
        }
        assert_eq!(copies.position("n40"), None);
    }
}
