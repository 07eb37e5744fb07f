// The agent must run on current Chrome, Firefox and Safari, including Safari versions a few
// years old: its syntax is held to ECMAScript 2019 (async/await, optional catch binding; no
// optional chaining, nullish coalescing, class fields or top-level await), checked by parsing
// exactly what the server serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'acorn';
import { wrapClassic, wrapModule } from './lib/browser.mjs';

const source = readFileSync(new URL('../agent/prynt.js', import.meta.url), 'utf8');

test('the classic script parses as ES2019', () => {
  assert.doesNotThrow(() => parse(wrapClassic(source), { ecmaVersion: 2019, sourceType: 'script' }));
});

test('the ES module parses as ES2019', () => {
  assert.doesNotThrow(() => parse(wrapModule(source), { ecmaVersion: 2019, sourceType: 'module' }));
});

test('the check refuses newer syntax', () => {
  for (const newer of ['a?.b', 'a ?? b', 'class A { x = 1 }', 'a ||= b', '1_000']) {
    assert.throws(() => parse(newer, { ecmaVersion: 2019, sourceType: 'script' }), newer);
  }
});

test('the source defines nothing at top level but Prynt', () => {
  const ast = parse(source, { ecmaVersion: 2019, sourceType: 'script' });
  const names = ast.body.flatMap((n) => (n.type === 'VariableDeclaration' ? n.declarations.map((d) => d.id.name) : [n.type]));
  assert.deepEqual(names, ['Prynt']);
});
