//! String dictionaries for the event table's columns: each distinct string is stored once, in
//! one arena, and rows hold its `u32` id.
//!
//! A column such as `visitorId` has about a million distinct values; a `HashMap<Box<str>, u32>`
//! would cost a separate allocation and a second copy of every string. Here the index maps 32
//! bits of a per-dictionary randomly keyed hash to the id (8 bytes a slot), and the rare string
//! whose slot is taken by another string goes to a small spill map, so lookups stay exact.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// The id rows use for a missing value.
pub(crate) const MISSING: u32 = u32::MAX;

/// Hashes the index's `u32` keys, which are already keyed SipHash bits, with one multiply: the
/// table takes its bucket from the low bits and a tag from the top seven, so both must vary.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u32` keys are hashed with this; fold anything else rather than panic.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PassThroughMap<V> = HashMap<u32, V, BuildHasherDefault<PassThrough>>;

#[derive(Debug, Clone, Default)]
pub(crate) struct Dict {
    arena: String,
    /// End offset in `arena` of each entry; an entry starts where the previous one ends.
    ends: Vec<u32>,
    index: PassThroughMap<u32>,
    spill: HashMap<Box<str>, u32>,
    state: RandomState,
}

impl Dict {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The string of an id; empty for an id that is not in the dictionary.
    pub(crate) fn get(&self, id: u32) -> &str {
        let i = id as usize;
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.arena.get(start as usize..end as usize).unwrap_or("")
    }

    fn key(&self, s: &str) -> u32 {
        self.state.hash_one(s) as u32
    }

    pub(crate) fn find(&self, s: &str) -> Option<u32> {
        let h = self.key(s);
        match self.index.get(&h) {
            Some(&id) if self.get(id) == s => Some(id),
            _ => self.spill.get(s).copied(),
        }
    }

    /// The id of `s`, added if new. `MISSING` only if the dictionary is full (4 billion
    /// entries or 4 GiB of text), in which case the value reads as missing rather than aliasing
    /// another.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let h = self.key(s);
        if let Some(&id) = self.index.get(&h) {
            if self.get(id) == s {
                return id;
            }
            if let Some(&id) = self.spill.get(s) {
                return id;
            }
        }
        let Ok(id) = u32::try_from(self.ends.len()) else {
            return MISSING;
        };
        let Ok(end) = u32::try_from(self.arena.len() + s.len()) else {
            return MISSING;
        };
        if id == MISSING {
            return MISSING;
        }
        // Grow by a quarter rather than doubling, as the columns do.
        if self.arena.capacity() - self.arena.len() < s.len() {
            self.arena
                .reserve_exact((self.arena.len() / 4).max(s.len()).max(4096));
        }
        self.arena.push_str(s);
        crate::columns::push_row(&mut self.ends, end);
        match self.index.entry(h) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.spill.insert(s.into(), id);
            }
        }
        id
    }

    /// Heap bytes held, counting hash tables by capacity.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.arena.capacity()
            + self.ends.capacity() * size_of::<u32>()
            + self.index.capacity() * (size_of::<(u32, u32)>() + 1)
            + self
                .spill
                .keys()
                .map(|k| k.len() + size_of::<(Box<str>, u32)>() + 1)
                .sum::<usize>()
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.arena.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.index.shrink_to_fit();
        self.spill.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_and_finds() {
        let mut d = Dict::default();
        let a = d.intern("alpha");
        let b = d.intern("");
        let c = d.intern("gamma");
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(d.intern("alpha"), a);
        assert_eq!(d.get(b), "");
        assert_eq!(d.get(c), "gamma");
        assert_eq!(d.find("gamma"), Some(c));
        assert_eq!(d.find("delta"), None);
        assert_eq!(d.get(99), "");
    }

    #[test]
    fn a_taken_hash_slot_spills_and_stays_exact() {
        let mut d = Dict::default();
        let a = d.intern("first");
        // Pretend "second" collides with "first": point its hash at "first"'s id.
        let h = d.key("second");
        d.index.insert(h, a);
        let b = d.intern("second");
        assert_ne!(a, b);
        assert_eq!(d.find("second"), Some(b));
        assert_eq!(d.intern("second"), b);
        assert_eq!(d.find("first"), Some(a));
    }
}
