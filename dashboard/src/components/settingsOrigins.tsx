// The allowed-origins editor of the settings page: each origin editable and removable, a field
// to add one, and the checks of the API's pattern (scheme://host[:port], http or https, a host
// name or bracketed IPv6 address, a port from 1 to 65535, nothing after it) before saving.
import { useState } from 'preact/hooks';
import { describedBy, FieldNote } from './settingsFields';

/** The API's pattern for an origin (from the OpenAPI document). */
const ORIGIN = /^[Hh][Tt][Tt][Pp][Ss]?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)(:\+?[0-9]+)?$/;
export const MAX_ORIGINS = 100;

/** Why `text` is not an origin the API takes, or undefined when it is. */
export function originProblem(text: string): string | undefined {
  const t = text.trim();
  if (t === '') return 'Enter an origin such as https://shop.example.';
  if (t.length > 255) return 'An origin is at most 255 characters.';
  if (!ORIGIN.test(t)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t) && !/^https?:\/\//i.test(t)) return 'The scheme is http or https.';
    if (!/^https?:\/\//i.test(t)) return 'Start with https:// (or http://), e.g. https://shop.example.';
    if (/^https?:\/\/[^/?#]+[/?#]/i.test(t)) return 'An origin has nothing after the host and port: no path, query or fragment.';
    return 'An origin is scheme://host[:port], e.g. https://shop.example or http://localhost:3000.';
  }
  const m = /^https?:\/\/(\[[^\]]+\]|[^:]+)(?::\+?(\d+))?$/i.exec(t);
  if (m) {
    const host = m[1];
    if (!host.startsWith('[')) {
      if (host.length > 253) return 'A host name is at most 253 characters.';
      if (host.split('.').some((l) => l.length > 63)) return 'Each label of a host name is at most 63 characters.';
    }
    if (m[2] !== undefined) {
      const port = Number(m[2]);
      if (port < 1 || port > 65535) return 'A port is from 1 to 65535.';
    }
  }
  return undefined;
}

/** The origin as the server stores it: lower case, without the scheme's default port. */
export function normaliseOrigin(text: string): string {
  const t = text.trim().toLowerCase().replace(':+', ':');
  return t.replace(/^(https:\/\/.+):443$/, '$1').replace(/^(http:\/\/.+):80$/, '$1');
}

export function OriginsEditor(props: {
  origins: string[];
  onChange: (origins: string[]) => void;
  /** Problems by row: found here before saving, or named by the server (`allowedOrigins[i]`). */
  errors: (string | undefined)[];
  listError?: string;
}) {
  const [draft, setDraft] = useState('');
  const [addError, setAddError] = useState<string | undefined>();

  function add(e: Event) {
    e.preventDefault();
    const problem = originProblem(draft);
    if (problem) {
      setAddError(problem);
      return;
    }
    if (props.origins.some((o) => normaliseOrigin(o) === normaliseOrigin(draft))) {
      setAddError('This origin is already in the list.');
      return;
    }
    if (props.origins.length >= MAX_ORIGINS) {
      setAddError(`At most ${MAX_ORIGINS} origins.`);
      return;
    }
    props.onChange([...props.origins, draft.trim()]);
    setDraft('');
    setAddError(undefined);
  }

  return (
    <div class="origins-editor">
      {props.origins.length === 0 ? (
        <p class="banner info">No origin listed: browsers on any origin may call identify with your public key.</p>
      ) : (
        <ul class="origins" aria-label="Allowed origins">
          {props.origins.map((o, i) => {
            const err = props.errors[i];
            const id = `origin-${i}`;
            return (
              <li key={i}>
                <div>
                  <label class="sr-only" for={id}>
                    Allowed origin {i + 1}
                  </label>
                  <input
                    id={id}
                    value={o}
                    spellcheck={false}
                    autoComplete="off"
                    onInput={(e) => props.onChange(props.origins.map((x, j) => (j === i ? e.currentTarget.value : x)))}
                    {...describedBy(`${id}-note`, err)}
                  />
                  <FieldNote id={`${id}-note`} error={err} />
                </div>
                <button type="button" class="danger-outline" aria-label={`Remove origin ${o || i + 1}`} onClick={() => props.onChange(props.origins.filter((_, j) => j !== i))}>
                  Remove
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {props.listError ? <p class="field-error">{props.listError}</p> : null}
      {/* Not a nested form: Enter in the field adds, through the key handler. */}
      <div class="origin-add">
        <div>
          <label for="origin-new">Add an origin</label>
          <input
            id="origin-new"
            value={draft}
            placeholder="https://shop.example"
            spellcheck={false}
            autoComplete="off"
            onInput={(e) => {
              setDraft(e.currentTarget.value);
              setAddError(undefined);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter') add(e);
            }}
            {...describedBy('origin-new-note', addError, true)}
          />
          <FieldNote id="origin-new-note" error={addError}>
            scheme://host[:port], e.g. https://shop.example or http://localhost:3000.
          </FieldNote>
        </div>
        <button type="button" onClick={add}>
          Add origin
        </button>
      </div>
    </div>
  );
}
