// The running configuration as the admin API shows it: secrets already replaced by [REDACTED] on the server.
import { html } from 'htm/preact';
import { ErrorBox, JsonView, Loading, useApi } from '../components.js';

export function Config({ version }) {
  const state = useApi('/api/v1/config', version);
  if (state.error) return html`<div class="page"><h1>Configuration</h1><${ErrorBox} error=${state.error} /></div>`;
  if (!state.data) return html`<div class="page"><h1>Configuration</h1><${Loading} what="the configuration" /></div>`;
  return html`<div class="page">
    <h1>Configuration</h1>
    <p class="muted">The configuration serving now, after defaults and the last reload. Tokens, passwords and secret headers are redacted by tapwire before they leave the process.</p>
    <${JsonView} value=${state.data} label="running configuration" />
  </div>`;
}
