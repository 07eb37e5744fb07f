// Every API method of PryntServer against the real prynt binary: events and their pagination,
// visitors and erasure, rules with backtests, lists and entries, analytics, the workspace, and
// the typed errors of real error responses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PryntServer,
  PryntError,
  ApiError,
  AuthenticationError,
  PermissionError,
  NotFoundError,
  ValidationError,
  ConflictError,
} from '@prynt/node';
import { startServer, identify } from './helpers.mjs';

let prynt;
let sdk;
/** The identify answers made in `before`, in order. */
const made = [];

const BOT_RULE = {
  name: 'Block Bot Registrations',
  priority: 1,
  status: 'live',
  conditions: {
    operator: 'AND',
    rules: [
      { field: 'signals.bot.detected', operator: 'equals', value: true },
      { field: 'event.type', operator: 'equals', value: 'registration' },
    ],
  },
  action: { verdict: 'block', sideEffects: [{ type: 'addToList', list: 'blocked_devices' }] },
};

before(async () => {
  prynt = await startServer();
  sdk = prynt.client();
  // A live rule that blocks registrations, so that events carry both verdicts.
  await sdk.createRule({
    name: 'Block registrations',
    status: 'live',
    priority: 5,
    conditions: { operator: 'AND', rules: [{ field: 'event.type', operator: 'equals', value: 'registration' }] },
    action: { verdict: 'block' },
  });
  // Five browsers, the first of them twice; the last visit is a registration (blocked).
  for (const seed of [1, 2, 3, 4, 5]) made.push(await identify(prynt, seed, { type: 'login' }));
  made.push(await identify(prynt, 1, { type: 'registration' }));
});

after(async () => {
  await prynt?.stop();
});

test('getEvent returns the full event of a request id', async () => {
  const first = made[0];
  const event = await sdk.getEvent(first.requestId);
  assert.equal(event.requestId, first.requestId);
  assert.equal(event.visitorId, first.visitorId);
  assert.equal(typeof event.confidence, 'number');
  assert.ok(event.device && event.signals && event.scores, 'device, signals and scores');
  assert.equal(event.verdict, 'allow');
});

test('listEvents pages with cursors and filters by visitor, verdict, bot and time', async () => {
  const page1 = await sdk.listEvents({ limit: 4 });
  assert.equal(page1.data.length, 4);
  assert.equal(page1.hasMore, true);
  assert.match(page1.nextCursor, /^cur_/);
  const page2 = await sdk.listEvents({ limit: 4, cursor: page1.nextCursor });
  assert.equal(page2.data.length, 2);
  assert.equal(page2.hasMore, false);
  const ids = [...page1.data, ...page2.data].map((e) => e.requestId);
  assert.deepEqual(new Set(ids), new Set(made.map((m) => m.requestId)), 'every event once');
  assert.equal(ids[0], made[5].requestId, 'newest first');

  const mine = await sdk.listEvents({ visitorId: made[0].visitorId });
  assert.deepEqual(mine.data.map((e) => e.requestId), [made[5].requestId, made[0].requestId]);

  const blocked = await sdk.listEvents({ verdict: 'block' });
  assert.deepEqual(blocked.data.map((e) => e.requestId), [made[5].requestId]);
  assert.equal(blocked.data[0].verdict, 'block');

  const bots = (await sdk.listEvents({ bot: true })).data;
  const others = (await sdk.listEvents({ bot: false })).data;
  assert.equal(bots.length + others.length, 6, 'bot=true and bot=false split the events');
  for (const [page, detected] of [[bots, true], [others, false]]) {
    if (page.length) assert.equal((await sdk.getEvent(page[0].requestId)).signals.bot.detected, detected);
  }

  const future = new Date(Date.now() + 3_600_000);
  assert.equal((await sdk.listEvents({ after: future })).data.length, 0, 'after: a Date');
  assert.equal((await sdk.listEvents({ before: future.toISOString() })).data.length, 6, 'before: a string');
});

test('iterateEvents walks every page lazily', async () => {
  const pages = [];
  const counting = new PryntServer({
    secretKey: prynt.secretKey,
    baseUrl: prynt.base,
    fetch: (url, init) => {
      pages.push(String(url));
      return fetch(url, init);
    },
  });
  const seen = [];
  for await (const e of counting.iterateEvents({ limit: 2 })) seen.push(e.requestId);
  assert.equal(seen.length, 6);
  assert.equal(new Set(seen).size, 6);
  assert.equal(pages.length, 3, 'three pages of two');
  assert.ok(pages.slice(1).every((u) => /[?&]cursor=cur_/.test(u)), 'later pages carry the cursor');

  // Stopping early fetches no further page.
  pages.length = 0;
  for await (const e of counting.iterateEvents({ limit: 2, verdict: 'allow' })) {
    assert.equal(e.verdict, 'allow');
    break;
  }
  assert.equal(pages.length, 1);
});

test('getVisitor, listVisitorEvents and iterateVisitorEvents', async () => {
  const visitorId = made[0].visitorId;
  const visitor = await sdk.getVisitor(visitorId);
  assert.equal(visitor.visitorId, visitorId);
  assert.equal(visitor.totalVisits, 2);
  assert.ok(Array.isArray(visitor.devices) && visitor.devices.length >= 1);

  const page = await sdk.listVisitorEvents(visitorId, { limit: 1 });
  assert.equal(page.data.length, 1);
  assert.equal(page.hasMore, true);
  assert.equal(page.data[0].requestId, made[5].requestId);
  assert.equal(page.data[0].verdict, 'block');

  const all = [];
  for await (const e of sdk.iterateVisitorEvents(visitorId, { limit: 1 })) all.push(e.requestId);
  assert.deepEqual(all, [made[5].requestId, made[0].requestId]);
});

test('deleteVisitor erases the visitor (GDPR)', async () => {
  const visitorId = made[4].visitorId;
  assert.deepEqual(await sdk.deleteVisitor(visitorId), { deleted: true, visitorId });
  await assert.rejects(sdk.getVisitor(visitorId), NotFoundError);
  await assert.rejects(sdk.getEvent(made[4].requestId), NotFoundError);
  await assert.rejects(sdk.deleteVisitor(visitorId), NotFoundError);
});

test('rules: create, list, get, update with PUT and PATCH, delete', async () => {
  const list = await sdk.createList({ name: 'blocked_devices', type: 'visitor' });
  const created = await sdk.createRule(BOT_RULE);
  assert.match(created.id, /^rul_[0-9a-f]{12}$/);
  assert.equal(created.name, BOT_RULE.name);
  assert.equal(created.status, 'live');
  assert.equal(created.propagated, true);
  assert.ok(Number.isInteger(created.propagationMs), `propagationMs is an integer: ${created.propagationMs}`);

  const all = await sdk.listRules();
  assert.ok(all.data.some((r) => r.id === created.id));
  assert.deepEqual(
    all.data.map((r) => r.priority),
    [...all.data.map((r) => r.priority)].sort((a, b) => a - b),
    'ordered by priority',
  );
  const live = await sdk.listRules({ status: 'live', limit: 1 });
  assert.equal(live.data.length, 1);
  assert.equal((await sdk.listRules({ status: 'paused' })).data.length, 0);

  const rule = await sdk.getRule(created.id);
  assert.deepEqual(rule.conditions.rules, BOT_RULE.conditions.rules);
  assert.equal(rule.action.verdict, 'block');
  assert.equal(rule.stats.matchCount, 0);

  const put = await sdk.updateRule(created.id, { status: 'paused' });
  assert.equal(put.status, 'paused');
  assert.equal(put.name, BOT_RULE.name, 'a PUT changes only what it sends');
  assert.ok(Number.isInteger(put.propagationMs));
  const patched = await sdk.patchRule(created.id, { name: 'Renamed', priority: 9 });
  assert.equal(patched.name, 'Renamed');
  assert.equal(patched.status, 'paused');
  assert.equal((await sdk.getRule(created.id)).priority, 9);
  const versions = await sdk.listRuleVersions(created.id);
  assert.deepEqual(versions.data.map((v) => v.version), [3, 2, 1]);
  assert.equal(versions.data[0].name, 'Renamed');
  assert.deepEqual(versions.data[2].conditions, rule.conditions);

  assert.deepEqual(await sdk.deleteRule(created.id), { deleted: true, ruleId: created.id });
  await assert.rejects(sdk.getRule(created.id), NotFoundError);
  await sdk.deleteList(list.id);
});

test('backtests of a saved rule and of an unsaved one', async () => {
  const rule = await sdk.createRule({
    name: 'Everything',
    conditions: { operator: 'AND', rules: [{ field: 'confidence', operator: 'gte', value: 0 }] },
    action: { verdict: 'challenge' },
  });
  const saved = await sdk.backtestRule(rule.id, { days: 1, sampleSize: 2 });
  assert.equal(saved.ruleId, rule.id);
  assert.equal(saved.days, 1);
  assert.ok(saved.totalEvents >= 5, `totalEvents ${saved.totalEvents}`);
  assert.equal(saved.matchCount, saved.totalEvents);
  assert.equal(saved.sample.length, 2);
  assert.ok(Number.isInteger(saved.durationMs), `durationMs is an integer: ${saved.durationMs}`);
  const defaults = await sdk.backtestRule(rule.id);
  assert.equal(defaults.days, 7, 'no body: the defaults');

  const unsaved = await sdk.backtestUnsavedRule({
    conditions: { operator: 'AND', rules: [{ field: 'event.type', operator: 'equals', value: 'registration' }] },
    days: 1,
  });
  assert.equal(unsaved.ruleId, null);
  assert.equal(unsaved.matchCount, 1);
  await sdk.deleteRule(rule.id);
});

test('lists: create, list, get with entries, add, remove, change atomically, delete', async () => {
  const list = await sdk.createList({ name: 'trusted_devices', type: 'visitor', description: 'Known good', ttl: 2592000 });
  assert.match(list.id, /^lst_[0-9a-f]{12}$/);
  assert.equal(list.entryCount, 0);
  assert.equal(list.ttl, 2592000);
  const ips = await sdk.createList({ name: 'office_ips', type: 'ip' });

  const all = await sdk.listLists();
  assert.deepEqual(all.data.map((l) => l.name).sort(), ['office_ips', 'trusted_devices']);
  assert.deepEqual((await sdk.listLists({ type: 'ip' })).data.map((l) => l.id), [ips.id]);

  const [a, b, c] = [made[0].visitorId, made[1].visitorId, made[2].visitorId];
  const added = await sdk.addListEntries(list.id, [a, b]);
  assert.deepEqual(added, { listId: list.id, added: 2, removed: 0, entryCount: 2 });
  const changed = await sdk.updateListEntries(list.id, { add: [c], remove: [a, 'pv_0000000000000'] });
  assert.deepEqual(changed, { listId: list.id, added: 1, removed: 1, entryCount: 2 });
  const removed = await sdk.removeListEntries(list.id, [b]);
  assert.equal(removed.entryCount, 1);

  const full = await sdk.getList(list.id);
  assert.equal(full.name, 'trusted_devices');
  assert.deepEqual(full.entries.data.map((e) => e.value), [c]);
  await sdk.addListEntries(list.id, [a, b]);
  const paged = await sdk.getList(list.id, { limit: 1, offset: 1 });
  assert.equal(paged.entries.data.length, 1);
  assert.equal(paged.entries.total, 3);
  assert.equal(paged.entries.hasMore, true);
  const found = await sdk.getList(list.id, { q: c.slice(3, 9).toUpperCase() });
  assert.deepEqual(found.entries.data.map((e) => e.value), [c]);
  assert.equal(found.entries.total, 1);

  assert.deepEqual((await sdk.getVisitor(c)).lists, ['trusted_devices']);

  await assert.rejects(sdk.createList({ name: 'trusted_devices', type: 'email' }), ConflictError);
  const bad = await sdk.addListEntries(ips.id, ['not-an-ip']).catch((e) => e);
  assert.ok(bad instanceof ValidationError);
  assert.equal(bad.field, 'add[0]');

  assert.deepEqual(await sdk.deleteList(list.id), { deleted: true, listId: list.id });
  await sdk.deleteList(ips.id);
  await assert.rejects(sdk.getList(list.id), NotFoundError);
});

test('a create whose response was lost is retried with its Idempotency-Key and applied once', async () => {
  // The first attempt reaches the real server and is applied, but its answer is dropped as a
  // cut connection would drop it; the retry carries the same key and gets the same answer.
  const keys = [];
  let dropped = false;
  const flaky = new PryntServer({
    secretKey: prynt.secretKey,
    baseUrl: prynt.base,
    maxRetries: 2,
    retryBaseDelay: 10,
    fetch: async (url, init) => {
      keys.push(init.headers['Idempotency-Key']);
      const res = await fetch(url, init);
      if (!dropped) {
        dropped = true;
        await res.text();
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      }
      return res;
    },
  });
  const name = `Idempotent ${Date.now()}`;
  const body = { name, conditions: { operator: 'AND', rules: [{ field: 'confidence', operator: 'gte', value: 0 }] }, action: { verdict: 'allow' } };
  const created = await flaky.createRule(body);
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1], 'the retry carried the same key');
  const same = await sdk.createRule(body, { idempotencyKey: keys[0] });
  assert.equal(same.id, created.id, 'the same key and body replay the answer');
  const named = (await sdk.listRules()).data.filter((r) => r.name === name);
  assert.equal(named.length, 1, 'one rule, not two');

  const other = await sdk.createRule({ ...body, name: `${name} 2` }, { idempotencyKey: keys[0] }).catch((e) => e);
  assert.ok(other instanceof ValidationError, 'the same key for another body is refused');
  assert.equal(other.field, 'Idempotency-Key');
  await sdk.deleteRule(created.id);
});

test('analytics of events and of signals', async () => {
  const from = new Date(Date.now() - 3_600_000);
  const to = new Date(Date.now() + 60_000);
  const events = await sdk.getEventAnalytics({ from, to, groupBy: 'verdict' });
  assert.equal(typeof events.total, 'number');
  assert.ok(events.total >= 5, `total ${events.total}`);
  const byVerdict = Object.fromEntries(events.groups.map((g) => [g.verdict, g.count]));
  assert.equal(byVerdict.block, 1);
  assert.equal(events.groups.reduce((n, g) => n + g.count, 0), events.total);

  const blocked = await sdk.getEventAnalytics({ from: from.toISOString(), to: to.toISOString(), verdict: 'block' });
  assert.equal(blocked.total, 1);

  const signals = await sdk.getSignalAnalytics({ from, to, groupBy: 'signal' });
  assert.ok(Array.isArray(signals.signals) && signals.signals.length > 0);
  const bot = signals.signals.find((s) => s.signal === 'bot');
  assert.equal(bot.count, (await sdk.listEvents({ bot: true })).data.length);
  const one = await sdk.getSignalAnalytics({ from, to, signal: 'vpn' });
  assert.deepEqual(one.signals.map((s) => s.signal), ['vpn']);
});

test('getWorkspace and updateWorkspace', async () => {
  const ws = await sdk.getWorkspace();
  assert.equal(ws.environment, 'test');
  assert.equal(ws.plan, 'pro');
  assert.equal(ws.limits.burstPerSecond, 50);
  const updated = await sdk.updateWorkspace({ maskIp: true, allowedOrigins: ['HTTPS://Shop.Example:443'] });
  assert.equal(updated.maskIp, true);
  assert.deepEqual(updated.allowedOrigins, ['https://shop.example']);
  const back = await sdk.updateWorkspace({ maskIp: false, allowedOrigins: [] });
  assert.equal(back.maskIp, false);
  assert.deepEqual((await sdk.getWorkspace()).allowedOrigins, []);
});

test('error responses become typed errors with status, code, message, field and request id', async () => {
  const notFound = await sdk.getRule('rul_000000000000').catch((e) => e);
  assert.ok(notFound instanceof NotFoundError && notFound instanceof ApiError && notFound instanceof PryntError);
  assert.equal(notFound.status, 404);
  assert.equal(notFound.code, 'not_found');
  assert.match(notFound.message, /rul_000000000000/);
  assert.match(notFound.requestId, /^req_\d+_[0-9a-f]{6}$/);
  assert.ok(notFound.docs.endsWith('#not_found'));

  const invalid = await sdk.createRule({ name: 'no conditions', action: { verdict: 'block' } }).catch((e) => e);
  assert.ok(invalid instanceof ValidationError);
  assert.equal(invalid.status, 400);
  assert.equal(invalid.code, 'validation_error');
  assert.equal(invalid.field, 'conditions');

  const tooMany = await sdk.listEvents({ limit: 500 }).catch((e) => e);
  assert.ok(tooMany instanceof ValidationError);
  assert.equal(tooMany.field, 'limit');

  const wrongKey = new PryntServer({ secretKey: 'sk_test_' + 'x'.repeat(32), baseUrl: prynt.base, maxRetries: 0 });
  const unauth = await wrongKey.getWorkspace().catch((e) => e);
  assert.ok(unauth instanceof AuthenticationError);
  assert.equal(unauth.status, 401);
  assert.equal(unauth.code, 'invalid_api_key');
  assert.match(unauth.requestId, /^req_/);

  const publicKey = new PryntServer({ secretKey: prynt.publicKey, baseUrl: prynt.base, maxRetries: 0 });
  const forbidden = await publicKey.listEvents().catch((e) => e);
  assert.ok(forbidden instanceof PermissionError);
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.code, 'insufficient_permissions');
});

test('secretKey and baseUrl default to PRYNT_SECRET_KEY and PRYNT_BASE_URL', async () => {
  const saved = { key: process.env.PRYNT_SECRET_KEY, base: process.env.PRYNT_BASE_URL };
  process.env.PRYNT_SECRET_KEY = prynt.secretKey;
  process.env.PRYNT_BASE_URL = `${prynt.base}/`;
  try {
    const fromEnv = new PryntServer();
    assert.equal(fromEnv.baseUrl, prynt.base, 'trailing slash dropped');
    assert.equal((await fromEnv.getWorkspace()).environment, 'test');
  } finally {
    for (const [name, value] of [['PRYNT_SECRET_KEY', saved.key], ['PRYNT_BASE_URL', saved.base]]) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

test('bad arguments are refused before any request', async () => {
  assert.throws(() => new PryntServer({ baseUrl: prynt.base, secretKey: '' }), TypeError);
  assert.throws(() => new PryntServer({ secretKey: 'sk_test_x', baseUrl: 'ftp://x' }), TypeError);
  assert.throws(() => new PryntServer({ secretKey: 'sk_test_x', maxRetries: -1 }), TypeError);
  await assert.rejects(sdk.getEvent(''), TypeError);
  await assert.rejects(sdk.getRule('..'), TypeError);
  await assert.rejects(sdk.iterateVisitorEvents(undefined).next(), TypeError);
  // Ids are path segments: nothing in them can reach another route.
  await assert.rejects(sdk.getRule('../events'), ValidationError);
});
