// Prints the false positives of Prynt's bot, tampered and emulator signals on a corpus of
// realistic real-world devices (lib/corpus.mjs) sent to a real server: a table per OS × browser,
// every reason that fired with the strata it hit and one example of the fields behind it, then
// one final JSON line with the whole result. This file owns only the command line and the
// printing; the corpus and the run are lib/corpus.mjs's.
//
//   node browser-tests/corpus-report.mjs [--size N] [--seed S] [--concurrency C]
import { corpus, runCorpus, STRATA, stratumName } from './lib/corpus.mjs';
import { startPrynt } from './lib/prynt.mjs';

function args(argv) {
  const o = { size: 10_000, seed: 1, concurrency: 8 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=');
    const value = inline ?? argv[++i];
    if (flag === '--size') o.size = Number(value);
    else if (flag === '--seed') o.seed = /^\d+$/.test(value) ? Number(value) : value;
    else if (flag === '--concurrency') o.concurrency = Number(value);
    else throw new Error(`unknown argument ${argv[i]} (use --size N, --seed S, --concurrency C)`);
  }
  if (!(o.size > 0)) throw new Error('--size must be a positive number');
  return o;
}

const pct = (n, d) => (d ? ((100 * n) / d).toFixed(1) : '0.0') + '%';
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

async function main() {
  const o = args(process.argv.slice(2));
  const t0 = Date.now();
  const devices = corpus({ size: o.size, seed: o.seed });
  const tCorpus = Date.now() - t0;
  const prynt = await startPrynt();
  let result;
  try {
    result = await runCorpus(prynt, devices, { concurrency: o.concurrency });
  } finally {
    await prynt.stop();
  }
  const tRun = Date.now() - t0 - tCorpus;

  console.log(`Prynt corpus: ${devices.length} devices, seed ${o.seed} (corpus ${(tCorpus / 1000).toFixed(1)} s, run ${(tRun / 1000).toFixed(1)} s)`);
  console.log('');
  const sources = Object.fromEntries(STRATA.map((s) => [stratumName(s.os, s.browser), s.source]));
  console.log(`${pad('OS × browser', 28)}${lpad('devices', 8)}${lpad('flagged', 9)}${lpad('rate', 8)}${lpad('tampered', 10)}${lpad('bot', 6)}${lpad('emulator', 10)}  source`);
  for (const r of result.byStratum) {
    const name = stratumName(r.os, r.browser);
    console.log(
      `${pad(name, 28)}${lpad(r.devices, 8)}${lpad(r.flagged, 9)}${lpad(pct(r.flagged, r.devices), 8)}${lpad(r.tampered, 10)}${lpad(r.bot, 6)}${lpad(r.emulator, 10)}  ${sources[name] || ''}`,
    );
  }
  console.log(`${pad('all', 28)}${lpad(result.devices, 8)}${lpad(result.flagged, 9)}${lpad(pct(result.flagged, result.devices), 8)}`);
  if (result.errors) console.log(`\n${result.errors} requests failed, e.g. ${JSON.stringify(result.errorExamples[0])}`);

  const rejected = devices.rejected || {};
  if (Object.keys(rejected).length) {
    console.log('\nGenerator/records samples redrawn as no real browser of their stratum (see lib/corpus.mjs "Filter"):');
    for (const [name, why] of Object.entries(rejected)) console.log(`  ${name}: ${Object.entries(why).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  }

  console.log('\nReasons (count: strata), with one example:');
  for (const [reason, count] of Object.entries(result.reasons)) {
    const strata = Object.entries(result.reasonStrata[reason]).sort((a, b) => b[1] - a[1]);
    console.log(`  ${lpad(count, 6)}  ${reason}`);
    console.log(`          strata: ${strata.map(([s, n]) => `${s} ${n}`).join(', ')}`);
    const ex = result.reasonExamples[reason];
    console.log(`          e.g. ${JSON.stringify({ reason: ex.reason, userAgent: ex.userAgent, platform: ex.platform, uaDataPlatform: ex.uaDataPlatform, model: ex.model, maxTouchPoints: ex.maxTouchPoints, unmaskedRenderer: ex.unmaskedRenderer, fonts: ex.fonts, device: ex.device })}`);
  }
  console.log('');
  console.log(JSON.stringify({ size: devices.length, seed: o.seed, ...result }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
