// Names for the request and response types of each endpoint, all derived from the generated
// ./schema (the server's OpenAPI document) by path and method, so they follow the server with
// every `npm run generate` and are never written twice.
import type { paths } from './schema.js';

type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';
type Operation<P extends keyof paths, M extends HttpMethod> = NonNullable<paths[P][M]>;
type JsonContent<T> = T extends { content: { 'application/json': infer B } } ? B : never;
/** The success statuses an operation may document (the API answers 200; older servers 201/202). */
type SuccessStatus = 200 | 201 | 202;

/** The JSON body of an operation's success response. */
export type ResponseOf<P extends keyof paths, M extends HttpMethod> =
  Operation<P, M> extends { responses: infer R } ? JsonContent<R[Extract<keyof R, SuccessStatus>]> : never;
/** The JSON request body of an operation. */
export type BodyOf<P extends keyof paths, M extends HttpMethod> =
  Operation<P, M> extends { requestBody?: infer B } ? JsonContent<NonNullable<B>> : never;
/** The query parameters of an operation. */
export type QueryOf<P extends keyof paths, M extends HttpMethod> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
/** The element type of a paginated response's `data`. */
export type ItemOf<T> = T extends { data: (infer I)[] } ? I : never;

/** A timestamp parameter: an ISO 8601 string or a Date. */
export type Timestamp = string | Date;
/** Query parameters whose time fields also accept Dates (required ones stay required). */
type WithDates<Q, K extends string> = { [F in keyof Q]: F extends K ? Timestamp : Q[F] };

// Events
/** An event in full (`GET /v1/events/{requestId}`). */
export type Event = ResponseOf<'/v1/events/{requestId}', 'get'>;
/** One page of `GET /v1/events`. */
export type EventPage = ResponseOf<'/v1/events', 'get'>;
/** An event as listed. */
export type EventSummary = ItemOf<EventPage>;
export type ListEventsParams = WithDates<QueryOf<'/v1/events', 'get'>, 'before' | 'after'>;

// Visitors
export type Visitor = ResponseOf<'/v1/visitors/{visitorId}', 'get'>;
export type VisitorDeleted = ResponseOf<'/v1/visitors/{visitorId}', 'delete'>;
/** One page of `GET /v1/visitors/{visitorId}/events`. */
export type VisitorEventPage = ResponseOf<'/v1/visitors/{visitorId}/events', 'get'>;
export type VisitorEvent = ItemOf<VisitorEventPage>;
export type ListVisitorEventsParams = WithDates<QueryOf<'/v1/visitors/{visitorId}/events', 'get'>, 'before' | 'after'>;

// Rules
export type CreateRuleParams = BodyOf<'/v1/rules', 'post'>;
export type RuleCreated = ResponseOf<'/v1/rules', 'post'>;
export type ListRulesParams = QueryOf<'/v1/rules', 'get'>;
export type RulePage = ResponseOf<'/v1/rules', 'get'>;
export type RuleSummary = ItemOf<RulePage>;
export type Rule = ResponseOf<'/v1/rules/{ruleId}', 'get'>;
export type UpdateRuleParams = BodyOf<'/v1/rules/{ruleId}', 'put'>;
export type PatchRuleParams = BodyOf<'/v1/rules/{ruleId}', 'patch'>;
export type RuleUpdated = ResponseOf<'/v1/rules/{ruleId}', 'put'>;
export type RuleDeleted = ResponseOf<'/v1/rules/{ruleId}', 'delete'>;
/** A rule's stored versions, newest first (`GET /v1/rules/{ruleId}/versions`). */
export type RuleVersions = ResponseOf<'/v1/rules/{ruleId}/versions', 'get'>;
export type RuleVersion = ItemOf<RuleVersions>;
export type BacktestParams = BodyOf<'/v1/rules/{ruleId}/backtest', 'post'>;
export type BacktestResult = ResponseOf<'/v1/rules/{ruleId}/backtest', 'post'>;
export type UnsavedBacktestParams = BodyOf<'/v1/rules/backtest', 'post'>;
export type UnsavedBacktestResult = ResponseOf<'/v1/rules/backtest', 'post'>;

// Lists
export type CreateListParams = BodyOf<'/v1/lists', 'post'>;
export type List = ResponseOf<'/v1/lists', 'post'>;
export type ListListsParams = QueryOf<'/v1/lists', 'get'>;
export type ListPage = ResponseOf<'/v1/lists', 'get'>;
export type GetListParams = QueryOf<'/v1/lists/{listId}', 'get'>;
/** A list with one page of its entries. */
export type ListWithEntries = ResponseOf<'/v1/lists/{listId}', 'get'>;
export type ListDeleted = ResponseOf<'/v1/lists/{listId}', 'delete'>;
export type ListEntriesChange = BodyOf<'/v1/lists/{listId}/entries', 'post'>;
export type ListEntriesResult = ResponseOf<'/v1/lists/{listId}/entries', 'post'>;

// Webhooks
export type CreateWebhookParams = BodyOf<'/v1/webhooks', 'post'>;
/** A new webhook, with its signing secret (shown only this once). */
export type WebhookCreated = ResponseOf<'/v1/webhooks', 'post'>;
export type ListWebhooksParams = QueryOf<'/v1/webhooks', 'get'>;
export type WebhookPage = ResponseOf<'/v1/webhooks', 'get'>;
export type Webhook = ResponseOf<'/v1/webhooks/{id}', 'get'>;
export type UpdateWebhookParams = BodyOf<'/v1/webhooks/{id}', 'put'>;
export type PatchWebhookParams = BodyOf<'/v1/webhooks/{id}', 'patch'>;
export type WebhookUpdated = ResponseOf<'/v1/webhooks/{id}', 'put'>;
export type WebhookDeleted = ResponseOf<'/v1/webhooks/{id}', 'delete'>;
export type ListWebhookDeliveriesParams = QueryOf<'/v1/webhooks/{id}/deliveries', 'get'>;
export type WebhookDeliveryPage = ResponseOf<'/v1/webhooks/{id}/deliveries', 'get'>;
export type WebhookDelivery = ItemOf<WebhookDeliveryPage>;
export type WebhookTestQueued = ResponseOf<'/v1/webhooks/{id}/test', 'post'>;
export type WebhookSecretRotated = ResponseOf<'/v1/webhooks/{id}/rotate-secret', 'post'>;
export type WebhookRedeliveryQueued = ResponseOf<'/v1/webhooks/{id}/deliveries/{deliveryId}/retry', 'post'>;

// Analytics
export type EventAnalyticsParams = WithDates<QueryOf<'/v1/analytics/events', 'get'>, 'from' | 'to'>;
export type EventAnalytics = ResponseOf<'/v1/analytics/events', 'get'>;
export type SignalAnalyticsParams = WithDates<QueryOf<'/v1/analytics/signals', 'get'>, 'from' | 'to'>;
export type SignalAnalytics = ResponseOf<'/v1/analytics/signals', 'get'>;

// Workspace
export type Workspace = ResponseOf<'/v1/workspace', 'get'>;
export type UpdateWorkspaceParams = BodyOf<'/v1/workspace', 'patch'>;
