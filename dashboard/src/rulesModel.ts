// The rule editor's model: the condition tree as the editor holds it (every node with a stable
// id, values as the text the analyst typed), its conversion to and from the API's rule body,
// the checks the editor makes before sending, the mapping of an error's `field` path back to
// the node it names, and a stable text rendering of a rule for version diffs.
import type { Schemas } from './api';
import type { Catalogue, OperatorChoice, ValueSpec } from './rulesCatalogue';

export type GroupOperator = 'AND' | 'OR' | 'NOT';

export interface EGroup {
  kind: 'group';
  id: string;
  operator: GroupOperator;
  children: ENode[];
}

export interface ECond {
  kind: 'cond';
  id: string;
  field: string;
  /** The operator choice's key (`in_list` for `in` with a list name). */
  op: string;
  /** The value as typed: a number's text, a boolean's "true"/"false", a list's name, one array item per line. */
  raw: string;
  /** The high end of `between`. */
  raw2: string;
  /** The value as loaded, sent back unchanged when the catalogue does not know the field. */
  original?: unknown;
}

export type ENode = EGroup | ECond;

export type SideEffectDraft =
  | { type: 'addToList'; list: string; ttl: string }
  | { type: 'removeFromList'; list: string }
  | { type: 'tag'; key: string; value: string };

export type Verdict = Schemas['Verdict'];
export type RuleStatus = Schemas['RuleStatus'];

export const VERDICTS: Verdict[] = ['allow', 'challenge', 'block'];
export const STATUSES: { value: RuleStatus; label: string; hint: string }[] = [
  { value: 'live', label: 'Live', hint: 'evaluated and enforced' },
  { value: 'monitor', label: 'Monitor', hint: 'evaluated and counted, never decides' },
  { value: 'draft', label: 'Draft', hint: 'stored, never evaluated' },
  { value: 'paused', label: 'Paused', hint: 'kept, not evaluated' },
];

/**
 * A stored rule as the editor reads it. The condition tree is typed `unknown` here: the
 * editor walks it itself, and TypeScript cannot relate the client's deep recursive mapped
 * types of it to the schema's, so the tree crosses the client boundary untyped.
 */
export interface StoredRule {
  id: string;
  name: string;
  status: RuleStatus;
  priority: number;
  conditions: unknown;
  action: { verdict: Verdict; sideEffects?: Schemas['SideEffect'][] | null };
  stats: { matchCount: number; lastMatchAt?: string | null };
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A create or full-update body, its condition tree built from the catalogue. */
export interface RuleBody {
  name: string;
  status: RuleStatus;
  priority?: number;
  conditions: Record<string, unknown>;
  action: Schemas['RuleAction'];
}

/** Everything the editor form holds. */
export interface RuleDraft {
  name: string;
  status: RuleStatus;
  priority: string;
  verdict: Verdict;
  sideEffects: SideEffectDraft[];
  conditions: EGroup;
}

let seq = 0;
export function newId(prefix = 'n'): string {
  seq += 1;
  return `${prefix}${seq}`;
}

export function emptyGroup(operator: GroupOperator = 'AND'): EGroup {
  return { kind: 'group', id: newId('g'), operator, children: [] };
}

export function choiceFor(cat: Catalogue, field: string, op: string): OperatorChoice | undefined {
  return cat.byName.get(field)?.operators.find((o) => o.key === op);
}

/** The value text a fresh condition starts with for a value kind. */
export function defaultRaw(spec: ValueSpec | undefined, lists: Schemas['ListView'][] = []): string {
  if (!spec) return '';
  if (spec.kind === 'boolean') return 'true';
  if (spec.kind === 'string' && spec.enum?.length) return spec.enum[0];
  if (spec.kind === 'list') return lists[0]?.name ?? '';
  return '';
}

/** The lists a list condition on `field` may name (by the type the document gives the field). */
export function listsForField(spec: ValueSpec, field: string, lists: Schemas['ListView'][]): Schemas['ListView'][] {
  if (spec.kind !== 'list' || !spec.listTypes) return lists;
  const type = spec.listTypes[field];
  return type ? lists.filter((l) => l.type === type) : lists;
}

const PREFERRED_FIRST_FIELD = 'signals.bot.detected';

export function newCondition(cat: Catalogue, lists: Schemas['ListView'][]): ECond {
  const field = cat.byName.get(PREFERRED_FIRST_FIELD) ?? cat.fields[0];
  const choice = field.operators[0];
  return { kind: 'cond', id: newId('c'), field: field.name, op: choice.key, raw: defaultRaw(choice.value, listsForField(choice.value, field.name, lists)), raw2: '' };
}

/** Re-targets a condition at another field, keeping the operator and value when they still fit. */
export function withField(cat: Catalogue, c: ECond, field: string, lists: Schemas['ListView'][]): ECond {
  const info = cat.byName.get(field);
  if (!info) return { ...c, field };
  const same = info.operators.find((o) => o.key === c.op);
  const old = choiceFor(cat, c.field, c.op);
  if (same && old && same.value.kind === old.value.kind) {
    const stillListed = same.value.kind !== 'list' || listsForField(same.value, field, lists).some((l) => l.name === c.raw);
    if (stillListed) return { ...c, field, original: undefined };
  }
  const choice = same ?? info.operators[0];
  return { ...c, field, op: choice.key, raw: defaultRaw(choice.value, listsForField(choice.value, field, lists)), raw2: '', original: undefined };
}

export function withOperator(cat: Catalogue, c: ECond, op: string, lists: Schemas['ListView'][]): ECond {
  const next = choiceFor(cat, c.field, op);
  const old = choiceFor(cat, c.field, c.op);
  if (next && old && next.value.kind === old.value.kind) return { ...c, op, original: undefined };
  // Moving between a single number and a range keeps the number as the range's low end.
  const keep = next && old && ['number', 'between'].includes(next.value.kind) && ['number', 'between'].includes(old.value.kind);
  return { ...c, op, raw: keep ? c.raw : defaultRaw(next?.value, listsForField(next?.value ?? { kind: 'none' }, c.field, lists)), raw2: keep ? c.raw2 : '', original: undefined };
}

// ---------------------------------------------------------------------------------------------
// From the API

function rawOf(value: unknown): { raw: string; raw2: string } {
  if (value === null || value === undefined) return { raw: '', raw2: '' };
  if (typeof value === 'boolean' || typeof value === 'number') return { raw: String(value), raw2: '' };
  if (typeof value === 'string') return { raw: value, raw2: '' };
  if (Array.isArray(value)) return { raw: value.map((v) => String(v)).join('\n'), raw2: '' };
  return { raw: JSON.stringify(value), raw2: '' };
}

export function fromApiNode(cat: Catalogue | null, node: unknown): ENode {
  const n = node as { operator?: string; rules?: unknown[]; field?: string; value?: unknown };
  if (Array.isArray(n.rules)) {
    const op = (['AND', 'OR', 'NOT'].includes(n.operator ?? '') ? n.operator : 'AND') as GroupOperator;
    return { kind: 'group', id: newId('g'), operator: op, children: n.rules.map((r) => fromApiNode(cat, r)) };
  }
  const field = n.field ?? '';
  const operator = n.operator ?? 'equals';
  const info = cat?.byName.get(field);
  // `in` with a string is a list's name: the `in_list` choice.
  const choices = info?.operators.filter((o) => o.operator === operator) ?? [];
  const choice =
    choices.find((o) => (typeof n.value === 'string' ? o.value.kind === 'list' : o.value.kind !== 'list')) ?? choices[0];
  const op = choice?.key ?? operator;
  let { raw, raw2 } = rawOf(n.value);
  if (choice?.value.kind === 'between' && Array.isArray(n.value)) {
    raw = n.value[0] === undefined ? '' : String(n.value[0]);
    raw2 = n.value[1] === undefined ? '' : String(n.value[1]);
  }
  return { kind: 'cond', id: newId('c'), field, op, raw, raw2, original: choice ? undefined : n.value };
}

export function fromApiGroup(cat: Catalogue | null, group: unknown): EGroup {
  const node = fromApiNode(cat, group);
  return node.kind === 'group' ? node : { ...emptyGroup(), children: [node] };
}

export function draftFromRule(cat: Catalogue | null, rule: StoredRule): RuleDraft {
  return {
    name: rule.name,
    status: rule.status,
    priority: String(rule.priority),
    verdict: rule.action.verdict,
    sideEffects: (rule.action.sideEffects ?? []).map((s): SideEffectDraft => {
      if (s.type === 'addToList') return { type: 'addToList', list: s.list, ttl: s.ttl == null ? '' : String(s.ttl) };
      if (s.type === 'removeFromList') return { type: 'removeFromList', list: s.list };
      return { type: 'tag', key: s.key, value: s.value };
    }),
    conditions: fromApiGroup(cat, rule.conditions),
  };
}

export function newDraft(): RuleDraft {
  return { name: '', status: 'draft', priority: '', verdict: 'block', sideEffects: [], conditions: emptyGroup() };
}

// ---------------------------------------------------------------------------------------------
// To the API, with the editor's own checks

/** A problem found before sending, named by the same path the API would use. */
export interface Problem {
  field: string;
  message: string;
}

function parseNumber(text: string, integer: boolean): number | null {
  const t = text.trim();
  if (!t) return null;
  const n = Number(t);
  if (!Number.isFinite(n)) return null;
  if (integer && !Number.isInteger(n)) return null;
  return n;
}

function rangeProblem(n: number, spec: { min?: number; max?: number }): string | null {
  if (spec.min !== undefined && n < spec.min) return `At least ${spec.min}.`;
  if (spec.max !== undefined && n > spec.max) return `At most ${spec.max}.`;
  return null;
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function condToApi(cat: Catalogue, c: ECond, path: string, problems: Problem[]): Record<string, unknown> {
  const choice = choiceFor(cat, c.field, c.op);
  if (!cat.byName.has(c.field)) {
    // Unknown to this server's document: send it as loaded and let the API say what is wrong.
    return c.original === undefined ? { field: c.field, operator: c.op } : { field: c.field, operator: c.op, value: c.original };
  }
  if (!choice) {
    problems.push({ field: `${path}.operator`, message: `Choose an operator for ${c.field}.` });
    return { field: c.field, operator: c.op };
  }
  const out: Record<string, unknown> = { field: c.field, operator: choice.operator };
  const spec = choice.value;
  const bad = (message: string) => problems.push({ field: `${path}.value`, message });
  switch (spec.kind) {
    case 'none':
      break;
    case 'boolean':
      out.value = c.raw === 'true';
      break;
    case 'number': {
      const n = parseNumber(c.raw, spec.integer);
      if (n === null) bad(spec.integer ? 'Enter a whole number.' : 'Enter a number.');
      else {
        const r = rangeProblem(n, spec);
        if (r) bad(r);
      }
      out.value = n ?? c.raw;
      break;
    }
    case 'between': {
      const lo = parseNumber(c.raw, spec.integer);
      const hi = parseNumber(c.raw2, spec.integer);
      if (lo === null || hi === null) bad('Enter a number at both ends of the range.');
      else if (lo > hi) bad('The low end must be at most the high end.');
      out.value = [lo ?? c.raw, hi ?? c.raw2];
      break;
    }
    case 'numberArray': {
      const items = c.raw.split(/[\n,]+/).map((s) => s.trim()).filter((s) => s !== '');
      const nums = items.map((s) => parseNumber(s, spec.integer));
      const i = nums.findIndex((n) => n === null);
      if (!items.length) bad('Enter at least one number, one per line.');
      else if (i >= 0) bad(`"${items[i]}" is not a number.`);
      else if (spec.maxItems !== undefined && items.length > spec.maxItems) bad(`At most ${spec.maxItems} values.`);
      out.value = nums.map((n, k) => n ?? items[k]);
      break;
    }
    case 'stringArray': {
      const items = lines(c.raw);
      if (!items.length) bad('Enter at least one value, one per line.');
      else if (spec.maxItems !== undefined && items.length > spec.maxItems) bad(`At most ${spec.maxItems} values.`);
      out.value = items;
      break;
    }
    case 'list':
      if (!c.raw) bad('Choose a list.');
      out.value = c.raw;
      break;
    case 'string':
      if (spec.minLength && c.raw.length < spec.minLength) bad('Enter a value.');
      else if (spec.maxLength !== undefined && c.raw.length > spec.maxLength) bad(`At most ${spec.maxLength} characters.`);
      out.value = c.raw;
      break;
  }
  return out;
}

function groupToApi(cat: Catalogue, g: EGroup, path: string, problems: Problem[]): Record<string, unknown> {
  if (!g.children.length) problems.push({ field: `${path}.rules`, message: 'A group needs at least one condition or group.' });
  if (g.operator === 'NOT' && g.children.length > 1) problems.push({ field: `${path}.rules`, message: 'NOT takes exactly one condition or group.' });
  return {
    operator: g.operator,
    rules: g.children.map((child, i) =>
      child.kind === 'group' ? groupToApi(cat, child, `${path}.rules[${i}]`, problems) : condToApi(cat, child, `${path}.rules[${i}]`, problems),
    ),
  };
}

export function conditionsToApi(cat: Catalogue, root: EGroup, problems: Problem[]): Record<string, unknown> {
  return groupToApi(cat, root, 'conditions', problems);
}

export function actionToApi(d: RuleDraft, problems: Problem[]): Schemas['RuleAction'] {
  const sideEffects = d.sideEffects.map((s, i): Schemas['SideEffect'] => {
    const path = `action.sideEffects[${i}]`;
    if (s.type === 'tag') {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(s.key)) problems.push({ field: `${path}.key`, message: 'A tag key is 1–64 letters, digits, _, . or -.' });
      return { type: 'tag', key: s.key, value: s.value };
    }
    if (!s.list) problems.push({ field: `${path}.list`, message: 'Choose a list.' });
    if (s.type === 'removeFromList') return { type: 'removeFromList', list: s.list };
    let ttl: number | null = null;
    if (s.ttl.trim()) {
      ttl = parseNumber(s.ttl, true);
      if (ttl === null || ttl < 1 || ttl > 315360000) problems.push({ field: `${path}.ttl`, message: 'TTL is a whole number of seconds, 1 to 315360000 (10 years).' });
    }
    return ttl === null ? { type: 'addToList', list: s.list } : { type: 'addToList', list: s.list, ttl };
  });
  return { verdict: d.verdict, sideEffects };
}

/** The body of a create or a full update; `problems` gets what the editor finds wrong first. */
export function ruleBody(cat: Catalogue, d: RuleDraft, problems: Problem[]): RuleBody {
  if (!d.name.trim()) problems.push({ field: 'name', message: 'Give the rule a name.' });
  else if (d.name.length > 200) problems.push({ field: 'name', message: 'At most 200 characters.' });
  let priority: number | null = null;
  if (d.priority.trim()) {
    priority = parseNumber(d.priority, true);
    if (priority === null || priority < 0 || priority > 1e9) problems.push({ field: 'priority', message: 'Priority is a whole number from 0 to 1,000,000,000.' });
  }
  const body: RuleBody = {
    name: d.name,
    status: d.status,
    conditions: conditionsToApi(cat, d.conditions, problems),
    action: actionToApi(d, problems),
  };
  if (priority !== null) body.priority = priority;
  return body;
}

// ---------------------------------------------------------------------------------------------
// Error paths back to nodes

export interface NodeError {
  nodeId: string;
  /** `field`, `operator`, `value`, `rules` (the group's children) or another key; '' for the node itself. */
  part: string;
  message: string;
}

/**
 * Maps a path such as `conditions.rules[1].rules[0].value` onto the node it names. A path
 * that goes past the tree (or names no node) stops at the deepest node it reaches.
 */
export function nodeForPath(root: EGroup, path: string): { nodeId: string; part: string } | null {
  if (path !== 'conditions' && !path.startsWith('conditions.') && !path.startsWith('conditions[')) return null;
  let rest = path.slice('conditions'.length);
  let node: ENode = root;
  for (;;) {
    const m = /^\.rules\[(\d+)\]/.exec(rest);
    if (!m) break;
    const i = Number(m[1]);
    if (node.kind !== 'group' || i >= node.children.length) return { nodeId: node.id, part: node.kind === 'group' ? 'rules' : '' };
    node = node.children[i];
    rest = rest.slice(m[0].length);
  }
  const part = rest.startsWith('.') ? rest.slice(1).split(/[.[]/)[0] : '';
  return { nodeId: node.id, part };
}

export function mapNodeErrors(root: EGroup, problems: Problem[]): { nodes: NodeError[]; others: Problem[] } {
  const nodes: NodeError[] = [];
  const others: Problem[] = [];
  for (const p of problems) {
    const hit = nodeForPath(root, p.field);
    if (hit) nodes.push({ ...hit, message: p.message });
    else others.push(p);
  }
  return { nodes, others };
}

/** Numbers conditions and groups in reading order, for their accessible names. */
export function numbering(root: EGroup): Map<string, number> {
  const out = new Map<string, number>();
  let conds = 0;
  let groups = 0;
  const walk = (n: ENode) => {
    if (n.kind === 'cond') out.set(n.id, ++conds);
    else {
      if (n !== root) out.set(n.id, ++groups);
      n.children.forEach(walk);
    }
  };
  walk(root);
  return out;
}

export function countLeaves(n: ENode): number {
  return n.kind === 'cond' ? 1 : n.children.reduce((s, c) => s + countLeaves(c), 0);
}

// Tree edits, all returning a new tree.

export function mapNode(n: ENode, id: string, f: (n: ENode) => ENode): ENode {
  if (n.id === id) return f(n);
  if (n.kind === 'group') {
    let changed = false;
    const children = n.children.map((c) => {
      const next = mapNode(c, id, f);
      if (next !== c) changed = true;
      return next;
    });
    return changed ? { ...n, children } : n;
  }
  return n;
}

export function removeNode(root: EGroup, id: string): EGroup {
  const walk = (g: EGroup): EGroup => {
    const kept = g.children.filter((c) => c.id !== id);
    return { ...g, children: kept.map((c) => (c.kind === 'group' ? walk(c) : c)) };
  };
  return walk(root);
}

export function findParent(root: EGroup, id: string): EGroup | null {
  for (const c of root.children) {
    if (c.id === id) return root;
    if (c.kind === 'group') {
      const p = findParent(c, id);
      if (p) return p;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// A stable text rendering for diffs

function renderValue(v: unknown): string {
  return JSON.stringify(v);
}

function renderNode(n: unknown, indent: string, out: string[]) {
  const node = n as { operator?: string; rules?: unknown[]; field?: string; value?: unknown };
  if (Array.isArray(node.rules)) {
    out.push(`${indent}${node.operator ?? '?'}`);
    for (const r of node.rules) renderNode(r, indent + '  ', out);
    return;
  }
  const value = node.value === undefined || node.value === null ? '' : ` ${renderValue(node.value)}`;
  const list = (node.operator === 'in' || node.operator === 'not_in') && typeof node.value === 'string' ? ' (list)' : '';
  out.push(`${indent}${node.field} ${node.operator}${value}${list}`);
}

export interface RuleLike {
  name: string;
  status: string;
  priority: number;
  conditions: unknown;
  action: { verdict: string; sideEffects?: unknown[] | null };
}

/** One line per fact, in a fixed order, so a diff shows exactly what changed. */
export function renderRule(r: RuleLike): string {
  const out: string[] = [];
  out.push(`name: ${JSON.stringify(r.name)}`);
  out.push(`status: ${r.status}`);
  out.push(`priority: ${r.priority}`);
  out.push(`verdict: ${r.action.verdict}`);
  const effects = (r.action.sideEffects ?? []) as { type: string; list?: string; ttl?: number | null; key?: string; value?: string }[];
  out.push(`side effects: ${effects.length ? '' : 'none'}`.trimEnd());
  for (const s of effects) {
    if (s.type === 'tag') out.push(`  tag ${s.key} = ${JSON.stringify(s.value)}`);
    else out.push(`  ${s.type} ${JSON.stringify(s.list)}${s.ttl ? ` ttl ${s.ttl}s` : ''}`);
  }
  out.push('conditions:');
  renderNode(r.conditions, '  ', out);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// A one-line reading of the editor's tree, shown above it

function readValue(cat: Catalogue, c: ECond): string {
  const spec = choiceFor(cat, c.field, c.op)?.value;
  if (!spec) return c.original === undefined ? '' : ` ${JSON.stringify(c.original)}`;
  switch (spec.kind) {
    case 'none':
      return '';
    case 'boolean':
      return ` ${c.raw === 'false' ? 'false' : 'true'}`;
    case 'number':
      return ` ${c.raw.trim() || '?'}`;
    case 'between':
      return ` ${c.raw.trim() || '?'} and ${c.raw2.trim() || '?'}`;
    case 'numberArray':
      return ` [${c.raw.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean).join(', ')}]`;
    case 'stringArray':
      return ` [${lines(c.raw).map((s) => JSON.stringify(s)).join(', ')}]`;
    case 'list':
      return ` ${c.raw ? JSON.stringify(c.raw) : '?'}`;
    case 'string':
      return ` ${JSON.stringify(c.raw)}`;
  }
}

/** The tree as one expression, e.g. `a equals 1 AND (b contains "x" OR NOT (c exists))`. */
export function readout(cat: Catalogue, n: ENode, top = true): string {
  if (n.kind === 'cond') {
    const label = (choiceFor(cat, n.field, n.op)?.label ?? n.op).replace(/ \(.*\)$/, '');
    return `${n.field} ${label}${readValue(cat, n)}`;
  }
  if (!n.children.length) return top ? '(no condition yet)' : '( )';
  if (n.operator === 'NOT') return `NOT (${n.children.map((c) => readout(cat, c, true)).join(' AND ')})`;
  const inner = n.children.map((c) => readout(cat, c, false)).join(` ${n.operator} `);
  return top || n.children.length === 1 ? inner : `(${inner})`;
}
