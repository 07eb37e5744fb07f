// What the webhook pages share: the form fields of a webhook (URL, events, filters), the
// filters in words, status badges, and a signing secret shown once with a copy button.
import { useEffect, useRef, useState } from 'preact/hooks';
import { unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { formatTime } from './common';
import { describedBy, FieldNote, fieldError } from './settingsFields';

export type WebhookEvent = Schemas['WebhookEvent'];
type Verdict = Schemas['Verdict'];

/** The WebhookEvent enum of the API, with what each one delivers. */
export const WEBHOOK_EVENTS: [WebhookEvent, string][] = [
  ['identification', 'every identification'],
  ['rule_match', 'a live or monitor rule matched'],
  ['list_update', "a list's entries changed, or a list was deleted"],
];
const VERDICTS: Verdict[] = ['allow', 'challenge', 'block'];

/** A webhook's editable fields as the form holds them. */
export interface WebhookDraft {
  url: string;
  description: string;
  events: WebhookEvent[];
  verdicts: Verdict[];
  ruleIds: string[];
  bot: 'any' | 'true' | 'false';
}

export const NEW_WEBHOOK: WebhookDraft = {
  url: 'https://',
  description: '',
  events: ['identification', 'rule_match', 'list_update'],
  verdicts: [],
  ruleIds: [],
  bot: 'any',
};

const asArray = <T,>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function draftOf(w: Schemas['WebhookView']): WebhookDraft {
  return {
    url: w.url,
    description: w.description ?? '',
    events: [...w.events],
    verdicts: asArray(w.filters.verdict),
    ruleIds: asArray(w.filters.ruleId),
    bot: w.filters.botDetected === undefined ? 'any' : w.filters.botDetected ? 'true' : 'false',
  };
}

/** The `filters` object of a draft (an empty object: no filter). */
export function filtersOf(d: WebhookDraft): Schemas['WebhookFilters'] {
  const f: Schemas['WebhookFilters'] = {};
  if (d.verdicts.length > 0) f.verdict = d.verdicts;
  if (d.ruleIds.length > 0) f.ruleId = d.ruleIds;
  if (d.bot !== 'any') f.botDetected = d.bot === 'true';
  return f;
}

/** Problems the server would refuse, found before sending. */
export function checkDraft(d: WebhookDraft): Partial<Record<'url' | 'events' | 'description', string>> {
  const errors: Partial<Record<'url' | 'events' | 'description', string>> = {};
  let url: URL | null = null;
  try {
    url = new URL(d.url.trim());
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname) {
    errors.url = 'Enter the full address of your endpoint, e.g. https://api.example.com/hooks/prynt.';
  } else if (url.username || url.password) {
    errors.url = 'The URL may not carry a user name or password.';
  } else if (url.hash) {
    errors.url = 'The URL may not have a #fragment.';
  } else if (d.url.trim().length > 2048) {
    errors.url = 'The URL is at most 2,048 characters.';
  }
  if (d.events.length === 0) errors.events = 'Choose at least one event.';
  if (d.description.length > 500) errors.description = 'A description is at most 500 characters.';
  return errors;
}

/** The filters in words, for tables. */
export function describeFilters(f: Schemas['WebhookFilters']): string {
  const parts: string[] = [];
  const verdicts = asArray(f.verdict);
  const rules = asArray(f.ruleId);
  if (verdicts.length) parts.push(`verdict ${verdicts.join(' or ')}`);
  if (rules.length) parts.push(rules.length === 1 ? `rule ${rules[0]}` : `${rules.length} rules`);
  if (f.botDetected !== undefined) parts.push(f.botDetected ? 'bots only' : 'no bots');
  return parts.length ? parts.join('; ') : 'none';
}

export function WebhookStatusBadge(props: { status: Schemas['WebhookStatus'] }) {
  return <span class={`badge status-${props.status}`}>{props.status}</span>;
}

export function DeliveryStatusBadge(props: { status: Schemas['DeliveryStatus'] }) {
  return <span class={`badge delivery-${props.status}`}>{props.status}</span>;
}

function toggle<T>(list: T[], item: T, on: boolean): T[] {
  return on ? (list.includes(item) ? list : [...list, item]) : list.filter((x) => x !== item);
}

/**
 * The fields of a webhook. `prefix` keeps ids unique; `error` is the last API failure, shown
 * on the field it names; `local` holds the problems found before sending.
 */
export function WebhookFields(props: {
  prefix: string;
  draft: WebhookDraft;
  onChange: (d: WebhookDraft) => void;
  error?: unknown;
  local: Partial<Record<'url' | 'events' | 'description', string>>;
}) {
  const { client } = useSession();
  const { draft, prefix } = props;
  const [rules, setRules] = useState<Schemas['RuleSummary'][] | null>(null);
  const [rulesError, setRulesError] = useState(false);
  useEffect(() => {
    let live = true;
    unwrap(client.GET('/v1/rules', {})).then(
      (r) => live && setRules(r.data),
      () => live && setRulesError(true),
    );
    return () => {
      live = false;
    };
  }, [client]);
  const set = (patch: Partial<WebhookDraft>) => props.onChange({ ...draft, ...patch });
  const urlErr = props.local.url ?? fieldError(props.error, 'url');
  const eventsErr = props.local.events ?? fieldError(props.error, 'events');
  const descErr = props.local.description ?? fieldError(props.error, 'description');
  const verdictErr = fieldError(props.error, 'filters.verdict');
  const ruleErr = fieldError(props.error, 'filters.ruleId');
  const botErr = fieldError(props.error, 'filters.botDetected');
  const filterErr = !verdictErr && !ruleErr && !botErr ? fieldError(props.error, 'filters') : undefined;
  // Rules named by the filter but gone from the listing (deleted) stay visible, to be unticked.
  const known = new Set((rules ?? []).map((r) => r.id));
  const orphans = draft.ruleIds.filter((id) => !known.has(id));
  return (
    <div class="webhook-fields">
      <div class="form-grid">
        <div class="wide">
          <label for={`${prefix}-url`}>Endpoint URL</label>
          <input
            id={`${prefix}-url`}
            type="url"
            value={draft.url}
            required
            maxLength={2048}
            autoComplete="off"
            spellcheck={false}
            onInput={(e) => set({ url: e.currentTarget.value })}
            {...describedBy(`${prefix}-url-note`, urlErr, true)}
          />
          <FieldNote id={`${prefix}-url-note`} error={urlErr}>
            An https URL reachable from the Prynt server (plain http only for loopback on a development server).
          </FieldNote>
        </div>
        <div class="wide">
          <label for={`${prefix}-description`}>Description (optional)</label>
          <input id={`${prefix}-description`} value={draft.description} maxLength={500} onInput={(e) => set({ description: e.currentTarget.value })} {...describedBy(`${prefix}-description-note`, descErr)} />
          <FieldNote id={`${prefix}-description-note`} error={descErr} />
        </div>
      </div>
      <fieldset aria-describedby={`${prefix}-events-note`}>
        <legend>Events</legend>
        <div class="checks">
          {WEBHOOK_EVENTS.map(([ev, what]) => (
            <label class="check" key={ev}>
              <input type="checkbox" checked={draft.events.includes(ev)} onChange={(e) => set({ events: toggle(draft.events, ev, e.currentTarget.checked) })} />
              <span>
                <code>{ev}</code> <span class="muted small">({what})</span>
              </span>
            </label>
          ))}
        </div>
        <FieldNote id={`${prefix}-events-note`} error={eventsErr}>
          Test deliveries are always sent, whatever the events.
        </FieldNote>
      </fieldset>
      <fieldset>
        <legend>Filters</legend>
        <p class="field-hint">Only identifications and rule matches that pass every filter are delivered; list updates always are. Leave a filter empty to let everything through.</p>
        <fieldset class="inner" aria-describedby={verdictErr ? `${prefix}-verdict-note` : undefined}>
          <legend>Verdicts</legend>
          <div class="checks">
            {VERDICTS.map((v) => (
              <label class="check" key={v}>
                <input type="checkbox" checked={draft.verdicts.includes(v)} onChange={(e) => set({ verdicts: toggle(draft.verdicts, v, e.currentTarget.checked) })} />
                {v}
              </label>
            ))}
          </div>
          <FieldNote id={`${prefix}-verdict-note`} error={verdictErr} />
        </fieldset>
        <fieldset class="inner" aria-describedby={`${prefix}-rules-note`}>
          <legend>Rules</legend>
          {rules === null && !rulesError ? <p class="muted small">Loading rules…</p> : null}
          {rulesError ? <p class="field-error">The rules could not be loaded.</p> : null}
          {rules && rules.length === 0 && orphans.length === 0 ? <p class="muted small">No rules yet.</p> : null}
          <div class="rule-checks">
            {(rules ?? []).map((r) => (
              <label class="check" key={r.id}>
                <input type="checkbox" checked={draft.ruleIds.includes(r.id)} onChange={(e) => set({ ruleIds: toggle(draft.ruleIds, r.id, e.currentTarget.checked) })} />
                <span>
                  {r.name} <code class="muted small">{r.id}</code>
                </span>
              </label>
            ))}
            {orphans.map((id) => (
              <label class="check" key={id}>
                <input type="checkbox" checked onChange={(e) => set({ ruleIds: toggle(draft.ruleIds, id, e.currentTarget.checked) })} />
                <span>
                  <code>{id}</code> <span class="muted small">(no such rule now)</span>
                </span>
              </label>
            ))}
          </div>
          <FieldNote id={`${prefix}-rules-note`} error={ruleErr}>
            Rule matches and identifications decided by one of the ticked rules.
          </FieldNote>
        </fieldset>
        <div class="bot-filter">
          <label for={`${prefix}-bot`}>Bot detected</label>
          <select id={`${prefix}-bot`} value={draft.bot} onChange={(e) => set({ bot: e.currentTarget.value as WebhookDraft['bot'] })} {...describedBy(`${prefix}-bot-note`, botErr)}>
            <option value="any">any (no filter)</option>
            <option value="true">only when a bot is detected</option>
            <option value="false">only when no bot is detected</option>
          </select>
          <FieldNote id={`${prefix}-bot-note`} error={botErr ?? filterErr} />
        </div>
      </fieldset>
    </div>
  );
}

/** Copies text to the clipboard, falling back to selecting `input` and the copy command. */
async function copyText(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.select();
    return document.execCommand('copy');
  }
}

/**
 * A signing secret the API shows this once (at creation or rotation), with a copy button and
 * the warning that it cannot be shown again.
 */
export function SecretOnce(props: { secret: string; title: string; note?: string; previousExpiresAt?: string; onDone: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const box = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState<'' | 'yes' | 'no'>('');
  // The secret is the next thing to act on: bring it into view and focus.
  useEffect(() => {
    box.current?.scrollIntoView({ block: 'nearest' });
    input.current?.focus();
    input.current?.select();
  }, [props.secret]);
  return (
    <section class="card secret-once" ref={box} aria-labelledby="secret-title">
      <h2 id="secret-title">{props.title}</h2>
      <p class="banner warn">
        <strong>Copy this secret now.</strong> It is shown only this once: Prynt stores it encrypted and cannot show it again. If you lose it, rotate the secret.
      </p>
      {props.note ? <p>{props.note}</p> : null}
      <label for="secret-value">Signing secret</label>
      <div class="secret-row">
        <input id="secret-value" ref={input} class="mono" readOnly value={props.secret} spellcheck={false} onFocus={(e) => e.currentTarget.select()} />
        <button
          type="button"
          class="primary"
          onClick={async () => setCopied((await copyText(props.secret, input.current)) ? 'yes' : 'no')}
        >
          Copy secret
        </button>
      </div>
      <p class="small" role="status" aria-live="polite">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Could not copy: select the text and copy it by hand.' : ''}
      </p>
      {props.previousExpiresAt ? <p class="small">The previous secret keeps signing beside this one until {formatTime(props.previousExpiresAt)}.</p> : null}
      <div class="actions">
        <button type="button" onClick={props.onDone}>
          I have stored the secret
        </button>
      </div>
    </section>
  );
}
