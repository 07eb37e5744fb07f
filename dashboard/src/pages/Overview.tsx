import { PageTitle } from '../components/common';

export function Overview() {
  return <PageTitle>Overview</PageTitle>;
}
