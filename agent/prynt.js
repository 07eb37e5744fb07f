// Prynt browser agent. This file is a script body: the server wraps it either as a classic
// script (an IIFE that sets window.Prynt) or as an ES module (export default Prynt), so it
// must stay valid strict-mode code in both and define nothing at top level but `Prynt`.
// It only measures and reports raw values; every verdict is the server's.
const Prynt = (() => {
  const version = '0.2.0';
  const TOKEN = '_prynt_vt';
  const w = window;
  const nav = navigator;
  const doc = document;

  // document.currentScript is only set while a classic script runs synchronously, so the
  // agent's own origin has to be captured now, not when load() is called later.
  const scriptOrigin = (() => {
    try {
      const s = doc.currentScript;
      return s && s.src ? new URL(s.src, location.href).origin : null;
    } catch (_) {
      return null;
    }
  })();

  // 64-bit FNV-1a over UTF-16 code units (strings) or elements (byte arrays), kept in two
  // 32-bit halves because BigInt is slow and absent from older Safari.
  // 0x100000001b3 * x == (x << 40) + 0x1b3 * x, which splits cleanly across the halves.
  const hash = (input) => {
    let hi = 0xcbf29ce4;
    let lo = 0x84222325;
    const str = typeof input === 'string';
    for (let i = 0; i < input.length; i++) {
      lo = (lo ^ (str ? input.charCodeAt(i) : input[i])) >>> 0;
      const l = lo * 435;
      hi = (Math.imul(hi, 435) + (lo << 8) + Math.floor(l / 4294967296)) >>> 0;
      lo = l >>> 0;
    }
    return ('0000000' + hi.toString(16)).slice(-8) + ('0000000' + lo.toString(16)).slice(-8);
  };

  // A probe that throws must cost only its own field.
  const safe = (fn, fallback = null) => {
    try {
      const v = fn();
      return v === undefined ? fallback : v;
    } catch (_) {
      return fallback;
    }
  };

  // Some browser promises never settle (Safari's audio rendering in a background tab, a
  // permission query in some embedded views), so every async probe is bounded.
  const bounded = (fn, ms, fallback = null) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(fallback), ms);
      const done = (v) => {
        clearTimeout(timer);
        resolve(v === undefined ? fallback : v);
      };
      try {
        Promise.resolve(fn()).then(done, () => done(fallback));
      } catch (_) {
        done(fallback);
      }
    });

  // ---- first-party token stores -------------------------------------------------------

  let dbPromise = null;
  const openDb = () => {
    // A database named 'prynt' may already exist without our store (an earlier version,
    // or a page script that opened it bare); bumping the version lets us add the store.
    const open = (version) =>
      new Promise((resolve, reject) => {
        const req = version ? w.indexedDB.open('prynt', version) : w.indexedDB.open('prynt');
        req.onupgradeneeded = () => {
          if (!req.result.objectStoreNames.contains('kv')) req.result.createObjectStore('kv');
        };
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('kv')) {
            db.close();
            return resolve(open(db.version + 1));
          }
          // Another tab upgrading or deleting the database must not be blocked by us.
          db.onversionchange = () => {
            db.close();
            dbPromise = null;
          };
          resolve(db);
        };
        req.onerror = () => reject(req.error);
        req.onblocked = () => reject(new Error('blocked'));
      });
    if (!dbPromise) {
      dbPromise = open();
      dbPromise.catch(() => {
        dbPromise = null;
      });
    }
    return dbPromise;
  };

  const idb = (mode, op) =>
    openDb().then(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = db.transaction('kv', mode);
          const req = op(tx.objectStore('kv'));
          tx.oncomplete = () => resolve(req.result);
          tx.onerror = tx.onabort = () => reject(tx.error || req.error);
        }),
    );

  const readToken = async () => {
    const fromCookie = safe(() => {
      const hit = doc.cookie.split('; ').find((c) => c.indexOf(TOKEN + '=') === 0);
      return hit ? decodeURIComponent(hit.slice(TOKEN.length + 1)) : null;
    });
    if (fromCookie) return fromCookie;
    const fromLocal = safe(() => w.localStorage.getItem(TOKEN));
    if (fromLocal) return fromLocal;
    const fromIdb = await bounded(() => idb('readonly', (s) => s.get('vt')), 500);
    return typeof fromIdb === 'string' && fromIdb ? fromIdb : null;
  };

  const writeToken = (token) => {
    safe(() => {
      doc.cookie =
        TOKEN + '=' + encodeURIComponent(token) + '; path=/; max-age=31536000; SameSite=Lax' +
        (location.protocol === 'https:' ? '; Secure' : '');
    });
    safe(() => w.localStorage.setItem(TOKEN, token));
    return bounded(() => idb('readwrite', (s) => s.put(token, 'vt')), 500);
  };

  // ---- probes ----------------------------------------------------------------------------

  const newCanvas = (width, height) => {
    const c = doc.createElement('canvas');
    c.width = width;
    c.height = height;
    return c;
  };

  const canvas = () => {
    const c = newCanvas(1, 1);
    const ctx = c.getContext('2d');
    if (!ctx || !c.toDataURL) return null;
    ctx.rect(0, 0, 10, 10);
    ctx.rect(2, 2, 6, 6);
    const winding = !ctx.isPointInPath(5, 5, 'evenodd');

    // Text exercises font selection, hinting, subpixel AA and emoji fallback.
    c.width = 240;
    c.height = 60;
    ctx.textBaseline = 'alphabetic';
    ctx.fillStyle = '#f60';
    ctx.fillRect(100, 1, 62, 20);
    ctx.fillStyle = '#069';
    ctx.font = '11pt "Times New Roman"';
    const text = 'Cwm fjordbank gly \ud83d\ude03 \u00e5\u00df\u2202';
    ctx.fillText(text, 2, 15);
    ctx.fillStyle = 'rgba(102, 204, 0, 0.2)';
    ctx.font = '18pt Arial';
    ctx.fillText(text, 4, 45);
    const textHash = hash(c.toDataURL());

    // Geometry exercises blending and curve rasterisation without any font dependence,
    // so it stays stable when the text image is perturbed by font updates.
    c.width = 122;
    c.height = 110;
    ctx.globalCompositeOperation = 'multiply';
    [['#f2f', 40, 40], ['#2ff', 80, 40], ['#ff2', 60, 80]].forEach(([color, x, y]) => {
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(x, y, 40, 0, Math.PI * 2, true);
      ctx.closePath();
      ctx.fill();
    });
    ctx.fillStyle = '#f9c';
    ctx.beginPath();
    ctx.arc(60, 60, 60, 0, Math.PI * 2, true);
    ctx.arc(60, 60, 20, 0, Math.PI * 2, true);
    ctx.fill('evenodd');
    return { text: textHash, geometry: hash(c.toDataURL()), winding };
  };

  const GL_PARAMS = [
    'ALIASED_LINE_WIDTH_RANGE', 'ALIASED_POINT_SIZE_RANGE', 'ALPHA_BITS', 'BLUE_BITS',
    'DEPTH_BITS', 'GREEN_BITS', 'MAX_COMBINED_TEXTURE_IMAGE_UNITS', 'MAX_CUBE_MAP_TEXTURE_SIZE',
    'MAX_FRAGMENT_UNIFORM_VECTORS', 'MAX_RENDERBUFFER_SIZE', 'MAX_TEXTURE_IMAGE_UNITS',
    'MAX_TEXTURE_SIZE', 'MAX_VARYING_VECTORS', 'MAX_VERTEX_ATTRIBS',
    'MAX_VERTEX_TEXTURE_IMAGE_UNITS', 'MAX_VERTEX_UNIFORM_VECTORS', 'MAX_VIEWPORT_DIMS',
    'RED_BITS', 'SAMPLES', 'SAMPLE_BUFFERS', 'STENCIL_BITS', 'SUBPIXEL_BITS',
    'STENCIL_VALUE_MASK', 'STENCIL_WRITEMASK', 'DEPTH_RANGE', 'LINE_WIDTH',
    'SCISSOR_BOX', 'VIEWPORT', 'COMPRESSED_TEXTURE_FORMATS', 'IMPLEMENTATION_COLOR_READ_FORMAT',
    'IMPLEMENTATION_COLOR_READ_TYPE',
  ];

  // Two phases so that the GPU process renders while the main thread measures fonts:
  // webgl() creates the context and queues the drawing, the function it returns reads
  // everything back (by then the readback no longer waits for the rasteriser).
  const webgl = () => {
    const c = newCanvas(64, 64);
    const gl = c.getContext('webgl') || c.getContext('experimental-webgl');
    if (!gl) return () => null;
    const drawn = safe(() => glDraw(gl), false);
    safe(() => gl.flush());
    return () => {
      try {
        const get = (p) => safe(() => gl.getParameter(p));
        const str = (v) => (v == null ? null : String(v));
        const dbg = safe(() => gl.getExtension('WEBGL_debug_renderer_info'));
        const params = GL_PARAMS.map((name) => {
          const v = get(gl[name]);
          return name + '=' + (v && typeof v === 'object' ? Array.from(v).join(',') : v);
        });
        const aniso = safe(() => gl.getExtension('EXT_texture_filter_anisotropic'));
        if (aniso) params.push('MAX_ANISOTROPY=' + get(aniso.MAX_TEXTURE_MAX_ANISOTROPY_EXT));
        ['VERTEX_SHADER', 'FRAGMENT_SHADER'].forEach((shader) => {
          ['LOW_FLOAT', 'MEDIUM_FLOAT', 'HIGH_FLOAT', 'LOW_INT', 'MEDIUM_INT', 'HIGH_INT'].forEach((type) => {
            const f = safe(() => gl.getShaderPrecisionFormat(gl[shader], gl[type]));
            params.push(shader + '.' + type + '=' + (f ? [f.rangeMin, f.rangeMax, f.precision].join(',') : ''));
          });
        });
        return {
          vendor: str(get(gl.VENDOR)),
          renderer: str(get(gl.RENDERER)),
          unmaskedVendor: dbg ? str(get(dbg.UNMASKED_VENDOR_WEBGL)) : null,
          unmaskedRenderer: dbg ? str(get(dbg.UNMASKED_RENDERER_WEBGL)) : null,
          version: str(get(gl.VERSION)),
          shadingLanguage: str(get(gl.SHADING_LANGUAGE_VERSION)),
          params: hash(params.sort().join(';')),
          extensions: hash((safe(() => gl.getSupportedExtensions(), []) || []).slice().sort().join(';')),
          render: drawn ? safe(() => {
            const px = new Uint8Array(64 * 64 * 4);
            gl.readPixels(0, 0, 64, 64, gl.RGBA, gl.UNSIGNED_BYTE, px);
            return hash(px);
          }) : null,
        };
      } finally {
        // Browsers cap live WebGL contexts per page; free ours rather than wait for GC.
        safe(() => gl.getExtension('WEBGL_lose_context').loseContext());
      }
    };
  };

  // A gradient triangle whose colours go through sin/cos in the fragment shader: the
  // rounding of those and of rasterisation differs across GPUs, drivers and ANGLE backends.
  // No LINK_STATUS check: it would block on the compile; a failed link still draws the
  // (equally deterministic) clear colour.
  const glDraw = (gl) => {
    const shader = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      return s;
    };
    const prog = gl.createProgram();
    gl.attachShader(prog, shader(gl.VERTEX_SHADER,
      'attribute vec2 p;varying vec2 v;void main(){v=p;gl_Position=vec4(p,0.0,1.0);}'));
    gl.attachShader(prog, shader(gl.FRAGMENT_SHADER,
      'precision mediump float;varying vec2 v;void main(){gl_FragColor=vec4(sin(v.x*12.3)*0.5+0.5,cos(v.y*7.1)*0.5+0.5,v.x*v.y+0.5,1.0);}'));
    gl.linkProgram(prog);
    gl.useProgram(prog);
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-0.9, -0.8, 0.85, -0.7, 0.1, 0.95]), gl.STATIC_DRAW);
    const loc = gl.getAttribLocation(prog, 'p');
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
    gl.viewport(0, 0, 64, 64);
    gl.clearColor(0.1, 0.2, 0.3, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    return true;
  };

  const audio = () => {
    const AC = w.OfflineAudioContext || w.webkitOfflineAudioContext;
    if (!AC) return null;
    // Safari can leave a rendering promise pending forever (background tab, no user
    // gesture), hence the bound.
    return bounded(() => {
      const ctx = new AC(1, 5000, 44100);
      const osc = ctx.createOscillator();
      osc.type = 'triangle';
      osc.frequency.value = 10000;
      const comp = ctx.createDynamicsCompressor();
      comp.threshold.value = -50;
      comp.knee.value = 40;
      comp.ratio.value = 12;
      comp.attack.value = 0;
      comp.release.value = 0.25;
      osc.connect(comp);
      comp.connect(ctx.destination);
      osc.start(0);
      return new Promise((resolve, reject) => {
        ctx.oncomplete = (e) => resolve(e.renderedBuffer);
        // Old WebKit returns undefined here and only fires oncomplete.
        const p = ctx.startRendering();
        if (p && p.catch) p.catch(reject);
      }).then((buffer) => {
        const slice = buffer.getChannelData(0).slice(4500);
        let sum = 0;
        for (let i = 0; i < slice.length; i++) sum += Math.abs(slice[i]);
        return { hash: hash(new Uint8Array(slice.buffer)), sum };
      });
    }, 1000);
  };

  const FONTS = [
    // Windows
    'Arial Black', 'Bahnschrift', 'Calibri', 'Cambria', 'Candara', 'Comic Sans MS', 'Consolas',
    'Constantia', 'Corbel', 'Ebrima', 'Franklin Gothic Medium', 'Gadugi', 'Impact', 'Ink Free',
    'Leelawadee UI', 'Lucida Console', 'Lucida Sans Unicode', 'Malgun Gothic', 'Microsoft JhengHei',
    'Microsoft YaHei', 'MS Gothic', 'MS UI Gothic', 'MT Extra', 'Palatino Linotype', 'Segoe Print',
    'Segoe UI', 'Segoe UI Emoji', 'SimSun', 'Sitka Small', 'Sylfaen', 'Tahoma', 'Trebuchet MS',
    'Verdana', 'Yu Gothic',
    // Apple
    'American Typewriter', 'Apple Color Emoji', 'Avenir', 'Avenir Next', 'Baskerville', 'Chalkboard',
    'Copperplate', 'Didot', 'Futura', 'Geneva', 'Gill Sans', 'Helvetica Neue', 'Hiragino Sans',
    'Hoefler Text', 'Lucida Grande', 'Marker Felt', 'Menlo', 'Monaco', 'Noteworthy', 'Optima',
    'Papyrus', 'PingFang SC', 'Zapfino',
    // Linux
    'Cantarell', 'DejaVu Sans', 'DejaVu Sans Mono', 'DejaVu Serif', 'FreeSans', 'Liberation Mono',
    'Liberation Sans', 'Liberation Serif', 'Nimbus Sans', 'Noto Color Emoji', 'Noto Sans',
    'Noto Serif', 'Ubuntu', 'Ubuntu Mono', 'URW Bookman',
    // Android
    'Coming Soon', 'Cutive Mono', 'Droid Sans', 'Droid Sans Mono', 'Droid Serif', 'Noto Sans CJK SC',
    'Roboto',
  ];
  const BASES = ['monospace', 'sans-serif', 'serif'];

  // A font is present when naming it before a generic family changes the rendered size
  // for at least one family. All spans go in before the first read so layout runs once.
  const fonts = () => {
    const root = doc.createElement('div');
    root.style.cssText = 'position:absolute;left:-9999px;top:0;visibility:hidden;';
    const span = (family) => {
      const s = doc.createElement('span');
      s.style.cssText =
        'position:absolute;font-size:72px;font-style:normal;font-weight:normal;' +
        'letter-spacing:normal;line-height:normal;text-transform:none;white-space:nowrap;' +
        'font-family:' + family;
      s.textContent = 'mmMwWLliI0O&1';
      root.appendChild(s);
      return s;
    };
    const bases = BASES.map(span);
    const probes = FONTS.map((f) => BASES.map((b) => span("'" + f + "'," + b)));
    (doc.body || doc.documentElement).appendChild(root);
    try {
      const base = bases.map((s) => [s.offsetWidth, s.offsetHeight]);
      return FONTS.filter((_, i) =>
        probes[i].some((s, j) => s.offsetWidth !== base[j][0] || s.offsetHeight !== base[j][1]),
      );
    } finally {
      root.remove();
    }
  };

  const math = () => {
    const M = Math;
    return hash([
      M.acos(0.123124234234234242), M.acosh(1e308), M.asinh(1), M.atanh(0.5), M.atan(2),
      M.sin(-1e300), M.cos(21 * M.LN2), M.tan(-1e300), M.sinh(1), M.cosh(1), M.tanh(1),
      M.expm1(1), M.log1p(10), M.exp(1), M.cbrt(100), M.pow(M.PI, -100),
    ].join(','));
  };

  const works = (name) =>
    safe(() => {
      const s = w[name];
      s.setItem('_prynt_t', '1');
      s.removeItem('_prynt_t');
      return true;
    }, false);

  const storage = async () => {
    const st = nav.storage;
    // Chromium's on-disk Cache Storage accounts an entry in whole 256-byte blocks, its
    // in-memory store of a private profile in exact bytes: the usage a 1-byte entry adds
    // tells the two apart (the quota no longer does).
    // Two trials, the smaller delta kept: a write of the page's own (the agent's IndexedDB
    // token store being created) can land between the two reads of one trial, never of both.
    const cacheDelta = async () => {
      const c = await w.caches.open('_prynt_probe');
      try {
        const deltas = [];
        for (const path of ['/_prynt_probe_a', '/_prynt_probe_b']) {
          const before = await st.estimate();
          await c.put(path, new Response('x'));
          const after = await st.estimate();
          deltas.push(after.usage - before.usage);
        }
        return Math.min(deltas[0], deltas[1]);
      } finally {
        w.caches.delete('_prynt_probe');
      }
    };
    // A probe that does not answer in time is unknown ('timeout'), never a refusal: a busy
    // disk must not make a normal window look private.
    const [estimate, persisted, getDirectory, idbBlob] = await Promise.all([
      st && st.estimate ? bounded(() => st.estimate(), 500) : null,
      st && st.persisted ? bounded(() => st.persisted(), 500) : null,
      st && st.getDirectory
        ? bounded(() => st.getDirectory().then(() => 'ok', () => 'error'), 500, 'timeout')
        : 'missing',
      // Only WebKit refuses Blobs in IndexedDB (in private mode), so elsewhere the probe
      // would cost time for no information.
      /^Apple/.test(nav.vendor || '')
        ? bounded(() => idb('readwrite', (s) => {
          s.put(new Blob(['x']), 'blob');
          return s.delete('blob');
        }).then(() => 'ok', () => 'error'), 500, 'timeout')
        : 'skipped',
    ]);
    // After the other probes: opening the origin-private file system changes the usage too.
    const cacheUsage =
      nav.userAgentData && w.caches && st && st.estimate ? await bounded(cacheDelta, 500) : null;
    const num = (v) => (typeof v === 'number' ? v : null);
    return {
      localStorage: works('localStorage'),
      sessionStorage: works('sessionStorage'),
      indexedDB: safe(() => !!w.indexedDB, false),
      openDatabase: typeof w.openDatabase === 'function',
      quota: estimate ? num(estimate.quota) : null,
      usage: estimate ? num(estimate.usage) : null,
      heapLimit: safe(() => num(performance.memory.jsHeapSizeLimit)),
      persisted: typeof persisted === 'boolean' ? persisted : null,
      getDirectory,
      idbBlob,
      cacheDelta: typeof cacheUsage === 'number' ? cacheUsage : null,
    };
  };

  const uaData = () => {
    const d = nav.userAgentData;
    if (!d) return null;
    const list = (l) => (l || []).map((b) => ({ brand: b.brand, version: b.version }));
    return bounded(
      () => d.getHighEntropyValues(['platformVersion', 'architecture', 'model', 'bitness', 'fullVersionList']),
      500,
      {},
    ).then((h) => {
      // High-entropy hints can be refused or time out; '' keeps every field a string.
      const s = (v) => (typeof v === 'string' ? v : '');
      return {
        brands: list(d.brands),
        mobile: !!d.mobile,
        platform: s(d.platform),
        platformVersion: s(h.platformVersion),
        architecture: s(h.architecture),
        model: s(h.model),
        bitness: s(h.bitness),
        fullVersionList: list(h.fullVersionList),
      };
    });
  };

  const DRIVER_GLOBALS = [
    '__webdriver_script_fn', '__driver_evaluate', '__webdriver_evaluate', '__selenium_evaluate',
    '__fxdriver_evaluate', '__driver_unwrapped', '__webdriver_unwrapped', '__selenium_unwrapped',
    '__fxdriver_unwrapped', '_Selenium_IDE_Recorder', '_selenium', 'calledSelenium',
    'domAutomation', 'domAutomationController', 'callPhantom', '_phantom', '__nightmare',
  ];

  // ---- integrity: the lies an injected script cannot keep consistent ------------------

  // A fresh same-origin iframe is a second JavaScript realm. Scripts injected "on every new
  // document" often miss it (it is created by script, not by navigation), and even when they
  // patch it, its own Function.prototype.toString is a second, independent witness.
  const otherRealm = () => {
    const f = doc.createElement('iframe');
    f.style.cssText = 'display:none';
    (doc.body || doc.documentElement).appendChild(f);
    return { win: f.contentWindow, remove: () => f.remove() };
  };

  const getterOf = (proto, name) =>
    safe(() => Object.getOwnPropertyDescriptor(proto.prototype || proto, name).get);

  // [label, name the engine prints, () => function]: built-ins that fingerprint spoofers and
  // stealth plugins replace. Getters print as "get name".
  const natives = () => {
    const list = [['Function.prototype.toString', 'toString', () => Function.prototype.toString]];
    [['Navigator', ['userAgent', 'platform', 'languages', 'hardwareConcurrency', 'deviceMemory',
      'webdriver', 'plugins', 'mimeTypes', 'vendor', 'maxTouchPoints', 'userAgentData', 'permissions']],
    ['Screen', ['width', 'height', 'availWidth', 'availHeight', 'colorDepth']],
    ['HTMLIFrameElement', ['contentWindow']],
    ['HTMLElement', ['offsetWidth', 'offsetHeight']]].forEach(([iface, names]) =>
      names.forEach((n) => list.push([iface + '.' + n, 'get ' + n, () => getterOf(w[iface], n)])),
    );
    [['WebGLRenderingContext', ['getParameter', 'getExtension', 'getSupportedExtensions', 'readPixels']],
    ['WebGL2RenderingContext', ['getParameter']],
    ['HTMLCanvasElement', ['toDataURL', 'getContext']],
    ['CanvasRenderingContext2D', ['getImageData', 'measureText', 'fillText']],
    ['AudioBuffer', ['getChannelData']],
    ['Permissions', ['query']],
    ['Date', ['getTimezoneOffset']],
    ['Element', ['getBoundingClientRect']],
    ['Document', ['hasFocus']],
    ['NavigatorUAData', ['getHighEntropyValues']],
    ['MediaDevices', ['enumerateDevices']]].forEach(([iface, names]) =>
      names.forEach((n) => list.push([iface + '.' + n, n, () => w[iface].prototype[n]])),
    );
    list.push(['Intl.DateTimeFormat.resolvedOptions', 'resolvedOptions', () => Intl.DateTimeFormat.prototype.resolvedOptions]);
    return list;
  };

  // Names of built-ins that are not what the engine made: source text other than native code
  // (read with the other realm's toString too, which a patched toString cannot answer for), a
  // `prototype` or `arguments` of their own (script functions have them, built-ins never), or a
  // Proxy around the built-in. A Proxy is caught by the prototype-cycle rule of the language:
  // making a function's prototype an object that inherits from it must throw for an ordinary
  // function, while the cycle check stops at a Proxy and lets it through (restored at once).
  const lies = (realm) => {
    const own = Function.prototype.toString;
    const other = realm && safe(() => realm.Function.prototype.toString);
    return natives()
      .filter(([, name, ref]) => {
        const fn = safe(ref);
        if (typeof fn !== 'function') return false;
        return safe(() => {
          // Some engines print getters without "get ".
          const re = new RegExp('^function (get )?' + name.replace(/^get /, '') + '\\(\\) \\{\\s*\\[native code\\]\\s*\\}$');
          if (!re.test(own.call(fn)) || (other && !re.test(other.call(fn)))) return true;
          const props = Object.getOwnPropertyNames(fn);
          if (props.indexOf('prototype') >= 0 || props.indexOf('arguments') >= 0) return true;
          const proto = Object.getPrototypeOf(fn);
          try {
            Object.setPrototypeOf(fn, Object.create(fn));
            return true;
          } catch (e) {
            return false;
          } finally {
            Object.setPrototypeOf(fn, proto);
          }
        }, true);
      })
      .map(([label]) => label);
  };

  const glRenderer = (gl) =>
    safe(() => {
      const d = gl.getExtension('WEBGL_debug_renderer_info');
      return String(gl.getParameter(d ? d.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    });

  // What the other realm's navigator says: it must agree with the page's.
  const realmView = (nav2) =>
    safe(() => ({
      userAgent: String(nav2.userAgent),
      platform: String(nav2.platform),
      languages: Array.from(nav2.languages || []).join(','),
      hardwareConcurrency: typeof nav2.hardwareConcurrency === 'number' ? nav2.hardwareConcurrency : null,
      webdriver: typeof nav2.webdriver === 'boolean' ? nav2.webdriver : null,
    }));

  // A dedicated worker has its own navigator and, through OffscreenCanvas, its own WebGL:
  // spoofers patch the window, while the worker sees the machine as it is. Blob workers can
  // be refused by a page's CSP; then the answer is unknown (null), never a finding.
  const WORKER_SRC =
    'var n=navigator,g=null;try{var x=new OffscreenCanvas(1,1).getContext("webgl");if(x){var d=x.getExtension("WEBGL_debug_renderer_info");' +
    'g=String(x.getParameter(d?d.UNMASKED_RENDERER_WEBGL:x.RENDERER))}}catch(e){}var tz=null;try{tz=Intl.DateTimeFormat().resolvedOptions().timeZone}catch(e){}' +
    'postMessage({userAgent:String(n.userAgent),platform:String(n.platform),languages:Array.from(n.languages||[]).join(","),' +
    'hardwareConcurrency:typeof n.hardwareConcurrency=="number"?n.hardwareConcurrency:null,timezone:tz,gpu:g,' +
    'uaPlatform:n.userAgentData?String(n.userAgentData.platform):null})';
  const workerView = () => {
    let url = null;
    let worker = null;
    return bounded(
      () =>
        new Promise((resolve, reject) => {
          url = URL.createObjectURL(new Blob([WORKER_SRC], { type: 'text/javascript' }));
          worker = new Worker(url);
          worker.onmessage = (m) => resolve(m.data);
          worker.onerror = (e) => {
            if (e && e.preventDefault) e.preventDefault();
            reject(new Error('worker'));
          };
        }),
      800,
    ).then((v) => {
      safe(() => worker.terminate());
      safe(() => URL.revokeObjectURL(url));
      return v;
    });
  };

  // The worker starts while the page is still loading, so that its answer (a thread, a JS
  // context and a WebGL context: the slowest probe) is ready by the first collect().
  let earlyWorker = safe(workerView);

  const integrity = async () => {
    const worker = earlyWorker || safe(workerView);
    earlyWorker = null;
    const realm = safe(otherRealm);
    try {
      const iframe = realm ? realmView(realm.win.navigator) : null;
      return {
        lies: safe(() => lies(realm && realm.win), []),
        // Real navigators keep every property on Navigator.prototype; spoofers that define
        // them on the instance leave them here.
        navigatorOwn: safe(() => Object.getOwnPropertyNames(nav).slice(0, 32), []),
        webdriverMissing: !('webdriver' in nav),
        iframe,
        worker: await Promise.resolve(worker).catch(() => null),
      };
    } finally {
      if (realm) safe(realm.remove);
    }
  };

  // ---- behaviour: what the hand did before identify() ------------------------------------

  // Listeners from the moment the script runs. Only counts and timings are kept: never
  // coordinates, keys or text.
  const median = (xs) => {
    if (!xs.length) return null;
    const s = xs.slice().sort((a, b) => a - b);
    const m = s.length >> 1;
    return Math.round((s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) * 10) / 10;
  };
  const behaviour = (() => {
    const n = { moves: 0, straightRun: 0, clicks: 0, pointerClicks: 0, jumpClicks: 0, centredClicks: 0, centredJumps: 0, keys: 0, inputs: 0, touches: 0, scrolls: 0, untrusted: 0 };
    const holds = [];
    const keyHolds = [];
    const keyGaps = [];
    const keyDown = {};
    let movesSinceClick = 0;
    let lastKey = null;
    let down = null;
    // Page scripts fire synthetic clicks and input events for their own widgets; a synthetic
    // press of a pointer or a key is what a script that plays the user does.
    const PRESSES = { pointerdown: 1, keydown: 1, touchstart: 1 };
    const on = (type, fn) =>
      safe(() =>
        w.addEventListener(type, (e) => {
          if (!e.isTrusted) {
            if (PRESSES[type]) n.untrusted++;
            return;
          }
          safe(() => fn(e));
        }, { capture: true, passive: true }),
      );
    // Runs of moves by the same step (within half a pixel, diagonal, at least 4 px): a tool
    // interpolating a straight line; a hand's speed and direction change from move to move.
    let last = null;
    let step = null;
    let run = 0;
    on('pointermove', (e) => {
      if (e.pointerType !== 'mouse') return;
      n.moves++;
      movesSinceClick++;
      if (last) {
        const dx = e.clientX - last[0];
        const dy = e.clientY - last[1];
        const same = step && Math.abs(dx - step[0]) <= 0.5 && Math.abs(dy - step[1]) <= 0.5;
        run = same ? run + 1 : 1;
        step = dx && dy && Math.abs(dx) + Math.abs(dy) >= 4 ? [dx, dy] : null;
        if (!step) run = 0;
        if (run > n.straightRun) n.straightRun = run;
      }
      last = [e.clientX, e.clientY];
    });
    on('pointerdown', (e) => {
      down = e.timeStamp;
      // Only a mouse has to travel to what it clicks; touch and pen arrive where they land.
      if (e.pointerType !== 'mouse') return;
      n.pointerClicks++;
      const jump = movesSinceClick < 3;
      if (jump) n.jumpClicks++;
      movesSinceClick = 0;
      const r = e.target.getBoundingClientRect();
      if (r.width > 8 && r.height > 8 &&
        Math.abs(e.clientX - (r.left + r.width / 2)) <= 1 && Math.abs(e.clientY - (r.top + r.height / 2)) <= 1) {
        n.centredClicks++;
        if (jump) n.centredJumps++;
      }
    });
    on('pointerup', (e) => {
      if (down != null) holds.push(e.timeStamp - down);
      down = null;
    });
    on('click', () => n.clicks++);
    on('keydown', (e) => {
      if (e.repeat) return;
      n.keys++;
      keyDown[e.code || e.key] = e.timeStamp;
      if (lastKey != null) keyGaps.push(e.timeStamp - lastKey);
      lastKey = e.timeStamp;
    });
    on('keyup', (e) => {
      const t = keyDown[e.code || e.key];
      if (t != null) keyHolds.push(e.timeStamp - t);
      delete keyDown[e.code || e.key];
    });
    on('input', () => n.inputs++);
    on('touchstart', () => n.touches++);
    on('scroll', () => n.scrolls++);
    // Browsers that coarsen timers (privacy modes) make every short interval look machine-made;
    // the server ignores timings when the resolution is coarse.
    const resolution = () => {
      // Spins until the clock has ticked twice (at most ~2.5 ms, Firefox's 1 ms clock included).
      const start = performance.now();
      let last = start;
      let ticks = 0;
      let min = Infinity;
      while (ticks < 2 && last - start < 2.5) {
        const t = performance.now();
        if (t > last) {
          if (ticks++ > 0 || last > start) min = Math.min(min, t - last);
          last = t;
        }
      }
      return min === Infinity ? null : Math.round(min * 1000) / 1000;
    };
    const cv = (xs) => {
      if (xs.length < 2) return null;
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / xs.length);
      return mean > 0 ? Math.round((sd / mean) * 1000) / 1000 : null;
    };
    return () =>
      Object.assign({}, n, {
        clickHoldMs: median(holds),
        keyHoldMs: median(keyHolds),
        keyGapMs: median(keyGaps),
        keyGapCv: keyGaps.length >= 4 ? cv(keyGaps) : null,
        timerResolutionMs: safe(resolution),
      });
  })();

  const automation = async () => {
    const names = DRIVER_GLOBALS.filter((n) => safe(() => n in w || n in doc, false));
    const scan = (obj) =>
      safe(() => Object.getOwnPropertyNames(obj), []).forEach((n) => {
        if (/^\$?cdc_|^\$wdc_|^__(playwright|pw|puppeteer)/.test(n) && names.indexOf(n) < 0) names.push(n);
      });
    scan(w);
    scan(doc);
    const plugins = safe(() => Array.from(nav.plugins), []);
    return {
      webdriver: nav.webdriver === true,
      driverGlobals: names,
      documentAttributes: safe(
        () => Array.from(doc.documentElement.attributes).map((a) => a.name).filter((n) => /selenium|webdriver|driver/i.test(n)),
        [],
      ),
      notificationPermission: safe(() => (typeof Notification === 'undefined' ? null : Notification.permission)),
      permissionsNotifications: await bounded(
        () => nav.permissions.query({ name: 'notifications' }).then((s) => s.state),
        500,
      ),
      evalLength: safe(() => eval.toString().length),
      connectionRtt: safe(() => (nav.connection ? nav.connection.rtt : null)),
      outerZero: w.outerWidth === 0 && w.outerHeight === 0,
      hasFocus: safe(() => doc.hasFocus(), false),
      languagesEmpty: !nav.languages || nav.languages.length === 0,
      mimeTypesConsistent: safe(
        () => Array.from(nav.mimeTypes).every((m) => plugins.indexOf(m.enabledPlugin) >= 0),
        false,
      ),
    };
  };

  // A macrotask boundary lets replies to the async probes be handled between the long
  // synchronous probes. MessageChannel rather than setTimeout: background tabs throttle
  // timers to one per second or slower, but not messages.
  const yieldTask = () =>
    new Promise((resolve) => {
      try {
        const ch = new MessageChannel();
        ch.port1.onmessage = () => {
          ch.port1.close();
          resolve();
        };
        ch.port2.postMessage(0);
      } catch (_) {
        setTimeout(resolve, 0);
      }
    });

  const collect = async () => {
    const t0 = performance.now();
    // Async probes start first: audio renders and storage answers off the main thread
    // while the synchronous canvas, WebGL and font work below occupies it.
    const pending = Promise.all([
      safe(audio),
      safe(storage),
      safe(uaData),
      safe(automation),
      safe(integrity),
    ].map((p) => Promise.resolve(p).catch(() => null)));
    const finishGl = safe(webgl, () => null);
    await yieldTask();
    const canvasResult = safe(canvas);
    await yieldTask();
    const fontsResult = safe(fonts, []);
    await yieldTask();
    const webglResult = safe(finishGl);
    const num = (v) => (typeof v === 'number' ? v : null);
    const c = {
      userAgent: safe(() => nav.userAgent, ''),
      uaData: null,
      platform: safe(() => nav.platform),
      vendor: safe(() => nav.vendor),
      productSub: safe(() => nav.productSub),
      appVersion: safe(() => nav.appVersion),
      languages: safe(() => (nav.languages && nav.languages.length ? Array.from(nav.languages) : [nav.language]), []),
      timezone: safe(() => Intl.DateTimeFormat().resolvedOptions().timeZone),
      timezoneOffset: safe(() => new Date().getTimezoneOffset()),
      screen: safe(() => ({
        w: screen.width,
        h: screen.height,
        availW: screen.availWidth,
        availH: screen.availHeight,
        colorDepth: screen.colorDepth,
        pixelRatio: w.devicePixelRatio,
      })),
      window: safe(() => ({ innerW: w.innerWidth, innerH: w.innerHeight, outerW: w.outerWidth, outerH: w.outerHeight })),
      hardwareConcurrency: safe(() => num(nav.hardwareConcurrency)),
      deviceMemory: safe(() => num(nav.deviceMemory)),
      maxTouchPoints: safe(() => nav.maxTouchPoints || 0, 0),
      cookieEnabled: safe(() => !!nav.cookieEnabled, false),
      doNotTrack: safe(() => {
        const v = nav.doNotTrack || w.doNotTrack || nav.msDoNotTrack;
        return v == null ? null : String(v);
      }),
      canvas: canvasResult,
      webgl: webglResult,
      audio: null,
      fonts: fontsResult,
      math: safe(math),
      storage: null,
      plugins: safe(() => Array.from(nav.plugins).map((p) => p.name + '::' + p.filename), []),
      mimeTypes: safe(() => Array.from(nav.mimeTypes).map((m) => m.type), []),
      pluginsArray: safe(() => typeof PluginArray !== 'undefined' && nav.plugins instanceof PluginArray, false),
      automation: null,
      integrity: null,
      behavior: null,
      timing: null,
    };
    [c.audio, c.storage, c.uaData, c.automation, c.integrity] = await pending;
    c.timing = { collectMs: Math.round((performance.now() - t0) * 100) / 100 };
    return c;
  };

  const fail = (message, status, code) => Object.assign(new Error(message), { status, code });

  const load = async (options) => {
    const o = options || {};
    const key = o.publicKey;
    if (typeof key !== 'string' || key.indexOf('pk_') !== 0) {
      throw new Error(
        typeof key === 'string' && key.indexOf('sk_') === 0
          ? 'Prynt.load: a secret key (sk_...) must never be sent to a browser; use your public key (pk_...)'
          : 'Prynt.load: publicKey must be a public key starting with "pk_"',
      );
    }
    const endpoint = String(o.endpoint || scriptOrigin || '').replace(/\/+$/, '');
    if (!endpoint) {
      throw new Error('Prynt.load: endpoint is required when the agent is not loaded from the Prynt server');
    }
    // Starting now hides most of the collection time behind the page's own work before
    // the first identify().
    let early = collect();

    const identify = async (opts) => {
      const p = opts || {};
      const components = early || collect();
      early = null;
      const [c, token] = await Promise.all([components, readToken().catch(() => null)]);
      const body = { publicKey: key };
      if (token) body.token = token;
      ['type', 'linkedId', 'tag'].forEach((k) => {
        if (p[k] !== undefined) body[k] = p[k];
      });
      body.url = location.origin + location.pathname;
      body.components = Object.assign({}, c, { behavior: safe(behaviour) });

      let res;
      try {
        // text/plain keeps this a CORS "simple request": no preflight round trip.
        res = await fetch(endpoint + '/v1/identify', {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain' },
          credentials: 'omit',
          body: JSON.stringify(body),
        });
      } catch (e) {
        throw fail('Prynt identify: network error (' + (e && e.message) + ')', 0, 'network_error');
      }
      const json = await res.json().catch(() => null);
      if (!res.ok) {
        const err = (json && json.error) || {};
        throw fail(err.message || 'Prynt identify failed with HTTP ' + res.status, res.status, err.code || null);
      }
      if (!json) throw fail('Prynt identify: the response is not JSON', res.status, 'invalid_response');
      const vt = safe(() => res.headers.get('X-Prynt-Visitor-Token'));
      if (vt) await writeToken(vt);
      return {
        requestId: json.requestId,
        visitorId: json.visitorId,
        confidence: json.confidence,
        visitorFound: json.visitorFound,
      };
    };

    return { identify, version };
  };

  return { load, collect, version };
})();
