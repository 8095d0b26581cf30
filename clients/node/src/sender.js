// sender.js — the bounded queue and the Unix-socket writer.
//
// Contract:
// * enqueue(line) is O(1) and never throws; it returns false and counts
//   droppedQueueFull when the queue (waiting + unanswered lines) would exceed
//   maxQueueSpans or maxQueueBytes (bytes counted as UTF-16 length).
// * Writing happens later, off the caller's stack: at once (setImmediate)
//   when a batch is full or flush() asked, else after flushIntervalMs. All
//   timers and the socket are unref'd: the sender never keeps a process alive
//   by itself.
// * One connection. Each write carries up to batchSize lines (≤ 256 KiB)
//   followed by {"$sync": N}; batches are pipelined (at most maxInflight
//   unanswered) and stay in memory until their answer arrives
//   (confirmed += accepted, rejected += rejected).
// * On close/error every unanswered batch goes back to the front of the queue,
//   in order, and is sent again after reconnecting (exponential backoff 50 ms
//   → 2 s). Delivery is therefore at-least-once: a batch the daemon stored
//   just before the connection died is sent twice.
// * flush(timeoutMs) resolves true once every line enqueued before the call
//   has been answered by a $sync, false on timeout; it never rejects.
import net from 'node:net';

const MAX_BATCH_CHARS = 256 * 1024;
const BACKOFF_MIN = 50;
const BACKOFF_MAX = 2000;

export class Sender {
  constructor({socketPath, maxQueueSpans, maxQueueBytes, batchSize, flushIntervalMs, maxInflight = 64}) {
    this.socketPath = socketPath; // string or () => string
    this.maxQueueSpans = maxQueueSpans;
    this.maxQueueBytes = maxQueueBytes;
    this.batchSize = Math.max(1, batchSize | 0);
    this.flushIntervalMs = Math.max(0, flushIntervalMs);
    this.maxInflight = maxInflight;

    this.q = []; // lines waiting to be written
    this.qHead = 0;
    this.qBytes = 0; // bytes of waiting lines
    // [{id, payload, count, bytes}] written, unanswered (in order). The
    // batch is kept as the one string written (less for the GC to copy than
    // its lines); it is split again only to re-send after a reconnect.
    this.inflight = [];
    this.inflightSpans = 0;
    this.inflightBytes = 0;

    this.enqueuedTotal = 0; // lines accepted into the queue, ever
    this.answeredTotal = 0; // lines covered by an answered $sync, ever
    this.syncSeq = 0;
    this.waiters = []; // flush waiters [{target, resolve, timer}]

    this.socket = null;
    this.connected = false;
    this.connecting = false;
    this.waitingDrain = false;
    this.closed = false;
    this.everConnected = false;
    this.backoff = BACKOFF_MIN;
    this.reconnectTimer = null;
    this.writeScheduled = null; // Immediate
    this.intervalTimer = null;
    this.readBuf = '';

    this.counters = {sent: 0, confirmed: 0, rejected: 0, droppedQueueFull: 0, reconnects: 0};
    this.lastError = null;
  }

  get queueSpans() {
    return this.q.length - this.qHead + this.inflightSpans;
  }
  get queueBytes() {
    return this.qBytes + this.inflightBytes;
  }

  enqueue(line) {
    if (this.closed) return false;
    const n = line.length;
    if (this.q.length - this.qHead + this.inflightSpans >= this.maxQueueSpans ||
        this.qBytes + this.inflightBytes + n > this.maxQueueBytes) {
      this.counters.droppedQueueFull++;
      return false;
    }
    this.q.push(line);
    this.qBytes += n;
    this.enqueuedTotal++;
    if (this.q.length - this.qHead >= this.batchSize) this._scheduleNow();
    else if (this.intervalTimer === null && this.writeScheduled === null) this._scheduleLater();
    return true;
  }

  // ---- scheduling -------------------------------------------------------

  _scheduleNow() {
    if (this.writeScheduled !== null) return;
    this.writeScheduled = setImmediate(() => {
      this.writeScheduled = null;
      this._pump();
    });
    this.writeScheduled.unref();
  }

  _scheduleLater() {
    if (this.flushIntervalMs === 0) return this._scheduleNow();
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = null;
      this._pump();
    }, this.flushIntervalMs);
    this.intervalTimer.unref();
  }

  _pump() {
    if (this.closed) return;
    if (this.q.length - this.qHead === 0) return;
    if (!this.connected) {
      this._connect();
      return;
    }
    this._write();
  }

  // ---- connection -------------------------------------------------------

  _path() {
    return typeof this.socketPath === 'function' ? this.socketPath() : this.socketPath;
  }

  _connect() {
    if (this.connecting || this.connected || this.reconnectTimer !== null || this.closed) return;
    this.connecting = true;
    let sock;
    try {
      sock = net.createConnection({path: this._path()});
    } catch (e) {
      this.connecting = false;
      this.lastError = `connect: ${e && e.message}`;
      this._scheduleReconnect();
      return;
    }
    sock.unref();
    sock.setEncoding('utf8');
    this.socket = sock;
    sock.on('connect', () => {
      if (this.socket !== sock) return;
      this.connecting = false;
      this.connected = true;
      if (this.everConnected) this.counters.reconnects++;
      this.everConnected = true;
      this.readBuf = '';
      this._write();
    });
    sock.on('data', chunk => {
      if (this.socket === sock) this._onData(chunk);
    });
    sock.on('drain', () => {
      if (this.socket !== sock) return;
      this.waitingDrain = false;
      this._write();
    });
    sock.on('error', e => {
      if (this.socket === sock) this.lastError = `socket: ${e && e.message}`;
    });
    sock.on('close', () => {
      if (this.socket === sock) this._onClose();
    });
  }

  _onClose() {
    this.socket = null;
    this.connected = false;
    this.connecting = false;
    this.waitingDrain = false;
    this.readBuf = '';
    this._requeueInflight();
    if (!this.closed && (this.q.length - this.qHead > 0 || this.waiters.length > 0)) this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.reconnectTimer !== null || this.closed) return;
    const delay = this.backoff;
    this.backoff = Math.min(BACKOFF_MAX, this.backoff * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.q.length - this.qHead > 0 || this.waiters.length > 0) this._connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  // Unanswered batches go back to the front of the queue, oldest first.
  _requeueInflight() {
    if (this.inflight.length === 0) return;
    const back = [];
    for (const b of this.inflight) {
      const lines = b.payload.split('\n');
      for (let k = 0; k < b.count; k++) back.push(lines[k]);
    }
    const rest = this.q.length - this.qHead > 0 ? this.q.slice(this.qHead) : [];
    this.q = back.concat(rest);
    this.qHead = 0;
    this.qBytes += this.inflightBytes;
    this.inflight = [];
    this.inflightSpans = 0;
    this.inflightBytes = 0;
  }

  // ---- writing ----------------------------------------------------------

  _write() {
    const sock = this.socket;
    while (this.connected && !this.waitingDrain && this.inflight.length < this.maxInflight &&
           this.q.length - this.qHead > 0) {
      const start = this.qHead;
      const end = Math.min(this.q.length, start + this.batchSize);
      let i = start;
      let chars = 0;
      while (i < end && (i === start || chars + this.q[i].length + 1 <= MAX_BATCH_CHARS)) {
        chars += this.q[i].length + 1;
        i++;
      }
      const count = i - start;
      let payload = this.q[start];
      this.q[start] = undefined;
      for (let k = start + 1; k < i; k++) {
        payload += '\n' + this.q[k];
        this.q[k] = undefined;
      }
      this.qHead = i;
      const bytes = payload.length - (count - 1);
      this.qBytes -= bytes;
      if (this.qHead > 4096 && this.qHead * 2 > this.q.length) {
        this.q = this.q.slice(this.qHead);
        this.qHead = 0;
      }
      const id = ++this.syncSeq;
      payload += '\n{"$sync":' + id + '}\n';
      this.inflight.push({id, payload, count, bytes});
      this.inflightSpans += count;
      this.inflightBytes += bytes;
      this.counters.sent += count;
      let ok;
      try {
        ok = sock.write(payload);
      } catch (e) {
        this.lastError = `write: ${e && e.message}`;
        sock.destroy();
        return;
      }
      if (!ok) this.waitingDrain = true;
    }
    if (this.q.length - this.qHead === 0 && this.qHead > 0) {
      this.q = [];
      this.qHead = 0;
    }
  }

  // ---- reading answers --------------------------------------------------

  _onData(chunk) {
    let buf = this.readBuf + chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') this._onLine(line);
      if (this.socket === null || this.socket.destroyed) return;
    }
    this.readBuf = buf;
  }

  _onLine(line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      this.lastError = `bad answer: ${line.slice(0, 200)}`;
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    if (!('$sync' in msg)) {
      if (msg.error) this.lastError = String(msg.error);
      return;
    }
    const b = this.inflight[0];
    if (b === undefined || b.id !== msg.$sync) {
      this.lastError = `unexpected $sync answer ${JSON.stringify(msg.$sync)}`;
      return;
    }
    if (msg.error) {
      // The store failed: nothing of this batch is durable. Keep it and
      // resend after reconnecting.
      this.lastError = `daemon: ${msg.error}`;
      if (this.socket !== null) this.socket.destroy();
      return;
    }
    this.inflight.shift();
    this.inflightSpans -= b.count;
    this.inflightBytes -= b.bytes;
    this.answeredTotal += b.count;
    this.counters.confirmed += Number(msg.accepted) || 0;
    const rej = Number(msg.rejected) || 0;
    this.counters.rejected += rej;
    if (rej > 0 && Array.isArray(msg.errors) && msg.errors.length > 0) {
      const e = msg.errors[0];
      this.lastError = `rejected line ${e.line}: ${e.reason}`;
    }
    this.backoff = BACKOFF_MIN;
    this._resolveWaiters();
    this._write();
  }

  _resolveWaiters() {
    if (this.waiters.length === 0) return;
    const keep = [];
    for (const w of this.waiters) {
      if (this.answeredTotal >= w.target) {
        clearTimeout(w.timer);
        w.resolve(true);
      } else keep.push(w);
    }
    this.waiters = keep;
  }

  // ---- flush / close ----------------------------------------------------

  flush(timeoutMs = 5000, keepAlive = true) {
    const target = this.enqueuedTotal;
    if (this.answeredTotal >= target) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise(resolve => {
      const w = {target, resolve, timer: null};
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter(x => x !== w);
        resolve(false);
      }, Math.max(0, timeoutMs));
      // Ref'd by default: an app awaiting flush() should not exit early.
      if (!keepAlive) w.timer.unref();
      this.waiters.push(w);
      if (this.reconnectTimer !== null && !this.connected) {
        // Waiting on a backoff is fine; the timer fires on its own.
      } else if (!this.connected) this._connect();
      else this._scheduleNow();
    });
  }

  pendingSinceAnswered() {
    return this.enqueuedTotal - this.answeredTotal;
  }

  close() {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer);
    if (this.writeScheduled !== null) clearImmediate(this.writeScheduled);
    this.reconnectTimer = this.intervalTimer = this.writeScheduled = null;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(this.answeredTotal >= w.target);
    }
    this.waiters = [];
    if (this.socket !== null) {
      const s = this.socket;
      this.socket = null;
      this.connected = false;
      s.end();
      s.destroy();
    }
  }
}
