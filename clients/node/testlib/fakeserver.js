// testlib/fakeserver.js — a tiny stand-in for spanvaultd's stream socket,
// for unit tests (not a test file itself): it records every span line and
// answers each {"$sync": ID} with the counts since the previous barrier.
// Options: reject(span) → a reason string to refuse a line; hold → do not
// answer barriers until release() is called; failSyncs → answer that many
// barriers with {"error": ...} (the store failed), forgetting their spans.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export class FakeServer {
  constructor({reject, hold = false, failSyncs = 0} = {}) {
    this.failSyncs = failSyncs;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'svf-'));
    this.path = path.join(this.dir, 'spans.sock');
    this.spans = [];
    this.syncs = 0;
    this.connections = new Set();
    this.reject = reject;
    this.hold = hold;
    this.held = [];
    this.server = net.createServer(c => this._onConn(c));
  }

  start() {
    return new Promise(resolve => this.server.listen(this.path, () => resolve(this)));
  }

  _onConn(c) {
    this.connections.add(c);
    c.on('close', () => this.connections.delete(c));
    c.on('error', () => {});
    c.setEncoding('utf8');
    let buf = '';
    let accepted = 0;
    let rejected = 0;
    let lineNo = 0;
    let errors = [];
    c.on('data', chunk => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lineNo++;
        if (line.trim() === '') continue;
        const v = JSON.parse(line);
        if (v !== null && typeof v === 'object' && '$sync' in v) {
          this.syncs++;
          let answer = JSON.stringify({$sync: v.$sync, accepted, rejected, errors}) + '\n';
          if (this.failSyncs > 0) {
            this.failSyncs--;
            this.spans.splice(this.spans.length - accepted, accepted);
            answer = JSON.stringify({$sync: v.$sync, accepted: 0, rejected: 0, errors: [], error: 'store failed: disk full'}) + '\n';
          }
          accepted = 0;
          rejected = 0;
          errors = [];
          if (this.hold) this.held.push(() => c.write(answer));
          else c.write(answer);
          continue;
        }
        const reason = this.reject ? this.reject(v) : null;
        if (reason) {
          rejected++;
          errors.push({line: lineNo, reason});
        } else {
          accepted++;
          this.spans.push(v);
        }
      }
    });
  }

  release() {
    this.hold = false;
    const h = this.held;
    this.held = [];
    for (const f of h) f();
  }

  /** Drops every connection (as a dying daemon would). */
  dropConnections() {
    for (const c of this.connections) c.destroy();
  }

  byName(name) {
    return this.spans.filter(s => s.name === name);
  }

  async close() {
    this.dropConnections();
    await new Promise(r => this.server.close(() => r()));
    fs.rmSync(this.dir, {recursive: true, force: true});
  }
}
