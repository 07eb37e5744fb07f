import { PageTitle } from '../components/common';

export function Events() {
  return <PageTitle>Events</PageTitle>;
}
