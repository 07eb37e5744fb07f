import { PageTitle } from '../components/common';

export function Settings() {
  return <PageTitle>Settings</PageTitle>;
}
