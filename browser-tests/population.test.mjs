// The benchmark population (lib/population.mjs, CLI population.mjs): reproducible to the byte,
// every drift kind drawn in a 2,000-browser × 90-day population, every kind changing the
// component fields it claims and no others, and the token/private bookkeeping consistent; the
// network model (each visit's `ip`): public addresses in canonical text, streams of its own,
// households sharing their home address, addresses persisting as networks do, shared CGNAT,
// workplace and VPN addresses, and the meta line's network section; and the benchmarks' binary
// replaying a small population (`prynt-bench accuracy --population`). Runs no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DRIFT_KINDS, FIELDS_OF, NETWORK_PARTS, population, populationMeta, populationNetworks } from './lib/population.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

async function cli(args) {
  const dir = mkdtempSync(join(tmpdir(), 'prynt-population-'));
  try {
    const out = join(dir, 'pop.jsonl');
    await run(process.execPath, [join(HERE, 'population.mjs'), ...args, '--out', out], { maxBuffer: 1 << 20 });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Leaf paths whose values differ between two component objects ("screen.w", "uaData.brands"). */
function diff(a, b, prefix = '', out = []) {
  const keys = new Set([...Object.keys(a || {}), ...Object.keys(b || {})]);
  for (const k of keys) {
    const x = a ? a[k] : undefined;
    const y = b ? b[k] : undefined;
    const p = prefix ? `${prefix}.${k}` : k;
    const plain = (v) => v && typeof v === 'object' && !Array.isArray(v);
    if (plain(x) && plain(y)) diff(x, y, p, out);
    else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(p);
  }
  return out;
}
const covered = (path, fields) => fields.some((f) => path === f || path.startsWith(`${f}.`) || f.startsWith(`${path}.`));

// One 2,000-browser × 90-day population, grouped by browser, shared by the tests below.
let big = null;
function bigPopulation() {
  if (big) return big;
  const byBrowser = new Map();
  let last = -Infinity;
  let sorted = true;
  for (const v of population({ browsers: 2000, days: 90, seed: 1 })) {
    if (v.day < last) sorted = false;
    last = v.day;
    if (!byBrowser.has(v.browser)) byBrowser.set(v.browser, []);
    byBrowser.get(v.browser).push(v);
  }
  big = { byBrowser, sorted };
  return big;
}

test('the same arguments give byte-identical output, another seed another population', async () => {
  const args = ['--browsers', '120', '--days', '30', '--seed', '5', '--workspaces', '2'];
  const a = await cli(args);
  const b = await cli(args);
  assert.ok(a.equals(b), 'two runs with the same arguments differ');
  const c = await cli(['--browsers', '120', '--days', '30', '--seed', '6', '--workspaces', '2']);
  assert.ok(!a.equals(c), 'another seed gave the same population');

  const lines = a.toString('utf8').trimEnd().split('\n');
  const meta = JSON.parse(lines[0]).meta;
  assert.equal(meta.browsers, 120);
  assert.equal(meta.workspaces, 2);
  assert.equal(meta.visits, lines.length - 1);
  const visits = lines.slice(1).map((l) => JSON.parse(l));
  let prev = null;
  const kinds = new Set(DRIFT_KINDS.map((k) => k.kind));
  for (const v of visits) {
    assert.deepEqual(Object.keys(v), ['ws', 'day', 'browser', 'token', 'private', 'changes', 'components', 'ip']);
    assert.ok(isIP(v.ip), `not an address: ${v.ip}`);
    for (const k of ['automation', 'integrity', 'behavior', 'timing']) assert.ok(!(k in v.components), `components keep ${k}`);
    for (const k of v.changes) assert.ok(kinds.has(k), `unknown kind ${k}`);
    if (prev) assert.ok(prev.ws < v.ws || (prev.ws === v.ws && prev.day <= v.day), 'visits are not sorted by (ws, day)');
    prev = v;
  }
  assert.deepEqual([...new Set(visits.map((v) => v.ws))], [0, 1]);
  assert.ok(meta.network && meta.network.visits && meta.network.consecutive, 'meta line without its network section');
  // Workspaces are independent populations, not copies.
  const first = (ws) => JSON.stringify(visits.find((v) => v.ws === ws && v.browser === 0)?.components ?? null);
  assert.notEqual(first(0), first(1));
});

test('every drift kind is drawn in a 2,000-browser, 90-day population, with realistic visit counts', () => {
  const { byBrowser, sorted } = bigPopulation();
  assert.ok(sorted, 'visits are not sorted by day');
  const counts = Object.fromEntries(DRIFT_KINDS.map((k) => [k.kind, 0]));
  let visits = 0;
  let tokenless = 0;
  for (const list of byBrowser.values()) {
    for (const v of list) {
      visits++;
      if (!v.token) tokenless++;
      for (const k of v.changes) counts[k]++;
    }
  }
  const missing = Object.entries(counts).filter(([, n]) => n === 0).map(([k]) => k);
  assert.deepEqual(missing, [], `kinds never on a visit: ${missing.join(', ')}`);
  const perBrowser = visits / 2000;
  assert.ok(perBrowser >= 8 && perBrowser <= 25, `${perBrowser.toFixed(1)} visits per browser`);
  const once = [...byBrowser.values()].filter((l) => l.length === 1).length;
  const daily = [...byBrowser.values()].filter((l) => l.length >= 60).length;
  assert.ok(once > 100 && daily > 20, `heavy-tailed returns expected: ${once} one-visit browsers, ${daily} with 60+ visits`);
  const firstDays = [...byBrowser.values()].map((l) => l[0].day);
  assert.ok(firstDays.filter((d) => d > 45).length > 200, 'new browsers should keep arriving through the period');
  const share = tokenless / visits;
  assert.ok(share >= 0.2 && share <= 0.36, `token-less share ${share.toFixed(3)}`);
});

test('tokens: first visits and private windows never carry one, storage comes back only from a normal visit', () => {
  const { byBrowser } = bigPopulation();
  for (const [browser, list] of byBrowser) {
    assert.equal(list[0].token, false, `browser ${browser}: first visit with a token`);
    assert.deepEqual(list[0].changes, [], `browser ${browser}: first visit lists changes`);
    let held = false;
    for (const [i, v] of list.entries()) {
      if (v.changes.includes('storageCleared') || v.changes.includes('cookiesOnExit')) held = false;
      if (i > 0) assert.equal(v.changes.includes('privateWindow'), v.private, `browser ${browser} day ${v.day}: privateWindow listed ${v.changes.includes('privateWindow')} but private ${v.private}`);
      if (v.private) {
        assert.equal(v.token, false, `browser ${browser} day ${v.day}: a private window sent a token`);
      } else {
        assert.equal(v.token, held, `browser ${browser} day ${v.day}: token ${v.token}, storage ${held ? 'held' : 'absent'}`);
        held = true;
      }
      if (v.changes.includes('storageCleared') || v.changes.includes('cookiesOnExit')) assert.equal(v.token, false);
    }
  }
});

// Kinds whose listing guarantees a visible change, and the check that shows it.
const VISIBLE = {
  browserUpgrade: (a, b) => a.userAgent !== b.userAgent,
  browserDowngrade: (a, b) => a.userAgent !== b.userAgent,
  channelSwitch: (a, b) => a.userAgent !== b.userAgent,
  zoom: (a, b) => a.screen.pixelRatio !== b.screen.pixelRatio,
  externalMonitor: (a, b) => JSON.stringify(a.screen) !== JSON.stringify(b.screen),
  windowResize: (a, b) => JSON.stringify(a.window) !== JSON.stringify(b.window),
  fontsInstalled: (a, b) => b.fonts.length > a.fonts.length && a.fonts.every((f) => b.fonts.includes(f)),
  fontsRemoved: (a, b) => b.fonts.length < a.fonts.length && b.fonts.every((f) => a.fonts.includes(f)),
  languageAdded: (a, b) => b.languages.length > a.languages.length,
  languageRemoved: (a, b) => b.languages.length < a.languages.length,
  languageReordered: (a, b) => a.languages.join() !== b.languages.join() && [...a.languages].sort().join() === [...b.languages].sort().join(),
  timezoneTravel: (a, b) => a.timezone !== b.timezone,
  timezoneMove: (a, b) => a.timezone !== b.timezone,
  daylightSaving: (a, b) => a.timezone === b.timezone && a.timezoneOffset !== b.timezoneOffset,
};
// Kinds whose change is often but not always visible (the agent sees part of what happened).
const MOSTLY = { browserPatch: 0.9, osUpgrade: 0.4, gpuDriver: 0.3 };

test('every kind changes the fields it claims, and only those', () => {
  const { byBrowser } = bigPopulation();
  const noisy = new Set();
  for (const [browser, list] of byBrowser) if (list.some((v) => v.changes.includes('privacyNoise') || v.changes.includes('antiFingerprinting'))) noisy.add(browser);
  const seen = {};
  const shown = {};
  const strays = [];
  for (const [browser, list] of byBrowser) {
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1];
      const b = list[i];
      if (noisy.has(browser)) {
        if (b.changes.includes('privacyNoise')) {
          const d = diff(a.components, b.components);
          assert.ok(d.some((p) => p.startsWith('canvas.') || p.startsWith('audio.') || p === 'hardwareConcurrency' || p === 'plugins'), `browser ${browser} day ${b.day}: privacyNoise without a noisy field changed`);
        }
        continue;
      }
      if (a.private || b.private) continue;
      const kinds = b.changes.filter((k) => k !== 'storageCleared' && k !== 'cookiesOnExit');
      const d = diff(a.components, b.components);
      if (kinds.length === 0) {
        if (d.length) strays.push(`browser ${browser} day ${b.day}: ${d.join(', ')} changed with no kind listed`);
        continue;
      }
      const outside = d.filter((p) => !kinds.some((k) => covered(p, FIELDS_OF(k))));
      if (outside.length) strays.push(`browser ${browser} day ${b.day}: ${kinds.join('+')} changed ${outside.join(', ')}`);
      if (kinds.length > 1) continue;
      const k = kinds[0];
      seen[k] = (seen[k] || 0) + 1;
      if (VISIBLE[k]) assert.ok(VISIBLE[k](a.components, b.components), `browser ${browser} day ${b.day}: ${k} listed but not visible (${d.join(', ') || 'nothing changed'})`);
      if (d.length) shown[k] = (shown[k] || 0) + 1;
    }
  }
  assert.deepEqual(strays.slice(0, 10), [], `${strays.length} changes outside what the kinds claim`);
  const common = ['browserUpgrade', 'zoom', 'externalMonitor', 'windowResize', 'fontsInstalled', 'languageAdded', 'timezoneTravel', 'daylightSaving', 'browserPatch', 'osUpgrade', 'gpuDriver'];
  for (const k of common) assert.ok(seen[k] > 0, `${k} never seen alone`);
  for (const [k, min] of Object.entries(MOSTLY)) {
    if (!seen[k]) continue;
    const share = (shown[k] || 0) / seen[k];
    assert.ok(share >= min, `${k}: only ${(share * 100).toFixed(0)}% of ${seen[k]} visits show a change`);
  }
});

test('a private visit shows private-mode storage and leaves the next normal visit as before', () => {
  const { byBrowser } = bigPopulation();
  let checked = 0;
  for (const list of byBrowser.values()) {
    for (let i = 1; i + 1 < list.length; i++) {
      const [a, p, b] = [list[i - 1], list[i], list[i + 1]];
      if (a.private || !p.private || b.private || b.changes.length || a.changes.includes('privacyNoise')) continue;
      if (p.changes.some((k) => k !== 'privateWindow')) continue;
      assert.notDeepEqual(p.components.storage, a.components.storage, 'private window with normal storage');
      // Nothing carried over from the private window.
      assert.deepEqual(diff(a.components, b.components).filter((x) => !x.startsWith('storage.')), []);
      checked++;
    }
  }
  assert.ok(checked > 10, `only ${checked} private visits between two quiet ones`);
});

// ---- the network: each visit's `ip` ------------------------------------------------------------

/** The eight 16-bit groups of an IPv6 address in text. */
function groups6(ip) {
  const [head, tail] = ip.split('::');
  const a = head ? head.split(':') : [];
  const b = tail === undefined ? [] : tail ? tail.split(':') : [];
  const gap = tail === undefined ? [] : Array(8 - a.length - b.length).fill('0');
  return [...a, ...gap, ...b].map((x) => parseInt(x, 16));
}
/** IPv4 /32 or the IPv6 /64: what browsers behind one router share. */
const network64 = (ip) => (isIP(ip) === 6 ? groups6(ip).slice(0, 4).join(':') : ip);

/** Public unicast: never 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, 224/3 and up; IPv6 in 2000::/3. */
function publicAddress(ip) {
  if (isIP(ip) === 6) return (groups6(ip)[0] & 0xe000) === 0x2000;
  const [a, b] = ip.split('.').map(Number);
  return !(a === 0 || a === 10 || a === 127 || a >= 224 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168));
}

test('network: every visit comes from a public address in canonical text, a fifth to three fifths over IPv6', () => {
  const { byBrowser } = bigPopulation();
  let visits = 0;
  let v6 = 0;
  for (const list of byBrowser.values()) {
    for (const v of list) {
      visits++;
      const kind = isIP(v.ip);
      assert.ok(kind === 4 || kind === 6, `not an address: ${JSON.stringify(v.ip)}`);
      assert.ok(publicAddress(v.ip), `not public unicast: ${v.ip}`);
      if (kind === 6) {
        v6++;
        // The text URL parsing gives back (RFC 5952): lower case, shortest, '::' where it belongs.
        assert.equal(new URL(`http://[${v.ip}]/`).hostname, `[${v.ip}]`, `not canonical: ${v.ip}`);
      } else {
        assert.equal(new URL(`http://${v.ip}/`).hostname, v.ip);
      }
    }
  }
  const share = v6 / visits;
  assert.ok(share >= 0.2 && share <= 0.6, `IPv6 share ${share.toFixed(3)}`);
});

test('network: streams of its own, so another network seed changes the addresses and nothing else', () => {
  const o = { browsers: 150, days: 30, seed: 5, workspaces: 2 };
  const a = [...population(o)];
  const b = [...population({ ...o, networkSeed: 'another' })];
  const c = [...population(o)];
  assert.equal(a.length, b.length);
  let moved = 0;
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].ip, c[i].ip, 'the same arguments gave another address');
    const { ip: ipa, ...ra } = a[i];
    const { ip: ipb, ...rb } = b[i];
    assert.equal(JSON.stringify(ra), JSON.stringify(rb), `visit ${i}: a field other than ip depends on the network draws`);
    if (ipa !== ipb) moved++;
  }
  assert.ok(moved > a.length * 0.5, `only ${moved} of ${a.length} addresses moved with the network seed`);
});

/** Of the groups whose members visited on a same day, the share that shared an IPv4 address or IPv6 /64 that day. */
function sharedSameDay(groups, byBrowser) {
  let met = 0;
  let shared = 0;
  for (const members of groups) {
    const onDay = new Map();
    const onNetwork = new Map();
    for (const m of members) {
      for (const v of byBrowser.get(m) || []) {
        const d = Math.floor(v.day);
        const k = `${d}|${network64(v.ip)}`;
        if (!onDay.has(d)) onDay.set(d, new Set());
        onDay.get(d).add(m);
        if (!onNetwork.has(k)) onNetwork.set(k, new Set());
        onNetwork.get(k).add(m);
      }
    }
    if (![...onDay.values()].some((x) => x.size > 1)) continue;
    met++;
    if ([...onNetwork.values()].some((x) => x.size > 1)) shared++;
  }
  return { met, share: shared / Math.max(1, met) };
}

test('network: housemates share their home address, browsers of other homes in the same zone hardly ever', () => {
  const { byBrowser } = bigPopulation();
  const [{ households }] = populationNetworks({ browsers: 2000, days: 90, seed: 1 });
  const members = households.flat();
  assert.equal(new Set(members).size, members.length, 'a browser in two households');
  const share = members.length / 2000;
  assert.ok(share >= 0.25 && share <= 0.45, `${(share * 100).toFixed(1)}% of browsers share a home`);
  assert.ok(households.some((h) => h.length >= 3), 'no family of three or more');
  const zoneOf = (b) => byBrowser.get(b)?.[0].components.timezone;
  // Housemates live in one zone: their first visits show it, but for a trip or a spoofed zone.
  const oneZone = households.filter((h) => new Set(h.filter((b) => byBrowser.has(b)).map(zoneOf)).size === 1).length;
  assert.ok(oneZone >= households.length * 0.85, `only ${oneZone} of ${households.length} households in one zone`);
  const home = sharedSameDay(households, byBrowser);
  // Control: pairs of browsers of one zone that do not live together.
  const inHousehold = new Set(members);
  const byZone = new Map();
  for (const b of byBrowser.keys()) {
    if (inHousehold.has(b)) continue;
    const z = zoneOf(b);
    if (!byZone.has(z)) byZone.set(z, []);
    byZone.get(z).push(b);
  }
  const pairs = [];
  for (const list of byZone.values()) for (let i = 0; i + 1 < list.length; i += 2) pairs.push([list[i], list[i + 1]]);
  const strangers = sharedSameDay(pairs, byBrowser);
  assert.ok(home.met >= 50 && home.share >= 0.35, `housemates shared an address on ${(home.share * 100).toFixed(0)}% of ${home.met} households' common days`);
  assert.ok(strangers.met >= 50 && strangers.share <= 0.05, `strangers of one zone shared an address in ${(strangers.share * 100).toFixed(1)}% of ${strangers.met} pairs`);
});

test('network: a session keeps its address, home addresses last for days and then change', () => {
  const { byBrowser } = bigPopulation();
  const tally = () => ({ n: 0, same: 0 });
  const session = tally();
  const sameDay = tally();
  const later = tally();
  let renumbered = 0;
  for (const list of byBrowser.values()) {
    const seen = new Set();
    for (let i = 1; i < list.length; i++) {
      const gap = list[i].day - list[i - 1].day;
      const t = gap < 0.99 / 24 ? session : gap < 1 ? sameDay : later;
      t.n++;
      if (list[i].ip === list[i - 1].ip) t.same++;
    }
    for (const v of list) seen.add(v.ip);
    if (list.length >= 20 && seen.size >= 3) renumbered++;
  }
  const share = (t) => t.same / Math.max(1, t.n);
  // Follow-ups minutes apart: the same network; a home renumbering or a new daily IPv6 identifier in between is rare.
  assert.ok(session.n > 1000 && share(session) >= 0.97, `${(share(session) * 100).toFixed(1)}% of ${session.n} in-session pairs kept their address`);
  assert.ok(share(sameDay) >= 0.25 && share(sameDay) <= 0.8, `same-day pairs: ${(share(sameDay) * 100).toFixed(1)}% kept their address`);
  assert.ok(share(later) >= 0.12 && share(later) <= 0.6, `pairs a day or more apart: ${(share(later) * 100).toFixed(1)}% kept their address`);
  assert.ok(renumbered > 50, `only ${renumbered} frequent visitors seen from 3 addresses or more`);
});

test('network: CGNAT, workplaces and VPN exits put browsers of different homes behind one address', () => {
  const { byBrowser } = bigPopulation();
  const [{ households, workplaces }] = populationNetworks({ browsers: 2000, days: 90, seed: 1 });
  const home = new Map();
  households.forEach((h, i) => h.forEach((b) => home.set(b, `h${i}`)));
  const from = new Map();
  for (const [b, list] of byBrowser) {
    for (const v of list) {
      if (!from.has(v.ip)) from.set(v.ip, new Set());
      from.get(v.ip).add(home.get(b) ?? `b${b}`);
    }
  }
  const crowded = [...from.entries()].filter(([ip, homes]) => isIP(ip) === 4 && homes.size >= 3).length;
  assert.ok(crowded >= 30, `only ${crowded} IPv4 addresses seen from 3 or more homes`);
  // Coworkers of one workplace appear behind its address.
  const teams = workplaces.filter((w) => w.length > 1);
  const together = teams.filter((w) => {
    const seen = new Map();
    for (const b of w) for (const v of byBrowser.get(b) || []) seen.set(v.ip, (seen.get(v.ip) || new Set()).add(b));
    return [...seen.values()].some((x) => x.size > 1);
  }).length;
  assert.ok(teams.length >= 10 && together >= teams.length * 0.4, `${together} of ${teams.length} workplaces showed coworkers behind one address`);
});

test('network: the meta line summarises the model and its rates', () => {
  const meta = populationMeta({ browsers: 1000, days: 90, seed: 2 });
  const n = meta.network;
  assert.equal(n.seed, 2);
  for (const p of NETWORK_PARTS) {
    assert.ok(n.parts[p.part] && n.parts[p.part].rate && n.parts[p.part].source, `part ${p.part} without rate or source`);
  }
  const kinds = ['home', 'mobile', 'work', 'other', 'hotel', 'vpn', 'relay'];
  const total = kinds.reduce((s, k) => s + n.visits[k], 0);
  assert.ok(Math.abs(total - 1) < 0.001, `visit shares add up to ${total}`);
  assert.ok(n.visits.home >= 0.4 && n.visits.home <= 0.8, `home ${n.visits.home}`);
  assert.ok(n.visits.work > 0.03 && n.visits.other > 0.01 && n.visits.vpn > 0.003 && n.visits.relay > 0.003, JSON.stringify(n.visits));
  assert.ok(n.visitsByDevice.phone.mobile >= 0.3 && n.visitsByDevice.phone.mobile <= 0.6, `phones on mobile data: ${n.visitsByDevice.phone.mobile}`);
  assert.equal(n.visitsByDevice.desktop.mobile, 0);
  assert.ok(n.households.browsersSharing >= 0.25 && n.households.browsersSharing <= 0.45, `${n.households.browsersSharing} of browsers share a home`);
  assert.ok(n.households.withSameStratum > 0, 'no household with two browsers of one stratum');
  assert.ok(n.households.ipv6 >= 0.2 && n.households.ipv6 <= 0.6, `IPv6 households ${n.households.ipv6}`);
  for (const k of ['all', 'phone', 'laptop', 'desktop']) {
    const c = n.consecutive[k];
    assert.ok(c.pairs > 100 && c.sameAddress > 0.1 && c.sameAddress < 0.95 && c.samePrefix >= c.sameAddress, `${k}: ${JSON.stringify(c)}`);
  }
  // Phones move between networks more than desktops do.
  assert.ok(n.consecutive.phone.sameAddress < n.consecutive.desktop.sameAddress);
  assert.ok(n.mobileCgnatAddresses.seenFromSeveralBrowsers >= 0.03, `CGNAT addresses shared: ${JSON.stringify(n.mobileCgnatAddresses)}`);
  assert.ok(n.mobileCgnat24s.seenFromSeveralBrowsers >= 0.3, `CGNAT /24s shared: ${JSON.stringify(n.mobileCgnat24s)}`);
  assert.ok(n.perWorkspace.isps >= 24 && n.perWorkspace.isps <= 120, `${n.perWorkspace.isps} ISPs`);
});

test('a 1,000-browser population is written quickly', async (t) => {
  const started = Date.now();
  const out = await cli(['--browsers', '1000', '--days', '90', '--seed', '2']);
  const lines = out.toString('utf8').trimEnd().split('\n');
  const meta = JSON.parse(lines[0]).meta;
  assert.equal(meta.visits, lines.length - 1);
  t.diagnostic(`1,000 browsers × 90 days: ${meta.visits} visits, ${(out.length / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('the benchmarks binary replays a population: figures per drift kind, Prynt ahead of the exact hash', async () => {
  // `prynt-bench`, which cargo builds beside the `prynt` binary the other tests run.
  const { PRYNT_BIN } = await import('./lib/prynt.mjs');
  const bin = join(dirname(PRYNT_BIN), 'prynt-bench');
  assert.ok(existsSync(bin), `no prynt-bench binary at ${bin}: build it with cargo build --bin prynt-bench`);
  const dir = mkdtempSync(join(tmpdir(), 'prynt-population-'));
  try {
    const pop = join(dir, 'pop.jsonl');
    const train = join(dir, 'train.jsonl');
    await run(process.execPath, [join(HERE, 'population.mjs'), '--browsers', '100', '--workspaces', '3', '--days', '60', '--seed', '11', '--out', pop]);
    await run(process.execPath, [join(HERE, 'population.mjs'), '--browsers', '200', '--days', '60', '--seed', '12', '--out', train]);
    const { stdout } = await run(bin, ['accuracy', '--population', pop, '--training', train], {
      maxBuffer: 64 << 20,
      env: { ...process.env, PRYNT_LOG: 'warn' },
    });
    const r = JSON.parse(stdout.trim().split('\n').pop());
    const lines = readFileSync(pop, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const visits = lines.slice(1);
    assert.equal(r.workspaces, 3);
    assert.equal(r.visits, visits.length);
    // Every change on a token-less return is tallied under its kind, for every matcher.
    const seen = new Set();
    const expected = {};
    for (const v of visits) {
      const key = `${v.ws}/${v.browser}`;
      if (seen.has(key) && !v.token) {
        for (const k of v.changes.length ? v.changes : ['none']) expected[k] = (expected[k] || 0) + 1;
      }
      seen.add(key);
    }
    for (const [kind, n] of Object.entries(expected)) {
      for (const m of [r, r.baselines.exactHash, r.baselines.fpStalkerRules, r.baselines.fpStalkerHybrid]) {
        const c = m.byChange[kind];
        assert.equal(c.tokenless, n, `${kind}: ${JSON.stringify(c)}`);
        assert.equal(c.kept + c.split + c.merged, n, kind);
      }
    }
    // Drift the exact hash cannot follow, Prynt mostly does.
    assert.ok(r.recall > r.baselines.exactHash.recall, `recall ${r.recall} vs ${r.baselines.exactHash.recall}`);
    assert.ok(r.idsPerDevice < r.baselines.exactHash.idsPerDevice, `${r.idsPerDevice}`);
    assert.ok(r.precision >= 0.97, `precision ${r.precision}`);
    const upgrades = r.byChange.browserUpgrade;
    assert.ok(upgrades.keptShare > r.baselines.exactHash.byChange.browserUpgrade.keptShare, JSON.stringify(upgrades));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
