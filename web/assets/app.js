// The trace explorer: hash routes, the header, the theme.
//   #/traces?filters   the trace list        #/trace/ID[?span=SPAN]  one trace
//   #/session/ID       a session, turn by turn  #/costs?filters       cost & usage
import {h, clear} from './dom.js';
import {renderList} from './list.js';
import {renderTrace} from './trace.js';
import {renderSession} from './session.js';
import {renderCosts} from './charts.js';

const main = h('main', {id: 'main', tabindex: '-1'});
let cleanup = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?', 2);
  const parts = path.split('/').map(decodeURIComponent);
  return {page: parts[0] || 'traces', id: parts.slice(1).join('/'), params: new URLSearchParams(qs || '')};
}

export function navigate(hash, replace = false) {
  if (replace) history.replaceState(null, '', hash);
  else location.hash = hash;
  if (replace) route();
}

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  clear(main);
  const {page, id, params} = parseHash();
  for (const a of document.querySelectorAll('nav a')) {
    a.setAttribute('aria-current', a.dataset.page === page || (a.dataset.page === 'traces' && page === 'trace') ? 'page' : 'false');
  }
  const ctx = {root: main, id, params, navigate};
  let r;
  if (page === 'trace' && id) r = renderTrace(ctx);
  else if (page === 'session' && id) r = renderSession(ctx);
  else if (page === 'costs') r = renderCosts(ctx);
  else r = renderList(ctx);
  if (typeof r === 'function') cleanup = r;
}

function setTheme(t, remember = true) {
  document.documentElement.dataset.theme = t;
  if (!remember) return;
  try {
    localStorage.setItem('sv-theme', t);
  } catch {
    /* private mode */
  }
}

function init() {
  let theme = 'dark';
  try {
    theme = localStorage.getItem('sv-theme') || (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark');
  } catch {
    /* default */
  }
  setTheme(theme, false);
  const header = h('header', {class: 'top'},
    h('a', {class: 'brand', href: '#/traces'}, 'spanvault'),
    h('nav', {'aria-label': 'pages'},
      h('a', {href: '#/traces', 'data-page': 'traces'}, 'Traces'),
      h('a', {href: '#/costs', 'data-page': 'costs'}, 'Cost & usage')),
    h('button', {class: 'ghost', type: 'button', title: 'Switch dark / light',
      onclick: () => setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark')}, '◐ theme'));
  document.body.append(h('a', {class: 'skip', href: '#main', onclick: e => { e.preventDefault(); main.focus(); }}, 'Skip to content'), header, main);
  addEventListener('hashchange', route);
  route();
}

init();
