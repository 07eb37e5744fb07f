// Builds dist/: the ES module build (dist/esm) and the CommonJS build (dist/cjs), each with its
// .d.ts files and a package.json that tells Node which module system its .js files use; then
// type-checks test/typecheck.ts, which uses the public types the way an application would.
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_DIR } from './paths.mjs';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function run(project) {
  const r = spawnSync(process.execPath, [tsc, '-p', project], { cwd: PACKAGE_DIR, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`tsc -p ${project} failed`);
    process.exit(r.status ?? 1);
  }
}

await rm(join(PACKAGE_DIR, 'dist'), { recursive: true, force: true });
run('tsconfig.json');
run('tsconfig.cjs.json');
for (const [dir, type] of [['esm', 'module'], ['cjs', 'commonjs']]) {
  await mkdir(join(PACKAGE_DIR, 'dist', dir), { recursive: true });
  await writeFile(join(PACKAGE_DIR, 'dist', dir, 'package.json'), JSON.stringify({ type }) + '\n');
}
run('tsconfig.typecheck.json');
console.log('built dist/esm and dist/cjs');
