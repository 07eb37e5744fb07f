// verifyWebhookSignature on known answers (shared with the server's signing tests): each
// header scheme, rotation, header containers, tolerance, and misuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { verifyWebhookSignature, standardWebhooksKey } from '@prynt/node';

// Known answers shared with the server's signing tests (computed there with Python's hmac).
const NEW = 'whsec_5mV8qJ2xT0LwZbN4rC7yD1eK9gH3fA6s';
const OLD = 'whsec_old';
const BODY = '{"id":"evt_1","timestamp":1700000000}';
const SIG_NEW = '264d29ad09c79144dd5f46ed4cd637aaa1efe13773385102a3e3b2cc0e37b31d';
const SIG_OLD = 'dc8f763704224f1a36abf5a9085916db641c2eb8783f8903c5d3ae8286a0406d';
const STANDARD = { 'webhook-id': 'dlv_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,g4wSGqlUk7rDaY/au4F4KY0qf+aqLlWXMnv0GyXBtXI=' };
const AT = new Date(1_700_000_000_000);

test('X-Prynt-Signature: bare hex HMAC of the raw body', () => {
  assert.equal(verifyWebhookSignature(BODY, { 'X-Prynt-Signature': SIG_NEW }, NEW), true);
  assert.equal(verifyWebhookSignature('data', { 'x-prynt-signature': '1b2c16b75bd2a870c114153ccda5bcfca63314bc722fa160d690de133ccbb9db' }, 'secret'), true);
  assert.equal(verifyWebhookSignature(Buffer.from(BODY), { 'X-PRYNT-SIGNATURE': SIG_NEW.toUpperCase() }, NEW), true, 'any case');
  assert.equal(verifyWebhookSignature(new TextEncoder().encode(BODY), new Headers({ 'X-Prynt-Signature': SIG_NEW }), NEW), true, 'Headers');
  assert.equal(verifyWebhookSignature(BODY, { 'x-prynt-signature': [SIG_NEW] }, NEW), true, 'array value');

  assert.equal(verifyWebhookSignature(BODY.replace('1700000000', '1700000001'), { 'X-Prynt-Signature': SIG_NEW }, NEW), false, 'tampered body');
  assert.equal(verifyWebhookSignature(BODY, { 'X-Prynt-Signature': SIG_NEW }, 'whsec_other'), false, 'wrong secret');
  assert.equal(verifyWebhookSignature(JSON.stringify(JSON.parse(BODY), null, 1), { 'X-Prynt-Signature': SIG_NEW }, NEW), false, 're-serialised');
  assert.equal(verifyWebhookSignature(BODY, { 'X-Prynt-Signature': `v1=${SIG_NEW}` }, NEW), false, 'not the bare form');
  assert.equal(verifyWebhookSignature(BODY, { 'X-Prynt-Signature': SIG_NEW.slice(0, 63) }, NEW), false, 'a prefix');
  assert.equal(verifyWebhookSignature(BODY, { 'X-Prynt-Signature': '' }, NEW), false);
  assert.equal(verifyWebhookSignature(BODY, {}, NEW), false, 'no signature at all');
});

test('during a rotation either secret verifies (X-Prynt-Signature-Previous)', () => {
  const headers = { 'X-Prynt-Signature': SIG_NEW, 'X-Prynt-Signature-Previous': SIG_OLD };
  assert.equal(verifyWebhookSignature(BODY, headers, NEW), true);
  assert.equal(verifyWebhookSignature(BODY, headers, OLD), true);
  assert.equal(verifyWebhookSignature(BODY, headers, 'whsec_neither'), false);
  assert.equal(verifyWebhookSignature(BODY, { 'X-Prynt-Signature': SIG_NEW }, [OLD, NEW]), true, 'several secrets');
});

test('Standard Webhooks headers: v1,<base64 HMAC of id.timestamp.body>', () => {
  assert.equal(verifyWebhookSignature(BODY, STANDARD, NEW), true);
  assert.equal(verifyWebhookSignature(BODY, { ...STANDARD, 'webhook-signature': `v2,abc ${STANDARD['webhook-signature']}` }, NEW), true, 'other schemes skipped');
  assert.equal(verifyWebhookSignature(BODY, { ...STANDARD, 'webhook-id': 'dlv_2' }, NEW), false, 'id is signed');
  assert.equal(verifyWebhookSignature(BODY, { ...STANDARD, 'webhook-timestamp': '1700000001' }, NEW), false, 'timestamp is signed');
  assert.equal(verifyWebhookSignature(BODY, { ...STANDARD, 'webhook-signature': 'v1,!!!' }, NEW), false);
  // The key is the base64 decoding of what follows whsec_; text that is not base64 is used as is.
  assert.equal(standardWebhooksKey(NEW).length, 24);
  assert.deepEqual(standardWebhooksKey('my own secret!!!'), Buffer.from('my own secret!!!'));
  const custom = 'my own secret!!!';
  const sig = createHmac('sha256', custom).update(`dlv_1.1700000000.${BODY}`).digest('base64');
  assert.equal(verifyWebhookSignature(BODY, { ...STANDARD, 'webhook-signature': `v1,${sig}` }, custom), true);
});

test('tolerance: only a fresh, Standard-signed delivery passes', () => {
  assert.equal(verifyWebhookSignature(BODY, STANDARD, NEW, { tolerance: 300, now: AT }), true);
  assert.equal(verifyWebhookSignature(BODY, STANDARD, NEW, { tolerance: 300, now: AT.getTime() + 299_000 }), true);
  assert.equal(verifyWebhookSignature(BODY, STANDARD, NEW, { tolerance: 300, now: AT.getTime() + 301_000 }), false, 'too old');
  assert.equal(verifyWebhookSignature(BODY, STANDARD, NEW, { tolerance: 300, now: AT.getTime() - 301_000 }), false, 'from the future');
  assert.equal(verifyWebhookSignature(BODY, STANDARD, NEW, { tolerance: 300 }), false, 'judged against now');
  assert.equal(
    verifyWebhookSignature(BODY, { 'X-Prynt-Signature': SIG_NEW }, NEW, { tolerance: 300, now: AT }),
    false,
    'the hex signature does not cover a timestamp',
  );
});

test('misuse is refused loudly', () => {
  assert.throws(() => verifyWebhookSignature(JSON.parse(BODY), { 'X-Prynt-Signature': SIG_NEW }, NEW), TypeError);
  assert.throws(() => verifyWebhookSignature(BODY, { 'X-Prynt-Signature': SIG_NEW }, ''), TypeError);
  assert.throws(() => verifyWebhookSignature(BODY, undefined, NEW), TypeError);
  assert.throws(() => verifyWebhookSignature(BODY, STANDARD, NEW, { tolerance: -1 }), TypeError);
});
