// Input and output for people: OpenAI / Anthropic message lists as a chat,
// other JSON as a collapsible tree. Text only ever goes in as text nodes.
import {h} from './dom.js';

const isObj = v => v !== null && typeof v === 'object' && !Array.isArray(v);
const isMsg = v => isObj(v) && typeof v.role === 'string' && ('content' in v || 'tool_calls' in v || 'parts' in v);

// The messages a value holds, or null when it is not a conversation:
// [{role, content}], {messages: [...]}, {role, content},
// {choices: [{message}]} (OpenAI), {type: "message", role, content} (Anthropic).
export function asMessages(v) {
  if (Array.isArray(v) && v.length && v.every(isMsg)) return v;
  if (isObj(v)) {
    if (Array.isArray(v.messages) && v.messages.length && v.messages.every(isMsg)) {
      return typeof v.system === 'string' ? [{role: 'system', content: v.system}, ...v.messages] : v.messages;
    }
    if (isMsg(v)) return [v];
    if (Array.isArray(v.choices) && v.choices.length && v.choices.every(c => isObj(c) && isMsg(c.message))) return v.choices.map(c => c.message);
  }
  return null;
}

function partEl(p) {
  if (typeof p === 'string') return h('div', {class: 'text'}, p);
  if (!isObj(p)) return jsonTree(p);
  if (typeof p.text === 'string') return h('div', {class: 'text'}, p.text);
  if (p.type === 'image_url' || p.type === 'image') {
    const src = p.image_url && (p.image_url.url || p.image_url);
    return h('div', {class: 'part'}, '🖼 image', typeof src === 'string' && !src.startsWith('data:') ? ` ${src}` : '');
  }
  if (p.type === 'tool_use') return h('div', {class: 'part tool'}, h('b', {}, `→ tool ${p.name || ''}`), jsonTree(p.input, true));
  if (p.type === 'tool_result') {
    return h('div', {class: 'part tool'}, h('b', {}, '← tool result'), contentEl(p.content));
  }
  return jsonTree(p, true);
}

function contentEl(c) {
  if (c === undefined || c === null) return null;
  if (typeof c === 'string') return h('div', {class: 'text'}, c);
  if (Array.isArray(c)) return h('div', {class: 'parts'}, c.map(partEl));
  return jsonTree(c, true);
}

export function chatEl(messages) {
  return h('div', {class: 'chat'}, messages.map(m => {
    const role = String(m.role);
    const calls = Array.isArray(m.tool_calls) ? m.tool_calls.map(tc => {
      const f = tc.function || tc;
      let args = f.arguments;
      if (typeof args === 'string') {
        try {
          args = JSON.parse(args);
        } catch {
          /* shown as text */
        }
      }
      return h('div', {class: 'part tool'}, h('b', {}, `→ tool ${f.name || ''}`), typeof args === 'string' ? h('div', {class: 'text'}, args) : jsonTree(args, true));
    }) : [];
    return h('div', {class: `msg role-${role.replace(/[^a-z_]/gi, '')}`},
      h('div', {class: 'role'}, role, m.name ? ` · ${m.name}` : ''),
      contentEl(m.content ?? m.parts), calls);
  }));
}

// A collapsible JSON tree (<details>: keyboard-usable as is).
export function jsonTree(v, open = false, key = null, depth = 0) {
  const label = key === null ? null : h('span', {class: 'jk'}, `${key}: `);
  if (v === null || typeof v !== 'object') {
    const cls = v === null ? 'jnull' : typeof v === 'string' ? 'jstr' : typeof v === 'number' ? 'jnum' : 'jbool';
    return h('div', {class: 'jleaf'}, label, h('span', {class: cls}, typeof v === 'string' ? JSON.stringify(v) : String(v)));
  }
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  const sum = Array.isArray(v) ? `[${entries.length}]` : `{${entries.length}}`;
  const d = h('details', {class: 'jnode'}, h('summary', {}, label, h('span', {class: 'jsum'}, sum)));
  if (open || depth < 2) d.open = true;
  // Children are built when first opened: a large value costs nothing until then.
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    d.append(h('div', {class: 'jkids'}, entries.map(([k, x]) => jsonTree(x, false, k, depth + 1))));
  };
  if (d.open) build();
  else d.addEventListener('toggle', build, {once: true});
  return d;
}

// Any value, the most readable way.
export function valueEl(v) {
  if (v === undefined) return null;
  const msgs = asMessages(v);
  if (msgs) return chatEl(msgs);
  if (typeof v === 'string') return h('pre', {class: 'text'}, v);
  return h('div', {class: 'json'}, jsonTree(v, true));
}
