// A one-time message carried from one rules page to the next across a navigation (a rule
// just created opens its own page; a rule just deleted returns to the list), with the
// backtest the editor showed so that it stays on screen after the first save.
import type { Schemas } from './api';

export interface RulesFlash {
  /** The page it is meant for: a rule id, or 'list'. */
  target: string;
  message: string;
  backtest?: { result: Schemas['BacktestResult']; testedKey: string; days: string; sampleSize: string };
}

let pending: RulesFlash | null = null;

export function setRulesFlash(f: RulesFlash) {
  pending = f;
}

/** Takes the message meant for `target`, if any (it is shown once). */
export function takeRulesFlash(target: string): RulesFlash | null {
  if (!pending || pending.target !== target) return null;
  const f = pending;
  pending = null;
  return f;
}
