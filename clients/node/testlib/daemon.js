// testlib/daemon.js — starts the real spanvaultd for the e2e tests (not a
// test file itself). The daemon runs in a short temp dir (Unix socket paths
// are limited to 107 bytes) with UDP off and its HTTP listener on a free
// loopback port read from its "listening" log line; restart() starts it
// again on the same state and runtime dirs.
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export function daemonBinary() {
  return process.env.SPANVAULTD || path.resolve(here, '../../../build/spanvaultd');
}

/** {skip: reason|false}: absent binary skips, except under CI=true (fails). */
export function daemonAvailability() {
  const bin = daemonBinary();
  if (fs.existsSync(bin)) return {bin, skip: false};
  if (process.env.CI === 'true') throw new Error(`spanvaultd not found at ${bin} (set SPANVAULTD); CI=true makes this fatal`);
  return {bin, skip: `spanvaultd not found at ${bin} (set SPANVAULTD)`};
}

export async function waitFor(cond, {timeoutMs = 15000, intervalMs = 20, what = 'condition'} = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, intervalMs));
  }
}

export class Daemon {
  constructor(bin, extra = []) {
    this.bin = bin;
    this.extra = extra;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svn-'));
    this.socket = path.join(this.dir, 'run', 'spans.sock');
    this.child = null;
    this.url = null;
    this.log = '';
  }

  async start() {
    const argv = ['--udp', 'off', '--http', '127.0.0.1:0', '--log-level', 'info',
      '--state-dir', path.join(this.dir, 'state'), '--runtime-dir', path.join(this.dir, 'run'), ...this.extra];
    const env = {...process.env};
    for (const k of Object.keys(env)) if (k.startsWith('SPANVAULT_')) delete env[k];
    const child = spawn(this.bin, argv, {stdio: ['ignore', 'ignore', 'pipe'], env});
    this.child = child;
    let buf = '';
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`spanvaultd did not listen within 30 s:\n${this.log}`)), 30000);
      child.stderr.on('data', chunk => {
        this.log += chunk;
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) !== -1) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            const j = JSON.parse(line);
            if (j.msg === 'listening' && j.transport === 'http') {
              clearTimeout(timer);
              resolve(`http://${j.address}`);
            }
          } catch {
            // not JSON
          }
        }
      });
      child.once('exit', code => {
        clearTimeout(timer);
        reject(new Error(`spanvaultd exited (${code}):\n${this.log}`));
      });
    });
    await waitFor(() => fetch(`${this.url}/readyz`).then(r => r.ok).catch(() => false),
      {timeoutMs: 30000, intervalMs: 50, what: 'readyz'});
    await waitFor(() => fs.existsSync(this.socket), {what: 'spans.sock'});
    return this;
  }

  /** Stops with a signal and waits for the exit. */
  stop(signal = 'SIGTERM') {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise(resolve => {
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async close() {
    await this.stop('SIGTERM');
    fs.rmSync(this.dir, {recursive: true, force: true});
  }

  async get(p) {
    const r = await fetch(this.url + p);
    const body = await r.json().catch(() => null);
    return {status: r.status, body};
  }

  /** The trace's stored spans (canonical), or null while it is absent. */
  async traceSpans(traceId) {
    const r = await this.get(`/api/traces/${traceId}`);
    if (r.status !== 200) return null;
    return r.body.spans.map(s => s.span);
  }

  /** Waits until the trace holds at least n spans; returns them. */
  waitTrace(traceId, n, timeoutMs = 15000) {
    return waitFor(async () => {
      const s = await this.traceSpans(traceId);
      return s !== null && s.length >= n ? s : null;
    }, {timeoutMs, intervalMs: 50, what: `trace ${traceId} with ${n} spans`});
  }

  /** Every stored span id matching the filter params (NDJSON export). */
  async exportSpanIds(params = {}) {
    const q = new URLSearchParams({from: '7d', ...params}).toString();
    const r = await fetch(`${this.url}/api/export?${q}`);
    const text = await r.text();
    const ids = new Set();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        ids.add(JSON.parse(line).span_id);
      } catch {
        // ignore
      }
    }
    return ids;
  }
}
