"""Stand-in of airflow.operators.python.PythonOperator, which TaskFlow's
@task makes (see airflow/__init__.py)."""
from __future__ import annotations

import inspect

from airflow import BaseOperator


class PythonOperator(BaseOperator):
    ARGS = {"python_callable", "op_args", "op_kwargs", "templates_dict", "show_return_value_in_logs"}
    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def execute(self, context):
        """Call the callable; parameters named like context keys (ds, ti, …)
        and not given are filled from the context, as TaskFlow does."""
        f = self.kw["python_callable"]
        kwargs = dict(self.kw.get("op_kwargs") or {})
        for name in inspect.signature(f).parameters:
            if name in context and name not in kwargs:
                kwargs[name] = context[name]
        return f(*(self.kw.get("op_args") or ()), **kwargs)
