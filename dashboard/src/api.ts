// The dashboard's only way to the server: the public REST API, typed by the OpenAPI document
// that the prynt binary serves (the same generated types as the Node SDK).
import createClient from 'openapi-fetch';
import type { components, paths } from '../../sdk/node/src/schema';

export type Schemas = components['schemas'];
export type Paths = paths;
export type Client = ReturnType<typeof createClient<paths>>;

/** An error answer of the API, with the reference's error body. */
export class ApiFailure extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

export function makeClient(secretKey: string): Client {
  return createClient<paths>({
    baseUrl: window.location.origin,
    headers: { Authorization: `Bearer ${secretKey}` },
  });
}

/** Unwraps an openapi-fetch result: the data, or an ApiFailure built from the error body. */
export async function unwrap<T>(
  promise: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await promise;
  if (response.ok && data !== undefined) return data;
  if (response.ok) return undefined as T;
  const body = (error ?? {}) as { error?: { code?: string; message?: string; field?: string } };
  throw new ApiFailure(
    response.status,
    body.error?.code ?? 'http_' + response.status,
    body.error?.message ?? `The server answered ${response.status}.`,
    body.error?.field,
  );
}
