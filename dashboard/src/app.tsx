// The dashboard's shell: sign-in gate, header with the workspace and environment, navigation,
// and the page routes (all under /dashboard/).
import { Link, Route, Router, Switch, useLocation } from 'wouter-preact';
import { SessionProvider, useSessionState, type Session } from './session';
import { SignIn } from './pages/SignIn';
import { Overview } from './pages/Overview';
import { Events } from './pages/Events';
import { EventPage } from './pages/EventPage';
import { VisitorPage, VisitorSearch } from './pages/Visitor';
import { Rules } from './pages/Rules';
import { RuleEditor } from './pages/RuleEditor';
import { Lists } from './pages/Lists';
import { ListPage } from './pages/ListPage';
import { Webhooks } from './pages/Webhooks';
import { WebhookPage } from './pages/WebhookPage';
import { Settings } from './pages/Settings';

export const BASE = '/dashboard';

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/events', 'Events'],
  ['/visitors', 'Visitors'],
  ['/rules', 'Rules'],
  ['/lists', 'Lists'],
  ['/webhooks', 'Webhooks'],
  ['/settings', 'Settings'],
];

function NavLink(props: { href: string; label: string }) {
  const [location] = useLocation();
  const active = props.href === '/' ? location === '/' : location === props.href || location.startsWith(props.href + '/');
  return (
    <Link href={props.href} class={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
      {props.label}
    </Link>
  );
}

function Shell(props: { session: Session }) {
  const { signOut } = useSessionState();
  const { workspace } = props.session;
  const env = workspace.environment;
  return (
    <div class={`shell env-${env}`}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          Prynt
        </Link>
        <span class="workspace" title={`Workspace ${workspace.id}`}>
          {workspace.name}
        </span>
        <span class={`env-badge env-${env}`} data-testid="env-badge">
          {env === 'live' ? 'Live data' : 'Test data'}
        </span>
        <button type="button" class="signout" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav class="side" aria-label="Main">
        {NAV.map(([href, label]) => (
          <NavLink key={href} href={href} label={label} />
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/" component={Overview} />
          <Route path="/events" component={Events} />
          <Route path="/events/:requestId">{(p) => <EventPage requestId={p.requestId} />}</Route>
          <Route path="/visitors" component={VisitorSearch} />
          <Route path="/visitors/:visitorId">{(p) => <VisitorPage visitorId={p.visitorId} />}</Route>
          <Route path="/rules" component={Rules} />
          <Route path="/rules/new">{() => <RuleEditor ruleId={null} />}</Route>
          <Route path="/rules/:ruleId">{(p) => <RuleEditor ruleId={p.ruleId} />}</Route>
          <Route path="/lists" component={Lists} />
          <Route path="/lists/:listId">{(p) => <ListPage listId={p.listId} />}</Route>
          <Route path="/webhooks" component={Webhooks} />
          <Route path="/webhooks/:id">{(p) => <WebhookPage id={p.id} />}</Route>
          <Route path="/settings" component={Settings} />
          <Route>
            <h1>Not found</h1>
            <p>
              No dashboard page here. <Link href="/">Back to the overview</Link>.
            </p>
          </Route>
        </Switch>
      </main>
    </div>
  );
}

function Gate() {
  const { session } = useSessionState();
  // Keyed by the key: signing in with a key of another environment remounts every page, so
  // nothing of the previous environment's data stays on screen.
  return session ? <Shell key={session.key} session={session} /> : <SignIn />;
}

export function App(props: { initial: Session | null }) {
  return (
    <SessionProvider initial={props.initial}>
      <Router base={BASE}>
        <Gate />
      </Router>
    </SessionProvider>
  );
}
