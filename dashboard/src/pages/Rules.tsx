import { PageTitle } from '../components/common';

export function Rules() {
  return <PageTitle>Rules</PageTitle>;
}
