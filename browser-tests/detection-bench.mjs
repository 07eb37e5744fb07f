// The detection benchmark (run it through bench/detection): the real-world device corpus, the
// adversary suite and the humans against one real Prynt server, Prynt's verdicts beside BotD's
// on the same visits. Prints the tables and, last, one JSON line of figures.
//
//   node detection-bench.mjs [--size N] [--seed S] [--only WORD ...]
import { ADVERSARIES, HUMANS, detectionSite, withDisplay } from './lib/adversaries.mjs';
import { corpus, runCorpus } from './lib/corpus.mjs';
import { runVariants, summary, table } from './lib/detection.mjs';
import { startPrynt } from './lib/prynt.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    console.error(`${name} needs a whole number`);
    process.exit(2);
  }
  return v;
};
const size = opt('--size', 10_000);
const seed = opt('--seed', 1);
const only = args.includes('--only') ? args.slice(args.indexOf('--only') + 1) : [];
const pick = (list) => list.filter((v) => !only.length || only.some((w) => v.name.includes(w)));

const prynt = await startPrynt();
let figures;
try {
  let corpusResult = null;
  if (size > 0) {
    const t0 = Date.now();
    const devices = corpus({ size, seed });
    corpusResult = await runCorpus(prynt, devices, { concurrency: 8 });
    console.log(`\ncorpus: ${corpusResult.devices} devices (seed ${seed}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    console.log('| OS | browser | devices | tampered | bot | emulator | flagged | rate |\n|---|---|---|---|---|---|---|---|');
    for (const s of corpusResult.byStratum) {
      const rate = s.devices ? ((100 * s.flagged) / s.devices).toFixed(2) + '%' : '-';
      console.log(`| ${s.os} | ${s.browser} | ${s.devices} | ${s.tampered} | ${s.bot} | ${s.emulator} | ${s.flagged} | ${rate} |`);
    }
    for (const [reason, n] of Object.entries(corpusResult.reasons)) console.log(`  ${n} × ${reason} (${JSON.stringify(corpusResult.reasonStrata[reason])})`);
    if (corpusResult.errors) console.log(`  ${corpusResult.errors} errors, e.g. ${JSON.stringify(corpusResult.errorExamples)}`);
  }
  const site = await detectionSite(prynt);
  let adversaries;
  let humans;
  try {
    await withDisplay(async () => {
      console.log('\nadversaries:');
      adversaries = await runVariants(prynt, site, pick(ADVERSARIES), { kind: 'adversary', log: console.log });
      console.log('\nhumans:');
      humans = await runVariants(prynt, site, pick(HUMANS), { kind: 'human', log: console.log });
    });
  } finally {
    await site.close();
  }
  console.log('\n' + table([...adversaries, ...humans]));
  figures = summary(adversaries, humans, corpusResult);
} finally {
  await prynt.stop();
}
console.log(JSON.stringify(figures));
