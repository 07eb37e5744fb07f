// The rule editor's vocabulary (fields, their operators and the values each takes), read at run
// time from the server's own OpenAPI document so that the editor offers exactly what the rules
// engine of this server accepts, with no copy of the field list to keep in step.

/** What a condition's value is, as the editor has to ask for it. */
export type ValueSpec =
  | { kind: 'none' }
  | { kind: 'boolean' }
  | { kind: 'number'; min?: number; max?: number; integer: boolean }
  | { kind: 'between'; min?: number; max?: number; integer: boolean }
  | { kind: 'numberArray'; maxItems?: number; min?: number; max?: number; integer: boolean }
  | { kind: 'string'; enum?: string[]; minLength?: number; maxLength?: number; regex: boolean; description?: string }
  | { kind: 'stringArray'; enum?: string[]; maxItems?: number; maxLength?: number }
  | { kind: 'list'; listTypes: Record<string, string> | null; description?: string };

/** One operator as offered for a field: `key` is unique per field, `operator` is what the API gets. */
export interface OperatorChoice {
  key: string;
  operator: string;
  label: string;
  value: ValueSpec;
}

export type FieldType = 'boolean' | 'number' | 'string' | 'string list' | 'unknown';

export interface FieldInfo {
  name: string;
  type: FieldType;
  operators: OperatorChoice[];
}

export interface Catalogue {
  fields: FieldInfo[];
  byName: Map<string, FieldInfo>;
}

const OPERATOR_LABELS: Record<string, string> = {
  equals: 'equals',
  not_equals: 'does not equal',
  gt: 'greater than (>)',
  gte: 'at least (≥)',
  lt: 'less than (<)',
  lte: 'at most (≤)',
  between: 'between (inclusive)',
  in: 'is one of',
  not_in: 'is not one of',
  in_list: 'is in list',
  not_in_list: 'is not in list',
  contains: 'contains',
  not_contains: 'does not contain',
  starts_with: 'starts with',
  ends_with: 'ends with',
  matches: 'matches pattern',
  exists: 'exists',
  not_exists: 'does not exist',
};

export function operatorLabel(key: string): string {
  return OPERATOR_LABELS[key] ?? key.replace(/_/g, ' ');
}

type Json = Record<string, unknown>;

function isObj(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Follows local `$ref`s (`#/components/schemas/…`). */
function deref(doc: Json, node: unknown, depth = 0): Json {
  if (!isObj(node)) return {};
  const ref = node.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/') && depth < 16) {
    let cur: unknown = doc;
    for (const part of ref.slice(2).split('/')) cur = isObj(cur) ? cur[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    return deref(doc, cur, depth + 1);
  }
  return node;
}

function types(schema: Json): string[] {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return [];
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

function strings(x: unknown): string[] | undefined {
  return Array.isArray(x) && x.every((s) => typeof s === 'string') ? (x as string[]) : undefined;
}

/**
 * The list type each field needs, read from a list-reference value's description, which
 * names them as "visitor for visitorId, ip for ip.address, email for event.linkedId". Null
 * when the description says nothing readable: the editor then offers every list.
 */
function listTypesFrom(description: string | undefined, fields: string[]): Record<string, string> | null {
  if (!description) return null;
  const out: Record<string, string> = {};
  const re = /\b([a-z]+) for ([A-Za-z0-9_.]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(description))) {
    const field = m[2].replace(/[.,;:]+$/, '');
    if (fields.includes(field)) out[field] = m[1];
  }
  return Object.keys(out).length ? out : null;
}

function valueSpec(doc: Json, variant: Json, operators: string[], fields: string[]): ValueSpec {
  const props = isObj(variant.properties) ? variant.properties : {};
  const required = strings(variant.required) ?? [];
  if (!('value' in props)) return { kind: 'none' };
  const v = deref(doc, props.value);
  const t = types(v);
  // `exists` and `not_exists` take no value: the document says null, or leaves it optional.
  if ((t.length > 0 && t.every((x) => x === 'null')) || (t.length === 0 && !required.includes('value'))) return { kind: 'none' };
  const description = typeof v.description === 'string' ? v.description : undefined;
  if (t.includes('boolean')) return { kind: 'boolean' };
  if (t.includes('number') || t.includes('integer')) {
    return { kind: 'number', min: num(v.minimum), max: num(v.maximum), integer: !t.includes('number') };
  }
  if (t.includes('array')) {
    const prefix = Array.isArray(v.prefixItems) ? v.prefixItems.map((p) => deref(doc, p)) : [];
    const items = deref(doc, v.items);
    const it = types(prefix[0] ?? items);
    const isNumber = it.includes('number') || it.includes('integer');
    const itemSchema = prefix[0] ?? items;
    const pair = num(v.minItems) === 2 && num(v.maxItems) === 2;
    if (isNumber && (pair || operators.includes('between'))) {
      return { kind: 'between', min: num(itemSchema.minimum), max: num(itemSchema.maximum), integer: !it.includes('number') };
    }
    if (isNumber) {
      return {
        kind: 'numberArray',
        maxItems: num(v.maxItems),
        min: num(itemSchema.minimum),
        max: num(itemSchema.maximum),
        integer: !it.includes('number'),
      };
    }
    return { kind: 'stringArray', enum: strings(items.enum), maxItems: num(v.maxItems), maxLength: num(items.maxLength) };
  }
  if (t.includes('string')) {
    // A string where a set is expected (`in`, `not_in`) is the name of a list.
    const setOperator = operators.some((o) => o === 'in' || o === 'not_in');
    if (setOperator || (description && /\bname of an? (existing )?list\b/i.test(description))) {
      return { kind: 'list', listTypes: listTypesFrom(description, fields), description };
    }
    return {
      kind: 'string',
      enum: strings(v.enum),
      minLength: num(v.minLength),
      maxLength: num(v.maxLength),
      regex: operators.includes('matches') || /regular expression/i.test(description ?? ''),
      description,
    };
  }
  return { kind: 'none' };
}

function fieldType(ops: OperatorChoice[]): FieldType {
  const kinds = new Set(ops.map((o) => o.value.kind));
  if (kinds.has('boolean')) return 'boolean';
  if (kinds.has('number') || kinds.has('between') || kinds.has('numberArray')) return 'number';
  // Strings are compared with equals; lists of strings only with contains.
  if (ops.some((o) => o.operator === 'equals' && o.value.kind === 'string')) return 'string';
  if (ops.some((o) => o.operator === 'contains')) return 'string list';
  if (kinds.has('string') || kinds.has('stringArray') || kinds.has('list')) return 'string';
  return 'unknown';
}

/** Builds the catalogue from an OpenAPI document; throws when it has no usable RuleCondition. */
export function catalogueFrom(doc: unknown): Catalogue {
  if (!isObj(doc)) throw new Error('The OpenAPI document is not a JSON object.');
  const components = isObj(doc.components) ? doc.components : {};
  const schemas = isObj(components.schemas) ? components.schemas : {};
  const cond = deref(doc, schemas.RuleCondition);
  const variants = (Array.isArray(cond.anyOf) ? cond.anyOf : Array.isArray(cond.oneOf) ? cond.oneOf : [cond]).map((v) => deref(doc, v));
  const byName = new Map<string, FieldInfo>();
  const order: string[] = [];
  for (const variant of variants) {
    const props = isObj(variant.properties) ? variant.properties : {};
    const fieldSchema = deref(doc, props.field);
    const opSchema = deref(doc, props.operator);
    const fields = strings(fieldSchema.enum) ?? (typeof fieldSchema.const === 'string' ? [fieldSchema.const] : []);
    const operators = strings(opSchema.enum) ?? (typeof opSchema.const === 'string' ? [opSchema.const] : []);
    if (!fields.length || !operators.length) continue;
    const spec = valueSpec(doc, variant, operators, fields);
    for (const f of fields) {
      let info = byName.get(f);
      if (!info) {
        info = { name: f, type: 'unknown', operators: [] };
        byName.set(f, info);
        order.push(f);
      }
      for (const op of operators) {
        const taken = info.operators.some((o) => o.key === op);
        // The same operator with a second kind of value (a list name beside inline values)
        // gets its own choice, e.g. `in_list` beside `in`.
        const key = !taken ? op : spec.kind === 'list' ? `${op}_list` : `${op}_${spec.kind}`;
        if (info.operators.some((o) => o.key === key)) continue;
        info.operators.push({ key, operator: op, label: operatorLabel(key), value: spec });
      }
    }
  }
  if (!byName.size) throw new Error('The OpenAPI document describes no rule condition fields.');
  const fields = order.map((n) => byName.get(n)!);
  for (const f of fields) f.type = fieldType(f.operators);
  return { fields, byName };
}

let cached: Promise<Catalogue> | null = null;

/** The catalogue of this server, fetched once per page load (the document is public). */
export function loadCatalogue(): Promise<Catalogue> {
  if (!cached) {
    cached = fetch(`${window.location.origin}/v1/openapi.json`, { headers: { Accept: 'application/json' } })
      .then(async (res) => {
        if (!res.ok) throw new Error(`The API description could not be read (${res.status}), so the rule editor has no field catalogue.`);
        return catalogueFrom(await res.json());
      })
      .catch((e: Error) => {
        cached = null; // let a later visit try again
        throw e instanceof SyntaxError ? new Error('The API description is not valid JSON, so the rule editor has no field catalogue.') : e;
      });
  }
  return cached;
}

/** Groups fields by their first path segment for the field picker. */
export function fieldGroups(fields: FieldInfo[]): [string, FieldInfo[]][] {
  const groups = new Map<string, FieldInfo[]>();
  for (const f of fields) {
    const head = f.name.includes('.') ? f.name.slice(0, f.name.indexOf('.')) : 'visitor';
    const label = head.charAt(0).toUpperCase() + head.slice(1);
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label)!.push(f);
  }
  return [...groups.entries()];
}
