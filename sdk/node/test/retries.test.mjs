// Retries, backoff, time limits and failure typing. Real 429s come from the real server (a
// starter-plan key's burst of 10 requests a second); 5xx answers, an HTML 502, a server that
// never answers and a closed port come from tiny local servers, since the real one does not
// produce those on demand. Those local servers stand in only for failures, never for API
// behaviour.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { PryntServer, ApiError, ConflictError, RateLimitError, ConnectionError, TimeoutError, PryntError } from '@prynt/node';
import { backoffDelay } from '../dist/esm/http.js';
import { startServer, workspaceKey } from './helpers.mjs';

let prynt;
let starterKey;

before(async () => {
  prynt = await startServer();
  starterKey = await workspaceKey(prynt, 'starter-shop', 'starter');
});

after(async () => {
  await prynt?.stop();
});

/** A PryntServer on the starter key that records the status of every HTTP attempt. */
function recordingClient(options) {
  const statuses = [];
  const client = new PryntServer({
    secretKey: starterKey,
    baseUrl: prynt.base,
    ...options,
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      statuses.push(res.status);
      return res;
    },
  });
  return { client, statuses };
}

/**
 * Requests sent at once: twice the starter plan's burst of 10 a second, so that some are
 * refused even when a loaded machine spreads them out. Three rounds stay well within the
 * plan's 100 server-API requests a minute.
 */
const BURST = 20;

/** Waits until the starter key's one-second burst budget has refilled. */
const burstRefilled = () => new Promise((r) => setTimeout(r, 1100));

test('real 429s are retried after Retry-After until they succeed', async () => {
  await burstRefilled();
  const { client, statuses } = recordingClient({ maxRetries: 3 });
  const started = Date.now();
  const pages = await Promise.all(Array.from({ length: BURST }, () => client.listEvents({ limit: 1 })));
  const elapsed = Date.now() - started;
  assert.equal(pages.length, BURST);
  assert.ok(pages.every((p) => Array.isArray(p.data)));
  const refused = statuses.filter((s) => s === 429).length;
  assert.ok(refused >= 1, `the burst of 10/s refused the extra requests (429s: ${refused})`);
  assert.equal(statuses.filter((s) => s === 200).length, BURST, 'each call succeeded once');
  assert.ok(elapsed >= 900, `the retries waited Retry-After (1 s); took ${elapsed} ms`);
});

test('with maxRetries 0 a real 429 is a RateLimitError with retryAfter and the request id', async () => {
  await burstRefilled();
  const { client, statuses } = recordingClient({ maxRetries: 0 });
  const results = await Promise.allSettled(Array.from({ length: BURST }, () => client.listEvents({ limit: 1 })));
  const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
  assert.ok(errors.length >= 1, `some were refused: ${errors.length}`);
  assert.equal(statuses.length, BURST, 'no retries');
  for (const e of errors) {
    assert.ok(e instanceof RateLimitError && e instanceof ApiError, String(e));
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limited');
    assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter >= 1, `retryAfter ${e.retryAfter}`);
    assert.match(e.requestId, /^req_/);
    assert.equal(e.headers.get('retry-after'), String(e.retryAfter));
  }
});

test('a Retry-After beyond maxRetryAfter is not waited for', async () => {
  await burstRefilled();
  const { client, statuses } = recordingClient({ maxRetries: 5, maxRetryAfter: 500 });
  const started = Date.now();
  const results = await Promise.allSettled(Array.from({ length: BURST }, () => client.listEvents({ limit: 1 })));
  const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
  assert.ok(errors.length >= 1 && errors.every((e) => e instanceof RateLimitError));
  assert.equal(statuses.length, BURST, 'refused at once, not retried');
  assert.ok(Date.now() - started < 3000, 'no wait for the Retry-After');
});

/**
 * A local server that answers each request with the next of `answers` (the last repeats):
 * `[status, body, headers?]`. Records method, headers and arrival time of every request.
 */
async function scripted(answers) {
  const requests = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, at: Date.now() });
      const [status, body, headers = {}] = answers[Math.min(requests.length - 1, answers.length - 1)];
      if (status === 0) return; // never answer
      const type = body.startsWith('<') ? 'text/html' : 'application/json';
      res.writeHead(status, { 'Content-Type': type, 'X-Request-Id': `req_1_${requests.length.toString(16).padStart(6, '0')}`, ...headers });
      res.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const close = () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  };
  return { base, requests, close };
}

const OK = [200, '{"data":[],"hasMore":false,"nextCursor":null}'];
const ERROR_500 = [500, '{"error":{"code":"internal_error","message":"An internal error occurred.","docs":"/docs/errors#internal_error"}}'];
const HTML_502 = [502, '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>'];

const fast = { secretKey: 'sk_test_local', maxRetries: 3, retryBaseDelay: 20, retryMaxDelay: 40 };

test('5xx answers are retried with backoff until success', async () => {
  const s = await scripted([ERROR_500, HTML_502, OK]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base });
    const page = await client.listEvents();
    assert.deepEqual(page, { data: [], hasMore: false, nextCursor: null });
    assert.equal(s.requests.length, 3);
    for (let i = 1; i < 3; i++) {
      const gap = s.requests[i].at - s.requests[i - 1].at;
      // The draws are at most 40 ms; the slack is for a loaded machine.
      assert.ok(gap <= 1000, `backoff within its cap (gap ${gap} ms)`);
    }
  } finally {
    await s.close();
  }
});

test('an HTML 502 from a proxy is a typed ApiError, not a JSON parse crash', async () => {
  const s = await scripted([HTML_502]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base, maxRetries: 2 });
    const e = await client.getEvent('req_1_abcdef').catch((x) => x);
    assert.ok(e instanceof ApiError && e instanceof PryntError, String(e));
    assert.equal(e.status, 502);
    assert.equal(e.code, 'server_error');
    assert.match(e.message, /502 Bad Gateway/);
    assert.equal(e.requestId, 'req_1_000003', 'the last attempt');
    assert.match(e.rawBody, /^<html>/);
    assert.equal(s.requests.length, 3, 'retried twice');
  } finally {
    await s.close();
  }
});

test('a 2xx that is not JSON is an ApiError (invalid_response)', async () => {
  const s = await scripted([[200, '<html>captive portal</html>']]);
  try {
    const e = await new PryntServer({ ...fast, baseUrl: s.base }).getWorkspace().catch((x) => x);
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 'invalid_response');
    assert.equal(s.requests.length, 1);
  } finally {
    await s.close();
  }
});

test('a POST carries one Idempotency-Key for all its retries; an explicit key is sent as given', async () => {
  const s = await scripted([ERROR_500, ERROR_500, [200, '{"id":"rul_000000000001"}']]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base });
    await client.createRule({ name: 'r', conditions: {}, action: {} });
    assert.equal(s.requests.length, 3);
    const keys = s.requests.map((r) => r.headers['idempotency-key']);
    assert.match(keys[0], /^[0-9a-f-]{36}$/);
    assert.deepEqual(keys, [keys[0], keys[0], keys[0]]);
    assert.equal(s.requests[0].headers['content-type'], 'application/json');
    assert.equal(s.requests[0].headers.authorization, 'Bearer sk_test_local');
    assert.match(s.requests[0].headers['user-agent'], /^prynt-node\//);

    await client.createList({ name: 'l', type: 'ip' }, { idempotencyKey: 'order-42' });
    assert.equal(s.requests.at(-1).headers['idempotency-key'], 'order-42');
    await client.createList({ name: 'l', type: 'ip' });
    assert.notEqual(s.requests.at(-1).headers['idempotency-key'], keys[0], 'a new key per call');
    await client.listRules();
    assert.equal(s.requests.at(-1).headers['idempotency-key'], undefined, 'none on a GET');
  } finally {
    await s.close();
  }
});

test('query parameters: Dates as ISO 8601 with milliseconds, booleans, nothing for undefined', async () => {
  const s = await scripted([OK]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base, headers: { 'X-Team': 'fraud' } });
    await client.listEvents({ after: new Date(Date.UTC(2026, 1, 14, 11, 45, 22, 123)), bot: false, verdict: undefined, limit: 5 });
    assert.equal(s.requests[0].url, '/v1/events?after=2026-02-14T11%3A45%3A22.123Z&bot=false&limit=5');
    assert.equal(s.requests[0].headers['x-team'], 'fraud', 'client headers');
    await client.getEvent('req 1/2?x', { headers: { 'X-Trace': 't1' } });
    assert.equal(s.requests[1].url, '/v1/events/req%201%2F2%3Fx', 'ids are one encoded path segment');
    assert.equal(s.requests[1].headers['x-trace'], 't1', 'call headers');
    await client.createList({ name: 'l', type: 'ip' }, { headers: { 'idempotency-key': 'from-header' } });
    assert.equal(s.requests[2].headers['idempotency-key'], 'from-header', 'a key given as a header is kept');
  } finally {
    await s.close();
  }
});

test('a POST without an Idempotency-Key is never retried', async () => {
  const s = await scripted([ERROR_500, OK]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base });
    const e = await client.testWebhook('whk_000000000001', { idempotencyKey: false }).catch((x) => x);
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 500);
    assert.equal(e.code, 'internal_error');
    assert.equal(s.requests.length, 1);
    assert.equal(s.requests[0].headers['idempotency-key'], undefined);
  } finally {
    await s.close();
  }
});

test('a 409 is retried only after an attempt whose answer was lost (the first may still be serving)', async () => {
  const CONFLICT = [409, '{"error":{"code":"conflict","message":"A request with this Idempotency-Key is still being served; retry shortly.","docs":"/docs/errors#conflict"}}'];
  const s = await scripted([[0, ''], CONFLICT, [200, '{"id":"lst_000000000001"}']]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base, timeout: 150 });
    const list = await client.createList({ name: 'l', type: 'ip' });
    assert.equal(list.id, 'lst_000000000001');
    assert.equal(s.requests.length, 3, 'timed out, 409 while still serving, then the answer');
    assert.equal(new Set(s.requests.map((r) => r.headers['idempotency-key'])).size, 1);
  } finally {
    await s.close();
  }
  const dup = await scripted([[409, '{"error":{"code":"conflict","message":"A list named l exists.","docs":"/docs/errors#conflict"}}'], OK]);
  try {
    const e = await new PryntServer({ ...fast, baseUrl: dup.base }).createList({ name: 'l', type: 'ip' }).catch((x) => x);
    assert.ok(e instanceof ConflictError);
    assert.equal(dup.requests.length, 1, 'a real conflict is not retried');
  } finally {
    await dup.close();
  }
});

test('PUT, PATCH and DELETE are retried like GET', async () => {
  const s = await scripted([ERROR_500, OK, ERROR_500, OK, ERROR_500, OK]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base });
    await client.updateRule('rul_000000000001', { status: 'paused' });
    await client.patchWebhook('whk_000000000001', { status: 'paused' });
    await client.deleteList('lst_000000000001');
    assert.deepEqual(s.requests.map((r) => r.method), ['PUT', 'PUT', 'PATCH', 'PATCH', 'DELETE', 'DELETE']);
  } finally {
    await s.close();
  }
});

test('maxRetries 0 turns retries off, per client and per call', async () => {
  const s = await scripted([ERROR_500]);
  try {
    const off = new PryntServer({ ...fast, baseUrl: s.base, maxRetries: 0 });
    await assert.rejects(off.listRules(), ApiError);
    assert.equal(s.requests.length, 1);
    const on = new PryntServer({ ...fast, baseUrl: s.base });
    await assert.rejects(on.listRules({}, { maxRetries: 0 }), ApiError);
    assert.equal(s.requests.length, 2);
    await assert.rejects(on.listRules({}, { maxRetries: 1 }), ApiError);
    assert.equal(s.requests.length, 4);
  } finally {
    await s.close();
  }
});

test('a Retry-After on a 503 is honoured', async () => {
  const s = await scripted([[503, '{"error":{"code":"service_unavailable","message":"Starting.","docs":"/docs/errors#service_unavailable"}}', { 'Retry-After': '1' }], OK]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base });
    await client.listEvents();
    const gap = s.requests[1].at - s.requests[0].at;
    assert.ok(gap >= 950, `waited the Retry-After second (${gap} ms)`);
  } finally {
    await s.close();
  }
});

test('network failures are ConnectionErrors, retried', async () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));

  let attempts = 0;
  const client = new PryntServer({
    ...fast,
    baseUrl: `http://127.0.0.1:${port}`,
    maxRetries: 2,
    fetch: (url, init) => {
      attempts++;
      return fetch(url, init);
    },
  });
  const e = await client.getVisitor('pv_8kX2mNqR3jT7p').catch((x) => x);
  assert.ok(e instanceof ConnectionError && e instanceof PryntError, String(e));
  assert.ok(!(e instanceof TimeoutError));
  assert.equal(e.status, undefined);
  assert.equal(e.code, 'connection_error');
  assert.match(e.message, /ECONNREFUSED/);
  assert.equal(attempts, 3, 'the first attempt and two retries');

  // A POST with its key is retried too; without one it is not.
  attempts = 0;
  await assert.rejects(client.createList({ name: 'x', type: 'ip' }), ConnectionError);
  assert.equal(attempts, 3);
  attempts = 0;
  await assert.rejects(client.createList({ name: 'x', type: 'ip' }, { idempotencyKey: false }), ConnectionError);
  assert.equal(attempts, 1);
});

test('an attempt that outlives its timeout is a TimeoutError', async () => {
  const s = await scripted([[0, '']]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base, timeout: 150, maxRetries: 1 });
    const started = Date.now();
    const e = await client.listEvents().catch((x) => x);
    assert.ok(e instanceof TimeoutError && e instanceof ConnectionError, String(e));
    assert.equal(e.code, 'timeout');
    assert.equal(s.requests.length, 2, 'timed out, retried, timed out');
    assert.ok(Date.now() - started < 5000);
    const once = await client.listEvents({}, { timeout: 50, maxRetries: 0 }).catch((x) => x);
    assert.ok(once instanceof TimeoutError);
  } finally {
    await s.close();
  }
});

test("the caller's AbortSignal stops a call, even during a retry's wait", async () => {
  // Retry-After makes the wait a sure 5 s (a backoff draw could be short).
  const s = await scripted([[...ERROR_500, { 'Retry-After': '5' }]]);
  try {
    const client = new PryntServer({ ...fast, baseUrl: s.base });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('caller gave up')), 100);
    await assert.rejects(client.listEvents({}, { signal: controller.signal }), /caller gave up/);
    assert.ok(Date.now() - started < 3000);
    assert.equal(s.requests.length, 1);
  } finally {
    await s.close();
  }
});

test('backoff is exponential with full jitter, capped', () => {
  assert.equal(backoffDelay(0, 500, 8000, undefined, () => 0.999999), 499);
  assert.equal(backoffDelay(3, 500, 8000, undefined, () => 0.5), 2000);
  assert.equal(backoffDelay(10, 500, 8000, undefined, () => 0.5), 4000, 'capped at maxDelay');
  assert.equal(backoffDelay(0, 500, 8000, undefined, () => 0), 0, 'full jitter reaches zero');
  assert.equal(backoffDelay(5, 500, 8000, 3), 3000, 'Retry-After wins');
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(2, 100, 1000);
    assert.ok(d >= 0 && d < 400);
  }
});
