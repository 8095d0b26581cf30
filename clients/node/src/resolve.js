// resolve.js — where the daemon's stream socket is, like the spanvault CLI.
//
// Contract: resolveSocket({env, uid, cwd, exists}) → an absolute-or-relative
// path to spans.sock (all arguments optional, for tests). Order:
// $SPANVAULT_SOCKET; else $SPANVAULT_INGEST_UNIX_STREAM when absolute; else
// RUNTIME_DIR/spans.sock with RUNTIME_DIR = $SPANVAULT_RUNTIME_DIR, or
// /run/spanvault as root, or $XDG_RUNTIME_DIR/spanvault, or
// ./spanvault-data/run. When that file does not exist, the first existing of
// $XDG_RUNTIME_DIR/spanvault/spans.sock, /run/spanvault/spans.sock,
// ./spanvault-data/run/spans.sock is used instead (a non-root app finds the
// system daemon); if none exists, the first choice is returned.
import fs from 'node:fs';
import path from 'node:path';

export function resolveSocket(opts = {}) {
  const env = opts.env || process.env;
  const uid = opts.uid !== undefined ? opts.uid : (typeof process.getuid === 'function' ? process.getuid() : -1);
  const cwd = opts.cwd || process.cwd();
  const exists = opts.exists || (p => {
    try {
      fs.statSync(p);
      return true;
    } catch {
      return false;
    }
  });
  const xdg = env.XDG_RUNTIME_DIR;
  let chosen;
  if (env.SPANVAULT_SOCKET) chosen = env.SPANVAULT_SOCKET;
  else if (env.SPANVAULT_INGEST_UNIX_STREAM && path.isAbsolute(env.SPANVAULT_INGEST_UNIX_STREAM)) {
    chosen = env.SPANVAULT_INGEST_UNIX_STREAM;
  } else {
    let dir;
    if (env.SPANVAULT_RUNTIME_DIR) dir = env.SPANVAULT_RUNTIME_DIR;
    else if (uid === 0) dir = '/run/spanvault';
    else if (xdg) dir = path.join(xdg, 'spanvault');
    else dir = path.join(cwd, 'spanvault-data', 'run');
    chosen = path.join(dir, 'spans.sock');
  }
  if (exists(chosen)) return chosen;
  const fallbacks = [];
  if (xdg) fallbacks.push(path.join(xdg, 'spanvault', 'spans.sock'));
  fallbacks.push('/run/spanvault/spans.sock');
  fallbacks.push(path.join(cwd, 'spanvault-data', 'run', 'spans.sock'));
  for (const f of fallbacks) if (f !== chosen && exists(f)) return f;
  return chosen;
}
