"""Stand-in of airflow.operators.bash.BashOperator: its arguments as Airflow
2.10 documents them, and execute() as it behaves: `bash -c COMMAND` with env
as the whole environment, or added to the worker's with append_env=True;
a non-zero exit fails the task (see airflow/__init__.py)."""
from __future__ import annotations

import os
import subprocess

from airflow import BaseOperator


class AirflowException(Exception):
    pass


class BashOperator(BaseOperator):
    ARGS = {"bash_command", "env", "append_env", "output_encoding", "skip_on_exit_code", "cwd",
            "skip_exit_code"}
    template_fields = ("bash_command", "env", "cwd")

    def execute(self, context):
        env = self.kw.get("env")
        if env is None:
            env = dict(os.environ)
        elif self.kw.get("append_env"):
            env = {**os.environ, **env}
        r = subprocess.run(["bash", "-c", self.kw["bash_command"]], env=env, cwd=self.kw.get("cwd"),
                           stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise AirflowException("Bash command failed. The command returned a non-zero exit code %d."
                                   % r.returncode)
        lines = r.stdout.splitlines()
        return lines[-1] if lines else None
