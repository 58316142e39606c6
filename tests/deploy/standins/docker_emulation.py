"""What a container of the salespipe image would run, emulated by a local
process for the stand-ins (tests/deploy: no Docker engine here): argv is
ENTRYPOINT + CMD as Docker builds it (the image's ENTRYPOINT is
["salespipe"]; a string command is split as docker-py splits it), the
environment is only what the container is given (nothing inherited from
the worker but PATH, standing for the image's, and the sanitizer options
of the test build), the working directory a fresh one (the image's /work).
Bind mounts cannot be emulated: callers run without HOST_DATA_DIR."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

IMAGE_ENTRYPOINT = ["salespipe"]


def run(entrypoint, command, environment, mounts=()):
    """Returns (exit status, stdout, stderr)."""
    if mounts:
        raise RuntimeError("the container emulation cannot bind-mount %r" % (mounts,))
    if isinstance(command, str):
        command = shlex.split(command)
    argv = list(entrypoint or IMAGE_ENTRYPOINT) + list(command or [])
    env = {k: os.environ[k] for k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ}
    env.update(environment)
    with tempfile.TemporaryDirectory(prefix="container-") as work:
        r = subprocess.run(argv, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout, r.stderr
