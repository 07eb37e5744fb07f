// Runs the real Prynt server binary for browser tests.
//
// The binary under target/ may be rebuilt by cargo while tests run, so it is first copied to
// a private temporary directory (once per test process) and only the copy is executed. Each
// startPrynt() gets its own fresh data directory, removed again by stop().
import { spawn } from 'node:child_process';
import { copyFile, chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const BROWSER_TESTS = resolve(HERE, '..');

/** The binary to copy: $PRYNT_BIN, else ../target/debug/prynt relative to browser-tests. */
export const PRYNT_BIN = process.env.PRYNT_BIN
  ? resolve(process.env.PRYNT_BIN)
  : resolve(BROWSER_TESTS, '..', 'target', 'debug', 'prynt');

const ANNOUNCE_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `bin args` to completion; never rejects for a non-zero exit. */
function run(bin, args, { env = {}, timeoutMs = 60_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, {
      env: { ...process.env, PRYNT_LOG: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : -1), signal, stdout, stderr });
    });
  });
}

let binCopy = null; // Promise<string>: path of this process's private copy

async function copyBinary() {
  await stat(PRYNT_BIN).catch(() => {
    throw new Error(`Prynt binary not found at ${PRYNT_BIN} (set PRYNT_BIN or build it with cargo build)`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'prynt-bin-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const dest = join(dir, 'prynt');
  // A copy taken while the linker is still writing the file is truncated or corrupt: check
  // that the copy runs, and retry for a while if it does not.
  let last = null;
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      await copyFile(PRYNT_BIN, dest);
      await chmod(dest, 0o755);
      const r = await run(dest, ['--version'], { timeoutMs: 30_000 });
      if (r.code === 0 && /prynt/i.test(r.stdout)) return dest;
      last = new Error(`copied binary failed --version (code ${r.code}): ${r.stderr || r.stdout}`);
    } catch (e) {
      last = e;
    }
    await sleep(2000);
  }
  throw new Error(`could not get a working copy of ${PRYNT_BIN}: ${last && last.message}`);
}

/** Path of this test process's private copy of the Prynt binary. */
export function pryntBinary() {
  if (!binCopy) {
    binCopy = copyBinary();
    binCopy.catch(() => {
      binCopy = null;
    });
  }
  return binCopy;
}

/**
 * Installs the pinned IP data packages with `prynt data fetch` into the target dir (the same
 * place the Rust tests use, so one download serves both) and resolves to its `ipdata` folder.
 */
export async function fetchIpData() {
  const dir = resolve(BROWSER_TESTS, '..', 'target', 'tmp', 'prynt-ipdata');
  const r = await run(await pryntBinary(), ['data', 'fetch', '--data-dir', dir], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`prynt data fetch failed (code ${r.code}):\n${r.stderr}`);
  return join(dir, 'ipdata');
}

/**
 * Starts `prynt serve` on a free loopback port with a fresh data directory.
 *
 * Resolves to `{ base, publicKey, secretKey, dataDir, cli, api, stop }`:
 * - `cli(args)` runs the same binary against this data directory (`--data-dir` is appended
 *   unless given) and resolves to `{ code, stdout, stderr }`;
 * - `api(method, path, body?, key = secretKey)` calls the HTTP API with a bearer key and
 *   resolves to `{ status, json, text, headers }` (`json` is null for a non-JSON body);
 * - `stop()` sends SIGTERM, waits for the exit and removes the data directory.
 * Rejects if the server exits or has not printed its keys and address within 60 s.
 */
export async function startPrynt({ env = {} } = {}) {
  const bin = await pryntBinary();
  const root = await mkdtemp(join(tmpdir(), 'prynt-data-'));
  const dataDir = join(root, 'data');
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, PRYNT_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let exited = null;
  const exit = new Promise((r) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      r(exited);
    }),
  );
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));

  const stopChild = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      let timer;
      const done = await Promise.race([exit, new Promise((r) => (timer = setTimeout(r, STOP_TIMEOUT_MS, null)))]);
      clearTimeout(timer);
      if (!done) {
        child.kill('SIGKILL');
        await exit;
      }
    }
  };
  const cleanup = async () => {
    await stopChild();
    await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };

  let announced;
  try {
    announced = await new Promise((resolvePromise, reject) => {
      const found = {};
      const timer = setTimeout(
        () => reject(new Error(`prynt serve did not announce itself within ${ANNOUNCE_TIMEOUT_MS / 1000} s\nstdout:\n${stdout}\nstderr:\n${stderr}`)),
        ANNOUNCE_TIMEOUT_MS,
      );
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      exit.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`prynt serve exited (code ${code}, signal ${signal}) before announcing itself\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      });
      child.stdout.on('data', (d) => {
        stdout += d;
        let m;
        // A new store's first key pair is written to a file in the data dir, never printed.
        if (!found.publicKey && /^first start: /m.test(stdout)) {
          const keys = readFileSync(join(dataDir, 'first-start-keys.txt'), 'utf8');
          found.publicKey = /^public key: (pk_test_\S+)\s*$/m.exec(keys)?.[1];
          found.secretKey = /^secret key: (sk_test_\S+)\s*$/m.exec(keys)?.[1];
        }
        if (!found.base && (m = /^listening on (http:\/\/127\.0\.0\.1:\d+)\s*$/m.exec(stdout))) found.base = m[1];
        if (found.publicKey && found.secretKey && found.base) {
          clearTimeout(timer);
          resolvePromise(found);
        }
      });
    });
  } catch (e) {
    await cleanup();
    throw e;
  }

  const { base, publicKey, secretKey } = announced;

  const cli = (args) => {
    const full = args.includes('--data-dir') || args.some((a) => a.startsWith('--data-dir=')) ? args : [...args, '--data-dir', dataDir];
    return run(bin, full).then(({ code, stdout: out, stderr: err }) => ({ code, stdout: out, stderr: err }));
  };

  const api = async (method, path, body, key = secretKey) => {
    const headers = {};
    if (key) headers.Authorization = `Bearer ${key}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(base + path, init);
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: left to `text`
    }
    return { status: res.status, json, text, headers: res.headers };
  };

  let stopped = null;
  const stop = () => (stopped ||= cleanup());

  return {
    base,
    publicKey,
    secretKey,
    dataDir,
    cli,
    api,
    stop,
    /** Everything the server has written to stderr so far (for failure messages). */
    stderr: () => stderr,
  };
}
