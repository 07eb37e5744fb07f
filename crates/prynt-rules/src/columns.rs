//! Column storage for the event table: each column keeps the narrowest representation that
//! holds every value pushed so far exactly, and grows by a quarter at a time.
//!
//! Exactness matters: a backtest must reach the same answer as evaluating the event's facts, so
//! a number is stored narrow only when reading it back gives the very same `f64`. The events'
//! numbers are mostly small counts and values rounded to a few decimals (scores to 1/1000,
//! confidence to 1/10000, travel speed to 1/10), which fit in 16 bits as `k / scale`.

use std::sync::Arc;

use crate::dict::MISSING;

/// Appends with 25% headroom instead of `Vec`'s doubling: a column of a million rows would
/// otherwise carry up to a million unused slots. Still amortised constant time.
pub(crate) fn push_row<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(1024));
    }
    v.push(x);
}

/// Keeps the rows whose `keep` is true (a missing flag keeps the row), then frees the slack.
pub(crate) fn retain_vec<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    // `retain` visits every element once, in order.
    v.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(true);
        i += 1;
        k
    });
    v.shrink_to_fit();
}

/// A byte-column value standing for missing: booleans use 0 and 1, small integers 0..=254.
pub(crate) const BOOL_MISSING: u8 = 2;
pub(crate) const U8_MISSING: u8 = u8::MAX;
pub(crate) const U16_MISSING: u16 = u16::MAX;

/// The representations a number column can take, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Repr {
    U8,
    /// `k / scale` for `k` in 0..=65534.
    U16(u32),
    F32,
    F64,
}

const REPRS: [Repr; 8] = [
    Repr::U8,
    Repr::U16(1),
    Repr::U16(10),
    Repr::U16(100),
    Repr::U16(1_000),
    Repr::U16(10_000),
    Repr::F32,
    Repr::F64,
];

/// `k` when `x == k / scale` exactly, with `k` in 0..=65534.
fn scaled(x: f64, scale: u32) -> Option<u16> {
    let s = f64::from(scale);
    let k = (x * s).round();
    if !(0.0..=65_534.0).contains(&k) {
        return None;
    }
    (k / s == x).then_some(k as u16)
}

impl Repr {
    fn holds(self, x: f64) -> bool {
        match self {
            Repr::U8 => (0.0..=254.0).contains(&x) && x.fract() == 0.0,
            Repr::U16(scale) => scaled(x, scale).is_some(),
            Repr::F32 => f64::from(x as f32) == x,
            Repr::F64 => true,
        }
    }
}

/// A number column; every variant reads back the exact `f64` pushed (-0 reads as 0, which
/// every comparison treats alike).
#[derive(Debug, Clone)]
pub(crate) enum NumCol {
    /// Integers 0..=254; 255 is missing.
    U8(Vec<u8>),
    /// `k / scale`; 65535 is missing.
    U16 {
        scale: u32,
        v: Vec<u16>,
    },
    /// `NaN` is missing.
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Default for NumCol {
    fn default() -> Self {
        NumCol::U8(Vec::new())
    }
}

impl NumCol {
    fn repr(&self) -> Repr {
        match self {
            NumCol::U8(_) => Repr::U8,
            NumCol::U16 { scale, .. } => Repr::U16(*scale),
            NumCol::F32(_) => Repr::F32,
            NumCol::F64(_) => Repr::F64,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            NumCol::U8(v) => v.len(),
            NumCol::U16 { v, .. } => v.len(),
            NumCol::F32(v) => v.len(),
            NumCol::F64(v) => v.len(),
        }
    }

    pub(crate) fn push(&mut self, x: Option<f64>) {
        if let Some(x) = x {
            if !self.repr().holds(x) {
                self.widen(x);
            }
        }
        match self {
            NumCol::U8(c) => push_row(c, x.map_or(U8_MISSING, |x| x as u8)),
            NumCol::U16 { scale, v } => {
                push_row(v, x.and_then(|x| scaled(x, *scale)).unwrap_or(U16_MISSING))
            }
            NumCol::F32(c) => push_row(c, x.map_or(f32::NAN, |x| x as f32)),
            NumCol::F64(c) => push_row(c, x.unwrap_or(f64::NAN)),
        }
    }

    /// Moves to the narrowest representation after the current one that holds `x` and every
    /// value so far. The set of representations that hold everything only shrinks as values
    /// arrive, so a column widens at most seven times: amortised constant time.
    fn widen(&mut self, x: f64) {
        let from = REPRS.iter().position(|r| *r == self.repr()).unwrap_or(0);
        let n = self.len();
        let target = REPRS[from + 1..]
            .iter()
            .copied()
            .find(|r| r.holds(x) && (0..n).all(|i| self.get(i).is_none_or(|y| r.holds(y))))
            .unwrap_or(Repr::F64);
        let values = (0..n).map(|i| self.get(i));
        let mut next = match target {
            Repr::U8 => NumCol::U8(Vec::with_capacity(n)),
            Repr::U16(scale) => NumCol::U16 {
                scale,
                v: Vec::with_capacity(n),
            },
            Repr::F32 => NumCol::F32(Vec::with_capacity(n)),
            Repr::F64 => NumCol::F64(Vec::with_capacity(n)),
        };
        for y in values {
            next.push(y);
        }
        *self = next;
    }

    pub(crate) fn get(&self, row: usize) -> Option<f64> {
        let x = match self {
            NumCol::U8(c) => match *c.get(row)? {
                U8_MISSING => return None,
                b => f64::from(b),
            },
            NumCol::U16 { scale, v } => match *v.get(row)? {
                U16_MISSING => return None,
                k => f64::from(k) / f64::from(*scale),
            },
            NumCol::F32(c) => f64::from(*c.get(row)?),
            NumCol::F64(c) => *c.get(row)?,
        };
        (!x.is_nan()).then_some(x)
    }

    pub(crate) fn retain(&mut self, keep: &[bool]) {
        match self {
            NumCol::U8(c) => retain_vec(c, keep),
            NumCol::U16 { v, .. } => retain_vec(v, keep),
            NumCol::F32(c) => retain_vec(c, keep),
            NumCol::F64(c) => retain_vec(c, keep),
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        match self {
            NumCol::U8(c) => c.capacity(),
            NumCol::U16 { v, .. } => v.capacity() * 2,
            NumCol::F32(c) => c.capacity() * 4,
            NumCol::F64(c) => c.capacity() * 8,
        }
    }

    /// The representation's name, for tests and diagnostics.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> String {
        match self {
            NumCol::U8(_) => "u8".into(),
            NumCol::U16 { scale, .. } => format!("u16/{scale}"),
            NumCol::F32(_) => "f32".into(),
            NumCol::F64(_) => "f64".into(),
        }
    }
}

/// A dictionary id as a column stores it; the width's maximum stands for missing.
pub(crate) trait Id: Copy {
    fn get(self) -> u32;
}

impl Id for u8 {
    #[inline(always)]
    fn get(self) -> u32 {
        if self == u8::MAX {
            MISSING
        } else {
            u32::from(self)
        }
    }
}

impl Id for u16 {
    #[inline(always)]
    fn get(self) -> u32 {
        if self == u16::MAX {
            MISSING
        } else {
            u32::from(self)
        }
    }
}

impl Id for u32 {
    #[inline(always)]
    fn get(self) -> u32 {
        self
    }
}

/// Dictionary ids, one byte while the dictionary has fewer than 255 entries (event types,
/// countries), two below 65,535, four beyond (visitor ids, addresses).
#[derive(Debug, Clone)]
pub(crate) enum Ids {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

/// A borrowed view of [`Ids`].
#[derive(Clone, Copy)]
pub(crate) enum IdSlice<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
}

impl Default for Ids {
    fn default() -> Self {
        Ids::U8(Vec::new())
    }
}

impl Ids {
    /// Appends an id (`MISSING` for a missing value), widening when it does not fit.
    pub(crate) fn push(&mut self, id: u32) {
        if id != MISSING {
            let widen = match self {
                Ids::U8(_) => id >= u32::from(u8::MAX),
                Ids::U16(_) => id >= u32::from(u16::MAX),
                Ids::U32(_) => false,
            };
            if widen {
                let all: Vec<u32> = (0..self.len()).map(|i| self.get(i)).collect();
                *self = if id < u32::from(u16::MAX) {
                    Ids::U16(Vec::with_capacity(all.len()))
                } else {
                    Ids::U32(Vec::with_capacity(all.len()))
                };
                for a in all {
                    self.push(a);
                }
            }
        }
        match self {
            Ids::U8(v) => push_row(v, if id == MISSING { u8::MAX } else { id as u8 }),
            Ids::U16(v) => push_row(v, if id == MISSING { u16::MAX } else { id as u16 }),
            Ids::U32(v) => push_row(v, id),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Ids::U8(v) => v.len(),
            Ids::U16(v) => v.len(),
            Ids::U32(v) => v.len(),
        }
    }

    /// The id of a row (`MISSING` for a missing value or a row out of range).
    pub(crate) fn get(&self, row: usize) -> u32 {
        match self {
            Ids::U8(v) => v.get(row).map_or(MISSING, |x| x.get()),
            Ids::U16(v) => v.get(row).map_or(MISSING, |x| x.get()),
            Ids::U32(v) => v.get(row).copied().unwrap_or(MISSING),
        }
    }

    pub(crate) fn slice(&self) -> IdSlice<'_> {
        match self {
            Ids::U8(v) => IdSlice::U8(v),
            Ids::U16(v) => IdSlice::U16(v),
            Ids::U32(v) => IdSlice::U32(v),
        }
    }

    /// Rewrites every id through `f` (which keeps `MISSING` missing), keeping rows by `keep`,
    /// in the narrowest width the new ids need.
    pub(crate) fn rebuild(&mut self, keep: &[bool], mut f: impl FnMut(u32) -> u32) {
        let mut next = Ids::default();
        for row in 0..self.len() {
            if keep.get(row).copied().unwrap_or(true) {
                let id = self.get(row);
                next.push(if id == MISSING { MISSING } else { f(id) });
            }
        }
        match &mut next {
            Ids::U8(v) => v.shrink_to_fit(),
            Ids::U16(v) => v.shrink_to_fit(),
            Ids::U32(v) => v.shrink_to_fit(),
        }
        *self = next;
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        match self {
            Ids::U8(v) => v.capacity(),
            Ids::U16(v) => v.capacity() * 2,
            Ids::U32(v) => v.capacity() * 4,
        }
    }
}

/// A list of strings as one dictionary string: each item as `<byte length>:<item>`, which is
/// unambiguous whatever the items contain.
pub(crate) fn encode_list(items: &[Arc<str>]) -> String {
    let mut s = String::new();
    for i in items {
        s.push_str(&i.len().to_string());
        s.push(':');
        s.push_str(i);
    }
    s
}

pub(crate) fn decode_list(mut s: &str) -> impl Iterator<Item = &str> {
    std::iter::from_fn(move || {
        let (len, rest) = s.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let item = rest.get(..len)?;
        s = rest.get(len..)?;
        Some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(xs: &[Option<f64>]) -> NumCol {
        let mut c = NumCol::default();
        for x in xs {
            c.push(*x);
        }
        c
    }

    #[test]
    fn numbers_take_the_narrowest_exact_form() {
        let cases: [(&[Option<f64>], &str); 9] = [
            (&[Some(0.0), None, Some(254.0)], "u8"),
            (&[Some(3.0), Some(255.0)], "u16/1"),
            (&[Some(1.0), Some(0.5)], "u16/10"),
            (&[Some(0.123), Some(1.0)], "u16/1000"),
            (&[Some(0.9876), None], "u16/10000"),
            (&[Some(52.52f32 as f64), Some(-3.0)], "f32"),
            (&[Some(0.5), Some(100_000.0)], "f32"),
            (&[Some(0.1), Some(1e9)], "f64"),
            (&[Some(0.123_456_789)], "f64"),
        ];
        for (xs, want) in cases {
            let c = column(xs);
            assert_eq!(c.kind(), want, "{xs:?}");
            for (i, x) in xs.iter().enumerate() {
                assert_eq!(c.get(i), *x, "{xs:?} row {i}");
            }
        }
    }

    #[test]
    fn rounded_values_read_back_exactly() {
        // The producers' rounding: scores to 1/1000, confidence to 1/10000, speed to 1/10.
        let mut c = NumCol::default();
        let xs: Vec<f64> = (0..=1000)
            .map(|k| (k as f64 * 0.001 * 1_000.0).round() / 1_000.0)
            .collect();
        for x in &xs {
            c.push(Some(*x));
        }
        assert_eq!(c.kind(), "u16/1000");
        for (i, x) in xs.iter().enumerate() {
            assert_eq!(c.get(i).map(f64::to_bits), Some(x.to_bits()));
        }
    }

    #[test]
    fn ids_widen_and_keep_missing() {
        let mut ids = Ids::default();
        ids.push(MISSING);
        for i in 0..300 {
            ids.push(i);
        }
        assert!(matches!(ids, Ids::U16(_)));
        assert_eq!(ids.get(0), MISSING);
        assert_eq!(ids.get(255), 254);
        assert_eq!(ids.get(300), 299);
        ids.push(70_000);
        assert!(matches!(ids, Ids::U32(_)));
        assert_eq!(ids.get(301), 70_000);
        assert_eq!(ids.get(0), MISSING);
        ids.rebuild(&[], |id| id % 10);
        assert!(matches!(ids, Ids::U8(_)));
        assert_eq!(ids.get(0), MISSING);
        assert_eq!(ids.get(301), 0);
    }

    #[test]
    fn list_encoding_is_unambiguous() {
        let items: Vec<Arc<str>> = ["a:b", "", "12:x", "é"]
            .iter()
            .map(|s| Arc::from(*s))
            .collect();
        let enc = encode_list(&items);
        assert_eq!(
            decode_list(&enc).collect::<Vec<_>>(),
            ["a:b", "", "12:x", "é"]
        );
        assert_eq!(decode_list("").count(), 0);
    }
}
