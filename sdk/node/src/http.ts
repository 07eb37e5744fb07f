// The HTTP transport of the SDK: builds each request (key, JSON, query, Idempotency-Key), runs it
// with a time limit per attempt, retries what is safe to retry (429 honouring Retry-After, 5xx,
// network failures) with exponential backoff and full jitter, and turns failures into the typed
// errors of ./errors.
import { randomUUID } from 'node:crypto';
import { ApiError, ConnectionError, PryntError, TimeoutError, errorFromResponse, parseRetryAfter } from './errors.js';
import { VERSION } from './version.js';

/** Options of one call; every method takes them as its last argument. */
export interface RequestOptions {
  /**
   * POST only. The `Idempotency-Key` to send; by default a random one per call, reused by the
   * call's retries, so a retried create never creates twice. `false` sends none, and then the
   * POST is never retried.
   */
  idempotencyKey?: string | false;
  /** Milliseconds one attempt may take (overrides the client's `timeout`). */
  timeout?: number;
  /** Retries of this call (overrides the client's `maxRetries`); 0 turns them off. */
  maxRetries?: number;
  /** Aborts the call, including a retry's wait. */
  signal?: AbortSignal;
  /** Extra headers of this call. */
  headers?: Record<string, string>;
}

export interface TransportConfig {
  secretKey: string;
  baseUrl: string;
  timeout: number;
  maxRetries: number;
  retryBaseDelay: number;
  retryMaxDelay: number;
  maxRetryAfter: number;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

export type QueryValue = string | number | boolean | Date | null | undefined;

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, QueryValue> | object;
  body?: unknown;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** `?a=1&b=x` from defined values; Dates as ISO 8601 with milliseconds (RFC 3339). */
export function queryString(query: RequestSpec['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    params.append(k, v instanceof Date ? v.toISOString() : String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * The wait before retry number `attempt` (0-based): the server's Retry-After when it gave one,
 * else full jitter, a uniform draw in [0, min(maxDelay, base * 2^attempt)], which spreads
 * clients that failed together instead of having them return in lockstep.
 */
export function backoffDelay(
  attempt: number,
  baseDelay: number,
  maxDelay: number,
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterSeconds !== undefined) return retryAfterSeconds * 1000;
  const cap = Math.min(maxDelay, baseDelay * 2 ** attempt);
  return Math.floor(random() * cap);
}

export class Transport {
  constructor(readonly config: TransportConfig) {}

  async request<T>(spec: RequestSpec, opts: RequestOptions = {}): Promise<T> {
    const cfg = this.config;
    const url = cfg.baseUrl + spec.path + queryString(spec.query);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': `prynt-node/${VERSION}`,
      ...cfg.headers,
      ...opts.headers,
      Authorization: `Bearer ${cfg.secretKey}`,
    };
    const hasHeader = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      if (!hasHeader('content-type')) headers['Content-Type'] = 'application/json';
    }
    if (spec.method === 'POST' && opts.idempotencyKey !== false && !hasHeader('idempotency-key')) {
      // One key for the whole call: every retry of it is the same request to the server.
      headers['Idempotency-Key'] = opts.idempotencyKey ?? randomUUID();
    }
    // A POST without a key might have been applied before the failure: only a keyed POST is
    // safe to send again. The other methods are idempotent by definition.
    const retrySafe = spec.method !== 'POST' || hasHeader('idempotency-key');
    const maxRetries = Math.max(0, Math.floor(opts.maxRetries ?? cfg.maxRetries));
    const timeout = opts.timeout ?? cfg.timeout;

    // Whether an earlier attempt of this call got no answer: it may still be running on the
    // server, which then answers a keyed retry with 409 until it is done.
    let lostAnswer = false;
    for (let attempt = 0; ; attempt++) {
      let failure: PryntError;
      try {
        const res = await this.attempt(url, spec.method, headers, body, timeout, opts.signal);
        if (res.ok) return parseSuccess<T>(res);
        failure = errorFromResponse(res.status, res.statusText, res.headers, res.text);
      } catch (e) {
        if (!(e instanceof ConnectionError)) throw e; // the caller's abort, a bad 2xx body
        failure = e;
      }
      // A 409 is retried only in that case: otherwise it is a real conflict (a duplicate name)
      // that a retry would only repeat.
      const stillServing = failure.status === 409 && spec.method === 'POST' && lostAnswer;
      const retryable = failure instanceof ConnectionError || isRetryStatus(failure.status) || stillServing;
      if (failure instanceof ConnectionError) lostAnswer = true;
      if (!retrySafe || !retryable || attempt >= maxRetries) throw failure;
      // A Retry-After longer than the caller would accept (say, a spent per-minute window) is
      // not worth blocking on: the caller gets the error with its retryAfter instead.
      if (failure.retryAfter !== undefined && failure.retryAfter * 1000 > cfg.maxRetryAfter) throw failure;
      await sleep(backoffDelay(attempt, cfg.retryBaseDelay, cfg.retryMaxDelay, failure.retryAfter), opts.signal);
    }
  }

  /** One attempt: the response with its whole body read, or a ConnectionError. */
  private async attempt(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<{ ok: boolean; status: number; statusText: string; headers: Headers; text: string }> {
    if (signal?.aborted) throw abortError(signal);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // The body is read inside the same time limit: a server that sends headers and then
      // stalls must not hang the call.
      const res = await this.config.fetch(url, { method, headers, body, signal: controller.signal });
      const text = await res.text();
      return { ok: res.ok, status: res.status, statusText: res.statusText, headers: res.headers, text };
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      if (timedOut) {
        throw new TimeoutError({
          code: 'timeout',
          message: `No response from ${method} ${url} within ${timeout} ms.`,
          cause: e,
        });
      }
      const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
      throw new ConnectionError({
        code: 'connection_error',
        message: `Could not reach ${method} ${url}: ${cause?.code ?? cause?.message ?? (e as Error)?.message ?? e}`,
        cause: e,
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

function isRetryStatus(status: number | undefined): boolean {
  return status === 429 || (status ?? 0) >= 500;
}

function parseSuccess<T>(res: { status: number; statusText: string; headers: Headers; text: string }): T {
  if (res.text === '') return undefined as T;
  try {
    return JSON.parse(res.text) as T;
  } catch (e) {
    // A 2xx that is not JSON did not come from the API (a captive portal, a misrouted proxy).
    throw new ApiError({
      status: res.status,
      code: 'invalid_response',
      message: `HTTP ${res.status} with a body that is not JSON: ${res.text.slice(0, 200)}`,
      requestId: res.headers.get('x-request-id') ?? undefined,
      headers: res.headers,
      rawBody: res.text,
      retryAfter: parseRetryAfter(res.headers.get('retry-after')),
      cause: e,
    });
  }
}
