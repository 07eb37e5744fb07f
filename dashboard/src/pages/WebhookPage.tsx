// A webhook's page: its settings, pause and resume, editing its URL, events and filters, a test
// send, secret rotation (the new secret shown once), deletion, and the deliveries log.
import { useState } from 'preact/hooks';
import { Link, useLocation } from 'wouter-preact';
import { unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ConfirmDialog, ErrorBanner, Loaded, PageTitle, formatPercent, formatTime, useAsync } from '../components/common';
import { fieldError } from '../components/settingsFields';
import { checkDraft, describeFilters, draftOf, filtersOf, SecretOnce, WebhookFields, WebhookStatusBadge, type WebhookDraft } from '../components/webhookShared';
import { WebhookDeliveries } from '../components/webhookDeliveries';
import './webhooks.css';

type Webhook = Schemas['WebhookView'];

function EditWebhook(props: { webhook: Webhook; onSaved: (w: Webhook) => void }) {
  const { client } = useSession();
  const [draft, setDraft] = useState<WebhookDraft>(() => draftOf(props.webhook));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [local, setLocal] = useState<ReturnType<typeof checkDraft>>({});
  const [saved, setSaved] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const problems = checkDraft(draft);
    setLocal(problems);
    setError(undefined);
    setSaved(false);
    if (Object.keys(problems).length > 0) return;
    setBusy(true);
    try {
      const w = await unwrap(
        client.PATCH('/v1/webhooks/{id}', {
          params: { path: { id: props.webhook.id } },
          body: {
            url: draft.url.trim(),
            events: draft.events,
            filters: filtersOf(draft),
            description: draft.description.trim() ? draft.description.trim() : null,
          },
        }),
      );
      setSaved(true);
      props.onSaved(w);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const shown = ['url', 'events', 'description', 'filters'].some((f) => fieldError(error, f));
  return (
    <form class="card" onSubmit={submit} aria-labelledby="edit-webhook-title" noValidate>
      <h2 id="edit-webhook-title">Endpoint, events and filters</h2>
      <WebhookFields prefix="edit-webhook" draft={draft} onChange={(d) => { setDraft(d); setSaved(false); }} error={error} local={local} />
      {!shown ? <ErrorBanner error={error} /> : null}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
        <button type="button" disabled={busy} onClick={() => { setDraft(draftOf(props.webhook)); setLocal({}); setError(undefined); setSaved(false); }}>
          Discard changes
        </button>
        <span role="status" aria-live="polite" class="ok-text">
          {saved ? 'Saved.' : ''}
        </span>
      </div>
    </form>
  );
}

export function WebhookPage(props: { id: string }) {
  const { client } = useSession();
  const [, navigate] = useLocation();
  const hook = useAsync(() => unwrap(client.GET('/v1/webhooks/{id}', { params: { path: { id: props.id } } })), [client, props.id]);
  const [current, setCurrent] = useState<Webhook | null>(null);
  const [dialog, setDialog] = useState<'delete' | 'rotate' | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [dialogError, setDialogError] = useState<unknown>();
  const [notice, setNotice] = useState('');
  const [rotated, setRotated] = useState<Schemas['SecretRotated'] | null>(null);
  const [pollSignal, setPollSignal] = useState(0);

  // The latest answer of a change wins over the first load.
  const w = current && current.id === props.id ? current : hook.data;

  async function act(name: string, f: () => Promise<void>) {
    setBusy(name);
    setError(undefined);
    setNotice('');
    try {
      await f();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }

  const setStatus = (status: Schemas['WebhookStatus']) =>
    act('status', async () => {
      const updated = await unwrap(client.PATCH('/v1/webhooks/{id}', { params: { path: { id: props.id } }, body: { status } }));
      setCurrent(updated);
      setNotice(status === 'paused' ? 'Webhook paused: new events are not queued for it; pending deliveries wait until it is resumed.' : 'Webhook resumed: pending deliveries are sent again.');
    });

  const sendTest = () =>
    act('test', async () => {
      const res = await unwrap(client.POST('/v1/webhooks/{id}/test', { params: { path: { id: props.id } } }));
      setNotice(`Test payload ${res.payloadId} queued; its delivery appears in the log below.`);
      setPollSignal((n) => n + 1);
    });

  async function confirmDialog() {
    setDialogError(undefined);
    setBusy(dialog);
    try {
      if (dialog === 'delete') {
        await unwrap(client.DELETE('/v1/webhooks/{id}', { params: { path: { id: props.id } } }));
        setDialog(null);
        navigate('/webhooks');
        return;
      }
      if (dialog === 'rotate') {
        const res = await unwrap(client.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id: props.id } } }));
        setRotated(res);
        setDialog(null);
      }
    } catch (err) {
      setDialogError(err);
    } finally {
      setBusy(null);
    }
  }

  return (
    <div class="webhooks-page">
      <p class="crumbs">
        <Link href="/webhooks">Webhooks</Link> /
      </p>
      <PageTitle>{w ? `Webhook ${w.url}` : `Webhook ${props.id}`}</PageTitle>
      <Loaded state={hook}>
        {() =>
          w ? (
            <>
              <div class="toolbar webhook-actions">
                {w.status === 'active' ? (
                  <button type="button" disabled={busy !== null} onClick={() => setStatus('paused')}>
                    Pause webhook
                  </button>
                ) : (
                  <button type="button" class="primary" disabled={busy !== null} onClick={() => setStatus('active')}>
                    Resume webhook
                  </button>
                )}
                <button type="button" disabled={busy !== null} onClick={sendTest}>
                  Send test
                </button>
                <button type="button" disabled={busy !== null} onClick={() => { setDialogError(undefined); setDialog('rotate'); }}>
                  Rotate secret
                </button>
                <button type="button" class="danger-outline" disabled={busy !== null} onClick={() => { setDialogError(undefined); setDialog('delete'); }}>
                  Delete webhook
                </button>
              </div>
              <div role="status" aria-live="polite">
                {notice ? <p class="banner ok">{notice}</p> : null}
              </div>
              <ErrorBanner error={error} />
              {rotated ? (
                <SecretOnce
                  title="New signing secret"
                  secret={rotated.secret}
                  note="Deploy it to your endpoint: from now on payloads are signed with it (X-Prynt-Signature) and, for a while, also with the previous secret (X-Prynt-Signature-Previous)."
                  previousExpiresAt={rotated.previousSecretExpiresAt}
                  onDone={() => setRotated(null)}
                />
              ) : null}
              <section class="card" aria-labelledby="webhook-about">
                <h2 id="webhook-about">Details</h2>
                <dl class="fields">
                  <dt>ID</dt>
                  <dd>
                    <code>{w.id}</code>
                  </dd>
                  <dt>URL</dt>
                  <dd>{w.url}</dd>
                  <dt>Description</dt>
                  <dd>{w.description ?? '—'}</dd>
                  <dt>Status</dt>
                  <dd>
                    <WebhookStatusBadge status={w.status} />
                  </dd>
                  <dt>Events</dt>
                  <dd>{w.events.join(', ')}</dd>
                  <dt>Filters</dt>
                  <dd>{describeFilters(w.filters)}</dd>
                  <dt>Success (7 days)</dt>
                  <dd>{w.successRate === null ? 'no attempts yet' : formatPercent(w.successRate, 1)}</dd>
                  <dt>Last delivery</dt>
                  <dd>{formatTime(w.lastDeliveryAt)}</dd>
                  <dt>Created</dt>
                  <dd>{formatTime(w.createdAt)}</dd>
                  <dt>Updated</dt>
                  <dd>{formatTime(w.updatedAt)}</dd>
                </dl>
              </section>
              <WebhookDeliveries webhookId={w.id} pollSignal={pollSignal} />
              <EditWebhook key={w.id} webhook={w} onSaved={setCurrent} />
            </>
          ) : null
        }
      </Loaded>
      <ConfirmDialog
        open={dialog !== null}
        title={dialog === 'rotate' ? 'Rotate the signing secret?' : 'Delete this webhook?'}
        confirmLabel={dialog === 'rotate' ? 'Rotate now' : 'Delete permanently'}
        danger={dialog === 'delete'}
        busy={busy !== null}
        onConfirm={confirmDialog}
        onCancel={() => setDialog(null)}
      >
        {dialog === 'rotate' ? (
          <p>
            A new secret is generated and shown once. For 24 hours payloads are signed with both the new and the current secret, so you can deploy the new one
            without losing a delivery; after that only the new one signs.
          </p>
        ) : (
          <p>
            The webhook <strong>{w?.url}</strong> is deleted and its pending deliveries are cancelled. Its deliveries log goes with it. This cannot be undone.
          </p>
        )}
        <ErrorBanner error={dialogError} />
      </ConfirmDialog>
    </div>
  );
}
