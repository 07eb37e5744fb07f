//! A count-min sketch: approximate counts of component values in fixed memory, so the model can
//! tell a common value (every iPhone 15 renders the same canvas) from a rare one.

const DEPTH: usize = 4;
const WIDTH: usize = 1 << 13;

pub(crate) struct CountMin {
    cells: Vec<u32>,
}

impl CountMin {
    pub(crate) fn new() -> Self {
        CountMin {
            cells: vec![0; DEPTH * WIDTH],
        }
    }

    fn slot(row: usize, value: u32) -> usize {
        // Distinct odd multipliers give independent-enough rows for 32-bit hashed inputs.
        const MUL: [u32; DEPTH] = [0x9E37_79B1, 0x85EB_CA77, 0xC2B2_AE3D, 0x27D4_EB2F];
        let x = value.wrapping_mul(MUL[row]);
        row * WIDTH + (x >> (32 - 13)) as usize
    }

    pub(crate) fn add(&mut self, value: u32, delta: i32) {
        for row in 0..DEPTH {
            let cell = &mut self.cells[Self::slot(row, value)];
            *cell = cell.saturating_add_signed(delta);
        }
    }

    pub(crate) fn count(&self, value: u32) -> u32 {
        (0..DEPTH)
            .map(|row| self.cells[Self::slot(row, value)])
            .min()
            .unwrap_or(0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.cells.capacity() * 4
    }
}
