// A benchmark population for identification accuracy: browsers that come back to a site over
// weeks, each visit the exact components the Prynt agent would send, with the drift real
// browsers go through between visits. It is built from real-world devices (lib/corpus.mjs) and
// from what browsers, operating systems and people are known to do, never from Prynt's
// identification model: nothing here reads or mirrors how Prynt matches visits.
//
// API
//   population({ browsers, days = 90, seed = 1, workspaces = 1, start }) -> iterator of visits
//     { ws, day, browser, token, private, changes, components }, sorted by (ws, day), browser
//     index breaking ties. Deterministic: the same arguments give the same visits, to the byte
//     once serialised. `workspaces` independent populations of `browsers` browsers each, from
//     seeds derived from `seed`. `start` (ms since the epoch, default 2026-03-01T00:00Z) is day
//     0: it places the vendors' release days and the time-zone rules (daylight saving) in the
//     period; nothing else depends on it.
//   populationMeta(options) -> the summary the CLI prints first (population.mjs beside the
//     tests): `counts` of every drift kind on the visits, `drawn` events of the clock-driven
//     kinds (including those cancelled out or after a browser's last visit), visits, the
//     token-less share, the rates used and their sources. It runs the population once more,
//     without keeping the components.
//   DRIFT_KINDS -> [{ kind, what, fields, rate, source }]: every kind a visit's `changes` can
//     list, what it changes, the rate and where the rate comes from ('assumption' when no study
//     or vendor gives it). FIELDS_OF(kind) is the list of component paths a kind may change.
//
// What a visit is
//   `day`: days since `start` (4 decimals). `browser`: the browser's index in its workspace, the
//   truth label. `token`: the browser sends the visitor token it got on an earlier visit, i.e. it
//   still holds the storage of its previous non-private visit: false on its first visit, in a
//   private window, and after its storage was lost (storageCleared, cookiesOnExit) until a
//   non-private visit writes it again. `private`: a private/incognito window; what it is given
//   is not kept (the next visits are as if it had not happened). `changes`: the drift kinds
//   that happened to this browser since its previous visit and left it different (a kind whose
//   events cancelled out, e.g. zoom in and back, is not listed; a kind whose change the agent
//   cannot see, e.g. a UI-language change in Chromium, is listed although the components are the
//   same). `components`: the agent's components as lib/corpus.mjs builds them, without
//   automation, integrity, behavior and timing (identification does not read them).
//
// From data (lib/corpus.mjs, i.e. npm fingerprint-generator 2.1.88 and npm user-agents)
//   Every browser's starting device, drawn stratum by stratum with stratumDevices(): the stratum
//   (OS × browser) by corpus's STRATA[].share, a rough share of web traffic, so a population is
//   mostly Android Chrome, Windows Chrome and iOS Safari as real traffic is (corpus itself
//   splits half of its size evenly over the strata; a population does not). Its user agent,
//   client hints, screen, window, GPU, fonts, plugins, languages and home time zone are the
//   corpus's. Brave: the generator's Chromium rows include Brave (userAgentData brand "Brave")
//   far above Brave's public usage (a quarter of its Android Chrome rows), so a Brave row is kept
//   with probability 0.12 and otherwise redrawn, which leaves Brave at about 1-2% of browsers.
//   Versions "current" in the data (the commonest major of each browser in the corpus: Chrome
//   and Edge 147, Firefox 150, Samsung Internet 30, Chrome on iOS 154, Edge on iOS 153, Firefox
//   on iOS 156) tell stale browsers apart (below).
//   Time-zone offsets: each visit's, by the zone's IANA rules at the visit's instant (so
//   daylight saving shows up as it does in real browsers: the `daylightSaving` kind).
//
// Chosen here (labelled "assumption" in DRIFT_KINDS when no source gives a figure)
//   Visits. Each browser is one of: a one-time visitor (25%); an existing visitor of the site,
//   whose first visit is the first of its own visit process from day 0 (45% of the rest, tokens
//   from before the period being unknown to the server: the agent is new to them); a new
//   visitor arriving at a uniformly random day of the period. A returning browser visits as a
//   Poisson process whose rate is lognormal (median 0.15 visits a day, sigma 1.2, capped at 3 a
//   day: most come back every week or two, ~6% daily or more), thinned by an hour-of-day
//   profile in its home time zone (few visits at night), and stops after a lifetime drawn
//   exponentially (mean 150 days: devices replaced, browsers reinstalled, users who leave).
//   A visit is followed in the same session by another (a second identify on the same site)
//   with probability 0.2, minutes later. This gives ~10-20 visits per browser over 90 days,
//   heavy-tailed (see the meta line of the CLI).
//   Drift. Every kind is a clock of its own per browser (a Poisson or renewal process in time,
//   or a vendor's release calendar plus the user's lag), never a per-visit coin, and is applied
//   to the fields real browsers change. Studies give how often fingerprints change overall
//   but rarely a rate per cause that fits these kinds, so most rates are assumptions; the
//   studies are used for the overall picture: Eckersley 2010 ("How Unique Is Your Web
//   Browser?") found that fingerprints "changed quite rapidly" among returning visitors;
//   FP-Stalker (Vastel et al., IEEE S&P 2018; 98,598 fingerprints of 1,905 browsers) that they
//   change "from every few hours to days", mostly through software updates and configuration
//   changes; Andriamilanto et al. 2021 (ACM TWEB; 4,145,408 fingerprints of 1,989,365 browsers
//   over 6 months) that more than 90% of the attributes of consecutive fingerprints stay equal.
//   Cookie churn: Li and Cao 2020 ("Who Touched My Browser Fingerprint?", IMC; millions of
//   fingerprints of a real website) found that 32% of browser instances clear cookies, and
//   FP-Stalker cites a 2012 Microsoft study that could not keep track of 32% of its users with
//   cookies alone; storageCleared, privateWindow and cookiesOnExit are set so that about a
//   quarter to a third of all visits are token-less (first visits included).
//   Vendor calendars (approximate, fixed here): Chrome majors every 28 days from 2026-03-10,
//   Edge two days after Chrome, Firefox every 28 days from 2026-03-24, Chrome/Edge/Firefox for
//   iOS three days after their desktop release, Samsung Internet every 84 days from 2026-04-15,
//   Apple OS updates every 28 days from 2026-03-24 alternating a point release (x.y) and a
//   patch (x.y.z); Chromium security refreshes (browserPatch) 7, 14 and 21 days after each
//   major. A browser takes an update after a lag: lognormal, median 3 days on desktops, 5 on
//   phones and 7 for Apple OS updates, sigma 0.9 (each browser has its own habit around it).
//   3% of browsers never update during the period (20% for Apple OS updates), and 80% of those
//   already 3 or more majors behind the data's current version (old OSes, updates off); the
//   other stale ones catch up to the current major at their next update.
//   Engine releases that change measured output (fixed per engine and major, so that every
//   browser moving to that major changes alike): the canvas images 8%, audio 4%, the WebGL
//   extension list 15%, WebGL parameters 5%, the WebGL drawing 5% of releases (assumption;
//   engines change rasterisation, text shaping and supported extensions now and then, not at
//   every major).
//   Hashes that change are new 16-hex digests of the old value and the cause, so browsers that
//   were alike stay alike (as corpus's digests of the deciding properties do).
//
// The kinds (each in DRIFT_KINDS with its rate and source; fields in FIELDS_OF)
//   browserUpgrade: a new major (minor for Safari). Chromium: userAgent "Chrome/N.0.0.0" (and
//     "Edg/", "SamsungBrowser/" with its Chromium base, "CriOS/"/"EdgiOS/" full versions),
//     appVersion, userAgentData brands and fullVersionList rebuilt as Chromium builds them (the
//     GREASE brand's name, its version and the brands' order derive from the major; build
//     numbers grow by 57 a major); Firefox "rv:N.0", "Firefox/N.0" and on Android "Gecko/N.0";
//     Safari "Version/x.y" (on iOS the OS's WebKit, so every iOS browser's engine moves with
//     iOS). Engine side effects as above. ChromeOS's platformVersion moves with Chrome.
//   browserPatch: a Chromium security refresh: the build's last number in fullVersionList
//     (invisible to the reduced user agent); Safari's "Version/x.y.z" patch on macOS.
//   osUpgrade: Windows 10 -> 11 and older Windows 11 -> 24H2 (uaData.platformVersion 10.0.0 /
//     14-15.0.0 -> 19.0.0; "Windows NT 10.0" stays, Chrome's reduced user agent freezing it);
//     macOS point releases (Chromium's platformVersion; "Mac OS X 10_15_7" and Firefox's
//     "10.15" stay frozen); iOS/iPadOS (the "CPU iPhone OS x_y" token of Chrome, Edge and Firefox
//     for iOS; Safari on iOS 26 freezes it at 18_x and moves "Version/" instead; the update is
//     also the WebKit release of every iOS browser, with its engine side effects); Android
//     majors from Android 13 on (older devices get none; platformVersion; Firefox's "Android N"
//     token; Chrome's "Android 10; K" is frozen); the Linux kernel (platformVersion and the
//     kernel version some Mesa renderer strings carry).
//     25% of OS updates change the canvas text image (the agent's text draws an emoji and
//     OS updates ship emoji/text-rendering changes; assumption) and 10% add one of the OS's
//     fonts on desktops (assumption).
//   browserDowngrade: back 1 (or, for Firefox, 2) majors: a rollback or an older install (0.06
//     per browser-year; assumption, as channelSwitch's).
//   channelSwitch: Chrome/Edge stable <-> beta (+1 major) or dev (+2); Firefox release -> ESR
//     140 (its updates then stop) or ESR -> release (jumps to the current major).
//   privacyNoise: browsers that randomise by design, marked on every visit whose noisy fields
//     changed. Brave (from data, above): canvas, WebGL drawing and audio farbled per session,
//     a session being a local calendar day of visits; hardwareConcurrency drawn between 2 and
//     the real count per session; on desktops two made-up plugins added to its list, in
//     shuffled order (phones have no plugins).
//     Firefox with resistFingerprinting (5% of Firefox; LibreWolf, Mullvad Browser and users
//     who set the pref; assumption): time zone "Atlantic/Reykjavik" offset 0 (Firefox's RFP
//     spoofs this zone since Mozilla bug 1835987, UTC before it), languages ["en-US", "en"],
//     hardwareConcurrency 2 (the value Firefox's own RFP tests expect; chosen over newer
//     releases' per-platform values), screen = window inner size rounded down to multiples of
//     200 x 100 (letterboxing) with outer = inner and devicePixelRatio 1, canvas randomised on
//     every visit.
//   antiFingerprinting: an anti-detect / fingerprint-spoofing extension (1.5% of desktop
//     browsers; assumption) drawing a new profile every session (local day): the browser
//     version's minor/build numbers in the user agent (and fullVersionList), the screen among
//     common resolutions, the canvas images, the WebGL renderer among the same vendor's GPUs,
//     and a subset of the installed fonts.
//   zoom: page zoom (remembered per site by Chromium and Firefox). devicePixelRatio is
//     multiplied by the zoom factor (as a 32-bit float) and window.innerW/innerH divided by it;
//     in Firefox screen.w/h and availW/availH (CSS pixels) are divided by it too, in Chromium the
//     screen stays. Safari's page zoom leaves devicePixelRatio alone and is not modelled; phones
//     pinch-zoom the visual viewport only.
//   externalMonitor: a desktop or laptop switching between its own screen and another
//     (external monitor for a laptop-like screen, a laptop panel for a monitor-like one):
//     screen.w/h, availW/availH (same taskbar/menu-bar margins), pixelRatio, colorDepth (30 on
//     Mac built-in panels, 24 on external monitors) and the window (maximised on it, or kept
//     and clipped).
//   windowResize: desktop windows resized or re-maximised (outer and inner sizes, the browser's
//     toolbar height kept); phones and tablets turned to landscape and back (inner/outer sizes
//     swap; Android also swaps screen.w/h and availW/availH, iOS keeps the portrait screen).
//   fontsInstalled / fontsRemoved: 1-3 fonts of the agent's FONTS list (agentFonts()) added
//     (fonts other programs install: those of other OSes' lists) or removed (only ones that
//     are not the OS's own: system fonts are protected); desktops only. 10% of them change the
//     canvas text image (a fallback glyph drawn with another font; assumption). `fonts` keeps
//     FONTS's order.
//   gpuDriver: a driver update (Windows, Linux): the version numbers the unmasked renderer
//     carries (ANGLE "D3D11-x.x.x.x" strings of older Chrome, Mesa/LLVM and Vulkan versions;
//     Chrome's current Windows strings carry none, so they stay), the WebGL drawing hash (50%)
//     and parameters (10%).
//   languageAdded / languageRemoved / languageReordered: navigator.languages edited in browser
//     settings (Chromium and Firefox; WebKit exposes the system's preferred language only).
//   uiLocale: the browser's or system's UI language changes. What the agent sees: Safari and
//     every iOS browser report the system language, so languages becomes [new locale]; Firefox
//     derives its default languages from its UI locale (60% of users never set them: the list
//     follows); Chromium's languages are a separate setting: nothing visible.
//   timezoneTravel: a trip (mean 6 days, half within the home country where it has several
//     zones) to another zone, then back home. timezoneMove: a permanent move.
//   daylightSaving: the home zone's offset changes with its DST rules (not a drift of the
//     browser: listed so that every visible change has a cause).
//   storageCleared: the user clears site data (half of the browsers clear, each at its own
//     rate, lognormal around a median of every 6 days: cleaning tools and browsers set to clear
//     on a schedule; assumption set for the token-less share above); also WebKit's
//     Intelligent Tracking Prevention, which deletes script-writable storage (the agent's
//     cookie, localStorage and IndexedDB alike) after 7 days without interaction with the site
//     (WebKit's documented policy since 2020, applied to Safari and every iOS/iPadOS browser; a
//     gap of more than 7 days between visits counts as 7 days of use).
//   privateWindow: the visit is in a private window (30% of browsers use them, for 25% of their
//     sessions; assumption). What changes in the components: storage as engines report it in
//     private mode (Chromium: quota ~10% of deviceMemory, Cache Storage cost below one 256-byte
//     block; Firefox and WebKit: getDirectory 'error'; WebKit: idbBlob 'error'; usage near 0),
//     Firefox's private-window fingerprinting protection randomising canvas, and Safari 17+'s
//     private-browsing protections (canvas and audio noise, screen reported as the window),
//     the components FingerprintJS reported affected (its PR #951).
//   cookiesOnExit: a browser set to delete cookies and site data when it closes (20% of desktop
//     Firefox, 10% of other desktop browsers; assumption), closing as a Poisson process (twice
//     a day): the storage is gone at the first visit after a close.
//
// Unsure / not modelled: Apple and Chromium calendars are approximations; Safari's page zoom;
// iPad split view; Chromium legacy zone names; Safari's per-domain storage partitioning; the
// exact RFP values of the newest Firefox releases (2 cores and a letterboxed screen chosen);
// WebGL extension changes at every major that corpus's digests imply (a browser that upgrades
// keeps its extension digest unless the release changed extensions, so it may differ from a
// corpus device born on the new major).
import { LOCALES, STRATA, agentFonts, stratumDevices } from './corpus.mjs';
import { between, pick, prng, weighted } from './random.mjs';

export const GENERATOR = 'prynt-population 1';
export const DEFAULT_START = Date.UTC(2026, 2, 1);
const DAY_MS = 86_400_000;
const GIB = 1024 ** 3;
const DROPPED = new Set(['automation', 'integrity', 'behavior', 'timing']);

// ---- parameters (every figure below is described in the header and in DRIFT_KINDS) ------------

const VISITS = {
  onceShare: 0.25,
  existingShare: 0.45,
  rateMedian: 0.15,
  rateSigma: 1.2,
  rateCap: 3,
  lifetimeMeanDays: 150,
  followUp: 0.2,
  followUpMeanMinutes: 20,
};
// Relative visit propensity by local hour (0-23), max 1.
const HOURS = [0.15, 0.1, 0.07, 0.05, 0.05, 0.08, 0.2, 0.4, 0.6, 0.7, 0.75, 0.8, 0.8, 0.8, 0.75, 0.75, 0.75, 0.8, 0.85, 0.9, 1, 0.9, 0.6, 0.3];
const HOURS_MEAN = HOURS.reduce((a, b) => a + b, 0) / 24;

const P = {
  braveKeep: 0.12,
  rfpShare: 0.05,
  antiFpShare: 0.015,
  frozen: 0.03,
  frozenApple: 0.2,
  staleFrozen: 0.8,
  lagMedian: { desktop: 3, mobile: 5, apple: 7 },
  lagSigma: 0.9,
  release: { canvas: 0.08, audio: 0.04, ext: 0.15, params: 0.05, render: 0.05 },
  osCanvas: 0.25,
  androidSupported: 13,
  osFont: 0.1,
  perYear: {
    win10to11: 0.5,
    win11to24h2: 0.8,
    android: 0.25,
    linuxKernel: 4,
    downgrade: 0.06,
    channel: 0.06,
    fontsInstalled: 365 / 250,
    fontsRemoved: 365 / 800,
    gpuWindows: 365 / 100,
    gpuLinux: 365 / 60,
    languageAdded: 0.25,
    languageRemoved: 0.125,
    languageReordered: 0.125,
    uiLocale: 0.1,
    trips: 3,
    move: 0.03,
  },
  zoomers: 0.15,
  zoomEveryDays: 20,
  dockers: 0.25,
  dockMeanDays: 2,
  resizers: 0.35,
  resizeEveryDays: 7,
  landscapeEveryDays: 15,
  landscapeMeanDays: 0.1,
  fontCanvas: 0.1,
  gpuRender: 0.5,
  gpuParams: 0.1,
  travelers: 0.4,
  tripMeanDays: 6,
  firefoxFollowsLocale: 0.6,
  clearers: 0.5,
  clearMedianDays: 6,
  itpDays: 7,
  privateUsers: 0.3,
  privateSessions: 0.25,
  cookiesOnExit: { firefox: 0.2, other: 0.1 },
  exitsPerDay: 2,
};

// The commonest major of each browser in corpus's data: what "current" means at day 0.
const CURRENT = { chrome: 147, edge: 147, samsung: 30, firefox: 150, crios: 154, edgios: 153, fxios: 156 };
const FIREFOX_ESR = 140;
const CHROMIUM_BUILD_STEP = 57;
const EDGE_BUILD_STEP = 60;
const IOS_APP_BUILD_STEP = 52;

// Release calendars: [anchor (a release day), cadence in days].
const CALENDARS = {
  chrome: [Date.UTC(2026, 2, 10), 28],
  edge: [Date.UTC(2026, 2, 12), 28],
  firefox: [Date.UTC(2026, 2, 24), 28],
  samsung: [Date.UTC(2026, 3, 15), 84],
  crios: [Date.UTC(2026, 2, 13), 28],
  edgios: [Date.UTC(2026, 2, 15), 28],
  fxios: [Date.UTC(2026, 2, 27), 28],
  apple: [Date.UTC(2026, 2, 24), 28],
};

/** Every drift kind a visit can list, in the order `changes` lists them. */
export const DRIFT_KINDS = [
  { kind: 'browserUpgrade', what: 'new browser major (Safari: minor) with its user agent, client hints and engine side effects', fields: ['userAgent', 'appVersion', 'uaData', 'canvas', 'audio', 'webgl.extensions', 'webgl.params', 'webgl.render', 'uaData.platformVersion'], rate: 'vendor calendars (Chrome, Edge, Firefox every 28 days; Samsung Internet 84; Apple every 28 days alternating x.y and x.y.z) + per-user lag lognormal median 3/5/7 days (desktop/phone/Apple), 3% never update, 80% of stale browsers frozen; engine side effects per release: canvas 8%, audio 4%, WebGL extensions 15%, params 5%, drawing 5%', source: 'vendor release cadences (Chrome and Firefox 4-week majors); lag, frozen shares and side-effect probabilities: assumption' },
  { kind: 'browserPatch', what: 'Chromium security refresh (fullVersionList build patch); Safari x.y.z on macOS', fields: ['uaData.fullVersionList', 'userAgent', 'appVersion'], rate: 'Chromium refreshes 7, 14 and 21 days after each major, same lag as upgrades; Apple patch releases', source: 'Chrome stable ships a security refresh about weekly (vendor practice); lag: assumption' },
  { kind: 'osUpgrade', what: 'OS version: uaData.platformVersion, the OS tokens user agents still carry; may change canvas text and add an OS font; on iOS/iPadOS it is also the WebKit release of every browser', fields: ['uaData.platformVersion', 'userAgent', 'appVersion', 'canvas', 'fonts', 'webgl.unmaskedRenderer', 'webgl.renderer', 'audio', 'webgl.extensions', 'webgl.params', 'webgl.render'], rate: 'Apple updates on the Apple calendar (20% of devices skip the period); Windows 10->11 0.5/yr, older Windows 11 -> 24H2 0.8/yr; Android 13+ major 0.25/yr; Linux kernel 4/yr; ChromeOS with every Chrome major; canvas text 25%, +1 OS font 10%', source: 'assumption (Apple cadence approximated from its release history)' },
  { kind: 'browserDowngrade', what: 'back 1 major (Firefox 1-2): rollback or older install', fields: ['userAgent', 'appVersion', 'uaData', 'canvas', 'audio', 'webgl.extensions', 'webgl.params', 'webgl.render'], rate: '0.06 per browser-year (Chromium and Firefox outside iOS)', source: 'assumption' },
  { kind: 'channelSwitch', what: 'Chrome/Edge stable<->beta (+1) or dev (+2); Firefox release<->ESR 140', fields: ['userAgent', 'appVersion', 'uaData', 'canvas', 'audio', 'webgl.extensions', 'webgl.params', 'webgl.render'], rate: '0.06 per browser-year (Chrome, Edge, Firefox outside iOS)', source: 'assumption' },
  { kind: 'privacyNoise', what: 'Brave farbling per session (canvas, WebGL drawing, audio, hardwareConcurrency, plugins); Firefox resistFingerprinting canvas per visit', fields: ['canvas', 'webgl.render', 'audio', 'hardwareConcurrency', 'plugins'], rate: 'Brave: corpus Brave rows kept with p 0.12 (~1-2% of browsers); RFP: 5% of Firefox; every session (local day) / every visit', source: 'Brave share from corpus data, thinned (assumption); RFP share: assumption; behaviours: Brave farbling and Firefox RFP as the browsers implement them' },
  { kind: 'antiFingerprinting', what: 'spoofing extension: new profile each session (UA minor/build, screen, canvas, WebGL renderer within vendor, font subset)', fields: ['userAgent', 'appVersion', 'uaData.fullVersionList', 'screen', 'window', 'canvas', 'webgl.unmaskedRenderer', 'webgl.renderer', 'webgl.render', 'fonts'], rate: '1.5% of desktop browsers, every session (local day)', source: 'assumption' },
  { kind: 'zoom', what: 'page zoom: pixelRatio x zoom, inner size / zoom; Firefox also screen and avail / zoom', fields: ['screen.pixelRatio', 'window.innerW', 'window.innerH', 'screen.w', 'screen.h', 'screen.availW', 'screen.availH'], rate: '15% of desktop Chromium/Firefox browsers zoom, one change every 20 days on average (half of them back to 100%)', source: 'assumption' },
  { kind: 'externalMonitor', what: 'switch between built-in screen and another (screen, avail, pixelRatio, colorDepth, window)', fields: ['screen', 'window'], rate: '25% of desktop browsers alternate, mean 2 days in each state', source: 'assumption' },
  { kind: 'windowResize', what: 'desktop window resized or maximised; phone/tablet orientation (Android swaps screen too)', fields: ['window', 'screen.w', 'screen.h', 'screen.availW', 'screen.availH'], rate: 'desktop: 35% of browsers, every 7 days on average; mobile: landscape episodes every 15 days lasting ~2.4 h', source: 'assumption' },
  { kind: 'fontsInstalled', what: '1-3 fonts of the agent list added (desktops)', fields: ['fonts', 'canvas.text'], rate: '1 per 250 days per desktop browser; canvas text changes with 10% of them', source: 'assumption' },
  { kind: 'fontsRemoved', what: '1-3 fonts of the agent list removed (desktops)', fields: ['fonts', 'canvas.text'], rate: '1 per 800 days per desktop browser (only fonts that are not the OS own)', source: 'assumption' },
  { kind: 'gpuDriver', what: 'GPU driver update: version numbers in the renderer string where it carries them, WebGL drawing (50%) and params (10%)', fields: ['webgl.unmaskedRenderer', 'webgl.renderer', 'webgl.render', 'webgl.params'], rate: 'Windows 1 per 100 days, Linux 1 per 60 days', source: 'assumption' },
  { kind: 'languageAdded', what: 'a language appended to navigator.languages (Chromium, Firefox)', fields: ['languages'], rate: '0.25 per browser-year', source: 'assumption' },
  { kind: 'languageRemoved', what: 'a non-first language removed', fields: ['languages'], rate: '0.125 per browser-year', source: 'assumption' },
  { kind: 'languageReordered', what: 'another language moved first', fields: ['languages'], rate: '0.125 per browser-year', source: 'assumption' },
  { kind: 'uiLocale', what: 'UI language: WebKit/iOS languages = [locale]; Firefox follows for 60% of users; Chromium: nothing visible', fields: ['languages'], rate: '0.1 per browser-year', source: 'assumption' },
  { kind: 'timezoneTravel', what: 'trip to another zone and back home (timezone, timezoneOffset)', fields: ['timezone', 'timezoneOffset'], rate: '40% of phones, tablets and laptop-like desktops travel, 3 trips a year, mean 6 days, half domestic', source: 'assumption' },
  { kind: 'timezoneMove', what: 'permanent move to another zone', fields: ['timezone', 'timezoneOffset'], rate: '0.03 per browser-year', source: 'assumption' },
  { kind: 'daylightSaving', what: "the zone's offset changes under its DST rules", fields: ['timezoneOffset'], rate: 'IANA time-zone rules at each visit', source: 'data (IANA rules via Intl)' },
  { kind: 'storageCleared', what: 'site data cleared (user, or WebKit ITP after 7 days without interaction): the token is gone', fields: [], rate: '50% of browsers clear, each at its own rate (lognormal, median every 6 days); ITP: WebKit gaps over 7 days', source: 'share of clearers and rates: assumption set so that 25-33% of visits are token-less (Li & Cao, IMC 2020: 32% of browser instances clear cookies; FP-Stalker citing a 2012 Microsoft study: 32% of users untrackable by cookies); ITP 7-day cap: WebKit policy' },
  { kind: 'privateWindow', what: 'this visit is in a private window: token-less, private-mode storage, engine private-mode protections', fields: ['storage', 'canvas', 'audio', 'screen'], rate: '30% of browsers, 25% of their sessions', source: 'assumption; Safari 17 private-mode changes: FingerprintJS PR #951 (screen, audio, canvas)' },
  { kind: 'cookiesOnExit', what: 'browser deletes cookies and site data on exit: token gone after a close', fields: [], rate: '20% of desktop Firefox, 10% of other desktop browsers; closes Poisson twice a day', source: 'assumption' },
];
const KIND_ORDER = new Map(DRIFT_KINDS.map((k, i) => [k.kind, i]));
export const FIELDS_OF = (kind) => (DRIFT_KINDS[KIND_ORDER.get(kind)] || { fields: [] }).fields;

// ---- randomness and hashing ----------------------------------------------------------------------

const uniform = (r, lo, hi) => lo + r() * (hi - lo);
const expo = (r, mean) => -Math.log(1 - r()) * mean;
function normal(r) {
  let u = 0;
  while (u === 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}
const lognormal = (r, median, sigma) => median * Math.exp(sigma * normal(r));
/** Event times of a Poisson process of `perDay` events a day in [from, to). */
function poisson(r, perDay, from, to) {
  const out = [];
  if (!(perDay > 0)) return out;
  for (let t = from + expo(r, 1 / perDay); t < to; t += expo(r, 1 / perDay)) out.push(t);
  return out;
}

/**
 * 64-bit FNV-1a of the joined parts, then mixed (murmur3's finaliser on both halves) so that
 * inputs differing in one character give unrelated digests, as a real image's digest would;
 * 16 hex digits (the agent's digest shape).
 */
function hx(...parts) {
  const s = parts.join('|');
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < s.length; i++) {
    lo = (lo ^ s.charCodeAt(i)) >>> 0;
    const l = lo * 435;
    hi = (Math.imul(hi, 435) + (lo << 8) + Math.floor(l / 4294967296)) >>> 0;
    lo = l >>> 0;
  }
  for (let round = 0; round < 2; round++) {
    hi = (hi ^ (lo >>> 15) ^ (hi >>> 16)) >>> 0;
    hi = Math.imul(hi, 0x85ebca6b) >>> 0;
    lo = (lo ^ (hi >>> 13) ^ (lo >>> 16)) >>> 0;
    lo = Math.imul(lo, 0xc2b2ae35) >>> 0;
    hi = (hi ^ (lo >>> 16)) >>> 0;
  }
  return ('0000000' + hi.toString(16)).slice(-8) + ('0000000' + lo.toString(16)).slice(-8);
}
/** A uniform number in [0, 1) fixed by the parts (the same for every browser). */
const fixedUniform = (...parts) => parseInt(hx(...parts).slice(0, 8), 16) / 4294967296;

// ---- time zones ---------------------------------------------------------------------------------

const offsetCache = new Map();
/** getTimezoneOffset() of `zone` at `ms` (minutes, positive west of UTC), per hour. */
function tzOffset(zone, ms) {
  const hour = Math.floor(ms / 3_600_000);
  const key = `${zone}@${hour}`;
  let v = offsetCache.get(key);
  if (v === undefined) {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(new Date(hour * 3_600_000 + 1))
      .find((p) => p.type === 'timeZoneName').value;
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    const east = m ? (m[1] === '+' ? 1 : -1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
    v = east === 0 ? 0 : -east;
    offsetCache.set(key, v);
  }
  return v;
}

const ZONES = [];
for (const [w, locale, zones] of LOCALES) for (const z of zones) ZONES.push({ w: w / zones.length, locale, zone: z });
const localeOfZone = (zone) => (ZONES.find((z) => z.zone === zone) || {}).locale || null;

// ---- versions --------------------------------------------------------------------------------------

const GREASE_CHARS = [' ', '(', ':', '-', '.', '/', ')', ';', '=', '?', '_'];
const GREASE_VERSIONS = ['8', '99', '24'];
const GREASE_ORDERS = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
const isGrease = (b) => /^Not.A.Brand$/.test(b.brand);

/**
 * userAgentData brands as Chromium builds them for major `cr`: the GREASE brand's name and
 * version and the order of [GREASE, Chromium, brand] all derive from the major.
 */
function chromiumBrands(cr, brand, brandVersion, brandFull, chromiumFull) {
  const grease = `Not${GREASE_CHARS[cr % 11]}A${GREASE_CHARS[(cr + 1) % 11]}Brand`;
  const gv = GREASE_VERSIONS[cr % 3];
  const order = GREASE_ORDERS[cr % 6];
  const brands = [];
  const full = [];
  brands[order[0]] = { brand: grease, version: gv };
  brands[order[1]] = { brand: 'Chromium', version: String(cr) };
  brands[order[2]] = { brand, version: brandVersion };
  full[order[0]] = { brand: grease, version: `${gv}.0.0.0` };
  full[order[1]] = { brand: 'Chromium', version: chromiumFull };
  full[order[2]] = { brand, version: brandFull };
  return { brands, fullVersionList: full };
}

const num = (re, s) => {
  const m = re.exec(s || '');
  return m ? Number(m[1]) : null;
};
const patchAfter = (major, patch) => patch + 8 + Math.floor(fixedUniform('patch', major, patch) * 18);
const firstPatch = (major) => 30 + Math.floor(fixedUniform('first-patch', major) * 30);

/** The version state of a browser, read from its starting user agent and client hints. */
function readVersion(b) {
  const c = b.c;
  const ua = c.userAgent;
  const full = c.uaData ? c.uaData.fullVersionList || [] : [];
  const fullOf = (name) => (full.find((x) => x.brand === name) || {}).version || '';
  const parts = (v) => v.split('.').map(Number);
  if (b.fam === 'chrome' || b.fam === 'edge' || b.fam === 'samsung') {
    const cr = num(/Chrome\/(\d+)/, ua);
    const cp = parts(fullOf('Chromium') || `${cr}.0.0.0`);
    const v = { major: cr, cr, build: cp[2] || 0, patch: cp[3] || 0, channel: 0 };
    if (b.fam === 'edge') {
      const ep = parts(fullOf('Microsoft Edge') || `${cr}.0.0.0`);
      v.ebuild = ep[2] || 0;
      v.epatch = ep[3] || 0;
    }
    if (b.fam === 'samsung') {
      v.major = num(/SamsungBrowser\/(\d+)/, ua);
      v.minor = num(/SamsungBrowser\/\d+\.(\d+)/, ua) || 0;
    }
    return v;
  }
  if (b.fam === 'firefox') return { major: num(/Firefox\/(\d+)/, ua), esr: false };
  if (b.fam === 'crios' || b.fam === 'edgios') {
    const m = (b.fam === 'crios' ? /CriOS\/(\d+)\.0\.(\d+)\.(\d+)/ : /EdgiOS\/(\d+)\.0\.(\d+)\.(\d+)/).exec(ua);
    return m ? { major: Number(m[1]), build: Number(m[2]), patch: Number(m[3]) } : { major: null };
  }
  if (b.fam === 'fxios') {
    const m = /FxiOS\/(\d+)(?:\.(\d+))?/.exec(ua);
    return m && Number(m[1]) >= 100 ? { major: Number(m[1]), minor: Number(m[2] || 0) } : { major: null };
  }
  if (b.fam === 'safari') {
    const m = /Version\/(\d+)\.(\d+)(?:\.(\d+))?/.exec(ua);
    return m ? { maj: Number(m[1]), min: Number(m[2]), patch: Number(m[3] || 0), hadPatch: m[3] != null } : { maj: null };
  }
  return {};
}

/** The OS version state: what the components show of it. */
function readOs(b) {
  const c = b.c;
  const pv = c.uaData ? c.uaData.platformVersion || '' : '';
  const ua = c.userAgent;
  if (b.os === 'Windows') {
    const maj = pv ? Number(pv.split('.')[0]) : null;
    return { kind: 'windows', maj: maj ?? null, win11: maj == null ? null : maj >= 13 };
  }
  if (b.os === 'macOS') {
    const p = pv ? pv.split('.').map(Number) : null;
    // Without client hints the macOS version is unseen: the current line is assumed.
    return { kind: 'apple', v: p ? [p[0], p[1] || 0, p[2] || 0] : [appleCurrent, 3, 0], fmt: 'dots' };
  }
  if (b.os === 'iOS' || b.os === 'iPadOS') {
    const t = /OS (\d+)_(\d+)(?:_(\d+))?/.exec(ua);
    const s = /Version\/(\d+)\.(\d+)(?:\.(\d+))?/.exec(ua);
    // iOS 26 Safari freezes the OS token at 18_x and reports its own (the OS's) version instead.
    const frozen = t && s && Number(s[1]) >= 26 && Number(t[1]) < Number(s[1]);
    let v = null;
    if (t && !frozen) v = [Number(t[1]), Number(t[2]), Number(t[3] || 0)];
    else if (s) v = [Number(s[1]), Number(s[2]), Number(s[3] || 0)];
    return { kind: 'apple', v, token: !!t && !frozen, tokenPatch: !!(t && t[3]) };
  }
  if (b.os === 'Android') {
    const maj = pv ? Number(pv.split('.')[0]) : num(/Android (\d+)/, ua);
    return { kind: 'android', maj, pvFmt: pv.includes('.') ? 'dots' : 'plain' };
  }
  if (b.os === 'ChromeOS') return { kind: 'chromeos', pv };
  if (b.os === 'Linux') return { kind: 'linux', pv };
  return { kind: 'other' };
}

const appleCurrent = 26;

/** Rewrites userAgent, appVersion and uaData from the base device and the version/OS state. */
function renderVersion(b) {
  const base = b.base;
  let ua = base.userAgent;
  const v = b.ver;
  const o = b.osv;
  let uaData = base.uaData;
  if (b.fam === 'chrome' || b.fam === 'edge' || b.fam === 'samsung') {
    if (v.cr != null) {
      ua = ua.replace(/Chrome\/\d+\.0\.0\.0/, `Chrome/${v.cr}.0.0.0`).replace(/Chrome\/\d+\.0\.\d+\.\d+(?!\.)/, (m) => (m.endsWith('.0.0.0') ? m : `Chrome/${v.cr}.0.${v.build}.${v.patch}`));
      if (b.fam === 'edge') ua = ua.replace(/(Edg[A]?)\/\d+\.0\.0\.0/, `$1/${v.cr}.0.0.0`);
      if (b.fam === 'samsung') ua = ua.replace(/SamsungBrowser\/\d+\.\d+/, `SamsungBrowser/${v.major}.${v.minor}`);
    }
    if (uaData && v.cr != null) {
      const brand = uaData.brands.find((x) => x.brand !== 'Chromium' && !isGrease(x));
      const reduced = /\.0\.0\.0$/.test((uaData.fullVersionList.find((x) => x.brand === 'Chromium') || {}).version || '');
      const crFull = reduced ? `${v.cr}.0.0.0` : `${v.cr}.0.${v.build}.${v.patch}`;
      if (brand && uaData.brands.length === 3) {
        let brandVersion = String(v.cr);
        let brandFull = crFull;
        if (b.fam === 'edge') brandFull = `${v.cr}.0.${v.ebuild}.${v.epatch}`;
        if (b.fam === 'samsung') {
          brandVersion = String(v.major);
          brandFull = `${v.major}.${v.minor}.0.0`;
        }
        let chromiumFull = crFull;
        if (b.antiFp && b.afp && !reduced) {
          // the extension's made-up build: the brand's full version and the Chromium one alike
          chromiumFull = `${v.cr}.0.${b.afp.build}.${b.afp.patch}`;
          if (b.fam === 'chrome') brandFull = chromiumFull;
        }
        if (v.cr === b.baseVer.cr) {
          // Same major: the device's own brand list, only the full versions moving.
          const fullFor = (x) => (isGrease(x) ? x.version : x.brand === 'Chromium' ? chromiumFull : x.brand === brand.brand ? brandFull : x.version);
          uaData = { ...uaData, fullVersionList: uaData.fullVersionList.map((x) => ({ brand: x.brand, version: fullFor(x) })) };
        } else {
          uaData = { ...uaData, ...chromiumBrands(v.cr, brand.brand, brandVersion, brandFull, chromiumFull) };
        }
      } else {
        const oldCr = b.baseVer.cr;
        const full = (x) => (x.version.startsWith(`${oldCr}.`) ? (reduced ? `${v.cr}.0.0.0` : `${v.cr}.0.${v.build}.${v.patch}`) : x.version);
        const swap = (list, isFull) => list.map((x) => (isGrease(x) ? x : { brand: x.brand, version: isFull ? full(x) : x.version === String(oldCr) ? String(v.cr) : x.version }));
        uaData = { ...uaData, brands: swap(uaData.brands, false), fullVersionList: swap(uaData.fullVersionList, true) };
      }
    }
  } else if (b.fam === 'firefox' && v.major != null) {
    ua = ua.replace(/rv:\d+\.0/, `rv:${v.major}.0`).replace(/Firefox\/\d+\.0/, `Firefox/${v.major}.0`).replace(/Gecko\/(?!20100101)\d+\.0/, `Gecko/${v.major}.0`);
  } else if ((b.fam === 'crios' || b.fam === 'edgios') && v.major != null) {
    const tag = b.fam === 'crios' ? 'CriOS' : 'EdgiOS';
    ua = ua.replace(new RegExp(`${tag}/\\d+\\.0\\.\\d+\\.\\d+`), `${tag}/${v.major}.0.${v.build}.${v.patch}`);
  } else if (b.fam === 'fxios' && v.major != null) {
    ua = ua.replace(/FxiOS\/\d+(?:\.\d+)?/, `FxiOS/${v.major}.${v.minor}`);
  } else if (b.fam === 'safari' && v.maj != null) {
    const patch = v.patch > 0 ? `.${v.patch}` : '';
    ua = ua.replace(/Version\/\d+\.\d+(?:\.\d+)?/, `Version/${v.maj}.${v.min}${patch}`);
  }
  // OS tokens that user agents still carry.
  if ((b.os === 'iOS' || b.os === 'iPadOS') && o.v && o.token) {
    const tok = `${o.v[0]}_${o.v[1]}${o.v[2] > 0 || o.tokenPatch ? `_${o.v[2]}` : ''}`;
    ua = ua.replace(/OS \d+_\d+(?:_\d+)?/, `OS ${tok}`);
  }
  if (b.os === 'Android' && b.engine === 'gecko' && o.maj != null) ua = ua.replace(/Android \d+(?:\.\d+)*/, `Android ${o.maj}`);
  if (b.antiFp && b.afp) ua = spoofUaVersion(ua, b.afp);
  if (uaData) {
    let pv = uaData.platformVersion;
    if (o.kind === 'windows' && o.maj != null) pv = `${o.maj}.0.0`;
    else if (o.kind === 'apple' && o.v && b.os === 'macOS') pv = `${o.v[0]}.${o.v[1]}.${o.v[2]}`;
    else if (o.kind === 'android' && o.maj != null && pv) pv = o.pvFmt === 'dots' ? `${o.maj}.0.0` : String(o.maj);
    else if (o.kind === 'chromeos' || o.kind === 'linux') pv = o.pv;
    if (pv !== uaData.platformVersion) uaData = { ...uaData, platformVersion: pv };
  }
  b.c.userAgent = ua;
  b.c.uaData = uaData;
  b.c.appVersion = base.appVersion === base.userAgent.replace(/^Mozilla\//, '') ? ua.replace(/^Mozilla\//, '') : base.appVersion;
}

/** The anti-fingerprinting extension's user agent: the browser's minor/build numbers replaced. */
function spoofUaVersion(ua, afp) {
  return ua
    .replace(/Chrome\/(\d+)\.0\.0\.0/, (m, maj) => `Chrome/${maj}.0.${afp.build}.${afp.patch}`)
    .replace(/Firefox\/(\d+)\.0/, (m, maj) => `Firefox/${maj}.${afp.minor}`)
    .replace(/Version\/(\d+)\.(\d+)(?:\.\d+)?/, (m, maj, min) => `Version/${maj}.${min}.${afp.minor}`);
}

// ---- engine and other hash modifiers ------------------------------------------------------------------

const HASHED = ['canvasText', 'canvasGeometry', 'audio', 'ext', 'params', 'render'];
const RELEASE_FIELD = { canvasText: 'canvas', canvasGeometry: 'canvas', audio: 'audio', ext: 'ext', params: 'params', render: 'render' };

/** The engine line and version whose releases decide the canvas/audio/WebGL output. */
function engineVersion(b) {
  if (b.engine === 'blink') return ['blink', b.ver.cr];
  if (b.engine === 'gecko') return ['gecko', b.ver.major];
  // WebKit: on iOS/iPadOS the OS's, on macOS Safari's own.
  if ((b.os === 'iOS' || b.os === 'iPadOS') && b.osv.v) return ['webkit', b.osv.v[0] * 100 + b.osv.v[1]];
  if (b.fam === 'safari' && b.ver.maj != null) return ['webkit', b.ver.maj * 100 + b.ver.min];
  return ['webkit', null];
}

/** The release of `line` at `version` that last changed `field` between the base version and now. */
function releaseEpoch(line, field, from, to) {
  if (from == null || to == null || from === to) return null;
  const p = P.release[RELEASE_FIELD[field]];
  if (to > from) {
    for (let v = to; v > from; v--) if (fixedUniform('release', line, v, RELEASE_FIELD[field]) < p) return `r${v}`;
  } else {
    for (let v = to + 1; v <= from; v++) if (fixedUniform('release', line, v, RELEASE_FIELD[field]) < p) return `p${v}`;
  }
  return null;
}

/** Recomputes the hashed outputs from the base values, the engine epoch and other modifiers. */
function renderHashes(b) {
  const [line, version] = engineVersion(b);
  const values = {};
  for (const f of HASHED) {
    const epoch = releaseEpoch(line, f, b.baseEngine, version);
    const mods = b.mods[f];
    const base = b.baseHash[f];
    values[f] = epoch || mods.length ? hx(base, epoch || '', ...mods) : base;
  }
  const c = b.c;
  if (c.canvas) c.canvas = { ...c.canvas, text: values.canvasText, geometry: values.canvasGeometry };
  if (c.audio) {
    const changed = values.audio !== b.baseHash.audio;
    c.audio = { ...c.audio, hash: values.audio, sum: changed ? b.base.audio.sum + (parseInt(values.audio.slice(0, 4), 16) - 32768) * 1e-9 : b.base.audio.sum };
  }
  if (c.webgl) c.webgl = { ...c.webgl, extensions: values.ext, params: values.params, render: values.render };
}

// ---- fonts ------------------------------------------------------------------------------------------

let fontGroups = null;
/** The agent's FONTS list split into its OS groups (by the first font of each group). */
function fontsByOs() {
  if (fontGroups) return fontGroups;
  const fonts = agentFonts();
  const starts = { windows: 'Arial Black', apple: 'American Typewriter', linux: 'Cantarell', android: 'Coming Soon' };
  const at = Object.fromEntries(Object.entries(starts).map(([k, f]) => [k, fonts.indexOf(f)]));
  const group = {};
  const order = Object.entries(at).filter(([, i]) => i >= 0).sort((a, b) => a[1] - b[1]);
  order.forEach(([k, i], j) => {
    const end = j + 1 < order.length ? order[j + 1][1] : fonts.length;
    for (const f of fonts.slice(i, end)) group[f] = k;
  });
  fontGroups = { fonts, group };
  return fontGroups;
}
const OWN_GROUP = { Windows: 'windows', macOS: 'apple', iOS: 'apple', iPadOS: 'apple', Linux: 'linux', ChromeOS: 'linux', Android: 'android' };
const inFontsOrder = (set) => fontsByOs().fonts.filter((f) => set.has(f));

// ---- screens -------------------------------------------------------------------------------------------

// [w, h, devicePixelRatio, weight] in CSS pixels as browsers report them.
const EXTERNAL = {
  pc: [[1920, 1080, 1, 40], [2560, 1440, 1, 25], [2560, 1440, 1.5, 8], [3440, 1440, 1, 6], [1920, 1200, 1, 6], [1920, 1080, 2, 6], [2560, 1080, 1, 4], [1680, 1050, 1, 3], [3840, 2160, 1, 2]],
  mac: [[1920, 1080, 1, 30], [2560, 1440, 1, 25], [1920, 1080, 2, 15], [2560, 1440, 2, 12], [3440, 1440, 1, 8], [2240, 1260, 2, 5], [1680, 945, 2, 5]],
};
const LAPTOP = {
  pc: [[1536, 864, 1.25, 35], [1280, 720, 1.5, 15], [1366, 768, 1, 15], [1280, 800, 1.5, 10], [1920, 1080, 1, 10], [1536, 960, 1.25, 8], [1707, 1067, 1.5, 7]],
  mac: [[1512, 982, 2, 30], [1470, 956, 2, 30], [1440, 900, 2, 20], [1728, 1117, 2, 10], [1280, 800, 2, 10]],
};
const COMMON_SCREENS = [[1920, 1080, 1], [1366, 768, 1], [1536, 864, 1.25], [1440, 900, 2], [2560, 1440, 1], [1280, 720, 1.5], [1600, 900, 1], [1280, 1024, 1]];

const looksLaptop = (os, s) => (os === 'macOS' ? s.colorDepth === 30 || s.pixelRatio >= 2 : s.w <= 1920 && (s.pixelRatio >= 1.25 || s.w <= 1600));

// GPU families for the anti-fingerprinting extension's renderer.
const SPOOF_GPUS = {
  Intel: ['Intel(R) UHD Graphics 620', 'Intel(R) UHD Graphics 630', 'Intel(R) Iris(R) Xe Graphics', 'Intel(R) HD Graphics 520', 'Intel(R) UHD Graphics 770'],
  NVIDIA: ['NVIDIA GeForce GTX 1050 Ti', 'NVIDIA GeForce GTX 1660 SUPER', 'NVIDIA GeForce RTX 3060', 'NVIDIA GeForce RTX 4060', 'NVIDIA GeForce RTX 2070'],
  AMD: ['AMD Radeon(TM) Graphics', 'AMD Radeon RX 580 Series', 'AMD Radeon RX 6600', 'AMD Radeon RX 7600'],
  Apple: ['Apple M1', 'Apple M2', 'Apple M3', 'Apple M1 Pro', 'Apple M2 Pro'],
};

// ---- one browser --------------------------------------------------------------------------------------

function familyOf(os, name, ua) {
  if (os === 'iOS' || os === 'iPadOS') {
    if (/CriOS\//.test(ua)) return 'crios';
    if (/EdgiOS\//.test(ua)) return 'edgios';
    if (/FxiOS\//.test(ua)) return 'fxios';
    return 'safari';
  }
  if (name === 'Safari') return 'safari';
  if (name === 'Firefox') return 'firefox';
  if (name === 'Edge') return 'edge';
  if (name === 'Samsung Internet') return 'samsung';
  return 'chrome';
}

/** Builds a browser from its starting device: its profile, state and clocks. */
function makeBrowser(device, idx, ctx) {
  const r = prng('prynt-population', ctx.seed, ctx.ws, idx, 'profile');
  const c0 = device.body.components;
  const comps = {};
  for (const k of Object.keys(c0)) if (!DROPPED.has(k)) comps[k] = c0[k];
  const os = device.os;
  const name = device.browser;
  const engine = os === 'iOS' || os === 'iPadOS' || name === 'Safari' ? 'webkit' : name === 'Firefox' ? 'gecko' : 'blink';
  const mobile = os === 'Android' || os === 'iOS' || os === 'iPadOS';
  const b = {
    idx,
    os,
    name,
    engine,
    mobile,
    desktop: !mobile,
    fam: familyOf(os, name, comps.userAgent),
    base: comps,
    c: { ...comps },
    brave: !!(comps.uaData && comps.uaData.brands.some((x) => x.brand === 'Brave')),
  };
  b.ver = readVersion(b);
  b.baseVer = { ...b.ver };
  b.osv = readOs(b);
  b.baseEngine = engineVersion(b)[1];
  b.baseHash = {
    canvasText: comps.canvas ? comps.canvas.text : '',
    canvasGeometry: comps.canvas ? comps.canvas.geometry : '',
    audio: comps.audio ? comps.audio.hash : '',
    ext: comps.webgl ? comps.webgl.extensions : '',
    params: comps.webgl ? comps.webgl.params : '',
    render: comps.webgl ? comps.webgl.render : '',
  };
  b.mods = Object.fromEntries(HASHED.map((f) => [f, []]));

  // Privacy modes.
  b.rfp = engine === 'gecko' && r() < P.rfpShare;
  b.antiFp = b.desktop && !b.rfp && !b.brave && r() < P.antiFpShare;
  b.cookiesOnExit = b.desktop && r() < (engine === 'gecko' ? P.cookiesOnExit.firefox : P.cookiesOnExit.other);
  b.privateUser = r() < P.privateUsers;
  b.clearRate = r() < P.clearers ? 1 / lognormal(r, P.clearMedianDays, 0.8) : 0;

  // Screen and window geometry.
  const s = comps.screen;
  const w = comps.window;
  b.chrome = { dx: Math.max(0, w.outerW - w.innerW), dy: Math.max(0, w.outerH - w.innerH) };
  b.margin = { w: Math.max(0, s.w - s.availW), h: Math.max(0, s.h - s.availH) };
  b.maximised = Math.abs(w.outerW - s.availW) <= 16 && Math.abs(w.outerH - s.availH) <= 16;
  b.laptop = b.desktop && (looksLaptop(os, s) || r() < 0.4);
  b.zoomer = b.desktop && engine !== 'webkit' && r() < P.zoomers;
  b.docker = b.desktop && r() < P.dockers;
  if (b.docker) {
    const kind = os === 'macOS' ? 'mac' : 'pc';
    const cands = (looksLaptop(os, s) ? EXTERNAL[kind] : LAPTOP[kind]).filter(([ew, eh, edpr]) => ew !== s.w || eh !== s.h || edpr !== s.pixelRatio);
    const [ew, eh, edpr] = weighted(r, cands, (e) => e[3]);
    const other = {
      w: ew,
      h: eh,
      availW: ew - b.margin.w,
      availH: eh - b.margin.h,
      colorDepth: os === 'macOS' ? (looksLaptop(os, s) ? 24 : 30) : s.colorDepth,
      pixelRatio: edpr,
    };
    b.otherScreen = other;
  }
  b.resizer = b.desktop && r() < P.resizers;
  b.traveler = (b.mobile || b.laptop) && r() < P.travelers;
  b.home = comps.timezone;
  b.zone = comps.timezone;
  b.uiLocale = localeOfZone(comps.timezone) || comps.languages[0] || 'en-US';
  b.lagHabit = lognormal(r, 1, 0.5);
  b.frozen = r() < P.frozen;
  b.frozenApple = r() < P.frozenApple;
  const cur = CURRENT[b.fam];
  const major = b.ver.major;
  b.stale = cur != null && major != null && major < cur - 2;
  if (b.stale && r() < P.staleFrozen) b.frozen = true;
  if (b.fam === 'fxios' && b.ver.major == null) b.frozen = true;

  // Mutable state.
  b.zoom = 1;
  b.docked = false;
  b.size = null; // null: as in the base device; else { fw, fh } of the available screen, or 'max'
  b.landscape = false;
  b.driver = 0;
  b.hasToken = false;
  b.lastTouch = null;
  b.lastVisit = null;
  b.prev = null;
  b.travelling = false;
  b.session = null;
  b.afp = null;
  return b;
}

// ---- clocks -------------------------------------------------------------------------------------------

/** Release days of a calendar within [from, to) days after `start`. */
function releases(cal, start, from, to) {
  const [anchor, cadence] = CALENDARS[cal];
  const first = Math.ceil(((start - anchor) / DAY_MS + from) / cadence);
  const out = [];
  for (let k = first; ; k++) {
    const t = (anchor - start) / DAY_MS + k * cadence;
    if (t >= to) break;
    if (t >= from) out.push(t);
  }
  return out;
}

/** Every event of the browser's clocks in [0, days), sorted. */
function timeline(b, ctx) {
  const r = prng('prynt-population', ctx.seed, ctx.ws, b.idx, 'clocks');
  const { days, start } = ctx;
  const ev = [];
  const add = (t, k, a) => {
    if (t >= 0 && t < days) ev.push({ t, k, a });
  };
  const lag = (kind) => lognormal(r, P.lagMedian[kind] * b.lagHabit, P.lagSigma);
  const yr = (x) => x / 365;

  // Browser releases and Chromium refreshes.
  const cal = b.fam === 'safari' ? null : b.fam;
  if (cal && CALENDARS[cal] && !b.frozen) {
    for (const rel of releases(cal, start, -30, days)) {
      const t = rel + lag(b.mobile ? 'mobile' : 'desktop');
      if (rel >= 0) add(t, 'browserUpgrade', 'release');
      if (b.engine === 'blink' || b.fam === 'crios' || b.fam === 'edgios') {
        for (const d of [7, 14, 21]) {
          if (rel + d >= 0) add(rel + d + lag(b.mobile ? 'mobile' : 'desktop'), 'browserPatch');
        }
      }
    }
  }
  // Apple OS (and Safari) updates.
  const apple = b.os === 'macOS' || b.os === 'iOS' || b.os === 'iPadOS';
  if (apple && !b.frozenApple) {
    releases('apple', start, 0, days).forEach((rel) => {
      const k = Math.round((rel - ((CALENDARS.apple[0] - start) / DAY_MS)) / CALENDARS.apple[1]);
      add(rel + lag('apple'), 'appleUpdate', k % 2 === 0 ? 'minor' : 'patch');
    });
  }
  // Other OS updates.
  const o = b.osv;
  if (o.kind === 'windows') {
    const win10 = o.win11 === false || (o.win11 == null && r() < 0.35);
    b.win10 = win10;
    const rate = win10 ? P.perYear.win10to11 : o.maj != null && o.maj < 19 ? P.perYear.win11to24h2 : 0;
    const t = poisson(r, yr(rate), 0, days)[0];
    if (t != null) add(t, 'osUpgrade', 'windows');
  } else if (o.kind === 'android' && o.maj >= P.androidSupported) {
    // Only recent releases still get major updates from their makers.
    for (const t of poisson(r, yr(P.perYear.android), 0, days)) add(t, 'osUpgrade', 'android');
  } else if (o.kind === 'linux' && o.pv) {
    for (const t of poisson(r, yr(P.perYear.linuxKernel), 0, days)) add(t, 'osUpgrade', 'linux');
  }
  // Rare version moves.
  const movable = (b.engine === 'blink' || b.engine === 'gecko') && !b.frozen && b.ver.major != null;
  if (movable) {
    for (const t of poisson(r, yr(P.perYear.downgrade), 0, days)) add(t, 'browserDowngrade');
    if (b.fam === 'chrome' || b.fam === 'edge' || b.fam === 'firefox') for (const t of poisson(r, yr(P.perYear.channel), 0, days)) add(t, 'channelSwitch');
  }
  // Display.
  if (b.zoomer) for (const t of poisson(r, 1 / P.zoomEveryDays, 0, days)) add(t, 'zoom');
  if (b.docker) {
    b.docked = r() < 0.5;
    for (let t = expo(r, P.dockMeanDays); t < days; t += expo(r, P.dockMeanDays)) add(t, 'externalMonitor');
  }
  if (b.resizer) for (const t of poisson(r, 1 / P.resizeEveryDays, 0, days)) add(t, 'windowResize');
  if (b.mobile) {
    for (let t = expo(r, P.landscapeEveryDays); t < days; t += expo(r, P.landscapeEveryDays)) {
      const dur = expo(r, P.landscapeMeanDays);
      add(t, 'windowResize', 'landscape');
      add(t + dur, 'windowResize', 'portrait');
      t += dur;
    }
  }
  // Fonts and drivers (desktops).
  if (b.desktop && b.os !== 'ChromeOS') {
    for (const t of poisson(r, yr(P.perYear.fontsInstalled), 0, days)) add(t, 'fontsInstalled');
    for (const t of poisson(r, yr(P.perYear.fontsRemoved), 0, days)) add(t, 'fontsRemoved');
  }
  if (b.os === 'Windows') for (const t of poisson(r, yr(P.perYear.gpuWindows), 0, days)) add(t, 'gpuDriver');
  if (b.os === 'Linux') for (const t of poisson(r, yr(P.perYear.gpuLinux), 0, days)) add(t, 'gpuDriver');
  // Languages.
  if (b.engine !== 'webkit') {
    for (const t of poisson(r, yr(P.perYear.languageAdded), 0, days)) add(t, 'languageAdded');
    for (const t of poisson(r, yr(P.perYear.languageRemoved), 0, days)) add(t, 'languageRemoved');
    for (const t of poisson(r, yr(P.perYear.languageReordered), 0, days)) add(t, 'languageReordered');
  }
  for (const t of poisson(r, yr(P.perYear.uiLocale), 0, days)) add(t, 'uiLocale');
  // Time zones.
  if (b.traveler) {
    for (let t = expo(r, 365 / P.perYear.trips); t < days; t += expo(r, 365 / P.perYear.trips)) {
      const dur = Math.max(1, expo(r, P.tripMeanDays));
      add(t, 'timezoneTravel', 'go');
      add(t + dur, 'timezoneTravel', 'back');
      t += dur;
    }
  }
  for (const t of poisson(r, yr(P.perYear.move), 0, days)) add(t, 'timezoneMove');
  // Storage.
  if (b.clearRate) for (const t of poisson(r, b.clearRate, 0, days)) add(t, 'storageCleared');

  ev.sort((x, y) => x.t - y.t || (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
  return ev;
}

/** The browser's visit times and whether each is private, sorted. */
function visitTimes(b, ctx) {
  const r = prng('prynt-population', ctx.seed, ctx.ws, b.idx, 'visits');
  const { days, start } = ctx;
  const off = tzOffset(b.home, start); // minutes west of UTC
  const accept = (t) => r() < HOURS[Math.floor((((t * 24 - off / 60) % 24) + 24) % 24)];
  const once = r() < VISITS.onceShare;
  const existing = !once && r() < VISITS.existingShare;
  const rate = Math.min(VISITS.rateCap, lognormal(r, VISITS.rateMedian, VISITS.rateSigma));
  const arrival = existing ? 0 : uniform(r, 0, days);
  const end = Math.min(days, arrival + expo(r, VISITS.lifetimeMeanDays));
  const out = [];
  // The first visit: at the next accepted hour after arrival (a new visitor comes when it arrives).
  let t = arrival;
  const firstRate = existing ? rate : Math.max(rate, 4);
  for (let guard = 0; guard < 100000; guard++) {
    t += expo(r, 1 / (firstRate / HOURS_MEAN));
    if (t >= days) return out;
    if (accept(t)) break;
  }
  const session = (t0) => {
    const priv = b.privateUser && r() < P.privateSessions;
    out.push({ t: t0, priv });
    if (priv || once) return;
    let s = t0;
    while (r() < VISITS.followUp) {
      s += expo(r, VISITS.followUpMeanMinutes) / 1440;
      if (s >= days) break;
      out.push({ t: s, priv: false });
    }
  };
  session(t);
  if (once) return out;
  const candRate = rate / HOURS_MEAN;
  for (t += expo(r, 1 / candRate); t < end; t += expo(r, 1 / candRate)) {
    if (t <= out[out.length - 1].t) continue;
    if (accept(t)) session(t);
  }
  out.sort((x, y) => x.t - y.t);
  return out;
}

// ---- events applied to a browser's state ------------------------------------------------------------

function applyEvent(b, e, r, ctx, pending) {
  switch (e.k) {
    case 'browserUpgrade': return upgrade(b, ctx, e.t, pending);
    case 'browserPatch': return patch(b, pending);
    case 'appleUpdate': return appleUpdate(b, e.a, r, pending);
    case 'osUpgrade': return osUpgrade(b, e.a, r, pending);
    case 'browserDowngrade': return downgrade(b, r, pending);
    case 'channelSwitch': return channelSwitch(b, r, ctx, e.t, pending);
    case 'zoom': return zoom(b, r, pending);
    case 'externalMonitor':
      b.docked = !b.docked;
      return pending.add('externalMonitor');
    case 'windowResize': return resize(b, e.a, r, pending);
    case 'fontsInstalled': return fontsChange(b, r, true, pending);
    case 'fontsRemoved': return fontsChange(b, r, false, pending);
    case 'gpuDriver': return gpuDriver(b, r, pending);
    case 'languageAdded':
    case 'languageRemoved':
    case 'languageReordered': return languages(b, e.k, r, pending);
    case 'uiLocale': return uiLocale(b, r, pending);
    case 'timezoneTravel': return travel(b, e.a, r, pending);
    case 'timezoneMove': return move(b, r, pending);
    case 'storageCleared':
      if (b.hasToken) {
        b.hasToken = false;
        pending.add('storageCleared');
      }
      return undefined;
    default:
      throw new Error(`unknown event ${e.k}`);
  }
}

/** How many releases of the browser's calendar happened in [0, t]. */
function releasesBy(b, ctx, t) {
  const cal = CALENDARS[b.fam] ? b.fam : null;
  return cal ? releases(cal, ctx.start, 0, t + 1e-9).length : 0;
}

function setMajor(b, to) {
  const v = b.ver;
  if (b.fam === 'chrome' || b.fam === 'edge') {
    const d = to - v.cr;
    v.cr = to;
    v.major = to;
    v.build += CHROMIUM_BUILD_STEP * d;
    v.patch = firstPatch(to);
    if (b.fam === 'edge') {
      v.ebuild += EDGE_BUILD_STEP * d;
      v.epatch = firstPatch(to + 1000);
    }
    if (b.os === 'ChromeOS' && b.osv.pv) {
      const p = b.osv.pv.split('.').map(Number);
      b.osv.pv = `${p[0] + 30 * d}.${Math.floor(fixedUniform('cros', p[0] + 30 * d) * 80) + 10}.0`;
    }
  } else if (b.fam === 'samsung') {
    const d = to - v.major;
    v.major = to;
    v.minor = 0;
    v.cr += 7 * d;
    v.build += CHROMIUM_BUILD_STEP * 7 * d;
    v.patch = firstPatch(v.cr);
  } else if (b.fam === 'crios' || b.fam === 'edgios') {
    const d = to - v.major;
    v.major = to;
    v.build += IOS_APP_BUILD_STEP * d;
    v.patch = firstPatch(to);
  } else if (b.fam === 'fxios') {
    v.major = to;
    v.minor = 0;
  } else if (b.fam === 'firefox') {
    v.major = to;
  }
}

function refresh(b) {
  renderVersion(b);
  renderHashes(b);
}

function upgrade(b, ctx, t, pending) {
  const v = b.ver;
  if (v.major == null || v.esr) return;
  const current = (CURRENT[b.fam] ?? v.major) + releasesBy(b, ctx, t);
  // A stale browser that updates at all catches up; one on a pre-release channel stays ahead.
  const to = b.stale && v.major < current - 1 ? current : v.major + 1;
  b.stale = false;
  setMajor(b, to);
  refresh(b);
  pending.add('browserUpgrade');
  // ChromeOS ships Chrome: its platform version moves with it.
  if (b.os === 'ChromeOS' && b.osv.pv) pending.add('osUpgrade');
}

function patch(b, pending) {
  const v = b.ver;
  if (v.patch == null || v.esr) return;
  v.patch = patchAfter(v.cr ?? v.major, v.patch);
  if (b.fam === 'edge') v.epatch = patchAfter(v.cr + 1000, v.epatch);
  refresh(b);
  pending.add('browserPatch');
}

function appleUpdate(b, step, r, pending) {
  const o = b.osv;
  const bump = (v) => {
    if (!v) return v;
    if (v[0] >= appleCurrent) return step === 'minor' ? [v[0], v[1] + 1, 0] : [v[0], v[1], v[2] + 1];
    // Older major lines get security patches alongside point releases only.
    return step === 'minor' ? [v[0], v[1], v[2] + 1] : v;
  };
  let changed = false;
  if (o.v) {
    const next = bump(o.v);
    if (next !== o.v) {
      o.v = next;
      changed = true;
      pending.add('osUpgrade');
    }
  }
  if (b.fam === 'safari' && b.ver.maj != null) {
    // iOS/iPadOS Safari is the OS's WebKit; macOS Safari updates with the same releases.
    const sv = b.ver.real || [b.ver.maj, b.ver.min, b.ver.patch];
    const next = b.os === 'macOS' || !o.v ? bump(sv) : o.v;
    b.ver.real = next;
    // The user agent shows the patch on macOS, and on iOS only where it showed one.
    const shown = [next[0], next[1], b.os === 'macOS' || b.ver.hadPatch ? next[2] : 0];
    if (shown[0] !== b.ver.maj || shown[1] !== b.ver.min || shown[2] !== b.ver.patch) {
      const minorChanged = shown[0] !== b.ver.maj || shown[1] !== b.ver.min;
      [b.ver.maj, b.ver.min, b.ver.patch] = shown;
      pending.add(minorChanged ? 'browserUpgrade' : 'browserPatch');
      changed = true;
    }
  }
  if (!changed) return;
  if (r() < P.osCanvas) b.mods.canvasText.push(`os${o.v ? o.v.join('.') : step}`);
  if (b.desktop && r() < P.osFont) addOsFont(b, r);
  refresh(b);
}

function addOsFont(b, r) {
  const { fonts, group } = fontsByOs();
  const own = OWN_GROUP[b.os];
  const have = new Set(b.c.fonts);
  const cands = fonts.filter((f) => group[f] === own && !have.has(f));
  if (!cands.length) return;
  have.add(pick(r, cands));
  b.c.fonts = inFontsOrder(have);
}

function osUpgrade(b, kind, r, pending) {
  const o = b.osv;
  if (kind === 'windows') {
    if (o.maj != null) {
      if (o.maj >= 19) return;
      o.maj = 19;
    } else if (b.win10) {
      b.win10 = false;
    } else return;
    o.win11 = true;
  } else if (kind === 'android') {
    if (o.maj == null) return;
    o.maj += 1;
  } else if (kind === 'linux') {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(o.pv || '');
    if (!m) return;
    const next = `${m[1]}.${Number(m[2]) + 1}.0`;
    const old = o.pv;
    o.pv = next;
    // Mesa strings of some GPUs carry the kernel (DRM ... 6.17.0-14-generic).
    const re = b.c.webgl && b.c.webgl.unmaskedRenderer;
    if (re && re.includes(old)) {
      const nr = re.split(old).join(next);
      b.c.webgl = { ...b.c.webgl, unmaskedRenderer: nr, renderer: b.c.webgl.renderer === re ? nr : b.c.webgl.renderer };
    }
  }
  pending.add('osUpgrade');
  if (r() < P.osCanvas) b.mods.canvasText.push(`os-${kind}-${b.mods.canvasText.length}`);
  if (b.desktop && r() < P.osFont) addOsFont(b, r);
  refresh(b);
}

function downgrade(b, r, pending) {
  const v = b.ver;
  if (v.major == null || v.esr) return;
  const d = b.fam === 'firefox' && r() < 0.3 ? 2 : 1;
  setMajor(b, v.major - d);
  refresh(b);
  pending.add('browserDowngrade');
}

function channelSwitch(b, r, ctx, t, pending) {
  const v = b.ver;
  if (v.major == null) return;
  if (b.fam === 'firefox') {
    if (v.esr) {
      v.esr = false;
      setMajor(b, CURRENT.firefox + releasesBy(b, ctx, t));
    } else {
      v.esr = true;
      setMajor(b, FIREFOX_ESR);
    }
  } else {
    // 0 stable, 1 beta, 2 dev.
    const to = v.channel === 0 ? (r() < 0.8 ? 1 : 2) : 0;
    setMajor(b, v.major + (to - v.channel));
    v.channel = to;
  }
  refresh(b);
  pending.add('channelSwitch');
}

const ZOOMS = {
  blink: [[0.67, 2], [0.75, 3], [0.8, 8], [0.9, 15], [1.1, 25], [1.25, 25], [1.5, 12], [1.75, 4], [2, 3]],
  gecko: [[0.67, 2], [0.8, 8], [0.9, 15], [1.1, 25], [1.2, 20], [1.33, 12], [1.5, 10], [1.7, 4], [2, 3]],
};
function zoom(b, r, pending) {
  const levels = ZOOMS[b.engine];
  if (!levels) return;
  if (b.zoom !== 1 && r() < 0.5) b.zoom = 1;
  else {
    const choices = levels.filter(([z]) => z !== b.zoom);
    b.zoom = weighted(r, choices, (x) => x[1])[0];
  }
  pending.add('zoom');
}

function resize(b, arg, r, pending) {
  if (arg === 'landscape' || arg === 'portrait') {
    const want = arg === 'landscape';
    if (b.landscape === want) return;
    b.landscape = want;
    return pending.add('windowResize');
  }
  b.size = r() < 0.4 ? 'max' : { fw: Math.round(uniform(r, 0.5, 0.98) * 100) / 100, fh: Math.round(uniform(r, 0.6, 1) * 100) / 100 };
  pending.add('windowResize');
}

function fontsChange(b, r, add, pending) {
  const { fonts, group } = fontsByOs();
  const own = OWN_GROUP[b.os];
  const have = new Set(b.c.fonts);
  const n = between(r, 1, 3);
  if (add) {
    const cands = fonts.filter((f) => !have.has(f) && group[f] !== own);
    for (let i = 0; i < n && cands.length; i++) have.add(cands.splice(Math.floor(r() * cands.length), 1)[0]);
  } else {
    // Only fonts that programs installed: the OS's own are protected system files.
    const pool = [...have].filter((f) => group[f] !== own);
    for (let i = 0; i < n && pool.length; i++) have.delete(pool.splice(Math.floor(r() * pool.length), 1)[0]);
  }
  const next = inFontsOrder(have);
  if (next.join() === b.c.fonts.join()) return;
  b.c.fonts = next;
  if (r() < P.fontCanvas) {
    b.mods.canvasText.push(`fonts-${next.join(',')}`);
    renderHashes(b);
  }
  pending.add(add ? 'fontsInstalled' : 'fontsRemoved');
}

function gpuDriver(b, r, pending) {
  const g = b.c.webgl;
  if (!g) return;
  b.driver++;
  let s = g.unmaskedRenderer || '';
  s = s
    .replace(/D3D11-(\d+)\.(\d+)\.(\d+)\.(\d+)/, (m, a, bb, c, d) => `D3D11-${a}.${bb}.${c}.${Number(d) + between(r, 1, 400)}`)
    .replace(/LLVM (\d+)\.(\d+)\.(\d+)/, (m, a, bb, c) => (r() < 0.7 ? `LLVM ${a}.${bb}.${Number(c) + 1}` : `LLVM ${a}.${Number(bb) + 1}.0`))
    .replace(/Mesa (\d+)\.(\d+)\.(\d+)/, (m, a, bb, c) => `Mesa ${a}.${bb}.${Number(c) + 1}`)
    .replace(/Vulkan 1\.(\d+)\.(\d+)/, (m, a, c) => `Vulkan 1.${a}.${Number(c) + between(r, 1, 12)}`);
  if (g.unmaskedRenderer && s !== g.unmaskedRenderer) b.c.webgl = { ...g, unmaskedRenderer: s, renderer: g.renderer === g.unmaskedRenderer ? s : g.renderer };
  if (r() < P.gpuRender) b.mods.render.push(`driver${b.driver}`);
  if (r() < P.gpuParams) b.mods.params.push(`driver${b.driver}`);
  renderHashes(b);
  pending.add('gpuDriver');
}

function languages(b, kind, r, pending) {
  const list = b.c.languages.slice();
  const gecko = b.engine === 'gecko';
  if (kind === 'languageAdded') {
    const primary = list[0] || 'en-US';
    if (!primary.startsWith('en') && !list.includes('en-US') && !list.includes('en')) {
      list.push('en-US', 'en');
    } else {
      const others = LOCALES.map((l) => l[1]).filter((l) => !list.includes(l) && !list.includes(l.split('-')[0]) && !l.startsWith(primary.split('-')[0]));
      const loc = weighted(r, others, (l) => (LOCALES.find((x) => x[1] === l) || [1])[0]);
      if (gecko) list.push(r() < 0.6 ? loc.split('-')[0] : loc);
      else if (r() < 0.5) list.push(loc, loc.split('-')[0]);
      else list.push(loc);
    }
  } else if (kind === 'languageRemoved') {
    if (list.length < 2) return;
    list.splice(between(r, 1, list.length - 1), 1);
  } else {
    if (list.length < 2) return;
    const [x] = list.splice(between(r, 1, list.length - 1), 1);
    list.unshift(x);
  }
  b.c.languages = list;
  pending.add(kind);
}

/** Default navigator.languages of a UI locale in Firefox (corpus's habit for Firefox). */
function geckoDefault(locale) {
  if (locale === 'en-US') return ['en-US', 'en'];
  if (locale.startsWith('en-')) return [locale, 'en'];
  return [locale.split('-')[0], 'en-US', 'en'];
}

function uiLocale(b, r, pending) {
  const others = LOCALES.filter((l) => l[1] !== b.uiLocale);
  const loc = weighted(r, others, (l) => l[0])[1];
  b.uiLocale = loc;
  if (b.engine === 'webkit') b.c.languages = [loc];
  else if (b.engine === 'gecko' && r() < P.firefoxFollowsLocale) b.c.languages = geckoDefault(loc);
  pending.add('uiLocale');
}

function otherZone(b, r, from) {
  const homeLocale = localeOfZone(from);
  const domestic = ZONES.filter((z) => z.locale === homeLocale && z.zone !== from);
  if (domestic.length && r() < 0.5) return pick(r, domestic).zone;
  const abroad = ZONES.filter((z) => z.zone !== from && z.locale !== homeLocale);
  return weighted(r, abroad, (z) => z.w).zone;
}

function travel(b, arg, r, pending) {
  if (arg === 'go') {
    if (b.travelling) return;
    b.travelling = true;
    b.zone = otherZone(b, r, b.home);
  } else {
    if (!b.travelling) return;
    b.travelling = false;
    b.zone = b.home;
  }
  b.c.timezone = b.zone;
  pending.add('timezoneTravel');
}

function move(b, r, pending) {
  b.home = otherZone(b, r, b.home);
  if (!b.travelling) b.zone = b.home;
  b.c.timezone = b.zone;
  pending.add('timezoneMove');
}

// ---- what a visit shows --------------------------------------------------------------------------

/** Screen and window of the browser now: other screen, window size, orientation, and zoom. */
function geometry(b, withZoom = true) {
  const base = b.base;
  let screen = base.screen;
  let win = base.window;
  const { dx, dy } = b.chrome;
  const place = (s, size) => {
    let ow;
    let oh;
    if (size === 'max' || (size == null && b.maximised)) {
      ow = s.availW;
      oh = s.availH;
    } else if (size == null) {
      ow = Math.min(base.window.outerW, s.availW);
      oh = Math.min(base.window.outerH, s.availH);
    } else {
      ow = Math.round(s.availW * size.fw);
      oh = Math.round(s.availH * size.fh);
    }
    return { innerW: Math.max(100, ow - dx), innerH: Math.max(100, oh - dy), outerW: ow, outerH: oh };
  };
  if (b.desktop) {
    if (b.docked && b.otherScreen) screen = b.otherScreen;
    if (screen !== base.screen || b.size != null) win = place(screen, b.size);
  } else if (b.landscape) {
    const portraitW = Math.min(screen.w, screen.h);
    const portraitH = Math.max(screen.w, screen.h);
    if (b.os === 'Android') screen = { ...screen, w: portraitH, h: portraitW, availW: Math.max(screen.availW, screen.availH), availH: Math.min(screen.availW, screen.availH) };
    const oh = portraitW;
    const ow = portraitH;
    win = { innerW: ow, innerH: Math.max(100, oh - Math.round(dy * 0.6)), outerW: ow, outerH: oh };
  }
  if (withZoom && b.zoom !== 1) {
    const z = b.zoom;
    win = { ...win, innerW: Math.round(win.innerW / z), innerH: Math.round(win.innerH / z) };
    screen = { ...screen, pixelRatio: Math.fround(screen.pixelRatio * z) };
    if (b.engine === 'gecko') {
      screen = { ...screen, w: Math.round(screen.w / z), h: Math.round(screen.h / z), availW: Math.round(screen.availW / z), availH: Math.round(screen.availH / z) };
    }
  }
  return { screen, window: win };
}

const localDay = (t, offsetMinutes) => Math.floor(t - offsetMinutes / 1440);

/** The components of a visit at day `t`. */
function render(b, t, priv, vr, ctx) {
  const c = { ...b.c };
  const g = geometry(b);
  c.screen = g.screen;
  c.window = g.window;
  c.timezone = b.zone;
  c.timezoneOffset = tzOffset(b.zone, ctx.start + t * DAY_MS);
  const day = localDay(t, c.timezoneOffset);
  if (b.brave) {
    const seed = `${b.idx}:${day}`;
    const fr = prng('brave', ctx.seed, ctx.ws, seed);
    c.canvas = { ...c.canvas, text: hx(c.canvas.text, 'farble', seed), geometry: hx(c.canvas.geometry, 'farble', seed) };
    c.webgl = { ...c.webgl, render: hx(c.webgl.render, 'farble', seed) };
    c.audio = { ...c.audio, hash: hx(c.audio.hash, 'farble', seed), sum: c.audio.sum + (fr() - 0.5) * 1e-6 };
    const real = b.base.hardwareConcurrency || 4;
    c.hardwareConcurrency = between(fr, Math.min(2, real), real);
    if (b.base.plugins.length) {
      // Desktop Brave adds made-up plugins to the PDF viewers; phones have no plugins at all.
      const fake = () => Array.from({ length: between(fr, 6, 12) }, () => String.fromCharCode(97 + Math.floor(fr() * 26))).join('');
      const list = [...b.base.plugins, `${fake()}::${fake()}`, `${fake()}::${fake()}`];
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(fr() * (i + 1));
        [list[i], list[j]] = [list[j], list[i]];
      }
      c.plugins = list;
    }
  }
  if (b.rfp) {
    c.timezone = 'Atlantic/Reykjavik';
    c.timezoneOffset = 0;
    c.languages = ['en-US', 'en'];
    c.hardwareConcurrency = 2;
    const iw = Math.max(200, Math.floor(g.window.innerW / 200) * 200);
    const ih = Math.max(100, Math.floor(g.window.innerH / 100) * 100);
    c.screen = { w: iw, h: ih, availW: iw, availH: ih, colorDepth: 24, pixelRatio: 1 };
    c.window = { innerW: iw, innerH: ih, outerW: iw, outerH: ih };
    c.canvas = { ...c.canvas, text: hx('rfp', vr()), geometry: hx('rfp', vr()) };
  }
  if (b.antiFp && b.afp) {
    const a = b.afp;
    const [w, h, dpr] = a.screen;
    c.screen = { w, h, availW: w, availH: h - b.margin.h, colorDepth: 24, pixelRatio: dpr };
    c.window = { innerW: Math.max(100, w - b.chrome.dx), innerH: Math.max(100, h - b.margin.h - b.chrome.dy), outerW: w, outerH: h - b.margin.h };
    c.canvas = { ...c.canvas, text: hx('afp', a.seed, 't'), geometry: hx('afp', a.seed, 'g') };
    if (c.webgl) c.webgl = { ...c.webgl, unmaskedRenderer: a.renderer ?? c.webgl.unmaskedRenderer, renderer: c.webgl.renderer === c.webgl.unmaskedRenderer ? a.renderer ?? c.webgl.renderer : c.webgl.renderer, render: hx('afp', a.seed, 'r') };
    c.fonts = c.fonts.filter((f) => a.fonts.has(f));
  }
  if (priv) privateWindow(b, c, vr);
  return c;
}

/** What a private window changes in the components (see the header). */
function privateWindow(b, c, vr) {
  const st = { ...c.storage, usage: between(vr, 0, 64), persisted: false };
  if (b.engine === 'blink') {
    st.quota = Math.round(Math.min(c.deviceMemory || 8, 8) * GIB * 0.1);
    if (st.cacheDelta != null) st.cacheDelta = between(vr, 100, 200);
  } else {
    st.getDirectory = 'error';
    if (b.engine === 'webkit' && st.idbBlob !== 'skipped') st.idbBlob = 'error';
  }
  c.storage = st;
  if (b.engine === 'gecko' && !b.rfp) c.canvas = { ...c.canvas, text: hx('fpp', c.canvas.text, vr()), geometry: hx('fpp', c.canvas.geometry, vr()) };
  if (b.fam === 'safari') {
    c.canvas = { ...c.canvas, text: hx('afp-private', c.canvas.text, vr()), geometry: hx('afp-private', c.canvas.geometry, vr()) };
    if (c.audio) c.audio = { ...c.audio, hash: hx('afp-private', c.audio.hash, vr()), sum: c.audio.sum + (vr() - 0.5) * 1e-4 };
    const w = c.window;
    c.screen = { ...c.screen, w: w.outerW, h: w.outerH, availW: w.outerW, availH: w.outerH };
  }
}

/** A new session of the anti-fingerprinting extension. */
function newSpoofProfile(b, r, day) {
  const g = b.base.webgl || {};
  const vendor = /NVIDIA/i.test(g.unmaskedRenderer || '') ? 'NVIDIA' : /AMD|Radeon/i.test(g.unmaskedRenderer || '') ? 'AMD' : /Apple/i.test(g.unmaskedRenderer || '') ? 'Apple' : 'Intel';
  const model = pick(r, SPOOF_GPUS[vendor]);
  let renderer = null;
  if (g.unmaskedRenderer) {
    renderer = /^ANGLE \(/.test(g.unmaskedRenderer)
      ? g.unmaskedRenderer.replace(/^ANGLE \(([^,]+), ([^,]*?)( Direct3D11| \(0x|, OpenGL|, Unspecified|\/PCIe|$)/, (m, v, name, rest) => `ANGLE (${v}, ${/Metal Renderer:/.test(name) ? `ANGLE Metal Renderer: ${model}` : model}${rest}`)
      : model + (/, or similar$/.test(g.unmaskedRenderer) ? ', or similar' : '');
  }
  const keep = new Set(b.c.fonts.filter(() => r() < 0.7));
  return {
    day,
    seed: `${b.idx}:${day}:${r()}`,
    build: between(r, 6000, 8000),
    patch: between(r, 10, 250),
    minor: between(r, 1, 9),
    screen: pick(r, COMMON_SCREENS),
    renderer,
    fonts: keep,
  };
}

// ---- the population ---------------------------------------------------------------------------------

const deviceCache = new Map();

/** The starting devices of one workspace: strata by share, each stratum's own stream. */
function devicesOf(seed, ws, n) {
  const key = `${seed}|${ws}|${n}`;
  if (deviceCache.has(key)) return deviceCache.get(key);
  const r = prng('prynt-population', seed, ws, 'strata');
  const streams = new Map();
  const out = [];
  for (let i = 0; i < n; i++) {
    const st = weighted(r, STRATA, (s) => s.share);
    const k = `${st.os}|${st.browser}`;
    if (!streams.has(k)) streams.set(k, stratumDevices({ os: st.os, browser: st.browser, seed: `${seed}/${ws}` }));
    const s = streams.get(k);
    let d = s.next();
    for (let guard = 0; guard < 50; guard++) {
      const brave = d.body.components.uaData && d.body.components.uaData.brands.some((x) => x.brand === 'Brave');
      if (!brave || r() < P.braveKeep) break;
      d = s.next();
    }
    out.push(d);
  }
  if (deviceCache.size > 4) deviceCache.delete(deviceCache.keys().next().value);
  deviceCache.set(key, out);
  return out;
}

function options(o) {
  const browsers = Math.floor(Number(o.browsers));
  const days = Number(o.days ?? 90);
  const workspaces = Math.floor(Number(o.workspaces ?? 1));
  if (!(browsers >= 1)) throw new Error('population: browsers must be a positive integer');
  if (!(days > 0)) throw new Error('population: days must be positive');
  if (!(workspaces >= 1)) throw new Error('population: workspaces must be a positive integer');
  return { browsers, days, seed: o.seed ?? 1, workspaces, start: o.start ?? DEFAULT_START };
}

/** The slices of state whose change a kind is listed for (a kind whose events cancel is not). */
function slices(b) {
  const v = b.ver;
  return {
    version: `${v.major}|${v.cr}|${v.maj}|${v.min}|${v.esr}|${v.channel}`,
    patch: `${v.patch}|${v.epatch}|${v.maj}.${v.min}.${v.patch}`,
    os: JSON.stringify(b.osv) + b.win10,
    zoom: b.zoom,
    monitor: b.docked,
    window: JSON.stringify(geometry(b, false).window),
    fonts: b.c.fonts.join(','),
    driver: b.driver,
    languages: b.c.languages.join(','),
    ui: b.uiLocale,
    zone: b.zone,
    home: b.home,
  };
}
const SLICE_OF = {
  browserUpgrade: 'version',
  browserDowngrade: 'version',
  channelSwitch: 'version',
  browserPatch: 'patch',
  osUpgrade: 'os',
  zoom: 'zoom',
  externalMonitor: 'monitor',
  windowResize: 'window',
  fontsInstalled: 'fonts',
  fontsRemoved: 'fonts',
  gpuDriver: 'driver',
  languageAdded: 'languages',
  languageRemoved: 'languages',
  languageReordered: 'languages',
  uiLocale: 'ui',
  timezoneTravel: 'zone',
  timezoneMove: 'home',
};

/** One workspace's visits, in time order, with or without components. */
function* workspace(opts, ws, withComponents, stats) {
  const ctx = { seed: opts.seed, ws, days: opts.days, start: opts.start };
  const devices = devicesOf(opts.seed, ws, opts.browsers);
  const browsers = devices.map((d, i) => makeBrowser(d, i, ctx));
  const stubs = [];
  for (const b of browsers) {
    b.events = timeline(b, ctx);
    b.ei = 0;
    b.applyRng = prng('prynt-population', ctx.seed, ws, b.idx, 'apply');
    b.visitRng = prng('prynt-population', ctx.seed, ws, b.idx, 'visit');
    b.pending = new Set();
    if (stats) {
      for (const e of b.events) {
        const k = e.k === 'appleUpdate' ? 'osUpgrade' : e.k;
        if (e.a === 'back' || e.a === 'portrait') continue;
        stats.drawn[k] = (stats.drawn[k] || 0) + 1;
      }
      stats.modes.brave += b.brave ? 1 : 0;
      stats.modes.resistFingerprinting += b.rfp ? 1 : 0;
      stats.modes.antiFingerprinting += b.antiFp ? 1 : 0;
      stats.modes.cookiesOnExit += b.cookiesOnExit ? 1 : 0;
      stats.modes.privateUsers += b.privateUser ? 1 : 0;
      stats.modes.storageClearers += b.clearRate ? 1 : 0;
    }
    const vs = visitTimes(b, ctx);
    if (stats) stats.perBrowser.push(vs.length);
    vs.forEach((v, i) => stubs.push({ t: v.t, priv: v.priv, b: b.idx, i }));
  }
  // Rounded times decide the order, so that the printed `day` values are sorted.
  for (const s of stubs) s.day = Number(s.t.toFixed(4));
  stubs.sort((x, y) => x.day - y.day || x.b - y.b || x.i - y.i);

  for (const s of stubs) {
    const b = browsers[s.b];
    const t = s.t;
    const pending = b.pending;
    while (b.ei < b.events.length && b.events[b.ei].t <= t) applyEvent(b, b.events[b.ei++], b.applyRng, ctx, pending);
    const vr = b.visitRng;
    // Storage lost since the previous visit.
    if (b.hasToken && b.engine === 'webkit' && b.lastTouch != null && t - b.lastTouch > P.itpDays) {
      b.hasToken = false;
      pending.add('storageCleared');
    }
    if (b.cookiesOnExit && b.lastVisit != null) {
      const closed = vr() < 1 - Math.exp(-P.exitsPerDay * (t - b.lastVisit));
      if (closed && b.hasToken) {
        b.hasToken = false;
        pending.add('cookiesOnExit');
      }
    }
    const token = !s.priv && b.hasToken;
    if (s.priv) pending.add('privateWindow');
    else {
      b.hasToken = true;
      b.lastTouch = t;
    }
    // Sessions of the noisy browsers.
    const off = tzOffset(b.zone, ctx.start + t * DAY_MS);
    const day = localDay(t, off);
    if (b.antiFp && (!b.afp || b.afp.day !== day)) {
      b.afp = newSpoofProfile(b, b.applyRng, day);
      renderVersion(b);
      if (b.prev) pending.add('antiFingerprinting');
    }
    if (b.prev && ((b.brave && b.prev.day !== day) || b.rfp)) pending.add('privacyNoise');

    // Keep a kind only if what it changes differs from the previous visit.
    const now = slices(b);
    const zone = b.rfp ? 'Atlantic/Reykjavik' : b.zone;
    const offset = b.rfp ? 0 : off;
    if (b.prev && b.prev.zone === zone && b.prev.offset !== offset) pending.add('daylightSaving');
    const changes = [];
    if (b.prev) {
      for (const k of pending) {
        const sl = SLICE_OF[k];
        if (sl && now[sl] === b.prev.slices[sl]) continue;
        changes.push(k);
      }
      changes.sort((x, y) => KIND_ORDER.get(x) - KIND_ORDER.get(y));
    }
    pending.clear();
    b.prev = { slices: now, day, zone, offset };
    b.lastVisit = t;

    // Rendered in both passes, so that the visit stream's draws are the same.
    const components = render(b, t, s.priv, vr, ctx);
    const rec = { ws, day: s.day, browser: b.idx, token, private: s.priv, changes };
    if (withComponents) rec.components = components;
    yield rec;
  }
}

/** The population's visits (see the header). */
export function* population(o) {
  const opts = options(o);
  for (let ws = 0; ws < opts.workspaces; ws++) yield* workspace(opts, ws, true, null);
}

/** The meta line: what was drawn and what the visits show, without building components. */
export function populationMeta(o) {
  const opts = options(o);
  const stats = {
    drawn: {},
    modes: { brave: 0, resistFingerprinting: 0, antiFingerprinting: 0, cookiesOnExit: 0, privateUsers: 0, storageClearers: 0 },
    perBrowser: [],
  };
  const counts = Object.fromEntries(DRIFT_KINDS.map((k) => [k.kind, 0]));
  let visits = 0;
  let tokenless = 0;
  let priv = 0;
  let firstVisits = 0;
  for (let ws = 0; ws < opts.workspaces; ws++) {
    for (const v of workspace(opts, ws, false, stats)) {
      visits++;
      if (!v.token) tokenless++;
      if (v.private) priv++;
      for (const k of v.changes) counts[k]++;
    }
  }
  const per = stats.perBrowser.slice().sort((a, b) => a - b);
  firstVisits = per.filter((n) => n > 0).length;
  const q = (p) => (per.length ? per[Math.min(per.length - 1, Math.floor(p * per.length))] : 0);
  const round = (x) => Math.round(x * 10000) / 10000;
  // Only kinds driven by clocks; per-session noise, private visits, closes and DST are per visit.
  const perVisit = new Set(['privacyNoise', 'antiFingerprinting', 'daylightSaving', 'privateWindow', 'cookiesOnExit']);
  const drawn = Object.fromEntries(DRIFT_KINDS.filter((k) => !perVisit.has(k.kind)).map((k) => [k.kind, stats.drawn[k.kind] || 0]));
  return {
    generator: GENERATOR,
    browsers: opts.browsers,
    days: opts.days,
    seed: opts.seed,
    workspaces: opts.workspaces,
    start: new Date(opts.start).toISOString(),
    visits,
    browsersSeen: firstVisits,
    visitsPerBrowser: { mean: round(visits / per.length), median: q(0.5), p90: q(0.9), p99: q(0.99), max: per.length ? per[per.length - 1] : 0, once: round(per.filter((n) => n === 1).length / per.length), none: round(per.filter((n) => n === 0).length / per.length) },
    tokenless: round(tokenless / Math.max(1, visits)),
    tokenlessAfterFirst: round((tokenless - firstVisits) / Math.max(1, visits - firstVisits)),
    private: round(priv / Math.max(1, visits)),
    modes: stats.modes,
    counts,
    drawn,
    rates: Object.fromEntries(DRIFT_KINDS.map((k) => [k.kind, { rate: k.rate, source: k.source }])),
    visitModel: VISITS,
  };
}
