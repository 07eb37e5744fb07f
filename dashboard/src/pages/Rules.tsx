// The rules list (`/rules`): every rule in evaluation order (lowest priority first), reordered
// by dragging a row's handle or with its Move up / Move down buttons, each move saved as new
// priorities with PATCH and undone if the server refuses it; a status switch per rule.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Loading, PageTitle, VerdictBadge, formatNumber, formatTime } from '../components/common';
import { useFocusRequest } from '../components/ruleTree';
import { STATUSES, type RuleStatus } from '../rulesModel';
import { planReorder } from '../rulesOrder';
import { takeRulesFlash } from '../rulesFlash';
import './rules.css';

type Summary = Schemas['RuleSummary'];
/** A listed rule; `stats` is shown when the listing carries it. */
type Row = Summary & { stats?: { matchCount: number; lastMatchAt?: string | null } };

export function Rules() {
  const { client } = useSession();
  const [rows, setRows] = useState<Row[] | null>(null);
  const [meta, setMeta] = useState<{ total: number; hasMore: boolean }>({ total: 0, hasMore: false });
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [message, setMessage] = useState<string>(() => takeRulesFlash('list')?.message ?? '');
  const [busy, setBusy] = useState(0);
  const [dragId, setDragId] = useState<string | null>(null);
  const [dropAt, setDropAt] = useState<{ id: string; after: boolean } | null>(null);
  const rowsRef = useRef<Row[] | null>(null);
  rowsRef.current = rows;
  // Saves run one after another; a failure makes the queued ones stale (generation changes).
  const queue = useRef<Promise<void>>(Promise.resolve());
  const generation = useRef(0);
  const focus = useFocusRequest();

  const load = async () => {
    try {
      const page = await unwrap(client.GET('/v1/rules', { params: { query: { limit: 1000 } } }));
      setRows(page.data as Row[]);
      setMeta({ total: page.total, hasMore: page.hasMore });
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const enqueue = (job: () => Promise<void>) => {
    setBusy((b) => b + 1);
    queue.current = queue.current.then(job).finally(() => setBusy((b) => b - 1));
  };

  const move = (from: number, to: number, how: 'keyboard' | 'drag') => {
    const current = rowsRef.current;
    if (!current || to < 0 || to >= current.length || from === to) return;
    const moved = current[from];
    const plan = planReorder(current, from, to);
    const snapshot = current;
    setRows(plan.rows);
    setActionError(null);
    const where = `position ${to + 1} of ${current.length}`;
    setMessage(`Moved “${moved.name}” to ${where}. Saving…`);
    if (how === 'keyboard') {
      const dir = from > to ? 'up' : 'down';
      const other = dir === 'up' ? 'down' : 'up';
      focus([`move-${moved.id}-${dir}`, `move-${moved.id}-${other}`, `row-${moved.id}`]);
    }
    const gen = generation.current;
    enqueue(async () => {
      if (gen !== generation.current) return;
      const applied: typeof plan.patches = [];
      try {
        for (const p of plan.patches) {
          const res = await unwrap(client.PATCH('/v1/rules/{ruleId}', { params: { path: { ruleId: p.id } }, body: { priority: p.priority } }));
          applied.push(p);
          setRows((rs) => rs && rs.map((r) => (r.id === res.id ? { ...r, priority: res.priority, version: res.version, updatedAt: res.updatedAt } : r)));
        }
        setMessage(
          `Moved “${moved.name}” to ${where}. ${plan.patches.length === 1 ? '1 priority' : `${plan.patches.length} priorities`} saved.`,
        );
      } catch (e) {
        generation.current += 1;
        setRows(snapshot);
        setActionError(e);
        setMessage(`Could not save the new order of “${moved.name}”: the previous order is restored.`);
        // Put back the priorities already written, then show what the server holds.
        for (const p of applied.reverse()) {
          await client.PATCH('/v1/rules/{ruleId}', { params: { path: { ruleId: p.id } }, body: { priority: p.from } }).catch(() => undefined);
        }
        if (applied.length) await load();
      }
    });
  };

  const setStatus = (row: Row, status: RuleStatus) => {
    const before = row.status;
    setRows((rs) => rs && rs.map((r) => (r.id === row.id ? { ...r, status } : r)));
    setActionError(null);
    setMessage(`Setting “${row.name}” to ${status}…`);
    enqueue(async () => {
      try {
        const res = await unwrap(client.PATCH('/v1/rules/{ruleId}', { params: { path: { ruleId: row.id } }, body: { status } }));
        setRows((rs) => rs && rs.map((r) => (r.id === res.id ? { ...r, status: res.status, version: res.version, updatedAt: res.updatedAt } : r)));
        setMessage(`“${row.name}” is now ${res.status} (version ${res.version}).`);
      } catch (e) {
        setRows((rs) => rs && rs.map((r) => (r.id === row.id ? { ...r, status: before } : r)));
        setActionError(e);
        setMessage(`Could not change the status of “${row.name}”: it stays ${before}.`);
      }
    });
  };

  // Drag and drop: the handle starts the drag, each row is a drop target (above or below its middle).
  const onDragOver = (e: DragEvent, row: Row) => {
    if (!dragId) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'move';
    const tr = e.currentTarget as HTMLElement;
    const box = tr.getBoundingClientRect();
    const after = e.clientY > box.top + box.height / 2;
    if (!dropAt || dropAt.id !== row.id || dropAt.after !== after) setDropAt({ id: row.id, after });
  };
  const onDrop = (e: DragEvent, row: Row) => {
    e.preventDefault();
    const current = rowsRef.current;
    const id = dragId ?? e.dataTransfer?.getData('text/plain');
    setDragId(null);
    setDropAt(null);
    if (!current || !id) return;
    const from = current.findIndex((r) => r.id === id);
    const target = current.findIndex((r) => r.id === row.id);
    if (from < 0 || target < 0) return;
    const box = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const after = e.clientY > box.top + box.height / 2;
    let to = target + (after ? 1 : 0);
    if (from < to) to -= 1;
    move(from, to, 'drag');
  };

  const showStats = rows?.some((r) => r.stats) ?? false;

  return (
    <div class="rules-page">
      <PageTitle
        actions={
          <Link href="/rules/new" class="rules-button-link">
            New rule
          </Link>
        }
      >
        Rules
      </PageTitle>
      <p class="muted rules-intro">
        Live rules run from the top (lowest priority first); the first that matches sets the verdict. Monitor rules are all
        evaluated and only recorded. Drag a row by its handle, or use Move up and Move down, to change the order.
      </p>
      <p class="rules-live" role="status" aria-live="polite" aria-atomic="true">
        {message}
        {busy > 0 && !message ? 'Saving…' : ''}
      </p>
      <ErrorBanner error={actionError} />
      {error ? (
        <ErrorBanner error={error} />
      ) : !rows ? (
        <Loading />
      ) : rows.length === 0 ? (
        <div class="card">
          <p>No rules in this environment yet.</p>
          <p>
            <Link href="/rules/new">Create the first rule</Link>: for example, block bot registrations, or challenge payments
            through a VPN.
          </p>
        </div>
      ) : (
        <>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Rules in evaluation order">
            <table class="rules-table">
              <caption class="sr-only">Rules in evaluation order</caption>
              <thead>
                <tr>
                  <th scope="col">Order</th>
                  <th scope="col" class="rules-wide">
                    Priority
                  </th>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="rules-wide">
                    Verdict
                  </th>
                  <th scope="col" class="rules-wide">
                    Version
                  </th>
                  <th scope="col" class="rules-wide">
                    Updated
                  </th>
                  {showStats && (
                    <th scope="col" class="rules-wide">
                      Matches
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => {
                  const drop = dropAt?.id === r.id && dragId !== r.id ? (dropAt.after ? ' drop-after' : ' drop-before') : '';
                  return (
                    <tr
                      key={r.id}
                      id={`row-${r.id}`}
                      tabIndex={-1}
                      class={`rules-row${dragId === r.id ? ' dragging' : ''}${drop}`}
                      onDragOver={(e) => onDragOver(e as DragEvent, r)}
                      onDragLeave={(e) => {
                        if (!(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node)) setDropAt((d) => (d?.id === r.id ? null : d));
                      }}
                      onDrop={(e) => onDrop(e as DragEvent, r)}
                      data-rule-id={r.id}
                    >
                      <td class="rules-order">
                        <span
                          class="rules-handle"
                          draggable
                          title="Drag to reorder"
                          aria-hidden="true"
                          data-testid="drag-handle"
                          onDragStart={(e) => {
                            const ev = e as DragEvent;
                            setDragId(r.id);
                            if (ev.dataTransfer) {
                              ev.dataTransfer.effectAllowed = 'move';
                              ev.dataTransfer.setData('text/plain', r.id);
                              const tr = (ev.currentTarget as HTMLElement).closest('tr');
                              if (tr) ev.dataTransfer.setDragImage(tr, 16, 16);
                            }
                          }}
                          onDragEnd={() => {
                            setDragId(null);
                            setDropAt(null);
                          }}
                        >
                          ⠿
                        </span>
                        <button
                          type="button"
                          class="rules-move"
                          id={`move-${r.id}-up`}
                          aria-label={`Move ${r.name} up`}
                          title="Move up"
                          disabled={i === 0}
                          onClick={() => move(i, i - 1, 'keyboard')}
                        >
                          ↑
                        </button>
                        <button
                          type="button"
                          class="rules-move"
                          id={`move-${r.id}-down`}
                          aria-label={`Move ${r.name} down`}
                          title="Move down"
                          disabled={i === rows.length - 1}
                          onClick={() => move(i, i + 1, 'keyboard')}
                        >
                          ↓
                        </button>
                      </td>
                      <td class="rules-wide">{r.priority}</td>
                      <td class="rules-name-cell">
                        <Link href={`/rules/${r.id}`}>{r.name}</Link>
                        <span class="muted rules-summary">
                          {r.conditions.operator} of {r.conditions.count}
                        </span>
                        <span class="rules-narrow muted">
                          priority {r.priority} · v{r.version} · <VerdictBadge verdict={r.action} />
                        </span>
                      </td>
                      <td>
                        <label for={`status-${r.id}`} class="sr-only">
                          Status of {r.name}
                        </label>
                        <select
                          id={`status-${r.id}`}
                          class={`rules-status rules-status-${r.status}`}
                          value={r.status}
                          onChange={(e) => setStatus(r, (e.target as HTMLSelectElement).value as RuleStatus)}
                        >
                          {STATUSES.map((s) => (
                            <option key={s.value} value={s.value}>
                              {s.label}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td class="rules-wide">
                        <VerdictBadge verdict={r.action} />
                      </td>
                      <td class="rules-wide">v{r.version}</td>
                      <td class="rules-wide">{formatTime(r.updatedAt)}</td>
                      {showStats && (
                        <td class="rules-wide">
                          {r.stats ? formatNumber(r.stats.matchCount) : '—'}
                          {r.stats?.lastMatchAt ? <span class="muted rules-summary">last {formatTime(r.stats.lastMatchAt)}</span> : null}
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {meta.hasMore && (
            <p class="muted">
              Showing the first {formatNumber(rows.length)} of {formatNumber(meta.total)} rules.
            </p>
          )}
        </>
      )}
    </div>
  );
}
