// False positives of Prynt's bot, tampered and emulator signals on realistic real-world devices:
// a reduced, seeded corpus (lib/corpus.mjs) covering every OS × browser stratum goes through the
// real server, and no device may be flagged. This file owns only these assertions; the corpus,
// its sources and the run are lib/corpus.mjs's. When the no-false-positive test fails, its
// message names the strata and the reasons (`node corpus-report.mjs` prints the full table).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpus, runCorpus, STRATA, stratumName } from './lib/corpus.mjs';
import { startPrynt } from './lib/prynt.mjs';

const SIZE = 1500;
const SEED = 20250115;

test('the corpus is reproducible: the same seed gives the same devices, another seed others', () => {
  const a = JSON.stringify(corpus({ size: 400, seed: SEED }));
  const b = JSON.stringify(corpus({ size: 400, seed: SEED }));
  const c = JSON.stringify(corpus({ size: 400, seed: SEED + 1 }));
  assert.ok(a === b, 'the same seed gave a different corpus');
  assert.notEqual(a, c, 'another seed gave the same corpus');
  assert.equal(JSON.parse(a).length, 400);
});

test('no real-world device is flagged as a bot, tampered or an emulator', { timeout: 180_000 }, async () => {
  const devices = corpus({ size: SIZE, seed: SEED });
  assert.equal(devices.length, SIZE);
  const prynt = await startPrynt();
  let result;
  try {
    result = await runCorpus(prynt, devices, { concurrency: 8 });
  } finally {
    await prynt.stop();
  }
  assert.equal(result.errors, 0, `identify or event reads failed: ${JSON.stringify(result.errorExamples)}`);

  // Every stratum is there, with devices.
  const rows = new Map(result.byStratum.map((r) => [stratumName(r.os, r.browser), r]));
  for (const s of STRATA) {
    const name = stratumName(s.os, s.browser);
    assert.ok(rows.get(name)?.devices > 0, `stratum ${name} has no devices`);
  }

  const failing = result.byStratum
    .filter((r) => r.flagged > 0)
    .map((r) => `${stratumName(r.os, r.browser)}: ${r.flagged}/${r.devices} (tampered ${r.tampered}, bot ${r.bot}, emulator ${r.emulator})`);
  const reasons = Object.entries(result.reasons).map(
    ([reason, n]) => `${n} × ${reason} [${Object.entries(result.reasonStrata[reason]).map(([s, k]) => `${s} ${k}`).join(', ')}]`,
  );
  assert.equal(
    result.flagged,
    0,
    `${result.flagged} of ${result.devices} real-world devices flagged.\n` +
      `Strata:\n  ${failing.join('\n  ')}\nReasons:\n  ${reasons.join('\n  ')}\n` +
      `First example: ${JSON.stringify(result.examples[0])}`,
  );
});
