"""k8s_run.py BIN MANIFEST DS INPUTS [EXTRA] — run what a Job of deploy/k8s
would run, here, with the real binary, for tests/deploy/run.sh (no cluster
here): the manifest filled as envsubst fills it (${DS}, ${INPUTS}), then
its pods' containers as Kubernetes runs them. An Indexed Job gets one pod
per index 0 … completions-1, plus EXTRA more past the end, all at once, each
with JOB_COMPLETION_INDEX; a pod runs its init containers in order, then
its container, stopping at the first failure. $(VAR) in a command is
expanded from the container's env (Kubernetes does it, not a shell);
envFrom is left out: the caller's environment stands for the ConfigMap
(directory stores instead of S3). "salespipe" is BIN. Prints one line per
container: "INDEX NAME EXIT"; exits 1 if any container failed."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import yaml

BIN, MANIFEST, DS, INPUTS = sys.argv[1:5]
EXTRA = int(sys.argv[5]) if len(sys.argv) > 5 else 0

text = open(MANIFEST).read().replace("${DS}", DS).replace("${INPUTS}", INPUTS)
(job,) = [d for d in yaml.safe_load_all(text) if d and d.get("kind") == "Job"]
spec = job["spec"]
pod = spec["template"]["spec"]
indexed = spec.get("completionMode") == "Indexed"
indexes = range(spec.get("completions", 1) + EXTRA) if indexed else [None]


def expand(arg, env):
    # Kubernetes: $(VAR) from the container's env; $$ is a literal $;
    # an undefined $(VAR) stays as written.
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), arg)


def run_pod(index):
    lines = []
    for c in pod.get("initContainers", []) + pod["containers"]:
        env = {}
        if index is not None:
            env["JOB_COMPLETION_INDEX"] = str(index)
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif index is not None and "job-completion-index" in str(e.get("valueFrom")):
                env[e["name"]] = str(index)
        argv = [expand(a, env) for a in c.get("command", []) + c.get("args", [])]
        assert argv[0] == "salespipe", argv
        r = subprocess.run([BIN] + argv[1:], env={**os.environ, **env}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        sys.stderr.write(r.stderr)
        lines.append("%s %s %d" % ("-" if index is None else index, c["name"], r.returncode))
        if r.returncode != 0:
            break
    return lines


with ThreadPoolExecutor(max_workers=len(indexes)) as pool:
    results = list(pool.map(run_pod, indexes))
failed = False
for lines in results:
    for line in lines:
        print(line)
        failed |= not line.endswith(" 0")
sys.exit(1 if failed else 0)
