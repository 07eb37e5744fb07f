// The visitor pages: a form that opens a visitor by ID (with the visitors of the latest events),
// and a visitor's page: when it was seen, devices, IPs, linked accounts, lists (add and remove),
// the velocity of its latest event, its history, and GDPR erasure behind a typed confirmation.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Link, useLocation } from 'wouter-preact';
import { ApiFailure, unwrap } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Loaded, PageTitle, formatNumber, formatTime, useAsync } from '../components/common';
import { ScrollBox } from '../components/settingsFields';
import { VisitorDeleteDialog } from '../components/visitorDelete';
import { VisitorHistory, VisitorVelocity } from '../components/visitorHistory';
import { VisitorLists } from '../components/visitorLists';
import './visitor.css';

const VISITOR_ID = /^pv_[0-9A-Za-z]{13}$/;

export function VisitorSearch() {
  const { client } = useSession();
  const [, navigate] = useLocation();
  const [id, setId] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const recent = useAsync(async () => {
    const page = await unwrap(client.GET('/v1/events', { params: { query: { limit: 50 } } }));
    const seen = new Map<string, string>();
    for (const e of page.data) if (!seen.has(e.visitorId)) seen.set(e.visitorId, e.timestamp);
    return [...seen.entries()].slice(0, 12);
  }, [client]);

  function open(e: Event) {
    e.preventDefault();
    const v = id.trim();
    if (!VISITOR_ID.test(v)) {
      setProblem('A visitor ID is pv_ followed by 13 letters or digits, e.g. pv_8kX2mNqR3jT7p.');
      return;
    }
    navigate(`/visitors/${v}`);
  }

  return (
    <div class="visitor-page">
      <PageTitle>Visitors</PageTitle>
      <form class="card open-visitor" onSubmit={open} noValidate>
        <div>
          <label for="visitor-id">Visitor ID</label>
          <input
            id="visitor-id"
            class="mono"
            value={id}
            placeholder="pv_…"
            autoComplete="off"
            spellcheck={false}
            aria-invalid={problem ? true : undefined}
            aria-describedby="visitor-id-note"
            onInput={(e) => {
              setId(e.currentTarget.value);
              setProblem(undefined);
            }}
          />
          <p id="visitor-id-note" class={problem ? 'field-error' : 'field-hint'}>
            {problem ?? 'The visitorId of an identification, as your server received it.'}
          </p>
        </div>
        <button type="submit" class="primary">
          Open visitor
        </button>
      </form>
      <section aria-labelledby="recent-title">
        <h2 id="recent-title">Visitors of the latest events</h2>
        <Loaded state={recent}>
          {(list) =>
            list.length === 0 ? (
              <p class="muted">No events yet.</p>
            ) : (
              <ul class="recent-visitors">
                {list.map(([v, ts]) => (
                  <li key={v}>
                    <Link href={`/visitors/${v}`}>
                      <code>{v}</code>
                    </Link>{' '}
                    <span class="muted small">{formatTime(ts)}</span>
                  </li>
                ))}
              </ul>
            )
          }
        </Loaded>
      </section>
    </div>
  );
}

/**
 * What the page shows once the visitor is erased: the answer, and a check that no event of it
 * is left (through the events listing, which answers 200 with nothing rather than a 404).
 */
function Erased(props: { visitorId: string; deletedEvents: string }) {
  const { client } = useSession();
  const check = useAsync(async () => {
    const left = await unwrap(client.GET('/v1/events', { params: { query: { visitorId: props.visitorId, limit: 1 } } }));
    return left.data.length === 0;
  }, [client, props.visitorId]);
  // The dialog that had focus is gone: focus moves to the outcome, so it is read out.
  const banner = useRef<HTMLDivElement>(null);
  useEffect(() => banner.current?.focus(), []);
  return (
    <>
      <div class="banner ok" role="status" tabIndex={-1} ref={banner}>
        Visitor <code>{props.visitorId}</code> was deleted with {props.deletedEvents}, its device profile, IP addresses, linked accounts, counts and list entries.
      </div>
      <Loaded state={check}>
        {(gone) =>
          gone ? (
            <p data-testid="visitor-gone">
              The visitor is gone: no event of <code>{props.visitorId}</code> is left, and looking the ID up finds nothing (404). If the same browser comes back, it
              gets a new visitor ID.
            </p>
          ) : (
            <p class="banner error">Events of this visitor are still listed: reload the page to check again.</p>
          )
        }
      </Loaded>
      <p>
        <Link href="/visitors">Open another visitor</Link>
      </p>
    </>
  );
}

export function VisitorPage(props: { visitorId: string }) {
  const { client } = useSession();
  const valid = VISITOR_ID.test(props.visitorId);
  const visitor = useAsync(
    () => (valid ? unwrap(client.GET('/v1/visitors/{visitorId}', { params: { path: { visitorId: props.visitorId } } })) : Promise.reject(new Error('Not a visitor ID: pv_ followed by 13 letters or digits.'))),
    [client, props.visitorId],
  );
  const [confirming, setConfirming] = useState(false);
  const [erased, setErased] = useState<string | null>(null);

  const notFound = visitor.error instanceof ApiFailure && visitor.error.status === 404;
  return (
    <div class="visitor-page">
      <p class="crumbs">
        <Link href="/visitors">Visitors</Link> /
      </p>
      <PageTitle
        actions={
          visitor.data && erased === null ? (
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete visitor
            </button>
          ) : undefined
        }
      >
        {`Visitor ${props.visitorId}`}
      </PageTitle>
      {erased !== null ? (
        <Erased visitorId={props.visitorId} deletedEvents={erased} />
      ) : notFound ? (
        <div class="card">
          <p>
            No visitor <code>{props.visitorId}</code> in this environment: it was never seen here, or it was deleted.
          </p>
          <p>
            <Link href="/visitors">Open another visitor</Link>
          </p>
        </div>
      ) : visitor.error ? (
        <ErrorBanner error={visitor.error} />
      ) : (
        <Loaded state={visitor}>
          {(v) => (
            <>
              <div class="grid summary">
                <div class="card">
                  <div class="muted small">First seen</div>
                  <div class="stat-sm">{formatTime(v.firstSeenAt)}</div>
                </div>
                <div class="card">
                  <div class="muted small">Last seen</div>
                  <div class="stat-sm">{formatTime(v.lastSeenAt)}</div>
                </div>
                <div class="card">
                  <div class="muted small">Total visits</div>
                  <div class="stat">{formatNumber(v.totalVisits)}</div>
                </div>
                <div class="card">
                  <div class="muted small">Linked accounts</div>
                  <div class="stat">{formatNumber(v.linkedAccounts)}</div>
                </div>
              </div>
              <div class="two-col">
                <VisitorLists visitor={v} onChanged={visitor.reload} />
                <VisitorVelocity visitorId={v.visitorId} />
              </div>
              <VisitorHistory visitorId={v.visitorId} />
              <div class="two-col">
              <section aria-labelledby="devices-title">
                <h2 id="devices-title">Devices</h2>
                {v.devices.length === 0 ? (
                  <p class="muted">No device within retention.</p>
                ) : (
                  <ScrollBox label="Devices">
                    <table>
                      <caption class="sr-only">Devices, most recent first</caption>
                      <thead>
                        <tr>
                          <th scope="col">Platform</th>
                          <th scope="col">Browser</th>
                          <th scope="col">GPU</th>
                          <th scope="col">Last seen</th>
                        </tr>
                      </thead>
                      <tbody>
                        {v.devices.map((d, i) => (
                          <tr key={i}>
                            <td>{d.platform ?? '—'}</td>
                            <td>{d.browser ?? '—'}</td>
                            <td>{d.gpu ?? '—'}</td>
                            <td>{formatTime(d.lastSeenAt)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </ScrollBox>
                )}
              </section>
              <section aria-labelledby="ips-title">
                <h2 id="ips-title">IP addresses</h2>
                {v.ips.length === 0 ? (
                  <p class="muted">No address within retention.</p>
                ) : (
                  <ScrollBox label="IP addresses">
                    <table>
                      <caption class="sr-only">IP addresses, most recent first</caption>
                      <thead>
                        <tr>
                          <th scope="col">Address</th>
                          <th scope="col" class="num">
                            Visits
                          </th>
                          <th scope="col">First seen</th>
                          <th scope="col">Last seen</th>
                        </tr>
                      </thead>
                      <tbody>
                        {v.ips.map((ip) => (
                          <tr key={ip.address}>
                            <td>
                              <code>{ip.address}</code>
                            </td>
                            <td class="num">{formatNumber(ip.visits)}</td>
                            <td>{formatTime(ip.firstSeenAt)}</td>
                            <td>{formatTime(ip.lastSeenAt)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </ScrollBox>
                )}
              </section>
              </div>
              <p class="muted small">Devices and addresses come from the events within retention (at most 50 each, most recent first).</p>
              <VisitorDeleteDialog
                visitor={v}
                open={confirming}
                onCancel={() => setConfirming(false)}
                onDeleted={(what) => {
                  setConfirming(false);
                  setErased(what);
                }}
              />
            </>
          )}
        </Loaded>
      )}
    </div>
  );
}
