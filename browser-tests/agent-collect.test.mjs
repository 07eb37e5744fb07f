// Runs agent/prynt.js in Debian's headless Chromium, served the way the Rust server will
// serve it (classic and module wrappings), against a fake identify endpoint on another
// loopback port so that every request is a real cross-origin CORS request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, serveStatic, wrapClassic, wrapModule, readAgent } from './lib/browser.mjs';

const LOCALE = 'de-DE';
const TIMEZONE = 'Asia/Tokyo'; // UTC+9 all year, and not an alias ICU would canonicalise
const OK_BODY = { requestId: 'req_1_abcdef', visitorId: 'pv_0123456789abc', confidence: 1, visitorFound: false };

let site; // the customer's page
let api; // the fake Prynt server, on another origin
let context;
const requests = []; // every request the fake API saw, preflights included

const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

before(async () => {
  const src = readAgent();
  const classic = wrapClassic(src);
  const mod = wrapModule(src);
  site = await serveStatic({
    '/classic.html': '<!doctype html><meta charset="utf-8"><title>classic</title><script src="/agent.js"></script><body>classic</body>',
    '/module.html':
      '<!doctype html><meta charset="utf-8"><title>module</title><body>module</body>' +
      '<script type="module">import Prynt, { Prynt as Named } from "./agent.mjs";' +
      'window.PryntModule = Prynt; window.namedIsDefault = Named === Prynt; window.moduleReady = true;</script>',
    '/agent.js': classic,
    '/agent.mjs': mod,
    '/favicon.ico': { body: '', status: 204 },
  });

  api = await serveStatic({
    '/agent.js': classic,
    '/v1/identify': async (req, res) => {
      const origin = req.headers.origin || '*';
      const cors = {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Expose-Headers': 'X-Prynt-Visitor-Token',
        Vary: 'Origin',
      };
      const raw = await readBody(req);
      requests.push({ method: req.method, headers: req.headers, raw });
      if (req.method !== 'POST') {
        res.writeHead(405, { ...cors, 'Content-Type': 'application/json' });
        return res.end('{"error":{"code":"method_not_allowed","message":"POST only"}}');
      }
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {
        // reported through the recorded raw text
      }
      if (body && body.publicKey === 'pk_test_forbidden') {
        res.writeHead(403, { ...cors, 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({
          error: { code: 'origin_not_allowed', message: 'The origin is not in the allowed origins.', docs: '/docs/errors#origin_not_allowed' },
        }));
      }
      res.writeHead(200, { ...cors, 'Content-Type': 'application/json', 'X-Prynt-Visitor-Token': 'tok123' });
      // Extra fields must not leak through identify()'s result.
      res.end(JSON.stringify({ ...OK_BODY, extra: 'ignored' }));
    },
  });

  context = await launch({ lang: LOCALE, timezoneId: TIMEZONE });
});

after(async () => {
  await context?.close();
  await site?.close();
  await api?.close();
});

const openPage = async (path) => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(site.url + path);
  page.errors = errors;
  return page;
};

const isHash = (v) => typeof v === 'string' && /^[0-9a-f]{16}$/.test(v);
const isNumOrNull = (v) => v === null || typeof v === 'number';
const isStrOrNull = (v) => v === null || typeof v === 'string';

function assertComponents(c, sent = false) {
  assert.equal(typeof c, 'object');
  assert.ok(typeof c.userAgent === 'string' && c.userAgent.length > 0, 'userAgent');
  // Chromium on a secure context (loopback counts) has User-Agent Client Hints.
  assert.ok(c.uaData && Array.isArray(c.uaData.brands) && c.uaData.brands.length > 0, 'uaData.brands');
  for (const k of ['platform', 'platformVersion', 'architecture', 'model', 'bitness']) {
    assert.equal(typeof c.uaData[k], 'string', `uaData.${k}`);
  }
  assert.equal(typeof c.uaData.mobile, 'boolean');
  assert.ok(Array.isArray(c.uaData.fullVersionList));
  for (const b of [...c.uaData.brands, ...c.uaData.fullVersionList]) {
    assert.deepEqual(Object.keys(b).sort(), ['brand', 'version']);
  }
  for (const k of ['platform', 'vendor', 'productSub', 'appVersion']) assert.equal(typeof c[k], 'string', k);
  assert.ok(Array.isArray(c.languages));
  assert.equal(c.languages[0], LOCALE, 'languages reflect the launch locale');
  assert.equal(c.timezone, TIMEZONE);
  assert.equal(c.timezoneOffset, -540);
  for (const k of ['w', 'h', 'availW', 'availH', 'colorDepth', 'pixelRatio']) {
    assert.ok(typeof c.screen[k] === 'number' && c.screen[k] > 0, `screen.${k}`);
  }
  for (const k of ['innerW', 'innerH', 'outerW', 'outerH']) {
    assert.ok(typeof c.window[k] === 'number' && c.window[k] > 0, `window.${k}`);
  }
  assert.ok(isNumOrNull(c.hardwareConcurrency) && isNumOrNull(c.deviceMemory));
  assert.equal(typeof c.maxTouchPoints, 'number');
  assert.equal(typeof c.cookieEnabled, 'boolean');
  assert.ok(isStrOrNull(c.doNotTrack));

  assert.ok(isHash(c.canvas.text) && isHash(c.canvas.geometry), 'canvas hashes');
  assert.notEqual(c.canvas.text, c.canvas.geometry);
  assert.equal(typeof c.canvas.winding, 'boolean');

  for (const k of ['vendor', 'renderer', 'unmaskedVendor', 'unmaskedRenderer', 'version', 'shadingLanguage']) {
    assert.ok(isStrOrNull(c.webgl[k]), `webgl.${k}`);
  }
  assert.ok(c.webgl.renderer, 'webgl.renderer');
  for (const k of ['params', 'extensions', 'render']) assert.ok(isHash(c.webgl[k]), `webgl.${k}`);

  assert.ok(isHash(c.audio.hash), 'audio.hash');
  assert.ok(typeof c.audio.sum === 'number' && c.audio.sum > 0, 'audio.sum');

  assert.ok(Array.isArray(c.fonts) && c.fonts.every((f) => typeof f === 'string'), 'fonts');
  assert.ok(isHash(c.math), 'math');

  const s = c.storage;
  for (const k of ['localStorage', 'sessionStorage', 'indexedDB', 'openDatabase']) assert.equal(typeof s[k], 'boolean', `storage.${k}`);
  assert.equal(s.localStorage, true);
  assert.equal(s.indexedDB, true);
  for (const k of ['quota', 'usage', 'heapLimit']) assert.ok(isNumOrNull(s[k]), `storage.${k}`);
  assert.ok(s.persisted === null || typeof s.persisted === 'boolean');
  assert.ok(['ok', 'error', 'missing', 'timeout'].includes(s.getDirectory));
  assert.equal(s.idbBlob, 'skipped', 'the Blob probe only runs on WebKit');

  assert.ok(Array.isArray(c.plugins) && c.plugins.every((p) => typeof p === 'string' && p.includes('::')));
  assert.ok(Array.isArray(c.mimeTypes) && c.mimeTypes.every((m) => typeof m === 'string'));
  assert.equal(typeof c.pluginsArray, 'boolean');

  const a = c.automation;
  assert.equal(a.webdriver, true, 'Playwright drives Chromium over CDP, which sets navigator.webdriver');
  assert.ok(Array.isArray(a.driverGlobals) && Array.isArray(a.documentAttributes));
  assert.ok(isStrOrNull(a.notificationPermission) && isStrOrNull(a.permissionsNotifications));
  assert.equal(typeof a.evalLength, 'number');
  assert.ok(isNumOrNull(a.connectionRtt));
  for (const k of ['outerZero', 'hasFocus', 'languagesEmpty', 'mimeTypesConsistent']) assert.equal(typeof a[k], 'boolean', `automation.${k}`);
  assert.equal(a.languagesEmpty, false);

  const i = c.integrity;
  assert.deepEqual(i.lies, [], 'nothing is patched in a plain page');
  assert.deepEqual(i.navigatorOwn, []);
  assert.equal(i.webdriverMissing, false);
  // Every realm sees the same browser.
  for (const realm of [i.iframe, i.worker]) {
    assert.ok(realm, 'the iframe and the worker both answered');
    assert.equal(realm.userAgent, c.userAgent);
    assert.equal(realm.platform, c.platform);
    assert.equal(realm.languages, c.languages.join(','));
    assert.equal(realm.hardwareConcurrency, c.hardwareConcurrency);
  }
  assert.equal(i.worker.gpu, c.webgl.unmaskedRenderer, 'WebGL in the worker renders on the same GPU');
  assert.equal(i.worker.timezone, c.timezone);
  assert.equal(i.iframe.webdriver, a.webdriver);
  // collect() alone carries no behaviour: identify() adds what happened until it was called.
  if (!sent) assert.equal(c.behavior, null);
  else assert.equal(typeof c.behavior.keys, 'number');

  assert.ok(typeof c.timing.collectMs === 'number' && c.timing.collectMs >= 0);
  assert.ok(JSON.stringify(c).length < 16 * 1024, 'components stay far below the 64 KiB identify limit');
}

const STABLE = ['canvas', 'webgl', 'audio', 'math', 'fonts', 'plugins', 'timezone', 'languages'];

test('classic script: window.Prynt.collect() has the payload shape and stable hashes', async () => {
  const page = await openPage('/classic.html');
  const [first, second] = await page.evaluate(async () => [await window.Prynt.collect(), await window.Prynt.collect()]);
  assertComponents(first);
  assertComponents(second);
  for (const k of STABLE) assert.deepEqual(second[k], first[k], `${k} is stable within a page`);
  assert.equal(typeof (await page.evaluate(() => window.Prynt.version)), 'string');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('module script: the ES module import works and measures the same device', async () => {
  const page = await openPage('/module.html');
  await page.waitForFunction(() => window.moduleReady === true);
  assert.equal(await page.evaluate(() => window.namedIsDefault), true, 'named and default exports are the same object');
  assert.equal(await page.evaluate(() => typeof window.Prynt), 'undefined', 'the module wrapping sets no global');
  const c = await page.evaluate(() => window.PryntModule.collect());
  assertComponents(c);
  const classic = await openPage('/classic.html');
  const d = await classic.evaluate(() => window.Prynt.collect());
  for (const k of ['canvas', 'webgl', 'audio', 'math', 'fonts']) assert.deepEqual(c[k], d[k], `${k} matches the classic build`);
  // A module has no document.currentScript, so there is no origin to default to.
  const err = await page.evaluate(() => window.PryntModule.load({ publicKey: 'pk_test_x' }).then(() => null, (e) => e.message));
  assert.match(err, /endpoint/);
  assert.deepEqual(page.errors, []);
  await page.close();
  await classic.close();
});

test('load() refuses secret keys and malformed options', async () => {
  const page = await openPage('/classic.html');
  const results = await page.evaluate(async () => {
    const attempt = (o) => window.Prynt.load(o).then(() => 'resolved', (e) => (e instanceof Error ? 'Error: ' + e.message : 'non-Error'));
    return {
      secret: await attempt({ publicKey: 'sk_test_x', endpoint: 'http://127.0.0.1:1' }),
      other: await attempt({ publicKey: 'abc', endpoint: 'http://127.0.0.1:1' }),
      missing: await attempt(undefined),
    };
  });
  assert.match(results.secret, /^Error: .*secret key/);
  assert.match(results.other, /^Error: .*pk_/);
  assert.match(results.missing, /^Error: /);
  await page.close();
});

const identifyOn = (page, opts) =>
  page.evaluate(async ({ endpoint, publicKey, args }) => {
    try {
      const agent = await window.Prynt.load({ publicKey, endpoint });
      return { ok: await agent.identify(args) };
    } catch (e) {
      return { err: { message: e.message, status: e.status, code: e.code, isError: e instanceof Error } };
    }
  }, opts);

const lastIdentify = () => {
  const posts = requests.filter((r) => r.method === 'POST');
  return posts[posts.length - 1];
};

const storedTokens = (page) =>
  page.evaluate(async () => {
    const cookie = (document.cookie.split('; ').find((c) => c.startsWith('_prynt_vt=')) || '').slice('_prynt_vt='.length) || null;
    const local = localStorage.getItem('_prynt_vt');
    const idb = await new Promise((resolve) => {
      const open = indexedDB.open('prynt');
      // Never create the database here: aborting the upgrade leaves a fresh profile fresh.
      open.onupgradeneeded = () => open.transaction.abort();
      open.onerror = () => resolve(null);
      open.onsuccess = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains('kv')) { db.close(); return resolve('no kv store'); }
        const get = db.transaction('kv').objectStore('kv').get('vt');
        get.onsuccess = () => { db.close(); resolve(get.result === undefined ? null : get.result); };
        get.onerror = () => resolve('get failed');
      };
    });
    return { cookie, local, idb };
  });

test('identify(): cross-origin simple request, exact result, token stored in all three stores and sent back', async () => {
  const page = await openPage('/classic.html?secret=1#section');
  assert.deepEqual(await storedTokens(page), { cookie: null, local: null, idb: null }, 'a fresh profile has no token');

  const tag = { plan: 'pro', nested: { n: 1 } };
  const first = await identifyOn(page, {
    endpoint: api.url,
    publicKey: 'pk_test_abc',
    args: { type: 'login', linkedId: 'user-42', tag },
  });
  assert.deepEqual(first, { ok: OK_BODY }, 'identify resolves to exactly the four documented fields');

  const req = lastIdentify();
  assert.ok(req.headers['content-type'].startsWith('text/plain'), `content-type was ${req.headers['content-type']}`);
  assert.equal(req.headers.origin, site.url);
  assert.equal(req.headers.cookie, undefined, 'credentials are omitted');
  const body = JSON.parse(req.raw);
  assert.equal(body.publicKey, 'pk_test_abc');
  assert.equal(body.type, 'login');
  assert.equal(body.linkedId, 'user-42');
  assert.deepEqual(body.tag, tag);
  assert.ok(body.token === undefined || body.token === null, 'no token on the first visit');
  assert.equal(body.url, site.url + '/classic.html', 'url drops the query and hash');
  assertComponents(body.components, true);
  assert.ok(!requests.some((r) => r.method === 'OPTIONS'), 'text/plain POST needs no CORS preflight');

  assert.deepEqual(await storedTokens(page), { cookie: 'tok123', local: 'tok123', idb: 'tok123' });
  const [cookie] = (await context.cookies(site.url)).filter((c) => c.name === '_prynt_vt');
  assert.equal(cookie.path, '/');
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.secure, false, 'Secure only on https pages');
  assert.ok(cookie.expires * 1000 > Date.now() + 360 * 24 * 3600 * 1000, 'kept for a year');

  // The next identify, from a new page load, sends the stored token back.
  await page.goto(site.url + '/classic.html');
  const second = await identifyOn(page, { endpoint: api.url, publicKey: 'pk_test_abc', args: {} });
  assert.deepEqual(second, { ok: OK_BODY });
  const body2 = JSON.parse(lastIdentify().raw);
  assert.equal(body2.token, 'tok123');
  for (const k of ['type', 'linkedId', 'tag']) assert.equal(k in body2, false, `${k} omitted when not given`);

  // Cleared cookie and localStorage: IndexedDB alone still carries the token.
  await context.clearCookies();
  await page.evaluate(() => localStorage.removeItem('_prynt_vt'));
  await page.goto(site.url + '/classic.html');
  await identifyOn(page, { endpoint: api.url, publicKey: 'pk_test_abc', args: { type: 'purchase' } });
  assert.equal(JSON.parse(lastIdentify().raw).token, 'tok123');
  assert.deepEqual(await storedTokens(page), { cookie: 'tok123', local: 'tok123', idb: 'tok123' }, 'stores refilled');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('identify(): a 403 JSON error rejects with .status and .code', async () => {
  const page = await openPage('/classic.html');
  const r = await identifyOn(page, { endpoint: api.url, publicKey: 'pk_test_forbidden', args: { type: 'login' } });
  assert.deepEqual(r, {
    err: { message: 'The origin is not in the allowed origins.', status: 403, code: 'origin_not_allowed', isError: true },
  });
  await page.close();
});

test('identify(): endpoint defaults to the origin the classic script was loaded from', async () => {
  const before = requests.length;
  const page = await context.newPage();
  await page.goto(site.url + '/classic.html');
  // Load the agent from the "Prynt server" origin instead of the site's own copy.
  await page.evaluate((src) => new Promise((resolve, reject) => {
    delete window.Prynt;
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = reject;
    document.head.appendChild(s);
  }), api.url + '/agent.js');
  const r = await page.evaluate(async () => {
    const agent = await window.Prynt.load({ publicKey: 'pk_test_abc' });
    return agent.identify();
  });
  assert.deepEqual(r, OK_BODY);
  assert.equal(requests.length, before + 1);
  await page.close();
});

test('identify(): a blocked storage never breaks identify', async () => {
  const page = await openPage('/classic.html');
  const r = await page.evaluate(async (endpoint) => {
    // Simulate a sandboxed or privacy-restricted context: every store throws.
    const boom = () => { throw new DOMException('blocked', 'SecurityError'); };
    Object.defineProperty(window, 'localStorage', { get: boom, configurable: true });
    Object.defineProperty(window, 'sessionStorage', { get: boom, configurable: true });
    Object.defineProperty(window, 'indexedDB', { get: boom, configurable: true });
    Object.defineProperty(Document.prototype, 'cookie', { get: boom, set: boom, configurable: true });
    const agent = await window.Prynt.load({ publicKey: 'pk_test_abc', endpoint });
    const out = await agent.identify({ type: 'login' });
    const c = await window.Prynt.collect();
    return { out, storage: c.storage };
  }, api.url);
  assert.deepEqual(r.out, OK_BODY);
  assert.equal(r.storage.localStorage, false);
  assert.equal(r.storage.indexedDB, false);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('identify(): a pre-existing "prynt" IndexedDB without the kv store is upgraded, not fatal', async () => {
  const page = await openPage('/classic.html');
  await page.evaluate(() => new Promise((resolve, reject) => {
    const del = indexedDB.deleteDatabase('prynt');
    del.onerror = () => reject(del.error);
    del.onsuccess = () => {
      const open = indexedDB.open('prynt', 3); // bare: no object store at all
      open.onerror = () => reject(open.error);
      open.onsuccess = () => { open.result.close(); resolve(); };
    };
  }));
  const r = await identifyOn(page, { endpoint: api.url, publicKey: 'pk_test_abc', args: {} });
  assert.deepEqual(r, { ok: OK_BODY });
  assert.equal((await storedTokens(page)).idb, 'tok123');
  assert.equal(await page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('prynt');
    open.onsuccess = () => { const v = open.result.version; open.result.close(); resolve(v); };
  })), 4);
  await page.close();
});
