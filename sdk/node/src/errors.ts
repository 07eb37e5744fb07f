// The SDK's errors: one class per kind of failure, all built from the API's error body
// `{"error": {"code", "message", "docs", "field"?, "retryAfter"?}}` and the response headers, so
// that callers can branch with `instanceof` and never parse JSON themselves.
import type { components } from './schema.js';

/**
 * The code of an error: one of the API's codes (the document's ErrorCode), one of the SDK's own
 * for failures the API did not describe, or (from a newer server) another string.
 */
export type ErrorCode =
  | components['schemas']['ErrorCode']
  | 'server_error'
  | 'http_error'
  | 'invalid_response'
  | 'connection_error'
  | 'timeout'
  | (string & {});

/** Base class of every error the SDK throws. */
export class PryntError extends Error {
  /** HTTP status, or `undefined` when no response arrived (network failure, timeout). */
  readonly status: number | undefined;
  /** The API's error code (`validation_error`, `invalid_api_key`, …) or the SDK's own. */
  readonly code: ErrorCode;
  /** The field a validation error is about (`conditions`, `add[3]`, …). */
  readonly field: string | undefined;
  /** Seconds to wait before retrying, from `retryAfter` or the `Retry-After` header. */
  readonly retryAfter: number | undefined;
  /** The `X-Request-Id` of the response: quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** Link to the error code's documentation. */
  readonly docs: string | undefined;
  /** The response headers, when a response arrived. */
  readonly headers: Headers | undefined;
  /** The raw response body, when a response arrived. */
  readonly rawBody: string | undefined;

  constructor(init: {
    message: string;
    code: ErrorCode;
    status?: number;
    field?: string;
    retryAfter?: number;
    requestId?: string;
    docs?: string;
    headers?: Headers;
    rawBody?: string;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.field = init.field;
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
    this.docs = init.docs;
    this.headers = init.headers;
    this.rawBody = init.rawBody;
  }
}

/** The API answered with an error status (a subclass says which kind when there is one). */
export class ApiError extends PryntError {}
/** 401: the secret key is missing, malformed, unknown or revoked (`invalid_api_key`). */
export class AuthenticationError extends ApiError {}
/** 403: the key may not call this endpoint (e.g. a public key on the server API). */
export class PermissionError extends ApiError {}
/** 404: no such resource in this workspace and environment (or it expired). */
export class NotFoundError extends ApiError {}
/** 400/422 `validation_error`: `field` names the offending part of the request. */
export class ValidationError extends ApiError {}
/** 409: the request clashes with the current state (e.g. a duplicate list name). */
export class ConflictError extends ApiError {}
/** 429: the key's rate limit is spent; `retryAfter` says for how many seconds. */
export class RateLimitError extends ApiError {}
/** No response: the connection failed or was cut (DNS, refused, reset, TLS). */
export class ConnectionError extends PryntError {}
/** No response within the `timeout` of one attempt. */
export class TimeoutError extends ConnectionError {}

/**
 * The members of the API's error body as the OpenAPI document names them, each still checked
 * at run time: the body may come from something other than the API (a proxy's error page).
 */
type ErrorDetail = Partial<Record<keyof components['schemas']['ErrorDetail'], unknown>>;

/** Seconds from a `Retry-After` header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The error for an error response. Never throws itself: a body that is not the API's JSON (an
 * HTML page from a proxy, an empty 502) still gives a typed error with the status.
 */
export function errorFromResponse(status: number, statusText: string, headers: Headers, rawBody: string): ApiError {
  let detail: ErrorDetail = {};
  try {
    const parsed: unknown = JSON.parse(rawBody);
    const inner = parsed && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
    if (inner && typeof inner === 'object') detail = inner as ErrorDetail;
  } catch {
    // Not JSON: described from the status below.
  }
  const fromBody = typeof detail.retryAfter === 'number' ? detail.retryAfter : undefined;
  const code = str(detail.code) ?? defaultCode(status);
  const snippet = rawBody.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
  const message =
    str(detail.message) ??
    `HTTP ${status}${statusText ? ` ${statusText}` : ''}${snippet ? `: ${snippet}` : ''}`;
  const init = {
    status,
    code,
    message,
    field: str(detail.field),
    retryAfter: fromBody ?? parseRetryAfter(headers.get('retry-after')),
    requestId: headers.get('x-request-id') ?? undefined,
    docs: str(detail.docs),
    headers,
    rawBody,
  };
  const Kind = errorClass(status, code);
  return new Kind(init);
}

function errorClass(status: number, code: string): typeof ApiError {
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitError;
  if (status === 400 || status === 422 || code === 'validation_error') return ValidationError;
  return ApiError;
}

function defaultCode(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'validation_error';
    case 401:
      return 'invalid_api_key';
    case 403:
      return 'insufficient_permissions';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'server_error' : 'http_error';
  }
}
