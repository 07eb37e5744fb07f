// Helpers for the dashboard's browser tests and benchmark: a Prynt server with keys of both
// environments, headless Chromium contexts signed in to /dashboard/, a watch on everything that
// goes wrong on a page (console errors, page errors, failed requests, HTTP errors), axe-core's
// serious and critical violations, screenshots, and a local webhook receiver.
import http from 'node:http';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, serveStatic } from './browser.mjs';
import { startPrynt } from './prynt.mjs';
export { axeProblems } from './axe.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Where the page screenshots go (repo-relative `target/dashboard-screenshots/`). */
export const SCREENSHOT_DIR = resolve(HERE, '..', '..', 'target', 'dashboard-screenshots');

/** sessionStorage key under which the dashboard keeps the signed-in secret key. */
export const STORAGE_KEY = 'prynt.dashboard.secretKey';

/** The two widths every page must work at, with a phone-like height for the narrow one. */
export const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `prynt serve` for the dashboard tests. Returns startPrynt()'s handle plus
 * `live: { secretKey, publicKey }`, keys of the live environment of the same workspace.
 *
 * - Loopback webhooks are allowed (the receiver runs on 127.0.0.1), and a failed delivery gives
 *   up after one quick retry (`PRYNT_WEBHOOK_RETRY_SCHEDULE`), so a test gets a `failed`
 *   delivery in well under a second instead of 24 hours.
 * - The workspace gets enterprise limits: a test walks through dozens of pages a minute, far
 *   beyond an analyst's pace and the plan's 100 management calls a minute.
 */
export async function startDashboardServer({ env = {} } = {}) {
  const prynt = await startPrynt({
    env: {
      PRYNT_DEV_ALLOW_LOOPBACK_WEBHOOKS: 'true',
      PRYNT_WEBHOOK_RETRY_SCHEDULE: '200ms',
      ...env,
    },
  });
  try {
    const cli = async (args) => {
      const r = await prynt.cli(args);
      if (r.code !== 0) throw new Error(`prynt ${args.join(' ')} failed (code ${r.code}):\n${r.stderr}`);
      return r.stdout.trim();
    };
    await cli(['workspaces', 'update', 'default', '--plan', 'enterprise', '--limits', 'server=100000,mgmt=100000,burst=10000,identify=100000']);
    const live = {
      secretKey: await cli(['keys', 'create', '--env', 'live', '--type', 'secret']),
      publicKey: await cli(['keys', 'create', '--env', 'live', '--type', 'public']),
    };
    if (!/^sk_live_/.test(live.secretKey) || !/^pk_live_/.test(live.publicKey)) {
      throw new Error(`unexpected live keys: ${JSON.stringify(live)}`);
    }
    return { ...prynt, live };
  } catch (e) {
    await prynt.stop();
    throw e;
  }
}

/** Launches Debian's headless Chromium (one browser; tests open contexts on it). */
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A browser context for the dashboard: `width` (1280 or 390), `colorScheme` ('light' or 'dark'),
 * and, with `secretKey`, signed in before any page script runs (the key is put where the
 * dashboard keeps it; sign-in itself is tested through its form).
 */
export async function dashboardContext(browser, { width = 1280, colorScheme = 'light', secretKey, ...options } = {}) {
  const viewport = VIEWPORTS.find((v) => v.width === width) || { width, height: 800 };
  const context = await browser.newContext({
    viewport,
    colorScheme,
    locale: 'en-US',
    timezoneId: 'UTC',
    ...options,
  });
  if (secretKey) {
    await context.addInitScript(
      ([k, v]) => {
        if (location.pathname.startsWith('/dashboard')) sessionStorage.setItem(k, v);
      },
      [STORAGE_KEY, secretKey],
    );
  }
  return context;
}

/**
 * Identifies `calls` (identify() arguments, in order) through the real agent served by Prynt, in
 * a new context of `browser` with `contextOptions` (locale, timezone and window size make a
 * different visitor). The page is on another loopback origin, as a customer's site would be.
 * Resolves to the identify() results.
 */
export async function identifyInBrowser(browser, base, publicKey, calls, contextOptions = {}) {
  const site = await serveStatic({
    '/shop.html': `<!doctype html><meta charset="utf-8"><title>shop</title><script src="${base}/v1/agent.js"></script><body>shop</body>`,
    '/favicon.ico': { body: '', status: 204 },
  });
  const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1280, height: 800 }, ...contextOptions });
  try {
    const page = await context.newPage();
    await page.goto(`${site.url}/shop.html`);
    await page.waitForFunction(() => typeof window.Prynt === 'object');
    const results = [];
    for (const args of calls) {
      const r = await page.evaluate(
        async ([endpoint, key, a]) => {
          try {
            const agent = await window.Prynt.load({ publicKey: key, endpoint });
            return { ok: await agent.identify(a) };
          } catch (e) {
            return { err: { message: e.message, status: e.status, code: e.code } };
          }
        },
        [base, publicKey, args],
      );
      if (!r.ok) throw new Error(`identify(${JSON.stringify(args)}) failed: ${JSON.stringify(r.err)}`);
      results.push(r.ok);
    }
    return results;
  } finally {
    await context.close();
    await site.close();
  }
}

/** Requests in flight of each watched page, for settle(). */
const inflightOf = new WeakMap();

/**
 * Watches a page for everything that must not happen on a dashboard page: console errors,
 * uncaught page errors, failed requests and HTTP answers ≥ 400. `expect(pred)` exempts the
 * problems a test provokes on purpose (pred gets `{ kind, text, url, status }`); `take()`
 * returns the problems seen since the last take() and forgets them.
 */
export function watchPage(page) {
  let seen = [];
  const allowed = [];
  const track = { inflight: 0, lastChange: Date.now() };
  inflightOf.set(page, track);
  const change = (d) => {
    track.inflight += d;
    track.lastChange = Date.now();
  };
  page.on('request', () => change(1));
  page.on('requestfinished', () => change(-1));
  page.on('requestfailed', () => change(-1));
  const add = (p) => {
    if (!allowed.some((pred) => pred(p))) seen.push(p);
  };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url || '';
    add({ kind: 'console', text: `console error: ${m.text()}${url ? ` (${url})` : ''}`, url });
  });
  page.on('pageerror', (e) => add({ kind: 'pageerror', text: `uncaught error: ${e.stack || e.message}`, url: page.url() }));
  page.on('requestfailed', (r) =>
    add({ kind: 'requestfailed', text: `request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`, url: r.url() }),
  );
  page.on('response', (r) => {
    if (r.status() >= 400) {
      add({ kind: 'response', text: `HTTP ${r.status()}: ${r.request().method()} ${r.url()}`, url: r.url(), status: r.status() });
    }
  });
  return {
    expect(pred) {
      allowed.push(pred);
    },
    take() {
      const out = seen;
      seen = [];
      return out;
    },
  };
}

/**
 * Waits until a dashboard page has settled: no request in flight for a moment (on a page under
 * watchPage(); else Playwright's network idle), no "Loading…" status left and, when given,
 * `text` visible (the page shows its data, not only its frame).
 */
export async function settle(page, { text, timeout = 15_000 } = {}) {
  const quiet = async () => {
    const track = inflightOf.get(page);
    if (!track) return page.waitForLoadState('networkidle', { timeout }).catch(() => {});
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      if (track.inflight <= 0 && Date.now() - track.lastChange >= QUIET_MS) return;
      await sleep(25);
    }
  };
  await quiet();
  if (text) await page.getByText(text, { exact: false }).filter({ visible: true }).first().waitFor({ timeout });
  await page
    .waitForFunction(() => ![...document.querySelectorAll('[role=status]')].some((e) => /loading/i.test(e.textContent || '')), null, { timeout })
    .catch(() => {});
  await quiet();
  // Fonts, and a frame drawn with the last answer.
  await page.evaluate(() => document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => r()))));
}

/** How long the network must stay quiet for a page to count as settled: the gap between one
 * answer and the requests its render starts is a few milliseconds. */
const QUIET_MS = 200;

/** Writes a full-page screenshot to SCREENSHOT_DIR/<name>.png and resolves to its path. */
export async function screenshot(page, name) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * A webhook receiver on 127.0.0.1: `answer(req, body)` returns the status of each request
 * (default 200). Resolves to `{ url, requests, close }`; `requests` holds `{ path, headers, body,
 * status }` of every request received.
 */
export function startReceiver(answer = () => 200) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const path = new URL(req.url, 'http://127.0.0.1').pathname;
      const status = answer({ path, headers: req.headers, body }) ?? 200;
      requests.push({ path, headers: req.headers, body, status });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'receiver is down');
    });
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolvePromise({
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Polls `fn` until it resolves to a truthy value; rejects with `what` after `timeout` ms. */
export async function until(fn, what, { timeout = 20_000, every = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}
