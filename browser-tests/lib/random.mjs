// Seeded randomness shared by the device corpus and the benchmark populations: a (seed, name,
// ...) tuple gives an independent stream, so that one part's draws never depend on how many
// another part made.

// xmur3 string hash -> 32-bit seeds for sfc32.
function xmur3(str) {
  let h = 1779033703 ^ str.length;
  for (let i = 0; i < str.length; i++) {
    h = Math.imul(h ^ str.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
}

function sfc32(a, b, c, d) {
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** An independent stream of uniform numbers in [0, 1) for a (seed, name, ...) tuple. */
export function prng(...parts) {
  const s = xmur3(parts.join('\u0000'));
  const r = sfc32(s(), s(), s(), s());
  for (let i = 0; i < 16; i++) r(); // the first outputs of sfc32 are weakly mixed
  return r;
}

export const pick = (rng, list) => list[Math.floor(rng() * list.length)];
export const between = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));

/** One of `entries`, drawn in proportion to `weightOf(entry)`. */
export function weighted(rng, entries, weightOf) {
  const total = entries.reduce((s, e) => s + weightOf(e), 0);
  let x = rng() * total;
  for (const e of entries) {
    x -= weightOf(e);
    if (x < 0) return e;
  }
  return entries[entries.length - 1];
}
