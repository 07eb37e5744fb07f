// The examples (examples/express, examples/webhook-receiver) as a user runs them: the real
// Prynt server, each example started with `node` as its README says, and Debian's Chromium
// submitting the Express app's login form once. The backend's decision, the event behind it
// and the verified webhook delivery are asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './lib/browser.mjs';
import { startPrynt } from './lib/prynt.mjs';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'examples');
const TIMEOUT = 120_000;

/**
 * Starts `node file` in `dir` with `env`; resolves once a stdout line matches `ready`, to
 * `{ match, lines, waitFor(pred), stop }`. `lines` holds every stdout line so far.
 */
async function startNode(dir, file, env, ready) {
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  let stderr = '';
  const waiters = new Set();
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buffered += d;
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
    }
    for (const w of waiters) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', r));
  const waitFor = (pred, what, ms = 30_000) =>
    new Promise((resolvePromise, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit !== undefined) {
          waiters.delete(check);
          clearTimeout(timer);
          resolvePromise(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${file}: no ${what} within ${ms} ms\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
      }, ms);
      waiters.add(check);
      exited.then(() => {
        if (waiters.has(check)) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`${file} exited\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
        }
      });
      check();
    });
  const first = await waitFor((l) => ready.test(l), 'start-up line');
  return {
    match: ready.exec(first),
    lines,
    waitFor,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

test('Chromium logs in through the Express example, which acts on Prynt\'s verdict; the receiver verifies the delivery', { timeout: TIMEOUT }, async () => {
  const cleanups = [];
  try {
    const prynt = await startPrynt({ env: { PRYNT_DEV_ALLOW_LOOPBACK_WEBHOOKS: 'true' } });
    cleanups.push(() => prynt.stop());

    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const receiver = await startNode(
      join(EXAMPLES, 'webhook-receiver'),
      'receiver.mjs',
      { PRYNT_WEBHOOK_SECRET: secret },
      /^receiver listening on (http:\/\/\S+)$/,
    );
    cleanups.push(() => receiver.stop());
    const hook = await prynt.api('POST', '/v1/webhooks', { url: receiver.match[1], events: ['identification'], secret });
    assert.equal(hook.status, 200, hook.text);

    const app = await startNode(
      join(EXAMPLES, 'express'),
      'server.mjs',
      { PRYNT_BASE_URL: prynt.base, PRYNT_PUBLIC_KEY: prynt.publicKey, PRYNT_SECRET_KEY: prynt.secretKey },
      /^example listening on (http:\/\/\S+)$/,
    );
    cleanups.push(() => app.stop());

    // A rule decides every login: the example must act on it.
    const rule = await prynt.api('POST', '/v1/rules', {
      name: 'Challenge logins',
      status: 'live',
      conditions: { operator: 'AND', rules: [{ field: 'event.type', operator: 'equals', value: 'login' }] },
      action: { verdict: 'challenge' },
    });
    assert.equal(rule.status, 200, rule.text);

    const browser = await launch();
    cleanups.push(() => browser.close());
    const page = browser.pages()[0] || (await browser.newPage());
    await page.goto(`${app.match[1]}/login`);
    await page.fill('input[name=email]', 'ana@example.com');
    await page.fill('input[name=password]', 'correct horse');
    // The page identifies, then submits the form with the requestId: the answer page is the
    // one with a decision on it.
    await page.click('button[type=submit]');
    await page.waitForSelector('#decision', { timeout: 30_000 });
    const decision = await page.getAttribute('#decision', 'data-decision');
    assert.equal(decision, 'challenge', await page.content());

    // The backend's decision came from the event Prynt stored for this login.
    const logged = JSON.parse(await app.waitFor((l) => l.startsWith('{'), 'decision log line'));
    assert.equal(logged.decision, 'challenge');
    assert.match(logged.requestId, /^req_\d+_[0-9a-f]{6}$/);
    const event = await prynt.api('GET', `/v1/events/${logged.requestId}`);
    assert.equal(event.status, 200);
    assert.equal(event.json.verdict, 'challenge');
    assert.equal(event.json.type, 'login');
    assert.equal(event.json.linkedId, 'ana@example.com');

    // The receiver got the identification, signed, and verified it; a forged one is refused.
    const delivered = JSON.parse(
      await receiver.waitFor((l) => l.startsWith('{') && JSON.parse(l).requestId === logged.requestId, 'verified delivery'),
    );
    assert.deepEqual([delivered.verified, delivered.event, delivered.verdict], [true, 'identification', 'challenge']);
    const forged = await fetch(receiver.match[1], {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-prynt-signature': '0'.repeat(64) },
      body: JSON.stringify({ id: 'evt_forged', event: 'identification', data: { verdict: 'allow' } }),
    });
    assert.equal(forged.status, 400);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
});
