// An Express app whose sign-up and login are protected by Prynt.
//
// The page loads the Prynt agent from the Prynt server, calls identify() when the form is
// submitted and sends the requestId with the form. The backend never trusts what the browser
// says about itself: it fetches the event with its secret key (`getEvent`) and acts on what
// Prynt decided (the rules' verdict), or on the bot signal when no rule decided.
//
//   PRYNT_PUBLIC_KEY=pk_test_… PRYNT_SECRET_KEY=sk_test_… npm start
//
// Settings (environment): PRYNT_BASE_URL (the Prynt server, default http://127.0.0.1:8080),
// PORT (default 3000), HOST (default 127.0.0.1).
import express from 'express';
import { PryntServer, NotFoundError, PryntError } from '@prynt/node';

const PRYNT_BASE_URL = process.env.PRYNT_BASE_URL || 'http://127.0.0.1:8080';
const PUBLIC_KEY = process.env.PRYNT_PUBLIC_KEY;
const SECRET_KEY = process.env.PRYNT_SECRET_KEY;
const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || '127.0.0.1';
// An event older than this is not accepted for a new action: a requestId cannot be replayed.
const MAX_EVENT_AGE_MS = 5 * 60 * 1000;

if (!PUBLIC_KEY || !SECRET_KEY) {
  console.error('Set PRYNT_PUBLIC_KEY (pk_…) and PRYNT_SECRET_KEY (sk_…): the keys `prynt serve` printed.');
  process.exit(2);
}

const prynt = new PryntServer({ secretKey: SECRET_KEY, baseUrl: PRYNT_BASE_URL, timeout: 5000 });
// Each requestId is accepted once (a real app keeps this in its database or cache).
const used = new Set();

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0}input{width:100%;padding:.4rem}button{margin-top:1rem;padding:.5rem 1.2rem}</style>
</head><body>${body}</body></html>`;
}

/** The login or sign-up form; `action` is "login" or "signup". */
function form(action) {
  const title = action === 'login' ? 'Log in' : 'Sign up';
  return page(
    title,
    `<h1>${title}</h1>
<form id="form" method="post" action="/${action}">
  <label>Email <input name="email" type="email" required autocomplete="username"></label>
  <label>Password <input name="password" type="password" required></label>
  <input type="hidden" name="requestId">
  <button type="submit">${title}</button>
</form>
<p><a href="/${action === 'login' ? 'signup' : 'login'}">${action === 'login' ? 'Sign up' : 'Log in'} instead</a></p>
<script src="${escape(PRYNT_BASE_URL)}/v1/agent.js"></script>
<script>
  const agentReady = Prynt.load({ publicKey: ${JSON.stringify(PUBLIC_KEY)}, endpoint: ${JSON.stringify(PRYNT_BASE_URL)} });
  document.getElementById('form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target;
    try {
      const agent = await agentReady;
      const { requestId } = await agent.identify({ type: ${JSON.stringify(action)}, linkedId: f.email.value });
      f.requestId.value = requestId;
    } catch (err) {
      // Without a requestId the server refuses the action: a page that cannot reach Prynt
      // is treated like a client that skipped it.
      console.error(err);
    }
    f.submit();
  });
</script>`,
  );
}

/**
 * What to do with an action whose page sent `requestId`: { decision, reason, status }, with
 * decision one of allow, challenge, block, reject (no usable event).
 */
async function decide(requestId, action, email) {
  if (typeof requestId !== 'string' || !/^req_\d+_[0-9a-f]{6}$/.test(requestId)) {
    return { decision: 'reject', status: 400, reason: 'the page sent no Prynt requestId' };
  }
  if (used.has(requestId)) return { decision: 'reject', status: 400, reason: 'this requestId was already used' };
  let event;
  try {
    event = await prynt.getEvent(requestId);
  } catch (err) {
    if (err instanceof NotFoundError) return { decision: 'reject', status: 400, reason: 'unknown requestId' };
    // Prynt unreachable or failing: fail closed for sign-ups, ask for a second factor at login.
    const decision = action === 'signup' ? 'block' : 'challenge';
    const why = err instanceof PryntError ? `${err.status ?? ''} ${err.code ?? err.message}` : String(err);
    return { decision, status: decision === 'block' ? 503 : 200, reason: `Prynt could not be asked (${why.trim()})` };
  }
  used.add(requestId);
  if (Date.now() - Date.parse(event.timestamp) > MAX_EVENT_AGE_MS) {
    return { decision: 'reject', status: 400, reason: 'the identification is too old' };
  }
  if (event.type !== action || (event.linkedId ?? '') !== email) {
    return { decision: 'reject', status: 400, reason: 'the identification was made for another action' };
  }
  const verdict = event.verdict ?? (event.signals?.bot?.detected ? 'block' : 'allow');
  const reason = event.verdict
    ? `rule verdict${event.matchedRule ? ` (${event.matchedRule.name ?? event.matchedRule.id})` : ''}`
    : event.signals?.bot?.detected
      ? 'no rule decided; a bot was detected'
      : 'no rule decided; no bot detected';
  return { decision: verdict, status: verdict === 'block' ? 403 : 200, reason, visitorId: event.visitorId };
}

const MESSAGES = {
  allow: (action) => (action === 'login' ? 'Welcome back.' : 'Your account is created.'),
  challenge: () => 'We sent a code to your email: enter it to continue.',
  block: () => 'This request was blocked.',
  reject: () => 'This request could not be verified. Reload the page and try again.',
};

const app = express();
app.disable('x-powered-by');
app.use(express.urlencoded({ extended: false, limit: '8kb' }));
for (const action of ['login', 'signup']) {
  app.get(`/${action}`, (_req, res) => res.type('html').send(form(action)));
  app.post(`/${action}`, async (req, res) => {
    const email = String(req.body?.email ?? '');
    const result = await decide(req.body?.requestId, action, email);
    console.log(JSON.stringify({ action, email, requestId: req.body?.requestId ?? null, ...result }));
    res
      .status(result.status)
      .type('html')
      .send(
        page(
          result.decision,
          `<h1 id="decision" data-decision="${result.decision}">${escape(MESSAGES[result.decision](action))}</h1>
<p id="reason">${escape(result.reason)}</p><p><a href="/${action}">Back</a></p>`,
        ),
      );
  });
}
app.get('/', (_req, res) => res.redirect('/login'));

app.listen(PORT, HOST, function () {
  const { port } = this.address();
  console.log(`example listening on http://${HOST}:${port}`);
});
