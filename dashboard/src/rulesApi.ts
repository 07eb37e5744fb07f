// Rule calls that the generated client does not type yet: a rule's version history
// (`GET /v1/rules/{ruleId}/versions`). It goes through fetch with the session's key and the
// same error handling as every other call, and is only made when the server's OpenAPI
// document lists the path, so an older server gets no request it would refuse.
import { ApiFailure } from './api';
import type { RuleLike } from './rulesModel';

/** One stored version of a rule, newest first in the answer. */
export interface RuleVersion extends RuleLike {
  version: number;
  name: string;
  status: string;
  priority: number;
  conditions: unknown;
  action: { verdict: string; sideEffects?: unknown[] | null };
  createdAt: string;
}

export async function fetchRuleVersions(key: string, ruleId: string, signal?: AbortSignal): Promise<RuleVersion[]> {
  const res = await fetch(`${window.location.origin}/v1/rules/${encodeURIComponent(ruleId)}/versions`, {
    headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
    signal,
  });
  const body = (await res.json().catch(() => null)) as
    | { data?: RuleVersion[]; error?: { code?: string; message?: string; field?: string } }
    | null;
  if (!res.ok || !body || !Array.isArray(body.data)) {
    throw new ApiFailure(
      res.status,
      body?.error?.code ?? `http_${res.status}`,
      body?.error?.message ?? `The server answered ${res.status}.`,
      body?.error?.field,
    );
  }
  return body.data;
}
