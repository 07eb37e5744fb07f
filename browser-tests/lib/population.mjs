// A benchmark population for identification accuracy: browsers that come back to a site over
// weeks, each visit the exact components the Prynt agent would send, with the drift real
// browsers go through between visits. It is built from real-world devices (lib/corpus.mjs) and
// from what browsers, operating systems and people are known to do, never from Prynt's
// identification model: nothing here reads or mirrors how Prynt matches visits.
//
// API
//   population({ browsers, days = 90, seed = 1, workspaces = 1, start }) -> iterator of visits
//     { ws, day, browser, token, private, changes, components, ip }, sorted by (ws, day), browser
//     index breaking ties. Deterministic: the same arguments give the same visits, to the byte
//     once serialised. `workspaces` independent populations of `browsers` browsers each, from
//     seeds derived from `seed`. `start` (ms since the epoch, default 2026-03-01T00:00Z) is day
//     0: it places the vendors' release days and the time-zone rules (daylight saving) in the
//     period; nothing else depends on it.
//   populationMeta(options) -> the summary the CLI prints first (population.mjs beside the
//     tests): `counts` of every drift kind on the visits, `drawn` events of the clock-driven
//     kinds (including those cancelled out or after a browser's last visit), visits, the
//     token-less share, the rates used and their sources, and a `network` section (the network
//     model's parts with their rates and sources, and what the visits show of it: the share of
//     visits per network, per device kind, the IPv6 share, how often consecutive visits of a
//     browser keep their address or prefix, households, shared addresses). It runs the
//     population once more, without keeping the components.
//   NETWORK_PARTS -> [{ part, what, rate, source }]: every part of the network model (below).
//   Option `networkSeed` (default `seed`) seeds the network model alone: the same browsers and
//   visits over other networks (every field but `ip` stays the same).
//   populationNetworks(options) -> [{ ws, households, workplaces }]: who shares a home or a
//     workplace (lists of browser indices), the truth behind shared addresses.
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
//   automation, integrity, behavior and timing (identification does not read them). `ip`: the
//   address the server sees as the client's (dotted IPv4, or IPv6 in RFC 5952 text), from the
//   network model below; a network change is never listed in `changes`.
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
// The network (each visit's `ip`; every part in NETWORK_PARTS with its rate and source)
//   Drawn from streams of its own (a 'network' stream per workspace and per browser, one per
//   household), after everything else, so that every other field is the same to the byte with
//   or without it. It reads no component: only the browser's device kind (phone; tablet =
//   iPadOS; laptop or desktop as chosen above), stratum, family, privacy mode, home zone (b.home)
//   and whether it is on a timezoneTravel trip (b.travelling, b.zone), never drawing from their
//   streams. A region is the locale of corpus's LOCALES the zone belongs to.
//   Address space. Each workspace has its own ISPs, carriers, VPN providers and relay
//   operators, with blocks of the public unicast space of the region's registry: /16s of the
//   /8s IANA's IPv4 address space registry lists for ARIN, RIPE NCC, APNIC and LACNIC (less
//   100.64/10 and 203.0.113/24), and a /32 from the registry's IPv6 /12 (2600::/12, 2a00::/12,
//   2400::/12, 2800::/12). The blocks are synthetic: real ASN or geolocation data name other
//   owners for them.
//   Households. 37% of the browsers (office desktops aside) look for housemates among the
//   browsers of their own home zone, which are grouped into households of 2 (60%), 3 (22%), 4
//   (13%) or 5 (5%): a person's phone and laptop, a family. Each further member is of the
//   founder's stratum with p 0.25 (families often buy the same phone); no component decides it.
//   About 35% of browsers share a home network in a 1,000-browser workspace; in small workspaces
//   fewer find a housemate of their zone (corpus spreads homes over 30-odd zones). Members share
//   the home address (IPv4) or the household's /64 (IPv6). A browser that moves
//   (timezoneMove) gets a home of its own there. (assumption)
//   Home broadband. Per region 1 + locale weight / 2 ISPs (~80 a workspace), market shares Zipf
//   (exponent 1.1, lognormal noise), each with routed /16s in proportion to its share; 95% of
//   households take an ISP of their region by share, the others any. Each ISP renumbers its
//   households in one way, after Padmanabhan et al. ("Reasons Dynamic Addresses Change", IMC
//   2016; RIPE Atlas probes through 2015): some ISPs renumber periodically, typically every
//   multiple of 24 hours (the German 24-hour forced reconnect; 70% of routers take it at local
//   night), address changes otherwise come with outages and router reboots (a renewal process
//   whose mean each ISP draws between 2 and 8 weeks), some addresses are static, and almost
//   half of the changes go to another routed prefix (here half: otherwise a new address in the
//   household's local /20 pool, a new /24 15 times in 16). Shares of ISPs: Germany periodic
//   24 h 45%, weekly 5%, renewal 35%, static 10%, home CGNAT 5%; the rest of Europe 12/5/55/20/8%;
//   elsewhere 3/2/65/20/10% (assumption). Home CGNAT (Richter et al., "A Multi-perspective
//   Analysis of Carrier-Grade NAT Deployment", IMC 2016, found CGN in non-cellular ISPs too):
//   1-4 /24s shared by the ISP's households, a new address at reconnects (mean 7 days).
//   IPv6. The largest ISP of a region deploys it with p 0.65 (incumbents mostly have), the
//   others 0.35 (CGNAT ones 0.8: dual-stack or DS-Lite), and 85% of their households use it:
//   ~40% of households on average, more or less with a workspace's incumbents (Google's IPv6
//   adoption: around 45% of its users in 2025). Such a household's browsers present IPv6,
//   preferred by Happy Eyeballs: the ISP's /32, a delegated prefix (/56 65%, /60 15%, /48 10%,
//   /64 10%; RIPE-690 recommends /48 or /56), the CPE's subnet (the first /64 70% of the time),
//   and a temporary interface identifier (RFC 8981) each device renews daily and with every new
//   prefix: the /64 is stable while the prefix lasts, the full address changes daily. Half of
//   the dynamic ISPs keep the prefix across renumbering (RIPE-690's persistent prefixes), the
//   others change it with the IPv4 address. (shares: assumption)
//   Mobile data. Phones visit on mobile data for a share of their sessions of their own
//   (logit-normal around 50%, sigma 1; halved at local night, when phones are home on Wi-Fi:
//   ~45% of phone visits; Opensignal's time-on-Wi-Fi reports put smartphones on Wi-Fi about half
//   to two thirds of the time), tablets only if cellular (30% of them, 30% of sessions). Each
//   phone has a carrier of its region (2-4 per region, Zipf-like shares) and attaches through
//   one of its 1-4 CGNAT gateways: IPv4 from the gateway's window of 32-128 addresses of one
//   /24, shared by every phone of that gateway (real pools are larger but serve far more
//   subscribers than a workspace holds), or IPv6 (60% of carriers, 90% of their phones) with a
//   new /64 from the gateway's /48 at every attach. An attach lasts while the phone stays on
//   mobile data (exponential, mean 4 hours: the phone's push connection holds the CGNAT
//   mapping). (assumption)
//   Work. 30% of desktops are office desktops (every visit from work), 40% of laptops work
//   laptops, at the office for 60% of their sessions on weekdays 8-18 local time (else home),
//   30% of them with a full-tunnel corporate VPN that exits at the office from home. A workplace
//   is a static NAT address of a business line of the region (15% of them load-balance over 2-4
//   neighbouring addresses), shared by its coworkers in the workspace: workplaces are drawn per
//   region as a Chinese restaurant process (weight 30 for a new one), so larger workspaces hold
//   more coworkers. (assumption)
//   Elsewhere. Cafés, friends' homes, public Wi-Fi: a random address of a random ISP of the
//   zone's region each session, for 7% of phone sessions, 5% tablet, 10% laptop, 1% desktop.
//   Trips (timezoneTravel): roaming phones keep their carrier's addresses (home-routed roaming,
//   the usual international roaming architecture), on mobile data 25 points more often (at most
//   90%); Wi-Fi sessions are 70% hotel (one address per trip, an ISP of the destination) and 30%
//   other networks. (assumption)
//   VPNs and relays. 4% of browsers (Brave 10%, Firefox with resistFingerprinting 25%) use a
//   commercial VPN, 40% of them always, the others for 30% of sessions: one of 6 providers per
//   workspace (shares 1/rank), whose 8-24 servers per exit country are shared by all its users;
//   a server drawn at every connection, in the user's favourite exit (its own region 60% of the
//   time, else a popular exit country) 85% of the time. iCloud Private Relay: 15% of Safari
//   browsers, on every session but on work networks (many block it, as Apple documents): an
//   egress address of one of three operators from a pool of 64 per region (the relay keeps the
//   general location), drawn each session, IPv6 40% of the time. (assumption)
//   Sessions. Visits less than an hour apart (the follow-ups of a session) keep the session's
//   network and address; at home the household's current address. Private windows, cleared
//   storage and the other kinds are browser-side and change nothing here.
//
// Unsure / not modelled: Apple and Chromium calendars are approximations; Safari's page zoom;
// iPad split view; Chromium legacy zone names; Safari's per-domain storage partitioning; the
// exact RFP values of the newest Firefox releases (2 cores and a letterboxed screen chosen);
// WebGL extension changes at every major that corpus's digests imply (a browser that upgrades
// keeps its extension digest unless the release changed extensions, so it may differ from a
// corpus device born on the new major). Network: the blocks are synthetic, not the real
// networks' (ASN and geolocation look-ups of them name unrelated owners); households travel
// apart, not together; no Tor, corporate proxies or IPv6 at work; Android tablets count as
// phones; the CGNAT windows are small so that sharing shows at benchmark sizes.
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

// ---- the network: the client address the server sees (see the header) ---------------------------------

const NET = {
  sessionGapMinutes: 60,
  households: { sharers: 0.37, sizes: [[2, 60], [3, 22], [4, 13], [5, 5]], sameStratum: 0.25 },
  isps: { perLocaleWeight: 0.5, zipf: 1.1, ownRegion: 0.95, blocksPerShare: 100 },
  // Share of ISPs by renumbering practice.
  schedules: {
    'de-DE': { periodic24h: 0.45, periodicWeekly: 0.05, renewal: 0.35, static: 0.1, cgnat: 0.05 },
    europe: { periodic24h: 0.12, periodicWeekly: 0.05, renewal: 0.55, static: 0.2, cgnat: 0.08 },
    elsewhere: { periodic24h: 0.03, periodicWeekly: 0.02, renewal: 0.65, static: 0.2, cgnat: 0.1 },
  },
  renewalMeanDays: [14, 56],
  cgnatReconnectMeanDays: 7,
  nightReconnect: 0.7,
  otherRoutedPrefix: 0.5,
  localPool24s: 16,
  ipv6: { isps: 0.35, largestIsp: 0.65, cgnatIsps: 0.8, households: 0.85, prefixes: [[56, 65], [60, 15], [48, 10], [64, 10]], persistent: 0.5, tempAddressDays: 1 },
  mobile: { phoneShare: 0.5, phoneShareSigma: 1, nightFactor: 0.5, tabletCellular: 0.3, tabletShare: 0.3, attachMeanHours: 4, carrierV6: 0.6, phonesV6: 0.9, gateways: [1, 4], gatewayPool: [32, 128] },
  work: { desktops: 0.3, laptops: 0.4, officeShare: 0.6, corporateVpn: 0.3, hours: [8, 18], newWorkplaceWeight: 30, multiAddress: 0.15 },
  other: { phone: 0.07, tablet: 0.05, laptop: 0.1, desktop: 0.01 },
  travel: { extraMobile: 0.25, hotel: 0.7 },
  vpn: { users: 0.04, brave: 0.1, resistFingerprinting: 0.25, always: 0.4, sessions: 0.3, providers: 6, homeExit: 0.6, favouriteExit: 0.85, serversPerExit: [8, 24] },
  relay: { safari: 0.15, ipv6: 0.4, operators: [45, 35, 20], poolSize: 64 },
};

/** Every part of the network model, its rates and where they come from (the meta line's `network.parts`). */
export const NETWORK_PARTS = [
  { part: 'households', what: 'browsers of a workspace grouped into households (same home zone; a person\'s devices, family members, sometimes two of the same stratum) sharing the home connection', rate: '37% of browsers (office desktops aside) look for housemates among the browsers of their home zone, households of 2 (60%), 3 (22%), 4 (13%), 5 (5%); each further member of the founder\'s stratum with p 0.25; ~35% of browsers share a home network in a 1,000-browser workspace, fewer in small ones', source: 'assumption' },
  { part: 'isps', what: 'home broadband providers of each region (the home zone\'s locale), each with routed /16s of the region\'s registry in proportion to its share', rate: '1 + locale weight / 2 ISPs per region (~80 a workspace), Zipf market shares (exponent 1.1, lognormal noise); 95% of households take an ISP of their region, the others any', source: 'assumption; address blocks: IANA IPv4 address space registry (RIR /8s) and the RIRs\' IPv6 /12s' },
  { part: 'homeRenumbering', what: 'when the household\'s IPv4 address changes: periodic every 24 h (70% at local night) or weekly, at outages and router reboots (renewal process), never (static), or behind a home CGNAT (shared pool, new address at reconnects); a new address is in another routed prefix half of the time, otherwise in the household\'s local /20 pool (a new /24 15 times in 16)', rate: 'ISPs: Germany 45% periodic 24 h, 5% weekly, 35% renewal, 10% static, 5% CGNAT; rest of Europe 12/5/55/20/8%; elsewhere 3/2/65/20/10%; renewal mean drawn per ISP between 14 and 56 days; CGNAT reconnects every 7 days on average', source: 'Padmanabhan et al., "Reasons Dynamic Addresses Change", IMC 2016 (RIPE Atlas, 2015): 20 ISPs renumber periodically, typically a multiple of 24 h; changes correlate with outages at the CPE; almost half of the changes go to another BGP prefix. Richter et al., "A Multi-perspective Analysis of Carrier-Grade NAT Deployment", IMC 2016 (CGN in non-cellular networks). Shares per region: assumption' },
  { part: 'ipv6', what: 'dual-stack households present IPv6: the ISP\'s /32, a delegated prefix (/56, /60, /48 or /64), the CPE\'s subnet, and a temporary interface identifier the device renews daily and with every new prefix; the prefix is persistent or changes with the IPv4 address', rate: 'the largest ISP of a region deploys IPv6 with p 0.65, the others 0.35 (CGNAT ones 0.8: they run dual-stack or DS-Lite), 85% of their households use it (~40% of households on average over seeds, varying by workspace with its incumbents); prefixes /56 65%, /60 15%, /48 10%, /64 10%; 50% of dynamic ISPs keep the prefix across renumbering', source: 'Google IPv6 adoption statistics (around 45% of Google\'s users over IPv6 in 2025); RFC 8981 temporary addresses (preferred lifetime 1 day); RIPE-690 (prefix sizes, persistent vs non-persistent prefixes); shares: assumption' },
  { part: 'mobile', what: 'phones (and cellular tablets) on mobile data: a carrier of the home region and one of its CGNAT gateways; IPv4 from the gateway\'s window of addresses in one /24, shared by all its phones, or IPv6 with a new /64 of the gateway\'s /48 at every attach; an attach lasts while the phone stays on mobile data', rate: 'phones: each its own share of sessions on mobile data, logit-normal around 50% (sigma 1), halved at local night (~45% of phone visits); 30% of tablets have cellular, 30% of their sessions; 2-4 carriers per region, 1-4 gateways each with 32-128 addresses; 60% of carriers give phones IPv6 (90% of their phones); attach exponential, mean 4 h', source: 'assumption (Opensignal\'s time-on-Wi-Fi reports put smartphones on Wi-Fi for about half to two thirds of the time, varying by country; real CGNAT pools are larger but serve far more subscribers than a workspace holds)' },
  { part: 'work', what: 'office desktops always, work laptops on weekdays 8-18 local time, visit from a workplace: a static NAT address (15% of workplaces load-balance over 2-4 addresses of one /24) of a business line of the region; coworkers of the same workspace share it (workplaces drawn as a Chinese restaurant process per region, weight 30 for a new one); a work laptop at home on a full-tunnel corporate VPN exits at the workplace too', rate: '30% of desktops are office desktops, 40% of laptops are work laptops, at the office for 60% of their working-hour sessions, 30% of them with a corporate VPN at home', source: 'assumption' },
  { part: 'other', what: 'elsewhere: cafés, friends\' homes, public Wi-Fi: an address of a random ISP of the zone\'s region, new each session', rate: 'sessions: phones 7%, tablets 5%, laptops 10%, desktops 1%', source: 'assumption' },
  { part: 'travel', what: 'during timezoneTravel trips: roaming phones keep their home carrier\'s addresses (home-routed roaming), otherwise hotel Wi-Fi (one address per trip, an ISP of the destination) or other networks', rate: 'mobile data share + 25 points (at most 90%) while away; Wi-Fi sessions 70% hotel, 30% other', source: 'home routing: the usual international roaming architecture (GSMA); shares: assumption' },
  { part: 'vpn', what: 'commercial VPNs: a provider (6 per workspace, Zipf shares) with 8-24 servers per exit country, shared by all its users; a new server at each connection; the exit is the user\'s own region 60% of the time, else a popular exit (US, NL, GB, DE, ...), kept 85% of connections', rate: '4% of browsers (10% of Brave, 25% of Firefox with resistFingerprinting), 40% of them always on, the others on 30% of sessions', source: 'assumption' },
  { part: 'relay', what: 'iCloud Private Relay for Safari: egress addresses of three operators, a pool per region (the zone\'s: Private Relay keeps the general location), shared and drawn anew each session; IPv6 40% of the time; not on work networks (many block it)', rate: '15% of Safari browsers', source: 'Apple\'s Private Relay documentation (egress addresses shared, by region, networks can block it); share: assumption' },
  { part: 'sessions', what: 'visits less than an hour apart (the follow-up visits of a session) keep their network and address (home: the household\'s current one); private windows, cleared storage and the other drift kinds do not touch the network, and `changes` never lists a network change', rate: 'session gap 60 minutes', source: 'assumption' },
];

// IANA's IPv4 address space registry: /8s allocated to each regional registry (ISP-heavy ones;
// legacy and government /8s left out).
const RIR_V4 = {
  arin: [23, 24, 45, 47, 50, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 100, 104, 107, 108, 173, 174, 184, 199, 204, 205, 206, 207, 208, 209, 216],
  ripe: [2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217],
  apnic: [1, 14, 27, 36, 39, 42, 49, 58, 59, 60, 61, 101, 103, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 175, 180, 182, 183, 202, 203, 210, 211, 218, 219, 220, 221, 222, 223],
  lacnic: [177, 179, 181, 186, 187, 189, 190, 191, 200, 201],
};
// The registries' IPv6 /12s (2600::/12 ARIN, 2a00::/12 RIPE NCC, 2400::/12 APNIC, 2800::/12 LACNIC).
const RIR_V6 = { arin: 0x2600, ripe: 0x2a00, apnic: 0x2400, lacnic: 0x2800 };
// Not public unicast inside those /8s: shared address space 100.64/10 (RFC 6598) and 203.0.113/24
// (documentation, RFC 5737), excluded by /16.
const publicBlock = (a, b) => !(a === 100 && b >= 64 && b < 128) && !(a === 203 && b === 0);
const LOCALE_RIR = {
  'en-US': 'arin', 'en-CA': 'arin', 'fr-CA': 'arin', 'es-MX': 'lacnic', 'pt-BR': 'lacnic',
  'ja-JP': 'apnic', 'ko-KR': 'apnic', 'zh-CN': 'apnic', 'zh-TW': 'apnic', 'en-IN': 'apnic', 'id-ID': 'apnic', 'en-AU': 'apnic', 'vi-VN': 'apnic', 'th-TH': 'apnic',
};
const EUROPE = new Set(['en-GB', 'fr-FR', 'es-ES', 'it-IT', 'nl-NL', 'pl-PL', 'sv-SE']);
// Popular VPN exit countries, by weight (assumption).
const VPN_EXITS = [['en-US', 30], ['nl-NL', 15], ['en-GB', 15], ['de-DE', 12], ['sv-SE', 6], ['en-CA', 6], ['fr-FR', 6], ['ja-JP', 5]];

// Regions: the locales home zones belong to (a zone listed twice counts for its first locale).
const REGIONS = [];
for (const z of ZONES) {
  const region = localeOfZone(z.zone);
  const known = REGIONS.find((x) => x.region === region);
  if (known) known.w += z.w;
  else REGIONS.push({ region, w: z.w, rir: LOCALE_RIR[region] || 'ripe' });
}
const regionOf = (zone) => localeOfZone(zone) || REGIONS[0].region;
const deviceKind = (b) => (b.os === 'iPadOS' ? 'tablet' : b.mobile ? 'phone' : b.laptop ? 'laptop' : 'desktop');
const stratumOf = (b) => `${b.os}|${b.name}`;

const rand16 = (r) => Math.floor(r() * 65536);
const mk4 = (a, b, c, d) => ({ ip: `${a}.${b}.${c}.${d}`, pre: `${a}.${b}.${c}`, v6: false });
/** RFC 5952 text: lower-case hex without leading zeros, the longest run of 2+ zero groups as '::'. */
function v6text(g) {
  let at = -1;
  let len = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > len) [at, len] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  return at < 0 ? hex.join(':') : `${hex.slice(0, at).join(':')}::${hex.slice(at + len).join(':')}`;
}
const mk6 = (g) => ({ ip: v6text(g), pre: `${g[0]}:${g[1]}:${g[2]}:${g[3] >> 8}`, v6: true });
const iidOf = (digest) => [0, 4, 8, 12].map((i) => parseInt(digest.slice(i, i + 4), 16));

/** The workspace's networks: ISPs, carriers, VPN providers and relay operators, by region. */
function networkWorld(ctx) {
  const r = prng('prynt-population', ctx.networkSeed, ctx.ws, 'network');
  const used = new Set();
  const block4 = (rir) => {
    for (;;) {
      const a = pick(r, RIR_V4[rir]);
      const b = Math.floor(r() * 256);
      if (publicBlock(a, b) && !used.has(a * 256 + b)) {
        used.add(a * 256 + b);
        return [a, b];
      }
    }
  };
  const block6 = (rir) => {
    for (;;) {
      const g = [RIR_V6[rir] + Math.floor(r() * 16), rand16(r)];
      if (!used.has(g.join(':'))) {
        used.add(g.join(':'));
        return g;
      }
    }
  };
  const within = (blocks, n) => Array.from({ length: n }, () => [...pick(r, blocks), Math.floor(r() * 256)]);
  const totalW = REGIONS.reduce((s, x) => s + x.w, 0);
  const world = { r, isps: [], ispsOf: new Map(), carriers: [], carriersOf: new Map(), vpns: [], relays: [], workplacesOf: new Map(), households: [] };
  for (const { region, w, rir } of REGIONS) {
    const table = NET.schedules[region] || NET.schedules[EUROPE.has(region) ? 'europe' : 'elsewhere'];
    const n = 1 + Math.round(w * NET.isps.perLocaleWeight);
    const shares = Array.from({ length: n }, (_, i) => Math.pow(i + 1, -NET.isps.zipf) * lognormal(r, 1, 0.3));
    const sum = shares.reduce((a, b) => a + b, 0);
    const list = shares.map((s, rank) => {
      const share = s / sum;
      const schedule = weighted(r, Object.entries(table), (e) => e[1])[0];
      const isp = {
        region,
        share: (share * w) / totalW,
        blocks: Array.from({ length: 1 + Math.round(((share * w) / totalW) * NET.isps.blocksPerShare) }, () => block4(rir)),
        schedule,
        meanDays: schedule === 'renewal' ? uniform(r, ...NET.renewalMeanDays) : schedule === 'cgnat' ? NET.cgnatReconnectMeanDays : null,
        // Incumbents mostly run IPv6; CGNAT ISPs mostly dual-stack or DS-Lite.
        v6: r() < (schedule === 'cgnat' ? NET.ipv6.cgnatIsps : rank === 0 ? NET.ipv6.largestIsp : NET.ipv6.isps),
        v6block: block6(rir),
        prefixLen: weighted(r, NET.ipv6.prefixes, (e) => e[1])[0],
        persistent: schedule === 'static' || r() < NET.ipv6.persistent,
      };
      // A home CGNAT shares a few /24s among all the ISP's households.
      isp.cgnPool = schedule === 'cgnat' ? within(isp.blocks, between(r, 1, 4)) : null;
      return isp;
    });
    world.isps.push(...list);
    world.ispsOf.set(region, list);
    const carriers = Array.from({ length: 2 + (w >= 4 ? 1 : 0) + (w >= 10 ? 1 : 0) }, (_, i) => {
      const blocks = [block4(rir), block4(rir)];
      const v6block = block6(rir);
      // CGNAT gateways: each a window of public addresses in one /24 (and a /48 for IPv6).
      const gateways = Array.from({ length: between(r, ...NET.mobile.gateways) }, () => {
        const [a, bb, c] = within(blocks, 1)[0];
        const size = between(r, ...NET.mobile.gatewayPool);
        const first = between(r, 1, 255 - size);
        return { a, b: bb, c, first, size, g2: rand16(r), share: lognormal(r, 1, 0.5) };
      });
      return { region, share: Math.pow(i + 1, -0.8) * lognormal(r, 1, 0.3), gateways, v6: r() < NET.mobile.carrierV6, v6block };
    });
    world.carriers.push(...carriers);
    world.carriersOf.set(region, carriers);
  }
  for (let i = 0; i < NET.vpn.providers; i++) {
    const exits = new Map();
    for (const { region, rir } of REGIONS) {
      const hosting = [block4(rir)];
      const nets = within(hosting, between(r, 1, 3));
      exits.set(region, Array.from({ length: between(r, ...NET.vpn.serversPerExit) }, () => mk4(...pick(r, nets), between(r, 1, 254))));
    }
    world.vpns.push({ share: 1 / (i + 1), exits });
  }
  // Relay operators egress from their own (ARIN) space, a pool per region.
  for (const share of NET.relay.operators) {
    const blocks = [block4('arin'), block4('arin')];
    const v6 = block6('arin');
    const pools = new Map();
    for (const { region } of REGIONS) {
      const nets = within(blocks, 2);
      const site = rand16(r);
      pools.set(region, {
        v4: Array.from({ length: NET.relay.poolSize }, () => mk4(...pick(r, nets), between(r, 1, 254))),
        v6: Array.from({ length: NET.relay.poolSize }, () => mk6([v6[0], v6[1], site, rand16(r), rand16(r), rand16(r), rand16(r), rand16(r)])),
      });
    }
    world.relays.push({ share, pools });
  }
  return world;
}

/** An ISP for a home of `region`: mostly one of the region's, by market share. */
function chooseIsp(world, region, r) {
  const own = world.ispsOf.get(region);
  const list = own && r() < NET.isps.ownRegion ? own : world.isps;
  return weighted(r, list, (x) => x.share);
}

/** A household: its ISP, whether it uses IPv6, and the times its address changes. */
function newHousehold(world, ctx, id, zone, members) {
  const r = prng('prynt-population', ctx.networkSeed, ctx.ws, 'household', id);
  const isp = chooseIsp(world, regionOf(zone), r);
  const h = { id, r, isp, members, zone, v6: isp.v6 && r() < NET.ipv6.households, epochs: [], events: [], block: null, pool: 0 };
  const subnet = r();
  h.subnet = subnet < 0.7 ? 0 : subnet < 0.85 ? 1 : rand16(r);
  const { days, start } = ctx;
  if (isp.schedule === 'periodic24h' || isp.schedule === 'periodicWeekly') {
    const period = isp.schedule === 'periodic24h' ? 1 : 7;
    // Routers are often set to take the forced reconnect at night (local 2-5 h).
    let phase = uniform(r, 0, period);
    if (period === 1 && r() < NET.nightReconnect) phase = ((((uniform(r, 2, 5) * 60 + tzOffset(zone, start)) / 1440) % 1) + 1) % 1;
    for (let t = phase; t < days; t += period) h.events.push(t);
  } else if (isp.meanDays) {
    h.events = poisson(r, 1 / isp.meanDays, 0, days);
  }
  world.households.push(h);
  return h;
}

/** The household's addresses between its k-th and (k+1)-th change, drawn in order. */
function epochOf(h, k) {
  const { isp, r } = h;
  while (h.epochs.length <= k) {
    const prev = h.epochs[h.epochs.length - 1];
    let v4;
    if (isp.cgnPool) {
      v4 = mk4(...pick(r, isp.cgnPool), between(r, 1, 254));
    } else {
      if (!prev || (isp.blocks.length > 1 && r() < NET.otherRoutedPrefix)) {
        const others = isp.blocks.filter((x) => x !== h.block);
        h.block = pick(r, others.length ? others : isp.blocks);
        h.pool = Math.floor(r() * NET.localPool24s);
      }
      v4 = mk4(h.block[0], h.block[1], h.pool * NET.localPool24s + Math.floor(r() * NET.localPool24s), between(r, 1, 254));
    }
    let prefix = prev && isp.persistent ? prev.prefix : null;
    if (!prefix) {
      // The delegated prefix, then the CPE's subnet in the bits up to /64.
      const bits = 64 - isp.prefixLen;
      const g3 = bits === 16 ? h.subnet & 0xffff : ((rand16(r) >> bits) << bits) | (h.subnet & ((1 << bits) - 1));
      prefix = [isp.v6block[0], isp.v6block[1], rand16(r), g3];
    }
    h.epochs.push({ v4, prefix });
  }
  return h.epochs[k];
}

/** The household's address as `b` sends it at `t`: IPv4, or the /64 with the device's temporary interface identifier. */
function homeAddress(b, h, t, ctx) {
  let lo = 0;
  let hi = h.events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (h.events[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  const e = epochOf(h, lo);
  if (!h.v6) return e.v4;
  const period = Math.floor(t / NET.ipv6.tempAddressDays + b.net.iidPhase);
  return mk6([...e.prefix, ...iidOf(hx('iid', ctx.networkSeed, ctx.ws, b.idx, e.prefix.join(':'), period))]);
}

/** An address of a random network of the zone's region (café, friend's home, hotel), new each time. */
function foreignAddress(world, r, zone) {
  const isp = chooseIsp(world, regionOf(zone), r);
  if (isp.v6 && r() < NET.ipv6.households) return mk6([isp.v6block[0], isp.v6block[1], rand16(r), rand16(r), rand16(r), rand16(r), rand16(r), rand16(r)]);
  if (isp.cgnPool) return mk4(...pick(r, isp.cgnPool), between(r, 1, 254));
  return mk4(...pick(r, isp.blocks), Math.floor(r() * 256), between(r, 1, 254));
}

/** Mobile data: the current attach's address while it lasts, else a new attach. */
function mobileAddress(b, t) {
  const n = b.net;
  if (n.attach && n.last && n.last.under === 'mobile' && t < n.attach.until) return n.attach.addr;
  const { r, carrier: c, gateway: g } = n;
  const addr = n.mobileV6
    ? mk6([c.v6block[0], c.v6block[1], g.g2, rand16(r), rand16(r), rand16(r), rand16(r), rand16(r)])
    : mk4(g.a, g.b, g.c, g.first + Math.floor(r() * g.size));
  n.attach = { addr, until: t + expo(r, NET.mobile.attachMeanHours / 24) };
  return addr;
}

/** Each browser's network habits, its households and workplaces (streams of their own). */
function networkSetup(browsers, ctx) {
  const world = networkWorld(ctx);
  const wr = world.r;
  const logit = Math.log(NET.mobile.phoneShare / (1 - NET.mobile.phoneShare));
  for (const b of browsers) {
    const r = prng('prynt-population', ctx.networkSeed, ctx.ws, b.idx, 'network');
    const kind = deviceKind(b);
    const region = regionOf(b.home);
    const n = { r, kind, homeZone: b.home, moves: 0, last: null, attach: null, trip: null, wasTravelling: false };
    n.cellular = kind === 'phone' || (kind === 'tablet' && r() < NET.mobile.tabletCellular);
    n.mobileShare = kind === 'phone' ? 1 / (1 + Math.exp(-(logit + NET.mobile.phoneShareSigma * normal(r)))) : n.cellular ? NET.mobile.tabletShare : 0;
    n.otherShare = NET.other[kind];
    n.office = kind === 'desktop' && r() < NET.work.desktops ? 'desktop' : kind === 'laptop' && r() < NET.work.laptops ? 'laptop' : null;
    n.corporateVpn = n.office === 'laptop' && r() < NET.work.corporateVpn;
    const carriers = world.carriersOf.get(region) || world.carriers;
    n.carrier = weighted(r, carriers, (x) => x.share);
    // Phones attach through a gateway of their home area (home-routed when roaming too).
    n.gateway = weighted(r, n.carrier.gateways, (g) => g.share);
    n.mobileV6 = n.carrier.v6 && r() < NET.mobile.phonesV6;
    const vpnShare = b.rfp ? NET.vpn.resistFingerprinting : b.brave ? NET.vpn.brave : NET.vpn.users;
    if (r() < vpnShare) {
      n.vpn = {
        always: r() < NET.vpn.always,
        provider: weighted(r, world.vpns, (x) => x.share),
        exit: r() < NET.vpn.homeExit ? region : weighted(r, VPN_EXITS, (e) => e[1])[0],
      };
    }
    n.relay = b.fam === 'safari' && r() < NET.relay.safari;
    n.iidPhase = r();
    b.net = n;
  }

  // Households: housemates share a home zone; sharers are grouped zone by zone.
  const byZone = new Map();
  for (const b of browsers) {
    if (b.net.office === 'desktop' || wr() >= NET.households.sharers) continue;
    if (!byZone.has(b.home)) byZone.set(b.home, []);
    byZone.get(b.home).push(b);
  }
  for (const b of browsers) b.net.household = null;
  for (const [zone, list] of byZone) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(wr() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
    while (list.length >= 2) {
      const size = Math.min(list.length, weighted(wr, NET.households.sizes, (s) => s[1])[0]);
      const members = [list.shift()];
      while (members.length < size) {
        // Families often have the same phone model: a further member of the founder's stratum.
        let j = 0;
        if (wr() < NET.households.sameStratum) j = Math.max(0, list.findIndex((x) => stratumOf(x) === stratumOf(members[0])));
        members.push(list.splice(j, 1)[0]);
      }
      const h = newHousehold(world, ctx, `h${members[0].idx}`, zone, members.map((m) => m.idx));
      for (const m of members) m.net.household = h;
    }
  }
  for (const b of browsers) if (!b.net.household) b.net.household = newHousehold(world, ctx, `h${b.idx}`, b.home, [b.idx]);

  // Workplaces, per region: a new one with weight newWorkplaceWeight, else one by its size.
  for (const b of browsers) {
    if (!b.net.office) continue;
    const region = regionOf(b.home);
    if (!world.workplacesOf.has(region)) world.workplacesOf.set(region, []);
    const list = world.workplacesOf.get(region);
    const total = list.reduce((s, w) => s + w.size, 0);
    let wp;
    if (wr() * (total + NET.work.newWorkplaceWeight) < NET.work.newWorkplaceWeight) {
      const isp = chooseIsp(world, region, wr);
      const [a, bb] = pick(wr, isp.blocks);
      const c = Math.floor(wr() * 256);
      const d = between(wr, 1, 250);
      const n = wr() < NET.work.multiAddress ? between(wr, 2, 4) : 1;
      wp = { size: 0, members: [], addrs: Array.from({ length: n }, (_, i) => mk4(a, bb, c, d + i)) };
      list.push(wp);
    } else {
      wp = weighted(wr, list, (w) => w.size);
    }
    wp.size++;
    wp.members.push(b.idx);
    b.net.workplace = wp;
  }
  return world;
}

/** Where a new session of `b` connects from: home, mobile, work, hotel or other. */
function drawNetwork(b, t, off, ctx) {
  const n = b.net;
  const r = n.r;
  if (b.travelling) {
    if (n.cellular && r() < Math.min(0.9, n.mobileShare + NET.travel.extraMobile)) return 'mobile';
    return r() < NET.travel.hotel ? 'hotel' : 'other';
  }
  if (n.office === 'desktop') return 'work';
  const local = ctx.start + t * DAY_MS - off * 60_000;
  const hour = Math.floor((((local % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000);
  if (n.office === 'laptop') {
    const weekday = new Date(local).getUTCDay();
    if (weekday >= 1 && weekday <= 5 && hour >= NET.work.hours[0] && hour < NET.work.hours[1] && (r() < NET.work.officeShare || n.corporateVpn)) return 'work';
  }
  if (n.cellular && r() < n.mobileShare * (hour < 7 || hour >= 22 ? NET.mobile.nightFactor : 1)) return 'mobile';
  if (r() < n.otherShare) return 'other';
  return 'home';
}

/** The network of a visit: { under, over, addr }: the network, a VPN or relay over it, the address seen. */
function visitNetwork(b, t, off, world, ctx) {
  const n = b.net;
  if (b.home !== n.homeZone) {
    // Moved away (timezoneMove): a home of its own in the new place.
    n.homeZone = b.home;
    n.moves++;
    n.household = newHousehold(world, ctx, `m${b.idx}.${n.moves}`, b.home, [b.idx]);
  }
  if (b.travelling && !n.wasTravelling) n.trip = null;
  n.wasTravelling = b.travelling;
  const r = n.r;
  const last = n.last;
  let under;
  let over;
  let underAddr;
  let addr;
  if (last && t - last.t < NET.sessionGapMinutes / 1440 && last.travelling === b.travelling) {
    // The same session: the same network; at home the household's address of the moment.
    ({ under, over } = last);
    underAddr = under === 'home' ? homeAddress(b, n.household, t, ctx) : last.underAddr;
    addr = over ? last.addr : underAddr;
    if (under === 'mobile' && n.attach) n.attach.until = Math.max(n.attach.until, t);
  } else {
    under = drawNetwork(b, t, off, ctx);
    if (under === 'home') underAddr = homeAddress(b, n.household, t, ctx);
    else if (under === 'work') underAddr = pick(r, n.workplace.addrs);
    else if (under === 'mobile') underAddr = mobileAddress(b, t);
    else if (under === 'hotel') {
      if (!n.trip || n.trip.zone !== b.zone) n.trip = { zone: b.zone, addr: foreignAddress(world, r, b.zone) };
      underAddr = n.trip.addr;
    } else underAddr = foreignAddress(world, r, b.zone);
    over = null;
    if (n.vpn && (n.vpn.always || r() < NET.vpn.sessions)) over = 'vpn';
    else if (n.relay && under !== 'work') over = 'relay';
    if (over === 'vpn') {
      const exits = n.vpn.provider.exits;
      const exit = r() < NET.vpn.favouriteExit ? n.vpn.exit : weighted(r, VPN_EXITS, (e) => e[1])[0];
      addr = pick(r, exits.get(exit) || exits.get(REGIONS[0].region));
    } else if (over === 'relay') {
      const op = weighted(r, world.relays, (x) => x.share);
      const pool = op.pools.get(regionOf(b.zone));
      addr = r() < NET.relay.ipv6 ? pick(r, pool.v6) : pick(r, pool.v4);
    } else addr = underAddr;
  }
  n.last = { t, under, over, underAddr, addr, travelling: b.travelling };
  return n.last;
}

/** Network statistics for the meta line, gathered in its pass. */
function networkStats() {
  const pair = () => ({ pairs: 0, sameAddress: 0, samePrefix: 0 });
  return {
    visits: 0,
    v6: 0,
    away: 0,
    kinds: { home: 0, mobile: 0, work: 0, other: 0, hotel: 0, vpn: 0, relay: 0 },
    byDevice: {},
    consecutive: { all: pair(), phone: pair(), tablet: pair(), laptop: pair(), desktop: pair() },
    seen: new Map(),
    cgnat: new Map(),
    cgnat24: new Map(),
    households: 0,
    shared: 0,
    browsers: 0,
    sizes: {},
    sameStratum: 0,
    schedules: {},
    v6Households: 0,
    isps: 0,
    carriers: 0,
    workplaces: 0,
    coworkers: 0,
    workers: 0,
  };
}

function countNetworkSetup(ns, world, browsers) {
  ns.browsers += browsers.length;
  ns.isps += world.isps.length;
  ns.carriers += world.carriers.length;
  for (const h of world.households) {
    ns.schedules[h.isp.schedule] = (ns.schedules[h.isp.schedule] || 0) + 1;
    if (h.v6) ns.v6Households++;
    if (h.members.length < 2) continue;
    ns.households++;
    ns.shared += h.members.length;
    ns.sizes[h.members.length] = (ns.sizes[h.members.length] || 0) + 1;
    const strata = h.members.map((i) => stratumOf(browsers[i]));
    if (new Set(strata).size < strata.length) ns.sameStratum++;
  }
  for (const list of world.workplacesOf.values()) {
    ns.workplaces += list.length;
    for (const w of list) {
      ns.workers += w.size;
      if (w.size > 1) ns.coworkers += w.size;
    }
  }
}

function countNetworkVisit(ns, ws, b, v) {
  ns.visits++;
  if (v.addr.v6) ns.v6++;
  if (v.travelling) ns.away++;
  ns.kinds[v.over || v.under]++;
  const dk = b.net.kind;
  if (!ns.byDevice[dk]) ns.byDevice[dk] = { visits: 0, ...Object.fromEntries(Object.keys(ns.kinds).map((k) => [k, 0])), ipv6: 0 };
  ns.byDevice[dk].visits++;
  ns.byDevice[dk][v.over || v.under]++;
  if (v.addr.v6) ns.byDevice[dk].ipv6++;
  const prev = b.net.prevSeen;
  if (prev) {
    for (const p of [ns.consecutive.all, ns.consecutive[b.net.kind]]) {
      p.pairs++;
      if (prev.ip === v.addr.ip) p.sameAddress++;
      if (prev.v6 === v.addr.v6 && prev.pre === v.addr.pre) p.samePrefix++;
    }
  }
  b.net.prevSeen = v.addr;
  const note = (map, key) => {
    const k = `${ws}|${key}`;
    const who = map.get(k);
    if (who === undefined) map.set(k, b.idx);
    else if (who !== b.idx && who !== -1) map.set(k, -1);
  };
  note(ns.seen, v.addr.ip);
  if (v.under === 'mobile' && !v.over && !v.addr.v6) {
    note(ns.cgnat, v.addr.ip);
    note(ns.cgnat24, v.addr.pre);
  }
}

function networkSummary(ns, workspaces) {
  const round = (x) => Math.round(x * 10000) / 10000;
  const share = (a, b) => round(a / Math.max(1, b));
  const several = (map) => ({ addresses: map.size, seenFromSeveralBrowsers: share([...map.values()].filter((x) => x === -1).length, map.size) });
  const households = Object.values(ns.schedules).reduce((a, b) => a + b, 0);
  return {
    parts: Object.fromEntries(NETWORK_PARTS.map((p) => [p.part, { what: p.what, rate: p.rate, source: p.source }])),
    parameters: NET,
    visits: Object.fromEntries([...Object.entries(ns.kinds).map(([k, x]) => [k, share(x, ns.visits)]), ['ipv6', share(ns.v6, ns.visits)], ['travelling', share(ns.away, ns.visits)]]),
    visitsByDevice: Object.fromEntries(['phone', 'tablet', 'laptop', 'desktop'].filter((k) => ns.byDevice[k]).map((k) => {
      const d = ns.byDevice[k];
      return [k, Object.fromEntries(Object.entries(d).map(([x, c]) => [x, x === 'visits' ? c : share(c, d.visits)]))];
    })),
    consecutive: Object.fromEntries(Object.entries(ns.consecutive).map(([k, p]) => [k, { pairs: p.pairs, sameAddress: share(p.sameAddress, p.pairs), samePrefix: share(p.samePrefix, p.pairs) }])),
    households: {
      shared: ns.households,
      browsersSharing: share(ns.shared, ns.browsers),
      sizes: ns.sizes,
      withSameStratum: ns.sameStratum,
      ipv6: share(ns.v6Households, households),
      schedules: Object.fromEntries(Object.keys(NET.schedules.elsewhere).map((k) => [k, share(ns.schedules[k] || 0, households)])),
    },
    perWorkspace: { isps: round(ns.isps / workspaces), carriers: round(ns.carriers / workspaces), vpnProviders: NET.vpn.providers, relayOperators: NET.relay.operators.length, workplaces: round(ns.workplaces / workspaces) },
    workersWithCoworkers: share(ns.coworkers, ns.workers),
    addresses: several(ns.seen),
    mobileCgnatAddresses: several(ns.cgnat),
    mobileCgnat24s: several(ns.cgnat24),
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
  const seed = o.seed ?? 1;
  return { browsers, days, seed, workspaces, start: o.start ?? DEFAULT_START, networkSeed: o.networkSeed ?? seed };
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
  const ctx = { seed: opts.seed, networkSeed: opts.networkSeed, ws, days: opts.days, start: opts.start };
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
  // The network after everything else: its streams are its own, so the fields above do not move.
  const world = networkSetup(browsers, ctx);
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
    const net = visitNetwork(b, t, off, world, ctx);
    if (stats) countNetworkVisit(stats.net, ws, b, net);

    // Rendered in both passes, so that the visit stream's draws are the same.
    const components = render(b, t, s.priv, vr, ctx);
    const rec = { ws, day: s.day, browser: b.idx, token, private: s.priv, changes };
    if (withComponents) rec.components = components;
    rec.ip = net.addr.ip;
    yield rec;
  }
  if (stats) countNetworkSetup(stats.net, world, browsers);
}

/** The population's visits (see the header). */
export function* population(o) {
  const opts = options(o);
  for (let ws = 0; ws < opts.workspaces; ws++) yield* workspace(opts, ws, true, null);
}

/**
 * Who shares a network, per workspace, as drawn before the first visit: the households of two or
 * more browsers and the workplaces (browser indices). The truth behind shared addresses, for
 * analyses and tests; browsers that move later (timezoneMove) leave their household then.
 */
export function populationNetworks(o) {
  const opts = options(o);
  const out = [];
  for (let ws = 0; ws < opts.workspaces; ws++) {
    const ctx = { seed: opts.seed, networkSeed: opts.networkSeed, ws, days: opts.days, start: opts.start };
    const browsers = devicesOf(opts.seed, ws, opts.browsers).map((d, i) => makeBrowser(d, i, ctx));
    const world = networkSetup(browsers, ctx);
    out.push({
      ws,
      households: world.households.filter((h) => h.members.length > 1).map((h) => h.members),
      workplaces: [...world.workplacesOf.values()].flat().map((w) => w.members),
    });
  }
  return out;
}

/** The meta line: what was drawn and what the visits show, without building components. */
export function populationMeta(o) {
  const opts = options(o);
  const stats = {
    drawn: {},
    modes: { brave: 0, resistFingerprinting: 0, antiFingerprinting: 0, cookiesOnExit: 0, privateUsers: 0, storageClearers: 0 },
    perBrowser: [],
    net: networkStats(),
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
    network: { seed: opts.networkSeed, ...networkSummary(stats.net, opts.workspaces) },
  };
}
