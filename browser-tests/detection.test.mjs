// The adversary suite against the real server, BotD beside the agent on the same visits:
// every automation variant (Playwright, Puppeteer, Selenium, the stealth plugin, an injected
// fingerprint, bare CDP, Firefox ESR over BiDi; headless and headed) must be caught, and no
// browser that nothing automates (Chromium and Firefox, normal and private, and a Chromium
// driven by real X input) may be flagged. The figures are printed as the benchmark prints them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADVERSARIES, HUMANS, detectionSite, withDisplay } from './lib/adversaries.mjs';
import { describe, runVariants, summary } from './lib/detection.mjs';
import { startPrynt } from './lib/prynt.mjs';

test('every adversary is caught, no human is flagged, and Prynt catches more than BotD', { timeout: 900_000 }, async () => {
  const prynt = await startPrynt();
  const site = await detectionSite(prynt);
  let adversaries;
  let humans;
  try {
    await withDisplay(async () => {
      adversaries = await runVariants(prynt, site, ADVERSARIES, { kind: 'adversary', log: (l) => console.log('# ' + l) });
      humans = await runVariants(prynt, site, HUMANS, { kind: 'human', log: (l) => console.log('# ' + l) });
    });
  } finally {
    await site.close();
    await prynt.stop();
  }
  const figures = summary(adversaries, humans, null);
  console.log('# ' + JSON.stringify(figures));

  const failed = [...adversaries, ...humans].filter((r) => r.error);
  assert.deepEqual(failed.map(describe), [], 'every variant completes');
  assert.ok(adversaries.length >= 16 && humans.length >= 5);
  for (const r of adversaries) {
    assert.ok(r.caught, `${r.name} passed as human: ${describe(r)}`);
    // Every finding is named in words, never a bare flag.
    assert.ok(r.reasons.length + r.tamperedReasons.length > 0, r.name);
  }
  for (const r of humans) {
    assert.equal(r.caught, false, `${r.name} was flagged: ${describe(r)}`);
  }
  // Private windows are still told apart from normal ones, and neither counts as a catch.
  assert.deepEqual(
    humans.map((r) => [r.name, r.incognito]),
    humans.map((r) => [r.name, /incognito|private/.test(r.name)]),
  );
  assert.ok(figures.caught > figures.botdCaught, `Prynt ${figures.caught} vs BotD ${figures.botdCaught}`);
  assert.equal(figures.humansFlagged, 0);
});
