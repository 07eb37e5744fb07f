// A webhook receiver that accepts only deliveries signed by Prynt.
//
//   PRYNT_WEBHOOK_SECRET=whsec_… npm start
//
// Point a webhook at http://127.0.0.1:4000/webhooks/prynt (plain http to loopback needs
// `prynt serve --dev-allow-loopback-webhooks`; production receivers are https). Each verified
// payload is printed as one JSON line; a forged or replayed one is answered 400 and never acted
// on. Settings (environment): PORT (default 4000), HOST (default 127.0.0.1), and during a
// secret rotation PRYNT_WEBHOOK_SECRET_PREVIOUS, the secret being replaced.
import { createServer } from 'node:http';
import { verifyWebhookSignature } from '@prynt/node';

const SECRETS = [process.env.PRYNT_WEBHOOK_SECRET, process.env.PRYNT_WEBHOOK_SECRET_PREVIOUS].filter(Boolean);
const PORT = Number(process.env.PORT || 4000);
const HOST = process.env.HOST || '127.0.0.1';
const MAX_BODY = 1024 * 1024;
// The signed timestamp may be this far from our clock (seconds): an old delivery captured on
// the way cannot be replayed later.
const TOLERANCE_S = 300;

if (SECRETS.length === 0) {
  console.error('Set PRYNT_WEBHOOK_SECRET to the secret shown when the webhook was created.');
  process.exit(2);
}

// Delivery is at least once: the same payload id can arrive twice. A real receiver keeps the
// ids it handled in its database.
const seen = new Set();

function answer(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain' }).end(text);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhooks/prynt') return answer(res, 404, 'not found\n');
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    // The signature covers the raw bytes: verify before parsing anything.
    const raw = Buffer.concat(chunks);
    if (!verifyWebhookSignature(raw, req.headers, SECRETS, { tolerance: TOLERANCE_S })) {
      console.log(JSON.stringify({ verified: false, delivery: req.headers['x-prynt-delivery'] ?? null }));
      return answer(res, 400, 'bad signature\n');
    }
    let payload;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      return answer(res, 400, 'not JSON\n');
    }
    const duplicate = seen.has(payload.id);
    seen.add(payload.id);
    console.log(
      JSON.stringify({
        verified: true,
        duplicate,
        id: payload.id,
        event: payload.event,
        requestId: payload.data?.requestId ?? null,
        verdict: payload.data?.verdict ?? null,
      }),
    );
    // Answer fast; slow work belongs in a queue (a receiver that takes too long is retried).
    answer(res, 200, 'ok\n');
  });
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`receiver listening on http://${HOST}:${port}/webhooks/prynt`);
});
