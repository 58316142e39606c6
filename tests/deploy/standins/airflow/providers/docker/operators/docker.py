"""Stand-in of the Docker provider's DockerOperator: the arguments it takes
(apache-airflow-providers-docker 3.x), its template fields, and execute()
running the container's command as docker_emulation.py emulates it (the
environment and private_environment only; a non-zero exit fails the task,
the last line of output is the XCom) (see airflow/__init__.py)."""
from __future__ import annotations

import sys

import docker_emulation
from airflow import BaseOperator


class DockerOperator(BaseOperator):
    ARGS = {"image", "api_version", "command", "container_name", "cpus", "docker_url",
            "environment", "private_environment", "env_file", "force_pull", "mem_limit",
            "host_tmp_dir", "network_mode", "tls_ca_cert", "tls_client_cert", "tls_client_key",
            "tls_verify", "tls_hostname", "tls_ssl_version", "mount_tmp_dir", "tmp_dir", "user",
            "mounts", "entrypoint", "working_dir", "xcom_all", "docker_conn_id", "dns",
            "dns_search", "auto_remove", "shm_size", "tty", "hostname", "privileged", "cap_add",
            "extra_hosts", "retrieve_output", "retrieve_output_path", "timeout", "device_requests",
            "log_opts_max_size", "log_opts_max_file", "ipc_mode", "skip_on_exit_code",
            "port_bindings", "ulimits", "labels"}
    template_fields = ("image", "command", "environment", "env_file", "container_name")

    def execute(self, context):
        kw = self.kw
        status, out, err = docker_emulation.run(
            kw.get("entrypoint"), kw.get("command"),
            {**(kw.get("environment") or {}), **(kw.get("private_environment") or {})},
            kw.get("mounts") or ())
        sys.stderr.write(err.decode("utf-8", "replace"))
        if status != 0:
            raise RuntimeError("Docker container failed: {'StatusCode': %d}" % status)
        lines = (out + err).decode("utf-8", "replace").splitlines()
        return lines[-1] if lines else None
