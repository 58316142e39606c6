"""Stand-in of the Docker SDK's low-level APIClient (docker-py), enough for
the DAG's list-inputs container: it records every call in `calls`; the test
either sets what the container prints and its exit status (`script`), or
leaves script None to run the container's command as docker_emulation.py
emulates it."""
from __future__ import annotations

import docker_emulation

calls = []
script = None   # {"stdout": b"", "stderr": b"", "status": 0}, or None: emulate
containers = {}


class APIClient:
    def __init__(self, base_url=None, **kw):
        calls.append(("APIClient", {"base_url": base_url, **kw}))

    def create_host_config(self, **kw):
        calls.append(("create_host_config", kw))
        return {"host_config": kw}

    def create_container(self, image, command=None, **kw):
        calls.append(("create_container", {"image": image, "command": command, **kw}))
        cid = "c%04d" % len(containers)
        containers[cid] = {"command": command, **kw}
        return {"Id": cid}

    def start(self, container):
        calls.append(("start", container))
        c = containers[container]
        if script is None:
            mounts = (c.get("host_config") or {}).get("host_config", {}).get("mounts") or ()
            status, out, err = docker_emulation.run(c.get("entrypoint"), c["command"],
                                                    c.get("environment") or {}, mounts)
            c.update(status=status, stdout=out, stderr=err)
        else:
            c.update(status=script["status"], stdout=script["stdout"], stderr=script["stderr"])

    def wait(self, container):
        calls.append(("wait", container))
        return {"StatusCode": containers[container]["status"]}

    def logs(self, container, stdout=True, stderr=True):
        calls.append(("logs", {"stdout": stdout, "stderr": stderr}))
        c = containers[container]
        return (c["stdout"] if stdout else b"") + (c["stderr"] if stderr else b"")

    def remove_container(self, container, force=False):
        calls.append(("remove_container", {"container": container, "force": force}))
