// The dashboard's build is reproducible: building the same sources with the packages of the
// lockfile again gives byte-for-byte the dist/ that the binary embeds. A build that depended
// on the time, the machine or a network fetch would differ here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function files(dir) {
  const out = new Map();
  async function walk(d) {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p));
    }
  }
  await walk(dir);
  return out;
}

test('a second build from the lockfile equals dist/ byte for byte', async () => {
  const dist = await files(join(ROOT, 'dist')).catch(() => {
    throw new Error('dashboard/dist is missing: run `npm ci && npm run build` in dashboard/ first');
  });
  assert.ok(dist.has('index.html'), 'dist/index.html');
  assert.ok([...dist.keys()].some((f) => f.startsWith('assets/') && f.endsWith('.js')), 'a script bundle');

  const out = await mkdtemp(join(tmpdir(), 'prynt-dashboard-'));
  try {
    await build({ root: ROOT, logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
    const again = await files(out);
    assert.deepEqual([...again.keys()].sort(), [...dist.keys()].sort(), 'the same file names');
    for (const [name, bytes] of dist) {
      assert.ok(bytes.equals(again.get(name)), `${name} differs between two builds`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
