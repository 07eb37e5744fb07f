// End-to-end identification: the real Prynt server (target/debug/prynt, copied first) and
// the agent it serves, in Debian's headless Chromium. Every test starts its own server and
// its own page server on another loopback port, so every identify is a cross-origin call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, serveStatic, storedTokens } from './lib/browser.mjs';
import { startPrynt } from './lib/prynt.mjs';

const TIMEOUT = 180_000;

// Browser A is a plain profile; browser B differs in language, timezone and window size.
const A = { lang: 'en-US', timezoneId: 'UTC', viewport: { width: 1280, height: 800 } };
const B = { lang: 'de-DE', timezoneId: 'Asia/Tokyo', viewport: { width: 1024, height: 700 } };

/**
 * Starts a Prynt server and a page server, and hands `fn` an environment to open browsers
 * in; everything (browsers, profiles, servers) is torn down afterwards, even on failure.
 */
async function withSetup(fn) {
  const cleanups = [];
  try {
    const prynt = await startPrynt();
    cleanups.push(() => prynt.stop());
    const site = await serveStatic({
      '/page.html':
        '<!doctype html><meta charset="utf-8"><title>shop</title>' +
        `<script src="${prynt.base}/v1/agent.js"></script><body>classic</body>`,
      '/module.html':
        '<!doctype html><meta charset="utf-8"><title>shop (module)</title><body>module</body>' +
        `<script type="module">import Prynt from '${prynt.base}/v1/agent.mjs';` +
        'window.PryntModule = Prynt; window.moduleReady = true;</script>',
      '/favicon.ico': { body: '', status: 204 },
    });
    cleanups.push(() => site.close());
    assert.notEqual(new URL(site.url).port, new URL(prynt.base).port, 'page and API are different origins');

    const env = {
      prynt,
      site,
      /** A new persistent profile directory, removed at the end. */
      async profile() {
        const dir = await mkdtemp(join(tmpdir(), 'prynt-profile-'));
        cleanups.push(() => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }).catch(() => {}));
        return dir;
      },
      /** Launches Chromium on `userDataDir` (a new profile when omitted). */
      async browser(opts = {}) {
        const userDataDir = opts.userDataDir || (await env.profile());
        const context = await launch({ ...A, ...opts, userDataDir });
        let closed = false;
        const close = context.close.bind(context);
        context.close = async () => {
          if (closed) return;
          closed = true;
          await close();
        };
        cleanups.push(() => context.close());
        return context;
      },
      /** Opens `path` of the page server and waits for the agent to be there. */
      async open(context, path = '/page.html') {
        const page = context.pages()[0] || (await context.newPage());
        page.errors ||= [];
        if (!page.listening) {
          page.on('pageerror', (e) => page.errors.push(e));
          page.listening = true;
        }
        await page.goto(site.url + path);
        if (path === '/module.html') await page.waitForFunction(() => window.moduleReady === true);
        else await page.waitForFunction(() => typeof window.Prynt === 'object');
        return page;
      },
      /** identify() from the page; resolves to `{ ok }` or `{ err: { message, status, code } }`. */
      identify(page, args = {}, { module = false } = {}) {
        return page.evaluate(
          async ({ endpoint, publicKey, args, module }) => {
            try {
              const P = module ? window.PryntModule : window.Prynt;
              const agent = await P.load({ publicKey, endpoint });
              return { ok: await agent.identify(args) };
            } catch (e) {
              return { err: { message: e.message, status: e.status, code: e.code } };
            }
          },
          { endpoint: prynt.base, publicKey: prynt.publicKey, args, module },
        );
      },
      /** identify() that must succeed. */
      async identifyOk(page, args, opts) {
        const r = await env.identify(page, args, opts);
        assert.ok(r.ok, `identify failed: ${JSON.stringify(r.err)}\nserver stderr:\n${prynt.stderr()}`);
        assert.match(r.ok.requestId, /^req_\d+_[0-9a-f]{6}$/);
        assert.match(r.ok.visitorId, /^pv_/);
        assert.ok(r.ok.confidence > 0 && r.ok.confidence <= 1, `confidence ${r.ok.confidence}`);
        return r.ok;
      },
      async event(requestId) {
        const r = await prynt.api('GET', `/v1/events/${requestId}`);
        assert.equal(r.status, 200, `GET /v1/events/${requestId}: ${r.text}`);
        return r.json;
      },
      async visitor(visitorId) {
        const r = await prynt.api('GET', `/v1/visitors/${visitorId}`);
        assert.equal(r.status, 200, `GET /v1/visitors/${visitorId}: ${r.text}`);
        return r.json;
      },
    };
    await fn(env);
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // keep tearing down the rest
      }
    }
  }
}

const assertTokenEverywhere = (t, msg) => {
  assert.ok(typeof t.local === 'string' && t.local.length > 0, `${msg}: token in localStorage`);
  assert.equal(t.cookie, t.local, `${msg}: cookie holds the same token`);
  assert.equal(t.idb, t.local, `${msg}: IndexedDB holds the same token`);
};

test('a: the visitor ID survives page reloads and a browser restart on the same profile (by token)', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const dir = await env.profile();
    let ctx = await env.browser({ userDataDir: dir });
    let page = await env.open(ctx);
    assert.deepEqual(await storedTokens(page), { cookie: null, local: null, idb: null, databases: [] }, 'fresh profile');

    const first = await env.identifyOk(page);
    assert.equal(first.visitorFound, false, 'first visit ever');
    const ev1 = await env.event(first.requestId);
    assert.equal(ev1.identifiedBy, 'new');
    assert.equal(ev1.visitorId, first.visitorId);
    assertTokenEverywhere(await storedTokens(page), 'after the first identify');

    const seen = [first];
    for (let i = 0; i < 2; i++) {
      await page.reload();
      await page.waitForFunction(() => typeof window.Prynt === 'object');
      seen.push(await env.identifyOk(page));
    }
    await ctx.close();

    // A full restart of Chromium on the same user-data-dir.
    ctx = await env.browser({ userDataDir: dir });
    page = await env.open(ctx);
    assertTokenEverywhere(await storedTokens(page), 'after the restart, before identify');
    seen.push(await env.identifyOk(page));

    for (const r of seen.slice(1)) {
      assert.equal(r.visitorId, first.visitorId, 'same visitor ID');
      assert.equal(r.visitorFound, true);
      const ev = await env.event(r.requestId);
      assert.equal(ev.identifiedBy, 'token', `event ${r.requestId} identified by token`);
      assert.equal(ev.visitorId, first.visitorId);
      assert.equal(ev.visitorFound, true);
      assert.equal(ev.firstSeenAt, ev1.firstSeenAt, 'firstSeenAt is the visitor\'s first visit');
    }
    assert.equal(new Set(seen.map((r) => r.requestId)).size, seen.length, 'every identify is its own event');
    const v = await env.visitor(first.visitorId);
    assert.equal(v.totalVisits, seen.length);
    assert.equal(v.firstSeenAt, ev1.firstSeenAt);
    assert.deepEqual(page.errors, []);
  });
});

test('b: with cookies and all site storage cleared, the browser is recognised by its fingerprint', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const ctx = await env.browser();
    const page = await env.open(ctx);
    const first = await env.identifyOk(page);
    assert.equal(first.visitorFound, false);
    assertTokenEverywhere(await storedTokens(page), 'after identify');

    await ctx.clearCookies();
    await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          localStorage.clear();
          const del = indexedDB.deleteDatabase('prynt');
          del.onsuccess = () => resolve();
          del.onerror = () => reject(del.error);
          del.onblocked = () => reject(new Error('deleteDatabase blocked'));
        }),
    );
    await env.open(ctx); // a fresh page load: no agent state left in memory either
    assert.deepEqual(await storedTokens(page), { cookie: null, local: null, idb: null, databases: [] }, 'no token left anywhere');
    assert.deepEqual((await ctx.cookies(env.site.url)).map((c) => c.name), [], 'no cookie for the page origin');

    const again = await env.identifyOk(page);
    assert.equal(again.visitorId, first.visitorId, 'the old visitor ID comes back');
    assert.equal(again.visitorFound, true);
    const ev = await env.event(again.requestId);
    assert.equal(ev.identifiedBy, 'fingerprint');
    assert.equal(ev.visitorId, first.visitorId);
    assertTokenEverywhere(await storedTokens(page), 'token stored again');
    assert.deepEqual(page.errors, []);
  });
});

test('c: a second browser with another language, timezone and window size is a different visitor', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const ctxA = await env.browser(A);
    const a = await env.identifyOk(await env.open(ctxA));
    assert.equal(a.visitorFound, false);

    const ctxB = await env.browser(B);
    const pageB = await env.open(ctxB);
    const seenB = await pageB.evaluate(() => ({
      lang: navigator.language,
      tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
      w: innerWidth,
      h: innerHeight,
    }));
    assert.deepEqual(seenB, { lang: 'de-DE', tz: 'Asia/Tokyo', w: 1024, h: 700 }, 'browser B really differs');
    assert.deepEqual(await storedTokens(pageB), { cookie: null, local: null, idb: null, databases: [] }, 'B has no token');
    const b = await env.identifyOk(pageB);
    assert.notEqual(b.visitorId, a.visitorId, 'B must not be taken for A');
    assert.equal(b.visitorFound, false);
    assert.equal((await env.event(b.requestId)).identifiedBy, 'new');
    assert.equal((await env.visitor(a.visitorId)).totalVisits, 1, "A's visitor did not gain B's visit");
  });
});

test('d: type, linkedId and tag reach the event; linkedAccounts counts distinct linkedIds', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const page = await env.open(await env.browser());
    const tag = { plan: 'pro', cart: { items: 3, total: 129.5 }, coupons: ['A', 'B'] };
    const r1 = await env.identifyOk(page, { type: 'login', linkedId: 'user-1001', tag });
    const ev1 = await env.event(r1.requestId);
    assert.equal(ev1.requestId, r1.requestId);
    assert.equal(ev1.type, 'login');
    assert.equal(ev1.linkedId, 'user-1001');
    assert.deepEqual(ev1.tag, tag);
    assert.equal(ev1.url, env.site.url + '/page.html');
    assert.equal(ev1.ip.address, '127.0.0.1');
    assert.equal(ev1.device.browser.includes('Chrom'), true, `device.browser ${JSON.stringify(ev1.device.browser)}`);
    assert.deepEqual(ev1.device.screen, { w: 1280, h: 800 });
    // Playwright drives this Chromium: the signals say so (signals.test.mjs covers the rest).
    assert.equal(ev1.signals.bot.type, 'automation');
    assert.equal(ev1.verdict, null);
    assert.equal((await env.visitor(r1.visitorId)).linkedAccounts, 1);

    const r2 = await env.identifyOk(page, { type: 'purchase', linkedId: 'user-1001' });
    assert.equal(r2.visitorId, r1.visitorId);
    const ev2 = await env.event(r2.requestId);
    assert.equal(ev2.type, 'purchase');
    assert.equal(ev2.linkedId, 'user-1001');
    assert.equal(ev2.tag, null, 'no tag given');
    assert.equal((await env.visitor(r1.visitorId)).linkedAccounts, 1, 'the same linkedId twice is one account');

    const r3 = await env.identifyOk(page, { type: 'login', linkedId: 'user-2002' });
    assert.equal(r3.visitorId, r1.visitorId);
    assert.equal((await env.event(r3.requestId)).linkedId, 'user-2002');
    const v = await env.visitor(r1.visitorId);
    assert.equal(v.linkedAccounts, 2, 'a second linkedId is a second account');
    assert.equal(v.totalVisits, 3);
  });
});

test('e: allowedOrigins refuses identify from other origins with 403 origin_not_allowed', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const other = 'http://127.0.0.1:1';
    let r = await env.prynt.api('PATCH', '/v1/workspace', { allowedOrigins: [other] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.allowedOrigins, [other]);

    const page = await env.open(await env.browser());
    const refused = await env.identify(page, { type: 'login' });
    assert.ok(refused.err, `identify must be refused, got ${JSON.stringify(refused)}`);
    assert.equal(refused.err.status, 403);
    assert.equal(refused.err.code, 'origin_not_allowed');
    const t = await storedTokens(page);
    assert.deepEqual([t.cookie, t.local, t.idb], [null, null, null], 'a refused identify stores no token');

    r = await env.prynt.api('PATCH', '/v1/workspace', { allowedOrigins: [other, env.site.url] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([...r.json.allowedOrigins].sort(), [other, env.site.url].sort());
    const ok = await env.identifyOk(page, { type: 'login' });
    assert.equal(ok.visitorFound, false, 'the refused call recorded no visitor');
    assert.equal((await env.event(ok.requestId)).type, 'login');
  });
});

test('f: the ES-module build works against the server and agrees with the classic script', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const ctx = await env.browser();
    const classic = await env.identifyOk(await env.open(ctx, '/page.html'));
    assert.equal(classic.visitorFound, false);

    const page = await env.open(ctx, '/module.html');
    assert.equal(await page.evaluate(() => typeof window.Prynt), 'undefined', 'no classic global on the module page');
    const mod = await env.identifyOk(page, { type: 'module' }, { module: true });
    assert.equal(mod.visitorId, classic.visitorId);
    assert.equal(mod.visitorFound, true);
    const ev = await env.event(mod.requestId);
    assert.equal(ev.identifiedBy, 'token', 'the module build reads the token the classic build stored');
    assert.equal(ev.type, 'module');
    assert.equal(ev.url, env.site.url + '/module.html');
    assert.deepEqual(page.errors, []);
  });
});

test('g: a visitor token replayed on a different device is not trusted', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const ctxA = await env.browser(A);
    const pageA = await env.open(ctxA);
    const a = await env.identifyOk(pageA);
    const token = await pageA.evaluate(() => localStorage.getItem('_prynt_vt'));
    assert.ok(token, 'A has a token');
    // Control: A's own token is honoured.
    await env.open(ctxA);
    const a2 = await env.identifyOk(pageA);
    assert.equal(a2.visitorId, a.visitorId);
    assert.equal((await env.event(a2.requestId)).identifiedBy, 'token');

    const ctxB = await env.browser(B);
    const pageB = await env.open(ctxB);
    await ctxB.addCookies([{ name: '_prynt_vt', value: encodeURIComponent(token), url: env.site.url }]);
    await pageB.evaluate((t) => localStorage.setItem('_prynt_vt', t), token);
    await env.open(ctxB);
    const planted = await storedTokens(pageB);
    assert.equal(planted.cookie, token, 'A\'s token planted in B\'s cookie');
    assert.equal(planted.local, token, 'A\'s token planted in B\'s localStorage');

    const b = await env.identifyOk(pageB);
    assert.notEqual(b.visitorId, a.visitorId, 'the replayed token must not give B the visitor ID of A');
    assert.equal(b.visitorFound, false);
    const ev = await env.event(b.requestId);
    assert.notEqual(ev.identifiedBy, 'token');
    assert.equal((await env.visitor(a.visitorId)).totalVisits, 2, "A's visitor did not gain B's visit");
  });
});

test('h: after DELETE /v1/visitors/{id} the same browser becomes a new visitor', { timeout: TIMEOUT }, async () => {
  await withSetup(async (env) => {
    const page = await env.open(await env.browser());
    const first = await env.identifyOk(page, { linkedId: 'user-7' });
    const second = await env.identifyOk(page);
    assert.equal(second.visitorId, first.visitorId);
    const oldId = first.visitorId;
    const before = await storedTokens(page);
    assertTokenEverywhere(before, 'before the deletion');

    const del = await env.prynt.api('DELETE', `/v1/visitors/${oldId}`);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { deleted: true, visitorId: oldId });

    const gone = await env.prynt.api('GET', `/v1/visitors/${oldId}`);
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.json.error.code, 'not_found');
    for (const r of [first, second]) {
      const ev = await env.prynt.api('GET', `/v1/events/${r.requestId}`);
      assert.equal(ev.status, 404, `event ${r.requestId} after the deletion: ${ev.text}`);
      assert.equal(ev.json.error.code, 'not_found');
    }
    const again = await env.prynt.api('DELETE', `/v1/visitors/${oldId}`);
    assert.equal(again.status, 404, again.text);

    // The browser still holds its old token.
    await env.open(page.context());
    assert.deepEqual(await storedTokens(page), before, 'the old token is still in the browser');
    const fresh = await env.identifyOk(page);
    assert.notEqual(fresh.visitorId, oldId, 'a deleted visitor ID is never handed out again');
    assert.equal(fresh.visitorFound, false);
    assert.equal((await env.event(fresh.requestId)).identifiedBy, 'new');
    const after = await storedTokens(page);
    assertTokenEverywhere(after, 'after the new identify');
    assert.notEqual(after.local, before.local, 'the browser got a new token');
    assert.equal((await env.prynt.api('GET', `/v1/visitors/${oldId}`)).status, 404, 'the old visitor stays gone');
    const v = await env.visitor(fresh.visitorId);
    assert.equal(v.totalVisits, 1);
    assert.equal(v.linkedAccounts, 0);
  });
});
