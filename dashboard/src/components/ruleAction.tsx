// The action part of the rule editor: the verdict a live match sets and its side effects
// (add to or remove from a list, tag the event), with list pickers filled from the
// environment's lists.
import type { Schemas } from '../api';
import { VERDICTS, type Problem, type SideEffectDraft, type Verdict } from '../rulesModel';

const EFFECT_LABELS: Record<SideEffectDraft['type'], string> = {
  addToList: 'Add to list',
  removeFromList: 'Remove from list',
  tag: 'Tag the event',
};

const VERDICT_HINTS: Record<Verdict, string> = {
  allow: 'let the request through',
  challenge: 'ask for more proof (2FA, CAPTCHA…)',
  block: 'refuse the request',
};

export function ActionEditor(props: {
  verdict: Verdict;
  sideEffects: SideEffectDraft[];
  lists: Schemas['ListView'][];
  problems: Problem[];
  onVerdict: (v: Verdict) => void;
  onSideEffects: (s: SideEffectDraft[]) => void;
}) {
  const { sideEffects, lists } = props;
  const problemAt = (path: string) => props.problems.filter((p) => p.field === path || p.field.startsWith(path + '.') || p.field.startsWith(path + '['));
  const verdictErr = problemAt('action.verdict');
  const setAt = (i: number, s: SideEffectDraft) => props.onSideEffects(sideEffects.map((x, k) => (k === i ? s : x)));
  const add = () => {
    const next: SideEffectDraft = { type: 'addToList', list: lists[0]?.name ?? '', ttl: '' };
    props.onSideEffects([...sideEffects, next]);
    requestAnimationFrame(() => document.getElementById(`effect-${sideEffects.length}-type`)?.focus());
  };
  const remove = (i: number) => {
    props.onSideEffects(sideEffects.filter((_, k) => k !== i));
    requestAnimationFrame(() => document.getElementById('effect-add')?.focus());
  };

  return (
    <div class="rule-action">
      <div class="rule-ctl">
        <label for="rule-verdict">Verdict</label>
        <select
          id="rule-verdict"
          value={props.verdict}
          aria-invalid={verdictErr.length ? true : undefined}
          aria-describedby={verdictErr.length ? 'rule-verdict-err' : 'rule-verdict-hint'}
          onChange={(e) => props.onVerdict((e.target as HTMLSelectElement).value as Verdict)}
        >
          {VERDICTS.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
        <span class="muted rule-type" id="rule-verdict-hint">
          {VERDICT_HINTS[props.verdict]}
        </span>
        {verdictErr.length > 0 && (
          <p class="rule-error" id="rule-verdict-err">
            {verdictErr.map((p) => p.message).join(' ')}
          </p>
        )}
      </div>
      <h3>Side effects</h3>
      <p class="muted rule-group-hint">Run only when this rule decides an event as a live rule.</p>
      {sideEffects.length === 0 && <p class="muted">None.</p>}
      <ol class="rule-effects">
        {sideEffects.map((s, i) => {
          const base = `action.sideEffects[${i}]`;
          const errs = problemAt(base);
          const errOn = (part: string) => errs.some((p) => p.field === `${base}.${part}`);
          const errId = `effect-${i}-err`;
          const desc = (part: string) => (errOn(part) ? errId : undefined);
          return (
            <li key={i} class={`rule-effect${errs.length ? ' has-error' : ''}`} role="group" aria-label={`Side effect ${i + 1}`} id={`effect-${i}`} tabIndex={-1}>
              <div class="rule-cond-controls">
                <div class="rule-ctl">
                  <label for={`effect-${i}-type`}>Side effect</label>
                  <select
                    id={`effect-${i}-type`}
                    value={s.type}
                    onChange={(e) => {
                      const type = (e.target as HTMLSelectElement).value as SideEffectDraft['type'];
                      const list = 'list' in s ? s.list : lists[0]?.name ?? '';
                      setAt(i, type === 'tag' ? { type, key: '', value: '' } : type === 'addToList' ? { type, list, ttl: '' } : { type, list });
                    }}
                  >
                    {(Object.keys(EFFECT_LABELS) as SideEffectDraft['type'][]).map((t) => (
                      <option key={t} value={t}>
                        {EFFECT_LABELS[t]}
                      </option>
                    ))}
                  </select>
                </div>
                {s.type === 'tag' ? (
                  <>
                    <div class="rule-ctl">
                      <label for={`effect-${i}-key`}>Tag key</label>
                      <input
                        id={`effect-${i}-key`}
                        type="text"
                        value={s.key}
                        maxLength={64}
                        aria-invalid={errOn('key') || undefined}
                        aria-describedby={desc('key')}
                        onInput={(e) => setAt(i, { ...s, key: (e.target as HTMLInputElement).value })}
                      />
                    </div>
                    <div class="rule-ctl">
                      <label for={`effect-${i}-value`}>Tag value</label>
                      <input
                        id={`effect-${i}-value`}
                        type="text"
                        value={s.value}
                        maxLength={200}
                        aria-invalid={errOn('value') || undefined}
                        aria-describedby={desc('value')}
                        onInput={(e) => setAt(i, { ...s, value: (e.target as HTMLInputElement).value })}
                      />
                    </div>
                  </>
                ) : (
                  <>
                    <div class="rule-ctl">
                      <label for={`effect-${i}-list`}>List</label>
                      <select
                        id={`effect-${i}-list`}
                        value={s.list}
                        aria-invalid={errOn('list') || undefined}
                        aria-describedby={desc('list')}
                        onChange={(e) => setAt(i, { ...s, list: (e.target as HTMLSelectElement).value })}
                      >
                        {!s.list && <option value="">{lists.length ? 'Choose a list' : 'No list exists'}</option>}
                        {s.list && !lists.some((l) => l.name === s.list) && <option value={s.list}>{s.list} (not found)</option>}
                        {lists.map((l) => (
                          <option key={l.id} value={l.name}>
                            {l.name} ({l.type})
                          </option>
                        ))}
                      </select>
                    </div>
                    {s.type === 'addToList' && (
                      <div class="rule-ctl">
                        <label for={`effect-${i}-ttl`}>TTL in seconds (optional)</label>
                        <input
                          id={`effect-${i}-ttl`}
                          type="number"
                          min={1}
                          max={315360000}
                          step={1}
                          value={s.ttl}
                          placeholder="the list's"
                          aria-invalid={errOn('ttl') || undefined}
                          aria-describedby={desc('ttl')}
                          onInput={(e) => setAt(i, { ...s, ttl: (e.target as HTMLInputElement).value })}
                        />
                      </div>
                    )}
                  </>
                )}
                <button type="button" class="rule-remove" aria-label={`Remove side effect ${i + 1}`} onClick={() => remove(i)}>
                  Remove
                </button>
              </div>
              {errs.length > 0 && (
                <p class="rule-error" id={errId}>
                  {errs.map((p) => p.message).join(' ')}
                </p>
              )}
            </li>
          );
        })}
      </ol>
      <button type="button" id="effect-add" onClick={add} disabled={sideEffects.length >= 10}>
        Add side effect
      </button>
    </div>
  );
}
