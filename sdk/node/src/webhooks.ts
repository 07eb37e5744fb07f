// Verification of webhook deliveries: Prynt's own `X-Prynt-Signature` (and, during a secret
// rotation, `X-Prynt-Signature-Previous`) and the Standard Webhooks headers that every delivery
// also carries, with an optional check of the delivery's age against replays. Every comparison
// is constant-time.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Request headers as Node's `req.headers` (any case), a plain object, or a fetch `Headers`. */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /**
   * Replay protection: the largest age (or clock skew), in seconds, of the delivery's
   * `webhook-timestamp`. When set, the delivery must carry a valid Standard Webhooks signature
   * (the scheme that signs the timestamp) made within that many seconds of `now`.
   */
  tolerance?: number;
  /** The time to judge `tolerance` against (tests); default now. */
  now?: Date | number;
}

/** The value of a header, whatever the case of its name and the shape of the container. */
function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (k.toLowerCase() !== wanted || v === undefined) continue;
    return Array.isArray(v) ? v.join(', ') : String(v);
  }
  return undefined;
}

function bodyBytes(rawBody: string | Uint8Array): Buffer {
  if (typeof rawBody === 'string') return Buffer.from(rawBody, 'utf8');
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  throw new TypeError(
    'verifyWebhookSignature: rawBody must be the raw request body (string, Buffer or Uint8Array), ' +
      'not a parsed object: re-serialised JSON is a different body.',
  );
}

/** Equal-length buffers compared in constant time; unequal lengths are simply not equal. */
function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Bytes of a 64-digit hex signature; `undefined` for anything else. */
function fromHex(text: string): Buffer | undefined {
  const t = text.trim();
  return /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : undefined;
}

/**
 * The HMAC key of the Standard Webhooks scheme, as the server derives it: the base64 decoding of
 * what follows `whsec_` (the prefix is optional), as that ecosystem's libraries take it;
 * generated secrets (32 base62 characters) always decode. A custom secret whose text is not
 * canonical, padded base64 keys it with its whole UTF-8 text instead.
 */
export function standardWebhooksKey(secret: string): Buffer {
  const rest = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  // Node's decoder skips characters outside the alphabet and drops stray bits; re-encoding and
  // comparing keeps only the strict (canonical, padded) base64 that the server accepts.
  const decoded = Buffer.from(rest, 'base64');
  if (decoded.toString('base64') === rest) return decoded;
  return Buffer.from(secret, 'utf8');
}

/**
 * Whether a delivery was signed with `secret` (or one of several secrets). Pass the raw body
 * exactly as received, before any JSON parsing.
 *
 * Accepted, with any one of the secrets:
 * - `X-Prynt-Signature: <hex HMAC-SHA256(secret, body)>`;
 * - `X-Prynt-Signature-Previous` (same form; sent during a rotation, made with the old secret);
 * - `webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`
 *   (Standard Webhooks; several space-separated entries allowed).
 *
 * With `tolerance`, only the Standard Webhooks signature counts, and its timestamp must be within
 * `tolerance` seconds of now.
 */
export function verifyWebhookSignature(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): boolean {
  const body = bodyBytes(rawBody);
  const secrets = (typeof secret === 'string' ? [secret] : [...secret]).filter((s) => typeof s === 'string' && s !== '');
  if (secrets.length === 0) throw new TypeError('verifyWebhookSignature: a non-empty secret is required.');
  if (!headers || typeof headers !== 'object') throw new TypeError('verifyWebhookSignature: headers are required.');
  const { tolerance } = options;
  if (tolerance !== undefined && !(Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new TypeError('verifyWebhookSignature: tolerance must be a non-negative number of seconds.');
  }

  // Every candidate is compared, with no early exit, so the time taken does not tell which
  // header or secret matched.
  let matched = false;

  if (tolerance === undefined) {
    const given = [header(headers, 'x-prynt-signature'), header(headers, 'x-prynt-signature-previous')]
      .filter((v): v is string => v !== undefined)
      .map(fromHex)
      .filter((v): v is Buffer => v !== undefined);
    for (const s of secrets) {
      const expected = createHmac('sha256', s).update(body).digest();
      for (const g of given) matched = same(expected, g) || matched;
    }
  }

  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (id !== undefined && timestamp !== undefined && signatures !== undefined && /^\d+$/.test(timestamp.trim())) {
    let fresh = true;
    if (tolerance !== undefined) {
      const now = options.now === undefined ? Date.now() : Number(options.now);
      fresh = Math.abs(now / 1000 - Number(timestamp.trim())) <= tolerance;
    }
    // Entries are space-separated; a trailing comma comes from headers joined by a proxy.
    const given = signatures
      .split(/\s+/)
      .map((entry) => entry.replace(/,+$/, ''))
      .filter((entry) => entry.startsWith('v1,'))
      .map((entry) => Buffer.from(entry.slice(3), 'base64'));
    const signed = Buffer.concat([Buffer.from(`${id.trim()}.${timestamp.trim()}.`, 'utf8'), body]);
    for (const s of secrets) {
      const expected = createHmac('sha256', standardWebhooksKey(s)).update(signed).digest();
      for (const g of given) matched = (same(expected, g) && fresh) || matched;
    }
  }

  return matched;
}
