import { PageTitle } from '../components/common';

export function RuleEditor(props: { ruleId: string | null }) {
  return <PageTitle>{props.ruleId ? `Rule ${props.ruleId}` : 'New rule'}</PageTitle>;
}
