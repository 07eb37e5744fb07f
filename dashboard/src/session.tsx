// The signed-in secret key and the workspace it opens. The key lives in sessionStorage only:
// closing the tab or signing out forgets it, and it never reaches localStorage or a cookie.
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useMemo, useState } from 'preact/hooks';
import { makeClient, unwrap, type Client, type Schemas } from './api';

const STORAGE_KEY = 'prynt.dashboard.secretKey';

export interface Session {
  key: string;
  client: Client;
  workspace: Schemas['WorkspaceView'];
}

interface SessionState {
  session: Session | null;
  signIn: (key: string) => Promise<void>;
  signOut: () => void;
  refreshWorkspace: () => Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

/** A secret key's environment, read from its prefix (`sk_live_…`, `sk_test_…`). */
export function keyEnvironment(key: string): 'live' | 'test' | null {
  const m = /^sk_(live|test)_/.exec(key);
  return m ? (m[1] as 'live' | 'test') : null;
}

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function SessionProvider(props: { initial: Session | null; children: ComponentChildren }) {
  const [session, setSession] = useState<Session | null>(props.initial);
  const state = useMemo<SessionState>(
    () => ({
      session,
      async signIn(key: string) {
        const trimmed = key.trim();
        if (!/^sk_(live|test)_[0-9A-Za-z]{8,}$/.test(trimmed)) {
          throw new Error('A secret key looks like sk_test_… or sk_live_…; public keys (pk_…) cannot read the dashboard.');
        }
        const client = makeClient(trimmed);
        const workspace = await unwrap(client.GET('/v1/workspace'));
        sessionStorage.setItem(STORAGE_KEY, trimmed);
        setSession({ key: trimmed, client, workspace });
      },
      signOut() {
        sessionStorage.removeItem(STORAGE_KEY);
        setSession(null);
      },
      async refreshWorkspace() {
        if (!session) return;
        const workspace = await unwrap(session.client.GET('/v1/workspace'));
        setSession({ ...session, workspace });
      },
    }),
    [session],
  );
  return <SessionContext.Provider value={state}>{props.children}</SessionContext.Provider>;
}

export function useSessionState(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSessionState outside SessionProvider');
  return s;
}

/** The session of a signed-in page (pages under the layout are only rendered when signed in). */
export function useSession(): Session {
  const s = useSessionState().session;
  if (!s) throw new Error('useSession while signed out');
  return s;
}

/** Restores a key from sessionStorage at start-up, if it still opens the workspace. */
export async function restoreSession(): Promise<Session | null> {
  const key = storedKey();
  if (!key) return null;
  try {
    const client = makeClient(key);
    const workspace = await unwrap(client.GET('/v1/workspace'));
    return { key, client, workspace };
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    return null;
  }
}
