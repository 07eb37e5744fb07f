import { render } from 'preact';
import { App } from './app';
import { restoreSession } from './session';
import './styles.css';

restoreSession().then((initial) => {
  const root = document.getElementById('app');
  if (root) render(<App initial={initial} />, root);
});
