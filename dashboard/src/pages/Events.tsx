// The events table: filters in the URL's query string (shareable, the back button restores them),
// one `GET /v1/events` per page of 50, Next by the API's cursor and Previous by the cursors that
// led here. Nothing is scanned or counted in the browser, so it is as fast at a million events
// as at a hundred.
import { useRef, useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import { ApiFailure, unwrap, type Paths } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Loading, PageTitle, VerdictBadge, formatTime, useAsync } from '../components/common';
import {
  Country,
  VERDICTS,
  eventsHref,
  formatConfidence,
  fromLocalInput,
  parseFilters,
  toLocalInput,
  type EventFilters,
  type EventRow,
} from '../components/eventsShared';
import './events.css';

const PAGE_SIZE = 50;

type Query = NonNullable<Paths['/v1/events']['get']['parameters']['query']>;

type FilterField = keyof EventFilters;
const FILTER_FIELDS: FilterField[] = ['verdict', 'bot', 'visitorId', 'type', 'country', 'after', 'before'];

/**
 * For each page reached by Next, the cursor of the page before it (null for the first page) and
 * the page's number: the stack Previous walks back. Kept for the tab's life, so that Previous
 * still works after a visit to an event and the back button.
 */
const previous = new Map<string, { cursor: string | null; page: number }>();

function filterKey(f: EventFilters): string {
  return FILTER_FIELDS.map((k) => f[k] ?? '').join('\u0000');
}

export function Events() {
  const { client } = useSession();
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const filters = parseFilters(params);
  const cursor = params.get('cursor');
  const fkey = filterKey(filters);
  const here = previous.get(`${fkey}|${cursor ?? ''}`);
  const page = cursor ? (here?.page ?? null) : 1;

  const state = useAsync(async () => {
    // Mistakes the API would refuse are caught here, without a request.
    const problem = checkFilters(filters);
    if (problem) throw new ApiFailure(400, 'validation_error', problem[1], problem[0]);
    const query: Query = { limit: PAGE_SIZE };
    if (filters.verdict) query.verdict = filters.verdict;
    if (filters.bot) query.bot = filters.bot === 'yes';
    if (filters.visitorId) query.visitorId = filters.visitorId;
    if (filters.type) query.type = filters.type;
    if (filters.country) query.country = filters.country;
    if (filters.after) query.after = filters.after;
    if (filters.before) query.before = filters.before;
    if (cursor) query.cursor = cursor;
    return unwrap(client.GET('/v1/events', { params: { query } }));
  }, [search]);

  // A failure belongs to the filters that caused it: it is not shown while others load.
  const error = state.loading ? undefined : state.error;
  const failure = error instanceof ApiFailure ? error : null;
  const badField = failure?.status === 400 && failure.field && (FILTER_FIELDS as string[]).includes(failure.field) ? (failure.field as FilterField) : null;
  const badCursor = failure?.status === 400 && failure.field === 'cursor';
  const tableTop = useRef<HTMLHeadingElement>(null);

  const goNext = (next: string) => {
    previous.set(`${fkey}|${next}`, { cursor, page: (page ?? 1) + 1 });
    navigate(eventsHref(filters, next));
    tableTop.current?.scrollIntoView({ block: 'nearest' });
  };
  const goPrevious = () => navigate(eventsHref(filters, here?.cursor ?? null));

  const active = FILTER_FIELDS.filter((k) => filters[k]).length;
  const rows = state.data?.data ?? [];

  return (
    <div class="events-page">
      <PageTitle>Events</PageTitle>
      <FilterForm key={search} filters={filters} badField={badField} message={badField ? failure!.message : null} onApply={(f) => navigate(eventsHref(f))} />
      {badField ? (
        <div class="banner error" role="alert">
          The filter “{labelOf(badField)}” was refused: {failure!.message}
        </div>
      ) : badCursor ? (
        <div class="banner error" role="alert">
          This page’s position is no longer valid. <Link href={eventsHref(filters)}>Start from the newest events</Link>.
        </div>
      ) : error ? (
        <ErrorBanner error={error} />
      ) : null}
      <h2 ref={tableTop} class="events-count" id="events-table-title">
        {page ? `Page ${page}` : 'A later page'}
        <span class="muted">
          {' '}
          · newest first, {PAGE_SIZE} per page{active ? ` · ${active} filter${active > 1 ? 's' : ''}` : ''}
        </span>
      </h2>
      {state.data ? (
        <>
          {rows.length === 0 ? (
            <p class="banner info">
              {cursor ? 'No more events.' : 'No events match these filters.'}{' '}
              {active ? <Link href="/events">Clear the filters</Link> : null}
            </p>
          ) : (
            <EventsTable rows={rows} busy={state.loading} />
          )}
          <Pager
            page={page}
            notFirst={cursor !== null}
            hasPrevious={cursor !== null && here !== undefined}
            nextCursor={state.data.hasMore ? (state.data.nextCursor ?? null) : null}
            busy={state.loading}
            onFirst={() => navigate(eventsHref(filters))}
            onPrevious={goPrevious}
            onNext={goNext}
          />
        </>
      ) : state.loading ? (
        <Loading label="Loading events…" />
      ) : null}
    </div>
  );
}

/** The filter a value of which the API would refuse, and why. */
function checkFilters(f: EventFilters): [FilterField, string] | null {
  if (f.visitorId && !/^pv_[0-9A-Za-z]{13}$/.test(f.visitorId)) return ['visitorId', 'A visitor ID looks like pv_8kX2mNqR3jT7p.'];
  if (f.type && f.type.length > 64) return ['type', 'A type is at most 64 characters.'];
  if (f.country && !/^[A-Za-z]{2}$/.test(f.country)) return ['country', 'A country is a two-letter ISO code, such as US.'];
  for (const k of ['after', 'before'] as const) {
    if (f[k] && Number.isNaN(Date.parse(f[k]!))) return [k, 'Give a date and time, such as 2026-02-14T11:45:22Z.'];
  }
  if (f.after && f.before && Date.parse(f.after) >= Date.parse(f.before)) return ['before', '“Before” must be later than “After”.'];
  return null;
}

function labelOf(field: FilterField): string {
  return { verdict: 'Verdict', bot: 'Bot', visitorId: 'Visitor ID', type: 'Type', country: 'Country', after: 'After', before: 'Before' }[field];
}

function FilterForm(props: { filters: EventFilters; badField: FilterField | null; message: string | null; onApply: (f: EventFilters) => void }) {
  const f = props.filters;
  // Drafts start from the URL (the form is re-created when the URL changes).
  const [verdict, setVerdict] = useState(f.verdict ?? '');
  const [bot, setBot] = useState(f.bot ?? '');
  const [visitorId, setVisitorId] = useState(f.visitorId ?? '');
  const [type, setType] = useState(f.type ?? '');
  const [country, setCountry] = useState(f.country ?? '');
  const [after, setAfter] = useState(toLocalInput(f.after));
  const [before, setBefore] = useState(toLocalInput(f.before));

  const submit = (e: Event) => {
    e.preventDefault();
    // A time left as shown keeps the URL's exact value (which may carry seconds).
    const time = (draft: string, current: string | undefined) => (draft === toLocalInput(current) ? current : (fromLocalInput(draft) ?? undefined));
    props.onApply({
      verdict: (verdict || undefined) as EventFilters['verdict'],
      bot: (bot || undefined) as EventFilters['bot'],
      visitorId: visitorId.trim() || undefined,
      type: type.trim() || undefined,
      country: country.trim().toUpperCase() || undefined,
      after: time(after, f.after),
      before: time(before, f.before),
    });
  };

  const errorFor = (k: FilterField) =>
    props.badField === k
      ? {
          'aria-invalid': true as const,
          'aria-describedby': `ev-${k}-error`,
        }
      : {};
  const errorText = (k: FilterField) =>
    props.badField === k ? (
      <p id={`ev-${k}-error`} class="field-error">
        {props.message}
      </p>
    ) : null;

  return (
    <form class="events-filters" onSubmit={submit} aria-label="Filters" noValidate>
      <div class={`filter${props.badField === 'verdict' ? ' invalid' : ''}`}>
        <label for="ev-verdict">Verdict</label>
        <select id="ev-verdict" value={verdict} onChange={(e) => setVerdict(e.currentTarget.value)} {...errorFor('verdict')}>
          <option value="">Any</option>
          {VERDICTS.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
        {errorText('verdict')}
      </div>
      <div class={`filter${props.badField === 'bot' ? ' invalid' : ''}`}>
        <label for="ev-bot">Bot</label>
        <select id="ev-bot" value={bot} onChange={(e) => setBot(e.currentTarget.value)} {...errorFor('bot')}>
          <option value="">Any</option>
          <option value="yes">Bot detected</option>
          <option value="no">Not a bot</option>
        </select>
        {errorText('bot')}
      </div>
      <div class={`filter wide${props.badField === 'visitorId' ? ' invalid' : ''}`}>
        <label for="ev-visitor">Visitor ID</label>
        <input id="ev-visitor" value={visitorId} placeholder="pv_…" spellcheck={false} autocomplete="off" onInput={(e) => setVisitorId(e.currentTarget.value)} {...errorFor('visitorId')} />
        {errorText('visitorId')}
      </div>
      <div class={`filter${props.badField === 'type' ? ' invalid' : ''}`}>
        <label for="ev-type">Type</label>
        <input id="ev-type" value={type} placeholder="login" spellcheck={false} autocomplete="off" onInput={(e) => setType(e.currentTarget.value)} {...errorFor('type')} />
        {errorText('type')}
      </div>
      <div class={`filter narrow${props.badField === 'country' ? ' invalid' : ''}`}>
        <label for="ev-country">Country</label>
        <input id="ev-country" value={country} placeholder="US" spellcheck={false} autocomplete="off" maxLength={2} onInput={(e) => setCountry(e.currentTarget.value)} aria-describedby={props.badField === 'country' ? 'ev-country-error' : 'ev-country-hint'} aria-invalid={props.badField === 'country' ? true : undefined} />
        <span id="ev-country-hint" class="sr-only">
          Two-letter ISO code
        </span>
        {errorText('country')}
      </div>
      <div class={`filter time${props.badField === 'after' ? ' invalid' : ''}`}>
        <label for="ev-after">After</label>
        <input id="ev-after" type="datetime-local" step={1} value={after} onInput={(e) => setAfter(e.currentTarget.value)} {...errorFor('after')} />
        {errorText('after')}
      </div>
      <div class={`filter time${props.badField === 'before' ? ' invalid' : ''}`}>
        <label for="ev-before">Before</label>
        <input id="ev-before" type="datetime-local" step={1} value={before} onInput={(e) => setBefore(e.currentTarget.value)} {...errorFor('before')} />
        {errorText('before')}
      </div>
      <div class="filter-actions">
        <button type="submit" class="primary">
          Apply filters
        </button>
        <Link href="/events" class="clear-filters">
          Clear
        </Link>
      </div>
    </form>
  );
}

const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** A listed event's time, short enough for the table (the full form is its title). */
function shortTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : shortFmt.format(d);
}

function BotCell(props: { bot: boolean | null }) {
  if (props.bot === null) return <span class="muted">unknown</span>;
  return props.bot ? <span class="badge flag-on">bot</span> : <span>no</span>;
}

function EventsTable(props: { rows: EventRow[]; busy: boolean }) {
  return (
    <div class={`table-wrap events-table-wrap${props.busy ? ' stale' : ''}`} aria-busy={props.busy}>
      <table class="events-table" aria-labelledby="events-table-title">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Request ID</th>
            <th scope="col">Visitor ID</th>
            <th scope="col">Type</th>
            <th scope="col">Verdict</th>
            <th scope="col">Bot</th>
            <th scope="col">Country</th>
            <th scope="col">IP</th>
            <th scope="col" class="num">Confidence</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={r.requestId}>
              <td data-label="Time">
                <time dateTime={r.timestamp} title={formatTime(r.timestamp)}>
                  {shortTime(r.timestamp)}
                </time>
              </td>
              <td data-label="Request ID">
                <Link href={`/events/${encodeURIComponent(r.requestId)}`} class="mono">
                  {r.requestId}
                </Link>
              </td>
              <td data-label="Visitor ID">
                <Link href={`/visitors/${encodeURIComponent(r.visitorId)}`} class="mono">
                  {r.visitorId}
                </Link>
              </td>
              <td data-label="Type">{r.type ?? <span class="muted">—</span>}</td>
              <td data-label="Verdict">
                <VerdictBadge verdict={r.verdict} />
              </td>
              <td data-label="Bot">
                <BotCell bot={r.bot} />
              </td>
              <td data-label="Country">
                <Country code={r.country} />
              </td>
              <td data-label="IP" class="mono">
                {r.ip ?? <span class="muted">—</span>}
              </td>
              <td data-label="Confidence" class="num">
                {formatConfidence(r.confidence)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Pager(props: {
  page: number | null;
  /** Whether this is a page after the first. */
  notFirst: boolean;
  /** Whether the page before is known (a page opened from a shared link only knows the first). */
  hasPrevious: boolean;
  nextCursor: string | null;
  busy: boolean;
  onFirst: () => void;
  onPrevious: () => void;
  onNext: (cursor: string) => void;
}) {
  return (
    <nav class="pager" aria-label="Event pages">
      <button type="button" disabled={!props.notFirst || props.busy} onClick={props.onFirst}>
        Newest
      </button>
      <button type="button" disabled={!props.hasPrevious || props.busy} onClick={props.onPrevious}>
        Previous
      </button>
      <span aria-live="polite">{props.page ? `Page ${props.page}` : 'A later page'}</span>
      <button type="button" class="primary" disabled={!props.nextCursor || props.busy} onClick={() => props.nextCursor && props.onNext(props.nextCursor)}>
        Next
      </button>
    </nav>
  );
}
