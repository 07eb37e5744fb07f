// A saved rule's version history and a line diff between any two of its versions. Each
// version is rendered as stable text (one fact per line, the condition tree indented) and
// compared with `diffLines`; added and removed lines carry + and − prefixes and are marked up
// as <ins> and <del>, so the change reads without colour.
import { diffLines } from 'diff';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Client } from '../api';
import { fetchRuleVersions, type RuleVersion } from '../rulesApi';
import { renderRule } from '../rulesModel';
import { ErrorBanner, Loading, VerdictBadge, formatTime } from './common';

export function RuleVersions(props: { client: Client; ruleId: string; reloadToken: number }) {
  const [versions, setVersions] = useState<RuleVersion[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);

  useEffect(() => {
    const ctl = new AbortController();
    setError(null);
    fetchRuleVersions(props.client, props.ruleId, ctl.signal).then(
      (data) => {
        const sorted = [...data].sort((a, b) => b.version - a.version);
        setVersions(sorted);
        // By default: the latest version against the one before it.
        setTo(sorted[0]?.version ?? null);
        setFrom(sorted[1]?.version ?? sorted[0]?.version ?? null);
      },
      (e: Error) => {
        if (e.name !== 'AbortError') setError(e);
      },
    );
    return () => ctl.abort();
  }, [props.client, props.ruleId, props.reloadToken]);

  if (error) return <ErrorBanner error={error} />;
  if (!versions) return <Loading label="Loading versions…" />;
  if (!versions.length) return <p class="muted">No versions.</p>;

  const a = versions.find((v) => v.version === from) ?? versions[versions.length - 1];
  const b = versions.find((v) => v.version === to) ?? versions[0];
  return (
    <div class="rule-versions">
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Version list">
        <table>
          <caption class="sr-only">Versions of this rule, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Priority</th>
              <th scope="col">Verdict</th>
              <th scope="col">Saved</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <td>v{v.version}</td>
                <td class="rules-name-cell">{v.name}</td>
                <td>{v.status}</td>
                <td>{v.priority}</td>
                <td>
                  <VerdictBadge verdict={v.action?.verdict} />
                </td>
                <td>{formatTime(v.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {versions.length < 2 ? (
        <p class="muted">Only one version so far: a diff appears after the next save.</p>
      ) : (
        <>
          <div class="toolbar">
            <VersionSelect id="diff-from" label="From version" versions={versions} value={a.version} onChange={setFrom} />
            <VersionSelect id="diff-to" label="To version" versions={versions} value={b.version} onChange={setTo} />
          </div>
          <VersionDiff from={a} to={b} />
        </>
      )}
    </div>
  );
}

export function VersionDiff(props: { from: RuleVersion; to: RuleVersion }) {
  const { from, to } = props;
  const parts = useMemo(() => diffLines(renderRule(from), renderRule(to)), [from, to]);
  let added = 0;
  let removed = 0;
  const rows: { kind: 'add' | 'del' | 'same'; text: string }[] = [];
  for (const p of parts) {
    const lines = p.value.replace(/\n$/, '').split('\n');
    for (const line of lines) {
      if (p.added) {
        added++;
        rows.push({ kind: 'add', text: line });
      } else if (p.removed) {
        removed++;
        rows.push({ kind: 'del', text: line });
      } else rows.push({ kind: 'same', text: line });
    }
  }
  const title = `Changes from v${from.version} to v${to.version}`;
  return (
    <figure class="rule-diff-wrap">
      <figcaption>
        {title}:{' '}
        {from.version === to.version
          ? 'the same version.'
          : added + removed === 0
            ? 'no difference.'
            : `${added} ${added === 1 ? 'line' : 'lines'} added, ${removed} removed.`}
      </figcaption>
      <pre class="rule-diff" tabIndex={0}>
        {rows.map((r, i) =>
          r.kind === 'add' ? (
            <ins key={i} class="diff-add">
              {'+ '}
              {r.text}
            </ins>
          ) : r.kind === 'del' ? (
            <del key={i} class="diff-del">
              {'− '}
              {r.text}
            </del>
          ) : (
            <span key={i} class="diff-same">
              {'  '}
              {r.text}
            </span>
          ),
        )}
      </pre>
    </figure>
  );
}

/** A labelled picker of one of the rule's versions. */
function VersionSelect(props: { id: string; label: string; versions: RuleVersion[]; value: number; onChange: (version: number) => void }) {
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={String(props.value)} onChange={(e) => props.onChange(Number((e.target as HTMLSelectElement).value))}>
        {props.versions.map((v) => (
          <option key={v.version} value={String(v.version)}>
            v{v.version} · {formatTime(v.createdAt)}
          </option>
        ))}
      </select>
    </div>
  );
}
