/**
 * The bot-detection benchmark's adversary suite.
 *
 * This module owns three things:
 * - `detectionSite(prynt)`: a loopback "customer site" with a login page that runs BotD and
 *   the Prynt agent side by side, proxies `/v1/*` to the Prynt server first-party (as
 *   customers deploy it) and records every raw identify payload;
 * - `ADVERSARIES`: fraud bots built with the common automation tools (Playwright, Puppeteer,
 *   Selenium, the stealth plugin, fingerprint injection, bare CDP, Firefox over BiDi), each
 *   headless and headed, logging in with the tool's own input methods;
 * - `HUMANS`: browsers that nothing automates (spawned from their command line under Xvfb),
 *   plus one driven only by real X input from xdotool.
 *
 * Every variant is `{ name, engine, headed, run(site, opts) }`; `run` resolves to the page's
 * report (URLSearchParams: rid, botd, botdKind, or error) within ~60 s or rejects with a
 * message naming the variant and the step it was on, and always leaves no process behind.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { spawn, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS } from './browser.mjs';

// The automation tools are imported when a variant first needs them: loading all of them
// takes seconds, and a caller that only wants detectionSite() should not pay for it.
const tools = {
  playwright: () => import('playwright-core').then((m) => m.chromium),
  puppeteer: () => import('puppeteer-core').then((m) => m.default),
  stealth: () =>
    Promise.all([import('puppeteer-core'), import('puppeteer-extra'), import('puppeteer-extra-plugin-stealth')]).then(
      ([core, extra, stealth]) => {
        // A fresh instance per run: the plugins keep per-browser state.
        const pptr = extra.addExtra(core.default);
        pptr.use(stealth.default());
        return pptr;
      },
    ),
  selenium: () => {
    // Belt and braces: the explicit driver path below already keeps Selenium Manager from
    // running; should it ever run, offline mode forbids it any download.
    process.env.SE_OFFLINE ||= 'true';
    return Promise.all([import('selenium-webdriver'), import('selenium-webdriver/chrome.js')]);
  },
  injector: () => import('fingerprint-injector'),
};

export const CHROMEDRIVER = process.env.PRYNT_CHROMEDRIVER || '/usr/bin/chromedriver';
export const FIREFOX = process.env.PRYNT_FIREFOX || '/usr/bin/firefox-esr';

/** What every bot types into the login form unless `opts` says otherwise. */
export const CREDENTIALS = { email: 'alice.fraud@example.com', password: 'Spring2024!hunter2' };

const RUN_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 8_000;

const require = createRequire(import.meta.url);
const BOTD_ESM = require.resolve('@fingerprintjs/botd').replace(/botd\.cjs\.js$/, 'botd.esm.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with `message` when `promise` has not settled within `ms`. */
function within(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}

// ---- the detection site ------------------------------------------------------------------

// The page's own script is deliberately plain: it wraps or patches no native function, so
// whatever the detectors see is the browser's and the tool's doing, never the page's.
// `?auto` identifies on load (for browsers nothing drives); otherwise the form's submit
// does. `?layout` (only the xdotool human uses it) reports where the fields are on screen,
// since a hand on a real mouse needs to know where to point.
const benchHtml = (publicKey) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title>
<link rel="icon" href="data:,">
<style>
  body { font: 16px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2433; }
  form { position: absolute; left: 80px; top: 60px; width: 340px; display: grid; gap: 14px;
         padding: 24px; background: #fff; border: 1px solid #d7dbe2; border-radius: 8px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  label { display: grid; gap: 4px; font-size: 14px; }
  input, button { font: inherit; height: 40px; box-sizing: border-box; padding: 0 10px; }
  button { background: #2451d6; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
</style>
</head>
<body>
<form id="login" action="/bench.html" method="post" novalidate>
  <h1>Sign in</h1>
  <label>Email <input id="email" name="email" type="email" autocomplete="username"></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
  <button id="submit" type="submit">Sign in</button>
  <p id="status" role="status"></p>
</form>
<script src="/v1/agent.js"></script>
<script>
(() => {
  const params = new URLSearchParams(location.search);
  const status = document.getElementById('status');
  const message = (e) => String((e && e.message) || e);
  // Both detectors start at once so that their collection runs while the visitor types.
  const botd = import('/botd.js').then((m) => m.load({ monitoring: false })).then((d) => d.detect());
  botd.catch(() => {});
  const agent = new Promise((resolve) => resolve(Prynt.load({ publicKey: ${JSON.stringify(publicKey)}, endpoint: location.origin })));
  agent.catch(() => {});
  let started = false;
  const login = (email) => {
    if (started) return;
    started = true;
    status.textContent = 'Signing in…';
    const q = new URLSearchParams();
    agent
      .then((a) => a.identify({ type: 'login', linkedId: email }))
      .then(
        (r) => {
          q.set('rid', r.requestId);
          return botd.then(
            (b) => {
              q.set('botd', String(!!b.bot));
              q.set('botdKind', b.bot ? String(b.botKind) : '');
            },
            (e) => {
              q.set('botd', 'error');
              q.set('botdError', message(e));
            },
          );
        },
        (e) => q.set('error', message(e)),
      )
      .then(() => fetch('/report?' + q, { cache: 'no-store' }))
      .then(() => (status.textContent = q.has('error') ? 'Sign-in failed' : 'Signed in'));
  };
  document.getElementById('login').addEventListener('submit', (e) => {
    e.preventDefault();
    login(document.getElementById('email').value);
  });
  if (params.has('auto')) addEventListener('load', () => login('visitor@bench.example'));
  if (params.has('layout')) {
    const rect = (id) => {
      const b = document.getElementById(id).getBoundingClientRect();
      return { x: b.left, y: b.top, w: b.width, h: b.height };
    };
    const send = () =>
      fetch('/layout', {
        method: 'POST',
        body: JSON.stringify({
          screenX, screenY, outerWidth, outerHeight, innerWidth, innerHeight, dpr: devicePixelRatio,
          email: rect('email'), password: rect('password'), submit: rect('submit'),
        }),
      });
    addEventListener('load', send);
    addEventListener('resize', send);
  }
})();
</script>
</body>
</html>
`;

// Hop-by-hop headers belong to one connection and are not forwarded by any proxy.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function rawHeaderPairs(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

function decode(body, encoding) {
  switch ((encoding || '').toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(body);
    case 'deflate':
      return zlib.inflateSync(body);
    case 'br':
      return zlib.brotliDecompressSync(body);
    default:
      return body;
  }
}

/**
 * Starts the loopback detection site for `prynt` (a startPrynt() handle). Resolves to
 * `{ url, close(), nextReport(timeoutMs), clearReports(), nextLayout(timeoutMs), layout(),
 * payloads, headers }`:
 * - `nextReport(timeoutMs = 60000)` resolves to the oldest report not yet taken (the bench
 *   page's `/report` query as URLSearchParams) or rejects after timeoutMs;
 * - `payloads` maps each requestId to the identify request body (parsed JSON) and `headers`
 *   to that request's raw headers (`[name, value]` pairs, as the browser sent them).
 */
export async function detectionSite(prynt) {
  const botdJs = readFileSync(BOTD_ESM);
  const html = benchHtml(prynt.publicKey);
  const upstream = new URL(prynt.base);
  const payloads = new Map();
  const identifyHeaders = new Map();
  const reports = [];
  const waiters = [];
  let lastLayout = null;
  const layoutWaiters = [];

  const deliver = (params) => {
    const w = waiters.shift();
    if (w) w.resolve(params);
    else reports.push(params);
  };

  // First-party proxy: method, path and every request header go to Prynt verbatim (the
  // browser's User-Agent, Sec-Fetch-*, Sec-CH-UA*, Origin...), plus the X-Forwarded-For a
  // customer's proxy adds; the response comes back unchanged.
  const proxy = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = rawHeaderPairs(req.rawHeaders);
      headers.push('X-Forwarded-For', req.socket.remoteAddress || '127.0.0.1');
      const isIdentify = req.method === 'POST' && req.url.split('?')[0] === '/v1/identify';
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (ures) => {
          const out = [];
          ures.on('data', (c) => out.push(c));
          ures.on('error', () => res.destroy());
          ures.on('end', () => {
            const rbody = Buffer.concat(out);
            if (isIdentify) {
              try {
                const { requestId } = JSON.parse(decode(rbody, ures.headers['content-encoding']).toString('utf8'));
                if (requestId) {
                  payloads.set(requestId, JSON.parse(body.toString('utf8')));
                  const pairs = [];
                  for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
                  identifyHeaders.set(requestId, pairs);
                }
              } catch {
                // an error response (no requestId) or a body that is not JSON: nothing to key it by
              }
            }
            res.writeHead(ures.statusCode, ures.statusMessage, rawHeaderPairs(ures.rawHeaders));
            res.end(rbody);
          });
        },
      );
      up.on('error', (e) => {
        if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`proxy error: ${e.message}`);
      });
      up.end(body);
    });
  };

  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (path.startsWith('/v1/')) return proxy(req, res);
    const send = (status, type, body) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (path === '/bench.html') return send(200, 'text/html; charset=utf-8', html);
    if (path === '/botd.js') return send(200, 'text/javascript; charset=utf-8', botdJs);
    if (path === '/report') {
      send(204, 'text/plain', '');
      return deliver(new URL(req.url, 'http://127.0.0.1').searchParams);
    }
    if (path === '/layout' && req.method === 'POST') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          lastLayout = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          layoutWaiters.splice(0).forEach((w) => w.resolve(lastLayout));
        } catch {
          // a malformed beacon is ignored
        }
        send(204, 'text/plain', '');
      });
      return undefined;
    }
    if (path === '/favicon.ico') return send(204, 'text/plain', '');
    return send(404, 'text/plain', 'not found');
  });
  // Keep-alive sockets from browsers that are being killed must not hold close() up.
  server.keepAliveTimeout = 2000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;

  const waitFor = (list, what, timeoutMs) =>
    new Promise((resolve, reject) => {
      const settle = (fn) => (v) => {
        clearTimeout(w.timer);
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        fn(v);
      };
      const w = { resolve: settle(resolve), reject: settle(reject) };
      w.timer = setTimeout(
        () => w.reject(new Error(`no ${what} from the bench page within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      list.push(w);
    });

  return {
    url,
    payloads,
    headers: identifyHeaders,
    nextReport: (timeoutMs = 60_000) =>
      reports.length ? Promise.resolve(reports.shift()) : waitFor(waiters, 'report', timeoutMs),
    /**
     * Starts afresh for a new run: drops reports nobody took and cancels waits still
     * pending, so that nothing of an earlier (perhaps timed-out) run answers the next one.
     */
    clearReports: () => {
      reports.length = 0;
      lastLayout = null;
      for (const w of [...waiters, ...layoutWaiters]) w.reject(new Error('superseded by a new run'));
    },
    /** The latest `?layout` beacon, or null. */
    layout: () => lastLayout,
    nextLayout: (timeoutMs = 30_000) => waitFor(layoutWaiters, 'layout', timeoutMs),
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

// ---- processes: tagging and reaping --------------------------------------------------------

// Every browser a run starts carries a unique value of this variable in its environment.
// Chromium's zygote children do not inherit the environment, but they stay in the tagged
// browser's process group or below it, so "tagged, in a tagged process group or session, or
// a descendant of any of those" is exactly the set of processes the run started, however
// the tool left them (crashed driver, orphaned renderers, double-forked crash handlers).
const TAG_VAR = 'PRYNT_ADVERSARY_RUN';

function procTable() {
  const rows = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      rows.push({ pid: +d, state: f[0], ppid: +f[1], pgid: +f[2], sid: +f[3] });
    } catch {
      // exited while we looked
    }
  }
  return rows;
}

function isTagged(pid, needle) {
  try {
    return readFileSync(`/proc/${pid}/environ`).includes(needle);
  } catch {
    return false; // gone, or not readable (sandboxed children are found through their group)
  }
}

/** The live (non-zombie) processes belonging to run `tag`. */
function runProcesses(tag) {
  const table = procTable();
  const needle = Buffer.from(`${TAG_VAR}=${tag}\0`);
  const byPid = new Map(table.map((p) => [p.pid, p]));
  // Never this process, its group, its session or its ancestors.
  const protectedPids = new Set();
  for (let p = byPid.get(process.pid); p && !protectedPids.has(p.pid); p = byPid.get(p.ppid)) protectedPids.add(p.pid);
  const me = byPid.get(process.pid);
  const ownGroups = new Set(me ? [me.pgid, me.sid] : []);

  const found = new Set(table.filter((p) => isTagged(p.pid, needle)).map((p) => p.pid));
  const groups = new Set();
  for (const pid of found) {
    const p = byPid.get(pid);
    for (const g of [p.pgid, p.sid]) if (!ownGroups.has(g)) groups.add(g);
  }
  for (const p of table) if (groups.has(p.pgid) || groups.has(p.sid)) found.add(p.pid);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of table) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found].filter((pid) => !protectedPids.has(pid) && byPid.get(pid).state !== 'Z');
}

/** SIGKILLs every process of run `tag` until none is left; resolves to the survivors (none). */
async function reap(tag, deadlineMs = 5000) {
  const end = Date.now() + deadlineMs;
  let left = runProcesses(tag);
  while (left.length && Date.now() < end) {
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(100);
    left = runProcesses(tag);
  }
  return left;
}

// ---- the shared X display ------------------------------------------------------------------

let shared = null; // { ready: Promise<{ display, child }>, users }
const liveXvfb = new Set();
const activeRuns = new Set();

// Browsers and a display left behind would outlive the caller (a study stopped with Ctrl-C
// exits through process.exit()): take them down with the process, synchronously.
process.once('exit', () => {
  for (const run of activeRuns) {
    for (const pid of runProcesses(run.tag)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (run.dir) rmSync(run.dir, { recursive: true, force: true });
  }
  for (const child of liveXvfb) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/**
 * Starts Xvfb with one screen of `size` on a free display; resolves to `{ display, child, stop }`
 * (`stop` ends it). It is taken down with the process in any case.
 */
export function startXvfb(size = '1920x1080x24') {
  return new Promise((resolve, reject) => {
    // -displayfd picks a free display number itself, so concurrent xvfb-run users never clash.
    const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', size, '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    liveXvfb.add(child);
    let err = '';
    let out = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-2000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Xvfb ${size} did not announce a display within 10 s: ${err}`));
    }, 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start Xvfb: ${e.message}`));
    });
    child.once('exit', (code) => {
      liveXvfb.delete(child);
      clearTimeout(timer);
      reject(new Error(`Xvfb exited (code ${code}) before announcing a display: ${err}`));
    });
    child.stdio[3].setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdio[3].destroy();
        const stop = () => {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            // already gone
          }
        };
        resolve({ display: `:${m[1]}`, child, stop });
      }
    });
  });
}

/**
 * Runs `fn(display)` with the shared Xvfb display (e.g. ":3"), starting it if nobody holds
 * it and stopping it when the last holder is done. Wrap a whole study in it so that every
 * headed variant shares one display; a variant run outside gets a display of its own.
 */
export async function withDisplay(fn) {
  if (!shared) {
    const s = { users: 0, ready: startXvfb() };
    shared = s;
    s.ready.then(
      ({ child }) => child.once('exit', () => shared === s && (shared = null)),
      () => shared === s && (shared = null),
    );
  }
  const s = shared;
  s.users++;
  try {
    const { display } = await s.ready;
    return await fn(display);
  } finally {
    if (--s.users === 0) {
      if (shared === s) shared = null;
      s.ready.then(
        ({ child }) => {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            // gone
          }
        },
        () => {},
      );
    }
  }
}

// ---- one run of one variant ------------------------------------------------------------------

class Run {
  constructor(name) {
    this.name = name;
    this.tag = randomUUID();
    this.step = 'starting';
    this.closers = [];
    this.dir = null;
    this.stderr = '';
  }

  /** Makes the run's private directory: HOME and TMPDIR of its browsers, parent of its profiles. */
  async init() {
    activeRuns.add(this);
    this.dir = await mkdtemp(join(tmpdir(), 'prynt-run-'));
  }

  /**
   * The environment of the browsers this run starts: tagged, with or without a display, and
   * with HOME and TMPDIR in the run's directory, so that what browsers write outside their
   * profile (singleton sockets, ~/.cache, ~/Downloads, PulseAudio dirs) goes when the run does.
   */
  env(display) {
    const env = { ...process.env, [TAG_VAR]: this.tag, HOME: this.dir, TMPDIR: this.dir };
    for (const k of ['WAYLAND_DISPLAY', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_RUNTIME_DIR']) delete env[k];
    if (display) env.DISPLAY = display;
    else delete env.DISPLAY;
    return env;
  }

  async tempDir(prefix) {
    return mkdtemp(join(this.dir, prefix));
  }

  /** Registers a graceful close, run (bounded) before the processes are reaped. */
  onClose(fn) {
    this.closers.push(fn);
  }

  /** Spawns a browser of our own in its own process group; keeps its stderr's tail. */
  spawn(cmd, args, env) {
    const child = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.setEncoding('utf8').on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    child.once('error', (e) => (this.stderr += `\nspawn ${cmd}: ${e.message}`));
    this.onClose(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return;
      }
      await within(new Promise((r) => child.once('exit', r)), 3000, 'no exit').catch(() => {});
    });
    return child;
  }

  async cleanup() {
    for (const close of this.closers.reverse()) {
      await within(Promise.resolve().then(close), CLOSE_TIMEOUT_MS, 'close timed out').catch(() => {});
    }
    const left = await reap(this.tag);
    if (this.dir) await rm(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }).catch(() => {});
    activeRuns.delete(this);
    if (left.length) throw new Error(`processes ${left.join(', ')} survived SIGKILL`);
  }
}

/**
 * Builds a variant. Its `run(site, opts)` calls `body(run, site, opts, display)` with a fresh
 * Run (display: the shared Xvfb's for a headed variant, else null), bounds it to
 * opts.timeoutMs (60 s), always cleans up, and rejects naming the step that failed.
 * opts: `{ email, password, typingDelayMs, timeoutMs }`, all optional.
 */
function variant(name, engine, headed, body) {
  return {
    name,
    engine,
    headed,
    async run(site, opts = {}) {
      const o = { ...CREDENTIALS, typingDelayMs: 45, timeoutMs: RUN_TIMEOUT_MS, ...opts };
      const go = (display) => {
        const r = new Run(name);
        site.clearReports();
        const work = r.init().then(() => body(r, site, o, display));
        work.catch(() => {}); // after a timeout it rejects once the browser is killed
        let timer;
        const limit = new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`did not finish within ${o.timeoutMs / 1000} s (while ${r.step})`)),
            o.timeoutMs,
          );
        });
        return Promise.race([work, limit])
          .catch((e) => {
            const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
            throw new Error(`${name}: ${e.message}${tail ? `\nbrowser stderr (tail):\n${tail}` : ''}`, { cause: e });
          })
          .finally(async () => {
            clearTimeout(timer);
            await r.cleanup().catch((e) => console.error(`${name}: cleanup: ${e.message}`));
          });
      };
      return headed ? withDisplay(go) : go(null);
    },
  };
}

/** The page's report, or a rejection carrying the page's own error. */
async function report(site, r, timeoutMs = 30_000) {
  r.step = 'waiting for the page to report';
  const params = await site.nextReport(timeoutMs);
  if (params.get('error')) throw new Error(`the bench page reported: ${params.get('error')}`);
  return params;
}

// ---- adversaries -------------------------------------------------------------------------------

/** A fraud bot's login with Puppeteer's own input methods (CDP in Chromium, BiDi in Firefox). */
async function puppeteerLogin(page, site, r, o) {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  r.step = 'opening the page';
  await page.goto(site.url + '/bench.html', { waitUntil: 'load' });
  r.step = 'typing the email';
  await page.click('#email');
  await page.type('#email', o.email, { delay: o.typingDelayMs });
  r.step = 'typing the password';
  await page.click('#password');
  await page.type('#password', o.password, { delay: o.typingDelayMs });
  r.step = 'clicking submit';
  await page.click('#submit');
  return report(site, r);
}

/**
 * A careful bot's login: the pointer glides to a random point inside each field (the tool's
 * own `mouse.move` with steps), presses for a human-looking time, and keys are held and spaced
 * by random delays: what a fraudster adds once centre clicks and instant keys are caught.
 */
async function carefulLogin(page, site, r, o) {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  r.step = 'opening the page';
  await page.goto(site.url + '/bench.html', { waitUntil: 'load' });
  let at = { x: 600 + Math.random() * 200, y: 400 + Math.random() * 100 };
  await page.mouse.move(at.x, at.y);
  const clickInside = async (selector) => {
    const box = await (await page.$(selector)).boundingBox();
    const to = { x: box.x + box.width * (0.2 + Math.random() * 0.5), y: box.y + box.height * (0.3 + Math.random() * 0.4) };
    await page.mouse.move(to.x, to.y, { steps: 20 + Math.floor(Math.random() * 15) });
    at = to;
    await sleep(80 + Math.random() * 150);
    await page.mouse.down();
    await sleep(60 + Math.random() * 70);
    await page.mouse.up();
  };
  const typeLikeAPerson = async (text) => {
    for (const ch of text) {
      await page.keyboard.down(ch);
      await sleep(50 + Math.random() * 70);
      await page.keyboard.up(ch);
      await sleep(40 + Math.random() * 160);
    }
  };
  r.step = 'typing the email';
  await clickInside('#email');
  await typeLikeAPerson(o.email);
  r.step = 'typing the password';
  await clickInside('#password');
  await typeLikeAPerson(o.password);
  r.step = 'clicking submit';
  await clickInside('#submit');
  return report(site, r);
}

async function playwrightLogin(page, site, r, o) {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  r.step = 'opening the page';
  await page.goto(site.url + '/bench.html', { waitUntil: 'load' });
  r.step = 'typing the email';
  await page.click('#email');
  await page.locator('#email').pressSequentially(o.email, { delay: o.typingDelayMs });
  r.step = 'typing the password';
  await page.click('#password');
  await page.locator('#password').pressSequentially(o.password, { delay: o.typingDelayMs });
  r.step = 'clicking submit';
  await page.click('#submit');
  return report(site, r);
}

/** Debian's Chromium launched by Playwright, closed with the run. */
async function launchPlaywright(r, display) {
  r.step = 'launching Chromium (Playwright)';
  const chromium = await tools.playwright();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !display,
    args: CHROMIUM_ARGS,
    env: r.env(display),
    timeout: STEP_TIMEOUT_MS,
  });
  r.onClose(() => browser.close());
  return browser;
}

async function playwrightBot(r, site, o, display) {
  const browser = await launchPlaywright(r, display);
  // Playwright's newPage() is a fresh browser context: an off-the-record profile.
  return playwrightLogin(await browser.newPage(), site, r, o);
}

async function puppeteerBot(r, site, o, display, stealth = false, login = puppeteerLogin) {
  r.step = 'launching Chromium (Puppeteer)';
  const pptr = await (stealth ? tools.stealth() : tools.puppeteer());
  const browser = await pptr.launch({
    executablePath: CHROMIUM,
    headless: !display,
    args: CHROMIUM_ARGS,
    env: r.env(display),
    userDataDir: await r.tempDir('profile-'),
    timeout: STEP_TIMEOUT_MS,
  });
  r.onClose(() => browser.close());
  // newPage(), as every Puppeteer script does: the stealth plugin patches the pages it
  // sees created, not the about:blank tab the browser starts with.
  return login(await browser.newPage(), site, r, o);
}

async function stealthBot(r, site, o, display) {
  return puppeteerBot(r, site, o, display, true);
}

async function carefulStealthBot(r, site, o, display) {
  return puppeteerBot(r, site, o, display, true, carefulLogin);
}

async function seleniumBot(r, site, o, display) {
  r.step = 'starting ChromeDriver (Selenium)';
  const [{ Builder, By }, { default: chrome }] = await tools.selenium();
  const options = new chrome.Options()
    .setChromeBinaryPath(CHROMIUM)
    .addArguments(...CHROMIUM_ARGS, `--user-data-dir=${await r.tempDir('profile-')}`);
  // Selenium has no headless default of its own; Chromium's --headless is its new headless.
  if (!display) options.addArguments('--headless');
  // An explicit driver path keeps Selenium Manager from running at all (it would try to
  // download a driver and a browser).
  const service = new chrome.ServiceBuilder(CHROMEDRIVER).setEnvironment(r.env(display));
  const driver = await within(
    new Builder().forBrowser('chrome').setChromeOptions(options).setChromeService(service).build(),
    STEP_TIMEOUT_MS,
    'ChromeDriver did not start a session',
  );
  r.onClose(() => driver.quit());
  await driver.manage().setTimeouts({ pageLoad: STEP_TIMEOUT_MS, script: STEP_TIMEOUT_MS });
  r.step = 'opening the page';
  await driver.get(site.url + '/bench.html');
  r.step = 'typing the email';
  const email = await driver.findElement(By.id('email'));
  await email.click();
  await email.sendKeys(o.email);
  r.step = 'typing the password';
  const password = await driver.findElement(By.id('password'));
  await password.click();
  await password.sendKeys(o.password);
  r.step = 'clicking submit';
  await driver.findElement(By.id('submit')).click();
  return report(site, r);
}

/** Another real device's fingerprint: a desktop Chrome on Windows, generated per run. */
export const INJECTED_FINGERPRINT = { devices: ['desktop'], operatingSystems: ['windows'], browsers: ['chrome'] };

async function injectorBot(r, site, o, display) {
  const [browser, { newInjectedContext }] = await Promise.all([launchPlaywright(r, display), tools.injector()]);
  r.step = 'injecting a Windows Chrome fingerprint';
  const context = await newInjectedContext(browser, { fingerprintOptions: INJECTED_FINGERPRINT });
  return playwrightLogin(await context.newPage(), site, r, o);
}

/** Resolves to the DevTools WebSocket URL Chromium prints on stderr. */
function devToolsUrl(child, r) {
  return within(
    new Promise((resolve, reject) => {
      let buf = '';
      child.stderr.on('data', (d) => {
        buf += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(buf);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code, sig) => reject(new Error(`Chromium exited (code ${code}, signal ${sig}) before DevTools listened`)));
    }),
    STEP_TIMEOUT_MS,
    'Chromium printed no DevTools URL',
  ).finally(() => (r.step = 'connecting over CDP'));
}

async function cdpBot(r, site, o, display) {
  r.step = 'spawning Chromium with remote debugging';
  // The browser a person would run, plus a debugging port: no --enable-automation, and the
  // AutomationControlled feature off so navigator.webdriver stays false.
  const args = [
    ...CHROMIUM_ARGS,
    `--user-data-dir=${await r.tempDir('profile-')}`,
    '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1',
    '--disable-blink-features=AutomationControlled',
    '--no-default-browser-check',
    '--window-size=1280,900',
    ...(display ? [] : ['--headless']),
    'about:blank',
  ];
  const child = r.spawn(CHROMIUM, args, r.env(display));
  const browserWSEndpoint = await devToolsUrl(child, r);
  const puppeteer = await tools.puppeteer();
  const browser = await puppeteer.connect({ browserWSEndpoint, defaultViewport: null, protocolTimeout: STEP_TIMEOUT_MS });
  r.onClose(() => browser.disconnect());
  const pages = await browser.pages();
  return puppeteerLogin(pages[0] || (await browser.newPage()), site, r, o);
}

// Prefs that keep Firefox off the network it cannot reach and away from first-run pages.
// None of them changes what a page can measure.
export const FIREFOX_PREFS = {
  'app.normandy.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  'app.update.auto': false,
  'app.update.enabled': false,
  'browser.aboutwelcome.enabled': false,
  'browser.discovery.enabled': false,
  'browser.newtabpage.activity-stream.feeds.section.topstories': false,
  'browser.newtabpage.activity-stream.feeds.snippets': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.newtabpage.activity-stream.showSponsored': false,
  'browser.newtabpage.activity-stream.showSponsoredTopSites': false,
  'browser.newtabpage.enabled': false,
  'browser.ping-centre.telemetry': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.search.geoip.url': '',
  'browser.search.update': false,
  'browser.sessionstore.resume_from_crash': false,
  'browser.shell.checkDefaultBrowser': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.startup.page': 0,
  'browser.tabs.warnOnClose': false,
  'browser.topsites.contile.enabled': false,
  'browser.translations.automaticallyPopup': false,
  'browser.uitour.enabled': false,
  'browser.urlbar.quicksuggest.enabled': false,
  'browser.urlbar.suggest.quicksuggest.sponsored': false,
  'captivedetect.canonicalURL': '',
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.policy.firstRunURL': '',
  'dom.push.connection.enabled': false,
  'dom.push.serverURL': '',
  'extensions.blocklist.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.pocket.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.update.enabled': false,
  'geo.provider.network.url': '',
  'identity.fxaccounts.enabled': false,
  'media.gmp-gmpopenh264.enabled': false,
  'media.gmp-manager.url': '',
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.predictor.enabled': false,
  'network.prefetch-next': false,
  'network.trr.mode': 5,
  'privacy.sanitize.sanitizeOnShutdown': false,
  'security.OCSP.enabled': 0,
  'security.remote_settings.crlite_filters.enabled': false,
  'services.settings.server': 'http://127.0.0.1:9/',
  'startup.homepage_welcome_url': '',
  'startup.homepage_welcome_url.additional': '',
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'toolkit.telemetry.server': '',
  'toolkit.telemetry.unified': false,
  'trailhead.firstrun.didSeeAboutWelcome': true,
};

async function firefoxBot(r, site, o, display) {
  r.step = 'launching Firefox (Puppeteer, WebDriver BiDi)';
  const puppeteer = await tools.puppeteer();
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: !display,
    env: r.env(display),
    userDataDir: await r.tempDir('profile-'),
    extraPrefsFirefox: FIREFOX_PREFS,
    timeout: 30_000,
  });
  r.onClose(() => browser.close());
  const [first] = await browser.pages();
  return puppeteerLogin(first || (await browser.newPage()), site, r, o);
}

const TOOLS = [
  ['playwright', 'chromium', playwrightBot],
  ['puppeteer', 'chromium', puppeteerBot],
  ['selenium', 'chromium', seleniumBot],
  ['puppeteer-stealth', 'chromium', stealthBot],
  ['puppeteer-stealth-careful', 'chromium', carefulStealthBot],
  ['fingerprint-injector', 'chromium', injectorBot],
  ['cdp', 'chromium', cdpBot],
  ['firefox', 'firefox', firefoxBot],
];

/** Fraud bots, each `<tool>-headless` and `<tool>-headed` (headed under the shared Xvfb). */
export const ADVERSARIES = TOOLS.flatMap(([tool, engine, body]) => [
  variant(`${tool}-headless`, engine, false, body),
  variant(`${tool}-headed`, engine, true, body),
]);

// ---- humans ------------------------------------------------------------------------------------

const WINDOW = ['--window-position=0,0', '--window-size=1280,900'];

/** A headed Chromium nothing automates, opening the bench page from its command line. */
const humanChromium = (extra) => async (r, site, o, display) => {
  r.step = 'starting Chromium';
  const args = [
    ...CHROMIUM_ARGS,
    `--user-data-dir=${await r.tempDir('profile-')}`,
    '--no-default-browser-check',
    ...WINDOW,
    ...extra,
    site.url + '/bench.html?auto',
  ];
  r.spawn(CHROMIUM, args, r.env(display));
  return report(site, r, 45_000);
};

/** A headed Firefox nothing automates (no Marionette, no BiDi), fresh profile, prefs in user.js. */
const humanFirefox = (extra) => async (r, site, o, display) => {
  r.step = 'starting Firefox';
  const profile = await r.tempDir('profile-');
  const userJs = Object.entries(FIREFOX_PREFS)
    .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`)
    .join('\n');
  await writeFile(join(profile, 'user.js'), userJs + '\n');
  r.spawn(FIREFOX, ['-profile', profile, '-no-remote', '-new-instance', ...extra, site.url + '/bench.html?auto'], r.env(display));
  return report(site, r, 45_000);
};

const xdo = (display, args) =>
  new Promise((resolve, reject) => {
    execFile('xdotool', args, { env: { ...process.env, DISPLAY: display }, timeout: 10_000 }, (e, stdout) =>
      e ? reject(new Error(`xdotool ${args.join(' ')}: ${e.message}`)) : resolve(stdout),
    );
  });

const rand = (a, b) => a + Math.random() * (b - a);

/** Moves the X pointer from `from` to `to` along a quadratic Bézier curve, easing in and out. */
async function moveAlongCurve(display, from, to) {
  const dist = Math.hypot(to.x - from.x, to.y - from.y);
  // The control point sits off the straight line, to one side, as a wrist's arc does.
  const bend = rand(0.15, 0.35) * dist * (Math.random() < 0.5 ? -1 : 1);
  const nx = -(to.y - from.y) / (dist || 1);
  const ny = (to.x - from.x) / (dist || 1);
  const c = { x: (from.x + to.x) / 2 + nx * bend, y: (from.y + to.y) / 2 + ny * bend };
  const steps = Math.max(8, Math.min(30, Math.round(dist / 25)));
  for (let i = 1; i <= steps; i++) {
    const lin = i / steps;
    const t = lin < 0.5 ? 2 * lin * lin : 1 - (-2 * lin + 2) ** 2 / 2;
    const x = (1 - t) ** 2 * from.x + 2 * (1 - t) * t * c.x + t * t * to.x;
    const y = (1 - t) ** 2 * from.y + 2 * (1 - t) * t * c.y + t * t * to.y;
    await xdo(display, ['mousemove', String(Math.round(x)), String(Math.round(y))]);
    await sleep(rand(8, 22));
  }
}

/**
 * A headed Chromium that only real X input drives: xdotool moves the pointer along curves,
 * clicks into the fields, types with a delay and clicks submit, through the same input
 * pipeline a person's mouse and keyboard use. No DevTools or WebDriver connection exists.
 */
async function humanXdotool(r, site, o, display) {
  r.step = 'starting Chromium';
  const args = [
    ...CHROMIUM_ARGS,
    `--user-data-dir=${await r.tempDir('profile-')}`,
    '--no-default-browser-check',
    ...WINDOW,
    site.url + '/bench.html?layout',
  ];
  r.spawn(CHROMIUM, args, r.env(display));
  r.step = 'waiting for the page layout';
  await site.nextLayout(30_000);
  // Infobars (e.g. the --no-sandbox warning) can still push the page down; the page sends
  // its layout again on every resize, so take the latest once things have settled.
  await sleep(1500);
  const l = site.layout();
  // Content area in screen pixels: Chromium's frame and toolbar sit above it.
  const left = l.screenX + (l.outerWidth - l.innerWidth) / 2;
  const top = l.screenY + l.outerHeight - l.innerHeight;
  const at = (rect) => ({
    x: Math.round((left + rect.x + rect.w * rand(0.25, 0.7)) * l.dpr),
    y: Math.round((top + rect.y + rect.h * rand(0.35, 0.65)) * l.dpr),
  });
  let pos = { x: Math.round(rand(700, 1100)), y: Math.round(rand(500, 800)) };
  await xdo(display, ['mousemove', String(pos.x), String(pos.y)]);
  const clickAt = async (rect) => {
    const to = at(rect);
    await moveAlongCurve(display, pos, to);
    pos = to;
    await sleep(rand(80, 200));
    await xdo(display, ['click', '1']);
    await sleep(rand(150, 350));
  };
  r.step = 'typing the email (xdotool)';
  await clickAt(l.email);
  await xdo(display, ['type', '--delay', '110', o.email]);
  r.step = 'typing the password (xdotool)';
  await clickAt(l.password);
  await xdo(display, ['type', '--delay', '120', o.password]);
  r.step = 'clicking submit (xdotool)';
  await clickAt(l.submit);
  return report(site, r);
}

/** Browsers nothing automates, all headed under the shared Xvfb display. */
export const HUMANS = [
  variant('human-chromium', 'chromium', true, humanChromium([])),
  variant('human-chromium-incognito', 'chromium', true, humanChromium(['--incognito'])),
  variant('human-firefox', 'firefox', true, humanFirefox([])),
  variant('human-firefox-private', 'firefox', true, humanFirefox(['-private-window'])),
  variant('human-chromium-xdotool', 'chromium', true, humanXdotool),
];
