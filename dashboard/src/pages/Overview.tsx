// The overview: for a range (a preset or from/to in the URL) and the signed-in key's environment,
// events over time by verdict, Smart Signal rates and their trend, top countries and platforms,
// and totals. Every figure comes from the analytics endpoints; nothing is counted in the browser.
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import { ApiFailure, unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Loading, PageTitle, formatNumber, formatPercent, useAsync } from '../components/common';
import { Chart, formatBucket, type ChartSeries, type SchemeColor } from '../components/chart';
import { Country, eventsHref, fromLocalInput, isoSeconds, toLocalInput, type EventFilters, type Verdict } from '../components/eventsShared';
import './overview.css';

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Ranges up to this long are drawn per hour, longer ones per day. */
const HOURLY_UP_TO = 2 * DAY;

const PRESETS = [
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
] as const;
type Preset = (typeof PRESETS)[number][0];

interface Range {
  from: string;
  to: string;
  step: 'hour' | 'day';
  preset: Preset | null;
}

/** Presets end at the end of the current hour or UTC day, so that every bucket is a whole one. */
function presetRange(p: Preset, now: number): Range {
  if (p === '24h') {
    const end = Math.floor(now / HOUR) * HOUR + HOUR;
    return { from: isoSeconds(new Date(end - 24 * HOUR)), to: isoSeconds(new Date(end)), step: 'hour', preset: p };
  }
  const days = p === '7d' ? 7 : 30;
  const end = Math.floor(now / DAY) * DAY + DAY;
  return { from: isoSeconds(new Date(end - days * DAY)), to: isoSeconds(new Date(end)), step: 'day', preset: p };
}

function readRange(search: string, now: number): Range | { invalid: string } {
  const q = new URLSearchParams(search);
  const from = q.get('from');
  const to = q.get('to');
  if (from || to) {
    const f = Date.parse(from ?? '');
    const t = Date.parse(to ?? '');
    if (Number.isNaN(f) || Number.isNaN(t)) return { invalid: 'The range in the address is not a pair of dates; pick a range below.' };
    if (f >= t) return { invalid: 'The range in the address ends before it starts; pick a range below.' };
    return { from: isoSeconds(new Date(f)), to: isoSeconds(new Date(t)), step: t - f <= HOURLY_UP_TO ? 'hour' : 'day', preset: null };
  }
  const r = q.get('range');
  const preset = PRESETS.find(([k]) => k === r)?.[0] ?? '7d';
  return presetRange(preset, now);
}

/** The starts of the buckets the range covers, in Unix seconds (the API keys buckets by their start). */
function buckets(range: Range): number[] {
  const size = range.step === 'hour' ? HOUR : DAY;
  const end = Date.parse(range.to);
  const out: number[] = [];
  for (let t = Math.floor(Date.parse(range.from) / size) * size; t < end; t += size) out.push(t / 1000);
  return out;
}

type Groups = NonNullable<Schemas['EventAnalytics']['groups']>;

function seriesOf(groups: Groups | undefined, x: number[], step: 'hour' | 'day'): number[] {
  const byStart = new Map<number, number>();
  for (const g of groups ?? []) {
    const key = step === 'hour' ? g.hour : g.day;
    if (key) byStart.set(Date.parse(key) / 1000, g.count);
  }
  return x.map((t) => byStart.get(t) ?? 0);
}

const VERDICT_COLORS: Record<Verdict | 'none', SchemeColor> = {
  allow: ['#146c2e', '#6fd08c'],
  challenge: ['#8a5a00', '#f2c14e'],
  block: ['#b42318', '#ff8a80'],
  none: ['#525b6e', '#a6aebd'],
};

const SIGNALS: { name: Schemas['SignalName']; label: string; color: SchemeColor; dash?: number[] }[] = [
  { name: 'bot', label: 'Bot', color: ['#1f5fd1', '#7aa7ff'] },
  { name: 'vpn', label: 'VPN', color: ['#b42318', '#ff8a80'], dash: [8, 4] },
  { name: 'proxy', label: 'Proxy', color: ['#146c2e', '#6fd08c'], dash: [2, 3] },
  { name: 'tor', label: 'Tor', color: ['#8a5a00', '#f2c14e'], dash: [10, 3, 2, 3] },
  { name: 'incognito', label: 'Incognito', color: ['#6b3fa0', '#c9a8ff'] },
  { name: 'tampered', label: 'Tampered', color: ['#0e6b7e', '#5fd4e8'], dash: [8, 4] },
  { name: 'emulator', label: 'Emulator', color: ['#4a5163', '#c0c6d2'], dash: [2, 3] },
];

interface OverviewData {
  total: number;
  x: number[];
  byVerdict: Record<Verdict | 'none', number[]>;
  countries: Groups;
  platforms: Groups;
  signals: NonNullable<Schemas['SignalAnalytics']['signals']>;
  signalDays: NonNullable<Schemas['SignalAnalytics']['series']>;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

const rangeLabelFmt = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export function Overview() {
  const { client, workspace } = useSession();
  const search = useSearch();
  const [, navigate] = useLocation();
  // Presets are relative to now: "Refresh" moves them forward and reloads.
  const [now, setNow] = useState(() => Date.now());
  const read = useMemo(() => readRange(search, now), [search, now]);
  const range: Range = 'invalid' in read ? presetRange('7d', now) : read;
  const x = useMemo(() => buckets(range), [range.from, range.to, range.step]);

  const state = useAsync<OverviewData>(async () => {
    const q = { from: range.from, to: range.to };
    const ev = (extra: { groupBy: Schemas['EventGroupBy']; verdict?: Verdict }) =>
      unwrap(client.GET('/v1/analytics/events', { params: { query: { ...q, ...extra } } }));
    // The first answer also checks the range (within the retention): a refused range costs one
    // request, not eight.
    const all = await ev({ groupBy: range.step });
    const [allow, challenge, block, countries, platforms, signals, signalDays] = await Promise.all([
      ev({ groupBy: range.step, verdict: 'allow' }),
      ev({ groupBy: range.step, verdict: 'challenge' }),
      ev({ groupBy: range.step, verdict: 'block' }),
      ev({ groupBy: 'country' }),
      ev({ groupBy: 'platform' }),
      unwrap(client.GET('/v1/analytics/signals', { params: { query: { ...q, groupBy: 'signal' } } })),
      unwrap(client.GET('/v1/analytics/signals', { params: { query: { ...q, groupBy: 'day' } } })),
    ]);
    const totals = seriesOf(all.groups, x, range.step);
    const a = seriesOf(allow.groups, x, range.step);
    const c = seriesOf(challenge.groups, x, range.step);
    const b = seriesOf(block.groups, x, range.step);
    // The verdict filter takes only the three verdicts: events without one are the remainder.
    const none = totals.map((t, i) => Math.max(0, t - a[i] - c[i] - b[i]));
    return {
      total: all.total,
      x,
      byVerdict: { allow: a, challenge: c, block: b, none },
      countries: countries.groups ?? [],
      platforms: platforms.groups ?? [],
      signals: signals.signals ?? [],
      signalDays: signalDays.series ?? [],
    };
  }, [range.from, range.to, range.step, x]);

  const rangeFilters: EventFilters = { after: range.from, before: range.to };
  const env = workspace.environment === 'live' ? 'Live data' : 'Test data';
  const fieldError = state.error instanceof ApiFailure && (state.error.field === 'from' || state.error.field === 'to') ? state.error : null;

  return (
    <div class="overview">
      <PageTitle
        actions={
          <button type="button" onClick={() => (setNow(Date.now()), state.reload())} disabled={state.loading}>
            Refresh
          </button>
        }
      >
        Overview
      </PageTitle>
      <p class="muted overview-range">
        {env} · {rangeLabelFmt.format(new Date(range.from))} to {rangeLabelFmt.format(new Date(range.to))} UTC ·{' '}
        {range.step === 'hour' ? 'per hour' : 'per day'}
      </p>
      <RangePicker range={range} fieldError={fieldError} onCustom={(from, to) => navigate(`/?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)} />
      {'invalid' in read ? (
        <div class="banner info" role="status">
          {read.invalid}
        </div>
      ) : null}
      {state.error && !fieldError ? <ErrorBanner error={state.error} /> : null}
      {state.data ? (
        <OverviewBody data={state.data} range={range} rangeFilters={rangeFilters} navigate={navigate} stale={state.loading} />
      ) : state.loading ? (
        <Loading label="Loading the overview…" />
      ) : null}
    </div>
  );
}

function RangePicker(props: { range: Range; fieldError: ApiFailure | null; onCustom: (from: string, to: string) => void }) {
  const { range } = props;
  const [from, setFrom] = useState(() => toLocalInput(range.from));
  const [to, setTo] = useState(() => toLocalInput(range.to));
  const [problem, setProblem] = useState<string | null>(null);
  // Follow the range when a preset or the back button changes it.
  const [shown, setShown] = useState(range.from + range.to);
  if (shown !== range.from + range.to) {
    setShown(range.from + range.to);
    setFrom(toLocalInput(range.from));
    setTo(toLocalInput(range.to));
    setProblem(null);
  }
  const submit = (e: Event) => {
    e.preventDefault();
    const f = fromLocalInput(from);
    const t = fromLocalInput(to);
    if (!f || !t) return setProblem('Give both a start and an end.');
    if (Date.parse(f) >= Date.parse(t)) return setProblem('The start must be before the end.');
    setProblem(null);
    props.onCustom(f, t);
  };
  const err = problem ?? props.fieldError?.message ?? null;
  return (
    <div class="toolbar overview-toolbar">
      <nav class="range-presets" aria-label="Range">
        {PRESETS.map(([k, label]) => (
          <Link key={k} href={`/?range=${k}`} class={range.preset === k ? 'active' : ''} aria-current={range.preset === k ? 'true' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <form class="range-custom" onSubmit={submit} aria-label="Custom range" noValidate>
        <div>
          <label for="ov-from">From</label>
          <input id="ov-from" type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} aria-invalid={err ? true : undefined} aria-describedby={err ? 'ov-range-error' : undefined} />
        </div>
        <div>
          <label for="ov-to">To</label>
          <input id="ov-to" type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} aria-invalid={err ? true : undefined} aria-describedby={err ? 'ov-range-error' : undefined} />
        </div>
        <button type="submit">Show range</button>
        {err ? (
          <p id="ov-range-error" class="field-error" role="alert">
            {err}
          </p>
        ) : null}
      </form>
    </div>
  );
}

function OverviewBody(props: { data: OverviewData; range: Range; rangeFilters: EventFilters; navigate: (to: string) => void; stale: boolean }) {
  const { data, range, rangeFilters } = props;
  const step = range.step;
  const stepMs = step === 'hour' ? HOUR : DAY;
  const counts = {
    allow: sum(data.byVerdict.allow),
    challenge: sum(data.byVerdict.challenge),
    block: sum(data.byVerdict.block),
    none: sum(data.byVerdict.none),
  };
  const share = (n: number) => (data.total ? n / data.total : 0);

  const verdictSeries = useMemo<ChartSeries[]>(
    () => [
      { label: 'Allow', values: data.byVerdict.allow, color: VERDICT_COLORS.allow, summary: formatNumber(counts.allow) },
      { label: 'Challenge', values: data.byVerdict.challenge, color: VERDICT_COLORS.challenge, dash: [8, 4], summary: formatNumber(counts.challenge) },
      { label: 'Block', values: data.byVerdict.block, color: VERDICT_COLORS.block, dash: [2, 3], summary: formatNumber(counts.block) },
      { label: 'No verdict', values: data.byVerdict.none, color: VERDICT_COLORS.none, dash: [10, 3, 2, 3], summary: formatNumber(counts.none) },
    ],
    [data],
  );
  const seriesVerdict: (Verdict | null)[] = ['allow', 'challenge', 'block', null];
  /** The events of a bucket (and verdict), on the events page. */
  const bucketHref = (seriesIndex: number, bucketIndex: number) => {
    const start = data.x[bucketIndex] * 1000;
    // `after` is strict: one second before the bucket's start includes its first second.
    const f: EventFilters = { after: isoSeconds(new Date(start - 1000)), before: isoSeconds(new Date(start + stepMs)) };
    const v = seriesVerdict[seriesIndex];
    if (v) f.verdict = v;
    return eventsHref(f);
  };
  const peak = data.x.reduce((best, _t, i) => {
    const t = data.byVerdict.allow[i] + data.byVerdict.challenge[i] + data.byVerdict.block[i] + data.byVerdict.none[i];
    return t > best.n ? { n: t, i } : best;
  }, { n: -1, i: 0 });
  const verdictSummary =
    data.total === 0
      ? 'No events in this range.'
      : `${formatNumber(data.total)} events: ${formatNumber(counts.allow)} allowed, ${formatNumber(counts.challenge)} challenged, ${formatNumber(counts.block)} blocked, ${formatNumber(counts.none)} without a verdict. Busiest ${step}: ${formatBucket(data.x[peak.i], step)} UTC with ${formatNumber(peak.n)} events.`;

  // Signal rates per day: the share of the day's events on which each signal fired.
  const dayX = useMemo(() => buckets({ ...range, step: 'day' }), [range.from, range.to]);
  const fired = SIGNALS.filter((s) => (data.signals.find((r) => r.signal === s.name)?.count ?? 0) > 0);
  const silent = SIGNALS.filter((s) => !fired.includes(s));
  const signalSeries = useMemo<ChartSeries[]>(() => {
    const byDay = new Map(data.signalDays.map((d) => [Date.parse(d.day ?? '') / 1000, d]));
    return fired.map((s) => ({
      label: s.label,
      color: s.color,
      dash: s.dash,
      summary: formatPercent(data.signals.find((r) => r.signal === s.name)?.rate),
      values: dayX.map((t) => {
        const d = byDay.get(t);
        return d && d.total > 0 ? (d.signals[s.name] ?? 0) / d.total : null;
      }),
    }));
  }, [data, dayX]);
  const signalSummary = data.signals.length
    ? data.signals.map((s) => `${labelOf(s.signal)} ${formatPercent(s.rate)} (${s.trend})`).join(', ') + '.'
    : 'No events in this range.';

  return (
    <div class={props.stale ? 'overview-body stale' : 'overview-body'} aria-busy={props.stale}>
      <section aria-labelledby="ov-totals" class="overview-section">
        <h2 id="ov-totals" class="sr-only">
          Totals
        </h2>
        <div class="totals">
          <Link class="card total" href={eventsHref(rangeFilters)}>
            <span class="total-label">Events</span>
            <span class="stat">{formatNumber(data.total)}</span>
            <span class="muted">in the range</span>
          </Link>
          {(['allow', 'challenge', 'block'] as const).map((v) => (
            <Link key={v} class={`card total total-${v}`} href={eventsHref({ ...rangeFilters, verdict: v })}>
              <span class="total-label">
                <span class={`badge verdict-${v}`}>{v}</span>
              </span>
              <span class="stat">{formatNumber(counts[v])}</span>
              <span class="muted">{formatPercent(share(counts[v]))} of events</span>
            </Link>
          ))}
          <div class="card total">
            <span class="total-label">
              <span class="badge">no verdict</span>
            </span>
            <span class="stat">{formatNumber(counts.none)}</span>
            <span class="muted">{formatPercent(share(counts.none))} of events</span>
          </div>
        </div>
      </section>

      <section aria-labelledby="ov-time" class="card overview-section">
        <h2 id="ov-time">Events over time by verdict</h2>
        <Chart
          title={`Events per ${step} by verdict (UTC)`}
          summary={verdictSummary}
          x={data.x}
          step={step}
          series={verdictSeries}
          format={(v) => formatNumber(Math.round(v * 100) / 100)}
          onPointClick={(s, i) => props.navigate(bucketHref(s, i))}
          cellHref={bucketHref}
        >
          <p class="muted chart-hint">Click a point, or a count in the data table, to list those events.</p>
        </Chart>
      </section>

      <section aria-labelledby="ov-signals" class="card overview-section">
        <h2 id="ov-signals">Smart Signals</h2>
        <div class="signals-layout">
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Smart Signal rates over the range, with their trend</caption>
              <thead>
                <tr>
                  <th scope="col">Signal</th>
                  <th scope="col" class="num">Events</th>
                  <th scope="col" class="num">Rate</th>
                  <th scope="col">Trend</th>
                </tr>
              </thead>
              <tbody>
                {data.signals.map((s) => (
                  <tr key={s.signal}>
                    <th scope="row">
                      {s.signal === 'bot' && s.count > 0 ? <Link href={eventsHref({ ...rangeFilters, bot: 'yes' })}>{labelOf(s.signal)}</Link> : labelOf(s.signal)}
                    </th>
                    <td class="num">{formatNumber(s.count)}</td>
                    <td class="num">{formatPercent(s.rate, 2)}</td>
                    <td>
                      <Trend trend={s.trend} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="signals-chart">
            {dayX.length >= 2 && signalSeries.length > 0 ? (
              <Chart
                // A new set of series (signals that fired) starts with every series shown.
                key={signalSeries.map((s) => s.label).join()}
                title="Smart Signal rates per day (UTC)"
                summary={signalSummary}
                x={dayX}
                step="day"
                series={signalSeries}
                format={(v) => formatPercent(v, v > 0 && v < 0.1 ? 1 : 0)}
                height={220}
              >
                {silent.length ? <p class="muted chart-hint">Not drawn, as they never fired in the range: {silent.map((s) => s.label).join(', ')}.</p> : null}
              </Chart>
            ) : (
              <p class="muted">
                {signalSeries.length === 0 ? 'No signal fired in this range.' : 'The per-day series needs a range over at least two days.'}
              </p>
            )}
          </div>
        </div>
        <p class="muted chart-hint">A trend compares the rate in the second half of the range with the first half's (a change over 10% is up or down).</p>
      </section>

      <div class="grid overview-ranked">
        <section aria-labelledby="ov-countries" class="card">
          <h2 id="ov-countries">Top countries</h2>
          <Ranked
            caption="Events by country"
            head="Country"
            groups={data.countries}
            total={data.total}
            keyOf={(g) => g.country ?? null}
            render={(k) => <Country code={k} />}
            href={(k) => eventsHref({ ...rangeFilters, country: k })}
            unknown="Unknown (no geolocation)"
            more="countries"
          />
        </section>
        <section aria-labelledby="ov-platforms" class="card">
          <h2 id="ov-platforms">Top platforms</h2>
          <Ranked
            caption="Events by platform"
            head="Platform"
            groups={data.platforms}
            total={data.total}
            keyOf={(g) => g.platform ?? null}
            render={(k) => <>{k}</>}
            unknown="Unknown"
            more="platforms"
          />
        </section>
      </div>
    </div>
  );
}

function labelOf(signal: string): string {
  return SIGNALS.find((s) => s.name === signal)?.label ?? signal;
}

function Trend(props: { trend: Schemas['Trend'] }) {
  if (props.trend === 'up') return <span class="trend trend-up"><span aria-hidden="true">▲ </span>up</span>;
  if (props.trend === 'down') return <span class="trend trend-down"><span aria-hidden="true">▼ </span>down</span>;
  return <span class="trend muted"><span aria-hidden="true">▬ </span>stable</span>;
}

const TOP = 10;

/** A ranked table of groups with their counts and shares, the top ten and the rest summed. */
function Ranked(props: {
  caption: string;
  head: string;
  groups: Groups;
  total: number;
  keyOf: (g: Groups[number]) => string | null;
  render: (key: string) => ComponentChildren;
  href?: (key: string) => string;
  unknown: string;
  more: string;
}) {
  if (props.groups.length === 0) return <p class="muted">No events in this range.</p>;
  const top = props.groups.slice(0, TOP);
  const rest = props.groups.slice(TOP);
  const restCount = sum(rest.map((g) => g.count));
  const max = Math.max(...top.map((g) => g.count), 1);
  return (
    <div class="table-wrap">
      <table class="ranked">
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col" class="num">#</th>
            <th scope="col">{props.head}</th>
            <th scope="col" class="num">Events</th>
            <th scope="col">Share</th>
          </tr>
        </thead>
        <tbody>
          {top.map((g, i) => {
            const k = props.keyOf(g);
            const label = k === null ? <span class="muted">{props.unknown}</span> : props.href ? <Link href={props.href(k)}>{props.render(k)}</Link> : props.render(k);
            return (
              <tr key={k ?? 'null'}>
                <td class="num">{i + 1}</td>
                <th scope="row">{label}</th>
                <td class="num">{formatNumber(g.count)}</td>
                <td>
                  <span class="share">
                    <span class="share-bar" aria-hidden="true">
                      <span style={{ width: `${(g.count / max) * 100}%` }} />
                    </span>
                    {formatPercent(props.total ? g.count / props.total : 0)}
                  </span>
                </td>
              </tr>
            );
          })}
          {rest.length ? (
            <tr>
              <td class="num" />
              <th scope="row" class="muted">
                {rest.length} more {props.more}
              </th>
              <td class="num">{formatNumber(restCount)}</td>
              <td>{formatPercent(props.total ? restCount / props.total : 0)}</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}
