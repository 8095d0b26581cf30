"""Trace and span ids: 32 and 16 lowercase hex digits, never all zero.

A per-process ``random.Random`` seeded from ``os.urandom`` (re-seeded in a
forked child, so parent and child never repeat each other's ids) is several
times cheaper than ``os.urandom`` per id; ids need to be unique, not secret.
"""

import os
import random

_rng = random.Random(os.urandom(32))


def reseed() -> None:
    _rng.seed(os.urandom(32))


def trace_id() -> str:
    v = _rng.getrandbits(128)
    return "%032x" % (v or 1)


def span_id() -> str:
    v = _rng.getrandbits(64)
    return "%016x" % (v or 1)
