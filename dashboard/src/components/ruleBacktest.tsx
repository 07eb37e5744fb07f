// "Test rule": replays the editor's unsaved rule over the stored events of the last days and
// shows what it would have matched (rate, count, estimated false positives and the evidence
// behind them, visitors, sample events) before anything is saved.
import { Link } from 'wouter-preact';
import type { Schemas } from '../api';
import { formatNumber, formatPercent, formatTime } from './common';

export interface BacktestState {
  result: Schemas['BacktestResult'] | null;
  running: boolean;
  /** The rule changed since the result was computed. */
  stale: boolean;
}

export function BacktestPanel(props: {
  state: BacktestState;
  days: string;
  sampleSize: string;
  onDays: (v: string) => void;
  onSampleSize: (v: string) => void;
  onRun: () => void;
  problems: { field: string; message: string }[];
}) {
  const { result, running, stale } = props.state;
  const daysErr = props.problems.find((p) => p.field === 'days');
  const sampleErr = props.problems.find((p) => p.field === 'sampleSize');
  return (
    <div class="rule-backtest">
      <div class="toolbar">
        <div>
          <label for="backtest-days">Days to look back</label>
          <input
            id="backtest-days"
            type="number"
            min={1}
            max={30}
            step={1}
            value={props.days}
            class="rules-narrow-input"
            aria-invalid={daysErr ? true : undefined}
            aria-describedby={daysErr ? 'backtest-days-err' : undefined}
            onInput={(e) => props.onDays((e.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label for="backtest-sample">Sample events</label>
          <input
            id="backtest-sample"
            type="number"
            min={0}
            max={100}
            step={1}
            value={props.sampleSize}
            class="rules-narrow-input"
            aria-invalid={sampleErr ? true : undefined}
            aria-describedby={sampleErr ? 'backtest-sample-err' : undefined}
            onInput={(e) => props.onSampleSize((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="button" class="primary" onClick={props.onRun} aria-describedby="backtest-what">
          Test rule
        </button>
        {running && (
          <span class="muted" role="status">
            Testing…
          </span>
        )}
      </div>
      <p class="muted rule-group-hint" id="backtest-what">
        Replays the rule as it is in the editor, unsaved, over the events stored in the window.
      </p>
      {daysErr && (
        <p class="rule-error" id="backtest-days-err">
          {daysErr.message}
        </p>
      )}
      {sampleErr && (
        <p class="rule-error" id="backtest-sample-err">
          {sampleErr.message}
        </p>
      )}
      <section class="rule-results" aria-label="Backtest results" aria-busy={running} aria-live="polite">
        {!result && !running && <p class="muted">No test run yet.</p>}
        {running && !result && <p class="muted">Testing the rule…</p>}
        {result && <Results result={result} stale={stale} />}
      </section>
    </div>
  );
}

function Results(props: { result: Schemas['BacktestResult']; stale: boolean }) {
  const r = props.result;
  return (
    <>
      {props.stale && <p class="banner info">The rule changed since this test: run it again to see the current rule.</p>}
      <p class="rule-results-summary">
        Over the last {r.days} {r.days === 1 ? 'day' : 'days'}, this rule would have matched{' '}
        <strong>{formatNumber(r.matchCount)}</strong> of {formatNumber(r.totalEvents)} events.
      </p>
      <dl class="rule-stats">
        <div>
          <dt>Match rate</dt>
          <dd class="stat">{formatPercent(r.matchRate, r.matchRate > 0 && r.matchRate < 0.001 ? 3 : 2)}</dd>
          <dd class="muted">
            {formatNumber(r.matchCount)} / {formatNumber(r.totalEvents)} events
          </dd>
        </div>
        <div>
          <dt>Estimated false positives</dt>
          <dd class="stat">{r.matchCount ? formatPercent(r.estimatedFpr, 2) : '—'}</dd>
          <dd class="muted">
            {formatNumber(r.legitEvidenceCount)} with evidence of legitimacy, {formatNumber(r.noEvidenceCount)} with no evidence either way
          </dd>
        </div>
        <div>
          <dt>Matched visitors</dt>
          <dd class="stat">{formatNumber(r.matchedVisitors)}</dd>
          <dd class="muted">distinct visitor IDs</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd class="stat">{formatNumber(r.durationMs)} ms</dd>
          <dd class="muted">
            {r.days} {r.days === 1 ? 'day' : 'days'} replayed
          </dd>
        </div>
      </dl>
      <h3>Sample of matched events</h3>
      {r.sample.length === 0 ? (
        <p class="muted">{r.matchCount ? 'No sample was asked for.' : 'No event matched.'}</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Sample of matched events">
          <table>
            <caption class="sr-only">Most recent matched events</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Visitor</th>
              </tr>
            </thead>
            <tbody>
              {r.sample.map((s) => (
                <tr key={s.requestId}>
                  <td>{formatTime(s.timestamp)}</td>
                  <td>
                    <Link href={`/events/${s.requestId}`} class="mono">
                      {s.requestId}
                    </Link>
                  </td>
                  <td>
                    <Link href={`/visitors/${s.visitorId}`} class="mono">
                      {s.visitorId}
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
