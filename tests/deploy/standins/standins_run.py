"""Run a stand-in DAG (airflow/__init__.py) as Airflow's scheduler and
workers would for one DAG run: tasks in dependency order, each task's
template fields rendered with Jinja2 against the run's context (ds, ti, …;
an undefined name is an error here), a mapped task expanded over its
resolved XComArgs into one instance per element, all instances run at once
(as on many workers), with its mapped values left unrendered, as Airflow
leaves them. A task whose upstream was skipped (a zero-length expansion) is
skipped. Returns what ran, in order: (task_id, map_index or None)."""
from __future__ import annotations

import copy
import itertools
from concurrent.futures import ThreadPoolExecutor

import jinja2

from airflow import XComArg

_jinja = jinja2.Environment(undefined=jinja2.StrictUndefined)


class TI:
    def __init__(self, task_id, map_index):
        self.task_id, self.map_index = task_id, map_index


def render(value, context):
    if isinstance(value, str):
        return _jinja.from_string(value).render(**context)
    if isinstance(value, (list, tuple)):
        return type(value)(render(v, context) for v in value)
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    return value


def render_fields(op, context, skip=()):
    for f in op.template_fields:
        if f in op.kw and f not in skip:
            op.kw[f] = render(op.kw[f], context)


def order(dag):
    """Task ids, each after its upstream (creation order among equals)."""
    done, out = set(), []
    while len(out) < len(dag.tasks):
        ready = [t for t in dag.tasks if t not in done and set(dag.upstream(t)) <= done]
        if not ready:
            raise RuntimeError("the DAG has a cycle")
        done.add(ready[0])
        out.append(ready[0])
    return out


def run_dag(dag, ds, log=print):
    xcoms, skipped, ran = {}, set(), []
    for tid in order(dag):
        task = dag.tasks[tid]
        if set(dag.upstream(tid)) & skipped:
            skipped.add(tid)
            log("skip %s (upstream skipped)" % tid)
            continue
        context = {"ds": ds, "ds_nodash": ds.replace("-", ""), "dag": dag, "run_id": "manual__" + ds}
        if not task.mapped:
            op = copy.copy(task)
            op.kw = copy.deepcopy(task.kw)
            context.update(task=op, ti=TI(tid, -1))
            render_fields(op, context)
            log("run %s" % tid)
            xcoms[tid] = op.execute(context)
            ran.append((tid, None))
            continue
        resolved = {k: v.resolve(xcoms) if isinstance(v, XComArg) else v
                    for k, v in task.expand_input.items()}
        combos = [dict(zip(resolved, c)) for c in itertools.product(*resolved.values())]
        if not combos:
            skipped.add(tid)
            log("skip %s (nothing to expand)" % tid)
            continue
        ops = []
        for i, kw in enumerate(combos):
            op = task.unmap(copy.deepcopy(kw))
            ctx = {**context, "task": op, "ti": TI(tid, i)}
            render_fields(op, ctx, skip=set(task.expand_input))
            ops.append((op, ctx))
        log("run %s[0..%d] at once" % (tid, len(ops) - 1))
        with ThreadPoolExecutor(max_workers=len(ops)) as pool:
            futures = [pool.submit(op.execute, ctx) for op, ctx in ops]
            results, errors = [], []
            for i, f in enumerate(futures):
                try:
                    results.append(f.result())
                except Exception as e:  # every instance finishes; then the first failure
                    errors.append("%s[%d]: %s" % (tid, i, e))
        if errors:
            raise RuntimeError("; ".join(errors))
        xcoms[tid] = results
        ran.extend((tid, i) for i in range(len(ops)))
    return ran
