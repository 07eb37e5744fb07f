/**
 * Detection study: runs every adversary and human variant of lib/adversaries.mjs once against
 * a real Prynt server and prints, per variant, what Prynt (bot, tampered, incognito) and
 * BotD concluded. Each variant's raw identify payload goes to /tmp/payloads/<name>.json so
 * that what the agent saw can be studied field by field.
 *
 *   node detection-study.mjs              # every variant
 *   node detection-study.mjs stealth cdp  # only variants whose name contains a word given
 *
 * A plain script, not a test: it reports and never asserts (exit code 1 only when a variant
 * could not complete at all).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { ADVERSARIES, HUMANS, detectionSite, withDisplay } from './lib/adversaries.mjs';
import { startPrynt } from './lib/prynt.mjs';

const OUT = '/tmp/payloads';
const filters = process.argv.slice(2);
const variants = [...ADVERSARIES, ...HUMANS].filter((v) => !filters.length || filters.some((f) => v.name.includes(f)));

/** The stored event; identify has answered before the page reports, but allow a short lag. */
async function event(prynt, rid) {
  for (let i = 0; ; i++) {
    const r = await prynt.api('GET', `/v1/events/${encodeURIComponent(rid)}`);
    if (r.status === 200) return r.json;
    if (i >= 10) throw new Error(`GET /v1/events/${rid}: HTTP ${r.status} ${r.text}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

const list = (a) => (a && a.length ? a.join('; ') : '-');

await mkdir(OUT, { recursive: true });
const prynt = await startPrynt();
const site = await detectionSite(prynt);
const rows = [];
let failed = 0;

// Ctrl-C must still take the server down; process.exit() lets the adversary suite kill the
// running variant's browsers and the display in its exit handler.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, async () => {
    site.close();
    await prynt.stop();
    process.exit(130);
  });
}

try {
  await withDisplay(async () => {
    for (const v of variants) {
      const t0 = Date.now();
      try {
        const report = await v.run(site);
        const secs = ((Date.now() - t0) / 1000).toFixed(1);
        const rid = report.get('rid');
        const ev = await event(prynt, rid);
        const s = ev.signals || {};
        const bot = s.bot || {};
        const botd = report.get('botd') === 'true' ? `bot (${report.get('botdKind')})` : report.get('botd') === 'false' ? 'human' : `error: ${report.get('botdError')}`;
        const payload = site.payloads.get(rid);
        if (payload) await writeFile(`${OUT}/${v.name}.json`, JSON.stringify(payload, null, 2) + '\n');
        rows.push({ name: v.name, bot: !!bot.detected, tampered: !!s.tampered, incognito: !!s.incognito, botd, secs });
        console.log(
          `${v.name.padEnd(30)} ${secs.padStart(5)} s | bot=${bot.detected}${bot.type ? `/${bot.type}` : ''} [${list(bot.reasons)}]` +
            ` | tampered=${s.tampered} [${list(s.tamperedReasons)}] | incognito=${s.incognito} | BotD: ${botd}` +
            (payload ? '' : ' | (no payload recorded)'),
        );
      } catch (e) {
        failed++;
        const secs = ((Date.now() - t0) / 1000).toFixed(1);
        rows.push({ name: v.name, error: e.message.split('\n')[0], secs });
        console.log(`${v.name.padEnd(30)} ${secs.padStart(5)} s | FAILED: ${e.message}`);
      }
    }
  });
} finally {
  await site.close();
  await prynt.stop();
}

// The summary as a Markdown table, ready to paste.
console.log('\n| variant | Prynt bot | Prynt tampered | incognito | BotD | seconds |\n|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    r.error
      ? `| ${r.name} | failed: ${r.error} | | | | ${r.secs} |`
      : `| ${r.name} | ${r.bot ? 'bot' : 'human'} | ${r.tampered} | ${r.incognito} | ${r.botd} | ${r.secs} |`,
  );
}
console.log(`\npayloads in ${OUT}/`);
process.exitCode = failed ? 1 : 0;
