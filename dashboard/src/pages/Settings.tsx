// The workspace settings of the signed-in environment: allowed origins, suspect-score weights
// and IP masking (PATCH /v1/workspace, only what changed), with the plan and its limits.
import { useState } from 'preact/hooks';
import { ApiFailure, unwrap, type Schemas } from '../api';
import { useSession, useSessionState } from '../session';
import { ErrorBanner, Loaded, PageTitle, formatNumber, useAsync } from '../components/common';
import { describedBy, FieldNote, fieldError, fieldIndex } from '../components/settingsFields';
import { MAX_ORIGINS, normaliseOrigin, originProblem, OriginsEditor } from '../components/settingsOrigins';
import './settings.css';

type Workspace = Schemas['WorkspaceView'];
type WeightName = keyof Schemas['SuspectWeights'];

/** Every signal of SuspectWeights, with its default weight (docs/signals.md). */
const WEIGHTS: [WeightName, string, number][] = [
  ['bot', 'Bot detected', 7],
  ['incognito', 'Incognito window', 4],
  ['vpnTimezone', 'VPN by time zone', 3],
  ['vpnPublic', 'Public VPN range', 4],
  ['relay', 'Privacy relay', 4],
  ['tampered', 'Tampered browser', 8],
  ['emulator', 'Emulator', 14],
  ['tor', 'Tor', 14],
  ['proxy', 'Proxy', 14],
  ['blocklisted', 'Blocklisted IP', 13],
];

interface Draft {
  origins: string[];
  weights: Record<WeightName, string>;
  maskIp: boolean;
}

function draftOf(w: Workspace): Draft {
  const weights = {} as Record<WeightName, string>;
  for (const [k, , def] of WEIGHTS) weights[k] = String(w.suspectWeights[k] ?? def);
  return { origins: [...w.allowedOrigins], weights, maskIp: w.maskIp };
}

function weightProblem(text: string): string | undefined {
  if (text.trim() === '') return 'Enter a weight from 0 to 100.';
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 100) return 'A weight is a whole number from 0 to 100.';
  return undefined;
}

function SettingsForm(props: { workspace: Workspace; onSaved: (w: Workspace) => void }) {
  const { client } = useSession();
  const ws = props.workspace;
  const [draft, setDraft] = useState<Draft>(() => draftOf(ws));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [local, setLocal] = useState<{ origins: (string | undefined)[]; weights: Partial<Record<WeightName, string>> }>({ origins: [], weights: {} });
  const [saved, setSaved] = useState('');

  const initial = draftOf(ws);
  const sameOrigins = draft.origins.length === initial.origins.length && draft.origins.every((o, i) => o.trim() === initial.origins[i]);
  const sameWeights = WEIGHTS.every(([k]) => Number(draft.weights[k]) === Number(initial.weights[k]));
  const dirty = !sameOrigins || !sameWeights || draft.maskIp !== initial.maskIp;

  async function save(e: Event) {
    e.preventDefault();
    setSaved('');
    setError(undefined);
    // Checks first, so that each problem shows on its own field.
    const originErrors = draft.origins.map((o) => originProblem(o));
    const seen = new Map<string, number>();
    draft.origins.forEach((o, i) => {
      const n = normaliseOrigin(o);
      if (!originErrors[i] && seen.has(n)) originErrors[i] = `The same origin as number ${(seen.get(n) ?? 0) + 1}.`;
      seen.set(n, seen.get(n) ?? i);
    });
    const weightErrors: Partial<Record<WeightName, string>> = {};
    for (const [k] of WEIGHTS) {
      const p = weightProblem(draft.weights[k]);
      if (p) weightErrors[k] = p;
    }
    setLocal({ origins: originErrors, weights: weightErrors });
    if (originErrors.some(Boolean) || Object.keys(weightErrors).length > 0) {
      focusFirstInvalid();
      return;
    }
    if (!dirty) {
      setSaved('Nothing changed.');
      return;
    }
    const body: Schemas['UpdateWorkspace'] = {};
    if (!sameOrigins) body.allowedOrigins = draft.origins.map((o) => o.trim());
    if (!sameWeights) {
      const weights: Schemas['SuspectWeights'] = {};
      for (const [k] of WEIGHTS) weights[k] = Number(draft.weights[k]);
      body.suspectWeights = weights;
    }
    if (draft.maskIp !== initial.maskIp) body.maskIp = draft.maskIp;
    setBusy(true);
    try {
      const updated = await unwrap(client.PATCH('/v1/workspace', { body }));
      setDraft(draftOf(updated));
      setSaved('Settings saved.');
      props.onSaved(updated);
    } catch (err) {
      setError(err);
      focusFirstInvalid();
    } finally {
      setBusy(false);
    }
  }

  function focusFirstInvalid() {
    setTimeout(() => document.querySelector<HTMLElement>('.settings-page [aria-invalid="true"]')?.focus(), 0);
  }

  // The server's error, tied to its field (allowedOrigins[1], suspectWeights.bot, maskIp).
  const serverOrigin = fieldIndex(error, 'allowedOrigins');
  const originErrors = draft.origins.map((_, i) => local.origins[i] ?? (serverOrigin === i ? (error as ApiFailure).message : undefined));
  const originsListError = serverOrigin === undefined ? fieldError(error, 'allowedOrigins') : undefined;
  const weightError = (k: WeightName) => local.weights[k] ?? fieldError(error, `suspectWeights.${k}`);
  const weightsError = fieldError(error, 'suspectWeights') && !WEIGHTS.some(([k]) => fieldError(error, `suspectWeights.${k}`)) ? fieldError(error, 'suspectWeights') : undefined;
  const maskError = fieldError(error, 'maskIp');
  const placed = serverOrigin !== undefined || originsListError || WEIGHTS.some(([k]) => fieldError(error, `suspectWeights.${k}`)) || weightsError || maskError;

  return (
    <form onSubmit={save} noValidate aria-label="Workspace settings">
      <section class="card" aria-labelledby="origins-title">
        <h2 id="origins-title">Allowed origins</h2>
        <p class="muted small">
          Web pages on these origins may call identify from a browser with your public key ({draft.origins.length} of {MAX_ORIGINS}). An empty list allows every
          origin.
        </p>
        <OriginsEditor origins={draft.origins} onChange={(origins) => { setDraft({ ...draft, origins }); setSaved(''); }} errors={originErrors} listError={originsListError} />
      </section>

      <section class="card" aria-labelledby="weights-title">
        <h2 id="weights-title">Suspect-score weights</h2>
        <p class="muted small">
          <code>scores.suspect</code> is the sum of the weights of the signals that fired, each from 0 to 100. Changes apply to new identifications.
        </p>
        <div class="weights">
          {WEIGHTS.map(([k, label, def]) => {
            const err = weightError(k);
            const id = `weight-${k}`;
            return (
              <div key={k}>
                <label for={id}>{label}</label>
                <input
                  id={id}
                  type="number"
                  inputMode="numeric"
                  min={0}
                  max={100}
                  step={1}
                  value={draft.weights[k]}
                  onInput={(e) => {
                    setDraft({ ...draft, weights: { ...draft.weights, [k]: e.currentTarget.value } });
                    setSaved('');
                  }}
                  {...describedBy(`${id}-note`, err, true)}
                />
                <FieldNote id={`${id}-note`} error={err}>
                  <code>{k}</code>, default {def}
                </FieldNote>
              </div>
            );
          })}
        </div>
        {weightsError ? <p class="field-error">{weightsError}</p> : null}
      </section>

      <section class="card" aria-labelledby="privacy-title">
        <h2 id="privacy-title">IP masking</h2>
        <label class="check switch">
          <input
            type="checkbox"
            role="switch"
            checked={draft.maskIp}
            onChange={(e) => {
              setDraft({ ...draft, maskIp: e.currentTarget.checked });
              setSaved('');
            }}
            {...describedBy('mask-ip-note', maskError, true)}
          />
          <span>Mask client IP addresses</span>
        </label>
        <FieldNote id="mask-ip-note" error={maskError}>
          From the next event on, events store and show the address with its host part masked (73.162.xxx.xxx, or the first three groups of an IPv6 address).
          Geolocation and velocity still use the full address at the moment of the event; stored events keep what they stored.
        </FieldNote>
      </section>

      <div class="save-bar actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save settings'}
        </button>
        <button
          type="button"
          disabled={busy || !dirty}
          onClick={() => {
            setDraft(draftOf(ws));
            setLocal({ origins: [], weights: {} });
            setError(undefined);
            setSaved('');
          }}
        >
          Discard changes
        </button>
        <span role="status" aria-live="polite" class="saved">
          {saved}
        </span>
      </div>
      {error ? (
        placed ? (
          <p class="banner error" role="alert">
            Not saved: {(error as Error).message} The field is marked above.
          </p>
        ) : (
          <ErrorBanner error={error} />
        )
      ) : null}
    </form>
  );
}

export function Settings() {
  const { client } = useSession();
  const { refreshWorkspace } = useSessionState();
  const ws = useAsync(() => unwrap(client.GET('/v1/workspace')), [client]);
  const [current, setCurrent] = useState<Workspace | null>(null);
  const w = current ?? ws.data;
  return (
    <div class="settings-page">
      <PageTitle>Settings</PageTitle>
      <Loaded state={ws}>
        {() =>
          w ? (
            <>
              <p class="muted">
                Workspace <strong>{w.name}</strong> (<code>{w.id}</code>), <strong>{w.environment}</strong> environment: these settings apply to {w.environment} keys
                only.
              </p>
              <SettingsForm
                workspace={w}
                onSaved={(u) => {
                  setCurrent(u);
                  // The header shows the workspace too; a failure here leaves only it stale.
                  refreshWorkspace().catch(() => undefined);
                }}
              />
              <section class="card" aria-labelledby="plan-title">
                <h2 id="plan-title">Plan and limits</h2>
                <dl class="fields">
                  <dt>Plan</dt>
                  <dd>{w.plan}</dd>
                  <dt>Server API</dt>
                  <dd>{formatNumber(w.limits.serverApiPerMinute)} requests a minute</dd>
                  <dt>Management API</dt>
                  <dd>{formatNumber(w.limits.managementApiPerMinute)} requests a minute</dd>
                  <dt>Burst</dt>
                  <dd>{formatNumber(w.limits.burstPerSecond)} requests a second</dd>
                  <dt>Identify</dt>
                  <dd>{formatNumber(w.limits.identifyPerSecond)} requests a second</dd>
                </dl>
                <p class="muted small">The plan is changed by the operator (prynt workspaces update).</p>
              </section>
            </>
          ) : null
        }
      </Loaded>
    </div>
  );
}
