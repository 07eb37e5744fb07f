// The visual condition tree of the rule editor: nested AND / OR / NOT groups and condition rows
// whose field, operator and value controls follow the server's field catalogue. Each group and
// row is a named group ("Root group", "Group 2", "Condition 3") so that the same labels
// ("Field", "Operator", "Value") repeat per row and stay unambiguous for assistive technology.
import { useEffect, useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import type { Schemas } from '../api';
import { fieldGroups, type Catalogue, type OperatorChoice } from '../rulesCatalogue';
import {
  choiceFor,
  countLeaves,
  emptyGroup,
  findParent,
  listsForField,
  mapNode,
  newCondition,
  numbering,
  removeNode,
  withField,
  withOperator,
  type ECond,
  type EGroup,
  type ENode,
  type GroupOperator,
  type NodeError,
} from '../rulesModel';

export const MAX_DEPTH = 8;
export const MAX_LEAVES = 100;

/** Focuses the element with a DOM id once the next render is on screen. */
export function useFocusRequest(): (domId: string | string[]) => void {
  const [target, setTarget] = useState<{ ids: string[] } | null>(null);
  useEffect(() => {
    if (!target) return;
    for (const id of target.ids) {
      const el = document.getElementById(id);
      if (el && !(el as HTMLButtonElement).disabled) {
        el.focus();
        break;
      }
    }
    setTarget(null);
  }, [target]);
  return (ids) => setTarget({ ids: Array.isArray(ids) ? ids : [ids] });
}

interface TreeProps {
  cat: Catalogue;
  lists: Schemas['ListView'][];
  root: EGroup;
  errors: NodeError[];
  onChange: (root: EGroup, editedNodeId?: string) => void;
}

interface Ctx extends TreeProps {
  numbers: Map<string, number>;
  leaves: number;
  focus: (domId: string | string[]) => void;
  announce: (msg: string) => void;
}

const GROUP_HINTS: Record<GroupOperator, string> = {
  AND: 'Matches when every condition below matches.',
  OR: 'Matches when at least one condition below matches.',
  NOT: 'Matches when the one condition or group below does not match (a missing field stays unknown).',
};

export function ConditionTree(props: TreeProps) {
  const focus = useFocusRequest();
  const [message, setMessage] = useState('');
  const ctx: Ctx = { ...props, numbers: numbering(props.root), leaves: countLeaves(props.root), focus, announce: setMessage };
  return (
    <div class="rule-tree">
      <GroupView ctx={ctx} group={props.root} depth={1} />
      <p class="sr-only" role="status" aria-live="polite">
        {message}
      </p>
    </div>
  );
}

function errorsFor(ctx: Ctx, id: string): NodeError[] {
  return ctx.errors.filter((e) => e.nodeId === id);
}

function ErrorText(props: { id: string; errors: NodeError[] }) {
  if (!props.errors.length) return null;
  return (
    <p class="rule-error" id={props.id}>
      {props.errors.map((e) => e.message).join(' ')}
    </p>
  );
}

function GroupView(props: { ctx: Ctx; group: EGroup; depth: number }) {
  const { ctx, group: g, depth } = props;
  const isRoot = g === ctx.root;
  const n = ctx.numbers.get(g.id);
  const name = isRoot ? 'Root group' : `Group ${n}`;
  const errs = errorsFor(ctx, g.id);
  const errId = `${g.id}-err`;
  const canAddCondition = ctx.leaves < MAX_LEAVES;
  const full = g.operator === 'NOT' && g.children.length >= 1;
  const suffix = isRoot ? '' : ` to group ${n}`;

  const update = (next: EGroup) => ctx.onChange(mapNode(ctx.root, g.id, () => next) as EGroup, g.id);

  const setOperator = (op: GroupOperator) => {
    if (op === 'NOT' && g.children.length > 1) {
      // NOT takes exactly one rule: keep the analyst's rules by wrapping them in an AND group.
      const inner: EGroup = { ...emptyGroup('AND'), children: g.children };
      update({ ...g, operator: 'NOT', children: [inner] });
      ctx.announce(`NOT takes one rule: the ${g.children.length} rules of ${name.toLowerCase()} were put in an AND group inside it.`);
      return;
    }
    update({ ...g, operator: op });
  };

  const addCondition = () => {
    const c = newCondition(ctx.cat, ctx.lists);
    update({ ...g, children: [...g.children, c] });
    ctx.focus(`${c.id}-field`);
  };
  const addGroup = () => {
    const inner: EGroup = { ...emptyGroup('AND'), children: canAddCondition ? [newCondition(ctx.cat, ctx.lists)] : [] };
    update({ ...g, children: [...g.children, inner] });
    ctx.focus(`${inner.id}-op-AND`);
  };
  const remove = () => {
    const parent = findParent(ctx.root, g.id);
    ctx.onChange(removeNode(ctx.root, g.id), parent?.id);
    ctx.announce(`${name} removed.`);
    if (parent) ctx.focus([`${parent.id}-add-cond`, `${parent.id}-op-${parent.operator}`]);
  };

  return (
    <div
      class={`rule-group rule-group-${g.operator.toLowerCase()}${isRoot ? ' rule-group-root' : ''}${errs.length ? ' has-error' : ''}`}
      role="group"
      aria-label={name}
      id={g.id}
      tabIndex={-1}
      aria-describedby={errs.length ? errId : undefined}
    >
      <div class="rule-group-head">
        <fieldset class="rule-op">
          <legend>{isRoot ? 'Combine with' : `Group ${n}: combine with`}</legend>
          {(['AND', 'OR', 'NOT'] as GroupOperator[]).map((op) => (
            <label key={op} class="rule-op-choice">
              <input
                type="radio"
                id={`${g.id}-op-${op}`}
                name={`${g.id}-op`}
                value={op}
                checked={g.operator === op}
                onChange={() => setOperator(op)}
              />
              {op}
            </label>
          ))}
        </fieldset>
        {!isRoot && (
          <button type="button" class="rule-remove" id={`${g.id}-remove`} aria-label={`Remove group ${n}`} onClick={remove}>
            Remove group
          </button>
        )}
      </div>
      <p class="rule-group-hint muted">{GROUP_HINTS[g.operator]}</p>
      <ErrorText id={errId} errors={errs} />
      {g.children.length === 0 ? (
        <p class="muted rule-empty">No conditions yet: add a condition or a group.</p>
      ) : (
        <ol class="rule-children">
          {g.children.map((child, i) => (
            <li key={child.id}>
              {i > 0 && (
                <span class="rule-conn" aria-hidden="true">
                  {g.operator}
                </span>
              )}
              {child.kind === 'group' ? (
                <GroupView ctx={ctx} group={child} depth={depth + 1} />
              ) : (
                <ConditionRow ctx={ctx} cond={child} />
              )}
            </li>
          ))}
        </ol>
      )}
      {!full && (
        <div class="rule-group-actions">
          <button
            type="button"
            id={`${g.id}-add-cond`}
            onClick={addCondition}
            disabled={!canAddCondition}
            aria-label={isRoot ? undefined : `Add condition${suffix}`}
          >
            Add condition
          </button>
          {depth < MAX_DEPTH && (
            <button type="button" id={`${g.id}-add-group`} onClick={addGroup} aria-label={isRoot ? undefined : `Add group${suffix}`}>
              Add group
            </button>
          )}
          {!canAddCondition && <span class="muted">A rule has at most {MAX_LEAVES} conditions.</span>}
        </div>
      )}
    </div>
  );
}

function ConditionRow(props: { ctx: Ctx; cond: ECond }) {
  const { ctx, cond: c } = props;
  const n = ctx.numbers.get(c.id);
  const info = ctx.cat.byName.get(c.field);
  const choice = choiceFor(ctx.cat, c.field, c.op);
  const errs = errorsFor(ctx, c.id);
  const errId = `${c.id}-err`;
  const errOn = (part: string) => errs.some((e) => e.part === part);
  // Errors on field, operator or value sit on that control; anything else on the row.
  const rowLevel = errs.filter((e) => !['field', 'operator', 'value'].includes(e.part));
  const describe = (part: string, extra?: string) => [errOn(part) ? errId : '', extra ?? ''].filter(Boolean).join(' ') || undefined;

  const update = (next: ECond) => ctx.onChange(mapNode(ctx.root, c.id, () => next) as EGroup, c.id);
  const remove = () => {
    const parent = findParent(ctx.root, c.id);
    ctx.onChange(removeNode(ctx.root, c.id), parent?.id);
    ctx.announce(`Condition ${n} removed.`);
    if (parent) ctx.focus([`${parent.id}-add-cond`, `${parent.id}-op-${parent.operator}`]);
  };

  return (
    <div
      class={`rule-cond${errs.length ? ' has-error' : ''}`}
      role="group"
      aria-label={`Condition ${n}`}
      id={c.id}
      tabIndex={-1}
      aria-describedby={rowLevel.length ? errId : undefined}
    >
      <div class="rule-cond-controls">
        <div class="rule-ctl rule-ctl-field">
          <label for={`${c.id}-field`}>Field</label>
          <select
            id={`${c.id}-field`}
            value={c.field}
            aria-invalid={errOn('field') || undefined}
            aria-describedby={describe('field', `${c.id}-type`)}
            onChange={(e) => update(withField(ctx.cat, c, (e.target as HTMLSelectElement).value, ctx.lists))}
          >
            {!info && <option value={c.field}>{c.field} (unknown)</option>}
            {fieldGroups(ctx.cat.fields).map(([label, fields]) => (
              <optgroup key={label} label={label}>
                {fields.map((f) => (
                  <option key={f.name} value={f.name}>
                    {f.name}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
          <span class="rule-type muted" id={`${c.id}-type`}>
            {info ? info.type : 'not in this server’s catalogue'}
          </span>
        </div>
        <div class="rule-ctl rule-ctl-op">
          <label for={`${c.id}-operator`}>Operator</label>
          <select
            id={`${c.id}-operator`}
            value={c.op}
            aria-invalid={errOn('operator') || undefined}
            aria-describedby={describe('operator')}
            onChange={(e) => update(withOperator(ctx.cat, c, (e.target as HTMLSelectElement).value, ctx.lists))}
          >
            {!choice && <option value={c.op}>{c.op}</option>}
            {(info?.operators ?? []).map((o) => (
              <option key={o.key} value={o.key}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
        <div class="rule-ctl rule-ctl-value">
          <ValueEditor ctx={ctx} cond={c} choice={choice} invalid={errOn('value')} describedBy={describe('value')} onChange={update} />
        </div>
        <button type="button" class="rule-remove" id={`${c.id}-remove`} aria-label={`Remove condition ${n}`} onClick={remove}>
          Remove
        </button>
      </div>
      <ErrorText id={errId} errors={errs} />
    </div>
  );
}

function ValueEditor(props: {
  ctx: Ctx;
  cond: ECond;
  choice: OperatorChoice | undefined;
  invalid: boolean;
  describedBy: string | undefined;
  onChange: (c: ECond) => void;
}) {
  const { ctx, cond: c, choice, invalid } = props;
  const id = `${c.id}-value`;
  const common = { id, 'aria-invalid': invalid || undefined, 'aria-describedby': props.describedBy };
  const set = (raw: string) => props.onChange({ ...c, raw, original: undefined });
  const input = (e: Event) => set((e.target as HTMLInputElement).value);
  const spec = choice?.value;
  if (!spec) {
    return (
      <>
        <label for={id}>Value</label>
        <input {...common} type="text" value={c.original === undefined ? c.raw : JSON.stringify(c.original)} readOnly />
      </>
    );
  }
  switch (spec.kind) {
    case 'none':
      return (
        <>
          <span class="rule-novalue-label" aria-hidden="true">
            Value
          </span>
          <p class="muted rule-novalue" id={id} tabIndex={-1}>
            No value needed
          </p>
        </>
      );
    case 'boolean':
      return (
        <>
          <label for={id}>Value</label>
          <select {...common} value={c.raw === 'false' ? 'false' : 'true'} onChange={input}>
            <option value="true">true</option>
            <option value="false">false</option>
          </select>
        </>
      );
    case 'number':
      return (
        <>
          <label for={id}>Value</label>
          <input {...common} type="number" inputMode="decimal" step="any" min={spec.min} max={spec.max} value={c.raw} onInput={input} />
        </>
      );
    case 'between':
      return (
        <fieldset class="rule-between" aria-describedby={props.describedBy}>
          <legend>Value</legend>
          <label for={id} class="sr-only">
            Low end
          </label>
          <input {...common} aria-describedby={undefined} type="number" step="any" min={spec.min} max={spec.max} value={c.raw} onInput={input} placeholder="low" />
          <span aria-hidden="true">to</span>
          <label for={`${c.id}-value2`} class="sr-only">
            High end
          </label>
          <input
            id={`${c.id}-value2`}
            aria-invalid={invalid || undefined}
            type="number"
            step="any"
            min={spec.min}
            max={spec.max}
            value={c.raw2}
            placeholder="high"
            onInput={(e) => props.onChange({ ...c, raw2: (e.target as HTMLInputElement).value, original: undefined })}
          />
        </fieldset>
      );
    case 'numberArray':
    case 'stringArray': {
      if (spec.kind === 'stringArray' && spec.enum?.length) {
        const chosen = new Set(c.raw.split('\n').filter(Boolean));
        return (
          <>
            <label for={id}>Value</label>
            <select
              {...common}
              multiple
              size={Math.min(5, spec.enum.length)}
              onChange={(e) => set([...(e.target as HTMLSelectElement).selectedOptions].map((o) => o.value).join('\n'))}
            >
              {spec.enum.map((v) => (
                <option key={v} value={v} selected={chosen.has(v)}>
                  {v}
                </option>
              ))}
            </select>
          </>
        );
      }
      const hintId = `${c.id}-hint`;
      return (
        <>
          <label for={id}>Value</label>
          <textarea
            {...common}
            aria-describedby={[props.describedBy, hintId].filter(Boolean).join(' ')}
            rows={2}
            value={c.raw}
            onInput={input}
            spellcheck={false}
          />
          <span class="muted rule-type" id={hintId}>
            {spec.kind === 'numberArray' ? 'One number per line (or comma-separated)' : 'One value per line'}
          </span>
        </>
      );
    }
    case 'list': {
      const lists = listsForField(spec, c.field, ctx.lists);
      const type = spec.listTypes?.[c.field];
      const known = lists.some((l) => l.name === c.raw);
      return (
        <>
          <label for={id}>Value</label>
          <select {...common} value={c.raw} onChange={input}>
            {!c.raw && <option value="">{lists.length ? 'Choose a list' : `No ${type ?? ''} list exists`.replace('  ', ' ')}</option>}
            {c.raw && !known && <option value={c.raw}>{c.raw} (not found)</option>}
            {lists.map((l) => (
              <option key={l.id} value={l.name}>
                {l.name} ({l.entryCount.toLocaleString()} {l.entryCount === 1 ? 'entry' : 'entries'})
              </option>
            ))}
          </select>
          {!lists.length && (
            <span class="muted rule-type">
              <Link href="/lists">Create a {type ?? ''} list</Link>
            </span>
          )}
        </>
      );
    }
    case 'string':
      if (spec.enum?.length) {
        return (
          <>
            <label for={id}>Value</label>
            <select {...common} value={c.raw} onChange={input}>
              {spec.enum.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </>
        );
      }
      return (
        <>
          <label for={id}>Value</label>
          <input
            {...common}
            type="text"
            class={spec.regex ? 'mono' : undefined}
            maxLength={spec.maxLength}
            value={c.raw}
            onInput={input}
            spellcheck={false}
            autoComplete="off"
            placeholder={spec.regex ? 'regular expression' : undefined}
          />
        </>
      );
  }
}

/** Reads the node ids in a tree, for dropping errors of nodes that are gone. */
export function nodeIds(n: ENode, out = new Set<string>()): Set<string> {
  out.add(n.id);
  if (n.kind === 'group') n.children.forEach((c) => nodeIds(c, out));
  return out;
}
