// Form helpers shared by the settings, list and webhook pages: tying an API validation error
// (`field` = `allowedOrigins[1]`, `suspectWeights.bot`, `add[17]`) to the control it is about,
// and a field's hint or error line that the control names with aria-describedby.
import type { ComponentChildren } from 'preact';
import { ApiFailure } from '../api';
import '../pages/settings.css';

/** The message of `error` when its `field` is `field` or a member of it, else undefined. */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiFailure) || !error.field) return undefined;
  const f = error.field;
  if (f === field || f.startsWith(field + '[') || f.startsWith(field + '.')) return error.message;
  return undefined;
}

/** The index of `error`'s field inside the array `field` (`add[17]` -> 17). */
export function fieldIndex(error: unknown, field: string): number | undefined {
  if (!(error instanceof ApiFailure) || !error.field) return undefined;
  const m = new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}\\[(\\d+)\\]`).exec(error.field);
  return m ? Number(m[1]) : undefined;
}

/** A hint or an error under a control; give its id to the control's aria-describedby. */
export function FieldNote(props: { id: string; error?: string; children?: ComponentChildren }) {
  if (props.error) {
    return (
      <p id={props.id} class="field-error">
        {props.error}
      </p>
    );
  }
  if (!props.children) return null;
  return (
    <p id={props.id} class="field-hint">
      {props.children}
    </p>
  );
}

/** A field's ARIA attributes: the note that describes it, and whether it is in error. */
export function describedBy(id: string, error: string | undefined, hasHint = false) {
  return {
    'aria-describedby': error || hasHint ? id : undefined,
    'aria-invalid': error ? true : undefined,
  };
}


/**
 * A table's scrolling box for tables without links or buttons: on a narrow screen it may
 * scroll sideways, so it takes focus (keyboard users scroll it with the arrow keys) and is
 * named after its table.
 */
export function ScrollBox(props: { label: string; class?: string; id?: string; children: ComponentChildren }) {
  return (
    <div id={props.id} class={`table-wrap${props.class ? ' ' + props.class : ''}`} role="region" aria-label={props.label} tabIndex={0}>
      {props.children}
    </div>
  );
}
