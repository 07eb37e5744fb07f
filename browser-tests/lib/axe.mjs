// Accessibility checks of a page with axe-core, shared by the dashboard and demo tests.
import { AxeBuilder } from '@axe-core/playwright';

/**
 * axe-core's serious and critical violations on the page, as readable lines (rule, impact, help
 * and the first offending elements with axe's summary of what is wrong).
 */
export async function axeProblems(page) {
  // Only violations are detailed (passes and the rest are summarised): the same violations,
  // in a fraction of the time on a page with charts and long tables.
  const results = await new AxeBuilder({ page }).options({ resultTypes: ['violations'] }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 4)
        .map((n) => `      ${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ').trim()}`)
        .join('\n');
      const more = v.nodes.length > 4 ? `\n      … and ${v.nodes.length - 4} more` : '';
      return `axe ${v.id} (${v.impact}): ${v.help} [${v.nodes.length} element(s)]\n${nodes}${more}`;
    });
}
