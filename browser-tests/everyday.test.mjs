// Everyday changes to a real browser keep its visitor ID without storage.
//
// Each scenario visits with a fresh profile (visitor A), makes one change a person makes to
// their browser, leaves no token anywhere (no cookie, localStorage or IndexedDB entry, and no
// `token` in the identify request) and visits again: the server must recognise the browser by
// its fingerprint alone and answer A with identifiedBy "fingerprint". Every scenario checks
// that its change really reached the browser (languages, pixel ratio, fonts, ... differ
// between the two visits), so none can pass by changing nothing. The last scenarios are other
// devices, which must stay other visitors.
//
// Real browsers, headed under Xvfb: Debian's Chromium (Playwright) and Firefox ESR (Puppeteer
// over WebDriver BiDi). Headed, because a headless browser's screen and user agent are not a
// desktop's. One Prynt server for the file; every scenario has a workspace of its own, seeded
// with the same crowd of 300 real-world devices (corpus seed 7) before the browser comes, so
// that scenarios cannot link to each other's visitors and their order does not matter.
//
// How each change is made:
// - site data cleared: CDP Storage.clearDataForOrigin (Chromium) and the page's own stores
//   (cookie, localStorage, sessionStorage, IndexedDB), as "clear site data" does;
// - private window: a Chromium incognito context; Firefox's always-private mode;
// - window resized: the browser's own window bounds (CDP Browser.setWindowBounds, BiDi
//   browser.setClientWindowState);
// - zoom: Ctrl+Plus twice from the X keyboard (xdotool), as a person zooms a site;
// - languages: the browser's language setting (Chromium's Preferences intl.selected_languages
//   and accept_languages, Firefox's intl.accept_languages pref), changed between two runs of
//   the same profile;
// - UI locale: on Linux Chromium takes it from the environment (LANG/LANGUAGE; --lang is
//   ignored there), Firefox from intl.locale.requested; both need their German resources
//   (Debian's chromium-l10n and firefox-esr-l10n-de);
// - font installed: a font file in ~/.local/share/fonts, where a user installs fonts on Linux.
//   The machine has only DejaVu, so the file is a copy of DejaVu Serif that a fontconfig user
//   rule renames to "Ubuntu", one of the Linux fonts the agent probes;
// - external monitor: from the 1920×1080 display at scale 1 to a second X screen of 3840×2160
//   at scale 1.5 (Chromium --force-device-scale-factor, Firefox layout.css.devPixelsPerPx).
// Firefox ESR re-keys its canvas noise (baseline fingerprinting protection) in every session,
// so every Firefox change made across a restart also changes the canvas: a plain restart is
// its own scenario, the baseline of those. A browser upgrade is not covered: the machine holds
// one build of each browser.
//
// Every answer (visitor ID, confidence, identifiedBy) and, for a failed scenario, the
// components that differ between the two requests go to /tmp/everyday-findings.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, writeFile, copyFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { CHROMIUM, CHROMIUM_ARGS, serveStatic, storedTokens } from './lib/browser.mjs';
import { FIREFOX, FIREFOX_PREFS, startXvfb } from './lib/adversaries.mjs';
import { startPrynt } from './lib/prynt.mjs';
import { corpus, post } from './lib/corpus.mjs';

const FINDINGS = process.env.PRYNT_EVERYDAY_FINDINGS || '/tmp/everyday-findings.md';
const TIMEOUT = 90_000;
const CROWD = { size: 300, seed: 7 };
const TITLE = 'prynt-everyday';
const LAPTOP = '1920x1080x24';
const MONITOR_4K = '3840x2160x24';
const FONT_SOURCE = '/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf';
const NEW_FONT = 'Ubuntu';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- X displays ------------------------------------------------------------------------------

const xdotool = (display, args) =>
  new Promise((resolve, reject) =>
    execFile('xdotool', args, { env: { ...process.env, DISPLAY: display }, timeout: 10_000 }, (e, stdout) =>
      e ? reject(new Error(`xdotool ${args.join(' ')}: ${e.message}`)) : resolve(stdout.trim()),
    ),
  );

// ---- the environment shared by all scenarios ---------------------------------------------------

const env = { pool: [] };
let registered = 0;
const results = [];
const cleanups = [];

/** The exact identify bodies the browsers sent, by the request ID of the answer. */
const sent = new Map();

/** Forwards the agent's identify request to Prynt (first-party, as sites deploy it) and keeps its body. */
function identifyProxy(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const headers = { ...req.headers };
    for (const h of ['host', 'connection', 'content-length', 'keep-alive']) delete headers[h];
    headers['content-length'] = String(body.length);
    const upstream = http.request(`${env.prynt.base}/v1/identify`, { method: 'POST', headers }, (up) => {
      const out = [];
      up.on('data', (c) => out.push(c));
      up.on('end', () => {
        const text = Buffer.concat(out);
        try {
          const { requestId } = JSON.parse(text.toString('utf8'));
          if (requestId) sent.set(requestId, JSON.parse(body.toString('utf8')));
        } catch {
          // an error answer: passed on as it is
        }
        const keep = {};
        for (const h of ['content-type', 'x-prynt-visitor-token']) if (up.headers[h]) keep[h] = up.headers[h];
        res.writeHead(up.statusCode, { ...keep, 'Cache-Control': 'no-store' });
        res.end(text);
      });
    });
    upstream.on('error', (e) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(String(e.message));
    });
    upstream.end(body);
  });
}

let workspaces = 0;

/** A new workspace with lifted rate limits and its own test keys. */
async function newWorkspace() {
  const name = `everyday-${++workspaces}`;
  const run = async (args) => {
    const r = await env.prynt.cli(args);
    assert.equal(r.code, 0, `prynt ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  await run(['workspaces', 'create', name, '--plan', 'enterprise']);
  await run(['workspaces', 'update', name, '--plan', 'enterprise', '--limits', 'server=10000000,mgmt=100000,burst=1000000,identify=1000000']);
  const publicKey = (await run(['keys', 'create', '--env', 'test', '--type', 'public', '--workspace', name])).split('\n')[0];
  const secretKey = (await run(['keys', 'create', '--env', 'test', '--type', 'secret', '--workspace', name])).split('\n')[0];
  assert.match(publicKey, /^pk_test_/);
  assert.match(secretKey, /^sk_test_/);
  return { name, publicKey, secretKey };
}

/** Posts the crowd's identify requests to `ws`, as their browsers' agents would. */
async function seed(ws) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const url = `${env.prynt.base}/v1/identify`;
  let next = 0;
  const worker = async () => {
    while (next < env.crowd.length) {
      const d = env.crowd[next++];
      const payload = JSON.stringify({ publicKey: ws.publicKey, ...d.body });
      let r = await post(url, d.headers, payload, agent);
      for (let retry = 0; r.status === 429 && retry < 20; retry++) {
        await sleep(250);
        r = await post(url, d.headers, payload, agent);
      }
      assert.equal(r.status, 200, `seeding ${ws.name}: ${r.text.slice(0, 300)}`);
    }
  };
  try {
    await Promise.all([0, 1, 2, 3].map(worker));
  } finally {
    agent.destroy();
  }
}

before(async () => {
  const t0 = Date.now();
  env.crowd = corpus(CROWD);
  const [laptop, monitor, prynt] = await Promise.all([startXvfb(LAPTOP), startXvfb(MONITOR_4K), startPrynt()]);
  cleanups.push(() => laptop.stop(), () => monitor.stop(), () => prynt.stop());
  env.display = laptop.display;
  env.monitor = monitor.display;
  env.prynt = prynt;
  env.site = await serveStatic({
    '/page.html':
      `<!doctype html><meta charset="utf-8"><title>${TITLE}</title>` +
      `<script src="${prynt.base}/v1/agent.js"></script><body>shop</body>`,
    '/favicon.ico': { body: '', status: 204 },
    '/v1/identify': identifyProxy,
  });
  cleanups.push(() => env.site.close());
  // Every scenario's workspace, made and seeded before the first browser starts.
  for (let i = 0; i < registered; i++) env.pool.push(await newWorkspace());
  await sleep(1200); // the server caches a workspace's limits for a second
  for (const ws of env.pool) await seed(ws);
  env.setupMs = Date.now() - t0;
});

/**
 * With PRYNT_EVERYDAY_DUMP set to a directory, each scenario is also written there as a
 * recorded population (`prynt-bench accuracy --population`): the crowd, then the scenario's
 * visits as one more browser (or two, for the other-device scenarios), so that identification
 * can be replayed on exactly what the browsers sent.
 */
async function dumpScenarios(dir) {
  await mkdir(dir, { recursive: true });
  const day = (ms) => ms / 86_400_000;
  for (const r of results) {
    const lines = [JSON.stringify({ meta: { scenario: `${r.engine}: ${r.name}`, expect: r.expect, crowd: CROWD } })];
    env.crowd.forEach((d, i) => {
      const { automation, integrity, behavior, timing, ...components } = d.body.components;
      lines.push(JSON.stringify({ ws: 0, day: day(i * 10), browser: i, token: false, private: false, changes: [], components }));
    });
    r.visits.forEach((v, j) => {
      const { automation, integrity, behavior, timing, ...components } = v.components;
      const browser = env.crowd.length + (r.expect === 'same' ? 0 : j);
      const changes = j > 0 && r.expect === 'same' ? [r.name] : [];
      lines.push(JSON.stringify({ ws: 0, day: day(60_000 + j * 30_000), browser, token: false, private: false, changes, components }));
    });
    const slug = `${r.engine}-${r.name}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-+$/, '');
    await writeFile(join(dir, `${slug}.jsonl`), lines.join('\n') + '\n');
  }
}

after(async () => {
  try {
    await writeFile(FINDINGS, findings());
    if (process.env.PRYNT_EVERYDAY_DUMP) await dumpScenarios(process.env.PRYNT_EVERYDAY_DUMP);
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // keep tearing down the rest
      }
    }
  }
});

// ---- browsers ----------------------------------------------------------------------------------

/** A scratch directory removed when the scenario ends. */
async function scratch(s, prefix) {
  const dir = await mkdtemp(join(tmpdir(), `prynt-everyday-${prefix}-`));
  s.cleanups.push(() => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }).catch(() => {}));
  return dir;
}

/** The browser's environment: its own HOME (fonts a user installs live there), an X display. */
function browserEnv(home, display, extra = {}) {
  const e = { ...process.env, HOME: home, DISPLAY: display, ...extra };
  for (const k of ['WAYLAND_DISPLAY', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_RUNTIME_DIR', 'FONTCONFIG_FILE']) {
    if (!(k in extra)) delete e[k];
  }
  return e;
}

/**
 * Headed Chromium on a persistent profile. `prefs` is merged into the profile's
 * Default/Preferences first (as the settings page stores them).
 */
async function chromiumBrowser(s, { profile, home, display = env.display, args = [], gpu = false, prefs = null, extraEnv = {} }) {
  if (prefs) await mergeChromiumPrefs(profile, prefs);
  // `gpu` lets Chromium use the machine's OpenGL (Mesa) instead of its own SwiftShader.
  const base = gpu ? CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu') : CHROMIUM_ARGS;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: false,
    viewport: null,
    args: [...base, '--window-position=0,0', '--window-size=1280,900', ...args],
    env: browserEnv(home, display, extraEnv),
    timeout: 30_000,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await context.close();
  };
  s.cleanups.push(close);
  const page = context.pages()[0] || (await context.newPage());
  return { engine: 'chromium', context, page, display, close };
}

async function mergeChromiumPrefs(profile, prefs) {
  const file = join(profile, 'Default', 'Preferences');
  await mkdir(join(profile, 'Default'), { recursive: true });
  const current = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : {};
  const merge = (into, from) => {
    for (const [k, v] of Object.entries(from)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) merge((into[k] = into[k] && typeof into[k] === 'object' ? into[k] : {}), v);
      else into[k] = v;
    }
    return into;
  };
  await writeFile(file, JSON.stringify(merge(current, prefs)));
}

/** Headed Firefox ESR over WebDriver BiDi on a persistent profile with `prefs` set. */
async function firefoxBrowser(s, { profile, home, display = env.display, prefs = {}, extraEnv = {} }) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: false,
    userDataDir: profile,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
    env: browserEnv(home, display, extraEnv),
    defaultViewport: null,
    timeout: 30_000,
    protocolTimeout: 30_000,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await browser.close();
  };
  s.cleanups.push(close);
  const [first] = await browser.pages();
  const page = first || (await browser.newPage());
  return { engine: 'firefox', browser, page, display, close };
}

const launch = (s, engine, opts) => (engine === 'chromium' ? chromiumBrowser(s, opts) : firefoxBrowser(s, opts));

/** Opens the shop page in `page` and waits for the agent. */
async function open(page) {
  await page.goto(env.site.url + '/page.html');
  await page.waitForFunction(() => typeof window.Prynt === 'object');
}

const NO_TOKEN = { cookie: null, local: null, idb: null, databases: [] };

/** Clears everything the site stored: the page's own stores, and for Chromium all its site data. */
async function clearSiteData(b) {
  await b.page.evaluate(async () => {
    for (const c of document.cookie.split('; ').filter(Boolean)) {
      document.cookie = `${c.split('=')[0]}=; max-age=0; path=/`;
    }
    localStorage.clear();
    sessionStorage.clear();
    for (const { name } of await indexedDB.databases()) {
      await new Promise((resolve, reject) => {
        const del = indexedDB.deleteDatabase(name);
        del.onsuccess = () => resolve();
        del.onerror = () => reject(del.error);
        del.onblocked = () => reject(new Error(`deleteDatabase ${name} blocked`));
      });
    }
    if (window.caches) for (const k of await caches.keys()) await caches.delete(k);
  });
  if (b.engine === 'chromium') {
    const cdp = await b.context.newCDPSession(b.page);
    await cdp.send('Storage.clearDataForOrigin', { origin: env.site.url, storageTypes: 'all' });
    await cdp.detach();
    assert.deepEqual(await b.context.cookies(env.site.url), [], 'no cookie left for the site');
  }
}

/** What the page sees of the settings a scenario changes (beyond the agent's own components). */
const observe = (page) =>
  page.evaluate(() => ({
    locale: Intl.DateTimeFormat().resolvedOptions().locale,
    languages: Array.from(navigator.languages),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    pixelRatio: devicePixelRatio,
    screen: [screen.width, screen.height],
    inner: [innerWidth, innerHeight],
    outer: [outerWidth, outerHeight],
  }));

/**
 * One visit: a fresh load of the shop page, then identify(). Resolves to the server's answer
 * and event, the exact request the agent sent, the stores before identify and what the page saw.
 */
async function visit(s, b, label) {
  await open(b.page);
  const tokensBefore = await storedTokens(b.page);
  const seen = await observe(b.page);
  const r = await b.page.evaluate(
    async ({ endpoint, publicKey }) => {
      try {
        const agent = await window.Prynt.load({ publicKey, endpoint });
        return { ok: await agent.identify() };
      } catch (e) {
        return { err: { message: e.message, status: e.status, code: e.code } };
      }
    },
    { endpoint: env.site.url, publicKey: s.ws.publicKey },
  );
  assert.ok(r.ok, `${label}: identify failed: ${JSON.stringify(r.err)}\nserver stderr:\n${env.prynt.stderr()}`);
  const body = sent.get(r.ok.requestId);
  assert.ok(body, `${label}: the identify request was seen by the proxy`);
  const ev = await env.prynt.api('GET', `/v1/events/${r.ok.requestId}`, undefined, s.ws.secretKey);
  assert.equal(ev.status, 200, `${label}: GET /v1/events/${r.ok.requestId}: ${ev.text}`);
  const v = {
    label,
    requestId: r.ok.requestId,
    visitorId: r.ok.visitorId,
    visitorFound: r.ok.visitorFound,
    confidence: r.ok.confidence,
    identifiedBy: ev.json.identifiedBy,
    tokensBefore,
    tokenSent: Object.prototype.hasOwnProperty.call(body, 'token'),
    seen,
    components: body.components,
  };
  s.visits.push(v);
  return v;
}

// ---- scenarios -----------------------------------------------------------------------------------

/**
 * Registers a scenario: `fn(s)` gets `{ ws, visits, cleanups, ... }` with a seeded workspace
 * of its own; browsers and scratch directories it makes are closed and removed afterwards.
 */
function scenario(engine, expect, name, fn) {
  const slot = registered++;
  test(`${engine}: ${name}`, { timeout: TIMEOUT }, async (t) => {
    const s = { engine, name, expect, visits: [], cleanups: [], checks: [] };
    const record = { engine, name, expect, visits: s.visits, checks: s.checks, error: null, ms: 0 };
    results.push(record);
    const t0 = Date.now();
    try {
      s.ws = env.pool[slot];
      assert.ok(s.ws, 'the scenario has its workspace');
      await fn(s);
    } catch (e) {
      record.error = e && e.message ? e.message : String(e);
      throw e;
    } finally {
      for (const c of s.cleanups.reverse()) {
        try {
          await c();
        } catch {
          // keep tearing down the rest
        }
      }
      record.ms = Date.now() - t0;
      for (const v of s.visits) {
        t.diagnostic(`${v.label}: ${v.visitorId} found=${v.visitorFound} confidence=${v.confidence} identifiedBy=${v.identifiedBy}`);
      }
    }
  });
}

/** Visit 1 must be a new visitor: nothing in a fresh workspace's crowd is this browser. */
function assertFirstVisit(a) {
  assert.deepEqual(a.tokensBefore, NO_TOKEN, 'visit 1: a fresh profile holds no token');
  assert.equal(a.tokenSent, false, 'visit 1: no token sent');
  assert.equal(a.visitorFound, false, `visit 1 is a new visitor (got ${a.identifiedBy}, confidence ${a.confidence})`);
  assert.equal(a.identifiedBy, 'new');
}

/** Visit 2 carried no token and must be visit 1's visitor, recognised by its fingerprint. */
function assertSameVisitor(a, b) {
  assert.deepEqual(b.tokensBefore, NO_TOKEN, 'visit 2: no token anywhere before identify');
  assert.equal(b.tokenSent, false, 'visit 2: the request carried no token');
  assert.equal(
    b.visitorId,
    a.visitorId,
    `visit 2 must keep visitor ${a.visitorId}; got ${b.visitorId} (found=${b.visitorFound}, confidence ${b.confidence}, identifiedBy ${b.identifiedBy})`,
  );
  assert.equal(b.visitorFound, true);
  assert.equal(b.identifiedBy, 'fingerprint');
}

/** Visit 2 is another device and must not be taken for visit 1's visitor. */
function assertOtherVisitor(a, b) {
  assert.deepEqual(b.tokensBefore, NO_TOKEN, 'device B holds no token');
  assert.equal(b.tokenSent, false, 'device B sent no token');
  assert.notEqual(
    b.visitorId,
    a.visitorId,
    `device B must not get A's visitor ID ${a.visitorId} (confidence ${b.confidence}, identifiedBy ${b.identifiedBy})`,
  );
  assert.equal(b.visitorFound, false, `device B is a new visitor (identifiedBy ${b.identifiedBy})`);
}

/** Records and asserts that the change really reached the browser. */
function changed(s, what, before, after) {
  s.checks.push(`${what}: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
  assert.notDeepEqual(after, before, `the change must be real: ${what} is the same on both visits`);
}

function unchanged(s, what, before, after) {
  s.checks.push(`${what} unchanged: ${JSON.stringify(before)}`);
  assert.deepEqual(after, before, `${what} must stay the same`);
}

/** The change is made in the running browser: visit, clear site data, change, visit again. */
async function inSession(s, launchOpts, change) {
  const b = await launch(s, s.engine, { profile: await scratch(s, 'profile'), home: await scratch(s, 'home'), ...launchOpts });
  const a = await visit(s, b, 'visit 1');
  assertFirstVisit(a);
  await clearSiteData(b);
  await change(b);
  const c = await visit(s, b, 'visit 2');
  return [a, c];
}

/**
 * The change is made between two runs of the same profile (as settings that apply on restart
 * are): visit, clear site data, quit; start again with `second` options; visit again.
 */
async function acrossRestart(s, first, second, between = async () => {}) {
  const profile = await scratch(s, 'profile');
  const home = await scratch(s, 'home');
  let b = await launch(s, s.engine, { profile, home, ...first });
  const a = await visit(s, b, 'visit 1');
  assertFirstVisit(a);
  await clearSiteData(b);
  await b.close();
  await between({ profile, home });
  b = await launch(s, s.engine, { profile, home, ...second });
  const c = await visit(s, b, 'visit 2');
  await b.close();
  return [a, c];
}

/** Installs a font the agent probes into the user's font directory. */
async function installFont(home) {
  const fonts = join(home, '.local', 'share', 'fonts');
  const conf = join(home, '.config', 'fontconfig');
  await mkdir(fonts, { recursive: true });
  await mkdir(conf, { recursive: true });
  await copyFile(FONT_SOURCE, join(fonts, `${NEW_FONT}-R.ttf`));
  // The copy still names itself DejaVu Serif: a user rule gives it its new family name.
  await writeFile(
    join(conf, 'fonts.conf'),
    `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <match target="scan">
    <test name="file" compare="contains"><string>/.local/share/fonts/${NEW_FONT}-R.ttf</string></test>
    <edit name="family" mode="assign_replace"><string>${NEW_FONT}</string></edit>
    <edit name="fullname" mode="assign_replace"><string>${NEW_FONT} Regular</string></edit>
    <edit name="postscriptname" mode="assign_replace"><string>${NEW_FONT}-Regular</string></edit>
  </match>
</fontconfig>
`,
  );
}

/** Ctrl+Plus twice on the browser window, from the X keyboard; waits until the page is zoomed. */
async function zoomIn(b) {
  const ids = (await xdotool(b.display, ['search', '--onlyvisible', '--name', TITLE])).split('\n').filter(Boolean);
  assert.equal(ids.length, 1, `one window titled ${TITLE} (found ${ids.length})`);
  await xdotool(b.display, ['windowfocus', '--sync', ids[0]]);
  await xdotool(b.display, ['key', '--clearmodifiers', 'ctrl+plus']);
  await sleep(150);
  await xdotool(b.display, ['key', '--clearmodifiers', 'ctrl+plus']);
  await b.page.waitForFunction(() => devicePixelRatio > 1.15, { timeout: 5000 });
}

async function resizeWindow(b, width, height) {
  if (b.engine === 'chromium') {
    const cdp = await b.context.newCDPSession(b.page);
    const { windowId } = await cdp.send('Browser.getWindowForTarget');
    await cdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: 'normal', width, height } });
    await cdp.detach();
  } else {
    await b.browser.setWindowBounds(await b.page.windowId(), { windowState: 'normal', width, height });
  }
}

// Chromium's settings page keeps the user's list in selected_languages and derives
// accept_languages from it; both are written, as the page does.
const chromiumLanguages = (list) => ({ intl: { accept_languages: list, selected_languages: list } });
const langPrefs = (engine, list) =>
  engine === 'chromium' ? { prefs: chromiumLanguages(list) } : { prefs: { 'intl.accept_languages': list } };

for (const engine of ['chromium', 'firefox']) {
  const chromiumOnly = engine === 'chromium';

  scenario(engine, 'same', 'site data cleared', async (s) => {
    const [a, b] = await inSession(s, {}, async () => {});
    unchanged(s, 'languages', a.components.languages, b.components.languages);
    assertSameVisitor(a, b);
  });

  if (!chromiumOnly) {
    // Firefox draws canvas noise from a key it makes anew for every session: a plain restart
    // is where every change that needs one starts from.
    scenario(engine, 'same', 'browser restarted, site data cleared', async (s) => {
      const [a, b] = await acrossRestart(s, {}, {});
      unchanged(s, 'languages', a.components.languages, b.components.languages);
      assertSameVisitor(a, b);
    });
  }

  if (chromiumOnly) {
    scenario(engine, 'same', 'incognito window', async (s) => {
      const b = await chromiumBrowser(s, { profile: await scratch(s, 'profile'), home: await scratch(s, 'home') });
      const a = await visit(s, b, 'visit 1');
      assertFirstVisit(a);
      const incognito = await b.context.browser().newContext({ viewport: null });
      s.cleanups.push(() => incognito.close());
      const c = await visit(s, { ...b, context: incognito, page: await incognito.newPage() }, 'visit 2 (incognito)');
      changed(s, 'storage.cacheDelta (an incognito profile keeps Cache Storage in memory)', a.components.storage.cacheDelta, c.components.storage.cacheDelta);
      assertSameVisitor(a, c);
    });
  } else {
    scenario(engine, 'same', 'private window', async (s) => {
      const [a, b] = await acrossRestart(s, {}, { prefs: { 'browser.privatebrowsing.autostart': true } });
      changed(s, 'storage.getDirectory (refused in private browsing)', a.components.storage.getDirectory, b.components.storage.getDirectory);
      assertSameVisitor(a, b);
    });
  }

  scenario(engine, 'same', 'window resized', async (s) => {
    const [a, b] = await inSession(s, {}, (br) => resizeWindow(br, 1000, 700));
    changed(s, 'window outer size', a.seen.outer, b.seen.outer);
    assertSameVisitor(a, b);
  });

  scenario(engine, 'same', 'page zoomed in (Ctrl+Plus twice)', async (s) => {
    const [a, b] = await inSession(s, {}, zoomIn);
    changed(s, 'devicePixelRatio', a.components.screen.pixelRatio, b.components.screen.pixelRatio);
    assertSameVisitor(a, b);
  });

  scenario(engine, 'same', 'a language added (en-US,en → en-US,en,de)', async (s) => {
    const [a, b] = await acrossRestart(s, {}, langPrefs(engine, 'en-US,en,de'));
    assert.deepEqual(a.components.languages, ['en-US', 'en']);
    changed(s, 'languages', a.components.languages, b.components.languages);
    assert.deepEqual(b.components.languages, ['en-US', 'en', 'de']);
    assertSameVisitor(a, b);
  });

  scenario(engine, 'same', 'a language removed (en-US,en,de → en-US,en)', async (s) => {
    const [a, b] = await acrossRestart(s, langPrefs(engine, 'en-US,en,de'), langPrefs(engine, 'en-US,en'));
    assert.deepEqual(a.components.languages, ['en-US', 'en', 'de']);
    changed(s, 'languages', a.components.languages, b.components.languages);
    assert.deepEqual(b.components.languages, ['en-US', 'en']);
    assertSameVisitor(a, b);
  });

  scenario(engine, 'same', 'languages reordered (en-US,en,de → de,en-US,en)', async (s) => {
    const [a, b] = await acrossRestart(s, langPrefs(engine, 'en-US,en,de'), langPrefs(engine, 'de,en-US,en'));
    assert.deepEqual(a.components.languages, ['en-US', 'en', 'de']);
    changed(s, 'languages', a.components.languages, b.components.languages);
    assert.deepEqual(b.components.languages, ['de', 'en-US', 'en']);
    assertSameVisitor(a, b);
  });

  if (chromiumOnly) {
    scenario(engine, 'same', 'UI locale changed to German (LANG=de_DE.UTF-8), languages kept', async (s) => {
      const de = { extraEnv: { LANG: 'de_DE.UTF-8', LANGUAGE: 'de_DE:de' } };
      const [a, b] = await acrossRestart(s, {}, de);
      changed(s, 'UI locale (Intl default locale)', a.seen.locale, b.seen.locale);
      assert.match(b.seen.locale, /^de/, 'the German UI locale needs chromium-l10n');
      unchanged(s, 'navigator.languages', a.components.languages, b.components.languages);
      assertSameVisitor(a, b);
    });
  } else {
    scenario(engine, 'same', 'UI locale changed to German (intl.locale.requested=de)', async (s) => {
      const [a, b] = await acrossRestart(s, {}, { prefs: { 'intl.locale.requested': 'de' } });
      changed(s, 'UI locale (Intl default locale)', a.seen.locale, b.seen.locale);
      assert.match(b.seen.locale, /^de/, 'the German UI locale needs firefox-esr-l10n-de');
      // Firefox derives its default page languages from the UI locale: they follow it.
      s.checks.push(`navigator.languages: ${JSON.stringify(a.components.languages)} → ${JSON.stringify(b.components.languages)}`);
      assertSameVisitor(a, b);
    });
  }

  scenario(engine, 'same', `a font installed (${NEW_FONT} in ~/.local/share/fonts)`, async (s) => {
    const [a, b] = await acrossRestart(s, {}, {}, ({ home }) => installFont(home));
    assert.ok(!a.components.fonts.includes(NEW_FONT), `${NEW_FONT} is not there before`);
    changed(s, 'fonts', a.components.fonts, b.components.fonts);
    assert.ok(b.components.fonts.includes(NEW_FONT), `${NEW_FONT} is there after`);
    assert.deepEqual(b.components.fonts.filter((f) => f !== NEW_FONT), a.components.fonts, 'no other font changed');
    assertSameVisitor(a, b);
  });

  scenario(engine, 'same', 'external monitor (1920×1080 at 1× → 3840×2160 at 1.5×)', async (s) => {
    const external =
      engine === 'chromium'
        ? { display: env.monitor, args: ['--force-device-scale-factor=1.5', '--window-size=1600,1000'] }
        : { display: env.monitor, prefs: { 'layout.css.devPixelsPerPx': '1.5' } };
    const [a, b] = await acrossRestart(s, {}, external);
    const screenOf = (v) => [v.components.screen.w, v.components.screen.h];
    changed(s, 'screen size', screenOf(a), screenOf(b));
    changed(s, 'devicePixelRatio', a.components.screen.pixelRatio, b.components.screen.pixelRatio);
    assert.deepEqual([screenOf(b), b.components.screen.pixelRatio], [[2560, 1440], 1.5]);
    assertSameVisitor(a, b);
  });
}

// ---- other devices stay other visitors -----------------------------------------------------------

/** Device A (this Chromium as it comes) and device B in fresh profiles of their own. */
async function twoDevices(s, bOpts) {
  const a = await visit(s, await chromiumBrowser(s, { profile: await scratch(s, 'profile-a'), home: await scratch(s, 'home-a') }), 'device A');
  assertFirstVisit(a);
  const home = await scratch(s, 'home-b');
  if (bOpts.font) await installFont(home);
  const b = await visit(s, await chromiumBrowser(s, { profile: await scratch(s, 'profile-b'), home, ...bOpts }), 'device B');
  return [a, b];
}

scenario('chromium', 'different', 'another GPU (Mesa llvmpipe over OpenGL instead of SwiftShader)', async (s) => {
  // Without --disable-gpu and with the blocklist ignored, Chromium renders WebGL with Mesa's
  // llvmpipe through ANGLE's OpenGL backend: another renderer, driver and rasteriser.
  const [a, b] = await twoDevices(s, { gpu: true, args: ['--ignore-gpu-blocklist', '--use-gl=angle', '--use-angle=gl'] });
  changed(s, 'WebGL renderer', a.components.webgl.unmaskedRenderer, b.components.webgl.unmaskedRenderer);
  unchanged(s, 'languages', a.components.languages, b.components.languages);
  unchanged(s, 'fonts', a.components.fonts, b.components.fonts);
  assertOtherVisitor(a, b);
});

scenario('chromium', 'different', 'another font set, languages and time zone', async (s) => {
  const [a, b] = await twoDevices(s, {
    font: true,
    prefs: chromiumLanguages('de-DE,de,en-US,en'),
    extraEnv: { TZ: 'Europe/Berlin' },
  });
  changed(s, 'fonts', a.components.fonts, b.components.fonts);
  changed(s, 'languages', a.components.languages, b.components.languages);
  changed(s, 'time zone', a.components.timezone, b.components.timezone);
  unchanged(s, 'WebGL renderer', a.components.webgl.unmaskedRenderer, b.components.webgl.unmaskedRenderer);
  assertOtherVisitor(a, b);
});

// Another OS cannot run here. Device B is this Chromium's own recorded request with every
// OS-specific field replaced consistently, as Chrome 156 on Windows 11 sends it: the user
// agent (and appVersion, the request header and the iframe's and worker's views of it),
// navigator.platform, the client hints' platform and version, and the probed fonts (a
// Windows 11 set). Rendering outputs and hardware are left as they were, so the OS is the
// only difference between the two.
const WINDOWS_FONTS = [
  'Arial Black', 'Bahnschrift', 'Calibri', 'Cambria', 'Candara', 'Comic Sans MS', 'Consolas', 'Constantia',
  'Corbel', 'Ebrima', 'Franklin Gothic Medium', 'Gadugi', 'Impact', 'Ink Free', 'Leelawadee UI',
  'Lucida Console', 'Lucida Sans Unicode', 'Malgun Gothic', 'Microsoft JhengHei', 'Microsoft YaHei',
  'MS Gothic', 'MS UI Gothic', 'MT Extra', 'Palatino Linotype', 'Segoe Print', 'Segoe UI', 'Segoe UI Emoji',
  'SimSun', 'Sitka Small', 'Sylfaen', 'Tahoma', 'Trebuchet MS', 'Verdana', 'Yu Gothic',
];

function asWindows(components) {
  const c = structuredClone(components);
  const ua = (s) => (typeof s === 'string' ? s.replace('X11; Linux x86_64', 'Windows NT 10.0; Win64; x64') : s);
  c.userAgent = ua(c.userAgent);
  c.appVersion = ua(c.appVersion);
  c.platform = 'Win32';
  if (c.uaData) Object.assign(c.uaData, { platform: 'Windows', platformVersion: '15.0.0' });
  c.fonts = WINDOWS_FONTS.slice();
  for (const view of [c.integrity && c.integrity.iframe, c.integrity && c.integrity.worker]) {
    if (!view) continue;
    view.userAgent = ua(view.userAgent);
    view.platform = 'Win32';
    if ('uaPlatform' in view && view.uaPlatform) view.uaPlatform = 'Windows';
  }
  return c;
}

scenario('chromium', 'different', 'another OS (the same request as Chrome on Windows sends it)', async (s) => {
  const b0 = await chromiumBrowser(s, { profile: await scratch(s, 'profile'), home: await scratch(s, 'home') });
  const a = await visit(s, b0, 'device A');
  assertFirstVisit(a);
  const components = asWindows(a.components);
  const headers = {
    'Content-Type': 'text/plain',
    'User-Agent': components.userAgent,
    Origin: env.site.url,
    'Accept-Language': 'en-US,en;q=0.9',
    'sec-ch-ua-platform': '"Windows"',
    'sec-ch-ua-mobile': '?0',
    'Sec-Fetch-Site': 'same-origin',
    'Sec-Fetch-Mode': 'cors',
    'Sec-Fetch-Dest': 'empty',
  };
  const body = { publicKey: s.ws.publicKey, url: env.site.url + '/page.html', components };
  const r = await post(`${env.prynt.base}/v1/identify`, headers, JSON.stringify(body));
  assert.equal(r.status, 200, r.text);
  const answer = JSON.parse(r.text);
  const ev = await env.prynt.api('GET', `/v1/events/${answer.requestId}`, undefined, s.ws.secretKey);
  assert.equal(ev.status, 200, ev.text);
  assert.equal(ev.json.device.platform, 'Windows', `the server reads device B as Windows (${JSON.stringify(ev.json.device)})`);
  const b = {
    label: 'device B (Windows payload)',
    requestId: answer.requestId,
    visitorId: answer.visitorId,
    visitorFound: answer.visitorFound,
    confidence: answer.confidence,
    identifiedBy: ev.json.identifiedBy,
    tokensBefore: NO_TOKEN,
    tokenSent: false,
    seen: null,
    components,
  };
  s.visits.push(b);
  changed(s, 'OS (navigator.platform)', a.components.platform, b.components.platform);
  assertOtherVisitor(a, b);
});

// ---- findings -----------------------------------------------------------------------------------

// Fields that differ between any two page loads (timings, input, focus) or that record the
// test's own storage use; they are no part of the fingerprint.
const VOLATILE = /^(timing|behavior|storage\.usage$|automation\.(hasFocus|connectionRtt)$)/;

// Which of the server's components (docs/identification.md, section 2) a raw field feeds.
const COMPONENT_OF = [
  [/^(userAgent|appVersion)$/, 'masked UA'],
  [/^(platform|vendor|productSub)$/, 'platform'],
  [/^languages$/, 'languages'],
  [/^timezone$/, 'time zone'],
  [/^screen\.(w|h)$/, 'screen'],
  [/^screen\.(colorDepth|pixelRatio)$/, 'display'],
  [/^(hardwareConcurrency|deviceMemory|maxTouchPoints)$/, 'hardware'],
  [/^(canvas\.(text|geometry)|webgl\.render|audio\.hash)$/, 'rendering outputs'],
  [/^(webgl\.(params|extensions)|math)$/, 'rendering capabilities'],
  [/^webgl\.(vendor|renderer|unmaskedVendor|unmaskedRenderer)$/, 'GPU'],
  [/^fonts$/, 'fonts'],
  [/^(plugins|mimeTypes)$/, 'plugins'],
  [/^(cookieEnabled|doNotTrack|storage\.(localStorage|indexedDB))$/, 'storage/cookie settings'],
  [/^storage\.getDirectory$/, '(Firefox private browsing: canvas and fonts left out)'],
];

function flatten(o, prefix = '', out = {}) {
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    for (const k of Object.keys(o)) flatten(o[k], prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = JSON.stringify(o);
  }
  return out;
}

function componentDiff(a, b) {
  const fa = flatten(a);
  const fb = flatten(b);
  const rows = [];
  for (const k of [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort()) {
    if (VOLATILE.test(k) || fa[k] === fb[k]) continue;
    const comp = (COMPONENT_OF.find(([re]) => re.test(k)) || [null, '—'])[1];
    rows.push({ field: k, comp, a: fa[k], b: fb[k] });
  }
  return rows;
}

const cut = (s, n = 90) => (s === undefined ? '(absent)' : s.length > n ? s.slice(0, n - 1) + '…' : s);
const cell = (s) => String(s).replace(/\|/g, '\\|');

function findings() {
  const lines = [];
  const failed = results.filter((r) => r.error);
  lines.push('# Everyday changes: does the visitor ID survive without storage?', '');
  lines.push('Command: `cd browser-tests && PRYNT_BIN=../target/debug/prynt node --test everyday.test.mjs`', '');
  lines.push(
    `Browsers: ${CHROMIUM} and ${FIREFOX}, headed under Xvfb. Each scenario in a workspace of its own, ` +
      `seeded with corpus(${JSON.stringify(CROWD)}) (${CROWD.size} real-world devices). ` +
      `${results.length} scenarios, ${failed.length} failed. Set-up (server, displays, workspaces seeded): ` +
      `${Math.round((env.setupMs || 0) / 1000)} s; scenarios: ${Math.round(results.reduce((n, r) => n + r.ms, 0) / 1000)} s.`,
    '',
  );
  lines.push('| browser | scenario | expected | result | visit 1 | visit 2 |', '|---|---|---|---|---|---|');
  const ans = (v) => (v ? `${v.visitorId.slice(0, 14)}… ${v.identifiedBy} ${v.confidence}` : '—');
  for (const r of results) {
    const [a, b] = r.visits;
    const expected = r.expect === 'same' ? 'same visitor' : 'other visitor';
    const verdict = r.error ? `**FAIL**` : 'pass';
    lines.push(`| ${r.engine} | ${cell(r.name)} | ${expected} | ${verdict} | ${ans(a)} | ${ans(b)} |`);
  }
  lines.push('');
  for (const r of failed) {
    lines.push(`## FAIL ${r.engine}: ${r.name}`, '');
    lines.push('```', r.error.split('\n').slice(0, 6).join('\n'), '```', '');
    if (r.checks.length) lines.push('Change made:', ...r.checks.map((c) => `- ${c}`), '');
    for (const v of r.visits) {
      lines.push(
        `- ${v.label}: visitorId ${v.visitorId}, visitorFound ${v.visitorFound}, confidence ${v.confidence}, ` +
          `identifiedBy ${v.identifiedBy}, token sent ${v.tokenSent}` +
          (v.seen ? `, UI locale ${v.seen.locale}, window ${v.seen.outer.join('×')}` : ''),
      );
    }
    lines.push('');
    const [a, b] = r.visits;
    if (a && b) {
      const rows = componentDiff(a.components, b.components);
      lines.push(`Components that differ between the two requests (${rows.length}):`, '');
      lines.push('| field | server component | visit 1 | visit 2 |', '|---|---|---|---|');
      for (const row of rows) lines.push(`| ${row.field} | ${row.comp} | ${cell(cut(row.a))} | ${cell(cut(row.b))} |`);
      lines.push('');
    }
  }
  const passedSame = results.filter((r) => !r.error && r.expect === 'same');
  if (passedSame.length) {
    lines.push('## Passed scenarios: what differed between the two requests', '');
    for (const r of passedSame) {
      const [a, b] = r.visits;
      const rows = a && b ? componentDiff(a.components, b.components) : [];
      const list = rows.map((x) => `${x.field} (${x.comp}) ${cut(x.a, 40)} → ${cut(x.b, 40)}`).join('; ') || 'nothing';
      lines.push(`- ${r.engine}: ${r.name}: ${list}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
