// A rule's version history (`GET /v1/rules/{ruleId}/versions`, newest first) through the typed
// client. The condition tree of each version is read as `unknown`: the editor walks it itself
// (see StoredRule in rulesModel for why the tree crosses the client boundary untyped).
import { unwrap, type Client } from './api';
import type { RuleLike } from './rulesModel';

/** One stored version of a rule. */
export interface RuleVersion extends RuleLike {
  version: number;
  name: string;
  status: string;
  priority: number;
  conditions: unknown;
  action: { verdict: string; sideEffects?: unknown[] | null };
  createdAt: string;
}

export async function fetchRuleVersions(client: Client, ruleId: string, signal?: AbortSignal): Promise<RuleVersion[]> {
  const page: { data: RuleVersion[] } = await unwrap(client.GET('/v1/rules/{ruleId}/versions', { params: { path: { ruleId } }, signal }));
  return page.data;
}
