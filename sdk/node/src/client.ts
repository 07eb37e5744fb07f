// PryntServer: the server-side client of the Prynt REST API, one method per endpoint, each
// typed with the request and response types generated from the server's OpenAPI document.
import { Transport, type RequestOptions, type TransportConfig } from './http.js';
import type * as T from './types.js';

export interface PryntServerOptions {
  /** A secret key (`sk_live_…` / `sk_test_…`). Default: `process.env.PRYNT_SECRET_KEY`. */
  secretKey?: string;
  /**
   * Where the Prynt server is, e.g. `https://prynt.internal.example`. Default:
   * `process.env.PRYNT_BASE_URL`, else `http://127.0.0.1:8080` (`prynt serve`'s default).
   */
  baseUrl?: string;
  /** Milliseconds one attempt may take before it fails with a TimeoutError. Default 30000. */
  timeout?: number;
  /** Retries after a 429, a 5xx or a network failure; 0 turns retries off. Default 2. */
  maxRetries?: number;
  /** Backoff of the first retry is drawn from [0, retryBaseDelay] ms, doubling. Default 500. */
  retryBaseDelay?: number;
  /** Upper bound of a backoff draw, ms. Default 8000. */
  retryMaxDelay?: number;
  /**
   * Longest `Retry-After` (ms) that a retry waits for; a 429 asking for longer is thrown at
   * once as a RateLimitError with its `retryAfter`. Default 60000.
   */
  maxRetryAfter?: number;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch implementation. Default: the global fetch of Node 18+. */
  fetch?: typeof fetch;
}

export type { RequestOptions };

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`PryntServer: '${name}' must be a non-negative number.`);
  }
  return value;
}

/**
 * A path segment from an id, refusing what cannot be one: encoding keeps `/`, `?` and `#` in an
 * id from reaching another route, and `.`/`..` would be resolved away by URL parsing.
 */
function seg(name: string, id: string): string {
  if (typeof id !== 'string' || id === '' || id === '.' || id === '..') {
    throw new TypeError(`'${name}' must be an id, got ${JSON.stringify(id)}.`);
  }
  return encodeURIComponent(id);
}

interface CursorPage<I> {
  data: I[];
  hasMore: boolean;
  nextCursor?: string | null;
}

/** Every item of every page, fetching the next page only when the previous one is used up. */
async function* paginate<I>(
  first: string | null | undefined,
  fetchPage: (cursor: string | undefined) => Promise<CursorPage<I>>,
): AsyncGenerator<I, void, undefined> {
  let cursor = first ?? undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.data;
    if (!page.hasMore || !page.nextCursor) return;
    cursor = page.nextCursor;
  }
}

export class PryntServer {
  private readonly http: Transport;

  constructor(options: PryntServerOptions = {}) {
    const env = typeof process !== 'undefined' ? process.env : {};
    const secretKey = options.secretKey ?? env.PRYNT_SECRET_KEY;
    if (!secretKey) {
      throw new TypeError('PryntServer: a secretKey is required (or set PRYNT_SECRET_KEY).');
    }
    const baseUrl = (options.baseUrl ?? env.PRYNT_BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/i.test(baseUrl)) {
      throw new TypeError(`PryntServer: baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}.`);
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new TypeError('PryntServer: no fetch implementation (Node 18+ has one; or pass options.fetch).');
    }
    const config: TransportConfig = {
      secretKey,
      baseUrl,
      timeout: nonNegative('timeout', options.timeout, 30_000),
      maxRetries: nonNegative('maxRetries', options.maxRetries, 2),
      retryBaseDelay: nonNegative('retryBaseDelay', options.retryBaseDelay, 500),
      retryMaxDelay: nonNegative('retryMaxDelay', options.retryMaxDelay, 8_000),
      maxRetryAfter: nonNegative('maxRetryAfter', options.maxRetryAfter, 60_000),
      headers: { ...options.headers },
      fetch: fetchImpl,
    };
    this.http = new Transport(config);
  }

  /** The server this client talks to. */
  get baseUrl(): string {
    return this.http.config.baseUrl;
  }

  // ---- Events ----

  /** Retrieves an event in full: visitor, device, signals, scores and verdict. */
  async getEvent(requestId: string, opts?: RequestOptions): Promise<T.Event> {
    return this.http.request({ method: 'GET', path: `/v1/events/${seg('requestId', requestId)}` }, opts);
  }

  /** One page of events, newest first, with filters; pass `nextCursor` back as `cursor`. */
  async listEvents(params: T.ListEventsParams = {}, opts?: RequestOptions): Promise<T.EventPage> {
    return this.http.request({ method: 'GET', path: '/v1/events', query: params }, opts);
  }

  /** Every event matching the filters, page after page (`limit` sets the page size). */
  async *iterateEvents(params: T.ListEventsParams = {}, opts?: RequestOptions): AsyncGenerator<T.EventSummary, void, undefined> {
    yield* paginate(params.cursor, (cursor) => this.listEvents({ ...params, cursor }, opts));
  }

  // ---- Visitors ----

  /** Retrieves a visitor: first and last seen, visits, linked accounts, devices, IPs, lists. */
  async getVisitor(visitorId: string, opts?: RequestOptions): Promise<T.Visitor> {
    return this.http.request({ method: 'GET', path: `/v1/visitors/${seg('visitorId', visitorId)}` }, opts);
  }

  /** Erases every trace of a visitor (GDPR/CCPA deletion). Irreversible. */
  async deleteVisitor(visitorId: string, opts?: RequestOptions): Promise<T.VisitorDeleted> {
    return this.http.request({ method: 'DELETE', path: `/v1/visitors/${seg('visitorId', visitorId)}` }, opts);
  }

  /** One page of a visitor's events, newest first. */
  async listVisitorEvents(
    visitorId: string,
    params: T.ListVisitorEventsParams = {},
    opts?: RequestOptions,
  ): Promise<T.VisitorEventPage> {
    return this.http.request(
      { method: 'GET', path: `/v1/visitors/${seg('visitorId', visitorId)}/events`, query: params },
      opts,
    );
  }

  /** Every event of a visitor, page after page. */
  async *iterateVisitorEvents(
    visitorId: string,
    params: T.ListVisitorEventsParams = {},
    opts?: RequestOptions,
  ): AsyncGenerator<T.VisitorEvent, void, undefined> {
    seg('visitorId', visitorId);
    yield* paginate(params.cursor, (cursor) => this.listVisitorEvents(visitorId, { ...params, cursor }, opts));
  }

  // ---- Rules ----

  /** Creates a rule (status `draft` unless given). */
  async createRule(params: T.CreateRuleParams, opts?: RequestOptions): Promise<T.RuleCreated> {
    return this.http.request({ method: 'POST', path: '/v1/rules', body: params }, opts);
  }

  /** Lists rules by priority; all of them unless `limit` is given. */
  async listRules(params: T.ListRulesParams = {}, opts?: RequestOptions): Promise<T.RulePage> {
    return this.http.request({ method: 'GET', path: '/v1/rules', query: params }, opts);
  }

  /** Retrieves a rule with its full conditions, action and match statistics. */
  async getRule(ruleId: string, opts?: RequestOptions): Promise<T.Rule> {
    return this.http.request({ method: 'GET', path: `/v1/rules/${seg('ruleId', ruleId)}` }, opts);
  }

  /** Lists a rule's stored versions, newest first, each with its conditions and action. */
  async listRuleVersions(ruleId: string, opts?: RequestOptions): Promise<T.RuleVersions> {
    return this.http.request({ method: 'GET', path: `/v1/rules/${seg('ruleId', ruleId)}/versions` }, opts);
  }

  /** Updates a rule with PUT; only the fields sent change. */
  async updateRule(ruleId: string, params: T.UpdateRuleParams, opts?: RequestOptions): Promise<T.RuleUpdated> {
    return this.http.request({ method: 'PUT', path: `/v1/rules/${seg('ruleId', ruleId)}`, body: params }, opts);
  }

  /** Updates a rule with PATCH; only the fields sent change. */
  async patchRule(ruleId: string, params: T.PatchRuleParams, opts?: RequestOptions): Promise<T.RuleUpdated> {
    return this.http.request({ method: 'PATCH', path: `/v1/rules/${seg('ruleId', ruleId)}`, body: params }, opts);
  }

  /** Deletes a rule; it stops being evaluated at once. */
  async deleteRule(ruleId: string, opts?: RequestOptions): Promise<T.RuleDeleted> {
    return this.http.request({ method: 'DELETE', path: `/v1/rules/${seg('ruleId', ruleId)}` }, opts);
  }

  /** Runs a saved rule over the stored events of the last `days` (default 7, at most 30). */
  async backtestRule(ruleId: string, params?: T.BacktestParams, opts?: RequestOptions): Promise<T.BacktestResult> {
    return this.http.request(
      { method: 'POST', path: `/v1/rules/${seg('ruleId', ruleId)}/backtest`, body: params },
      opts,
    );
  }

  /** Backtests a rule before saving it: a rule body plus `days` and `sampleSize`. */
  async backtestUnsavedRule(params: T.UnsavedBacktestParams, opts?: RequestOptions): Promise<T.UnsavedBacktestResult> {
    return this.http.request({ method: 'POST', path: '/v1/rules/backtest', body: params }, opts);
  }

  // ---- Lists ----

  /** Creates a list of visitor IDs, IPs or emails. */
  async createList(params: T.CreateListParams, opts?: RequestOptions): Promise<T.List> {
    return this.http.request({ method: 'POST', path: '/v1/lists', body: params }, opts);
  }

  /** Lists the lists; all of them unless `limit` is given. */
  async listLists(params: T.ListListsParams = {}, opts?: RequestOptions): Promise<T.ListPage> {
    return this.http.request({ method: 'GET', path: '/v1/lists', query: params }, opts);
  }

  /** Retrieves a list with one page of its entries (`limit`, `offset`). */
  async getList(listId: string, params: T.GetListParams = {}, opts?: RequestOptions): Promise<T.ListWithEntries> {
    return this.http.request({ method: 'GET', path: `/v1/lists/${seg('listId', listId)}`, query: params }, opts);
  }

  /** Deletes a list and its entries. */
  async deleteList(listId: string, opts?: RequestOptions): Promise<T.ListDeleted> {
    return this.http.request({ method: 'DELETE', path: `/v1/lists/${seg('listId', listId)}` }, opts);
  }

  /** Adds and removes entries in one atomic call (at most 1,000 together; optional `ttl`). */
  async updateListEntries(listId: string, change: T.ListEntriesChange, opts?: RequestOptions): Promise<T.ListEntriesResult> {
    return this.http.request(
      { method: 'POST', path: `/v1/lists/${seg('listId', listId)}/entries`, body: change },
      opts,
    );
  }

  /** Adds entries to a list. */
  async addListEntries(listId: string, entries: string[], opts?: RequestOptions): Promise<T.ListEntriesResult> {
    return this.updateListEntries(listId, { add: entries } as T.ListEntriesChange, opts);
  }

  /** Removes entries from a list (absent ones are ignored). */
  async removeListEntries(listId: string, entries: string[], opts?: RequestOptions): Promise<T.ListEntriesResult> {
    return this.updateListEntries(listId, { remove: entries } as T.ListEntriesChange, opts);
  }

  // ---- Webhooks ----

  /** Registers a webhook; the answer holds its signing secret, shown only this once. */
  async createWebhook(params: T.CreateWebhookParams, opts?: RequestOptions): Promise<T.WebhookCreated> {
    return this.http.request({ method: 'POST', path: '/v1/webhooks', body: params }, opts);
  }

  /** Lists webhooks with their delivery figures. */
  async listWebhooks(params: T.ListWebhooksParams = {}, opts?: RequestOptions): Promise<T.WebhookPage> {
    return this.http.request({ method: 'GET', path: '/v1/webhooks', query: params }, opts);
  }

  /** Retrieves a webhook (without its secret). */
  async getWebhook(webhookId: string, opts?: RequestOptions): Promise<T.Webhook> {
    return this.http.request({ method: 'GET', path: `/v1/webhooks/${seg('webhookId', webhookId)}` }, opts);
  }

  /** Updates a webhook with PUT; only the fields sent change (`status: 'paused'` pauses it). */
  async updateWebhook(webhookId: string, params: T.UpdateWebhookParams, opts?: RequestOptions): Promise<T.WebhookUpdated> {
    return this.http.request(
      { method: 'PUT', path: `/v1/webhooks/${seg('webhookId', webhookId)}`, body: params },
      opts,
    );
  }

  /** Updates a webhook with PATCH; only the fields sent change. */
  async patchWebhook(webhookId: string, params: T.PatchWebhookParams, opts?: RequestOptions): Promise<T.WebhookUpdated> {
    return this.http.request(
      { method: 'PATCH', path: `/v1/webhooks/${seg('webhookId', webhookId)}`, body: params },
      opts,
    );
  }

  /** Deletes a webhook; its pending deliveries are cancelled. */
  async deleteWebhook(webhookId: string, opts?: RequestOptions): Promise<T.WebhookDeleted> {
    return this.http.request({ method: 'DELETE', path: `/v1/webhooks/${seg('webhookId', webhookId)}` }, opts);
  }

  /** A webhook's deliveries, newest first, each with every attempt. */
  async listWebhookDeliveries(
    webhookId: string,
    params: T.ListWebhookDeliveriesParams = {},
    opts?: RequestOptions,
  ): Promise<T.WebhookDeliveryPage> {
    return this.http.request(
      { method: 'GET', path: `/v1/webhooks/${seg('webhookId', webhookId)}/deliveries`, query: params },
      opts,
    );
  }

  /** Queues a signed test delivery (`event: "test"`) to the webhook. */
  async testWebhook(webhookId: string, opts?: RequestOptions): Promise<T.WebhookTestQueued> {
    return this.http.request({ method: 'POST', path: `/v1/webhooks/${seg('webhookId', webhookId)}/test` }, opts);
  }

  /**
   * Replaces the webhook's signing secret. The answer holds the new secret; the previous one
   * keeps signing beside it (`X-Prynt-Signature-Previous`) until `previousSecretExpiresAt`.
   */
  async rotateWebhookSecret(webhookId: string, opts?: RequestOptions): Promise<T.WebhookSecretRotated> {
    return this.http.request(
      { method: 'POST', path: `/v1/webhooks/${seg('webhookId', webhookId)}/rotate-secret` },
      opts,
    );
  }

  /** Delivers a finished delivery again, now. */
  async retryWebhookDelivery(webhookId: string, deliveryId: string, opts?: RequestOptions): Promise<T.WebhookRedeliveryQueued> {
    return this.http.request(
      {
        method: 'POST',
        path: `/v1/webhooks/${seg('webhookId', webhookId)}/deliveries/${seg('deliveryId', deliveryId)}/retry`,
      },
      opts,
    );
  }

  // ---- Analytics ----

  /** Event counts over a time range, optionally grouped (verdict, platform, country, hour, day, week). */
  async getEventAnalytics(params: T.EventAnalyticsParams, opts?: RequestOptions): Promise<T.EventAnalytics> {
    return this.http.request({ method: 'GET', path: '/v1/analytics/events', query: params }, opts);
  }

  /** Smart Signal counts, rates and trends over a time range, or a day/week series. */
  async getSignalAnalytics(params: T.SignalAnalyticsParams, opts?: RequestOptions): Promise<T.SignalAnalytics> {
    return this.http.request({ method: 'GET', path: '/v1/analytics/signals', query: params }, opts);
  }

  // ---- Workspace ----

  /** The key's workspace: plan, limits and the settings of the key's environment. */
  async getWorkspace(opts?: RequestOptions): Promise<T.Workspace> {
    return this.http.request({ method: 'GET', path: '/v1/workspace' }, opts);
  }

  /** Changes the environment's settings (allowed origins, suspect-score weights, IP masking). */
  async updateWorkspace(params: T.UpdateWorkspaceParams, opts?: RequestOptions): Promise<T.Workspace> {
    return this.http.request({ method: 'PATCH', path: '/v1/workspace', body: params }, opts);
  }
}
