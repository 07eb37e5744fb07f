import { PageTitle } from '../components/common';

export function WebhookPage(props: { id: string }) {
  return <PageTitle>{`Webhook ${props.id}`}</PageTitle>;
}
