// The public entry point of @prynt/node: the client, its errors, webhook verification and the
// API's types.
export { PryntServer } from './client.js';
export type { PryntServerOptions, RequestOptions } from './client.js';
export {
  PryntError,
  ApiError,
  AuthenticationError,
  PermissionError,
  NotFoundError,
  ValidationError,
  ConflictError,
  RateLimitError,
  ConnectionError,
  TimeoutError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { verifyWebhookSignature, standardWebhooksKey } from './webhooks.js';
export type { WebhookHeaders, VerifyWebhookOptions } from './webhooks.js';
export type * from './types.js';
export type { paths, components, operations } from './schema.js';
export { VERSION } from './version.js';
