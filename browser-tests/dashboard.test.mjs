// The dashboard (/dashboard/) in real headless Chromium against the real server: every page
// loads cleanly (no console error, no failed request, no serious or critical axe-core
// violation) at 1280 and 390 px in light and dark, with screenshots as artifacts; sign-in and
// sign-out with keys of both environments; a rule built in the editor, backtested, saved and
// read back from the API; a visitor deleted through the UI; a failed webhook delivery retried
// from the log. One server and one browser serve every test; the data is seeded once through
// the API and the agent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  SCREENSHOT_DIR,
  STORAGE_KEY,
  VIEWPORTS,
  axeProblems,
  dashboardContext,
  identifyInBrowser,
  launchChromium,
  screenshot,
  settle,
  startDashboardServer,
  startReceiver,
  until,
  watchPage,
} from './lib/dashboard.mjs';

const TIMEOUT = 240_000;

/** Shared by every test: `{ prynt, browser, receiver, data }`, set up by before(). */
let S = null;
const cleanups = [];

/** A call of the API that must succeed; resolves to its JSON. */
async function api(method, path, body, key) {
  const r = await S.prynt.api(method, path, body, key);
  assert.equal(r.status, 200, `${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

/** Seeds both environments with what every page needs to show real data. */
async function seed() {
  const { prynt, browser, receiver } = S;
  const d = {};

  // Rules before identifications, so that events carry a verdict and the rule that decided it.
  d.loginRule = await api('POST', '/v1/rules', {
    name: 'Challenge logins',
    status: 'live',
    conditions: { operator: 'AND', rules: [{ field: 'event.type', operator: 'equals', value: 'login' }] },
    action: { verdict: 'challenge' },
  });
  // A second version, so the rule has a history and a diff to show.
  await api('PATCH', `/v1/rules/${d.loginRule.id}`, {
    conditions: {
      operator: 'AND',
      rules: [
        { field: 'event.type', operator: 'equals', value: 'login' },
        { operator: 'NOT', rules: [{ field: 'signals.tor', operator: 'equals', value: true }] },
      ],
    },
  });
  d.monitorRule = await api('POST', '/v1/rules', {
    name: 'Watch bot payments',
    status: 'monitor',
    conditions: {
      operator: 'OR',
      rules: [
        { field: 'signals.bot.detected', operator: 'equals', value: true },
        { field: 'scores.suspect', operator: 'gte', value: 20 },
      ],
    },
    action: { verdict: 'block' },
  });

  // A webhook whose receiver is down: its test delivery fails for good within a second.
  d.downHook = await api('POST', '/v1/webhooks', {
    url: `${receiver.url}/down`,
    events: ['identification'],
    description: 'Receiver that is down',
  });

  // Identifications through the real agent, from three different browsers (a visitor each).
  d.visitorA = await identifyInBrowser(browser, prynt.base, prynt.publicKey, [
    { type: 'login', linkedId: 'ana@example.com', tag: { plan: 'pro' } },
    { type: 'payment', linkedId: 'ana@example.com' },
    { type: 'login', linkedId: 'ana@example.com' },
  ]);
  d.visitorB = await identifyInBrowser(browser, prynt.base, prynt.publicKey, [{ type: 'signup', linkedId: 'bo@example.com' }], {
    locale: 'fr-FR',
    timezoneId: 'Europe/Paris',
    viewport: { width: 1000, height: 700 },
  });
  // The visitor the deletion test erases: nothing else refers to it.
  d.doomed = await identifyInBrowser(browser, prynt.base, prynt.publicKey, [{ type: 'login', linkedId: 'cy@example.com' }], {
    locale: 'de-DE',
    timezoneId: 'Europe/Berlin',
    viewport: { width: 1100, height: 760 },
  });
  d.testVisitors = [d.visitorA[0].visitorId, d.visitorB[0].visitorId, d.doomed[0].visitorId];
  assert.equal(new Set(d.testVisitors).size, 3, `three browsers, three visitors: ${d.testVisitors}`);
  d.testRequests = [...d.visitorA, ...d.visitorB, ...d.doomed].map((r) => r.requestId);

  d.visitorList = await api('POST', '/v1/lists', { name: 'trusted_visitors', type: 'visitor', purpose: 'allow', description: 'Known good devices' });
  await api('POST', `/v1/lists/${d.visitorList.id}/entries`, { add: [d.visitorA[0].visitorId] });
  d.emailList = await api('POST', '/v1/lists', { name: 'blocked_emails', type: 'email', purpose: 'block', ttl: 30 * 86400 });
  await api('POST', `/v1/lists/${d.emailList.id}/entries`, { add: ['mule@example.net', 'fraud@example.org', 'chargeback@example.com'] });

  await until(async () => {
    const r = await api('GET', `/v1/webhooks/${d.downHook.id}/deliveries`);
    return r.data.length > 0 && r.data.every((x) => x.status === 'failed');
  }, 'the down webhook\'s deliveries to fail');

  // The live environment: its own rule and its own visitor, none of which the test keys see.
  const live = prynt.live;
  d.liveRule = await api(
    'POST',
    '/v1/rules',
    {
      name: 'Live only: block tor',
      status: 'live',
      conditions: { operator: 'AND', rules: [{ field: 'signals.tor', operator: 'equals', value: true }] },
      action: { verdict: 'block' },
    },
    live.secretKey,
  );
  d.live = await identifyInBrowser(browser, prynt.base, live.publicKey, [{ type: 'checkout', linkedId: 'live@example.com' }], {
    locale: 'es-ES',
    timezoneId: 'America/Mexico_City',
    viewport: { width: 1366, height: 768 },
  });
  return d;
}

before(
  async () => {
    S = {};
    // Stale screenshots of an earlier run must not satisfy this one.
    await rm(SCREENSHOT_DIR, { recursive: true, force: true });
    S.receiver = await startReceiver(({ path }) => (path === '/down' ? 500 : S.flakyHealthy ? 200 : 500));
    cleanups.push(() => S.receiver.close());
    S.prynt = await startDashboardServer();
    cleanups.push(() => S.prynt.stop());
    S.browser = await launchChromium();
    cleanups.push(() => S.browser.close());
    S.data = await seed();
  },
  { timeout: TIMEOUT },
);

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The dashboard's URL of `route` ('/' is the overview). */
const url = (route) => `${S.prynt.base}/dashboard${route === '/' ? '/' : route}`;

/** Every page, with the file name of its screenshots and a text that shows its data is there. */
function pages() {
  const d = S.data;
  return [
    { name: 'overview', route: '/', text: 'Linux' }, // the seeded browsers' platform, in Top platforms
    { name: 'events', route: '/events', text: d.visitorA[2].requestId },
    { name: 'event', route: `/events/${d.visitorA[0].requestId}`, text: d.visitorA[0].visitorId },
    { name: 'visitors', route: '/visitors', text: d.visitorB[0].visitorId },
    { name: 'visitor', route: `/visitors/${d.visitorA[0].visitorId}`, text: 'ana@example.com' },
    { name: 'rules', route: '/rules', text: 'Watch bot payments' },
    { name: 'rule-new', route: '/rules/new', text: 'Test rule' },
    { name: 'rule', route: `/rules/${d.loginRule.id}`, text: 'signals.tor' },
    { name: 'lists', route: '/lists', text: 'blocked_emails' },
    { name: 'list', route: `/lists/${d.emailList.id}`, text: 'fraud@example.org' },
    { name: 'webhooks', route: '/webhooks', text: `${S.receiver.url}/down` },
    { name: 'webhook', route: `/webhooks/${d.downHook.id}`, text: `${S.receiver.url}/down` },
    { name: 'settings', route: '/settings', text: 'Suspect-score weights' },
  ];
}

const noData = new Set();

/**
 * Loads `route` cold in `page`, waits for it to settle, and returns every problem: what the
 * watch saw, a page that did not show its data, and axe-core's serious and critical violations.
 * Writes the screenshot `<shot>.png`.
 */
async function checkPage(page, watch, route, text, shot) {
  const problems = [];
  try {
    await page.goto(url(route));
    // A page that did not show its data once gets a short wait in the next variants, so that
    // a broken page is reported in every variant within the test's time limit.
    const timeout = noData.has(route) ? 2_000 : 15_000;
    await settle(page, { text, timeout }).catch((e) => {
      noData.add(route);
      problems.push(`did not show ${JSON.stringify(text)}: ${e.message.split('\n')[0]}`);
    });
    const banners = await page.getByRole('alert').allInnerTexts();
    for (const b of banners.filter((t) => t.trim())) problems.push(`error banner: ${b.trim()}`);
    problems.push(...(await axeProblems(page)));
    await screenshot(page, shot);
  } catch (e) {
    problems.push(`test error: ${e.stack || e.message}`);
  }
  problems.push(...watch.take().map((p) => p.text));
  return problems;
}

test('every page loads with no console error, no failed request and no serious axe violation, at 1280 and 390 px, light and dark; screenshots are written', { timeout: TIMEOUT }, async () => {
  const failures = [];
  const expected = [];

  /** Every page in one width and colour scheme: the sign-in page signed out, the rest signed in. */
  async function tour(width, colorScheme) {
    const suffix = `${width}${colorScheme === 'dark' ? '-dark' : ''}`;
    const variant = `${width} px, ${colorScheme}`;
    const out = await dashboardContext(S.browser, { width, colorScheme });
    try {
      const page = await out.newPage();
      const problems = await checkPage(page, watchPage(page), '/', 'Secret key', `signin-${suffix}`);
      expected.push(`signin-${suffix}.png`);
      for (const p of problems) failures.push(`[sign-in, ${variant}] ${p}`);
    } finally {
      await out.close();
    }
    const context = await dashboardContext(S.browser, { width, colorScheme, secretKey: S.prynt.secretKey });
    try {
      const page = await context.newPage();
      const watch = watchPage(page);
      for (const { name, route, text } of pages()) {
        const problems = await checkPage(page, watch, route, text, `${name}-${suffix}`);
        expected.push(`${name}-${suffix}.png`);
        for (const p of problems) failures.push(`[${route}, ${variant}] ${p}`);
      }
    } finally {
      await context.close();
    }
  }

  // The two widths side by side (one context each, on the one browser): axe's checks are
  // mostly waiting on one renderer process, and a runner has two cores.
  await Promise.all(
    VIEWPORTS.map(async ({ width }) => {
      for (const scheme of ['light', 'dark']) await tour(width, scheme);
    }),
  );

  const missing = [];
  for (const file of expected) {
    const s = await stat(join(SCREENSHOT_DIR, file)).catch(() => null);
    if (!s || s.size === 0) missing.push(file);
  }
  assert.deepEqual(missing, [], `screenshots missing or empty in ${SCREENSHOT_DIR}`);
  assert.equal(expected.length, 4 * (pages().length + 1));
  failures.sort();
  assert.deepEqual(failures, [], `page problems:\n${failures.join('\n')}`);
});

test('sign-in: a wrong key is refused; a test key shows test data; sign-out forgets the key; a live key shows live data only', { timeout: TIMEOUT }, async () => {
  const d = S.data;
  const context = await dashboardContext(S.browser, { width: 1280 });
  try {
    const page = await context.newPage();
    const watch = watchPage(page);
    const stored = () => page.evaluate((k) => sessionStorage.getItem(k), STORAGE_KEY);
    const keyInput = page.getByLabel('Secret key');
    const signInButton = page.getByRole('button', { name: 'Sign in' });
    const badge = page.getByTestId('env-badge');

    await page.goto(url('/'));
    await keyInput.waitFor();

    // A well-formed key that opens nothing: the server's 401 is provoked here.
    watch.expect((p) => p.url.endsWith('/v1/workspace') && (p.status === 401 || (p.kind === 'console' && /\b401\b/.test(p.text))));
    await keyInput.fill(`sk_test_${'Wr0ngKey'.repeat(4)}`);
    const refused = page.waitForResponse((r) => r.url().endsWith('/v1/workspace'));
    await signInButton.click();
    assert.equal((await refused).status(), 401);
    await page.getByRole('alert').filter({ hasText: /\S/ }).first().waitFor();
    assert.ok(await keyInput.isVisible(), 'a refused key stays on the sign-in form');
    assert.equal(await badge.count(), 0, 'no environment is shown before signing in');
    assert.equal(await stored(), null, 'a refused key is not kept');

    // The test key.
    // (Each step lets the page settle first: leaving a page whose requests are in flight
    // aborts them, which would be this test's doing.)
    await keyInput.fill(S.prynt.secretKey);
    await signInButton.click();
    await badge.waitFor();
    assert.equal((await badge.innerText()).trim(), 'Test data');
    assert.equal(await stored(), S.prynt.secretKey, 'the key is kept in sessionStorage');
    await settle(page);
    // A reload keeps the session (the key is read back from sessionStorage).
    await page.reload();
    await badge.waitFor();
    assert.equal((await badge.innerText()).trim(), 'Test data');
    await settle(page);

    // Sign-out clears the key and returns to the form, also after a reload.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await keyInput.waitFor();
    assert.equal(await stored(), null, 'sign-out removes the key from sessionStorage');
    assert.equal(await badge.count(), 0);
    await page.reload();
    await keyInput.waitFor();
    assert.equal(await badge.count(), 0, 'after sign-out a reload stays signed out');

    // The live key: the live environment's data, none of the test environment's.
    await keyInput.fill(S.prynt.live.secretKey);
    await signInButton.click();
    await badge.waitFor();
    assert.equal((await badge.innerText()).trim(), 'Live data');
    assert.equal(await stored(), S.prynt.live.secretKey);
    await settle(page);

    await page.goto(url('/events'));
    await settle(page, { text: d.live[0].requestId });
    const events = await page.locator('main').innerText();
    for (const id of [...d.testRequests, ...d.testVisitors]) {
      assert.ok(!events.includes(id), `the live events page shows the test environment's ${id}`);
    }
    await page.goto(url('/rules'));
    await settle(page, { text: d.liveRule.name });
    const rules = await page.locator('main').innerText();
    for (const name of ['Challenge logins', 'Watch bot payments']) {
      assert.ok(!rules.includes(name), `the live rules page shows the test rule "${name}"`);
    }
    assert.equal((await badge.innerText()).trim(), 'Live data');

    const problems = watch.take().map((p) => p.text);
    assert.deepEqual(problems, [], problems.join('\n'));
  } finally {
    await context.close();
  }
});

/** Sets a picker to `value`: a <select> by option value or label, any other control by typing. */
async function choose(control, value) {
  const tag = await control.evaluate((e) => e.tagName);
  if (tag === 'SELECT') await control.selectOption(value);
  else await control.fill(value);
}

test('a rule built in the editor is backtested before it is saved, and the API returns it with the same conditions', { timeout: TIMEOUT }, async () => {
  const context = await dashboardContext(S.browser, { width: 1280, secretKey: S.prynt.secretKey });
  try {
    const page = await context.newPage();
    const watch = watchPage(page);
    const calls = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/v1/rules')) calls.push(`${r.method()} ${u.pathname}`);
    });

    await page.goto(url('/rules/new'));
    await settle(page);
    const name = `Challenge every login (editor ${Date.now()})`;
    await page.getByLabel(/^(rule )?name$/i).fill(name);
    if ((await page.getByLabel('Field', { exact: true }).count()) === 0) {
      await page.getByRole('button', { name: /add condition/i }).first().click();
    }
    await choose(page.getByLabel('Field', { exact: true }).first(), 'event.type');
    await choose(page.getByLabel('Operator', { exact: true }).first(), 'equals');
    await choose(page.getByLabel('Value', { exact: true }).first(), 'login');

    const backtest = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/rules/backtest');
    await page.getByRole('button', { name: 'Test rule' }).click();
    const bt = await backtest;
    assert.equal(bt.status(), 200, await bt.text());
    const result = await bt.json();
    // The seeded logins (visitor A's two and the doomed visitor's one, unless deleted already).
    assert.ok(result.matchCount >= 2, `backtest matched ${result.matchCount} events`);
    const region = page.getByRole('region', { name: 'Backtest results' });
    await region.waitFor();
    const shown = await region.innerText();
    assert.match(shown, /match rate/i, `the backtest shows its match rate:\n${shown}`);
    assert.match(shown, /\d+(\.\d+)?\s?%/, `the match rate is a percentage:\n${shown}`);
    assert.match(shown, /false positive/i, `the backtest shows the estimated false positives:\n${shown}`);
    assert.match(shown, /matched visitors/i, `the backtest shows the matched visitors:\n${shown}`);
    assert.ok(result.sample.length > 0, 'the backtest has sample events');
    assert.ok(
      result.sample.some((s) => shown.includes(s.requestId)),
      `the backtest shows its sample events (${result.sample.map((s) => s.requestId)}):\n${shown}`,
    );

    const created = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/rules');
    await page.getByRole('button', { name: 'Save rule' }).click();
    const cr = await created;
    assert.equal(cr.status(), 200, await cr.text());
    const id = (await cr.json()).id;

    const backtestAt = calls.indexOf('POST /v1/rules/backtest');
    const createAt = calls.indexOf('POST /v1/rules');
    assert.ok(backtestAt >= 0 && backtestAt < createAt, `backtest before create: ${calls.join(', ')}`);

    const listed = (await api('GET', '/v1/rules')).data.find((r) => r.id === id);
    assert.ok(listed, `GET /v1/rules lists the new rule ${id}`);
    assert.equal(listed.name, name);
    assert.deepEqual(listed.conditions, { operator: 'AND', count: 1 });
    const rule = await api('GET', `/v1/rules/${id}`);
    assert.deepEqual(rule.conditions, { operator: 'AND', rules: [{ field: 'event.type', operator: 'equals', value: 'login' }] });

    await settle(page);
    const problems = watch.take().map((p) => p.text);
    assert.deepEqual(problems, [], problems.join('\n'));
  } finally {
    await context.close();
  }
});

test('a visitor is deleted through the UI after typing its ID, and the API then answers 404 for it', { timeout: TIMEOUT }, async () => {
  const visitorId = S.data.doomed[0].visitorId;
  assert.equal((await S.prynt.api('GET', `/v1/visitors/${visitorId}`)).status, 200);
  const context = await dashboardContext(S.browser, { width: 1280, secretKey: S.prynt.secretKey });
  try {
    const page = await context.newPage();
    const watch = watchPage(page);
    const deletes = [];
    page.on('request', (r) => r.method() === 'DELETE' && deletes.push(r.url()));

    await page.goto(url(`/visitors/${visitorId}`));
    await settle(page, { text: visitorId });
    await page.getByRole('button', { name: 'Delete visitor', exact: true }).click();
    const confirmInput = page.getByLabel('Visitor ID to confirm');
    await confirmInput.waitFor();
    const confirm = page.getByRole('button', { name: 'Delete visitor and its data' });
    const dialog = page.getByRole('dialog');
    assert.match(await dialog.innerText(), /\bevents?\b/i, 'the confirmation names what will be erased');

    // Another ID does not delete anything.
    await confirmInput.fill('pv_notThisOne00');
    if (await confirm.isEnabled()) {
      await confirm.click();
      await page.waitForTimeout(300);
    }
    assert.deepEqual(deletes, [], 'no deletion before the right ID is typed');

    await confirmInput.fill(visitorId);
    const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE');
    await confirm.click();
    const del = await deleted;
    assert.equal(del.status(), 200, await del.text());
    assert.equal(new URL(del.url()).pathname, `/v1/visitors/${visitorId}`);

    const after = await S.prynt.api('GET', `/v1/visitors/${visitorId}`);
    assert.equal(after.status, 404, after.text);

    await settle(page);
    const problems = watch.take().map((p) => p.text);
    assert.deepEqual(problems, [], problems.join('\n'));
  } finally {
    await context.close();
  }
});

test('a failed webhook delivery is retried from the deliveries log and then succeeds', { timeout: TIMEOUT }, async () => {
  const { receiver } = S;
  S.flakyHealthy = false;
  // Only a test send reaches this webhook: it subscribes to blocking rule matches, which the
  // seeded data never produces.
  const hook = await api('POST', '/v1/webhooks', {
    url: `${receiver.url}/flaky`,
    events: ['rule_match'],
    filters: { verdict: ['block'] },
    description: 'Flaky receiver',
  });
  await api('POST', `/v1/webhooks/${hook.id}/test`);
  const failed = await until(async () => {
    const r = await api('GET', `/v1/webhooks/${hook.id}/deliveries`);
    return r.data.length === 1 && r.data[0].status === 'failed' && r.data[0];
  }, 'the test delivery to fail');
  const attemptsBefore = failed.attempts.length;
  assert.ok(attemptsBefore >= 1 && failed.attempts.every((a) => a.statusCode === 500), JSON.stringify(failed.attempts));

  // The receiver is back.
  S.flakyHealthy = true;
  const context = await dashboardContext(S.browser, { width: 1280, secretKey: S.prynt.secretKey });
  try {
    const page = await context.newPage();
    const watch = watchPage(page);
    await page.goto(url(`/webhooks/${hook.id}`));
    await settle(page, { text: failed.id });
    const retried = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/retry'));
    await page.getByRole('button', { name: 'Retry' }).click();
    const rr = await retried;
    assert.equal(rr.status(), 200, await rr.text());
    assert.equal(new URL(rr.url()).pathname, `/v1/webhooks/${hook.id}/deliveries/${failed.id}/retry`);

    const done = await until(async () => {
      const r = await api('GET', `/v1/webhooks/${hook.id}/deliveries`);
      const x = r.data.find((y) => y.id === failed.id);
      return x && x.status === 'succeeded' && x;
    }, 'the retried delivery to succeed');
    // Attempts are listed oldest first: the failed ones, then the manual retry's success.
    assert.equal(done.attempts.length, attemptsBefore + 1, JSON.stringify(done.attempts));
    assert.deepEqual(
      done.attempts.map((a) => a.statusCode),
      [...failed.attempts.map(() => 500), 200],
    );
    assert.equal(receiver.requests.filter((r) => r.path === '/flaky').at(-1).status, 200);

    await settle(page);
    const problems = watch.take().map((p) => p.text);
    assert.deepEqual(problems, [], problems.join('\n'));
  } finally {
    await context.close();
  }
});
