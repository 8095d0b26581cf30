// A session, turn by turn: each trace's root input and output as a chat.
import {h, clear, fmtCost, fmtDuration, fmtTime, fmtTokens, kv, message} from './dom.js';
import {getSession} from './api.js';
import {asMessages, chatEl, valueEl} from './chat.js';

// A turn's side as chat messages when it can be one (a bare string is a
// message of `role`), else the value as is.
function side(v, role) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return chatEl([{role, content: v}]);
  if (asMessages(v)) return valueEl(v);
  return h('div', {class: `msg role-${role}`}, h('div', {class: 'role'}, role), valueEl(v));
}

export function renderSession({root, id}) {
  let alive = true;
  root.append(message('Loading session…'));
  getSession(id).then(s => {
    if (!alive) return;
    clear(root);
    const t = s.totals || {};
    root.append(h('a', {class: 'back', href: '#/traces'}, '← traces'),
      h('div', {class: 'page-head'}, h('h1', {}, 'Session ', h('code', {}, s.session_id))),
      kv([['Traces', String(t.traces ?? (s.traces || []).length)], ['Spans', String(t.spans ?? '')], ['Errors', String(t.errors ?? 0)],
        ['Tokens', fmtTokens(t.total_tokens)], ['Cost', fmtCost(t.cost)],
        ['Filter', h('a', {href: `#/traces?session=${encodeURIComponent(s.session_id)}`}, 'these traces in the list')]]),
      h('ol', {class: 'turns'}, (s.traces || []).map((tr, i) => h('li', {class: `turn${tr.status === 'error' ? ' err' : ''}`},
        h('div', {class: 'turn-head'},
          h('span', {class: 'turn-no'}, `Turn ${i + 1}`),
          h('a', {href: `#/trace/${encodeURIComponent(tr.trace_id)}`}, tr.name || tr.trace_id),
          h('span', {class: 'note'}, `${fmtTime(tr.start_time)} · ${fmtDuration(tr.duration_ms)} · ${fmtTokens(tr.total_tokens)} tok · ${fmtCost(tr.cost)}`),
          tr.status === 'error' ? h('span', {class: 'status s-error'}, 'error') : null),
        side(tr.input, 'user'), side(tr.output, 'assistant')))));
    if (!(s.traces || []).length) root.append(message('This session has no traces.'));
  }).catch(e => {
    if (!alive) return;
    clear(root);
    root.append(h('p', {class: 'note error'}, `Could not load session ${id}: ${e.message}`), h('a', {href: '#/traces'}, '← back to traces'));
  });
  return () => {
    alive = false;
  };
}
