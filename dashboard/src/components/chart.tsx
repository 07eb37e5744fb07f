// A time-series chart drawn by uPlot, wrapped for the dashboard: it follows its container's width
// (ResizeObserver), takes its colours from the light or dark scheme, has a keyboard-usable legend
// that toggles series and shows the values under the pointer, an accessible name and summary,
// and a data table for readers who cannot see the canvas. Its styles (.chart*) are in
// pages/overview.css, the page that draws charts.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** A colour for the light scheme and one for the dark, each readable on that scheme's background. */
export type SchemeColor = readonly [light: string, dark: string];

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: SchemeColor;
  /** A dash pattern, so that series differ by more than colour. */
  dash?: number[];
  /** What the legend shows when the pointer is not on the chart (a total, an overall rate). */
  summary?: string;
}

export interface ChartProps {
  /** The chart's accessible name, also its caption. */
  title: string;
  /** A sentence or two for screen readers: what the chart shows and its notable values. */
  summary: string;
  /** Bucket starts, in Unix seconds. */
  x: number[];
  /** The buckets' size, for labels. */
  step: 'hour' | 'day';
  series: ChartSeries[];
  /** Formats a value for the axis, the legend and the table. */
  format: (v: number) => string;
  /** Height of the plot in CSS pixels. */
  height?: number;
  /** Called with the series and bucket under the pointer when the plot is clicked. */
  onPointClick?: (seriesIndex: number, bucketIndex: number) => void;
  /** A link for a cell of the data table (the keyboard's way to what a click on the plot does). */
  cellHref?: (seriesIndex: number, bucketIndex: number) => string | undefined;
  /** A label for the table's first column. */
  bucketLabel?: string;
  children?: ComponentChildren;
}

const DARK_QUERY = '(prefers-color-scheme: dark)';

/** The colour scheme in effect, following changes while the page is open. */
export function useColorScheme(): 'light' | 'dark' {
  const [dark, setDark] = useState(() => window.matchMedia?.(DARK_QUERY).matches ?? false);
  useEffect(() => {
    const mq = window.matchMedia?.(DARK_QUERY);
    if (!mq) return;
    const on = () => setDark(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  return dark ? 'dark' : 'light';
}

const hourFmt = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'short', month: 'short', day: 'numeric' });

/** A bucket's start as a label (UTC, as the API buckets). */
export function formatBucket(ts: number, step: 'hour' | 'day'): string {
  const d = new Date(ts * 1000);
  return (step === 'hour' ? hourFmt : dayFmt).format(d);
}

const HOUR_S = 3600;
const DAY_S = 86400;
const axisDayFmt = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', month: 'short', day: 'numeric' });
const axisHourFmt = new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', hour: '2-digit', minute: '2-digit' });

/** An x-axis label: the date at midnight (UTC) and on daily charts, else the hour. */
function axisLabel(ts: number, step: 'hour' | 'day'): string {
  const d = new Date(ts * 1000);
  return step === 'day' || ts % DAY_S === 0 ? axisDayFmt.format(d) : axisHourFmt.format(d);
}

let chartSeq = 0;

export function Chart(props: ChartProps) {
  const { x, series, step, format } = props;
  const height = props.height ?? 240;
  const scheme = useColorScheme();
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const [hidden, setHidden] = useState<boolean[]>(() => series.map(() => false));
  const hiddenRef = useRef(hidden);
  hiddenRef.current = hidden;
  const [hover, setHover] = useState<number | null>(null);
  const ids = useMemo(() => {
    const n = ++chartSeq;
    return { caption: `chart-${n}-caption`, summary: `chart-${n}-summary` };
  }, []);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const css = getComputedStyle(document.documentElement);
    const axisColor = css.getPropertyValue('--fg-muted').trim() || '#525b6e';
    const gridColor = css.getPropertyValue('--border').trim() || '#d5dae3';
    const pick = (c: SchemeColor) => (scheme === 'dark' ? c[1] : c[0]);
    const axisFont = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const opts: uPlot.Options = {
      width: Math.max(200, Math.floor(el.clientWidth)),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: {
        drag: { x: false, y: false, setScale: false },
        focus: { prox: 24 },
        points: { size: 8 },
      },
      focus: { alpha: 0.4 },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          stroke: axisColor,
          font: axisFont,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor, width: 1 },
          // Ticks on whole buckets only: hours for hourly data, days for daily.
          incrs: step === 'hour' ? [HOUR_S, 2 * HOUR_S, 3 * HOUR_S, 6 * HOUR_S, 12 * HOUR_S, DAY_S, 2 * DAY_S] : [DAY_S, 2 * DAY_S, 7 * DAY_S, 14 * DAY_S, 28 * DAY_S],
          values: (_u, splits) => splits.map((ts) => axisLabel(ts, step)),
        },
        {
          stroke: axisColor,
          font: axisFont,
          size: 58,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor, width: 1 },
          values: (_u, splits) => splits.map((v) => latest.current.format(v)),
        },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: pick(s.color),
          width: 2,
          dash: s.dash,
          show: !hiddenRef.current[i],
          spanGaps: false,
          points: { show: x.length <= 40, size: 5, fill: pick(s.color) },
        })),
      ],
      hooks: {
        setLegend: [(u) => setHover(u.cursor.idx ?? null)],
      },
    };
    const u = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = u;

    const onClick = () => {
      const cb = latest.current.onPointClick;
      const idx = u.cursor.idx;
      if (!cb || idx === null || idx === undefined) return;
      // The series nearest the pointer vertically, among those shown.
      let best = -1;
      let bestDist = Infinity;
      for (let i = 1; i < u.series.length; i++) {
        if (!u.series[i].show) continue;
        const v = u.data[i][idx];
        if (v === null || v === undefined) continue;
        const d = Math.abs(u.valToPos(v, 'y') - (u.cursor.top ?? 0));
        if (d < bestDist) {
          bestDist = d;
          best = i;
        }
      }
      if (best > 0) cb(best - 1, idx);
    };
    u.over.addEventListener('click', onClick);

    let frame = 0;
    const ro = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0].contentRect.width);
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        if (w > 0 && w !== u.width) u.setSize({ width: w, height });
      });
    });
    ro.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      ro.disconnect();
      u.over.removeEventListener('click', onClick);
      u.destroy();
      plot.current = null;
    };
  }, [x, series, scheme, height]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    hidden.forEach((h, i) => {
      if (u.series[i + 1] && u.series[i + 1].show === h) u.setSeries(i + 1, { show: !h });
    });
  }, [hidden]);

  const toggle = (i: number) => setHidden((h) => h.map((v, j) => (j === i ? !v : v)));
  const pick = (c: SchemeColor) => (scheme === 'dark' ? c[1] : c[0]);
  const hoverLabel = hover !== null && hover < x.length ? formatBucket(x[hover], step) : null;

  return (
    <figure class={`chart${props.onPointClick ? ' chart-click' : ''}`} aria-labelledby={ids.caption}>
      <figcaption id={ids.caption} class="chart-title">
        {props.title}
      </figcaption>
      <div class="chart-legend" role="group" aria-label={`${props.title}: series shown`}>
        <span class="chart-legend-at muted" aria-live="off">
          {hoverLabel ?? 'Whole range'}
        </span>
        {series.map((s, i) => (
          <button
            type="button"
            key={s.label}
            class="chart-legend-item"
            aria-pressed={!hidden[i]}
            title={hidden[i] ? `Show ${s.label}` : `Hide ${s.label}`}
            onClick={() => toggle(i)}
          >
            <span class="chart-swatch" aria-hidden="true" style={{ borderColor: pick(s.color), borderStyle: s.dash ? 'dashed' : 'solid' }} />
            <span class={hidden[i] ? 'chart-off' : ''}>{s.label}</span>
            <span class="chart-legend-value">
              {hover !== null && hover < x.length
                ? s.values[hover] === null || s.values[hover] === undefined
                  ? '—'
                  : format(s.values[hover] as number)
                : (s.summary ?? '')}
            </span>
          </button>
        ))}
      </div>
      <div ref={box} class="chart-plot" role="img" aria-labelledby={ids.caption} aria-describedby={ids.summary} />
      <p id={ids.summary} class="sr-only">
        {props.summary}
      </p>
      {props.children}
      <details class="chart-data">
        <summary>Data table</summary>
        {/* Focusable, so that a keyboard can scroll it when it overflows. */}
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`${props.title}: data`}>
          <table>
            <caption class="sr-only">{props.title}</caption>
            <thead>
              <tr>
                <th scope="col">{props.bucketLabel ?? (step === 'hour' ? 'Hour (UTC)' : 'Day (UTC)')}</th>
                {series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {x.map((ts, j) => (
                <tr key={ts}>
                  <th scope="row">{formatBucket(ts, step)}</th>
                  {series.map((s, i) => {
                    const v = s.values[j];
                    const text = v === null || v === undefined ? '—' : format(v);
                    const href = v ? props.cellHref?.(i, j) : undefined;
                    return <td key={s.label}>{href ? <Link href={href}>{text}</Link> : text}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
