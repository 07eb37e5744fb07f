import { PageTitle } from '../components/common';

export function EventPage(props: { requestId: string }) {
  return <PageTitle>{`Event ${props.requestId}`}</PageTitle>;
}
