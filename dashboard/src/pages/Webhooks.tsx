import { PageTitle } from '../components/common';

export function Webhooks() {
  return <PageTitle>Webhooks</PageTitle>;
}
