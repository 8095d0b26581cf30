"""The background sender: a bounded queue of NDJSON lines → the daemon's stream socket.

Contract:

* ``enqueue`` is the only call on the app's path: O(1), never blocks on I/O,
  never raises. When the queue holds ``max_spans`` lines or ``max_bytes``
  bytes, the new line is dropped and counted (``dropped_queue_full``).
* One daemon thread (``spanvault-sender``, started on the first span) writes
  batches of up to ``batch_size`` lines, each followed by ``{"$sync": N}``,
  without waiting for the previous answer (at most ``max_in_flight`` batches
  unanswered). A batch stays in the queue's bound until the daemon answers
  its ``$sync``, i.e. until its spans are durable.
* When the connection breaks, the unanswered batches go back to the front of
  the queue, in order, and are sent again after reconnecting (backoff 50 ms
  doubling to 2 s). Delivery is therefore at least once: a span the daemon
  stored just before it went away can arrive twice.
* ``flush(timeout)`` returns True once every line enqueued before the call is
  confirmed durable, False on timeout; it never raises.
* After ``fork`` the child starts with an empty queue and no thread (the
  parent sends what it had queued), see ``after_fork``.

Thread-safety: every public method may be called from any thread.
"""

import collections
import errno
import json
import os
import select
import socket
import threading
import time
from typing import Deque, List, Optional, Tuple

_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 2.0
_SEND_TIMEOUT = 10.0
_MAX_BATCH_BYTES = 256 * 1024


class Sender:
    def __init__(self, path, max_spans: int = 20000, max_bytes: int = 32 << 20,
                 batch_size: int = 512, flush_interval: float = 0.05, max_in_flight: int = 64):
        # A path, or a function giving it: resolved again before each connection
        # attempt, so a daemon that starts later (elsewhere) is found.
        self._resolve = path if callable(path) else None
        self.path = path() if callable(path) else path
        self.max_spans = max_spans
        self.max_bytes = max_bytes
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_in_flight = max_in_flight
        self._reset_state()

    def _reset_state(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: Deque[bytes] = collections.deque()  # not yet written
        # (sync id, lines, their bytes in the bound, last seq)
        self._in_flight: Deque[Tuple[int, List[bytes], int, int]] = collections.deque()
        self._count = 0  # lines queued or in flight (the bound)
        self._bytes = 0
        self._seq = 0  # lines accepted so far
        self._sent_seq = 0  # last line written on the current connection
        self._confirmed_seq = 0  # every line up to this one is durable
        self._flush_wanted = False
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._pid = os.getpid()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sock: Optional[socket.socket] = None
        self._sync_id = 0
        self._read_buf = b""
        self._last_write = 0.0
        self.stats = {
            "enqueued": 0, "sent": 0, "confirmed": 0, "rejected": 0, "dropped_queue_full": 0,
            "reconnects": 0, "connect_failures": 0, "resent": 0, "connected": False, "last_error": None,
        }

    # -- the app's side -------------------------------------------------------

    def enqueue(self, line: bytes) -> bool:
        n = len(line) + 1
        with self._lock:
            if self._count >= self.max_spans or self._bytes + n > self.max_bytes or self._stopping:
                self.stats["dropped_queue_full"] += 1
                return False
            self._queue.append(line)
            self._count += 1
            self._bytes += n
            self._seq += 1
            self.stats["enqueued"] += 1
            q = len(self._queue)
            wake = q == 1 or q == self.batch_size
            start = self._thread is None
        if start:
            self._start()
        elif wake:
            self._wake()
        return True

    def flush(self, timeout: Optional[float] = 5.0) -> bool:
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._lock:
            target = self._seq
            if self._confirmed_seq >= target:
                return True
            self._flush_wanted = True
        self._wake()
        with self._lock:
            while self._confirmed_seq < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left if left is None else min(left, 0.5))
            return True

    def snapshot(self) -> dict:
        with self._lock:
            s = dict(self.stats)
            s["queue_spans"] = self._count
            s["queue_bytes"] = self._bytes
            return s

    def close(self, timeout: float = 2.0) -> bool:
        with self._lock:
            if not self.stats["connected"] and self.stats["connect_failures"]:
                # The daemon is not there: one more try, not the whole wait.
                timeout = min(timeout, 0.25)
        ok = self.flush(timeout)
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        return ok

    def after_fork(self) -> None:
        """In a forked child: forget the parent's queue, thread and socket."""
        sock = self._sock
        old = (self._wake_r, self._wake_w)
        self._reset_state()
        for fd in old:
            try:
                os.close(fd)
            except OSError:
                pass
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- the sender thread ----------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="spanvault-sender", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _run(self) -> None:
        backoff = _BACKOFF_MIN
        while True:
            with self._lock:
                if self._stopping and (not self._queue and not self._in_flight):
                    break
                if self._stopping and self._sock is None:
                    break
            if self._sock is None:
                if not self._connect():
                    self._wait(backoff)
                    backoff = min(_BACKOFF_MAX, backoff * 2)
                    continue
                backoff = _BACKOFF_MIN
            try:
                self._step()
            except OSError as e:
                self._disconnect("%s: %s" % (self.path, e.strerror or e))
            except Exception as e:  # never let the thread die
                self._disconnect("%s: %r" % (self.path, e))
        self._close_socket()

    def _wait(self, seconds: float) -> None:
        try:
            select.select([self._wake_r], [], [], seconds)
        except (OSError, ValueError):
            time.sleep(seconds)
        self._drain_wake()

    def _connect(self) -> bool:
        if self._resolve is not None:
            try:
                self.path = self._resolve()
            except Exception:
                pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(_SEND_TIMEOUT)
            s.connect(self.path)
        except OSError as e:
            s.close()
            with self._lock:
                self.stats["connect_failures"] += 1
                self.stats["last_error"] = "connect %s: %s" % (self.path, e.strerror or e)
            return False
        with self._lock:
            self._sock = s
            self._read_buf = b""
            self.stats["connected"] = True
            self._sent_seq = self._confirmed_seq
        return True

    def _step(self) -> None:
        """Write what is due, then wait for answers, new lines or the linger."""
        now = time.monotonic()
        with self._lock:
            due = bool(self._queue) and (self._flush_wanted or len(self._queue) >= self.batch_size or
                                         now - self._last_write >= self.flush_interval)
        if due:
            self._write_batches()
        with self._lock:
            pending = bool(self._queue)
            full = len(self._in_flight) >= self.max_in_flight
            in_flight = bool(self._in_flight)
        if pending and not full:
            timeout = max(0.0, self._last_write + self.flush_interval - time.monotonic())
        else:
            timeout = 1.0 if not in_flight else self.flush_interval
        readable, _, _ = select.select([self._sock, self._wake_r], [], [], timeout)
        if self._wake_r in readable:
            self._drain_wake()
        if self._sock in readable:
            self._read_answers()

    def _write_batches(self) -> None:
        """Writes every queued line, batch by batch, while in-flight room lasts."""
        while True:
            with self._lock:
                if not self._queue or len(self._in_flight) >= self.max_in_flight:
                    return
                lines: List[bytes] = []
                size = 0
                while self._queue and len(lines) < self.batch_size and size < _MAX_BATCH_BYTES:
                    line = self._queue.popleft()
                    lines.append(line)
                    size += len(line) + 1
                self._sent_seq += len(lines)
                self._sync_id += 1
                sync_id = self._sync_id
                self._in_flight.append((sync_id, lines, size, self._sent_seq))
                if not self._queue:
                    self._flush_wanted = False
            payload = b"\n".join(lines) + b'\n{"$sync":%d}\n' % sync_id
            self._sock.sendall(payload)
            with self._lock:
                self.stats["sent"] += len(lines)
                self._last_write = time.monotonic()

    def _read_answers(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionResetError(errno.ECONNRESET, "the daemon closed the connection")
        buf = self._read_buf + data
        *lines, self._read_buf = buf.split(b"\n")
        for raw in lines:
            if not raw.strip():
                continue
            try:
                answer = json.loads(raw)
            except ValueError:
                continue
            if isinstance(answer, dict):
                self._on_answer(answer)

    def _on_answer(self, answer: dict) -> None:
        sync_id = answer.get("$sync")
        with self._lock:
            if sync_id is None:
                if answer.get("error"):
                    self.stats["last_error"] = str(answer.get("error"))
                return
            if not self._in_flight or self._in_flight[0][0] != sync_id:
                return
            if answer.get("error"):
                # The store failed: nothing of this batch is known durable;
                # the connection is dropped and the batch sent again.
                self.stats["last_error"] = "daemon: %s" % answer.get("error")
                raise ConnectionAbortedError(errno.ECONNABORTED, str(answer.get("error")))
            _, lines, size, last_seq = self._in_flight.popleft()
            accepted = int(answer.get("accepted") or 0)
            rejected = int(answer.get("rejected") or 0)
            self.stats["confirmed"] += accepted
            self.stats["rejected"] += rejected
            errors = answer.get("errors")
            if rejected and isinstance(errors, list) and errors:
                self.stats["last_error"] = "daemon refused a span: %s" % errors[0].get("reason")
            self._count -= len(lines)
            self._bytes -= size
            self._confirmed_seq = last_seq
            self._changed.notify_all()

    def _disconnect(self, why: str) -> None:
        self._close_socket()
        with self._lock:
            self.stats["last_error"] = why
            self.stats["reconnects"] += 1
            # Unanswered batches go back to the front, oldest first.
            resend = [line for _, lines, _, _ in self._in_flight for line in lines]
            self._in_flight.clear()
            self._queue.extendleft(reversed(resend))
            self.stats["resent"] += len(resend)
            self._sent_seq = self._confirmed_seq
            if resend:
                self._flush_wanted = True

    def _close_socket(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
            self.stats["connected"] = False
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
