// The webhooks page: every webhook with its status, events, filters and success rate, and a
// form that creates one and then shows its signing secret once.
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Loaded, OffsetPager, PageTitle, formatPercent, formatTime, useAsync } from '../components/common';
import { describedBy, FieldNote, fieldError } from '../components/settingsFields';
import { checkDraft, describeFilters, filtersOf, NEW_WEBHOOK, SecretOnce, WebhookFields, WebhookStatusBadge, type WebhookDraft } from '../components/webhookShared';
import './webhooks.css';

const PAGE = 20;
const SECRET_PATTERN = /^[!-~]{16,128}$/;

function CreateWebhookForm(props: { onCreated: (w: Schemas['WebhookCreated']) => void }) {
  const { client } = useSession();
  const [draft, setDraft] = useState<WebhookDraft>(NEW_WEBHOOK);
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [local, setLocal] = useState<ReturnType<typeof checkDraft>>({});
  const [secretLocal, setSecretLocal] = useState<string | undefined>();

  async function submit(e: Event) {
    e.preventDefault();
    const problems = checkDraft(draft);
    const s = secret.trim();
    const secretProblem = s && !SECRET_PATTERN.test(s) ? 'A secret is 16 to 128 printable ASCII characters, without spaces.' : undefined;
    setLocal(problems);
    setSecretLocal(secretProblem);
    setError(undefined);
    if (Object.keys(problems).length > 0 || secretProblem) return;
    setBusy(true);
    try {
      const created = await unwrap(
        client.POST('/v1/webhooks', {
          body: {
            url: draft.url.trim(),
            events: draft.events,
            filters: filtersOf(draft),
            ...(draft.description.trim() ? { description: draft.description.trim() } : {}),
            ...(s ? { secret: s } : {}),
          },
        }),
      );
      setDraft(NEW_WEBHOOK);
      setSecret('');
      props.onCreated(created);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const secretErr = secretLocal ?? fieldError(error, 'secret');
  const shown = ['url', 'events', 'description', 'filters', 'secret'].some((f) => fieldError(error, f));
  return (
    <form class="card webhook-create" onSubmit={submit} aria-labelledby="create-webhook-title" noValidate>
      <h2 id="create-webhook-title">Create a webhook</h2>
      <WebhookFields prefix="new-webhook" draft={draft} onChange={setDraft} error={error} local={local} />
      <div class="form-grid">
        <div>
          <label for="new-webhook-secret">Signing secret (optional)</label>
          <input id="new-webhook-secret" value={secret} autoComplete="off" spellcheck={false} maxLength={128} onInput={(e) => setSecret(e.currentTarget.value)} {...describedBy('new-webhook-secret-note', secretErr, true)} />
          <FieldNote id="new-webhook-secret-note" error={secretErr}>
            Leave empty to get a generated <code>whsec_…</code> secret.
          </FieldNote>
        </div>
      </div>
      {!shown ? <ErrorBanner error={error} /> : null}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create webhook'}
        </button>
      </div>
    </form>
  );
}

export function Webhooks() {
  const { client } = useSession();
  const [offset, setOffset] = useState(0);
  const [created, setCreated] = useState<Schemas['WebhookCreated'] | null>(null);
  const hooks = useAsync(() => unwrap(client.GET('/v1/webhooks', { params: { query: { limit: PAGE, offset } } })), [client, offset]);

  return (
    <div class="webhooks-page">
      <PageTitle>Webhooks</PageTitle>
      <p class="muted">
        Prynt POSTs a signed JSON payload to your endpoints on identifications, rule matches and list changes.
      </p>
      {created ? (
        <SecretOnce
          title={`Webhook created: its signing secret`}
          secret={created.secret}
          note={`Verify every payload to ${created.url} with this secret (the X-Prynt-Signature header).`}
          onDone={() => setCreated(null)}
        />
      ) : null}
      {created ? (
        <p>
          <Link href={`/webhooks/${created.id}`}>Open the new webhook</Link> to send a test.
        </p>
      ) : null}
      <Loaded state={hooks}>
        {(page) =>
          page.data.length === 0 ? (
            <p class="card">No webhooks yet: create one below.</p>
          ) : (
            <>
              <div class="table-wrap">
                <table>
                  <caption class="sr-only">Webhooks</caption>
                  <thead>
                    <tr>
                      <th scope="col">URL</th>
                      <th scope="col">Status</th>
                      <th scope="col">Events</th>
                      <th scope="col">Filters</th>
                      <th scope="col" class="num">Success (7 days)</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.map((w) => (
                      <tr key={w.id}>
                        <td class="url">
                          <Link href={`/webhooks/${w.id}`}>{w.url}</Link>
                          {w.description ? <div class="muted small">{w.description}</div> : null}
                        </td>
                        <td>
                          <WebhookStatusBadge status={w.status} />
                        </td>
                        <td>{w.events.join(', ')}</td>
                        <td>{describeFilters(w.filters)}</td>
                        <td class="num">{formatPercent(w.successRate, 0)}</td>
                        <td>{formatTime(w.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {page.total > PAGE || offset > 0 ? <OffsetPager total={page.total} limit={PAGE} offset={offset} onChange={setOffset} label="Webhook pages" /> : null}
            </>
          )
        }
      </Loaded>
      <CreateWebhookForm
        onCreated={(w) => {
          setCreated(w);
          hooks.reload();
        }}
      />
    </div>
  );
}
