// A list's page: its settings, its live entries with search and paging, removal of one entry,
// bulk changes (paste or CSV, with a TTL), and deletion of the list.
import { useEffect, useState } from 'preact/hooks';
import { Link, useLocation } from 'wouter-preact';
import { unwrap } from '../api';
import { useSession } from '../session';
import { ConfirmDialog, ErrorBanner, Loaded, OffsetPager, PageTitle, formatNumber, formatTime, useAsync } from '../components/common';
import { formatTtl } from '../components/listShared';
import { ListBulkEditor } from '../components/listBulk';
import './lists.css';

const PAGE = 25;

/** Entry times in the table, short enough to stay on one line beside long values. */
function shortTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

export function ListPage(props: { listId: string }) {
  const { client } = useSession();
  const [, navigate] = useLocation();
  const [offset, setOffset] = useState(0);
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [notice, setNotice] = useState('');
  const [rowError, setRowError] = useState<unknown>();
  const [removing, setRemoving] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();

  // Searching as one types, once typing pauses, to spare the management rate budget.
  useEffect(() => {
    const t = setTimeout(() => {
      if (search.trim() !== q) {
        setQ(search.trim());
        setOffset(0);
      }
    }, 400);
    return () => clearTimeout(t);
  }, [search]);

  const state = useAsync(
    () =>
      unwrap(
        client.GET('/v1/lists/{listId}', {
          params: { path: { listId: props.listId }, query: { limit: PAGE, offset, ...(q ? { q } : {}) } },
        }),
      ),
    [client, props.listId, offset, q],
  );

  async function removeOne(value: string) {
    setRemoving(value);
    setRowError(undefined);
    try {
      const res = await unwrap(client.POST('/v1/lists/{listId}/entries', { params: { path: { listId: props.listId } }, body: { remove: [value] } }));
      setNotice(res.removed > 0 ? `Removed ${value}.` : `${value} was no longer in the list.`);
      state.reload();
    } catch (err) {
      setRowError(err);
    } finally {
      setRemoving(null);
    }
  }

  async function deleteList() {
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await unwrap(client.DELETE('/v1/lists/{listId}', { params: { path: { listId: props.listId } } }));
      navigate('/lists');
    } catch (err) {
      setDeleteError(err);
      setDeleting(false);
    }
  }

  const list = state.data;
  const title = list ? `List ${list.name}` : `List ${props.listId}`;
  return (
    <div class="lists-page">
      <p class="crumbs">
        <Link href="/lists">Lists</Link> /
      </p>
      <PageTitle
        actions={
          list ? (
            <button type="button" class="danger-outline" onClick={() => setConfirmDelete(true)}>
              Delete list
            </button>
          ) : undefined
        }
      >
        {title}
      </PageTitle>
      <Loaded state={state}>
        {(list) => {
          const rows = list.entries.data;
          return (
            <>
              <section class="card" aria-labelledby="list-about">
                <h2 id="list-about" class="sr-only">
                  About the list
                </h2>
                <dl class="fields">
                  <dt>ID</dt>
                  <dd>
                    <code>{list.id}</code>
                  </dd>
                  <dt>Type</dt>
                  <dd>{list.type}</dd>
                  <dt>Purpose</dt>
                  <dd>{list.purpose ?? 'none'}</dd>
                  <dt>Description</dt>
                  <dd>{list.description ?? '—'}</dd>
                  <dt>Live entries</dt>
                  <dd>{formatNumber(list.entryCount)}</dd>
                  <dt>Entry TTL</dt>
                  <dd>{list.ttl ? formatTtl(list.ttl) : 'none (permanent entries)'}</dd>
                  <dt>Created</dt>
                  <dd>{formatTime(list.createdAt)}</dd>
                  <dt>Updated</dt>
                  <dd>{formatTime(list.updatedAt)}</dd>
                </dl>
              </section>

              <div class="list-columns">
              <section aria-labelledby="entries-title" class="entries">
                <div class="section-head">
                  <h2 id="entries-title">Entries</h2>
                  <a href="#bulk-title" class="jump">
                    Add or remove in bulk
                  </a>
                </div>
                <form
                  class="toolbar"
                  role="search"
                  onSubmit={(e) => {
                    e.preventDefault();
                    setQ(search.trim());
                    setOffset(0);
                  }}
                >
                  <div>
                    <label for="entry-search">Search entries</label>
                    <input id="entry-search" type="search" maxLength={256} value={search} placeholder="Text in the value" onInput={(e) => setSearch(e.currentTarget.value)} />
                  </div>
                  <button type="submit">Search</button>
                  {q ? (
                    <button
                      type="button"
                      onClick={() => {
                        setSearch('');
                        setQ('');
                        setOffset(0);
                      }}
                    >
                      Clear search
                    </button>
                  ) : null}
                </form>
                {q ? (
                  <p class="muted small">
                    {formatNumber(list.entries.total)} {list.entries.total === 1 ? 'entry contains' : 'entries contain'} “{q}”.
                  </p>
                ) : null}
                <div role="status" aria-live="polite">
                  {notice ? <p class="banner ok">{notice}</p> : null}
                </div>
                <ErrorBanner error={rowError} />
                {rows.length === 0 ? (
                  <p class="card">{q ? `No entry contains “${q}”.` : 'This list has no live entries.'}</p>
                ) : (
                  <div class="table-wrap">
                    <table class="entries-table">
                      <caption class="sr-only">Entries of {list.name}</caption>
                      <thead>
                        <tr>
                          <th scope="col">Value</th>
                          <th scope="col" class="added">Added</th>
                          <th scope="col" class="expires">Expires</th>
                          <th scope="col">
                            <span class="sr-only">Actions</span>
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {rows.map((e) => (
                          <tr key={e.value}>
                            <td class="value">
                              {list.type === 'visitor' ? (
                                <Link href={`/visitors/${e.value}`}>
                                  <code>{e.value}</code>
                                </Link>
                              ) : (
                                <code>{e.value}</code>
                              )}
                            </td>
                            <td class="added">
                              <time dateTime={e.addedAt} title={formatTime(e.addedAt)}>
                                {shortTime(e.addedAt)}
                              </time>
                            </td>
                            <td class="expires">
                              {e.expiresAt ? (
                                <time dateTime={e.expiresAt} title={formatTime(e.expiresAt)}>
                                  {shortTime(e.expiresAt)}
                                </time>
                              ) : (
                                'never'
                              )}
                            </td>
                            <td class="row-actions">
                              <button type="button" class="danger-outline" aria-label={`Remove ${e.value}`} disabled={removing === e.value} onClick={() => removeOne(e.value)}>
                                Remove
                              </button>
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
                {list.entries.total > PAGE || offset > 0 ? <OffsetPager total={list.entries.total} limit={PAGE} offset={offset} onChange={setOffset} label="Entry pages" /> : null}
              </section>

              <ListBulkEditor
                list={list}
                onChanged={() => {
                  setNotice('');
                  state.reload();
                }}
              />
              </div>
            </>
          );
        }}
      </Loaded>
      <ConfirmDialog open={confirmDelete} title={`Delete list ${list?.name ?? props.listId}?`} confirmLabel="Delete list and entries" danger busy={deleting} onConfirm={deleteList} onCancel={() => setConfirmDelete(false)}>
        <p>
          This deletes the list <strong>{list?.name}</strong> and its {formatNumber(list?.entryCount)} entries. Rules that name the list stop matching on it. This cannot be undone.
        </p>
        <ErrorBanner error={deleteError} />
      </ConfirmDialog>
    </div>
  );
}
