"""dag_checks.py DAG_FILE CHECK [ARG…] — checks of the Airflow DAG file,
loaded against the stand-ins of tests/deploy/standins (PYTHONPATH), for
tests/deploy/run.sh. The environment (SALESPIPE_DAG_MODE, SALESPIPE_RUNNER,
PIPELINE_IMAGE, …) is the caller's. Checks:
  shape          both DAGs' ids, arguments, tasks, dependencies, commands
  list-docker    list-inputs in the docker runner: one container, its stdout
  run DAG_ID DS  execute DAG_ID for DS with the real binary (bash runner, or
                 docker with its containers emulated: standins/docker_emulation.py)
Raises (exit 1, with a traceback) on the first thing that is not so."""
from __future__ import annotations

import contextlib
import datetime
import io
import os
import runpy
import sys

import airflow
import docker
import standins_run
from airflow import MapXComArg, MappedOperator

DAG_FILE, CHECK = sys.argv[1], sys.argv[2]
MODE = os.environ.get("SALESPIPE_DAG_MODE") or "classic"
RUNNER = os.environ.get("SALESPIPE_RUNNER") or ("docker" if os.environ.get("PIPELINE_IMAGE") else "bash")
BIN = os.environ.get("SALESPIPE_BIN", "salespipe")
CLASSIC = ["preflight", "stage", "transform", "create-tables", "load"]
MAPPED = ["preflight", "stage", "list-inputs", "transform-map", "transform-merge", "create-tables", "load"]
MAP_ARGS = 'transform --ds {{ ds }} --map "$SALESPIPE_INPUT"'

module = runpy.run_path(DAG_FILE)
dags = {d.dag_id: d for d in airflow.dags}
assert list(dags) == ["sales_data_aggregation", "sales_data_aggregation_mapped"], list(dags)
assert module["dag"] is dags["sales_data_aggregation"] and module["mapped_dag"] is dags["sales_data_aggregation_mapped"]
assert all(p.expanded for p in airflow.partials), "a partial() was never expanded"


def chain(ids):
    return list(zip(ids, ids[1:]))


def check_args(dag):
    kw = dag.kw
    assert kw["schedule"] == "@daily" and kw["catchup"] is False and kw["max_active_runs"] == 1, kw
    a = kw["default_args"]
    assert a["retries"] == 2 and a["retry_delay"] == datetime.timedelta(minutes=10), a
    assert a["email_on_failure"] is True and a["email"] == ["a@example.com", "b@example.com"], a


def check_plain(op, args):
    """A task running `salespipe ARGS` in the chosen runner."""
    assert not op.mapped, op.task_id
    if RUNNER == "bash":
        assert type(op).__name__ == "BashOperator", op
        assert op.kw["bash_command"] == "%s %s" % (BIN, args), op.kw
        return
    assert type(op).__name__ == "DockerOperator", op
    assert op.kw["command"] == args and op.kw["image"] == "img:1", op.kw
    check_container(op.kw, op.kw["environment"])


def check_container(kw, env):
    assert env["DATA_DIR"] == "/data" and env["STATE_DIR"] == "/state", env
    assert "RDS_PASS" not in env and kw["private_environment"] == {"RDS_PASS": "pw"}, (env, kw)
    (m,) = kw["mounts"]
    assert m.kw == {"source": "/srv/data", "target": "/data", "type": "bind", "read_only": True}, m.kw
    assert kw["network_mode"] == "bridge" and kw["auto_remove"] == "success", kw


def check_classic(dag):
    assert list(dag.tasks) == CLASSIC, list(dag.tasks)
    assert sorted(dag.edges) == sorted(chain(CLASSIC)), dag.edges
    for t in CLASSIC:
        check_plain(dag.tasks[t], "%s --ds {{ ds }}" % t)


def check_mapped(dag):
    assert list(dag.tasks) == MAPPED, list(dag.tasks)
    assert sorted(dag.edges) == sorted(chain(MAPPED)), dag.edges
    t = dag.tasks
    for name in ("preflight", "stage", "create-tables", "load"):
        check_plain(t[name], "%s --ds {{ ds }}" % name)
    check_plain(t["transform-merge"], "transform --ds {{ ds }} --merge")
    # list-inputs: a TaskFlow task; its XCom is what transform-map expands over.
    lst = t["list-inputs"]
    assert type(lst).__name__ == "PythonOperator" and lst.kw["python_callable"].__name__ == "list_inputs"
    m = t["transform-map"]
    assert isinstance(m, MappedOperator), m
    assert list(m.expand_input) == ["env" if RUNNER == "bash" else "environment"], m.expand_input
    (arg,) = m.expand_input.values()
    assert isinstance(arg, MapXComArg) and arg.operator is lst and arg.arg.operator is lst, arg
    (f,) = arg.callables
    name = "{{ 7 * 7 }} $(x) 'b'.csv"   # a hostile name reaches salespipe untouched
    ctx = {"ds": "2024-01-10", "ti": standins_run.TI("transform-map", 0)}
    if RUNNER == "bash":
        assert m.operator_class.__name__ == "BashOperator"
        assert m.partial_kwargs["bash_command"] == "%s %s" % (BIN, MAP_ARGS), m.partial_kwargs
        assert m.partial_kwargs["append_env"] is True, m.partial_kwargs
        assert f(name) == {"SALESPIPE_INPUT": name}, f(name)
        op = m.unmap({"env": f(name)})
        standins_run.render_fields(op, ctx, skip={"env"})
        assert op.kw["bash_command"] == BIN + ' transform --ds 2024-01-10 --map "$SALESPIPE_INPUT"', op.kw
        assert op.kw["env"] == {"SALESPIPE_INPUT": name}, op.kw
    else:
        assert m.operator_class.__name__ == "DockerOperator"
        p = m.partial_kwargs
        assert p["entrypoint"] == ["/bin/sh", "-c"] and p["command"] == ["exec salespipe " + MAP_ARGS], p
        assert "environment" not in p and p["image"] == "img:1", p
        env = f(name)
        assert env["SALESPIPE_INPUT"] == name, env
        check_container(p, env)
        op = m.unmap({"environment": env})
        standins_run.render_fields(op, ctx, skip={"environment"})
        assert op.kw["command"] == ['exec salespipe transform --ds 2024-01-10 --map "$SALESPIPE_INPUT"'], op.kw
        assert op.kw["environment"]["SALESPIPE_INPUT"] == name, op.kw


if CHECK == "shape":
    for d in dags.values():
        check_args(d)
    (check_mapped if MODE == "mapped" else check_classic)(dags["sales_data_aggregation"])
    check_mapped(dags["sales_data_aggregation_mapped"])

elif CHECK == "list-docker":
    lst = dags["sales_data_aggregation_mapped"].tasks["list-inputs"]
    docker.script = dict(stdout=b"a_orders.csv\nb c_orders.csv\n", stderr=b"warn: no _inputs.json\n", status=0)
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        got = lst.execute({"ds": "2024-01-10"})
    assert got == ["a_orders.csv", "b c_orders.csv"], got
    assert log.getvalue() == "warn: no _inputs.json\n", log.getvalue()  # salespipe's log: the task log
    calls = dict((c, kw) for c, kw in docker.calls)
    cc = calls["create_container"]
    assert cc["image"] == "img:1" and cc["command"] == ["transform", "--ds", "2024-01-10", "--list"], cc
    assert cc["environment"]["RDS_PASS"] == "pw" and cc["environment"]["DATA_DIR"] == "/data", cc
    assert calls["create_host_config"]["network_mode"] == "bridge", calls
    assert ("logs", {"stdout": True, "stderr": False}) in docker.calls, docker.calls
    assert docker.calls[-1][0] == "remove_container", docker.calls
    docker.calls.clear()

    def refused(what, status, message):
        """list-inputs fails with MESSAGE when the container exits STATUS
        printing nothing, and the container is removed all the same."""
        docker.script = dict(stdout=b"", stderr=b"", status=status)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                lst.execute({"ds": "2024-01-10"})
            raise AssertionError(what + " passed")
        except RuntimeError as e:
            assert message in str(e), e
        assert docker.calls[-1][0] == "remove_container", docker.calls

    refused("a failed listing", 1, "exited with status 1")
    refused("an empty input set", 0, "no input files for ds 2024-01-10")

elif CHECK == "run":
    dag_id, ds = sys.argv[3], sys.argv[4]
    ran = standins_run.run_dag(dags[dag_id], ds, log=lambda m: print(m, file=sys.stderr))
    print(" ".join(t if i is None else "%s[%d]" % (t, i) for t, i in ran))

else:
    raise SystemExit("unknown check " + CHECK)
