// The package as published: its types are the ones the server's OpenAPI document gives today
// (regenerated from the real binary and compared with the committed files), and both module
// builds load and expose the same API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as esm from '@prynt/node';
import { generateFromServer } from '../scripts/generate.mjs';
import { OPENAPI_PATH, PACKAGE_DIR, SCHEMA_PATH } from '../scripts/paths.mjs';

test('the committed openapi.json and src/schema.ts match the running server', async () => {
  const fresh = await generateFromServer();
  const committed = {
    openapi: await readFile(OPENAPI_PATH, 'utf8'),
    schema: await readFile(SCHEMA_PATH, 'utf8'),
  };
  const hint = 'the server\'s OpenAPI document changed: run `npm run generate` in sdk/node and commit the result';
  assert.ok(fresh.openapi === committed.openapi, `openapi.json is stale: ${hint}`);
  assert.ok(fresh.schema === committed.schema, `src/schema.ts is stale: ${hint}`);
});

test('every operation of the document has an SDK method', async () => {
  const doc = JSON.parse(await readFile(OPENAPI_PATH, 'utf8'));
  const client = await readFile(join(PACKAGE_DIR, 'src', 'client.ts'), 'utf8');
  // Routes for browsers, not for a server-side client.
  const browserOnly = new Set(['/v1/identify', '/v1/agent.js', '/v1/agent.mjs']);
  // The same handler as the POST beside it, which the SDK uses (it carries an Idempotency-Key).
  const sameAsPost = new Set(['PATCH /v1/lists/{listId}/entries']);
  const missing = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (browserOnly.has(path)) continue;
    for (const method of Object.keys(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      if (sameAsPost.has(`${method.toUpperCase()} ${path}`)) continue;
      // The client writes each path with its parameters as `${seg(...)}`.
      const pattern = path.replace(/\{[^}]+\}/g, '${seg(PARAM)}');
      const literal = pattern.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\$\{seg\\\(PARAM\\\)\}/g, "\\$\\{seg\\('\\w+', \\w+\\)\\}");
      const re = new RegExp(`method: '${method.toUpperCase()}',\\s*path: [\`']${literal}[\`']`);
      if (!re.test(client)) missing.push(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the ES module and CommonJS builds expose the same API', async () => {
  const cjs = createRequire(import.meta.url)('@prynt/node');
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  for (const name of ['PryntServer', 'PryntError', 'RateLimitError', 'verifyWebhookSignature']) {
    assert.equal(typeof cjs[name], 'function', name);
  }
  const e = new cjs.RateLimitError({ message: 'm', code: 'rate_limited', status: 429, retryAfter: 3 });
  assert.ok(e instanceof cjs.ApiError && e instanceof cjs.PryntError && e instanceof Error);
  assert.equal(e.name, 'RateLimitError');
});

test('VERSION is the package version', async () => {
  const pkg = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8'));
  assert.equal(esm.VERSION, pkg.version);
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), [], 'no runtime dependencies');
});
