// Webhooks against the real server: create, list, get, update (PUT and PATCH), delete, test
// deliveries, the deliveries list, redelivery and secret rotation; the real deliveries reach a
// local receiver and are verified with verifyWebhookSignature, before and during a rotation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { verifyWebhookSignature, NotFoundError, ValidationError } from '@prynt/node';
import { startServer, startReceiver, identify, deliveryJson } from './helpers.mjs';

let prynt;
let sdk;
let receiver;

before(async () => {
  prynt = await startServer({ env: { PRYNT_DEV_ALLOW_LOOPBACK_WEBHOOKS: 'true' } });
  sdk = prynt.client();
  receiver = await startReceiver();
});

after(async () => {
  await receiver?.close();
  await prynt?.stop();
});

/** Asserts that a real delivery verifies with `secrets` and fails with anything else. */
function assertVerifies(delivery, ...secrets) {
  const { rawBody, headers } = delivery;
  for (const secret of secrets) {
    assert.equal(verifyWebhookSignature(rawBody, headers, secret), true, `verifies with ${secret}`);
    assert.equal(verifyWebhookSignature(rawBody, new Headers(Object.entries(headers)), secret), true, 'as Headers');
    assert.equal(verifyWebhookSignature(rawBody, headers, secret, { tolerance: 300 }), true, 'fresh Standard signature');
  }
  assert.equal(verifyWebhookSignature(rawBody, headers, 'whsec_' + 'x'.repeat(32)), false, 'another secret');
  const tampered = Buffer.concat([rawBody, Buffer.from(' ')]);
  assert.equal(verifyWebhookSignature(tampered, headers, secrets[0]), false, 'tampered body');
}

test('webhooks: create, list, get, update with PUT and PATCH', async () => {
  const created = await sdk.createWebhook({ url: receiver.url, events: ['identification'], description: 'crud' });
  assert.match(created.id, /^whk_[0-9a-f]{12}$/);
  assert.match(created.secret, /^whsec_/);
  assert.equal(created.status, 'active');

  const listed = await sdk.listWebhooks();
  assert.ok(listed.data.some((w) => w.id === created.id));
  assert.equal((await sdk.listWebhooks({ status: 'paused' })).data.length, 0);

  const got = await sdk.getWebhook(created.id);
  assert.equal(got.url, receiver.url);
  assert.equal(got.secret, undefined, 'the secret is shown only at creation');

  const paused = await sdk.updateWebhook(created.id, { status: 'paused' });
  assert.equal(paused.status, 'paused');
  assert.deepEqual(paused.events, ['identification']);
  const patched = await sdk.patchWebhook(created.id, { events: ['rule_match', 'list_update'], status: 'active' });
  assert.deepEqual(patched.events, ['rule_match', 'list_update']);
  assert.equal(patched.status, 'active');

  await assert.rejects(sdk.createWebhook({ url: 'ftp://example.com/x' }), (e) => e instanceof ValidationError && e.field === 'url');
  assert.deepEqual(await sdk.deleteWebhook(created.id), { deleted: true, webhookId: created.id });
  await assert.rejects(sdk.getWebhook(created.id), NotFoundError);
});

test('real deliveries verify: test delivery, a list change and an identification', async () => {
  const hook = await sdk.createWebhook({ url: receiver.url, events: ['identification', 'list_update'] });
  try {
    const queued = await sdk.testWebhook(hook.id);
    assert.equal(queued.queued, true);
    const testDelivery = await receiver.waitFor((d) => deliveryJson(d).id === queued.payloadId);
    assert.equal(deliveryJson(testDelivery).event, 'test');
    assert.match(testDelivery.headers['x-prynt-signature'], /^[0-9a-f]{64}$/);
    assert.equal(testDelivery.headers['x-prynt-signature-previous'], undefined, 'no rotation yet');
    assertVerifies(testDelivery, hook.secret);

    const list = await sdk.createList({ name: 'watch', type: 'visitor' });
    await sdk.addListEntries(list.id, ['pv_8kX2mNqR3jT7p']);
    const listDelivery = await receiver.waitFor((d) => {
      const body = deliveryJson(d);
      return body.event === 'list_update' && body.data.listId === list.id;
    });
    assert.deepEqual(deliveryJson(listDelivery).data.added, ['pv_8kX2mNqR3jT7p']);
    assertVerifies(listDelivery, hook.secret);

    const answer = await identify(prynt, 7);
    const idDelivery = await receiver.waitFor((d) => deliveryJson(d).data?.requestId === answer.requestId);
    assert.equal(deliveryJson(idDelivery).event, 'identification');
    assertVerifies(idDelivery, hook.secret);
    await sdk.deleteList(list.id);
  } finally {
    await sdk.deleteWebhook(hook.id);
  }
});

test('deliveries list and redelivery of a finished delivery', async () => {
  const hook = await sdk.createWebhook({ url: receiver.url, events: ['list_update'] });
  try {
    const queued = await sdk.testWebhook(hook.id);
    await receiver.waitFor((d) => deliveryJson(d).id === queued.payloadId);
    let delivery;
    for (let i = 0; i < 50 && !delivery; i++) {
      const page = await sdk.listWebhookDeliveries(hook.id, { limit: 10 });
      delivery = page.data.find((d) => d.payloadId === queued.payloadId && d.status === 'succeeded');
      if (!delivery) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(delivery, 'the delivery is listed as succeeded');
    assert.match(delivery.id, /^dlv_[0-9a-f]{12}$/);
    assert.equal(delivery.attempts.length, 1);
    assert.equal(delivery.attempts[0].statusCode, 200);

    const before = receiver.received.filter((d) => deliveryJson(d).id === queued.payloadId).length;
    const again = await sdk.retryWebhookDelivery(hook.id, delivery.id);
    assert.equal(again.queued, true);
    assert.equal(again.deliveryId, delivery.id);
    await receiver.waitFor((d) => deliveryJson(d).id === queued.payloadId && receiver.received.filter((x) => deliveryJson(x).id === queued.payloadId).length > before);
    const copies = receiver.received.filter((d) => deliveryJson(d).id === queued.payloadId);
    assert.equal(copies.length, before + 1, 'delivered again, same payload id');
    assertVerifies(copies.at(-1), hook.secret);
  } finally {
    await sdk.deleteWebhook(hook.id);
  }
});

test('after a secret rotation a delivery verifies with the new secret and the previous one', async () => {
  const hook = await sdk.createWebhook({ url: receiver.url, events: ['list_update'] });
  try {
    const rotated = await sdk.rotateWebhookSecret(hook.id);
    assert.equal(rotated.id, hook.id);
    assert.match(rotated.secret, /^whsec_/);
    assert.notEqual(rotated.secret, hook.secret);
    assert.ok(Date.parse(rotated.previousSecretExpiresAt) > Date.now() + 23 * 3_600_000, 'the old secret lives on for 24 h');

    const queued = await sdk.testWebhook(hook.id);
    const d = await receiver.waitFor((x) => deliveryJson(x).id === queued.payloadId);
    assert.match(d.headers['x-prynt-signature'], /^[0-9a-f]{64}$/);
    assert.match(d.headers['x-prynt-signature-previous'], /^[0-9a-f]{64}$/);
    assert.equal(d.headers['webhook-signature'].split(' ').length, 2, 'a Standard signature per live secret');
    assertVerifies(d, rotated.secret, hook.secret);

    // The main header alone is the new secret's; the previous header alone is the old one's.
    const only = (name) => ({ [name]: d.headers[name] });
    assert.equal(verifyWebhookSignature(d.rawBody, only('x-prynt-signature'), rotated.secret), true);
    assert.equal(verifyWebhookSignature(d.rawBody, only('x-prynt-signature'), hook.secret), false);
    assert.equal(verifyWebhookSignature(d.rawBody, only('x-prynt-signature-previous'), hook.secret), true);
  } finally {
    await sdk.deleteWebhook(hook.id);
  }
});
