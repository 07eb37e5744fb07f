// Writes a benchmark population for identification accuracy as JSON Lines (lib/population.mjs
// says what it is made of): first {"meta": {...}} (generator, arguments, the drift rates and
// their sources, how many visits list each drift kind and how many events the clocks drew,
// visits, token-less share, and the network model's rates and what the visits show of it), then
// one visit a line, sorted by (workspace, day), `ip` the client address the server sees:
//   {"ws":0,"day":12.3456,"browser":17,"token":true,"private":false,"changes":[...],"components":{...},"ip":"81.12.200.7"}
//
//   node population.mjs --browsers N [--days 90] [--seed 1] [--workspaces 1] [--start 2026-03-01] [--out FILE]
//
// Without --out the lines go to standard output. The same arguments give the same bytes.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { population, populationMeta } from './lib/population.mjs';

function parse(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument ${a}`);
    const v = m[2] !== undefined ? m[2] : argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    o[m[1]] = v;
  }
  const known = new Set(['browsers', 'days', 'seed', 'workspaces', 'start', 'out']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new Error(`unknown option --${k}`);
  if (o.browsers === undefined) throw new Error('--browsers is required');
  const seed = /^-?\d+$/.test(o.seed ?? '1') ? Number(o.seed ?? 1) : o.seed;
  const start = o.start === undefined ? undefined : Date.parse(/T/.test(o.start) ? o.start : `${o.start}T00:00:00Z`);
  if (o.start !== undefined && !Number.isFinite(start)) throw new Error(`--start ${o.start} is not a date`);
  return {
    opts: { browsers: Number(o.browsers), days: o.days === undefined ? 90 : Number(o.days), seed, workspaces: o.workspaces === undefined ? 1 : Number(o.workspaces), start },
    out: o.out,
  };
}

async function main() {
  let args;
  try {
    args = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\nusage: node population.mjs --browsers N [--days 90] [--seed 1] [--workspaces 1] [--start YYYY-MM-DD] [--out FILE]\n`);
    process.exit(2);
  }
  const { opts, out } = args;
  const stream = out ? createWriteStream(out) : process.stdout;
  const write = async (text) => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
  await write(`${JSON.stringify({ meta: populationMeta(opts) })}\n`);
  let chunk = '';
  for (const visit of population(opts)) {
    chunk += `${JSON.stringify(visit)}\n`;
    if (chunk.length > 1 << 16) {
      await write(chunk);
      chunk = '';
    }
  }
  if (chunk) await write(chunk);
  if (out) {
    stream.end();
    await once(stream, 'finish');
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
