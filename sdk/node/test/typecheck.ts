// Compiled (not run) by `npm run build`: uses the public API the way an application written in
// TypeScript would, so a generated type that makes normal use impossible fails the build.
import {
  PryntServer,
  PryntError,
  RateLimitError,
  ValidationError,
  verifyWebhookSignature,
  type Event,
  type EventSummary,
  type RuleCreated,
  type Workspace,
} from '../src/index.js';

export async function example(): Promise<void> {
  const prynt = new PryntServer({ secretKey: 'sk_test_x', baseUrl: 'http://127.0.0.1:8080', timeout: 5000, maxRetries: 0 });

  const event: Event = await prynt.getEvent('req_1707832921_a7f2c9');
  void event;
  await prynt.listEvents({ visitorId: 'pv_8kX2mNqR3jT7p', verdict: 'block', bot: true, limit: 10, before: new Date() });
  for await (const e of prynt.iterateEvents({ after: '2026-02-14T00:00:00Z' })) {
    const summary: EventSummary = e;
    void summary;
  }

  const created: RuleCreated = await prynt.createRule(
    {
      name: 'Block Bot Registrations',
      priority: 1,
      status: 'live',
      conditions: {
        operator: 'AND',
        rules: [{ field: 'signals.bot.detected', operator: 'equals', value: true }],
      },
      action: { verdict: 'block', sideEffects: [{ type: 'addToList', list: 'blocked_devices' }] },
    },
    { idempotencyKey: 'create-rule-1' },
  );
  void created;
  await prynt.updateRule('rul_9a7f2c4e8b1d', { status: 'paused' });
  await prynt.patchRule('rul_9a7f2c4e8b1d', { name: 'renamed' });
  await prynt.backtestRule('rul_9a7f2c4e8b1d', { days: 30, sampleSize: 5 });

  await prynt.createList({ name: 'blocked_devices', type: 'visitor', description: 'Confirmed fraud devices', ttl: 2592000 });
  await prynt.updateListEntries('lst_f3a8c7d2e1b4', { add: ['pv_8kX2mNqR3jT7p'], remove: ['pv_old_visitor_id'] });

  await prynt.createWebhook({ url: 'https://example.com/hook', events: ['identification', 'rule_match'], filters: { verdict: ['block', 'challenge'] } });
  await prynt.updateWebhook('whk_c4e8b1d2a7f3', { status: 'paused' });

  await prynt.getEventAnalytics({ from: new Date(0), to: '2026-02-14T00:00:00Z', groupBy: 'verdict' });
  await prynt.getSignalAnalytics({ from: '2026-02-01T00:00:00Z', to: new Date(), groupBy: 'signal' });

  const ws: Workspace = await prynt.updateWorkspace({ maskIp: true });
  void ws;

  try {
    await prynt.getVisitor('pv_8kX2mNqR3jT7p');
  } catch (e) {
    if (e instanceof RateLimitError) console.log(e.retryAfter);
    else if (e instanceof ValidationError) console.log(e.field);
    else if (e instanceof PryntError && e.code === 'invalid_api_key') console.log('check PRYNT_SECRET_KEY');
    else if (e instanceof PryntError) console.log(e.status, e.code, e.requestId);
  }

  const ok: boolean = verifyWebhookSignature('{}', new Headers(), 'whsec_x', { tolerance: 300 });
  const ok2: boolean = verifyWebhookSignature(Buffer.from('{}'), { 'x-prynt-signature': 'ab' }, ['a', 'b']);
  void ok;
  void ok2;
}
