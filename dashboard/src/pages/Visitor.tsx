import { PageTitle } from '../components/common';

export function VisitorSearch() {
  return <PageTitle>Visitors</PageTitle>;
}

export function VisitorPage(props: { visitorId: string }) {
  return <PageTitle>{`Visitor ${props.visitorId}`}</PageTitle>;
}
