import { useState } from 'preact/hooks';
import { useSessionState } from '../session';
import { ErrorBanner } from '../components/common';

/** Sign-in with a secret key; the key is checked against GET /v1/workspace before it is kept. */
export function SignIn() {
  const { signIn } = useSessionState();
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  document.title = 'Sign in · Prynt';
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="main" class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Prynt dashboard</h1>
        <p class="muted">
          Sign in with a secret key of your workspace (<code>sk_test_…</code> or <code>sk_live_…</code>). The key
          stays in this tab's session storage and is forgotten when you sign out or close the tab.
        </p>
        <label for="secret-key">Secret key</label>
        <input
          id="secret-key"
          name="secret-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          required
        />
        <ErrorBanner error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
