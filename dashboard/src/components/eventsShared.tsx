// What the overview, the events table and the event page share: the listed event's shape,
// the events filters as they live in the URL, country names and flags, and time-range helpers.
import type { Schemas } from '../api';

/** An event as `GET /v1/events` lists it. */
export type EventRow = Schemas['EventSummary'];

/** The verdicts a rule can set, in the order the dashboard shows them. */
export const VERDICTS = ['allow', 'challenge', 'block'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The events table's filters, exactly as they appear in the URL's query string. */
export interface EventFilters {
  verdict?: Verdict;
  /** `yes` or `no`; absent for any. */
  bot?: 'yes' | 'no';
  visitorId?: string;
  type?: string;
  country?: string;
  /** ISO 8601, strict (the API's `after`). */
  after?: string;
  /** ISO 8601, strict (the API's `before`). */
  before?: string;
}

export const FILTER_KEYS = ['verdict', 'bot', 'visitorId', 'type', 'country', 'after', 'before'] as const;

export function parseFilters(params: URLSearchParams): EventFilters {
  const f: EventFilters = {};
  const verdict = params.get('verdict');
  if (verdict && (VERDICTS as readonly string[]).includes(verdict)) f.verdict = verdict as Verdict;
  const bot = params.get('bot');
  if (bot === 'yes' || bot === 'no') f.bot = bot;
  for (const k of ['visitorId', 'type', 'country', 'after', 'before'] as const) {
    const v = params.get(k)?.trim();
    if (v) f[k] = v;
  }
  return f;
}

/** The events page's address for these filters (and a cursor, for pages after the first). */
export function eventsHref(filters: EventFilters, cursor?: string | null): string {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = filters[k];
    if (v) q.set(k, v);
  }
  if (cursor) q.set('cursor', cursor);
  const s = q.toString();
  return s ? `/events?${s}` : '/events';
}

/** The flag of an ISO 3166-1 alpha-2 code as an emoji (two regional indicator letters). */
export function flagEmoji(code: string | null | undefined): string {
  if (!code || !/^[A-Za-z]{2}$/.test(code)) return '';
  return String.fromCodePoint(...[...code.toUpperCase()].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

let regionNames: Intl.DisplayNames | null | undefined;

/** The country's name in the reader's language, or the code when the browser has no name for it. */
export function countryName(code: string | null | undefined): string {
  if (!code) return 'Unknown';
  if (regionNames === undefined) {
    try {
      regionNames = new Intl.DisplayNames([navigator.language, 'en'], { type: 'region' });
    } catch {
      regionNames = null;
    }
  }
  try {
    return regionNames?.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** A country as flag, name and code; the flag is decoration, the name is what is read out. */
export function Country(props: { code: string | null | undefined }) {
  if (!props.code) return <span class="muted">—</span>;
  return (
    <span class="country" title={props.code}>
      <span aria-hidden="true">{flagEmoji(props.code)} </span>
      {countryName(props.code)}
    </span>
  );
}

/** ISO 8601 without milliseconds, the way the API writes timestamps. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** An ISO timestamp as the value of a `datetime-local` input (the reader's time zone). */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value (the reader's time zone) as ISO 8601 UTC; null when empty or invalid. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : isoSeconds(d);
}

/** A confidence to at most four decimals, so that 0.9999 does not read as a certain 1.00. */
export function formatConfidence(c: number): string {
  return Number(c.toFixed(4)).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 4 });
}
