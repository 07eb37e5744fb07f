//! String dictionaries for the event table's columns: each distinct string is stored once, in
//! one arena, and rows hold its `u32` id.
//!
//! A column such as `visitorId` has about a million distinct values; a `HashMap<Box<str>, u32>`
//! would cost a separate allocation and a second copy of every string. Here the index maps a
//! (per-dictionary randomly keyed) 64-bit hash to the id, and the rare string whose hash slot
//! is taken by another string goes to a small spill map, so lookups stay exact.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// The id rows use for a missing value.
pub(crate) const MISSING: u32 = u32::MAX;

/// Passes a `u64` key through: the keys are already keyed SipHash outputs.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with this; fold anything else rather than panic.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type PassThroughMap<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

#[derive(Debug, Clone, Default)]
pub(crate) struct Dict {
    arena: String,
    /// End offset in `arena` of each entry; an entry starts where the previous one ends.
    ends: Vec<usize>,
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
        &self.arena[start..end]
    }

    pub(crate) fn find(&self, s: &str) -> Option<u32> {
        let h = self.state.hash_one(s);
        match self.index.get(&h) {
            Some(&id) if self.get(id) == s => Some(id),
            _ => self.spill.get(s).copied(),
        }
    }

    /// The id of `s`, added if new. `MISSING` only if the dictionary is full (4 billion
    /// entries), in which case the value reads as missing rather than aliasing another.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let h = self.state.hash_one(s);
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
        if id == MISSING {
            return MISSING;
        }
        self.arena.push_str(s);
        self.ends.push(self.arena.len());
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
            + self.ends.capacity() * size_of::<usize>()
            + self.index.capacity() * (size_of::<(u64, u32)>() + 1)
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
        let h = d.state.hash_one("second");
        d.index.insert(h, a);
        let b = d.intern("second");
        assert_ne!(a, b);
        assert_eq!(d.find("second"), Some(b));
        assert_eq!(d.intern("second"), b);
        assert_eq!(d.find("first"), Some(a));
    }
}
