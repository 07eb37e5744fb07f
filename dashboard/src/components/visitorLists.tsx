// A visitor's list memberships: the lists that hold it (named by the visitor answer, resolved
// to ids through GET /v1/lists), removal from each, and adding it to another visitor list.
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ErrorBanner, useAsync } from './common';

export function VisitorLists(props: { visitor: Schemas['VisitorView']; onChanged: () => void }) {
  const { client } = useSession();
  const v = props.visitor;
  const lists = useAsync(() => unwrap(client.GET('/v1/lists', { params: { query: { type: 'visitor' } } })), [client]);
  const [choice, setChoice] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState('');

  const byName = new Map((lists.data?.data ?? []).map((l) => [l.name, l]));
  const candidates = (lists.data?.data ?? []).filter((l) => !v.lists.includes(l.name));
  const selected = candidates.find((l) => l.id === choice) ?? candidates[0];

  async function change(list: Schemas['ListView'], add: boolean) {
    setBusy(true);
    setError(undefined);
    setNotice('');
    try {
      await unwrap(
        client.POST('/v1/lists/{listId}/entries', {
          params: { path: { listId: list.id } },
          body: add ? { add: [v.visitorId] } : { remove: [v.visitorId] },
        }),
      );
      setNotice(add ? `Added to ${list.name}.` : `Removed from ${list.name}.`);
      setChoice('');
      props.onChanged();
      lists.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card visitor-lists" aria-labelledby="visitor-lists-title">
      <h2 id="visitor-lists-title">Lists</h2>
      {v.lists.length === 0 ? (
        <p class="muted">This visitor is in no list.</p>
      ) : (
        <ul class="memberships">
          {v.lists.map((name) => {
            const l = byName.get(name);
            return (
              <li key={name}>
                {l ? <Link href={`/lists/${l.id}`}>{name}</Link> : <span>{name}</span>}
                {l?.purpose ? <span class="badge">{l.purpose}</span> : null}
                <button type="button" class="danger-outline" disabled={busy || !l} onClick={() => l && change(l, false)}>
                  Remove from {name}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <ErrorBanner error={lists.error} />
      {lists.data ? (
        candidates.length > 0 ? (
          <form
            class="add-to-list"
            onSubmit={(e) => {
              e.preventDefault();
              if (selected) change(selected, true);
            }}
          >
            <div>
              <label for="add-to-list">Visitor list</label>
              <select id="add-to-list" value={selected?.id ?? ''} onChange={(e) => setChoice(e.currentTarget.value)}>
                {candidates.map((l) => (
                  <option key={l.id} value={l.id}>
                    {l.name}
                    {l.purpose ? ` (${l.purpose})` : ''}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" class="primary" disabled={busy || !selected}>
              Add to list
            </button>
          </form>
        ) : (
          <p class="muted small">
            {byName.size === 0 ? (
              <>
                No visitor lists yet: <Link href="/lists">create one</Link> to add this visitor to it.
              </>
            ) : (
              <>
                It is in every visitor list. <Link href="/lists">Create another list</Link> to add it elsewhere.
              </>
            )}
          </p>
        )
      ) : null}
      <div role="status" aria-live="polite">
        {notice ? <p class="banner ok">{notice}</p> : null}
      </div>
      <ErrorBanner error={error} />
    </section>
  );
}
