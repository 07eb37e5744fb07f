// A corpus of realistic real-world devices, turned into the exact identify requests the Prynt
// agent would send from them, to measure the false positives of the bot, tampered and emulator
// signals. This file owns the corpus (sampling, mapping to agent payloads and request headers)
// and running it through a real server (`runCorpus`); it never decides what is a bot.
//
// API
//   corpus({ size = 10000, seed = 1, at }) -> [{ os, browser, source, headers, body }]
//     Deterministic: the same { size, seed, at } gives byte-identical JSON. `at` (ms since the
//     epoch, default 2025-01-15T12:00Z) is the instant the time zone offsets are taken at; it is
//     fixed so that the output does not depend on the day it is made. The returned array carries
//     a non-enumerable `rejected` ({ 'os × browser': { reason: count } }): samples of the two
//     packages that no real browser of their stratum could have produced (see "Filter").
//   stratumDevices({ os, browser, seed = 1, at }) -> { next(), rejected }: one stratum's devices
//     one at a time, the k-th being corpus()'s k-th device of that stratum (same seed and at).
//   STRATA -> [{ os, browser, share, source }], the strata and where their devices come from.
//   classify(userAgent, maxTouchPoints) -> { os, browser } | null (independent of Prynt's parser).
//   runCorpus(prynt, devices, { concurrency = 8, liftRateLimits = true, maxExamples = 20 })
//     -> { devices, flagged, errors, byStratum, reasons, reasonStrata, reasonExamples, examples,
//     errorExamples }; see its own comment.
//
// Strata and sources (`source` on each device says which one made it)
//   `os` is Windows, macOS, Linux, Android, iOS, iPadOS or ChromeOS and `browser` Chrome, Edge,
//   Firefox, Safari or Samsung Internet, read from the user agent by `classify` below. Only pairs
//   that exist in the real world are strata (no Safari outside Apple, no Samsung Internet outside
//   Android, only Chrome on ChromeOS): 23 of them. Half of `size` is split evenly over the strata
//   and half by their rough share of web traffic (STRATA[].share, a round figure that only sizes
//   the strata and never shapes a device), so a 10,000 corpus has at least ~220 devices in each.
//   - 'fingerprint-generator': npm fingerprint-generator 2.1.88 (a Bayesian network learnt from
//     real traffic), `getFingerprint({ browsers, operatingSystems, devices, strict: true })`:
//     Windows × Chrome/Edge/Firefox, macOS × Chrome/Edge/Firefox/Safari, Linux × Chrome/Edge/
//     Firefox, Android × Chrome/Edge/Firefox, iOS × Safari.
//   - 'fingerprint-network:cros': the generator's options cannot ask for ChromeOS, but its network
//     holds real ChromeOS rows: it is sampled directly with the user agent constrained to its
//     `CrOS` values (ChromeOS × Chrome).
//   - 'fingerprint-network:ipad-desktop': iPadOS Safari asks for desktop sites by default and then
//     sends a Mac user agent and navigator.platform "MacIntel"; the network is sampled with Mac
//     Safari user agents constrained to its iPad screen sizes, and maxTouchPoints is set to 5 (every
//     iPad reports 5; the network does not tie touch points to the screen) (iPadOS × Safari).
//   - 'user-agents+donor': npm user-agents (real user agents with the navigator.platform, vendor,
//     screen, viewport and connection recorded with them), filtered by its fields and drawn by its
//     weights; the rest of the device (GPU, cores, memory, pixel ratio, touch points, fonts,
//     plugins, Android model) comes from a "donor" sampled from the network with the same screen
//     size, of Safari on iPhone / iPad or of Chrome on a Samsung phone: Android × Samsung Internet,
//     iOS × Chrome/Edge/Firefox, iPadOS × Chrome. The generator has no Samsung Internet, no Edge or
//     Firefox on iOS and a single Chrome-on-iOS user agent whose rows report vendor "Google Inc."
//     and an empty userAgentData, unlike the WebKit those apps are built on (the ~350 user-agents
//     records of Chrome on iPhone report "Apple Computer, Inc." and have no userAgentData).
//   - 'user-agents-derived+donor': neither package holds an iPad user agent of Firefox or Edge, so
//     an iPhone record of that browser is moved to an iPad ("iPhone; CPU iPhone OS" becomes "iPad;
//     CPU OS", navigator.platform "iPad", a real iPad screen of the network), which is what those
//     apps send when they ask for mobile sites on an iPad (iPadOS × Firefox/Edge). Derived, not
//     observed.
//
// Filter: what real browsers report
//   The generator's training traffic holds bots and spoofed browsers too (e.g. 17% of its "Edge on
//   Android" rows say navigator.platform "Win32", a third of its "Chrome on iOS" rows "Linux
//   x86_64"); the user-agents records likewise (two thirds of "Chrome on iPhone" say "Linux
//   x86_64"). Such a row is not a real device of its stratum, so it is redrawn (and counted in
//   `rejected`) when its user agent does not classify into the stratum, or when navigator.platform,
//   navigator.vendor or the presence of userAgentData is not what that browser reports on that OS:
//   platform Win32 on Windows; MacIntel on macOS and desktop-mode iPads; iPhone / iPad on iOS /
//   iPadOS; "Linux x86_64|i686|aarch64|armv7l|armv8l" on Linux and ChromeOS, and on Linux also
//   "Linux armv81" (an Android phone asking for desktop sites sends a Linux user agent and keeps
//   its platform); "Linux armv7l|armv8l|armv81|aarch64" on Android (an x86 Android is an emulator
//   or desktop emulation); vendor "Google Inc." for Chromium, "" for Firefox, "Apple Computer,
//   Inc." for Safari and every iOS browser; userAgentData with brands exactly for Chromium outside
//   iOS (the agent's page is https, where every Chromium 90+ has it), its platform the OS's
//   (Windows, macOS, Linux, Android, Chrome OS). Rows that name the Android Emulator (a system
//   image's model sdk_gphone… / "Android SDK built for …", or the "Android Emulator OpenGL ES
//   Translator" GPU) are redrawn too: no phone reports these, so flagging them is no false
//   positive (the network pastes such a model or GPU into otherwise phone-like rows). These are
//   facts about browsers and devices, not Prynt's model; nothing else (GPU, fonts, touch points,
//   screens) is filtered.
//
// Field by field: real-world data vs engine constants
//   From the data (the generator's fingerprint, or the user-agents record and its donor):
//   userAgent, uaData (brands, mobile, platform, platformVersion, architecture, model, bitness,
//   fullVersionList), platform, vendor (Firefox's missing value read as ""), productSub,
//   appVersion, screen (w, h, availW, availH, colorDepth, pixelRatio), window.outerW/outerH,
//   hardwareConcurrency, deviceMemory (Chromium only), maxTouchPoints, doNotTrack, the WebGL
//   unmaskedVendor/unmaskedRenderer (the fingerprint's videoCard), fonts (the fingerprint's fonts
//   that are also in the agent's FONTS list, read from agent/prynt.js; the generator probes a
//   different list, so few of FONTS ever appear), plugins, mimeTypes, connectionRtt of a
//   user-agents record when it is non-zero.
//   Chosen here: languages and time zone (below); window.innerW/innerH (the generator's inner sizes
//   are zero: inner = outer minus a browser toolbar height drawn from a small range per browser,
//   or the user-agents viewport); Samsung Internet's userAgentData (brand order and GREASE brand of
//   a Chrome row of the same Chromium major in the network, with "Samsung Internet" and the
//   SamsungBrowser/x.y version in Chrome's place; its full version x.y.0.0, Samsung's build number
//   being recorded nowhere); the page url and Origin.
//   Engine constants (properties of the browsers): WebGL vendor/renderer as read without the
//   debug extension ("WebKit" / "WebKit WebGL" in Chromium and WebKit, "Mozilla" / the sanitised
//   renderer in Firefox 92+), version and shading language strings of each engine; productSub and
//   appVersion where a record lacks them; storage of a normal (not private) window (quota large,
//   getDirectory 'ok', idbBlob 'ok' where the agent probes it, i.e. vendor Apple, else 'skipped',
//   cacheDelta a multiple of 256 where the agent measures it, i.e. Chromium with userAgentData,
//   else null); automation of a browser nothing drives (webdriver false, no driver globals or
//   attributes, notificationPermission 'default' - null on iOS/iPadOS where web pages have no
//   Notification - permissionsNotifications 'prompt', evalLength 33 in V8 and 37 in SpiderMonkey
//   and JavaScriptCore (Firefox, Safari, every iOS browser), connectionRtt the record's or a
//   multiple of 50 ms where navigator.connection exists (Chromium outside iOS) else null, outerZero false, hasFocus
//   true, nativeTampered [], languagesEmpty false, mimeTypesConsistent true); integrity of a
//   browser nothing patched (no lies, no own navigator properties, webdriver present; a fresh
//   iframe and a Web Worker report the page's userAgent, platform, languages, cores, time zone,
//   userAgentData.platform and, where a worker has WebGL, the page's GPU; whether iPadOS applies its
//   desktop-mode user agent inside workers too is not known here and assumed); behavior of an
//   identify() at page load (no input; timerResolutionMs 0.1 or null in Chromium, null elsewhere);
//   cookieEnabled true; canvas winding true; timing.collectMs 100-250.
//   The payload follows collect() of agent/prynt.js as it stands beside this file (integrity and
//   behavior included); nativeTampered [] is kept for servers that still read it (others ignore
//   unknown fields).
//   Hashes (canvas text/geometry, WebGL params/extensions/render, audio, math) are 16-hex FNV-1a
//   digests of the device properties that decide them in real browsers (engine, browser version,
//   OS, GPU, fonts), so devices alike share them as real ones do; audio.sum is the common value
//   of each engine.
//
// Languages and time zones
//   The generator does not model them (it echoes the locales it is asked for), so each device
//   draws a locale from LOCALES by a rough weight of web users, and a time zone from the zones
//   used in that locale's region (the country's most populous zones, IANA primary names); the
//   offset is that zone's at `at`. navigator.languages follows each engine's habit: Chromium
//   "de-DE", "de", often "en-US", "en"; Firefox "de", "en-US", "en"; Safari the one locale; and
//   Accept-Language is built from them with each engine's q-values. (Chromium may report legacy
//   zone names such as Asia/Calcutta; not modelled.)
//
// Request headers
//   As each browser sends them on the agent's fetch (a text/plain POST, cross-origin, credentials
//   omitted): User-Agent, Accept */*, Accept-Language, Accept-Encoding, Content-Type
//   text/plain;charset=UTF-8, Origin and Referer (strict-origin-when-cross-origin: the origin),
//   Sec-Fetch-Site cross-site / Sec-Fetch-Mode cors / Sec-Fetch-Dest empty where the browser sends
//   them (Chromium 80+, Firefox 90+, WebKit 16.4+: Safari's Version/ or, on iOS, the OS version),
//   and for Chromium the low-entropy client hints sec-ch-ua, sec-ch-ua-mobile and
//   sec-ch-ua-platform, made from the same uaData.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FingerprintGenerator } from 'fingerprint-generator';
import UserAgent from 'user-agents';
import { between, pick, prng, weighted } from './random.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const AGENT_SOURCE = resolve(HERE, '..', '..', 'agent', 'prynt.js');

// ---- the agent's font list, read from its source so that it cannot drift --------------------

let fontsCache = null;
/** The agent's FONTS list, parsed out of agent/prynt.js. */
export function agentFonts() {
  if (fontsCache) return fontsCache;
  const src = readFileSync(AGENT_SOURCE, 'utf8');
  const m = /const FONTS = \[([\s\S]*?)\];/.exec(src);
  if (!m) throw new Error(`no FONTS list found in ${AGENT_SOURCE}`);
  const list = [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
  if (list.length < 20) throw new Error(`FONTS in ${AGENT_SOURCE} parsed to only ${list.length} fonts`);
  fontsCache = list;
  return list;
}

// ---- seeded randomness -------------------------------------------------------------------------

/**
 * Runs `fn` with Math.random replaced by `rng`: fingerprint-generator, its Bayesian network,
 * header-generator and user-agents all draw from Math.random, and sampling is synchronous, so no
 * other code can run (and draw) in between.
 */
function withRandom(rng, fn) {
  const saved = Math.random;
  Math.random = rng;
  try {
    return fn();
  } finally {
    Math.random = saved;
  }
}

/** 64-bit FNV-1a of a string, as 16 hex digits (the agent's own hash has the same shape). */
function h16(...parts) {
  let h = 0xcbf29ce484222325n;
  const s = parts.join('|');
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

// ---- classification (independent of Prynt's own parser) ----------------------------------------

// Browsers built on Chromium or WebKit that name themselves in the user agent but are none of the
// five studied here, and in-app web views: not in any stratum.
const OTHER_BROWSERS =
  /OPR\/|OPT\/|OPiOS|YaBrowser|Vivaldi|UCBrowser|MiuiBrowser|Brave|DuckDuckGo|GSA\/|Instagram|FBAN|FBAV|Line\/|HuaweiBrowser|HeyTap|OppoBrowser|VivoBrowser|QQBrowser|Silk\/|Whale|Ecosia|Quark|baidu|Snapchat|; wv\)|Electron|CCleaner|AvastSecure|Yowser/;

/**
 * The OS and browser a user agent names. An iPad in desktop mode sends a Mac user agent; it is
 * told from a Mac by `maxTouchPoints > 1`, the one thing that differs (no Mac has a touch screen).
 */
export function classify(userAgent, maxTouchPoints = 0) {
  const u = userAgent || '';
  let os = null;
  if (/Windows NT/.test(u)) os = 'Windows';
  else if (/iPhone|iPod/.test(u)) os = 'iOS';
  else if (/iPad/.test(u)) os = 'iPadOS';
  else if (/CrOS/.test(u)) os = 'ChromeOS';
  else if (/Android/.test(u)) os = 'Android';
  else if (/Macintosh|Mac OS X/.test(u)) os = maxTouchPoints > 1 ? 'iPadOS' : 'macOS';
  else if (/Linux|X11/.test(u)) os = 'Linux';
  if (!os || OTHER_BROWSERS.test(u)) return null;
  let browser = null;
  if (/SamsungBrowser\//.test(u)) browser = 'Samsung Internet';
  else if (/EdgA?\/|EdgiOS\/|Edge\//.test(u)) browser = 'Edge';
  else if (/FxiOS\/|Firefox\//.test(u)) browser = 'Firefox';
  else if (/CriOS\/|Chrome\//.test(u)) browser = 'Chrome';
  else if (/Version\/[\d.]+.*Safari\//.test(u)) browser = 'Safari';
  return browser ? { os, browser } : null;
}

/** The JavaScript and layout engine: every iOS/iPadOS browser is WebKit whatever its name. */
function engineOf(os, browser) {
  if (os === 'iOS' || os === 'iPadOS' || browser === 'Safari') return 'webkit';
  if (browser === 'Firefox') return 'gecko';
  return 'blink';
}

const num = (re, s) => {
  const m = re.exec(s || '');
  return m ? Number(m[1]) : null;
};

/** The engine version that decides which headers a browser sends (major, or major.minor for WebKit). */
function engineVersion(ua, os, engine) {
  if (engine === 'blink') return num(/Chrome\/(\d+)/, ua);
  if (engine === 'gecko') return num(/Firefox\/(\d+)/, ua);
  // WebKit on iOS/iPadOS is the OS's own, whichever app: its version is the OS's.
  const ios = /OS (\d+)_(\d+)/.exec(ua);
  if ((os === 'iOS' || os === 'iPadOS') && ios && !/Macintosh/.test(ua)) return Number(ios[1]) + Number(ios[2]) / 100;
  const v = /Version\/(\d+)\.(\d+)/.exec(ua) || /Version\/(\d+)/.exec(ua);
  return v ? Number(v[1]) + Number(v[2] || 0) / 100 : null;
}

function sendsSecFetch(ua, os, engine) {
  const v = engineVersion(ua, os, engine);
  if (v == null) return false;
  if (engine === 'blink') return v >= 80;
  if (engine === 'gecko') return v >= 90;
  return v >= 16.04; // Safari / WebKit 16.4
}

// ---- strata --------------------------------------------------------------------------------------

const GEN = 'fingerprint-generator';
const UA_DONOR = 'user-agents+donor';

/**
 * The strata: every OS × browser pair with real users. `share` is a rough percentage of web
 * traffic, used only to size the strata (half of the corpus is split evenly regardless).
 */
export const STRATA = [
  { os: 'Windows', browser: 'Chrome', share: 20, source: GEN, gen: ['chrome', 'windows', 'desktop'] },
  { os: 'Windows', browser: 'Edge', share: 6, source: GEN, gen: ['edge', 'windows', 'desktop'] },
  { os: 'Windows', browser: 'Firefox', share: 2.5, source: GEN, gen: ['firefox', 'windows', 'desktop'] },
  { os: 'macOS', browser: 'Chrome', share: 5, source: GEN, gen: ['chrome', 'macos', 'desktop'] },
  { os: 'macOS', browser: 'Safari', share: 4, source: GEN, gen: ['safari', 'macos', 'desktop'] },
  { os: 'macOS', browser: 'Firefox', share: 0.6, source: GEN, gen: ['firefox', 'macos', 'desktop'] },
  { os: 'macOS', browser: 'Edge', share: 0.4, source: GEN, gen: ['edge', 'macos', 'desktop'] },
  { os: 'Linux', browser: 'Chrome', share: 1.5, source: GEN, gen: ['chrome', 'linux', 'desktop'] },
  { os: 'Linux', browser: 'Firefox', share: 0.8, source: GEN, gen: ['firefox', 'linux', 'desktop'] },
  { os: 'Linux', browser: 'Edge', share: 0.1, source: GEN, gen: ['edge', 'linux', 'desktop'] },
  { os: 'Android', browser: 'Chrome', share: 28, source: GEN, gen: ['chrome', 'android', 'mobile'] },
  { os: 'Android', browser: 'Samsung Internet', share: 4, source: UA_DONOR },
  { os: 'Android', browser: 'Firefox', share: 0.5, source: GEN, gen: ['firefox', 'android', 'mobile'] },
  { os: 'Android', browser: 'Edge', share: 0.3, source: GEN, gen: ['edge', 'android', 'mobile'] },
  { os: 'iOS', browser: 'Safari', share: 15, source: GEN, gen: ['safari', 'ios', 'mobile'] },
  { os: 'iOS', browser: 'Chrome', share: 2.5, source: UA_DONOR },
  { os: 'iOS', browser: 'Firefox', share: 0.3, source: UA_DONOR },
  { os: 'iOS', browser: 'Edge', share: 0.2, source: UA_DONOR },
  { os: 'iPadOS', browser: 'Safari', share: 2, source: 'fingerprint-network:ipad-desktop' },
  { os: 'iPadOS', browser: 'Chrome', share: 0.4, source: UA_DONOR },
  { os: 'iPadOS', browser: 'Firefox', share: 0.05, source: 'user-agents-derived+donor' },
  { os: 'iPadOS', browser: 'Edge', share: 0.05, source: 'user-agents-derived+donor' },
  { os: 'ChromeOS', browser: 'Chrome', share: 1, source: 'fingerprint-network:cros' },
];

export const stratumName = (os, browser) => `${os} × ${browser}`;

/** Half of `size` evenly over the strata, half by share (largest remainders), summing to `size`. */
function allocate(size) {
  const n = STRATA.length;
  const even = Math.floor(size / 2 / n);
  const rest = size - even * n;
  const total = STRATA.reduce((s, x) => s + x.share, 0);
  const exact = STRATA.map((x) => (rest * x.share) / total);
  const counts = exact.map((e) => even + Math.floor(e));
  let left = size - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % n, left--) counts[order[k][1]]++;
  return counts;
}

// ---- the two packages ------------------------------------------------------------------------------

const STRINGIFIED = '*STRINGIFIED*';
const MISSING = '*MISSING_VALUE*';

let generatorCache = null;
function generator() {
  if (!generatorCache) generatorCache = withRandom(() => 0.5, loadGenerator);
  return generatorCache;
}

// Loaded once per process, under a constant Math.random so that loading (whichever stratum first
// needs it) cannot shift any stratum's stream.
function loadGenerator() {
  {
    const g = new FingerprintGenerator();
    const net = g.fingerprintGeneratorNetwork;
    const uas = net.nodesByName.userAgent.possibleValues;
    const screens = net.nodesByName.screen.possibleValues;
    const parsedScreens = screens.map((v) => [v, JSON.parse(v.slice(STRINGIFIED.length))]);
    const IPAD_SIZES = new Set(['744x1133', '768x1024', '810x1080', '820x1180', '834x1112', '834x1194', '1024x1366', '1032x1376']);
    const ua = (re, not = OTHER_BROWSERS) => uas.filter((u) => re.test(u) && !not.test(u));
    return {
      g,
      net,
      uaData: net.nodesByName.userAgentData.possibleValues,
      cros: ua(/CrOS/),
      macSafari: ua(/Macintosh/).filter((u) => classify(u)?.browser === 'Safari'),
      iphoneSafari: ua(/iPhone/).filter((u) => classify(u)?.browser === 'Safari'),
      androidChrome: ua(/Android/).filter((u) => classify(u)?.browser === 'Chrome'),
      samsungModels: net.nodesByName.userAgentData.possibleValues.filter((v) => /"model":"SM-/.test(v)),
      ipadScreens: parsedScreens.filter(([, s]) => IPAD_SIZES.has(`${s.width}x${s.height}`)).map(([v]) => v),
      screensOf: (w, h) => parsedScreens.filter(([, s]) => s.width === w && s.height === h).map(([v]) => v),
    };
  }
}

/** Direct sample of the fingerprint network under constraints, unpacked like getFingerprint does. */
function netSample(constraints) {
  const { g, net } = generator();
  for (const v of Object.values(constraints)) if (!v.length) return null;
  const s = net.generateConsistentSampleWhenPossible(constraints);
  if (!s || Object.keys(s).length === 0) return null;
  for (const k of Object.keys(s)) {
    if (s[k] === MISSING) s[k] = null;
    else if (s[k].startsWith(STRINGIFIED)) s[k] = JSON.parse(s[k].slice(STRINGIFIED.length));
  }
  if (!s.screen) return null; // getFingerprint redraws these mostly empty rows too
  s.languages = ['en-US'];
  return g.transformFingerprint(s);
}

/** A fingerprint as the flat raw device the mapping below works from. */
function rawOf(fp) {
  const n = fp.navigator;
  const s = fp.screen;
  return {
    userAgent: n.userAgent,
    uaData: n.userAgentData && Array.isArray(n.userAgentData.brands) && n.userAgentData.brands.length ? n.userAgentData : null,
    hadUaData: !!n.userAgentData,
    platform: n.platform,
    vendor: n.vendor,
    productSub: n.productSub,
    appVersion: n.appVersion,
    screen: {
      w: s.width,
      h: s.height,
      availW: s.availWidth,
      availH: s.availHeight,
      colorDepth: s.colorDepth,
      pixelRatio: s.devicePixelRatio,
    },
    outer: s.outerWidth > 0 && s.outerHeight > 0 ? { w: s.outerWidth, h: s.outerHeight } : null,
    inner: null,
    hardwareConcurrency: Number.isFinite(n.hardwareConcurrency) ? n.hardwareConcurrency : null,
    deviceMemory: Number.isFinite(n.deviceMemory) ? n.deviceMemory : null,
    maxTouchPoints: n.maxTouchPoints || 0,
    doNotTrack: n.doNotTrack,
    gpu: fp.videoCard || null,
    fonts: fp.fonts || [],
    pluginsData: fp.pluginsData || { plugins: [], mimeTypes: [] },
    rtt: null,
  };
}

let userAgentRecords = null;
/** user-agents records of one stratum, as a package instance whose random() draws by weight. */
function records(filter) {
  userAgentRecords ||= new Map();
  // The package draws one record when constructed: done under a constant Math.random, once per
  // process, so that it cannot shift the stream of the stratum that happens to come first.
  if (!userAgentRecords.has(filter)) userAgentRecords.set(filter, withRandom(() => 0.5, () => new UserAgent(RECORD_FILTERS[filter])));
  return userAgentRecords.get(filter);
}

const RECORD_FILTERS = {
  samsung: (d) => /Android/.test(d.userAgent) && classify(d.userAgent)?.browser === 'Samsung Internet',
  iphoneChrome: (d) => classify(d.userAgent)?.os === 'iOS' && classify(d.userAgent)?.browser === 'Chrome',
  iphoneFirefox: (d) => classify(d.userAgent)?.os === 'iOS' && classify(d.userAgent)?.browser === 'Firefox',
  iphoneEdge: (d) => classify(d.userAgent)?.os === 'iOS' && classify(d.userAgent)?.browser === 'Edge',
  ipadChrome: (d) => classify(d.userAgent)?.os === 'iPadOS' && classify(d.userAgent)?.browser === 'Chrome',
};

/** A donor of the hardware a record does not describe: same screen size where the network has it. */
function donor(uas, w, h, extra = {}) {
  const { screensOf } = generator();
  const sized = screensOf(w, h);
  const attempts = [
    sized.length ? { userAgent: uas, screen: sized, ...extra } : null,
    { userAgent: uas, ...extra },
    { userAgent: uas },
  ].filter(Boolean);
  for (const c of attempts) {
    const fp = netSample(c);
    if (fp) return fp;
  }
  return null;
}

/** A user-agents record with its donor's hardware: what the record saw is kept, the rest borrowed. */
function fromRecord(rec, fp, { rewriteIpad = false, ipadScreen = null } = {}) {
  const raw = rawOf(fp);
  let userAgent = rec.userAgent;
  let platform = rec.platform;
  let screen = { w: rec.screenWidth, h: rec.screenHeight };
  let inner = { w: rec.viewportWidth, h: rec.viewportHeight };
  if (rewriteIpad) {
    userAgent = userAgent.replace('iPhone; CPU iPhone OS', 'iPad; CPU OS');
    platform = 'iPad';
    screen = { w: ipadScreen.width, h: ipadScreen.height };
    inner = null; // the iPhone's viewport says nothing about an iPad's
  }
  raw.userAgent = userAgent;
  raw.platform = platform;
  raw.vendor = rec.vendor;
  raw.appVersion = userAgent.replace(/^Mozilla\//, '');
  raw.productSub = '20030107';
  // iOS and Android report the whole screen as available to the page.
  raw.screen = { ...raw.screen, w: screen.w, h: screen.h, availW: screen.w, availH: screen.h };
  raw.inner = inner && inner.w > 0 && inner.h > 0 ? inner : null;
  // The outer window is the screen, turned the way the viewport is.
  const landscape = raw.inner && raw.inner.w > raw.inner.h;
  raw.outer = landscape && screen.w < screen.h ? { w: screen.h, h: screen.w } : { w: screen.w, h: screen.h };
  if (/iPad|iPhone/.test(userAgent)) raw.maxTouchPoints = 5;
  raw.rtt = rec.connection && rec.connection.rtt > 0 ? rec.connection.rtt : null;
  return raw;
}

// ---- the real-device filter ------------------------------------------------------------------------

const PLATFORMS = {
  Windows: /^Win32$/,
  macOS: /^MacIntel$/,
  // An Android phone asking for desktop sites sends a Linux user agent and may keep its ARM platform.
  Linux: /^Linux (x86_64|i686|aarch64|armv7l|armv8l|armv81)$/,
  ChromeOS: /^Linux (x86_64|i686|aarch64|armv7l|armv8l)$/,
  Android: /^Linux (armv7l|armv8l|armv81|aarch64)$/,
  iOS: /^iPhone$/,
};
const HINT_PLATFORM = { Windows: 'Windows', macOS: 'macOS', Linux: 'Linux', Android: 'Android', ChromeOS: 'Chrome OS' };

/** Why `raw` cannot be a real browser of the stratum, or null if it can. */
function notReal(raw, st) {
  const c = classify(raw.userAgent, raw.maxTouchPoints);
  if (!c) return 'user agent of another browser';
  if (c.os !== st.os || c.browser !== st.browser) return `user agent of ${stratumName(c.os, c.browser)}`;
  const engine = engineOf(st.os, st.browser);
  const platformOk =
    st.os === 'iPadOS'
      ? /Macintosh/.test(raw.userAgent) ? raw.platform === 'MacIntel' : raw.platform === 'iPad'
      : PLATFORMS[st.os].test(raw.platform || '');
  if (!platformOk) return `navigator.platform ${JSON.stringify(raw.platform)}`;
  const vendor = engine === 'blink' ? 'Google Inc.' : engine === 'webkit' ? 'Apple Computer, Inc.' : '';
  if ((raw.vendor ?? '') !== vendor) return `navigator.vendor ${JSON.stringify(raw.vendor)}`;
  // The Android Emulator's system images and GPU bridge name themselves; no phone reports these.
  const model = (raw.uaData && raw.uaData.model) || '';
  if (/^sdk_gphone|Android SDK built for/i.test(model)) return `an emulator image's model ${JSON.stringify(model)}`;
  if (/Android Emulator/i.test((raw.gpu && raw.gpu.renderer) || '')) return "the Android Emulator's GPU bridge";
  if (engine === 'blink') {
    if (!raw.uaData) return 'Chromium without userAgentData';
    if (raw.uaData.platform !== HINT_PLATFORM[st.os]) return `userAgentData.platform ${JSON.stringify(raw.uaData.platform)}`;
  } else if (raw.hadUaData) {
    return 'userAgentData outside Chromium';
  }
  return null;
}

// ---- one raw device per stratum ----------------------------------------------------------------------

/** Draws one raw device of `st` (Math.random is the stratum's stream while this runs). */
function draw(st) {
  const G = generator();
  switch (st.source) {
    case GEN: {
      const [b, o, d] = st.gen;
      return { raw: rawOf(G.g.getFingerprint({ browsers: [b], operatingSystems: [o], devices: [d], strict: true }).fingerprint) };
    }
    case 'fingerprint-network:cros': {
      const fp = netSample({ userAgent: G.cros });
      return fp ? { raw: rawOf(fp) } : { reject: 'no ChromeOS sample' };
    }
    case 'fingerprint-network:ipad-desktop': {
      const fp = netSample({ userAgent: G.macSafari, screen: G.ipadScreens });
      if (!fp) return { reject: 'no iPad-sized Mac Safari sample' };
      const raw = rawOf(fp);
      raw.maxTouchPoints = 5;
      // An iPad's screen is all available, and its Safari fills it.
      raw.screen.availW = raw.screen.w;
      raw.screen.availH = raw.screen.h;
      raw.outer = { w: raw.screen.w, h: raw.screen.h };
      return { raw };
    }
    case UA_DONOR: {
      const key = { 'Samsung Internet': 'samsung' }[st.browser] || `${st.os === 'iOS' ? 'iphone' : 'ipad'}${st.browser}`;
      const rec = records(key).random().data;
      const fp =
        st.browser === 'Samsung Internet'
          ? donor(G.androidChrome, rec.screenWidth, rec.screenHeight, { userAgentData: G.samsungModels })
          : donor(st.os === 'iOS' ? G.iphoneSafari : G.macSafari, rec.screenWidth, rec.screenHeight);
      if (!fp) return { reject: 'no donor' };
      const raw = fromRecord(rec, fp);
      if (st.browser === 'Samsung Internet') {
        raw.uaData = samsungUaData(raw.userAgent, rawOf(fp).uaData);
        raw.hadUaData = true;
      } else {
        raw.uaData = null; // WebKit apps have no userAgentData whatever their donor had
        raw.hadUaData = false;
      }
      return { raw };
    }
    case 'user-agents-derived+donor': {
      const rec = records(`iphone${st.browser}`).random().data;
      // The donor is an iPad-sized Safari row; its screen becomes the device's.
      const fp = netSample({ userAgent: G.macSafari, screen: G.ipadScreens });
      if (!fp) return { reject: 'no iPad-sized donor' };
      const raw = fromRecord(rec, fp, { rewriteIpad: true, ipadScreen: fp.screen });
      raw.uaData = null;
      raw.hadUaData = false;
      return { raw };
    }
    default:
      throw new Error(`unknown source ${st.source}`);
  }
}

/**
 * Samsung Internet's userAgentData: the brand order and GREASE brand of a Chrome row of the same
 * Chromium major in the network (Chromium derives both from the major version), with "Samsung
 * Internet" in Chrome's place; the device fields (model, platformVersion, ...) are the donor's.
 */
function samsungUaData(userAgent, donorHints) {
  const major = num(/Chrome\/(\d+)/, userAgent);
  const samsung = (/SamsungBrowser\/([\d.]+)/.exec(userAgent) || [])[1] || '';
  const rows = generator()
    .uaData.filter((v) => v.includes('"brand":"Google Chrome"') && v.includes('"mobile":true'))
    .map((v) => JSON.parse(v.slice(STRINGIFIED.length)));
  const chromiumMajor = (r) => Number((r.brands.find((b) => b.brand === 'Chromium') || {}).version);
  // The row of the same major, else the nearest one (Chromium's GREASE rotates with the major).
  let best = null;
  for (const r of rows) {
    const d = Math.abs(chromiumMajor(r) - major);
    if (!best || d < best.d || (d === best.d && chromiumMajor(r) > chromiumMajor(best.r))) best = { r, d };
  }
  const row = best.r;
  const fullChromium = (row.fullVersionList.find((b) => b.brand === 'Chromium') || {}).version || `${major}.0.0.0`;
  const same = chromiumMajor(row) === major;
  const swap = (list, full) =>
    list.map((b) => {
      if (b.brand === 'Google Chrome') return { brand: 'Samsung Internet', version: full ? `${samsung}.0.0` : samsung };
      if (b.brand === 'Chromium') return { brand: 'Chromium', version: full ? (same ? fullChromium : `${major}.0.0.0`) : String(major) };
      return { brand: b.brand, version: b.version };
    });
  const h = donorHints || {};
  return {
    brands: swap(row.brands, false),
    mobile: true,
    platform: 'Android',
    platformVersion: h.platformVersion || '',
    architecture: h.architecture || '',
    model: h.model || '',
    bitness: h.bitness || '',
    fullVersionList: swap(row.fullVersionList, true),
  };
}

// ---- languages and time zones ----------------------------------------------------------------------

/**
 * [weight (rough share of web users), locale, zones used in its region]. The zones are the
 * region's most populous ones, by their IANA primary names.
 */
export const LOCALES = [
  [28, 'en-US', ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'America/Phoenix']],
  [5, 'en-GB', ['Europe/London']],
  [5, 'de-DE', ['Europe/Berlin']],
  [4, 'fr-FR', ['Europe/Paris']],
  [4, 'es-ES', ['Europe/Madrid']],
  [4, 'es-MX', ['America/Mexico_City', 'America/Monterrey']],
  [6, 'pt-BR', ['America/Sao_Paulo']],
  [4, 'ja-JP', ['Asia/Tokyo']],
  [3, 'ko-KR', ['Asia/Seoul']],
  [6, 'zh-CN', ['Asia/Shanghai']],
  [2, 'zh-TW', ['Asia/Taipei']],
  [4, 'ru-RU', ['Europe/Moscow']],
  [3, 'it-IT', ['Europe/Rome']],
  [2, 'nl-NL', ['Europe/Amsterdam']],
  [2, 'pl-PL', ['Europe/Warsaw']],
  [2, 'tr-TR', ['Europe/Istanbul']],
  [4, 'en-IN', ['Asia/Kolkata']],
  [3, 'id-ID', ['Asia/Jakarta']],
  [2, 'en-AU', ['Australia/Sydney', 'Australia/Melbourne', 'Australia/Brisbane']],
  [2, 'en-CA', ['America/Toronto', 'America/Vancouver']],
  [1, 'fr-CA', ['America/Toronto']], // Montreal's zone is a link to Toronto's
  [2, 'vi-VN', ['Asia/Ho_Chi_Minh']],
  [1, 'th-TH', ['Asia/Bangkok']],
  [1, 'ar-SA', ['Asia/Riyadh']],
  [1, 'sv-SE', ['Europe/Stockholm']],
  [1, 'uk-UA', ['Europe/Kyiv']],
];

const offsetCache = new Map();
/** Date.prototype.getTimezoneOffset() of `zone` at `at`: minutes, positive west of UTC. */
function tzOffset(zone, at) {
  const key = `${zone}@${at}`;
  if (!offsetCache.has(key)) {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(new Date(at))
      .find((p) => p.type === 'timeZoneName').value; // "GMT+05:30", or "GMT" for UTC
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    const east = m ? (m[1] === '+' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
    offsetCache.set(key, east === 0 ? 0 : -east);
  }
  return offsetCache.get(key);
}

function languagesFor(rng, locale, engine) {
  const base = locale.split('-')[0];
  const english = locale.startsWith('en-');
  const r = rng();
  if (engine === 'webkit') return r < 0.8 || locale === 'en-US' ? [locale] : [locale, 'en-US'];
  if (engine === 'gecko') {
    if (locale === 'en-US') return ['en-US', 'en'];
    if (english) return [locale, 'en'];
    return r < 0.6 ? [base, 'en-US', 'en'] : [locale, base, 'en-US', 'en'];
  }
  if (locale === 'en-US') return r < 0.7 ? ['en-US', 'en'] : ['en-US'];
  if (english) return r < 0.5 ? [locale, 'en-US', 'en'] : [locale, 'en'];
  return r < 0.5 ? [locale, base, 'en-US', 'en'] : r < 0.8 ? [locale, base] : [locale];
}

/** Accept-Language with each engine's q-values. */
function acceptLanguage(languages, engine) {
  const list = engine === 'webkit' && languages.length === 1 && languages[0].includes('-')
    ? [languages[0], languages[0].split('-')[0]] // Safari adds the bare language
    : languages;
  return list
    .map((l, i) => {
      if (i === 0) return l;
      const q = engine === 'gecko' ? Math.round((1 - i / list.length) * 10) / 10 : Math.max(0.1, Math.round((1 - i * 0.1) * 10) / 10);
      return `${l};q=${q}`;
    })
    .join(',');
}

// ---- engine constants ------------------------------------------------------------------------------

const WEBGL_STRINGS = {
  blink: { vendor: 'WebKit', renderer: 'WebKit WebGL', version: 'WebGL 1.0 (OpenGL ES 2.0 Chromium)', shadingLanguage: 'WebGL GLSL ES 1.0 (OpenGL ES GLSL ES 1.0 Chromium)' },
  webkit: { vendor: 'WebKit', renderer: 'WebKit WebGL', version: 'WebGL 1.0', shadingLanguage: 'WebGL GLSL ES 1.0 (1.0)' },
  // Firefox 92+: VENDOR is always "Mozilla", RENDERER the same sanitised string as the debug extension's.
  gecko: { vendor: 'Mozilla', renderer: null, version: 'WebGL 1.0', shadingLanguage: 'WebGL GLSL ES 1.0' },
};
const AUDIO_SUM = { blink: 124.04347527516074, gecko: 35.738329590423405, webkit: 35.10893253237009 };
const EVAL_LENGTH = { blink: 33, gecko: 37, webkit: 37 };
const GIB = 1024 ** 3;

/** Whether a worker's OffscreenCanvas has WebGL in this engine version. */
function offscreenWebgl(engine, version) {
  if (engine === 'blink') return true;
  if (engine === 'gecko') return version >= 105;
  return version >= 17;
}

/** Toolbar height (CSS px) between the outer and the inner window, per kind of browser. */
function toolbar(rng, os, browser, engine) {
  if (os === 'Android') return between(rng, 48, 64);
  if (os === 'iOS') return between(rng, 120, 190);
  if (os === 'iPadOS') return between(rng, 70, 110);
  if (engine === 'gecko') return between(rng, 71, 110);
  if (engine === 'webkit') return between(rng, 76, 92);
  return between(rng, 85, 135);
}

// ---- one device ---------------------------------------------------------------------------------------

const SITES = ['https://shop.example', 'https://news.example', 'https://app.example'];
const PATHS = ['/', '/login', '/checkout', '/account'];

function build(raw, st, rng, at, fonts) {
  const { os, browser } = st;
  const engine = engineOf(os, browser);
  const ua = raw.userAgent;
  const mobileOs = os === 'Android' || os === 'iOS' || os === 'iPadOS';

  const [, locale, zones] = weighted(rng, LOCALES, (l) => l[0]);
  const timezone = pick(rng, zones);
  const languages = languagesFor(rng, locale, engine);

  const screen = { ...raw.screen };
  const outer = raw.outer || { w: screen.availW || screen.w, h: screen.availH || screen.h };
  const inner = raw.inner || {
    w: mobileOs ? outer.w : Math.min(outer.w, screen.availW || outer.w),
    h: Math.max(100, outer.h - toolbar(rng, os, browser, engine)),
  };

  const gpu = raw.gpu || {};
  const gl = WEBGL_STRINGS[engine];
  const browserVersion = engineVersion(ua, os, engine);
  const gpuKey = `${gpu.vendor}|${gpu.renderer}`;
  const fontList = fonts.filter((f) => raw.fonts.includes(f));

  const uaData = engine === 'blink' && raw.uaData
    ? {
        brands: raw.uaData.brands.map((b) => ({ brand: b.brand, version: b.version })),
        mobile: !!raw.uaData.mobile,
        platform: raw.uaData.platform || '',
        platformVersion: raw.uaData.platformVersion || '',
        architecture: raw.uaData.architecture || '',
        model: raw.uaData.model || '',
        bitness: raw.uaData.bitness || '',
        fullVersionList: (raw.uaData.fullVersionList || []).map((b) => ({ brand: b.brand, version: b.version })),
      }
    : null;

  const plugins = (raw.pluginsData.plugins || []).map((p) => `${p.name}::${p.filename}`);
  const mimeTypes = (raw.pluginsData.mimeTypes || []).map((m) => (typeof m === 'string' ? m.split('~~')[1] || m : m.type));

  // Chromium accounts a Cache Storage entry on disk in whole 256-byte blocks.
  const cacheDelta = engine === 'blink' ? 256 * between(rng, 1, 12) : null;
  const disk = pick(rng, mobileOs ? [64, 128, 256, 512] : [256, 512, 1024, 2048]);
  const storage = {
    localStorage: true,
    sessionStorage: true,
    indexedDB: true,
    // WebSQL left Chromium in 119 and never was in Firefox; WebKit still exposes openDatabase.
    openDatabase: engine === 'webkit' || (engine === 'blink' && browserVersion < 119),
    quota: engine === 'gecko' ? 10 * GIB : Math.round(disk * GIB * 0.6),
    usage: between(rng, 0, 4096),
    heapLimit: engine === 'blink' ? (os === 'Android' ? 1130000000 : 4294705152) : null,
    persisted: false,
    getDirectory: 'ok',
    idbBlob: /^Apple/.test(raw.vendor || '') ? 'ok' : 'skipped',
    cacheDelta,
  };

  const rtt = engine === 'blink' ? raw.rtt || pick(rng, [50, 50, 100, 100, 100, 150, 200, 250, 300]) : null;
  let doNotTrack = null;
  if (engine === 'gecko') doNotTrack = raw.doNotTrack === '1' ? '1' : 'unspecified';
  else if (engine === 'blink' && raw.doNotTrack === '1') doNotTrack = '1';

  const components = {
    userAgent: ua,
    uaData,
    platform: raw.platform,
    vendor: raw.vendor ?? '',
    productSub: raw.productSub || (engine === 'gecko' ? '20100101' : '20030107'),
    appVersion: raw.appVersion || ua.replace(/^Mozilla\//, ''),
    languages,
    timezone,
    timezoneOffset: tzOffset(timezone, at),
    screen,
    window: { innerW: inner.w, innerH: inner.h, outerW: outer.w, outerH: outer.h },
    hardwareConcurrency: raw.hardwareConcurrency,
    deviceMemory: engine === 'blink' ? raw.deviceMemory ?? 8 : null,
    maxTouchPoints: raw.maxTouchPoints,
    cookieEnabled: true,
    doNotTrack,
    canvas: {
      text: h16('canvas.text', engine, os, gpuKey, fontList.join(',')),
      geometry: h16('canvas.geometry', engine, os, gpuKey),
      winding: true,
    },
    webgl: {
      vendor: gl.vendor,
      renderer: gl.renderer ?? gpu.renderer ?? null,
      unmaskedVendor: gpu.vendor ?? null,
      unmaskedRenderer: gpu.renderer ?? null,
      version: gl.version,
      shadingLanguage: gl.shadingLanguage,
      params: h16('webgl.params', engine, gpuKey),
      extensions: h16('webgl.extensions', engine, Math.floor(browserVersion || 0), gpuKey),
      render: h16('webgl.render', engine, os, gpuKey),
    },
    audio: { hash: h16('audio', engine, os, raw.platform), sum: AUDIO_SUM[engine] },
    fonts: fontList,
    math: h16('math', engine, os, raw.platform),
    storage,
    plugins,
    mimeTypes,
    pluginsArray: true,
    automation: {
      webdriver: false,
      driverGlobals: [],
      documentAttributes: [],
      // Web pages on iOS/iPadOS have no Notification (only home-screen web apps do).
      notificationPermission: os === 'iOS' || os === 'iPadOS' ? null : 'default',
      permissionsNotifications: 'prompt',
      evalLength: EVAL_LENGTH[engine],
      connectionRtt: rtt,
      outerZero: false,
      hasFocus: true,
      nativeTampered: [],
      languagesEmpty: false,
      mimeTypesConsistent: true,
    },
    // A real browser's other realms agree with its page: a fresh iframe's navigator is the
    // page's, and a dedicated worker's too, with WebGL (OffscreenCanvas: Chromium, Firefox 105+,
    // WebKit 17+) on the same GPU and, in Chromium, the same userAgentData.platform.
    integrity: {
      lies: [],
      navigatorOwn: [],
      webdriverMissing: false,
      iframe: { userAgent: ua, platform: raw.platform, languages: languages.join(','), hardwareConcurrency: raw.hardwareConcurrency, webdriver: false },
      worker: {
        userAgent: ua,
        platform: raw.platform,
        languages: languages.join(','),
        hardwareConcurrency: raw.hardwareConcurrency,
        timezone,
        gpu: offscreenWebgl(engine, browserVersion) ? gpu.renderer ?? null : null,
        uaPlatform: uaData ? uaData.platform : null,
      },
    },
    // identify() at page load: no input yet. A 200-step loop of performance.now() sees a tick only
    // of Chromium's 0.1 ms clock, and not always; Firefox's and WebKit's 1 ms clocks it misses.
    behavior: {
      moves: 0, clicks: 0, pointerClicks: 0, jumpClicks: 0, centredClicks: 0, centredJumps: 0,
      keys: 0, inputs: 0, touches: 0, scrolls: 0, untrusted: 0,
      clickHoldMs: null, keyHoldMs: null, keyGapMs: null, keyGapCv: null,
      timerResolutionMs: engine === 'blink' && rng() < 0.5 ? 0.1 : null,
    },
    timing: { collectMs: Math.round((100 + rng() * 150) * 100) / 100 },
  };

  const origin = pick(rng, SITES);
  const body = { type: 'visit', url: origin + pick(rng, PATHS), components };

  const headers = {
    'User-Agent': ua,
    Accept: '*/*',
    'Accept-Language': acceptLanguage(languages, engine),
    'Accept-Encoding': engine === 'webkit' || (engine === 'blink' && browserVersion < 123) ? 'gzip, deflate, br' : 'gzip, deflate, br, zstd',
    'Content-Type': 'text/plain;charset=UTF-8',
    Origin: origin,
    Referer: `${origin}/`,
  };
  if (uaData) {
    headers['sec-ch-ua'] = uaData.brands.map((b) => `"${b.brand}";v="${b.version}"`).join(', ');
    headers['sec-ch-ua-mobile'] = uaData.mobile ? '?1' : '?0';
    headers['sec-ch-ua-platform'] = `"${uaData.platform}"`;
  }
  if (sendsSecFetch(ua, os, engine)) {
    headers['Sec-Fetch-Site'] = 'cross-site';
    headers['Sec-Fetch-Mode'] = 'cors';
    headers['Sec-Fetch-Dest'] = 'empty';
  }
  return { os, browser, source: st.source, headers, body };
}

/**
 * The corpus: `size` devices over STRATA, reproducible from `seed` (see the file's comment).
 */
export function corpus({ size = 10_000, seed = 1, at = DEFAULT_AT } = {}) {
  const fonts = agentFonts();
  const counts = allocate(size);
  const devices = [];
  const rejected = {};
  STRATA.forEach((st, i) => {
    const name = stratumName(st.os, st.browser);
    const rng = prng('prynt-corpus', seed, name);
    withRandom(rng, () => {
      for (let k = 0; k < counts[i]; k++) devices.push(nextDevice(st, name, rng, at, fonts, rejected));
    });
  });
  Object.defineProperty(devices, 'rejected', { value: rejected, enumerable: false });
  return devices;
}

const DEFAULT_AT = Date.UTC(2025, 0, 15, 12, 0, 0);

/** The next real device of stratum `st` from its stream `rng` (Math.random must be `rng`). */
function nextDevice(st, name, rng, at, fonts, rejected) {
  let raw = null;
  for (let attempt = 0; attempt < 200 && !raw; attempt++) {
    const d = draw(st);
    const why = d.reject || notReal(d.raw, st);
    if (why) {
      const r = (rejected[name] ||= {});
      r[why] = (r[why] || 0) + 1;
    } else {
      raw = d.raw;
    }
  }
  if (!raw) throw new Error(`${name}: no real device in 200 draws (${JSON.stringify(rejected[name])})`);
  return build(raw, st, rng, at, fonts);
}

/**
 * One stratum's devices one at a time, for callers that choose the strata themselves: `next()`
 * returns the stratum's devices in the order corpus() draws them, so that the k-th call gives
 * the k-th device of that stratum in corpus({ seed, at }) of any size that has k of them.
 * `rejected` counts the redrawn samples as corpus()'s does.
 */
export function stratumDevices({ os, browser, seed = 1, at = DEFAULT_AT }) {
  const st = STRATA.find((s) => s.os === os && s.browser === browser);
  if (!st) throw new Error(`no stratum ${stratumName(os, browser)}`);
  const name = stratumName(os, browser);
  const rng = prng('prynt-corpus', seed, name);
  const fonts = agentFonts();
  const rejected = {};
  return { rejected, next: () => withRandom(rng, () => nextDevice(st, name, rng, at, fonts, rejected)) };
}

// ---- running the corpus through a server ---------------------------------------------------------------

/** Normalises a reason for counting: quoted values and parenthesised details become "…". */
function reasonKey(r) {
  return r.replace(/"[^"]*"/g, '"…"').replace(/\([^()]*\)/g, '(…)').replace(/^\d+ /, 'N ');
}

/** POSTs `payload` (a string) with `headers`; resolves to `{ status, text }`, never rejects on a status. */
export function post(url, headers, payload, agent) {
  return new Promise((resolvePost, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'Content-Length': Buffer.byteLength(payload) }, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolvePost({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Lifts the workspace's rate limits: a corpus run makes one identify and one event read per
 * device, far above the default plan's server budget (1,000 a minute, 50 a second).
 */
async function liftLimits(prynt) {
  if (!prynt.cli) return;
  const r = await prynt.cli(['workspaces', 'update', 'default', '--plan', 'enterprise', '--limits', 'server=10000000,mgmt=100000,burst=1000000,identify=1000000']);
  if (r.code !== 0) throw new Error(`prynt workspaces update failed (code ${r.code}): ${r.stderr}`);
  // The server caches workspaces for a second.
  await new Promise((r2) => setTimeout(r2, 1200));
}

/**
 * Sends every device's identify request to `prynt` (from startPrynt) as the agent does - the
 * public key in the body's `publicKey`, since the agent's text/plain POST sets no Authorization
 * header (that would cost a CORS preflight); the server accepts either - then reads each event
 * back with the secret key. A device is flagged when signals.tampered, signals.bot.detected or
 * signals.emulator is true.
 *
 * Resolves to { devices, flagged, errors, byStratum: [{ os, browser, devices, tampered, bot,
 * emulator, flagged }], reasons: { reason: count }, reasonStrata: { reason: { stratum: count } },
 * reasonExamples: { reason: example }, examples: [the first flagged devices] }. Reasons are
 * "bot: …", "tampered: …" (the server's own words, quoted values normalised to "…") and
 * "emulator" (the server gives no reason for it; the examples carry the fields it reads).
 */
export async function runCorpus(prynt, devices, { concurrency = 8, liftRateLimits = true, maxExamples = 20 } = {}) {
  if (liftRateLimits) await liftLimits(prynt);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const url = `${prynt.base}/v1/identify`;
  const strata = new Map(STRATA.map((s) => [stratumName(s.os, s.browser), { os: s.os, browser: s.browser, devices: 0, tampered: 0, bot: 0, emulator: 0, flagged: 0 }]));
  const out = { devices: 0, flagged: 0, errors: 0, byStratum: [], reasons: {}, reasonStrata: {}, reasonExamples: {}, examples: [], errorExamples: [] };
  const results = new Array(devices.length);

  const one = async (i) => {
    const d = devices[i];
    const payload = JSON.stringify({ publicKey: prynt.publicKey, ...d.body });
    let r = await post(url, d.headers, payload, agent);
    for (let retry = 0; r.status === 429 && retry < 20; retry++) {
      await new Promise((w) => setTimeout(w, 250));
      r = await post(url, d.headers, payload, agent);
    }
    if (r.status !== 200) return { error: `identify ${r.status}: ${r.text.slice(0, 300)}` };
    const { requestId } = JSON.parse(r.text);
    let ev = await prynt.api('GET', `/v1/events/${requestId}`);
    for (let retry = 0; ev.status === 429 && retry < 20; retry++) {
      await new Promise((w) => setTimeout(w, 250));
      ev = await prynt.api('GET', `/v1/events/${requestId}`);
    }
    if (ev.status !== 200) return { error: `event ${ev.status}: ${ev.text.slice(0, 300)}` };
    return { event: ev.json };
  };

  let next = 0;
  const worker = async () => {
    while (next < devices.length) {
      const i = next++;
      try {
        results[i] = await one(i);
      } catch (e) {
        results[i] = { error: String(e && e.message) };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  } finally {
    agent.destroy();
  }

  devices.forEach((d, i) => {
    const name = stratumName(d.os, d.browser);
    if (!strata.has(name)) strata.set(name, { os: d.os, browser: d.browser, devices: 0, tampered: 0, bot: 0, emulator: 0, flagged: 0 });
    const row = strata.get(name);
    row.devices++;
    out.devices++;
    const res = results[i];
    if (!res || res.error) {
      out.errors++;
      if (out.errorExamples.length < 5) out.errorExamples.push({ stratum: name, error: res ? res.error : 'no result' });
      return;
    }
    const s = res.event.signals || {};
    const bot = !!(s.bot && s.bot.detected);
    const tampered = !!s.tampered;
    const emulator = !!s.emulator;
    if (tampered) row.tampered++;
    if (bot) row.bot++;
    if (emulator) row.emulator++;
    if (!(tampered || bot || emulator)) return;
    row.flagged++;
    out.flagged++;
    const c = d.body.components;
    const fields = {
      userAgent: c.userAgent,
      platform: c.platform,
      uaDataPlatform: c.uaData ? c.uaData.platform : null,
      model: c.uaData ? c.uaData.model : null,
      maxTouchPoints: c.maxTouchPoints,
      unmaskedRenderer: c.webgl.unmaskedRenderer,
      fonts: c.fonts,
      evalLength: c.automation.evalLength,
      productSub: c.productSub,
      secFetch: 'Sec-Fetch-Site' in d.headers,
      device: res.event.device,
    };
    const reasons = [
      ...(bot ? (s.bot.reasons || []).map((r) => `bot: ${r}`) : []),
      ...(tampered ? (s.tamperedReasons || []).map((r) => `tampered: ${r}`) : []),
      ...(emulator ? ['emulator'] : []),
    ];
    for (const r of reasons) {
      const key = reasonKey(r);
      out.reasons[key] = (out.reasons[key] || 0) + 1;
      const rs = (out.reasonStrata[key] ||= {});
      rs[name] = (rs[name] || 0) + 1;
      if (!out.reasonExamples[key]) out.reasonExamples[key] = { stratum: name, reason: r, ...fields };
    }
    if (out.examples.length < maxExamples) {
      out.examples.push({ stratum: name, signals: { bot: s.bot, tampered: s.tampered, tamperedReasons: s.tamperedReasons, emulator: s.emulator }, ...fields });
    }
  });
  out.byStratum = [...strata.values()];
  out.reasons = Object.fromEntries(Object.entries(out.reasons).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  return out;
}
