// Captures and replays: what tapwire recorded for replay. Until the admin API lists captures, the page
// explains how to make and replay one.
import { html } from 'htm/preact';
import { ErrorBox, Empty, JsonView, Loading, useApi } from '../components.js';

export function Captures({ version, features }) {
  const state = useApi(features.captures ? '/api/v1/captures' : null, version);
  if (state.error && state.error.status !== 404) return html`<div class="page"><h1>Captures and replays</h1><${ErrorBox} error=${state.error} /></div>`;
  if (!state.disabled && !state.error && !state.data) return html`<div class="page"><h1>Captures and replays</h1><${Loading} what="captures" /></div>`;
  const list = state.data ? (Array.isArray(state.data) ? state.data : (state.data.captures ?? [])) : [];
  if (list.length === 0) {
    return html`<div class="page"><h1>Captures and replays</h1><${Empty} title="No captures">
      <p>A capture records a route's trials (redacted before anything is written) as NDJSON, one HAR 1.2 entry per line, or into the store, so they can be replayed later against another version. Turn it on per route with <code>capture:</code> (<code>percentage</code>, <code>sampleBy</code>, <code>maxBodyBytes</code>; see docs/config.md).</p>
      <p>Then replay it and compare against the recorded answers, for example in CI:</p>
      <pre class="json">tapwire replay --input capture.ndjson --target http://127.0.0.1:3002 --speed 2x --compare</pre>
      <p class="muted">${state.disabled || state.error ? 'This tapwire has no capture API yet, so captures made with the CLI are not listed here.' : 'Nothing has been captured yet.'}</p>
    <//></div>`;
  }
  return html`<div class="page"><h1>Captures and replays</h1><${JsonView} value=${list} label="captures" /></div>`;
}
