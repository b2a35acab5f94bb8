// The dashboard shell: session and login, navigation by URL hash, the light/dark theme and the live
// event stream (Server-Sent Events from /api/v1/events, authenticated by the session cookie).
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { ErrorBox, Loading } from './components.js';
import { Captures } from './pages/captures.js';
import { Config } from './pages/config.js';
import { EndpointDetail } from './pages/endpoint.js';
import { Endpoints } from './pages/endpoints.js';
import { FindingDetail, Findings } from './pages/findings.js';
import { Overview } from './pages/overview.js';

const NAV = [
  ['overview', 'Overview'],
  ['endpoints', 'Endpoints'],
  ['findings', 'Findings'],
  ['captures', 'Captures'],
  ['config', 'Configuration'],
];
const MAX_SAMPLES = 600;

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] ?? 'overview', id: parts[1] };
}

function useHash() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** 'auto' follows prefers-color-scheme; the toggle pins light or dark (remembered in localStorage). */
function useTheme() {
  const [choice, setChoice] = useState(() => localStorage.getItem('tapwire-theme') ?? 'auto');
  const media = matchMedia('(prefers-color-scheme: dark)');
  const [systemDark, setSystemDark] = useState(media.matches);
  useEffect(() => {
    const on = (e) => setSystemDark(e.matches);
    media.addEventListener('change', on);
    return () => media.removeEventListener('change', on);
  }, []);
  const effective = choice === 'auto' ? (systemDark ? 'dark' : 'light') : choice;
  useEffect(() => {
    document.documentElement.dataset.theme = effective;
    localStorage.setItem('tapwire-theme', choice);
  }, [choice, effective]);
  const next = () => setChoice((c) => (c === 'auto' ? (systemDark ? 'light' : 'dark') : c === 'dark' ? 'light' : 'dark'));
  return { theme: effective, choice, next };
}

/** Samples and summaries from the event stream; `version` bumps on each summary so pages refetch. */
function useLive(enabled) {
  const [live, setLive] = useState({ samples: [], summary: undefined, version: 0, connected: false });
  useEffect(() => {
    if (!enabled) return undefined;
    const es = new EventSource('/api/v1/events');
    es.addEventListener('open', () => setLive((l) => ({ ...l, connected: true })));
    es.addEventListener('error', () => setLive((l) => ({ ...l, connected: false })));
    es.addEventListener('history', (e) => setLive((l) => ({ ...l, samples: JSON.parse(e.data).slice(-MAX_SAMPLES) })));
    es.addEventListener('sample', (e) => {
      const s = JSON.parse(e.data);
      setLive((l) => ({ ...l, samples: [...l.samples.slice(-(MAX_SAMPLES - 1)), s] }));
    });
    es.addEventListener('summary', (e) => setLive((l) => ({ ...l, summary: JSON.parse(e.data), version: l.version + 1 })));
    return () => es.close();
  }, [enabled]);
  return live;
}

function App() {
  const [session, setSession] = useState({ loading: true });
  const refresh = () =>
    api('/api/v1/session').then(
      (s) => setSession({ data: s }),
      (error) => setSession({ error }),
    );
  useEffect(() => {
    refresh();
  }, []);
  const theme = useTheme();
  const route = useHash();
  const authed = session.data?.authenticated === true;
  const live = useLive(authed);
  const main = useRef(null);
  useEffect(() => {
    // after navigation, move focus to the page so keyboard and screen-reader users start at its heading
    main.current?.focus({ preventScroll: true });
    scrollTo(0, 0);
  }, [route.page, route.id]);

  const logout = async () => {
    await api('/api/v1/logout', { method: 'POST', body: {} }).catch(() => undefined);
    refresh();
  };

  let content;
  if (session.loading) content = html`<${Loading} what="the session" />`;
  else if (session.error) content = html`<${ErrorBox} error=${session.error} />`;
  else if (!authed) content = html`<${Login} onDone=${refresh} />`;
  else content = page(route, live, theme.theme, session.data.features);

  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <a class="brand" href="#/overview" aria-label="tapwire overview"><span class="logo" aria-hidden="true"></span>tapwire</a>
      ${authed
        ? html`<nav aria-label="Pages">
            <ul>
              ${NAV.map(([key, label]) => html`<li key=${key}><a href=${`#/${key}`} aria-current=${route.page === key ? 'page' : undefined}>${label}</a></li>`)}
            </ul>
          </nav>`
        : ''}
      <div class="tools">
        ${authed ? html`<span class=${live.connected ? 'live on' : 'live'} title="live updates over Server-Sent Events" data-testid="live-status">${live.connected ? 'live' : 'offline'}</span>` : ''}
        <button type="button" class="ghost" onClick=${theme.next} aria-label=${`colour theme: ${theme.choice}; switch`} data-testid="theme-toggle">${theme.theme === 'dark' ? '☾ dark' : '☀ light'}</button>
        ${authed && session.data.tokenRequired ? html`<button type="button" class="ghost" onClick=${logout}>Log out</button>` : ''}
      </div>
    </header>
    <main id="main" ref=${main} tabindex="-1">${content}</main>
  `;
}

function page(route, live, theme, features) {
  const common = { version: live.version, theme, features };
  switch (route.page) {
    case 'endpoints':
      return route.id ? html`<${EndpointDetail} key=${route.id} id=${route.id} ...${common} />` : html`<${Endpoints} ...${common} />`;
    case 'findings':
      return route.id ? html`<${FindingDetail} key=${route.id} id=${route.id} ...${common} />` : html`<${Findings} ...${common} />`;
    case 'captures':
      return html`<${Captures} key=${route.id ?? ''} id=${route.id} ...${common} />`;
    case 'config':
      return html`<${Config} ...${common} />`;
    default:
      return html`<${Overview} live=${live} ...${common} />`;
  }
}

function Login({ onDone }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await api('/api/v1/login', { method: 'POST', body: { token } });
      setToken('');
      onDone();
    } catch (err) {
      setError(err.status === 401 ? 'That token is not right.' : err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="login" onSubmit=${submit} aria-labelledby="login-h">
    <h1 id="login-h">Log in</h1>
    <p>This tapwire's admin API has a token (<code>admin.token</code>). Enter it once: the browser keeps an HttpOnly session cookie, and the token is never put in a URL or stored by the page.</p>
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required value=${token} onInput=${(e) => setToken(e.currentTarget.value)} />
    <button type="submit" disabled=${busy}>Log in</button>
    ${error ? html`<p class="error" role="alert" data-testid="login-error">${error}</p>` : ''}
  </form>`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
