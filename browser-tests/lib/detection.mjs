// The detection benchmark's scoring: runs adversary and human variants (lib/adversaries.mjs)
// against a real Prynt server, reads each visit's event back, and puts Prynt's verdict beside
// BotD's for the same visit. Shared by the benchmark (bench/detection/run.mjs) and the test
// (detection.test.mjs) so that both count the same way.
//
// A visit counts as caught by Prynt when its event says `bot.detected`, `tampered` or
// `emulator`: each is a verdict a fraud team's rule blocks or challenges on. `incognito` is not
// a catch (people browse privately). BotD catches a visit when `detect()` says `bot: true`.

/** The stored event of `rid`; identify answered before the page reported, but allow a lag. */
export async function eventOf(prynt, rid) {
  for (let i = 0; ; i++) {
    const r = await prynt.api('GET', `/v1/events/${encodeURIComponent(rid)}`);
    if (r.status === 200) return r.json;
    if (i >= 10) throw new Error(`GET /v1/events/${rid}: HTTP ${r.status} ${r.text}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/** Whether an event's signals flag the visit (see the file's comment). */
export const flagged = (signals) => !!(signals.bot && signals.bot.detected) || !!signals.tampered || !!signals.emulator;

/**
 * Runs `variants` one after the other (they share two cores; in parallel they would time each
 * other out) and resolves to one row per variant:
 * `{ name, kind, engine, headed, secs, error?, bot, botType, reasons, tampered, tamperedReasons,
 * incognito, emulator, caught, botd, botdKind, botdError }`. A variant that cannot complete
 * gives a row with `error` and nothing caught, so it can never count as a catch.
 */
export async function runVariants(prynt, site, variants, { kind, log = () => {} } = {}) {
  const rows = [];
  for (const v of variants) {
    const t0 = Date.now();
    const row = { name: v.name, kind, engine: v.engine, headed: v.headed };
    try {
      const report = await v.run(site);
      if (report.get('error')) throw new Error(`the page's identify failed: ${report.get('error')}`);
      const ev = await eventOf(prynt, report.get('rid'));
      const s = ev.signals || {};
      Object.assign(row, {
        requestId: ev.requestId,
        bot: !!(s.bot && s.bot.detected),
        botType: (s.bot && s.bot.type) || null,
        reasons: (s.bot && s.bot.reasons) || [],
        tampered: !!s.tampered,
        tamperedReasons: s.tamperedReasons || [],
        incognito: !!s.incognito,
        emulator: !!s.emulator,
        caught: flagged(s),
        botd: report.get('botd') === 'true',
        botdKind: report.get('botdKind') || null,
        botdError: report.get('botd') === 'error' ? report.get('botdError') : null,
      });
    } catch (e) {
      Object.assign(row, { error: String((e && e.message) || e).split('\n')[0], caught: false, botd: false });
    }
    row.secs = Math.round((Date.now() - t0) / 100) / 10;
    log(describe(row));
    rows.push(row);
  }
  return rows;
}

/** One line per variant, for logs. */
export function describe(r) {
  if (r.error) return `${r.name.padEnd(32)} ${String(r.secs).padStart(5)} s | FAILED: ${r.error}`;
  const list = (a) => (a && a.length ? a.join('; ') : '-');
  return (
    `${r.name.padEnd(32)} ${String(r.secs).padStart(5)} s | Prynt: ${r.caught ? 'CAUGHT' : 'passed'}` +
    ` bot=${r.bot}${r.botType ? '/' + r.botType : ''} [${list(r.reasons)}] tampered=${r.tampered} [${list(r.tamperedReasons)}]` +
    ` incognito=${r.incognito} | BotD: ${r.botdError ? 'error ' + r.botdError : r.botd ? 'bot/' + r.botdKind : 'human'}`
  );
}

/** The benchmark's closing figures from the variant rows and a corpus result (runCorpus). */
export function summary(adversaries, humans, corpus) {
  const count = (rows, f) => rows.filter(f).length;
  return {
    variants: adversaries.length,
    caught: count(adversaries, (r) => r.caught),
    botdCaught: count(adversaries, (r) => r.botd),
    humans: humans.length,
    humansFlagged: count(humans, (r) => r.caught || !!r.error),
    corpusDevices: corpus ? corpus.devices : 0,
    corpusFlagged: corpus ? corpus.flagged + corpus.errors : 0,
    caughtAsBot: count(adversaries, (r) => r.bot),
    botdHumansFlagged: count(humans, (r) => r.botd),
    failedVariants: count([...adversaries, ...humans], (r) => !!r.error),
  };
}

/** A Markdown table of variant rows. */
export function table(rows) {
  const lines = ['| variant | Prynt | bot | tampered | BotD | s |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(
      r.error
        ? `| ${r.name} | failed: ${r.error} | | | | ${r.secs} |`
        : `| ${r.name} | ${r.caught ? 'caught' : 'passed'} | ${r.bot ? r.botType : '-'} | ${r.tampered ? 'yes' : '-'} | ${r.botd ? 'bot (' + r.botdKind + ')' : 'human'} | ${r.secs} |`,
    );
  }
  return lines.join('\n');
}
