// The lists page: every list of the environment with its entries and TTL, a form that creates
// one, and deletion behind a confirmation.
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { ApiFailure, unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ConfirmDialog, ErrorBanner, Loaded, PageTitle, formatNumber, formatTime, useAsync } from '../components/common';
import { describedBy, FieldNote, fieldError } from '../components/settingsFields';
import { LIST_PURPOSES, LIST_TYPE_LABEL, LIST_TYPES, NO_TTL, TtlInput, formatTtl, ttlSeconds, type TtlDraft } from '../components/listShared';
import './lists.css';

type ListView = Schemas['ListView'];

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

function CreateListForm(props: { onCreated: (l: ListView) => void }) {
  const { client } = useSession();
  const [name, setName] = useState('');
  const [type, setType] = useState<Schemas['ListType']>('visitor');
  const [purpose, setPurpose] = useState<'' | Schemas['ListPurpose']>('');
  const [description, setDescription] = useState('');
  const [ttl, setTtl] = useState<TtlDraft>(NO_TTL);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [localErrors, setLocalErrors] = useState<{ name?: string; ttl?: string; description?: string }>({});

  async function submit(e: Event) {
    e.preventDefault();
    const t = ttlSeconds(ttl);
    const errs: typeof localErrors = {};
    if (!NAME_PATTERN.test(name.trim())) errs.name = 'A name is 1 to 100 letters, digits, "_", "." or "-" (snake_case recommended).';
    if (description.length > 500) errs.description = 'A description is at most 500 characters.';
    if (t.error) errs.ttl = t.error;
    setLocalErrors(errs);
    setError(undefined);
    if (Object.keys(errs).length > 0) return;
    setBusy(true);
    try {
      const created = await unwrap(
        client.POST('/v1/lists', {
          body: {
            name: name.trim(),
            type,
            ...(purpose ? { purpose } : {}),
            ...(description.trim() ? { description: description.trim() } : {}),
            ...(t.seconds !== null ? { ttl: t.seconds } : {}),
          },
        }),
      );
      setName('');
      setDescription('');
      setPurpose('');
      setTtl(NO_TTL);
      props.onCreated(created);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  // A taken name is a 409 without a field: it is about the name all the same.
  const conflict = error instanceof ApiFailure && error.code === 'conflict' ? error.message : undefined;
  const nameErr = localErrors.name ?? fieldError(error, 'name') ?? conflict;
  const descErr = localErrors.description ?? fieldError(error, 'description');
  const ttlErr = localErrors.ttl ?? fieldError(error, 'ttl');
  const typeErr = fieldError(error, 'type');
  const purposeErr = fieldError(error, 'purpose');
  const otherError = error && !nameErr && !descErr && !ttlErr && !typeErr && !purposeErr ? error : undefined;
  return (
    <form class="card list-create" onSubmit={submit} aria-labelledby="create-list-title" noValidate>
      <h2 id="create-list-title">Create a list</h2>
      <div class="form-grid">
        <div>
          <label for="list-name">Name</label>
          <input id="list-name" value={name} required maxLength={100} autoComplete="off" onInput={(e) => setName(e.currentTarget.value)} {...describedBy('list-name-note', nameErr, true)} />
          <FieldNote id="list-name-note" error={nameErr}>
            Rules name the list by it, e.g. <code>blocked_visitors</code>.
          </FieldNote>
        </div>
        <div>
          <label for="list-type">Type</label>
          <select id="list-type" value={type} onChange={(e) => setType(e.currentTarget.value as Schemas['ListType'])} {...describedBy('list-type-note', typeErr)}>
            {LIST_TYPES.map((t) => (
              <option key={t} value={t}>
                {t} ({LIST_TYPE_LABEL[t]})
              </option>
            ))}
          </select>
          <FieldNote id="list-type-note" error={typeErr} />
        </div>
        <div>
          <label for="list-purpose">Purpose</label>
          <select id="list-purpose" value={purpose} onChange={(e) => setPurpose(e.currentTarget.value as '' | Schemas['ListPurpose'])} {...describedBy('list-purpose-note', purposeErr, true)}>
            <option value="">none</option>
            {LIST_PURPOSES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
          <FieldNote id="list-purpose-note" error={purposeErr}>
            Allow lists count as evidence of legitimacy in backtests; block IP lists mark addresses as blocklisted.
          </FieldNote>
        </div>
        <div class="wide">
          <label for="list-description">Description (optional)</label>
          <textarea id="list-description" value={description} maxLength={500} rows={2} onInput={(e) => setDescription(e.currentTarget.value)} {...describedBy('list-description-note', descErr)} />
          <FieldNote id="list-description-note" error={descErr} />
        </div>
        <div class="wide">
          <TtlInput id="list-ttl" legend="Entry TTL (optional)" value={ttl} onChange={setTtl} error={ttlErr} hint="How long each entry lives; leave empty for permanent entries." />
        </div>
      </div>
      <ErrorBanner error={otherError} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create list'}
        </button>
      </div>
    </form>
  );
}

export function Lists() {
  const { client } = useSession();
  const lists = useAsync(() => unwrap(client.GET('/v1/lists', {})), [client]);
  const [toDelete, setToDelete] = useState<ListView | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();
  const [notice, setNotice] = useState<string>('');

  async function confirmDelete() {
    if (!toDelete) return;
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await unwrap(client.DELETE('/v1/lists/{listId}', { params: { path: { listId: toDelete.id } } }));
      setNotice(`List ${toDelete.name} was deleted.`);
      setToDelete(null);
      lists.reload();
    } catch (err) {
      setDeleteError(err);
    } finally {
      setDeleting(false);
    }
  }

  return (
    <div class="lists-page">
      <PageTitle>Lists</PageTitle>
      <p class="muted">Visitor IDs, IP addresses and emails that rules can match on. Open a list to search, add or remove its entries.</p>
      <div role="status" aria-live="polite">
        {notice ? <div class="banner ok">{notice}</div> : null}
      </div>
      <Loaded state={lists}>
        {(page) =>
          page.data.length === 0 ? (
            <p class="card">No lists yet: create one below.</p>
          ) : (
            <>
              <div class="table-wrap">
                <table>
                  <caption class="sr-only">Lists</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Type</th>
                      <th scope="col">Purpose</th>
                      <th scope="col">Entries</th>
                      <th scope="col">TTL</th>
                      <th scope="col">Updated</th>
                      <th scope="col">
                        <span class="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.map((l) => (
                      <tr key={l.id}>
                        <td>
                          <Link href={`/lists/${l.id}`}>{l.name}</Link>
                          {l.description ? <div class="muted small">{l.description}</div> : null}
                        </td>
                        <td>{l.type}</td>
                        <td>{l.purpose ?? '—'}</td>
                        <td class="num">{formatNumber(l.entryCount)}</td>
                        <td>{formatTtl(l.ttl)}</td>
                        <td>{formatTime(l.updatedAt)}</td>
                        <td>
                          <button
                            type="button"
                            class="danger-outline"
                            aria-label={`Delete list ${l.name}`}
                            onClick={() => {
                              setDeleteError(undefined);
                              setToDelete(l);
                            }}
                          >
                            Delete
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {page.hasMore ? <p class="muted">Showing the first {page.data.length} of {formatNumber(page.total)} lists.</p> : null}
            </>
          )
        }
      </Loaded>
      <CreateListForm
        onCreated={(l) => {
          setNotice(`List ${l.name} was created.`);
          lists.reload();
        }}
      />
      <ConfirmDialog
        open={toDelete !== null}
        title={toDelete ? `Delete list ${toDelete.name}?` : 'Delete list?'}
        confirmLabel="Delete list"
        danger
        busy={deleting}
        onConfirm={confirmDelete}
        onCancel={() => setToDelete(null)}
      >
        {toDelete ? (
          <>
            <p>
              This deletes the list <strong>{toDelete.name}</strong> and its {formatNumber(toDelete.entryCount)} {toDelete.entryCount === 1 ? 'entry' : 'entries'}.
              Rules that name the list stop matching on it. This cannot be undone.
            </p>
            <ErrorBanner error={deleteError} />
          </>
        ) : null}
      </ConfirmDialog>
    </div>
  );
}
