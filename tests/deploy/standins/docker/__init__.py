"""Stand-in of the Docker SDK's low-level APIClient (docker-py), enough for
the DAG's list-inputs container: it records every call in `calls`, and the
test sets what the container prints and its exit status (`script`)."""
from __future__ import annotations

calls = []
script = {"stdout": b"", "stderr": b"", "status": 0}


class APIClient:
    def __init__(self, base_url=None, **kw):
        calls.append(("APIClient", {"base_url": base_url, **kw}))

    def create_host_config(self, **kw):
        calls.append(("create_host_config", kw))
        return {"host_config": kw}

    def create_container(self, image, command=None, **kw):
        calls.append(("create_container", {"image": image, "command": command, **kw}))
        return {"Id": "c0ffee"}

    def start(self, container):
        calls.append(("start", container))

    def wait(self, container):
        calls.append(("wait", container))
        return {"StatusCode": script["status"]}

    def logs(self, container, stdout=True, stderr=True):
        calls.append(("logs", {"stdout": stdout, "stderr": stderr}))
        return (script["stdout"] if stdout else b"") + (script["stderr"] if stderr else b"")

    def remove_container(self, container, force=False):
        calls.append(("remove_container", {"container": container, "force": force}))
