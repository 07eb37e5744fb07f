// Building blocks shared by every page: loading data, showing failures, paging, confirming,
// and formatting the API's values.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from '../api';

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change and keeps only the latest answer. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (error: Error) => mine === seq.current && setState({ error, loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function ErrorBanner(props: { error: unknown }) {
  if (!props.error) return null;
  const e = props.error as Error;
  const detail = e instanceof ApiFailure ? `${e.status} ${e.code}${e.field ? ` (${e.field})` : ''}: ` : '';
  return (
    <div class="banner error" role="alert">
      {detail}
      {e.message}
    </div>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {props.label ?? 'Loading…'}
    </p>
  );
}

/** Shows the error, a loading line, or the content once data is there. */
export function Loaded<T>(props: { state: Async<T>; children: (data: T) => ComponentChildren }) {
  const { data, error, loading } = props.state;
  if (error) return <ErrorBanner error={error} />;
  if (data === undefined) return loading ? <Loading /> : null;
  return <>{props.children(data)}</>;
}

/** Offset paging controls for the API's `{data, total, limit, offset}` pages. */
export function OffsetPager(props: { total: number; limit: number; offset: number; onChange: (offset: number) => void; label?: string }) {
  const { total, limit, offset } = props;
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  return (
    <nav class="pager" aria-label={props.label ?? 'Pages'}>
      <button type="button" disabled={offset === 0} onClick={() => props.onChange(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span>
        {first}–{last} of {total}
      </span>
      <button type="button" disabled={offset + limit >= total} onClick={() => props.onChange(offset + limit)}>
        Next
      </button>
    </nav>
  );
}

/**
 * A modal confirmation built on <dialog>: focus moves into it, Escape cancels, and the
 * confirming button says exactly what will happen.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); props.onCancel(); }}>
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class={props.danger ? 'danger' : 'primary'} disabled={props.busy} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export function VerdictBadge(props: { verdict: string | null | undefined }) {
  const v = props.verdict ?? 'none';
  return <span class={`badge verdict-${v}`}>{props.verdict ?? 'no rule'}</span>;
}

export function Flag(props: { on: boolean | null | undefined; label: string }) {
  if (props.on === null || props.on === undefined) return <span class="badge">{props.label}: unknown</span>;
  return <span class={`badge ${props.on ? 'flag-on' : 'flag-off'}`}>{props.label}: {props.on ? 'yes' : 'no'}</span>;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function formatPercent(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  return `${(x * 100).toFixed(digits)}%`;
}

export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  return x.toLocaleString();
}

/** The page's main heading, also set as the document title. */
export function PageTitle(props: { children: string; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.children} · Prynt`;
  }, [props.children]);
  return (
    <div class="page-head">
      <h1>{props.children}</h1>
      {props.actions ? <div class="actions">{props.actions}</div> : null}
    </div>
  );
}
