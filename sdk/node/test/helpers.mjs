// Shared by the SDK's tests: the real prynt binary (through the browser tests' launcher), a
// client bound to it, identify calls that create real events without a browser, and a local
// webhook receiver that keeps each delivery's raw body and headers.
import { createServer } from 'node:http';
import { startPrynt } from '../../../browser-tests/lib/prynt.mjs';
import { PryntServer } from '@prynt/node';

export { startPrynt };

/** Starts the real server; `client(options)` makes a PryntServer for it (its secret key). */
export async function startServer({ env = {} } = {}) {
  const prynt = await startPrynt({ env });
  const client = (options = {}) =>
    new PryntServer({ secretKey: prynt.secretKey, baseUrl: prynt.base, maxRetries: 0, timeout: 10_000, ...options });
  return { ...prynt, client };
}

/** Creates a workspace on `plan` and a test secret key of it, with the server's own CLI. */
export async function workspaceKey(prynt, name, plan) {
  const made = await prynt.cli(['workspaces', 'create', name, '--plan', plan]);
  if (made.code !== 0) throw new Error(`workspaces create failed: ${made.stderr}`);
  const key = await prynt.cli(['keys', 'create', '--env', 'test', '--type', 'secret', '--workspace', name]);
  if (key.code !== 0) throw new Error(`keys create failed: ${key.stderr}`);
  return key.stdout.trim();
}

/**
 * A realistic agent payload (the fields the browser agent collects); `seed` varies the device,
 * so different seeds are different browsers and the same seed is the same browser.
 */
export function agentPayload(seed) {
  const hex = (n) => n.toString(16).padStart(8, '0');
  const langs = [['en-US', 'en'], ['de-DE', 'de'], ['fr-FR', 'fr'], ['ja-JP', 'ja'], ['es-ES', 'es']];
  const tzs = ['America/New_York', 'Europe/Berlin', 'Europe/Paris', 'Asia/Tokyo', 'Europe/Madrid'];
  const screens = [[1920, 1080], [2560, 1440], [1440, 900], [3840, 2160], [1366, 768]];
  const [w, h] = screens[Math.floor(seed / 25) % 5];
  return {
    components: {
      userAgent:
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36',
      platform: 'MacIntel',
      vendor: 'Google Inc.',
      productSub: '20030107',
      languages: langs[seed % 5],
      timezone: tzs[Math.floor(seed / 5) % 5],
      timezoneOffset: 0,
      screen: { w, h, availW: 1920, availH: 1050, colorDepth: 30, pixelRatio: 2 },
      window: { innerW: 1200, innerH: 800, outerW: 1200, outerH: 900 },
      hardwareConcurrency: 8 + (seed % 3) * 2,
      deviceMemory: 8,
      maxTouchPoints: 0,
      cookieEnabled: true,
      canvas: { text: `c${hex(seed)}`, geometry: `g${hex(seed)}`, winding: true },
      webgl: {
        vendor: 'WebKit',
        renderer: 'WebKit WebGL',
        unmaskedVendor: 'Google Inc. (Apple)',
        unmaskedRenderer: 'ANGLE (Apple, ANGLE Metal Renderer: Apple M3 Pro, Unspecified Version)',
        params: `p${seed % 7}`,
        extensions: 'e1',
        render: `r${hex(seed)}`,
      },
      audio: { hash: `a${hex(seed)}`, sum: 124.04 },
      fonts: Array.from({ length: 20 }, (_, f) => `Font${(seed * 7 + f) % 60}`),
      math: 'm1',
      storage: { localStorage: true, sessionStorage: true, indexedDB: true, quota: 2.9e11 },
      plugins: ['PDF Viewer::internal-pdf-viewer'],
      mimeTypes: ['application/pdf'],
      automation: { webdriver: false },
      timing: { collectMs: 40.0 },
    },
  };
}

/** POST /v1/identify with the public key, as the browser agent does; resolves to its answer. */
export async function identify(prynt, seed, extra = {}) {
  const res = await fetch(`${prynt.base}/v1/identify`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${prynt.publicKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...agentPayload(seed), ...extra }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`identify answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/**
 * A local HTTP server on 127.0.0.1 that answers 200 to every request and keeps each one's raw
 * body (as received, before any parsing) and headers.
 */
export async function startReceiver() {
  const received = [];
  const waiters = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const delivery = { method: req.method, url: req.url, headers: req.headers, rawBody: Buffer.concat(chunks) };
      received.push(delivery);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      for (const w of [...waiters]) w();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  /** Resolves to the first delivery (in arrival order) that `predicate` accepts. */
  const waitFor = (predicate, timeoutMs = 15_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = received.find(predicate);
        if (!found) return false;
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(check), 1);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`no matching delivery within ${timeoutMs} ms; got ${received.length}`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  const close = () => {
    // The server's delivery client keeps connections open; close them or close() waits.
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  };
  return { url, received, waitFor, close };
}

/** The JSON body of a delivery. */
export const deliveryJson = (d) => JSON.parse(d.rawBody.toString('utf8'));
