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
    Inline(Short),
    Heap(Box<str>),
}

/// A short node id's bytes. Aligned to 8 so that a copy moves three whole
/// words: unaligned, the compiler copied the 23 bytes in overlapping
/// 4-byte pieces through the stack, whose stalls made cloning a
/// `WriteQuorum` most of what the protocol core's write cost beyond routing
/// (docs/performance.md, "The protocol core").
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Short {
    len: u8,
    bytes: [u8; INLINE_NAME],
}

impl Name {
    fn new(name: &str) -> Self {
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= INLINE_NAME => {
                let mut bytes = [0; INLINE_NAME];
                bytes[..name.len()].copy_from_slice(name.as_bytes());
                Name::Inline(Short { len, bytes })
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
            Name::Inline(short) => &short.bytes[..usize::from(short.len)],
            Name::Heap(name) => name.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Always valid: the bytes were copied whole from a `str`.
            Name::Inline(_) => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Name::Heap(name) => name,
        }
    }
}

impl Default for Name {
    fn default() -> Self {
        Name::Inline(Short {
            len: 0,
            bytes: [0; INLINE_NAME],
        })
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

/// The distinct expected copies of a write, in the order given, and what
/// each said first.
///
/// `repr(C)`, answers first: in a slot of `PendingWrites`, the lock, the
/// write's id, its counters and these answers (everything an answer
/// writes) share the slot's first 128 bytes, and the names, which answers
/// only read, come after.
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Copies {
    answers: [Answer; INLINE_COPIES],
    /// The copies inline; 0 once they moved to `spill`.
    len: u32,
    names: [Name; INLINE_COPIES],
    /// Every copy, once there are more than [`INLINE_COPIES`].
    spill: Option<Box<Spill>>,
}

/// The copies of a write to more than [`INLINE_COPIES`] nodes.
#[derive(Clone)]
struct Spill {
    answers: Vec<Answer>,
    names: Vec<Name>,
    /// Node id to position, only past [`SCAN_LIMIT`] copies.
    index: Option<HashMap<Box<str>, usize>>,
}

impl Copies {
    pub(crate) fn new() -> Self {
        Copies {
            answers: [Answer::Missing; INLINE_COPIES],
            len: 0,
            names: Default::default(),
            spill: None,
        }
    }

    fn names(&self) -> &[Name] {
        match &self.spill {
            Some(spill) => &spill.names,
            None => &self.names[..self.len as usize],
        }
    }

    pub(crate) fn answers(&self) -> &[Answer] {
        match &self.spill {
            Some(spill) => &spill.answers,
            None => &self.answers[..self.len as usize],
        }
    }

    pub(crate) fn answer_mut(&mut self, i: usize) -> Option<&mut Answer> {
        match &mut self.spill {
            Some(spill) => spill.answers.get_mut(i),
            None => self.answers[..self.len as usize].get_mut(i),
        }
    }

    /// Each copy's node id, in order.
    pub(crate) fn ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.names().iter().map(Name::as_str)
    }

    /// Each copy's node id and first answer, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, Answer)> + '_ {
        self.ids().zip(self.answers().iter().copied())
    }

    pub(crate) fn len(&self) -> usize {
        self.names().len()
    }

    /// Where `node` is among the copies.
    pub(crate) fn position(&self, node: &str) -> Option<usize> {
        if let Some(index) = self.spill.as_ref().and_then(|spill| spill.index.as_ref()) {
            return index.get(node).copied();
        }
        self.names()
            .iter()
            .position(|name| name.as_bytes() == node.as_bytes())
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
        let inline = self.len as usize;
        if self.spill.is_none() && inline < INLINE_COPIES {
            self.names[inline] = name;
            self.answers[inline] = Answer::Missing;
            self.len += 1;
            return;
        }
        let spill = self.spill.get_or_insert_with(|| {
            let mut names = Vec::with_capacity(INLINE_COPIES * 2);
            names.extend(self.names.iter_mut().map(std::mem::take));
            Box::new(Spill {
                answers: self.answers.to_vec(),
                names,
                index: None,
            })
        });
        self.len = 0;
        let at = spill.names.len();
        if let Some(index) = spill.index.as_mut() {
            index.insert(name.as_str().into(), at);
        } else if at == SCAN_LIMIT {
            let mut index: HashMap<Box<str>, usize> = spill
                .names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.as_str().into(), i))
                .collect();
            index.insert(name.as_str().into(), at);
            spill.index = Some(index);
        }
        spill.names.push(name);
        spill.answers.push(Answer::Missing);
    }
}

#[cfg(test)]
impl Copies {
    /// Where the `n`th inline answer ends, in bytes from the start.
    pub(crate) fn answers_end(n: usize) -> usize {
        std::mem::offset_of!(Copies, answers) + n * std::mem::size_of::<Answer>()
    }
}

impl fmt::Debug for Copies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
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
            assert_eq!(copies.ids().next(), Some(name));
            assert_eq!(copies.position(name), Some(0));
        }
        assert!(matches!(Name::new(&long), Name::Heap(_)));
        assert!(matches!(Name::new("node-17"), Name::Inline(_)));
    }

    #[test]
    fn copies_spill_to_the_heap_and_then_to_an_index_in_order() {
        let mut copies = Copies::new();
        let names: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            copies.insert_string(name.clone());
            copies.insert(name);
            assert_eq!(copies.len(), i + 1, "listed twice counts once");
            assert_eq!(copies.spill.is_none(), i < INLINE_COPIES);
            let indexed = copies.spill.as_ref().is_some_and(|s| s.index.is_some());
            assert_eq!(indexed, i >= SCAN_LIMIT);
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(copies.position(name), Some(i));
            assert_eq!(copies.ids().nth(i), Some(name.as_str()));
        }
        assert_eq!(copies.position("n40"), None);
    }
}
