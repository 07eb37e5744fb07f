// A visitor's history (its events, newest first, paged by the API's cursor) and the velocity
// counts of its latest event.
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { unwrap } from '../api';
import { useSession } from '../session';
import { VelocityCounts } from './velocity';
import { Flag, Loaded, VerdictBadge, formatNumber, formatTime, useAsync } from './common';

const PAGE = 20;

/**
 * The history, read from GET /v1/events filtered on the visitor: the same events and cursor
 * as GET /v1/visitors/{id}/events, and its items also carry the type, linked ID, bot flag and
 * country.
 */
export function VisitorHistory(props: { visitorId: string }) {
  const { client } = useSession();
  // The cursors of the pages seen so far: [undefined (first page), page 2's, …].
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useAsync(
    () => unwrap(client.GET('/v1/events', { params: { query: { visitorId: props.visitorId, limit: PAGE, ...(cursor ? { cursor } : {}) } } })),
    [client, props.visitorId, cursor],
  );
  const n = cursors.length;
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <Loaded state={page}>
        {(p) => {
          const items = p.data;
          // Country only when the server has a city database (otherwise every value is null).
          const hasCountry = items.some((e) => e.country);
          if (items.length === 0) return <p class="card">No stored events (older ones are past retention).</p>;
          return (
            <>
              <div class="table-wrap">
                <table>
                  <caption class="sr-only">Events of the visitor, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Request</th>
                      <th scope="col">Type</th>
                      <th scope="col">Linked ID</th>
                      <th scope="col">Verdict</th>
                      <th scope="col">Bot</th>
                      {hasCountry ? <th scope="col">Country</th> : null}
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((e) => (
                      <tr key={e.requestId}>
                        <td>{formatTime(e.timestamp)}</td>
                        <td>
                          <Link href={`/events/${e.requestId}`}>
                            <code>{e.requestId}</code>
                          </Link>
                        </td>
                        <td>{e.type ?? '—'}</td>
                        <td class="linked">{e.linkedId ?? '—'}</td>
                        <td>
                          <VerdictBadge verdict={e.verdict} />
                        </td>
                        <td>
                          <Flag on={e.bot} label="bot" />
                        </td>
                        {hasCountry ? <td>{e.country ?? '—'}</td> : null}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {n > 1 || p.hasMore ? (
                <nav class="pager" aria-label="History pages">
                  <button type="button" disabled={n === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
                    Newer
                  </button>
                  <span>Page {n}</span>
                  <button type="button" disabled={!p.hasMore || !p.nextCursor} onClick={() => p.nextCursor && setCursors((c) => [...c, p.nextCursor ?? undefined])}>
                    Older
                  </button>
                </nav>
              ) : null}
            </>
          );
        }}
      </Loaded>
    </section>
  );
}


/** The velocity counts of the visitor's newest event (one more request for the full event). */
export function VisitorVelocity(props: { visitorId: string }) {
  const { client } = useSession();
  const latest = useAsync(async () => {
    const page = await unwrap(client.GET('/v1/events', { params: { query: { visitorId: props.visitorId, limit: 1 } } }));
    const newest = page.data[0];
    if (!newest) return null;
    return unwrap(client.GET('/v1/events/{requestId}', { params: { path: { requestId: newest.requestId } } }));
  }, [client, props.visitorId]);
  return (
    <section class="card" aria-labelledby="velocity-title">
      <h2 id="velocity-title">Velocity</h2>
      <Loaded state={latest}>
        {(ev) =>
          ev === null ? (
            <p class="muted">No stored event to read velocity from.</p>
          ) : (
            <>
              <p class="muted small">
                At the latest event, <Link href={`/events/${ev.requestId}`}>{ev.requestId}</Link> ({formatTime(ev.timestamp)}).
              </p>
              <dl class="fields">
                <dt>Linked ID</dt>
                <dd>{ev.linkedId ? <code>{ev.linkedId}</code> : 'none'}</dd>
                <dt>New device for the account</dt>
                <dd>{ev.velocity.newDeviceForAccount ? 'yes' : 'no'}</dd>
                <dt>Travel speed</dt>
                <dd>{ev.velocity.travelKmh === null || ev.velocity.travelKmh === undefined ? '—' : `${formatNumber(Math.round(ev.velocity.travelKmh))} km/h`}</dd>
              </dl>
              <VelocityCounts velocity={ev.velocity} />
            </>
          )
        }
      </Loaded>
    </section>
  );
}
