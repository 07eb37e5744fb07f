import { PageTitle } from '../components/common';

export function Lists() {
  return <PageTitle>Lists</PageTitle>;
}
