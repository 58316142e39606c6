"""Stand-in of airflow.decorators.task (TaskFlow): @task, @task(...) and
task(...)(f) make a PythonOperator when the decorated function is called
inside a DAG, and the call returns its XComArg (see airflow/__init__.py)."""
from __future__ import annotations

import functools

from airflow.operators.python import PythonOperator


def task(python_callable=None, **task_kwargs):
    def wrap(f):
        @functools.wraps(f)
        def call(*args, **kwargs):
            op = PythonOperator(task_id=task_kwargs.get("task_id", f.__name__),
                                python_callable=f, op_args=list(args), op_kwargs=kwargs,
                                **{k: v for k, v in task_kwargs.items() if k != "task_id"})
            return op.output
        return call
    return wrap(python_callable) if python_callable else wrap
