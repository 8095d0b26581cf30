"""Finding the daemon's stream socket the way the ``spanvault`` CLI does.

Order: the ``socket`` argument; ``SPANVAULT_SOCKET``; ``SPANVAULT_INGEST_UNIX_STREAM``
(absolute, or relative to the runtime dir); the runtime dir
(``SPANVAULT_RUNTIME_DIR``, else ``/run/spanvault`` for root, else
``$XDG_RUNTIME_DIR/spanvault``, else ``./spanvault-data/run``) + ``spans.sock``.
When that file does not exist (a non-root app beside the system daemon),
the first existing of ``$XDG_RUNTIME_DIR/spanvault/spans.sock``,
``/run/spanvault/spans.sock`` and ``./spanvault-data/run/spans.sock`` is used.
"""

import os
from typing import Mapping, Optional

SOCKET_NAME = "spans.sock"


def _runtime_dir(env: Mapping[str, str], uid: int) -> str:
    if env.get("SPANVAULT_RUNTIME_DIR"):
        return env["SPANVAULT_RUNTIME_DIR"]
    if uid == 0:
        return "/run/spanvault"
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "spanvault")
    return os.path.join("spanvault-data", "run")


def resolve_socket(socket: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                   uid: Optional[int] = None, exists=os.path.exists) -> str:
    """The stream socket path to use (see the module's docstring)."""
    if socket:
        return socket
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if env.get("SPANVAULT_SOCKET"):
        return env["SPANVAULT_SOCKET"]
    runtime = _runtime_dir(env, uid)
    setting = env.get("SPANVAULT_INGEST_UNIX_STREAM") or SOCKET_NAME
    path = setting if os.path.isabs(setting) else os.path.join(runtime, setting)
    if exists(path) or env.get("SPANVAULT_INGEST_UNIX_STREAM") or env.get("SPANVAULT_RUNTIME_DIR"):
        return path
    fallbacks = []
    if env.get("XDG_RUNTIME_DIR"):
        fallbacks.append(os.path.join(env["XDG_RUNTIME_DIR"], "spanvault", SOCKET_NAME))
    fallbacks += ["/run/spanvault/" + SOCKET_NAME, os.path.join("spanvault-data", "run", SOCKET_NAME)]
    for candidate in fallbacks:
        if exists(candidate):
            return candidate
    return path
