"""Test support: a recording stream-socket server, and the real spanvaultd.

``Recorder`` is a Unix stream server on a real socket that keeps every span
line it gets and answers ``$sync`` like the daemon (at once, all accepted);
the unit tests read the spans the library produced from it. ``Daemon``
starts the real ``spanvaultd`` (``SPANVAULTD``, default ../../build/spanvaultd)
in a temp dir with its HTTP listener on a free port, for the end-to-end tests.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PACKAGE_ROOT))


def wait_until(predicate, timeout=10.0, what="condition", interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Recorder:
    def __init__(self, path=None, answer=True, reject=None):
        self.reject = reject  # doc -> reason or None
        self.dir = tempfile.mkdtemp(prefix="svpy-")
        self.path = path or os.path.join(self.dir, "s.sock")
        self.answer = answer
        self.spans = []
        self.connections = 0
        self._lock = threading.Lock()
        self._conns = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(16)
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stopped:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        accepted = 0
        rejected = []
        line_no = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line_no += 1
                    if not raw.strip():
                        continue
                    doc = json.loads(raw)
                    if isinstance(doc, dict) and "$sync" in doc:
                        if self.answer:
                            conn.sendall(json.dumps({"$sync": doc["$sync"], "accepted": accepted,
                                                     "rejected": len(rejected), "errors": rejected}).encode() + b"\n")
                        accepted = 0
                        rejected = []
                    elif self.reject is not None and self.reject(doc):
                        rejected.append({"line": line_no, "reason": self.reject(doc)})
                    else:
                        accepted += 1
                        with self._lock:
                            self.spans.append(doc)
        except OSError:
            return
        finally:
            conn.close()

    def by_name(self, name):
        with self._lock:
            found = [s for s in self.spans if s.get("name") == name]
        if len(found) != 1:
            raise AssertionError("expected one span named %r, got %d" % (name, len(found)))
        return found[0]

    def drop_connections(self):
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self._stopped = True
        self._server.close()
        self.drop_connections()
        shutil.rmtree(self.dir, ignore_errors=True)


def daemon_binary():
    path = os.environ.get("SPANVAULTD") or os.path.join(REPO, "build", "spanvaultd")
    return path if os.path.exists(path) else None


def require_daemon(testcase):
    path = daemon_binary()
    if path is None:
        if os.environ.get("CI") == "true":
            testcase.fail("spanvaultd not found (set SPANVAULTD); required under CI=true")
        raise unittest.SkipTest("spanvaultd not built (set SPANVAULTD)")
    return path


class Daemon:
    """The real spanvaultd in a temp dir; ``restart`` keeps its state and sockets."""

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="svpy-")
        self.socket = os.path.join(self.dir, "run", "spans.sock")
        self.proc = None
        self.url = None
        self.log = ""
        self.start()

    def start(self):
        argv = [self.binary, "--udp", "off", "--http", "127.0.0.1:0", "--log-level", "info",
                "--state-dir", os.path.join(self.dir, "state"), "--runtime-dir", os.path.join(self.dir, "run")]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.url = None
        found = threading.Event()

        def read_log(proc):
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace")
                self.log += line
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if doc.get("msg") == "listening" and doc.get("transport") == "http":
                    self.url = "http://" + doc["address"]
                    found.set()

        self._reader = threading.Thread(target=read_log, args=(self.proc,), daemon=True)
        self._reader.start()
        if not found.wait(30):
            raise AssertionError("spanvaultd did not start:\n" + self.log)
        wait_until(self._ready, 30, "spanvaultd /readyz")

    def _ready(self):
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def get(self, path):
        """(status, JSON body) of GET path on the query API."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def trace(self, trace_id):
        status, body = self.get("/api/traces/" + trace_id)
        return body if status == 200 else None

    def spans(self, trace_id):
        """{span_id: span} of a stored trace (empty when not there)."""
        t = self.trace(trace_id)
        return {} if t is None else {row["span"]["span_id"]: row["span"] for row in t["spans"]}

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        if self.proc is not None:
            self._reader.join(5)
            self.proc.stderr.close()
        self.proc = None

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        self.start()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
