// Bulk changes of a list's entries: values pasted or read from a CSV file, added (with an
// optional TTL) or removed in requests of at most 1,000 values, the API's limit per request,
// with the progress of each request and what the API answered.
import { useRef, useState } from 'preact/hooks';
import { ApiFailure, unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ErrorBanner, formatNumber } from './common';
import { chunks, formatTtl, NO_TTL, parseCsvFile, parsePasted, TtlInput, ttlSeconds, type ListType, type ParsedValues, type TtlDraft } from './listShared';
import { fieldIndex } from './settingsFields';

/** The API applies at most this many values per request, all or none. */
export const BATCH = 1000;

type Mode = 'add' | 'remove';

interface Progress {
  mode: Mode;
  done: number;
  total: number;
  batch: number;
  batches: number;
  added: number;
  removed: number;
  finished: boolean;
}

const PLACEHOLDER: Record<ListType, string> = {
  visitor: 'pv_8kX2mNqR3jT7p\npv_3Jm9QxW2ZbT4r',
  ip: '203.0.113.7\n198.51.100.0/24, 2001:db8::/32',
  email: 'fraud@example.com\nbuyer@example.org',
};

export function ListBulkEditor(props: { list: Schemas['ListView']; onChanged: () => void }) {
  const { client } = useSession();
  const [text, setText] = useState('');
  const [file, setFile] = useState<{ name: string; parsed: ParsedValues } | null>(null);
  const [ttl, setTtl] = useState<TtlDraft>(NO_TTL);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<unknown>();
  const [failedValue, setFailedValue] = useState<string | undefined>();
  const [ttlError, setTtlError] = useState<string | undefined>();
  const fileInput = useRef<HTMLInputElement>(null);
  const running = progress !== null && !progress.finished;

  const pasted = parsePasted(text);
  const values = [...pasted.values];
  if (file) {
    const seen = new Set(values);
    for (const v of file.parsed.values) if (!seen.has(v)) values.push(v);
  }
  const duplicates = pasted.duplicates + (file ? file.parsed.duplicates + file.parsed.values.length - (values.length - pasted.values.length) : 0);

  async function readFile(f: File | undefined) {
    setError(undefined);
    if (!f) {
      setFile(null);
      return;
    }
    try {
      const content = await f.text();
      setFile({ name: f.name, parsed: parseCsvFile(content, props.list.type) });
    } catch (err) {
      setFile(null);
      setError(new Error(`Cannot read ${f.name}: ${(err as Error).message}`));
    }
  }

  async function run(mode: Mode) {
    setError(undefined);
    setFailedValue(undefined);
    setTtlError(undefined);
    const t = ttlSeconds(ttl);
    if (mode === 'add' && t.error) {
      setTtlError(t.error);
      return;
    }
    if (values.length === 0) {
      setError(new Error('Paste some values or choose a CSV file first.'));
      return;
    }
    const batches = chunks(values, BATCH);
    const p: Progress = { mode, done: 0, total: values.length, batch: 0, batches: batches.length, added: 0, removed: 0, finished: false };
    setProgress({ ...p });
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i];
      p.batch = i + 1;
      setProgress({ ...p });
      try {
        const body =
          mode === 'add'
            ? { add: batch, ...(t.seconds !== null ? { ttl: t.seconds } : {}) }
            : { remove: batch };
        const res = await unwrap(client.POST('/v1/lists/{listId}/entries', { params: { path: { listId: props.list.id } }, body }));
        p.done += batch.length;
        p.added += res.added;
        p.removed += res.removed;
        setProgress({ ...p });
      } catch (err) {
        // A request is applied whole or not at all: the batches before it stay applied.
        const idx = fieldIndex(err, mode);
        if (idx !== undefined && batch[idx] !== undefined) setFailedValue(batch[idx]);
        if (err instanceof ApiFailure && err.field === 'ttl') setTtlError(err.message);
        setError(err);
        p.finished = true;
        setProgress({ ...p });
        props.onChanged();
        return;
      }
    }
    p.finished = true;
    setProgress({ ...p });
    setText('');
    setFile(null);
    if (fileInput.current) fileInput.current.value = '';
    props.onChanged();
  }

  const verb = progress?.mode === 'add' ? 'Adding' : 'Removing';
  return (
    <section class="card list-bulk" aria-labelledby="bulk-title">
      <h2 id="bulk-title">Add or remove in bulk</h2>
      <label for="bulk-values">Values (one per line or comma separated)</label>
      <textarea
        id="bulk-values"
        value={text}
        rows={6}
        placeholder={PLACEHOLDER[props.list.type]}
        spellcheck={false}
        aria-describedby="bulk-values-hint"
        onInput={(e) => setText(e.currentTarget.value)}
        disabled={running}
      />
      <p id="bulk-values-hint" class="field-hint">
        Each value must be of the list's type ({props.list.type}). Quotes around a value are removed.
      </p>
      <label for="bulk-file">Or a CSV file (first column)</label>
      <input id="bulk-file" ref={fileInput} type="file" accept=".csv,.txt,text/csv,text/plain" aria-describedby="bulk-file-hint" disabled={running} onChange={(e) => readFile(e.currentTarget.files?.[0])} />
      <p id="bulk-file-hint" class="field-hint">
        The first row is skipped when it does not look like a value (a header); quoted fields are read as CSV.
        {file ? (
          <>
            {' '}
            <strong>{file.name}</strong>: {formatNumber(file.parsed.values.length)} values
            {file.parsed.skippedHeader !== undefined ? <> (header “{file.parsed.skippedHeader}” skipped)</> : null}.
          </>
        ) : null}
      </p>
      <TtlInput id="bulk-ttl" legend="TTL of added entries (optional)" value={ttl} onChange={setTtl} error={ttlError} hint={props.list.ttl ? `Leave empty to use the list's TTL (${formatTtl(props.list.ttl)}).` : 'Leave empty for permanent entries (the list has no TTL).'} />
      <p class="muted" aria-live="polite">
        {formatNumber(values.length)} distinct {values.length === 1 ? 'value' : 'values'} ready
        {duplicates > 0 ? `, ${formatNumber(duplicates)} duplicate${duplicates === 1 ? '' : 's'} dropped` : ''}
        {values.length > BATCH ? `; sent in ${Math.ceil(values.length / BATCH)} requests of at most ${formatNumber(BATCH)}` : ''}.
      </p>
      <div class="actions">
        <button type="button" class="primary" disabled={running || values.length === 0} onClick={() => run('add')}>
          Add entries
        </button>
        <button type="button" class="danger-outline" disabled={running || values.length === 0} onClick={() => run('remove')}>
          Remove entries
        </button>
      </div>
      {progress ? (
        <div class="bulk-progress" role="status" aria-live="polite">
          <label for="bulk-progress-bar">
            {progress.finished ? (progress.mode === 'add' ? 'Added' : 'Removed') : verb}: {formatNumber(progress.done)} of {formatNumber(progress.total)} values sent
            {progress.batches > 1 ? ` (request ${progress.batch} of ${progress.batches})` : ''}
          </label>
          <progress id="bulk-progress-bar" max={progress.total} value={progress.done} />
          {progress.finished && !error ? (
            <p class="banner ok">
              {progress.mode === 'add'
                ? `${formatNumber(progress.added)} new ${progress.added === 1 ? 'entry' : 'entries'} added (values already in the list were kept, with their added time and expiry renewed).`
                : `${formatNumber(progress.removed)} ${progress.removed === 1 ? 'entry' : 'entries'} removed (values not in the list are ignored).`}
            </p>
          ) : null}
        </div>
      ) : null}
      {error ? (
        <>
          <ErrorBanner error={error} />
          {progress && progress.done > 0 ? (
            <p class="banner info">
              The first {formatNumber(progress.done)} values were applied; the request with the rest was refused whole, so nothing of it was applied.
            </p>
          ) : null}
          {failedValue !== undefined ? (
            <p class="banner info">
              Offending value: <code>{failedValue}</code>. Fix or remove it and send again.
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
