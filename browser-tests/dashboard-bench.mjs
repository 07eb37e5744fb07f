// Time to first render of the dashboard's events page with 1,000,000 events stored, beside the
// same page on a small store and the raw API call behind it.
//
//   cargo build --release --bin prynt --bin prynt-bench
//   cd browser-tests && PRYNT_BIN=../target/release/prynt node dashboard-bench.mjs
//
// Options: --events N (default 1000000), --baseline-events N (default 1000), --days N (30),
// --runs N (cold page loads per store and page, default 20), --api-runs N (default 50),
// --data-dir DIR (keep the large store there and reuse it on the next run when it was seeded
// with the same figures; by default both stores go to a temporary directory removed at the end).
//
// Each store is seeded with `prynt-bench seed-events` (synthetic events of the default
// workspace's test environment), then served by the binary with its embedded dashboard
// (PRYNT_DASHBOARD_DIR, when set, is passed on). A page load is cold: a new browser context
// (empty cache) with the secret key already in sessionStorage, as after sign-in, then
// /dashboard/events, unfiltered and with the type and country filters set. "First row" is the
// frame in which the events table's first data row is in the DOM with a size, measured in the
// page from navigation start (performance.now() in a requestAnimationFrame loop started by an
// init script). The raw figures are GET /v1/events?limit=50 from Node on a kept-alive
// connection, as the page asks for it, and the filtered listings the page offers. Both stores
// are served at once and timed turn by turn, so the baseline sees the same machine. Prints
// tables and, last, one JSON line.
import { spawn } from 'node:child_process';
import { copyFile, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './lib/browser.mjs';
import { STORAGE_KEY } from './lib/dashboard.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const EVENTS = Number(option('events', 1_000_000));
const BASELINE_EVENTS = Number(option('baseline-events', 1000));
const DAYS = Number(option('days', 30));
const RUNS = Number(option('runs', 20));
const API_RUNS = Number(option('api-runs', 50));
const KEEP_DIR = option('data-dir', null);

/** The binary: $PRYNT_BIN, else the release build, else the debug build. */
async function binary() {
  const candidates = process.env.PRYNT_BIN
    ? [resolve(process.env.PRYNT_BIN)]
    : [resolve(HERE, '..', 'target', 'release', 'prynt'), resolve(HERE, '..', 'target', 'debug', 'prynt')];
  for (const c of candidates) {
    if (await stat(c).catch(() => null)) return c;
  }
  throw new Error(`no prynt binary at ${candidates.join(' or ')}; build it with cargo build --release --bin prynt`);
}

/** Runs `bin args` to completion and resolves to its stdout; rejects on a non-zero exit. */
function run(bin, args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, PRYNT_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`prynt ${args.join(' ')}: exit ${code}\n${err}`))));
  });
}

/** Starts `prynt serve` on a free loopback port; resolves to `{ base, stdout, stop }` once it listens. */
function serve(bin, dataDir) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
      env: { ...process.env, PRYNT_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise((r) => child.once('exit', r));
    const stop = async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`prynt serve did not listen within 300 s\n${stdout}\n${stderr}`));
    }, 300_000);
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\s*$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ base: m[1], stdout, stop });
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`prynt serve exited (${code}) before listening\n${stdout}\n${stderr}`));
    });
  });
}

/**
 * A store of `events` seeded events in `dir`, and a test secret key for it. The first start
 * creates the default workspace that `prynt-bench seed-events` (`bench`) writes into. A
 * directory already seeded with the same figures (marker file) is reused.
 */
async function store(bin, bench, dir, events) {
  const marker = join(dir, 'dashboard-bench.json');
  const want = { events, days: DAYS };
  const have = await readFile(marker, 'utf8').then(JSON.parse, () => null);
  if (!have || have.events !== events || have.days !== DAYS) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const first = await serve(bin, dir);
    await first.stop();
    const t0 = Date.now();
    await run(bench, ['seed-events', '--data-dir', dir, '--events', String(events), '--days', String(DAYS)]);
    console.error(`seeded ${events.toLocaleString('en-US')} events in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    await writeFile(marker, JSON.stringify(want));
  }
  // The API calls are timed back to back, far beyond the plan's 1,000 a minute.
  await run(bin, ['workspaces', 'update', 'default', '--plan', 'enterprise', '--limits', 'server=1000000,mgmt=1000000,burst=100000', '--data-dir', dir]);
  const key = (await run(bin, ['keys', 'create', '--env', 'test', '--type', 'secret', '--data-dir', dir])).trim();
  return { dir, key, events };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of `xs` (0 < p ≤ 100). */
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const summary = (xs) => ({ median: pct(xs, 50), p95: pct(xs, 95), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });

/** Times one `GET path` with the key, in ms, body read. */
async function timeApi(base, key, path) {
  const t0 = performance.now();
  const r = await fetch(base + path, { headers: { Authorization: `Bearer ${key}` } });
  const body = await r.text();
  const dt = performance.now() - t0;
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${body}`);
  return dt;
}

/**
 * One cold load of `path`: resolves to `{ firstRow, eventsFetch, eventsEnd, workspaceEnd }` in
 * ms: the first data row on screen since navigation start, the page's GET /v1/events from
 * request to last byte, and when the answers of GET /v1/events and of the GET /v1/workspace
 * that restores the session had arrived, since navigation start.
 */
async function timePage(browser, base, key, path) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
  try {
    await context.addInitScript(
      ([k, v]) => {
        sessionStorage.setItem(k, v);
        const look = () => {
          const row = document.querySelector('main table tbody tr');
          if (row && row.getBoundingClientRect().height > 0) window.__firstRowMs = performance.now();
          else requestAnimationFrame(look);
        };
        requestAnimationFrame(look);
      },
      [STORAGE_KEY, key],
    );
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
    await page.goto(base + path);
    await page.waitForFunction(() => window.__firstRowMs !== undefined, null, { timeout: 60_000 }).catch(async (e) => {
      throw new Error(`no table row on ${path}: ${e.message}\n${errors.join('\n')}\n${(await page.locator('main').innerText()).slice(0, 500)}`);
    });
    const m = await page.evaluate(() => {
      const entry = (path) => performance.getEntriesByType('resource').find((r) => new URL(r.name).pathname === path);
      const ev = entry('/v1/events');
      const ws = entry('/v1/workspace');
      return {
        firstRow: window.__firstRowMs,
        eventsFetch: ev ? ev.responseEnd - ev.startTime : null,
        eventsEnd: ev ? ev.responseEnd : null,
        workspaceEnd: ws ? ws.responseEnd : null,
      };
    });
    if (errors.length) throw new Error(`errors on ${path}:\n${errors.join('\n')}`);
    return m;
  } finally {
    await context.close();
  }
}

/** Signs in once through the form, as an analyst does, and checks the events page shows rows. */
async function signInOnce(browser, base, key) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(`${base}/dashboard/`);
    await page.getByLabel('Secret key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('env-badge').waitFor({ timeout: 60_000 });
    await page.getByRole('link', { name: 'Events', exact: true }).first().click();
    await page.locator('main table tbody tr').first().waitFor({ timeout: 60_000 });
  } finally {
    await context.close();
  }
}

/** The pages timed: the events page as the navigation opens it, and with two filters set. */
const PAGES = [
  ['/dashboard/events', '/dashboard/events'],
  ['/dashboard/events?type=payment&country=DE', '/dashboard/events?type=payment&country=DE'],
];

/** The listings timed from Node: the page's own call, and the filters the page offers. */
const FILTERS = [
  ['all', '/v1/events?limit=50'],
  ['verdict=block', '/v1/events?limit=50&verdict=block'],
  ['bot=true', '/v1/events?limit=50&bot=true'],
  ['type=payment', '/v1/events?limit=50&type=payment'],
  ['country=DE', '/v1/events?limit=50&country=DE'],
  ['type=payment&country=NG', '/v1/events?limit=50&type=payment&country=NG'],
];

/** Serves store `s` and waits until the start-up loads are done; resolves to the server. */
async function start(bin, browser, s) {
  const server = await serve(bin, s.dir);
  try {
    // Timing starts once the analytics table (loaded in the background) holds every seeded
    // event, so that the start-up loads do not compete with the page loads.
    const day = (ms) => new Date(ms).toISOString().slice(0, 10);
    const range = `from=${day(Date.now() - (DAYS + 1) * 86400e3)}T00:00:00Z&to=${day(Date.now() + 86400e3)}T00:00:00Z`;
    let total = 0;
    for (let waited = 0; total < s.events && waited < 300_000; waited += 500) {
      const r = await fetch(`${server.base}/v1/analytics/events?${range}`, { headers: { Authorization: `Bearer ${s.key}` } });
      total = r.status === 200 ? (await r.json()).total : 0;
      if (total < s.events) await sleep(500);
    }
    if (total < s.events) throw new Error(`the server counts ${total} of the ${s.events} seeded events after 300 s`);
    const home = await fetch(`${server.base}/dashboard/`).then((r) => r.text());
    if (!/<script[^>]+src="\/dashboard\/assets\//.test(home)) throw new Error(`this binary serves no dashboard build at /dashboard/:\n${home.slice(0, 300)}`);
    await signInOnce(browser, server.base, s.key);
    return { ...server, stored: total };
  } catch (e) {
    await server.stop();
    throw e;
  }
}

/**
 * Times both stores' servers turn by turn (a page load or a call on one, then the same on the
 * other), so that a change of load on the machine weighs on both alike. The first load of each
 * page and the first calls warm the browser's and the server's caches and are not counted.
 */
async function measure(browser, servers) {
  const results = servers.map((sv) => ({ stored: sv.stored, pages: {}, api: {} }));
  for (const [name, path] of PAGES) {
    const runs = servers.map(() => []);
    for (let i = 0; i < RUNS + 1; i++) {
      for (const [j, sv] of servers.entries()) {
        const m = await timePage(browser, sv.base, sv.key, path);
        if (i > 0) runs[j].push(m);
      }
    }
    const of = (j, k) => summary(runs[j].map((m) => m[k]).filter((x) => x !== null));
    servers.forEach((_, j) => {
      results[j].pages[name] = Object.fromEntries(['firstRow', 'eventsFetch', 'eventsEnd', 'workspaceEnd'].map((k) => [k, of(j, k)]));
    });
  }
  for (const [name, path] of FILTERS) {
    const times = servers.map(() => []);
    const started = performance.now();
    // Fewer calls (at least 5 each) when they take over 20 s together: a slow unindexed filter.
    for (let i = 0; i < API_RUNS + 3 && (i < 8 || performance.now() - started < 20_000); i++) {
      for (const [j, sv] of servers.entries()) {
        const dt = await timeApi(sv.base, sv.key, path);
        if (i >= 3) times[j].push(dt);
      }
    }
    servers.forEach((_, j) => (results[j].api[name] = summary(times[j])));
  }
  return results;
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function main() {
  const original = await binary();
  const work = await mkdtemp(join(tmpdir(), 'prynt-dashboard-bench-'));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const bin = join(work, 'prynt');
    await copyFile(original, bin);
    await chmod(bin, 0o755);
    const version = (await run(bin, ['--version'])).trim();
    const mtime = (await stat(original)).mtime.toISOString();
    console.error(`binary: ${original} (${version}, built ${mtime})`);

    // The benchmarks' binary, built beside `prynt` (cargo build --bin prynt-bench).
    const bench = join(dirname(original), 'prynt-bench');
    const small = await store(bin, bench, join(work, 'small'), BASELINE_EVENTS);
    const big = await store(bin, bench, KEEP_DIR ? resolve(KEEP_DIR) : join(work, 'big'), EVENTS);
    const servers = [];
    let results;
    try {
      for (const s of [small, big]) servers.push({ ...(await start(bin, browser, s)), key: s.key });
      results = await measure(browser, servers);
    } finally {
      for (const sv of servers) await sv.stop();
    }

    console.log(`\nDashboard events page, ${RUNS} cold loads per store and page (ms from navigation start; median / p95 / max)`);
    for (const [name] of PAGES) {
      console.log(`${name}\n  store                   first row               GET /v1/events      (workspace answered, events answered: medians)`);
      for (const r of results) {
        const p = r.pages[name];
        console.log(
          `  ${`${r.stored.toLocaleString('en-US')} events`.padEnd(24)}${`${fmt(p.firstRow.median)} / ${fmt(p.firstRow.p95)} / ${fmt(p.firstRow.max)}`.padEnd(24)}${`${fmt(p.eventsFetch.median)} / ${fmt(p.eventsFetch.p95)}`.padEnd(20)}(${fmt(p.workspaceEnd.median)}, ${fmt(p.eventsEnd.median)})`,
        );
      }
    }
    console.log(`\nGET /v1/events from Node, ${API_RUNS} calls each (ms; median / p95)`);
    console.log(`${'listing'.padEnd(26)}${results.map((r) => `${r.stored.toLocaleString('en-US')} events`.padEnd(22)).join('')}`);
    for (const [name] of FILTERS) {
      console.log(`${name.padEnd(26)}${results.map((r) => `${fmt(r.api[name].median)} / ${fmt(r.api[name].p95)}`.padEnd(22)).join('')}`);
    }
    const [base, large] = results;
    const [plain, filtered] = PAGES.map(([name]) => name);
    console.log(
      JSON.stringify({
        events: large.stored,
        firstRowMedianMs: +large.pages[plain].firstRow.median.toFixed(1),
        firstRowP95Ms: +large.pages[plain].firstRow.p95.toFixed(1),
        filteredFirstRowMedianMs: +large.pages[filtered].firstRow.median.toFixed(1),
        baselineEvents: base.stored,
        baselineFirstRowMedianMs: +base.pages[plain].firstRow.median.toFixed(1),
        baselineFirstRowP95Ms: +base.pages[plain].firstRow.p95.toFixed(1),
        apiMedianMs: +large.api.all.median.toFixed(2),
        apiP95Ms: +large.api.all.p95.toFixed(2),
        baselineApiMedianMs: +base.api.all.median.toFixed(2),
      }),
    );
  } finally {
    await browser.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
