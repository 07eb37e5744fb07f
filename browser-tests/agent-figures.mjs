// Prints the agent's two reported figures: gzipped size of the classic-wrapped file
// (zlib level 9) and the median collect() time over fresh page loads in headless Chromium.
// Usage: node agent-figures.mjs [loads=20]
import { gzipSync } from 'node:zlib';
import { launch, serveStatic, wrapClassic, readAgent } from './lib/browser.mjs';

const LOADS = Number(process.argv[2]) || 20;

const classic = wrapClassic(readAgent());
const gzipBytes = gzipSync(Buffer.from(classic, 'utf8'), { level: 9 }).length;

const site = await serveStatic({
  '/': '<!doctype html><meta charset="utf-8"><title>figures</title><script src="/agent.js"></script><body></body>',
  '/agent.js': classic,
  '/favicon.ico': { body: '', status: 204 },
});
const context = await launch({});
const times = [];
try {
  for (let i = 0; i < LOADS; i++) {
    // A new page per load: nothing warmed up inside the renderer's JS heap carries over.
    const page = await context.newPage();
    await page.goto(site.url + '/');
    times.push(await page.evaluate(() => window.Prynt.collect().then((c) => c.timing.collectMs)));
    await page.close();
  }
} finally {
  await context.close();
  await site.close();
}

const sorted = [...times].sort((a, b) => a - b);
const mid = sorted.length >> 1;
const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
const collectMedianMs = Math.round(median * 10) / 10;

console.log(
  `agent: ${classic.length} bytes classic-wrapped, ${gzipBytes} bytes gzipped (level 9); ` +
    `collect() median ${collectMedianMs} ms over ${LOADS} fresh page loads ` +
    `(min ${sorted[0]}, max ${sorted[sorted.length - 1]}) in headless Chromium`,
);
console.log(JSON.stringify({ gzipBytes, collectMedianMs }));
