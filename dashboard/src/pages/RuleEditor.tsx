// The rule editor (`/rules/new` and `/rules/:ruleId`): name, status, priority, the condition
// tree, the action and its side effects; "Test rule" backtests the unsaved rule; saving
// creates the rule or a new version of it; validation errors land on the control or tree node
// their `field` path names; a saved rule shows its versions with a diff and can be deleted.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Link, useLocation } from 'wouter-preact';
import { ApiFailure, unwrap, type Client, type Schemas } from '../api';
import { useSession } from '../session';
import { ConfirmDialog, ErrorBanner, Loaded, PageTitle, formatNumber, formatTime, useAsync } from '../components/common';
import { ConditionTree, nodeIds, useFocusRequest } from '../components/ruleTree';
import { ActionEditor } from '../components/ruleAction';
import { BacktestPanel, type BacktestState } from '../components/ruleBacktest';
import { RuleVersions } from '../components/ruleVersions';
import { loadCatalogue, type Catalogue } from '../rulesCatalogue';
import {
  STATUSES,
  actionToApi,
  conditionsToApi,
  draftFromRule,
  mapNodeErrors,
  newDraft,
  readout,
  ruleBody,
  type EGroup,
  type NodeError,
  type Problem,
  type RuleDraft,
  type StoredRule,
} from '../rulesModel';
import { setRulesFlash, takeRulesFlash } from '../rulesFlash';
import './rules.css';

export function RuleEditor(props: { ruleId: string | null }) {
  // A fresh editor per rule: nothing of another rule's draft survives a navigation.
  return <EditorLoader key={props.ruleId ?? 'new'} ruleId={props.ruleId} />;
}

interface EditorData {
  cat: Catalogue;
  lists: Schemas['ListView'][];
  rule: StoredRule | null;
}

function EditorLoader(props: { ruleId: string | null }) {
  const { client } = useSession();
  const state = useAsync<EditorData>(async () => {
    const [cat, lists, rule] = await Promise.all([
      loadCatalogue(),
      unwrap(client.GET('/v1/lists', { params: { query: { limit: 1000 } } })).then((p) => p.data),
      props.ruleId ? fetchRule(client, props.ruleId) : Promise.resolve(null),
    ]);
    return { cat, lists, rule };
  }, [props.ruleId]);
  return (
    <>
      {state.error || !state.data ? (
        <PageTitle>{props.ruleId ? 'Rule' : 'New rule'}</PageTitle>
      ) : null}
      {state.error ? (
        <p>
          <Link href="/rules">Back to the rules</Link>
        </p>
      ) : null}
      <Loaded state={state}>{(d) => <Editor ruleId={props.ruleId} loaded={d} reloadLists={state.reload} />}</Loaded>
    </>
  );
}

async function fetchRule(client: Client, ruleId: string): Promise<StoredRule> {
  return unwrap(client.GET('/v1/rules/{ruleId}', { params: { path: { ruleId } } }));
}

/** The DOM id of the control a problem's path names, for focusing it. */
function targetId(p: Problem, nodeErrors: NodeError[], root: EGroup): string | null {
  if (p.field === 'name') return 'rule-name';
  if (p.field === 'priority') return 'rule-priority';
  if (p.field === 'status') return 'rule-status';
  if (p.field === 'days') return 'backtest-days';
  if (p.field === 'sampleSize') return 'backtest-sample';
  if (p.field.startsWith('action.verdict')) return 'rule-verdict';
  const m = /^action\.sideEffects\[(\d+)\](?:\.(\w+))?/.exec(p.field);
  if (m) return m[2] && ['list', 'ttl', 'key', 'value', 'type'].includes(m[2]) ? `effect-${m[1]}-${m[2]}` : `effect-${m[1]}`;
  if (p.field.startsWith('conditions')) {
    const hit = mapNodeErrors(root, [p]).nodes[0] ?? nodeErrors[0];
    if (!hit) return null;
    return ['field', 'operator', 'value'].includes(hit.part) ? `${hit.nodeId}-${hit.part}` : hit.nodeId;
  }
  return null;
}

const HANDLED = /^(name|priority|status|days|sampleSize|action\.verdict|action\.sideEffects\[\d+\].*|conditions.*)$/;

function Editor(props: { ruleId: string | null; loaded: EditorData; reloadLists: () => void }) {
  const { client } = useSession();
  const [, navigate] = useLocation();
  const { cat, lists, rule: loadedRule } = props.loaded;
  const flash = useMemo(() => (props.ruleId ? takeRulesFlash(props.ruleId) : null), [props.ruleId]);

  const [rule, setRule] = useState(loadedRule);
  const [draft, setDraft] = useState<RuleDraft>(() => (loadedRule ? draftFromRule(cat, loadedRule) : newDraft()));
  const [nodeErrors, setNodeErrors] = useState<NodeError[]>([]);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [topError, setTopError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(flash?.message ?? null);
  const [saving, setSaving] = useState(false);
  const [backtest, setBacktest] = useState<BacktestState & { testedKey: string }>({
    result: flash?.backtest?.result ?? null,
    running: false,
    stale: false,
    testedKey: flash?.backtest?.testedKey ?? '',
  });
  const [days, setDays] = useState(flash?.backtest?.days ?? '7');
  const [sampleSize, setSampleSize] = useState(flash?.backtest?.sampleSize ?? '10');
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [versionsToken, setVersionsToken] = useState(0);
  const focus = useFocusRequest();

  // What the server would get now, for "unsaved changes" and a backtest's staleness.
  const current = useMemo(() => {
    const scratch: Problem[] = [];
    const body = ruleBody(cat, draft, scratch);
    return { full: JSON.stringify(body), test: JSON.stringify({ conditions: body.conditions, action: body.action }) };
  }, [cat, draft]);
  const [savedKey, setSavedKey] = useState(() => (loadedRule ? current.full : JSON.stringify(ruleBody(cat, newDraft(), []))));
  const dirty = current.full !== savedKey;
  const stale = backtest.result !== null && backtest.testedKey !== current.test;

  useEffect(() => {
    if (flash?.message) focus('rule-notice');
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const edit = (next: Partial<RuleDraft>, clears: string) => {
    setDraft((d) => ({ ...d, ...next }));
    setProblems((ps) => ps.filter((p) => !(p.field === clears || p.field.startsWith(clears + '.') || p.field.startsWith(clears + '['))));
    setNotice(null);
  };

  const onTree = (root: EGroup, editedId?: string) => {
    setDraft((d) => ({ ...d, conditions: root }));
    const alive = nodeIds(root);
    setNodeErrors((es) => es.filter((e) => e.nodeId !== editedId && alive.has(e.nodeId)));
    setNotice(null);
  };

  /** Shows problems where they belong and focuses the first of them. */
  const report = (ps: Problem[]) => {
    const mapped = mapNodeErrors(draft.conditions, ps.filter((p) => p.field.startsWith('conditions')));
    setNodeErrors(mapped.nodes);
    setProblems(ps.filter((p) => !p.field.startsWith('conditions')));
    const unplaced = ps.filter((p) => !HANDLED.test(p.field));
    setTopError(unplaced.length ? new Error(unplaced.map((p) => `${p.field}: ${p.message}`).join(' ')) : null);
    const ids = ps.map((p) => targetId(p, mapped.nodes, draft.conditions)).filter((x): x is string => !!x);
    // The first problem in reading order gets the focus.
    requestAnimationFrame(() => {
      const els = ids.map((id) => document.getElementById(id)).filter((e): e is HTMLElement => !!e);
      els.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
      if (els[0]) els[0].focus();
      else document.getElementById('rule-top-error')?.focus();
    });
  };

  const clearProblems = () => {
    setNodeErrors([]);
    setProblems([]);
    setTopError(null);
  };

  const fail = (e: unknown) => {
    if (e instanceof ApiFailure && e.status === 400 && e.field) report([{ field: e.field, message: e.message }]);
    else {
      setTopError(e);
      requestAnimationFrame(() => document.getElementById('rule-top-error')?.focus());
    }
  };

  const runBacktest = async () => {
    const ps: Problem[] = [];
    const conditions = conditionsToApi(cat, draft.conditions, ps);
    const action = actionToApi(draft, ps);
    const d = Number(days);
    const s = Number(sampleSize);
    if (!Number.isInteger(d) || d < 1 || d > 30) ps.push({ field: 'days', message: 'Days is a whole number from 1 to 30.' });
    if (!Number.isInteger(s) || s < 0 || s > 100) ps.push({ field: 'sampleSize', message: 'Sample events is a whole number from 0 to 100.' });
    if (backtest.running) return;
    clearProblems();
    if (ps.length) return report(ps);
    setBacktest((b) => ({ ...b, running: true }));
    const testedKey = current.test;
    try {
      // The tree is built from the run-time catalogue (see StoredRule for why it is cast).
      const result = await unwrap(client.POST('/v1/rules/backtest', { body: { conditions: conditions as never, action, days: d, sampleSize: s } }));
      setBacktest({ result, running: false, stale: false, testedKey });
    } catch (e) {
      setBacktest((b) => ({ ...b, running: false }));
      fail(e);
    }
  };

  const save = async () => {
    if (saving) return;
    const ps: Problem[] = [];
    const body = ruleBody(cat, draft, ps);
    clearProblems();
    setNotice(null);
    if (ps.length) return report(ps);
    setSaving(true);
    try {
      if (!props.ruleId) {
        const created = await unwrap(client.POST('/v1/rules', { body: { ...body, conditions: body.conditions as never } }));
        setRulesFlash({
          target: created.id,
          message: `Rule created: version ${created.version}, ${created.status}, priority ${created.priority}${created.propagated ? ` (in the evaluator after ${created.propagationMs} ms)` : ''}.`,
          backtest: backtest.result ? { result: backtest.result, testedKey: backtest.testedKey, days, sampleSize } : undefined,
        });
        navigate(`/rules/${created.id}`, { replace: true });
        return;
      }
      const updated = await unwrap(
        client.PUT('/v1/rules/{ruleId}', { params: { path: { ruleId: props.ruleId } }, body: { ...body, conditions: body.conditions as never } }),
      );
      // Read the rule back so the editor holds exactly what is stored.
      const fresh = await fetchRule(client, props.ruleId);
      const nextDraft = draftFromRule(cat, fresh);
      setRule(fresh);
      setDraft(nextDraft);
      setSavedKey(JSON.stringify(ruleBody(cat, nextDraft, [])));
      setVersionsToken((t) => t + 1);
      setNotice(`Saved as version ${updated.version}${updated.propagated ? ` (in the evaluator after ${updated.propagationMs} ms)` : ''}.`);
      focus('rule-notice');
    } catch (e) {
      fail(e);
    } finally {
      setSaving(false);
    }
  };

  const doDelete = async () => {
    if (!props.ruleId) return;
    setDeleting(true);
    try {
      await unwrap(client.DELETE('/v1/rules/{ruleId}', { params: { path: { ruleId: props.ruleId } } }));
      setRulesFlash({ target: 'list', message: `Rule “${rule?.name ?? props.ruleId}” deleted.` });
      setConfirmDelete(false);
      navigate('/rules');
    } catch (e) {
      setConfirmDelete(false);
      fail(e);
    } finally {
      setDeleting(false);
    }
  };

  const problemFor = (field: string) => problems.find((p) => p.field === field);
  const nameErr = problemFor('name');
  const prioErr = problemFor('priority');
  const statusErr = problemFor('status');
  const statusHint = STATUSES.find((s) => s.value === draft.status)?.hint ?? '';

  return (
    <div class="rule-editor">
      <PageTitle
        actions={
          props.ruleId ? (
            <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
              Delete rule
            </button>
          ) : undefined
        }
      >
        {props.ruleId ? `Rule: ${rule?.name ?? props.ruleId}` : 'New rule'}
      </PageTitle>
      <p class="rule-meta">
        <Link href="/rules">← All rules</Link>
        {rule && (
          <>
            <span class="badge" data-testid="rule-version">
              Version {rule.version}
            </span>
            <span class="muted">Updated {formatTime(rule.updatedAt)}</span>
            <span class="muted">
              {formatNumber(rule.stats.matchCount)} {rule.stats.matchCount === 1 ? 'match' : 'matches'}
              {rule.stats.lastMatchAt ? `, last ${formatTime(rule.stats.lastMatchAt)}` : ''}
            </span>
            <span class="mono muted">{rule.id}</span>
          </>
        )}
      </p>
      {notice && (
        <p class="banner ok" role="status" id="rule-notice" tabIndex={-1}>
          {notice}
        </p>
      )}
      <div id="rule-top-error" tabIndex={-1}>
        <ErrorBanner error={topError} />
      </div>

      <section class="card rule-section" aria-labelledby="rule-sec-basics">
        <h2 id="rule-sec-basics">Rule</h2>
        <div class="rule-basics">
          <div class="rule-ctl rule-ctl-name">
            <label for="rule-name">Name</label>
            <input
              id="rule-name"
              type="text"
              value={draft.name}
              maxLength={200}
              autoComplete="off"
              aria-invalid={nameErr ? true : undefined}
              aria-describedby={nameErr ? 'rule-name-err' : undefined}
              onInput={(e) => edit({ name: (e.target as HTMLInputElement).value }, 'name')}
            />
            {nameErr && (
              <p class="rule-error" id="rule-name-err">
                {nameErr.message}
              </p>
            )}
          </div>
          <div class="rule-ctl">
            <label for="rule-status">Status</label>
            <select
              id="rule-status"
              value={draft.status}
              aria-describedby={statusErr ? 'rule-status-err' : 'rule-status-hint'}
              aria-invalid={statusErr ? true : undefined}
              onChange={(e) => edit({ status: (e.target as HTMLSelectElement).value as RuleDraft['status'] }, 'status')}
            >
              {STATUSES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
            <span class="muted rule-type" id="rule-status-hint">
              {statusHint}
            </span>
            {statusErr && (
              <p class="rule-error" id="rule-status-err">
                {statusErr.message}
              </p>
            )}
          </div>
          <div class="rule-ctl">
            <label for="rule-priority">Priority</label>
            <input
              id="rule-priority"
              type="number"
              min={0}
              max={1000000000}
              step={1}
              value={draft.priority}
              placeholder="after the last rule"
              class="rules-narrow-input"
              aria-invalid={prioErr ? true : undefined}
              aria-describedby={prioErr ? 'rule-priority-err rule-priority-hint' : 'rule-priority-hint'}
              onInput={(e) => edit({ priority: (e.target as HTMLInputElement).value }, 'priority')}
            />
            <span class="muted rule-type" id="rule-priority-hint">
              Lower runs first; the first live match decides.
            </span>
            {prioErr && (
              <p class="rule-error" id="rule-priority-err">
                {prioErr.message}
              </p>
            )}
          </div>
        </div>
      </section>

      <section class="card rule-section" aria-labelledby="rule-sec-conditions">
        <h2 id="rule-sec-conditions">Conditions</h2>
        <p class="rule-readout">
          <span class="muted">Reads as: </span>
          <code data-testid="rule-readout">{readout(cat, draft.conditions)}</code>
        </p>
        <ConditionTree cat={cat} lists={lists} root={draft.conditions} errors={nodeErrors} onChange={onTree} />
      </section>

      <section class="card rule-section" aria-labelledby="rule-sec-action">
        <h2 id="rule-sec-action">Action</h2>
        <ActionEditor
          verdict={draft.verdict}
          sideEffects={draft.sideEffects}
          lists={lists}
          problems={problems}
          onVerdict={(verdict) => edit({ verdict }, 'action.verdict')}
          onSideEffects={(sideEffects) => edit({ sideEffects }, 'action.sideEffects')}
        />
        <p class="rule-group-hint">
          <button type="button" class="link" onClick={props.reloadLists}>
            Reload lists
          </button>{' '}
          <span class="muted">after creating one on the</span> <Link href="/lists">Lists page</Link>
        </p>
      </section>

      <section class="card rule-section" aria-labelledby="rule-sec-test">
        <h2 id="rule-sec-test">Backtest before saving</h2>
        <BacktestPanel
          state={{ ...backtest, stale }}
          days={days}
          sampleSize={sampleSize}
          onDays={(v) => {
            setDays(v);
            setProblems((ps) => ps.filter((p) => p.field !== 'days'));
          }}
          onSampleSize={(v) => {
            setSampleSize(v);
            setProblems((ps) => ps.filter((p) => p.field !== 'sampleSize'));
          }}
          onRun={runBacktest}
          problems={problems}
        />
      </section>

      <div class="rule-savebar">
        <button type="button" class="primary" onClick={save} aria-describedby="rule-save-state">
          Save rule
        </button>
        <span class="muted" id="rule-save-state" aria-live="polite">
          {saving ? 'Saving…' : dirty ? 'Unsaved changes' : rule ? `Version ${rule.version} saved` : ''}
        </span>
      </div>

      {props.ruleId && rule && (
        <section class="card rule-section" aria-labelledby="rule-sec-versions">
          <h2 id="rule-sec-versions">Versions</h2>
          <RuleVersions client={client} ruleId={props.ruleId} reloadToken={versionsToken} />
        </section>
      )}

      <ConfirmDialog
        open={confirmDelete}
        title="Delete this rule?"
        confirmLabel={deleting ? 'Deleting…' : 'Delete rule'}
        danger
        busy={deleting}
        onConfirm={doDelete}
        onCancel={() => setConfirmDelete(false)}
      >
        <p>
          “{rule?.name}” stops being evaluated at once and disappears from the rules. Events it already decided keep naming it
          and its version. This cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}
