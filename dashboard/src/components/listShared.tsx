// What the list pages share: entry lifetimes (a TTL in seconds, entered as an amount and a unit),
// and reading pasted text or a CSV file into the values of a bulk change.
import type { Schemas } from '../api';

export type ListType = Schemas['ListType'];
export const LIST_TYPES: ListType[] = ['visitor', 'ip', 'email'];
export const LIST_PURPOSES: Schemas['ListPurpose'][] = ['allow', 'block', 'review'];
export const LIST_TYPE_LABEL: Record<ListType, string> = {
  visitor: 'Visitor IDs',
  ip: 'IP addresses and ranges',
  email: 'Email addresses',
};

/** The API's bounds on a TTL, in seconds (ten years at most). */
export const TTL_MAX = 315_360_000;

const UNITS = { minutes: 60, hours: 3600, days: 86400 } as const;
export type TtlUnit = keyof typeof UNITS;

/** A TTL as entered: an amount (empty for none) and its unit. */
export interface TtlDraft {
  amount: string;
  unit: TtlUnit;
}

export const NO_TTL: TtlDraft = { amount: '', unit: 'days' };

/** The draft in seconds: null when left empty, or an error message. */
export function ttlSeconds(d: TtlDraft): { seconds: number | null; error?: string } {
  const text = d.amount.trim();
  if (text === '') return { seconds: null };
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) return { seconds: null, error: 'A TTL is a whole number, 1 or more.' };
  const seconds = n * UNITS[d.unit];
  if (seconds > TTL_MAX) return { seconds: null, error: 'A TTL is at most 3,650 days (ten years).' };
  return { seconds };
}

/** A TTL in words: "30 days", "12 hours", "90 s"; "none" for permanent. */
export function formatTtl(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'none';
  const plural = (n: number, unit: string) => `${n.toLocaleString()} ${unit}${n === 1 ? '' : 's'}`;
  if (seconds % 86400 === 0) return plural(seconds / 86400, 'day');
  if (seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds % 60 === 0) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}

/** An amount and a unit for a TTL, in a fieldset named by `legend`. */
export function TtlInput(props: { id: string; legend: string; value: TtlDraft; onChange: (d: TtlDraft) => void; error?: string; hint?: string }) {
  const noteId = `${props.id}-note`;
  return (
    <fieldset class="ttl-input">
      <legend>{props.legend}</legend>
      <div class="ttl-row">
        <div>
          <label for={`${props.id}-amount`}>Amount</label>
          <input
            id={`${props.id}-amount`}
            type="number"
            inputMode="numeric"
            min={1}
            step={1}
            value={props.value.amount}
            aria-invalid={props.error ? true : undefined}
            aria-describedby={props.error || props.hint ? noteId : undefined}
            onInput={(e) => props.onChange({ ...props.value, amount: e.currentTarget.value })}
          />
        </div>
        <div>
          <label for={`${props.id}-unit`}>Unit</label>
          <select id={`${props.id}-unit`} value={props.value.unit} onChange={(e) => props.onChange({ ...props.value, unit: e.currentTarget.value as TtlUnit })}>
            <option value="minutes">minutes</option>
            <option value="hours">hours</option>
            <option value="days">days</option>
          </select>
        </div>
      </div>
      {props.error ? (
        <p id={noteId} class="field-error">
          {props.error}
        </p>
      ) : props.hint ? (
        <p id={noteId} class="field-hint">
          {props.hint}
        </p>
      ) : null}
    </fieldset>
  );
}

/** Whether `v` reads as an entry of a list of `type` (used to spot a CSV header row). */
export function looksLikeValue(type: ListType, v: string): boolean {
  switch (type) {
    case 'visitor':
      return /^pv_[0-9A-Za-z]{13}$/.test(v);
    case 'ip':
      return /^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/.test(v) || /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(\/\d{1,3})?$/.test(v);
    case 'email':
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v);
  }
}

/**
 * Splits CSV text into records of fields (RFC 4180: fields may be quoted, a quote inside a
 * quoted field is doubled, quoted fields may hold commas and line breaks; CRLF or LF).
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a spreadsheet's BOM
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      if (c === '\r' && src[i + 1] === '\n') i++;
    } else {
      field += c;
    }
    i++;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export interface ParsedValues {
  values: string[];
  /** Values given more than once (sent once). */
  duplicates: number;
  /** The first row of a file when it did not look like a value. */
  skippedHeader?: string;
}

function dedupe(raw: string[]): { values: string[]; duplicates: number } {
  const seen = new Set<string>();
  const values: string[] = [];
  let duplicates = 0;
  for (const r of raw) {
    const v = r.trim();
    if (v === '') continue;
    if (seen.has(v)) duplicates++;
    else {
      seen.add(v);
      values.push(v);
    }
  }
  return { values, duplicates };
}

/** Pasted values: one per line or separated by commas, optionally quoted. */
export function parsePasted(text: string): ParsedValues {
  return dedupe(parseCsv(text).flat());
}

/** A CSV file's first column, without its header row when the first cell is not a value. */
export function parseCsvFile(text: string, type: ListType): ParsedValues {
  const cells = parseCsv(text)
    .map((r) => (r[0] ?? '').trim())
    .filter((v) => v !== '');
  let skippedHeader: string | undefined;
  if (cells.length > 0 && !looksLikeValue(type, cells[0])) skippedHeader = cells.shift();
  return { ...dedupe(cells), skippedHeader };
}

/** `items` in slices of at most `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
