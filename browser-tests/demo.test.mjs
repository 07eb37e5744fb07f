// The demo page (`/demo`) in real headless Chromium against the real server on loopback: it
// identifies the browser on load without a click and shows the visitor ID, confidence and every
// Smart Signal; a private window (an off-the-record context of the same browser, which is what
// Chromium's incognito window is) comes back as the same visitor, identified by its
// fingerprint, and the first window's list of recent visits shows that private visit. The
// dashboard link points at the event. No console error, no failed request, no serious or
// critical axe-core violation at 1280 and 390 px in light and dark, and nothing wider than a
// phone's screen at 390 px.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axeProblems } from './lib/axe.mjs';
import { launch } from './lib/browser.mjs';
import { startPrynt } from './lib/prynt.mjs';

const TIMEOUT = 180_000;
const WAIT = 30_000;
// The same window in both sessions: only the storage differs, as with a person's two windows.
const WINDOW = { viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' };

/** Collects what goes wrong on a page: console errors, page errors, failed or refused requests. */
function watch(page, label, problems) {
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`${label}: request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${label}: HTTP ${r.status()} for ${r.url()}`);
  });
}

const text = async (page, selector) => ((await page.textContent(selector)) || '').trim();

/** The rows of the recent-visits table as shown: {requestId, time, private, browser, identifiedBy}
 * (on a phone the browser is shown under the time instead of in its own column). */
const visitRows = (page) =>
  page.$$eval('#visits tr', (rows) =>
    rows.map((r) => {
      const cells = [...r.querySelectorAll('td')];
      const shown = (e) => (e && e.offsetParent !== null ? e.innerText.trim() : '');
      return {
        requestId: r.dataset.requestId,
        time: shown(cells[0]),
        private: shown(cells[1]),
        browser: shown(cells[2]) || shown(cells[0].querySelector('.browser-inline')),
        identifiedBy: shown(cells[3]),
      };
    }),
  );

test('the demo identifies this browser on load; a private window is the same visitor and shows in the recent visits', { timeout: TIMEOUT }, async () => {
  const prynt = await startPrynt();
  const normal = await launch(WINDOW);
  const problems = [];
  let privateCtx = null;
  try {
    const page = normal.pages()[0] || (await normal.newPage());
    watch(page, 'window', problems);
    await page.goto(`${prynt.base}/demo`);

    // No click: the details and the visits list appear by themselves.
    await page.locator('#details').waitFor({ state: 'visible', timeout: WAIT });
    await page.locator('#visits-wrap').waitFor({ state: 'visible', timeout: WAIT });
    const visitorId = await text(page, '#visitor-id');
    const requestId = await text(page, '#request-id');
    assert.match(visitorId, /^pv_[0-9A-Za-z]{13}$/);
    assert.match(requestId, /^req_\d+_[0-9a-f]{6}$/);

    // What the page shows is the event the API has.
    const ev = await prynt.api('GET', `/v1/events/${requestId}`);
    assert.equal(ev.status, 200, ev.text);
    assert.equal(ev.json.visitorId, visitorId);
    assert.equal(ev.json.type, 'demo');
    assert.equal(ev.json.identifiedBy, 'new');
    assert.match(await text(page, '#confidence'), /^\d+(\.\d)?\s?%$/);
    assert.notEqual(await text(page, '#confidence-text'), '');
    assert.equal(await text(page, '#identified-by'), 'New visitor');
    assert.match(await text(page, '#found'), /^No/);

    const signals = await page.$$eval('#signals .signal', (items) =>
      items.map((li) => ({
        name: li.querySelector('.signal-name').textContent.trim(),
        result: li.querySelector('.badge').textContent.trim(),
        why: li.querySelector('.signal-why').textContent.trim(),
      })),
    );
    assert.deepEqual(
      signals.map((s) => s.name),
      ['Bot', 'VPN', 'Proxy', 'Tor', 'Private window', 'Tampered', 'Emulator', 'Software rendering'],
    );
    const bot = signals[0];
    assert.equal(bot.result, ev.json.signals.bot.detected ? 'Detected' : 'Not detected');
    for (const reason of ev.json.signals.bot.reasons || []) assert.ok(bot.why.includes(reason), `${reason} in ${bot.why}`);
    assert.equal(signals[4].result, 'Not detected', 'a normal profile is not a private window');
    assert.equal(signals[7].result, ev.json.signals.softwareRendering ? 'Detected' : 'Not detected');
    assert.equal(await text(page, '#suspect'), String(ev.json.scores.suspect));
    assert.equal(ev.json.verdict, null);
    assert.match(await text(page, '#verdict-text'), /No live rule/);
    assert.match(await text(page, '#geo'), /127\.0\.0\.1/);
    assert.equal(await page.getAttribute('#geo-h ~ p a[href="https://db-ip.com"]', 'href'), 'https://db-ip.com');

    assert.equal(await page.getAttribute('#dashboard-link', 'href'), `/dashboard/events/${requestId}`);
    assert.deepEqual(
      (await visitRows(page)).map((r) => [r.requestId, r.private, r.identifiedBy]),
      [[requestId, 'No', 'New visitor']],
    );

    // The private window: no token, so the fingerprint brings the same visitor back.
    privateCtx = await normal.browser().newContext(WINDOW);
    const priv = await privateCtx.newPage();
    watch(priv, 'private window', problems);
    await priv.goto(`${prynt.base}/demo`);
    await priv.locator('#visits-wrap').waitFor({ state: 'visible', timeout: WAIT });
    const privateRequestId = await text(priv, '#request-id');
    assert.equal(await text(priv, '#visitor-id'), visitorId, 'the same visitor ID in the private window');
    assert.equal(await text(priv, '#identified-by'), 'Fingerprint');
    const privEv = await prynt.api('GET', `/v1/events/${privateRequestId}`);
    assert.equal(privEv.json.identifiedBy, 'fingerprint');
    assert.equal(privEv.json.signals.incognito, true, 'an off-the-record context is a private window');
    assert.ok(await priv.locator('#private-here').isVisible(), 'the private window says it is one');
    assert.equal((await visitRows(priv))[0].private, 'Yes');

    // Back in the first window: the list refreshes when the tab is shown again, without a new
    // identification, and shows the private visit.
    await page.bringToFront();
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForFunction((rid) => !!document.querySelector(`#visits tr[data-request-id="${rid}"]`), privateRequestId, { timeout: WAIT });
    let rows = await visitRows(page);
    assert.deepEqual(
      rows.map((r) => [r.requestId, r.private, r.identifiedBy]),
      [
        [privateRequestId, 'Yes', 'Fingerprint'],
        [requestId, 'No', 'New visitor'],
      ],
    );
    assert.equal(await text(page, '#request-id'), requestId, 'no new identification');

    // "Identify again": the stored token this time.
    await page.getByRole('button', { name: 'Identify again' }).click();
    await page.waitForFunction((rid) => {
      const shown = document.getElementById('request-id').textContent.trim();
      return shown !== rid && !!document.querySelector(`#visits tr[data-request-id="${shown}"]`);
    }, requestId, { timeout: WAIT });
    assert.equal(await text(page, '#visitor-id'), visitorId);
    assert.equal(await text(page, '#identified-by'), 'Visitor token');
    const againId = await text(page, '#request-id');
    assert.equal(await page.getAttribute('#dashboard-link', 'href'), `/dashboard/events/${againId}`);
    rows = await visitRows(page);
    assert.deepEqual(rows.map((r) => r.requestId), [againId, privateRequestId, requestId]);
    assert.match(rows[0].time, /this visit/);

    // Both widths, both schemes: accessible and nothing wider than the screen.
    for (const colorScheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme });
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok((await visitRows(page)).every((r) => r.browser === ev.json.device.browser), `${width} px: the browser of each visit is shown`);
        assert.ok(overflow <= 0, `${colorScheme} ${width} px: ${overflow} px wider than the window`);
        assert.deepEqual(await axeProblems(page), [], `${colorScheme} ${width} px`);
      }
    }

    assert.deepEqual(problems, []);
  } finally {
    if (privateCtx) await privateCtx.close().catch(() => {});
    await normal.close();
    await prynt.stop();
  }
});
