import { PageTitle } from '../components/common';

export function ListPage(props: { listId: string }) {
  return <PageTitle>{`List ${props.listId}`}</PageTitle>;
}
