// A webhook's deliveries log: each delivery with its status, event, times and every attempt
// (time, status code, latency, error), a Retry button on failed ones, and a short poll after a
// retry or a test send so that the new attempt shows up without reloading.
import { useEffect, useRef, useState } from 'preact/hooks';
import { unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Loaded, OffsetPager, formatTime, useAsync } from './common';
import { DeliveryStatusBadge } from './webhookShared';
import { ScrollBox } from './settingsFields';

const PAGE = 20;
/** How long the log is polled after a retry or a test, and how often. */
const POLL_MS = 8000;
const POLL_EVERY_MS = 1000;

const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  301: 'Moved Permanently', 302: 'Found', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 408: 'Request Timeout',
  410: 'Gone', 413: 'Payload Too Large', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** What an attempt got back, in words. */
function outcome(a: Schemas['AttemptView']): string {
  if (a.error) return a.error;
  if (a.statusCode === null) return 'no answer';
  const reason = REASONS[a.statusCode] ?? '';
  const ok = a.statusCode >= 200 && a.statusCode < 300;
  return `${ok ? 'delivered' : 'refused'}: HTTP ${a.statusCode}${reason ? ' ' + reason : ''}`;
}

function Attempts(props: { delivery: Schemas['DeliveryView']; id: string }) {
  const d = props.delivery;
  if (d.attempts.length === 0) return <p id={props.id} class="muted small">No attempt yet.</p>;
  return (
    <ScrollBox id={props.id} label={`Attempts of delivery ${d.id}`} class="attempts">
      <table>
        <caption class="sr-only">Attempts of delivery {d.id}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Time</th>
            <th scope="col">Status code</th>
            <th scope="col" class="num">Latency</th>
            <th scope="col">Error / response</th>
          </tr>
        </thead>
        <tbody>
          {d.attempts.map((a, i) => (
            <tr key={a.at + i}>
              <td>{i + 1}</td>
              <td>{formatTime(a.at)}</td>
              <td>{a.statusCode ?? '—'}</td>
              <td class="num">{a.latencyMs.toLocaleString()} ms</td>
              <td class="attempt-outcome">{outcome(a)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollBox>
  );
}

/**
 * The log. Bumping `pollSignal` (after a test send elsewhere on the page) polls it for a few
 * seconds.
 */
export function WebhookDeliveries(props: { webhookId: string; pollSignal: number }) {
  const { client } = useSession();
  const [offset, setOffset] = useState(0);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [retrying, setRetrying] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState<unknown>();
  const [pollUntil, setPollUntil] = useState(0);
  const deliveries = useAsync(
    () => unwrap(client.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: props.webhookId }, query: { limit: PAGE, offset } } })),
    [client, props.webhookId, offset],
  );
  const reload = useRef(deliveries.reload);
  reload.current = deliveries.reload;

  const startPolling = () => setPollUntil(Date.now() + POLL_MS);
  useEffect(() => {
    if (props.pollSignal > 0) {
      setOffset(0);
      startPolling();
    }
  }, [props.pollSignal]);
  useEffect(() => {
    if (pollUntil === 0) return;
    reload.current();
    const t = setInterval(() => {
      if (Date.now() >= pollUntil) {
        clearInterval(t);
        setPollUntil(0);
        return;
      }
      reload.current();
    }, POLL_EVERY_MS);
    return () => clearInterval(t);
  }, [pollUntil]);

  async function retry(d: Schemas['DeliveryView']) {
    setRetrying(d.id);
    setError(undefined);
    setNotice('');
    try {
      await unwrap(client.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/retry', { params: { path: { id: props.webhookId, deliveryId: d.id } } }));
      setNotice(`Delivery ${d.id} is being sent again; its new attempt appears below.`);
      setOpen((s) => new Set(s).add(d.id));
      startPolling();
    } catch (err) {
      setError(err);
    } finally {
      setRetrying(null);
    }
  }

  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <section class="deliveries" aria-labelledby="deliveries-title">
      <div class="section-head">
        <h2 id="deliveries-title">Deliveries</h2>
        <div class="actions">
          <span class="muted small" aria-live="polite">
            {pollUntil ? 'Refreshing…' : ''}
          </span>
          <button type="button" onClick={() => deliveries.reload()}>
            Refresh deliveries
          </button>
        </div>
      </div>
      <div role="status" aria-live="polite">
        {notice ? <p class="banner ok">{notice}</p> : null}
      </div>
      <ErrorBanner error={error} />
      <Loaded state={deliveries}>
        {(page) =>
          page.data.length === 0 ? (
            <p class="card">No deliveries yet. Send a test to see one.</p>
          ) : (
            <>
              <div class="table-wrap">
                <table class="deliveries-table">
                  <caption class="sr-only">Deliveries, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Status</th>
                      <th scope="col">Event</th>
                      <th scope="col">Attempts</th>
                      <th scope="col">Created</th>
                      <th scope="col">Next attempt</th>
                    </tr>
                  </thead>
                  {page.data.map((d) => {
                    const expanded = open.has(d.id);
                    const last = d.attempts[d.attempts.length - 1];
                    return (
                      <tbody key={d.id} class="delivery" data-delivery-id={d.id} data-status={d.status}>
                        <tr>
                          <td data-label="Status">
                            <DeliveryStatusBadge status={d.status} />
                            {d.status === 'failed' ? (
                              <button type="button" class="retry" disabled={retrying === d.id} onClick={() => retry(d)}>
                                Retry
                              </button>
                            ) : null}
                          </td>
                          <td data-label="Event">
                            <code>{d.event}</code>
                            <div class="muted small mono">{d.id}</div>
                          </td>
                          <td data-label="Attempts">
                            <button type="button" class="link" aria-expanded={expanded} aria-controls={expanded ? `attempts-${d.id}` : undefined} onClick={() => toggle(d.id)}>
                              {d.attempts.length} {d.attempts.length === 1 ? 'attempt' : 'attempts'}
                            </button>
                            {last ? <div class="muted small">last: {last.statusCode ?? (last.error ? 'error' : '—')}</div> : null}
                          </td>
                          <td data-label="Created">{formatTime(d.createdAt)}</td>
                          <td data-label="Next attempt">{d.nextAttemptAt ? formatTime(d.nextAttemptAt) : '—'}</td>
                        </tr>
                        {expanded ? (
                          <tr class="attempts-row">
                            <td colSpan={5}>
                              <Attempts delivery={d} id={`attempts-${d.id}`} />
                              <p class="muted small">
                                Payload <code>{d.payloadId}</code> (the same on every attempt).
                              </p>
                            </td>
                          </tr>
                        ) : null}
                      </tbody>
                    );
                  })}
                </table>
              </div>
              {page.total > PAGE || offset > 0 ? <OffsetPager total={page.total} limit={PAGE} offset={offset} onChange={setOffset} label="Delivery pages" /> : null}
            </>
          )
        }
      </Loaded>
    </section>
  );
}
