// Helpers to run the Prynt agent in Debian's headless Chromium without the Rust server.
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.PRYNT_CHROMIUM || '/usr/bin/chromium';

// The machine has no network beyond loopback: without the background-networking flags
// Chromium keeps retrying updates, sync and field trials against hosts it cannot reach.
export const CHROMIUM_ARGS = [
  '--no-sandbox', // tests run as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export const AGENT_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'agent', 'prynt.js');

export const readAgent = () => readFileSync(AGENT_PATH, 'utf8');

// The same two wrappings the server applies when it serves the agent.
export const wrapClassic = (src) => `(function(){"use strict";\n${src}\nwindow.Prynt = Prynt;})();`;
export const wrapModule = (src) => `${src}\nexport { Prynt };\nexport default Prynt;`;

/**
 * Launches headless Chromium with a persistent profile (so cookies, localStorage and
 * IndexedDB behave as in a real profile). Returns the Playwright BrowserContext; when no
 * userDataDir is given a temporary one is made and removed by context.close().
 */
export async function launch({
  userDataDir,
  lang = 'en-US',
  timezoneId = 'UTC',
  viewport = { width: 1280, height: 800 },
  headless = true,
  extraArgs = [],
} = {}) {
  const dir = userDataDir || (await mkdtemp(join(tmpdir(), 'prynt-chromium-')));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless,
    locale: lang,
    timezoneId,
    viewport,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  if (!userDataDir) {
    const close = context.close.bind(context);
    context.close = async (...a) => {
      await close(...a);
      // Chromium's last child processes may still be writing; retry, and never fail a
      // test over a leftover temp directory.
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }).catch(() => {});
    };
  }
  return context;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
};

/**
 * Serves `routes` on 127.0.0.1 at a free port. A route is a path mapped to a string or
 * Buffer (content type from the extension; none means HTML), to `{ body, type, status, headers }`, or to a
 * `(req, res) => void` handler for anything dynamic. Resolves to `{ url, port, close }`.
 */
export function serveStatic(routes) {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    const route = Object.prototype.hasOwnProperty.call(routes, path) ? routes[path] : undefined;
    if (typeof route === 'function') return route(req, res);
    if (route === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found');
    }
    const r = typeof route === 'string' || Buffer.isBuffer(route) ? { body: route } : route;
    res.writeHead(r.status || 200, {
      'Content-Type': r.type || TYPES[extname(path) || '.html'] || 'application/octet-stream',
      'Cache-Control': 'no-store',
      ...(r.headers || {}),
    });
    res.end(r.body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** The visitor token as the page sees it in each of the agent's three stores (a Playwright or
 * Puppeteer page): `{ cookie, local, idb, databases }`. */
export const storedTokens = (page) =>
  page.evaluate(async () => {
    const hit = document.cookie.split('; ').find((c) => c.startsWith('_prynt_vt='));
    const cookie = hit ? decodeURIComponent(hit.slice('_prynt_vt='.length)) || null : null;
    const local = localStorage.getItem('_prynt_vt');
    const databases = (await indexedDB.databases()).map((d) => d.name);
    const idb = !databases.includes('prynt')
      ? null
      : await new Promise((resolve) => {
          const open = indexedDB.open('prynt');
          open.onupgradeneeded = () => open.transaction.abort(); // never create it here
          open.onerror = () => resolve(null);
          open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains('kv')) {
              db.close();
              return resolve(null);
            }
            const get = db.transaction('kv').objectStore('kv').get('vt');
            get.onsuccess = () => {
              db.close();
              resolve(get.result === undefined ? null : get.result);
            };
            get.onerror = () => resolve('get failed');
          };
        });
    return { cookie, local, idb, databases };
  });
