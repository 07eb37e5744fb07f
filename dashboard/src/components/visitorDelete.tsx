// GDPR/CCPA erasure of a visitor: a confirmation that names exactly what DELETE
// /v1/visitors/{id} erases (with the visitor's own figures) and that asks for the visitor ID
// to be typed before the button works.
import { useEffect, useState } from 'preact/hooks';
import { unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ConfirmDialog, ErrorBanner, formatNumber } from './common';

/** Events are counted a page of 100 at a time, up to this many pages. */
const COUNT_PAGES = 20;

const plural = (n: number, one: string, many: string) => `${formatNumber(n)} ${n === 1 ? one : many}`;
const howMany = (c: { n: number; capped: boolean }) => (c.capped ? `more than ${formatNumber(c.n)}` : formatNumber(c.n));

/** Counts the visitor's stored events (those the erasure deletes); `capped` past the limit. */
function useEventCount(visitorId: string, active: boolean) {
  const { client } = useSession();
  const [count, setCount] = useState<{ n: number; capped: boolean } | null>(null);
  useEffect(() => {
    if (!active) return;
    let live = true;
    setCount(null);
    (async () => {
      let n = 0;
      let cursor: string | undefined;
      for (let page = 0; page < COUNT_PAGES; page++) {
        const res = await unwrap(
          client.GET('/v1/visitors/{visitorId}/events', { params: { path: { visitorId }, query: { limit: 100, ...(cursor ? { cursor } : {}) } } }),
        );
        n += res.data.length;
        if (!res.hasMore || !res.nextCursor) return { n, capped: false };
        cursor = res.nextCursor;
      }
      return { n, capped: true };
    })().then(
      (c) => live && setCount(c),
      () => live && setCount(null),
    );
    return () => {
      live = false;
    };
  }, [client, visitorId, active]);
  return count;
}

export function VisitorDeleteDialog(props: { visitor: Schemas['VisitorView']; open: boolean; onCancel: () => void; onDeleted: (events: string) => void }) {
  const { client } = useSession();
  const v = props.visitor;
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const count = useEventCount(v.visitorId, props.open);
  const matches = typed.trim() === v.visitorId;

  useEffect(() => {
    if (props.open) {
      setTyped('');
      setError(undefined);
    }
  }, [props.open]);

  async function erase() {
    if (!matches) return;
    setBusy(true);
    setError(undefined);
    try {
      await unwrap(client.DELETE('/v1/visitors/{visitorId}', { params: { path: { visitorId: v.visitorId } } }));
      props.onDeleted(count === null ? 'its events' : `its events (${howMany(count)})`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  // Worded "its stored events (N)" whatever N, so that the sentence always says "events".
  const events = `all its stored events (${count === null ? 'counting…' : howMany(count)})`;
  return (
    <ConfirmDialog
      open={props.open}
      title={`Delete visitor ${v.visitorId}?`}
      confirmLabel="Delete visitor and its data"
      danger
      busy={busy || !matches}
      onConfirm={erase}
      onCancel={props.onCancel}
    >
      <p>For a GDPR or CCPA erasure request, this permanently erases:</p>
      <ul class="erase-list">
        <li>
          the visitor ID <code>{v.visitorId}</code> ({plural(v.totalVisits, 'visit', 'visits')} since {new Date(v.firstSeenAt).toLocaleDateString()}); the same browser
          coming back later, even with its old token, gets a new visitor ID;
        </li>
        <li>
          {events}: its history, event pages and velocity figures;
        </li>
        <li>
          its device profile: {plural(v.devices.length, 'device', 'devices')} and {plural(v.ips.length, 'IP address', 'IP addresses')} seen;
        </li>
        <li>its links to {plural(v.linkedAccounts, 'linked account', 'linked accounts')};</li>
        <li>its counts and its entry in the matching index;</li>
        <li>
          {v.lists.length > 0 ? (
            <>
              its entries in {v.lists.length === 1 ? 'the list' : 'the lists'} {v.lists.map((n, i) => (
                <span key={n}>
                  {i > 0 ? ', ' : ''}
                  <strong>{n}</strong>
                </span>
              ))}
              .
            </>
          ) : (
            'its entries in visitor lists (it is in none now).'
          )}
        </li>
      </ul>
      <p>
        <strong>This cannot be undone.</strong>
      </p>
      <label for="confirm-visitor-id">Visitor ID to confirm</label>
      <input
        id="confirm-visitor-id"
        class="mono confirm-input"
        value={typed}
        autoComplete="off"
        spellcheck={false}
        aria-describedby="confirm-visitor-id-hint"
        onInput={(e) => setTyped(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            erase();
          }
        }}
      />
      <p id="confirm-visitor-id-hint" class="field-hint">
        Type <code>{v.visitorId}</code> to enable the button.
      </p>
      <ErrorBanner error={error} />
    </ConfirmDialog>
  );
}
