// Reordering rules: which priorities to write when a rule moves in the list. Every PATCH makes
// a new version of the rule it touches, so a move changes one priority when the neighbours
// leave room for it, and only otherwise respaces the list as 10, 20, 30… (patching only the
// rules whose priority actually changes).

export interface Ordered {
  id: string;
  priority: number;
}

export interface ReorderPlan<T extends Ordered> {
  rows: T[];
  patches: { id: string; from: number; priority: number }[];
}

const MAX_PRIORITY = 1_000_000_000;
const STEP = 10;

/** Moves `rows[from]` to index `to` and says which priorities to write. */
export function planReorder<T extends Ordered>(rows: T[], from: number, to: number): ReorderPlan<T> {
  if (from === to || from < 0 || to < 0 || from >= rows.length || to >= rows.length) return { rows, patches: [] };
  const moved = rows[from];
  const order = rows.filter((_, i) => i !== from);
  order.splice(to, 0, moved);
  const prev = order[to - 1];
  const next = order[to + 1];
  let p: number | null = null;
  if (prev && next) {
    if (next.priority - prev.priority >= 2) p = prev.priority + Math.floor((next.priority - prev.priority) / 2);
  } else if (next) {
    if (next.priority >= 1) p = next.priority - STEP >= 0 ? next.priority - STEP : Math.floor(next.priority / 2);
  } else if (prev) {
    if (prev.priority + STEP <= MAX_PRIORITY) p = prev.priority + STEP;
  }
  if (p !== null) {
    return {
      rows: order.map((r) => (r === moved ? { ...r, priority: p! } : r)),
      patches: p === moved.priority ? [] : [{ id: moved.id, from: moved.priority, priority: p }],
    };
  }
  const patches: ReorderPlan<T>['patches'] = [];
  const respaced = order.map((r, i) => {
    const priority = (i + 1) * STEP;
    if (priority === r.priority) return r;
    patches.push({ id: r.id, from: r.priority, priority });
    return { ...r, priority };
  });
  return { rows: respaced, patches };
}
