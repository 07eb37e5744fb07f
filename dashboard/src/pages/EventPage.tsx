// One event in full (`GET /v1/events/{requestId}`): identification, device, the Smart Signals with
// their reasons and methods, the scores, the velocity counts, the rules' decision with the
// matched rule's version and the monitor matches, the IP with its geolocation (and the DB-IP
// attribution the data's licence requires), and the whole body as JSON.
import type { ComponentChildren } from 'preact';
import { Link } from 'wouter-preact';
import { ApiFailure, unwrap, type Schemas } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Flag, Loading, PageTitle, VerdictBadge, formatNumber, formatTime, useAsync } from '../components/common';
import { countryName, eventsHref, flagEmoji, formatConfidence } from '../components/eventsShared';
import './events.css';
import { VelocityCounts } from '../components/velocity';

type Event = Schemas['Event'];

export function EventPage(props: { requestId: string }) {
  const { client } = useSession();
  const state = useAsync(
    () => unwrap(client.GET('/v1/events/{requestId}', { params: { path: { requestId: props.requestId } } })),
    [props.requestId],
  );
  const e = state.error;
  return (
    <div class="event-page">
      <PageTitle>{`Event ${props.requestId}`}</PageTitle>
      {e instanceof ApiFailure && (e.status === 404 || e.status === 400) ? (
        <div class="banner info" role="alert">
          <p>
            <strong>{e.status === 404 ? 'Event not found.' : 'This is not a request ID.'}</strong>{' '}
            {e.status === 404
              ? `No event ${props.requestId} in this environment: it may belong to the other environment (test or live) or to another workspace, or be older than the retention.`
              : 'Request IDs look like req_1700000000_a1b2c3.'}
          </p>
          <p>
            <Link href="/events">Back to the events</Link>
          </p>
        </div>
      ) : e ? (
        <ErrorBanner error={e} />
      ) : state.data ? (
        <EventBody event={state.data} />
      ) : (
        <Loading label="Loading the event…" />
      )}
    </div>
  );
}

function Field(props: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </>
  );
}

function orDash(v: string | number | null | undefined): ComponentChildren {
  return v === null || v === undefined || v === '' ? <span class="muted">—</span> : v;
}

/** A yes/no badge for a field whose label is already beside it. */
function OnOff(props: { on: boolean | null | undefined }) {
  if (props.on === null || props.on === undefined) return <span class="badge">unknown</span>;
  return <span class={`badge ${props.on ? 'flag-on' : 'flag-off'}`}>{props.on ? 'yes' : 'no'}</span>;
}

function YesNo(props: { value: boolean | null | undefined }) {
  if (props.value === null || props.value === undefined) return <span class="muted">unknown</span>;
  return <>{props.value ? 'yes' : 'no'}</>;
}

function EventBody(props: { event: Event }) {
  const ev = props.event;
  return (
    <>
      <div class="event-verdict">
        <VerdictBadge verdict={ev.verdict} />
        <span>
          <time dateTime={ev.timestamp}>{formatTime(ev.timestamp)}</time>
        </span>
        <Link href={`/visitors/${encodeURIComponent(ev.visitorId)}`}>Visitor {ev.visitorId}</Link>
        <Link href={eventsHref({ visitorId: ev.visitorId })}>This visitor’s events</Link>
      </div>
      <div class="event-grid">
        <Decision event={ev} />
        <section class="card" aria-labelledby="ev-ident">
          <h2 id="ev-ident">Identification</h2>
          <dl class="fields">
            <Field label="Request ID">
              <code>{ev.requestId}</code>
            </Field>
            <Field label="Visitor ID">
              <Link href={`/visitors/${encodeURIComponent(ev.visitorId)}`} class="mono">
                {ev.visitorId}
              </Link>
            </Field>
            <Field label="Confidence">{formatConfidence(ev.confidence)}</Field>
            <Field label="Visitor found">
              <YesNo value={ev.visitorFound} />
            </Field>
            <Field label="Identified by">{identifiedBy(ev.identifiedBy)}</Field>
            <Field label="First seen">{formatTime(ev.firstSeenAt)}</Field>
            <Field label="Time">{formatTime(ev.timestamp)}</Field>
            <Field label="Linked ID">{ev.linkedId ? <code>{ev.linkedId}</code> : orDash(null)}</Field>
            <Field label="Type">{orDash(ev.type)}</Field>
            <Field label="URL">{ev.url ? <code>{ev.url}</code> : orDash(null)}</Field>
            <Field label="Tag">{ev.tag ? <pre class="inline-json">{JSON.stringify(ev.tag, null, 2)}</pre> : orDash(null)}</Field>
          </dl>
        </section>
        <section class="card" aria-labelledby="ev-device">
          <h2 id="ev-device">Device</h2>
          <dl class="fields">
            <Field label="Platform">{orDash(ev.device.platform)}</Field>
            <Field label="Browser">{orDash(ev.device.browser)}</Field>
            <Field label="Type">{orDash(ev.device.type)}</Field>
            <Field label="Model">{orDash(ev.device.model)}</Field>
            <Field label="GPU">{orDash(ev.device.gpu)}</Field>
            <Field label="Screen">{ev.device.screen ? `${ev.device.screen.w} × ${ev.device.screen.h}` : orDash(null)}</Field>
            <Field label="User agent">{ev.device.userAgent ? <code>{ev.device.userAgent}</code> : orDash(null)}</Field>
          </dl>
        </section>
        <Signals signals={ev.signals} />
        <Scores scores={ev.scores} />
        <Geo ip={ev.ip} />
        <Velocity velocity={ev.velocity} />
      </div>
      <section class="card raw-json" aria-labelledby="ev-raw" style={{ marginTop: '1rem' }}>
        <h2 id="ev-raw" class="sr-only">
          Raw JSON
        </h2>
        <details>
          <summary>Raw JSON</summary>
          <pre tabIndex={0}>{JSON.stringify(ev, null, 2)}</pre>
        </details>
      </section>
    </>
  );
}

function identifiedBy(by: Event['identifiedBy']): string {
  if (by === 'token') return 'token (the visitor’s stored token)';
  if (by === 'fingerprint') return 'fingerprint (matched without a token)';
  return 'new (first visit)';
}

function RuleRef(props: { rule: Schemas['MatchedRule'] }) {
  const r = props.rule;
  return (
    <span class="event-rule">
      <Link href={`/rules/${encodeURIComponent(r.id)}`}>{r.name}</Link> <span class="muted">version {r.version}</span> <VerdictBadge verdict={r.verdict} />
    </span>
  );
}

function Decision(props: { event: Event }) {
  const ev = props.event;
  const monitors = ev.monitorMatches ?? [];
  const tags = Object.entries(ev.tags ?? {});
  return (
    <section class="card" aria-labelledby="ev-decision">
      <h2 id="ev-decision">Verdict</h2>
      <dl class="fields">
        <Field label="Verdict">
          <VerdictBadge verdict={ev.verdict} />
        </Field>
        <Field label="Matched rule">
          {ev.matchedRule ? (
            <RuleRef rule={ev.matchedRule} />
          ) : (
            <span class="muted">{ev.verdict ? 'none' : 'none: no live rule decided this event'}</span>
          )}
        </Field>
        <Field label="Monitor matches">
          {monitors.length ? (
            <ul class="plain-list">
              {monitors.map((m) => (
                <li key={m.id}>
                  <RuleRef rule={m} />
                </li>
              ))}
            </ul>
          ) : (
            <span class="muted">none</span>
          )}
        </Field>
        <Field label="Tags set by rules">
          {tags.length ? (
            <ul class="plain-list">
              {tags.map(([k, v]) => (
                <li key={k}>
                  <code>{k}</code> = <code>{v}</code>
                </li>
              ))}
            </ul>
          ) : (
            <span class="muted">none</span>
          )}
        </Field>
      </dl>
    </section>
  );
}

function Reasons(props: { label: string; items: readonly string[] | undefined | null }) {
  if (!props.items || props.items.length === 0) return null;
  return (
    <div class="detail reasons">
      {props.label}:
      <ul>
        {props.items.map((r) => (
          <li key={r}>
            <code>{r}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Signals(props: { signals: Schemas['Signals'] }) {
  const s = props.signals;
  return (
    <section class="card" aria-labelledby="ev-signals">
      <h2 id="ev-signals">Smart Signals</h2>
      <ul class="signal-list">
        <li>
          <Flag on={s.bot.detected} label="Bot" />
          {s.bot.type ? <span class="detail">type: <code>{s.bot.type}</code></span> : null}
          <Reasons label="reasons" items={s.bot.reasons} />
        </li>
        <li>
          <Flag on={s.vpn.detected} label="VPN" />
          {s.vpn.provider ? <span class="detail">provider: {s.vpn.provider}</span> : null}
          <Reasons label="methods" items={s.vpn.methods} />
        </li>
        <li>
          <Flag on={s.proxy} label="Proxy" />
        </li>
        <li>
          <Flag on={s.tor} label="Tor" />
        </li>
        <li>
          <Flag on={s.incognito} label="Incognito" />
        </li>
        <li>
          <Flag on={s.tampered} label="Tampered" />
          <Reasons label="reasons" items={s.tamperedReasons} />
        </li>
        <li>
          <Flag on={s.emulator} label="Emulator" />
        </li>
        <li>
          <Flag on={s.softwareRendering} label="Software rendering" />
        </li>
      </ul>
    </section>
  );
}

function ScoreRow(props: { label: string; value: number; max: number; text: string }) {
  const share = Math.max(0, Math.min(1, props.value / props.max));
  const level = share >= 0.7 ? 'high' : share >= 0.4 ? 'mid' : '';
  return (
    <div class="score-row">
      <span>{props.label}</span>
      <span class={`score-bar ${level}`} aria-hidden="true">
        <span style={{ width: `${share * 100}%` }} />
      </span>
      <span class="num">{props.text}</span>
    </div>
  );
}

function Scores(props: { scores: Event['scores'] }) {
  const s = props.scores;
  return (
    <section class="card" aria-labelledby="ev-scores">
      <h2 id="ev-scores">Scores</h2>
      {/* suspect is a sum of signal weights (each 0 to 100); the bar tops out at 100. */}
      <ScoreRow label="Suspect" value={s.suspect} max={100} text={String(s.suspect)} />
      <ScoreRow label="Bot" value={s.bot} max={1} text={s.bot.toFixed(3)} />
      <ScoreRow label="Abuse" value={s.abuse} max={1} text={s.abuse.toFixed(3)} />
      <ScoreRow label="Account takeover" value={s.ato} max={1} text={s.ato.toFixed(3)} />
      <p class="muted attribution">Suspect is the sum of the weights of the signals that fired; bot, abuse and account takeover are probabilities from 0 to 1.</p>
    </section>
  );
}

function Velocity(props: { velocity: Event['velocity'] }) {
  const v = props.velocity;
  return (
    <section class="card" aria-labelledby="ev-velocity">
      <h2 id="ev-velocity">Velocity</h2>
      <VelocityCounts velocity={v} />
      <dl class="fields" style={{ marginTop: '.75rem' }}>
        <Field label="New device for the account">
          <YesNo value={v.newDeviceForAccount} />
        </Field>
        <Field label="Travel speed">{v.travelKmh === null || v.travelKmh === undefined ? orDash(null) : `${formatNumber(Math.round(v.travelKmh))} km/h`}</Field>
      </dl>
    </section>
  );
}

function Geo(props: { ip: Event['ip'] }) {
  const ip = props.ip;
  const place = [ip.city, ip.country ? countryName(ip.country) : null].filter(Boolean).join(', ');
  return (
    <section class="card" aria-labelledby="ev-ip">
      <h2 id="ev-ip">IP and location</h2>
      <p>
        {ip.country ? (
          <span class="geo-flag" aria-hidden="true">
            {flagEmoji(ip.country)}
          </span>
        ) : null}
        {place ? <strong>{place}</strong> : <span class="muted">No geolocation for this address.</span>}
        {ip.country ? <span class="muted"> ({ip.country})</span> : null}
      </p>
      <dl class="fields">
        <Field label="Address">
          <code>{ip.address}</code>
        </Field>
        <Field label="City">{orDash(ip.city)}</Field>
        <Field label="Country">{ip.country ? `${countryName(ip.country)} (${ip.country})` : orDash(null)}</Field>
        <Field label="Latitude, longitude">{ip.lat !== null && ip.lat !== undefined && ip.lng !== null && ip.lng !== undefined ? `${ip.lat}, ${ip.lng}` : orDash(null)}</Field>
        <Field label="Time zone">{orDash(ip.timezone)}</Field>
        <Field label="ASN">{ip.asn !== null && ip.asn !== undefined ? `AS${ip.asn}${ip.asnName ? ` · ${ip.asnName}` : ''}` : orDash(ip.asnName)}</Field>
        <Field label="Datacenter">
          <OnOff on={ip.datacenter} />
        </Field>
        <Field label="Blocklisted">
          <OnOff on={ip.blocklisted} />
        </Field>
      </dl>
      <p class="muted attribution">
        <a href="https://db-ip.com" target="_blank" rel="noopener noreferrer">
          IP geolocation by DB-IP
        </a>{' '}
        (licensed under CC BY 4.0).
      </p>
    </section>
  );
}
