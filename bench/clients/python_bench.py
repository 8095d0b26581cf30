#!/usr/bin/env python3
"""Cost of the Python client on this machine (docs/performance.md, "Client libraries").

    bench/clients/python_bench.py [build/spanvaultd]

Starts a real spanvaultd in a temp dir and measures, median of 5 runs:
  caller      µs per span for start_span(...).log(input, output, usage, model).end()
              with the sender idle (no daemon): what the app's thread pays;
  enqueue     the same while the sender thread sends to the daemon (it shares
              the GIL, so this is the app's wall time per span under load);
  traced      µs per call of a @traced function with a nested start_span block;
  throughput  spans/s from the first span to flush() returning True (every span durable).
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "clients", "python"))

import spanvault  # noqa: E402
from tests.support import Daemon  # noqa: E402

N = 100_000
MESSAGES = [{"role": "system", "content": "You answer in one sentence."},
            {"role": "user", "content": "What is the capital of France, and why is it famous?"}]
USAGE = {"input_tokens": 42, "output_tokens": 17}


def enqueue_run(n):
    t0 = time.perf_counter()
    for _ in range(n):
        span = spanvault.start_span("chat", type="generation")
        span.log(input=MESSAGES, output="Paris, for its art and history.", usage=USAGE, model="gpt-4o-mini")
        span.end()
    return (time.perf_counter() - t0) / n * 1e6


@spanvault.traced
def handler(question):
    with spanvault.start_span("retrieve", type="retrieval") as s:
        s.log(output=["doc"])
    return "answer"


def traced_run(n):
    t0 = time.perf_counter()
    for _ in range(n):
        handler("q")
    return (time.perf_counter() - t0) / n * 1e6


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build", "spanvaultd")
    spanvault.init(service="bench", socket="/nonexistent/spans.sock", max_queue_spans=10_000_000,
                   max_queue_bytes=1 << 34, flush_on_exit=0)
    caller = [enqueue_run(N) for _ in range(5)]
    spanvault.shutdown(0)
    daemon = Daemon(binary)
    try:
        spanvault.init(service="bench", socket=daemon.socket, max_queue_spans=1_000_000,
                       max_queue_bytes=1 << 30, flush_on_exit=0)
        enqueue, traced, throughput = [], [], []
        for _ in range(5):
            t0 = time.perf_counter()
            enqueue.append(enqueue_run(N))
            assert spanvault.flush(120), spanvault.stats()
            throughput.append(N / (time.perf_counter() - t0))
            traced.append(traced_run(N // 2))
            assert spanvault.flush(120), spanvault.stats()
        s = spanvault.stats()
        print("python %s, %d spans per run, median of 5" % (sys.version.split()[0], N))
        print("caller      %.2f µs/span   (runs: %s)" % (statistics.median(caller),
                                                         " ".join("%.2f" % x for x in caller)))
        print("enqueue     %.2f µs/span   (runs: %s)" % (statistics.median(enqueue),
                                                         " ".join("%.2f" % x for x in enqueue)))
        print("traced      %.2f µs/call (2 spans)" % statistics.median(traced))
        print("throughput  %.0f spans/s to durable   (runs: %s)" % (statistics.median(throughput),
                                                                   " ".join("%.0f" % x for x in throughput)))
        print("dropped %d, rejected %d, confirmed %d" % (s["dropped_queue_full"], s["rejected"], s["confirmed"]))
    finally:
        spanvault.shutdown(5)
        daemon.close()


if __name__ == "__main__":
    main()
