"""sales_data_aggregation: the reference system's Airflow DAG, running salespipe.

Five tasks in the reference's order, each one `salespipe <task> --ds {{ ds }}`:
preflight >> stage >> transform >> create-tables >> load. Airflow owns the
retries here (2, ten minutes apart) and the failure e-mail, exactly as the
reference did; each salespipe task command runs once per try (single tasks do
not retry by themselves), so nothing is retried twice over.

Two ways to run a task, chosen by the environment variable SALESPIPE_RUNNER:
  bash    BashOperator: the `salespipe` binary on the worker's PATH (or
          SALESPIPE_BIN), configured by the worker's environment / .env.
  docker  DockerOperator: the image of our Dockerfile (PIPELINE_IMAGE, default
          salespipe:latest) on PIPELINE_NETWORK, with HOST_DATA_DIR mounted
          read-only at /data; salespipe's configuration names are passed on
          from Airflow's environment (secrets as private_environment, which
          the UI does not show).
The default is docker when PIPELINE_IMAGE is set (docker-compose.yml's airflow
service sets it), bash otherwise. See docs/operations.md.

Backfill: catchup stays False as in the reference. Setting catchup=True (or
`airflow dags backfill -s D1 -e D2 sales_data_aggregation`) makes Airflow
create one DAG run per missed ds, in date order (max_active_runs=1), each
task with --ds {{ ds }}: the same job as `salespipe backfill --from D1 --to D2`
outside Airflow, which runs one recorded run per ds and stops at the first
failed day (depends_on_past=True gives Airflow that stop too).

The mapped form spreads the transform over Airflow's workers, one task per
input file (dynamic task mapping, Airflow 2.4+): the DAG
sales_data_aggregation_mapped, and sales_data_aggregation itself when
SALESPIPE_DAG_MODE=mapped (default: classic, the five tasks above):
  preflight >> stage >> list-inputs >> transform-map[...] >> transform-merge
            >> create-tables >> load
list-inputs returns `salespipe transform --ds DS --list` (the run's input
set, one file name per element) as its XCom; transform-map is expanded over
that list, one mapped task per name running
`salespipe transform --ds DS --map NAME` (the name passed in the environment
variable SALESPIPE_INPUT, never through a shell or a template); the merge
checks every part is there, runs the quality gates and publishes what a
one-process transform would. A mapped task that fails is retried on its
own (its rerun replaces its parts); the merge fails naming a missing part.
The workers must share the stores (S3): see docs/deploy.md, "Across machines".
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from datetime import datetime, timedelta

from airflow import DAG

DAG_ID = "sales_data_aggregation"
MAPPED_DAG_ID = "sales_data_aggregation_mapped"
# The reference's task order; the ids are salespipe's command names.
TASKS = ["preflight", "stage", "transform", "create-tables", "load"]
COMMAND = "{task} --ds {{ ds }}"
# How a mapped task receives its input's name (an environment variable, so
# that no file name is ever parsed by a shell or rendered as a template).
INPUT_VAR = "SALESPIPE_INPUT"
MAP_ARGS = 'transform --ds {{ ds }} --map "$' + INPUT_VAR + '"'

MODE = os.environ.get("SALESPIPE_DAG_MODE", "classic") or "classic"
if MODE not in ("classic", "mapped"):
    raise ValueError("SALESPIPE_DAG_MODE must be classic or mapped, not %r" % MODE)

RUNNER = os.environ.get(
    "SALESPIPE_RUNNER", "docker" if os.environ.get("PIPELINE_IMAGE") else "bash"
)
SALESPIPE_BIN = os.environ.get("SALESPIPE_BIN", "salespipe")

# salespipe's configuration names (SPEC §3) that a container receives.
PLAIN_NAMES = [
    "DATA_DIR", "RAW_PATTERN", "RAW_STORE", "PROCESSED_STORE", "S3_BUCKET",
    "PROCESSED_BUCKET", "S3_PREFIX", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION",
    "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
    "S3_ENDPOINT_URL", "S3_PART_SIZE_MB", "AWS_MAX_ATTEMPTS", "S3_READ_TIMEOUT",
    "RDS_HOST", "RDS_PORT", "RDS_DB", "RDS_USER", "PGSSLMODE",
    "SALES_THRESHOLD", "DATE_ORDER", "ENCODING", "LOG_FORMAT", "STATE_DIR",
    # The AWS credential chain without keys (a token file must also be
    # mounted into the container), RDS IAM auth and Secrets Manager.
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "RDS_IAM_AUTH", "RDS_SECRET_ID",
]
SECRET_NAMES = [
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DATABASE_URL", "RDS_PASS",
    "PGPASSWORD", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
]

default_args = {
    "owner": "data-engineering",
    "depends_on_past": False,
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "email": [a for a in os.environ.get("ALERT_EMAIL", "").split(",") if a.strip()],
    "email_on_failure": True,
    "email_on_retry": False,
}


def _env(names: list[str]) -> dict[str, str]:
    return {n: os.environ[n] for n in names if os.environ.get(n)}


def _docker_settings():
    """A task container's environment, private environment and mounts."""
    from docker.types import Mount

    mounts = []
    environment = {"DATA_DIR": "/data", **_env(PLAIN_NAMES)}
    if os.environ.get("HOST_DATA_DIR"):
        mounts.append(
            Mount(source=os.environ["HOST_DATA_DIR"], target="/data", type="bind", read_only=True)
        )
        # The host's DATA_DIR (a path on the host) means nothing inside.
        environment["DATA_DIR"] = "/data"
    return environment, _env(SECRET_NAMES), mounts


def _docker_kwargs(environment: bool = True) -> dict:
    """DockerOperator's arguments shared by every task."""
    env, private, mounts = _docker_settings()
    kwargs = dict(
        image=os.environ.get("PIPELINE_IMAGE", "salespipe:latest"),
        docker_url=os.environ.get("DOCKER_HOST", "unix://var/run/docker.sock"),
        network_mode=os.environ.get("PIPELINE_NETWORK", "bridge"),
        private_environment=private,
        mounts=mounts,
        mount_tmp_dir=False,
        auto_remove="success",
    )
    if environment:
        kwargs["environment"] = env
    return kwargs


def make_task(task: str, args: str | None = None, task_id: str | None = None):
    """One pipeline task as an operator of the chosen kind: `salespipe ARGS`
    (default: TASK --ds {{ ds }})."""
    command = args or COMMAND.replace("{task}", task)
    if RUNNER == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator

        # command: the image's ENTRYPOINT is salespipe
        return DockerOperator(task_id=task_id or task, command=command, **_docker_kwargs())
    from airflow.operators.bash import BashOperator

    return BashOperator(task_id=task_id or task, bash_command=SALESPIPE_BIN + " " + command)


# ---- the mapped form -----------------------------------------------------------

def _container_stdout(args: list[str]) -> str:
    """Run `salespipe ARGS` in the task image and return its stdout; its
    stderr (salespipe's log) goes to the task's log. The Docker API, not
    DockerOperator, whose output mixes stdout with stderr."""
    import docker

    kw = _docker_kwargs()
    client = docker.APIClient(base_url=kw["docker_url"])
    container = client.create_container(
        image=kw["image"],
        command=args,
        environment={**kw["environment"], **kw["private_environment"]},
        host_config=client.create_host_config(mounts=kw["mounts"], network_mode=kw["network_mode"]),
    )
    try:
        client.start(container["Id"])
        status = client.wait(container["Id"])["StatusCode"]
        sys.stderr.write(client.logs(container["Id"], stdout=False, stderr=True).decode("utf-8", "replace"))
        if status != 0:
            raise RuntimeError("salespipe %s exited with status %d" % (" ".join(args), status))
        return client.logs(container["Id"], stdout=True, stderr=False).decode("utf-8")
    finally:
        client.remove_container(container["Id"], force=True)


def list_inputs(ds=None) -> list[str]:
    """The run's input set, as `salespipe transform --ds DS --list` prints it:
    one file name per element, in name order. Its return value is the XCom
    transform-map is expanded over. No input is an error, as a one-process
    transform's "no input files" is (an empty list would skip every task
    after it)."""
    args = ["transform", "--ds", ds, "--list"]
    if RUNNER == "docker":
        out = _container_stdout(args)
    else:
        out = subprocess.run(shlex.split(SALESPIPE_BIN) + args, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
    names = [line for line in out.splitlines() if line]
    if not names:
        raise RuntimeError("no input files for ds %s: `salespipe transform --list` printed none "
                           "(did stage find any?)" % ds)
    return names


def input_env(name: str) -> dict[str, str]:
    """A mapped task's own environment: its input's name."""
    return {INPUT_VAR: name}


def container_env(name: str) -> dict[str, str]:
    """A mapped container's environment: the common one and its input's name."""
    return {**_docker_settings()[0], INPUT_VAR: name}


def make_map_task(names):
    """transform-map: `salespipe transform --ds {{ ds }} --map NAME`, expanded
    over NAMES (list-inputs' XCom), one mapped task instance per input. The
    name reaches the command through $SALESPIPE_INPUT; {{ ds }} stays in the
    unmapped part, which Airflow renders (it never renders mapped values)."""
    if RUNNER == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator

        # A shell in the image expands $SALESPIPE_INPUT (the ENTRYPOINT,
        # salespipe, would not); command is a list so Docker does not split it.
        return DockerOperator.partial(
            task_id="transform-map",
            entrypoint=["/bin/sh", "-c"],
            command=["exec salespipe " + MAP_ARGS],
            **_docker_kwargs(environment=False),
        ).expand(environment=names.map(container_env))
    from airflow.operators.bash import BashOperator

    return BashOperator.partial(
        task_id="transform-map",
        bash_command=SALESPIPE_BIN + " " + MAP_ARGS,
        append_env=True,  # the worker's configuration, plus SALESPIPE_INPUT
    ).expand(env=names.map(input_env))


def build_dag(dag_id: str, mapped: bool):
    """The DAG: the reference's five tasks, or the mapped form."""
    from airflow.decorators import task

    with DAG(
        dag_id=dag_id,
        description="Regional sales CSVs -> Parquet lake -> star schema warehouse (salespipe)"
        + (", the transform mapped per input file" if mapped else ""),
        default_args=default_args,
        schedule="@daily",
        start_date=datetime(2024, 1, 1),
        catchup=False,  # True: one run per missed ds (see the docstring: backfill)
        max_active_runs=1,
        tags=["salespipe", "etl"] + (["mapped"] if mapped else []),
    ) as dag:
        preflight = make_task("preflight")
        stage = make_task("stage")
        if mapped:
            names = task(task_id="list-inputs")(list_inputs)()
            transform_map = make_map_task(names)  # after list-inputs: it maps its XCom
            transform = make_task("transform", "transform --ds {{ ds }} --merge", "transform-merge")
            stage >> names
            transform_map >> transform
        else:
            transform = make_task("transform")
            stage >> transform
        create_tables = make_task("create-tables")
        load = make_task("load")

        preflight >> stage
        transform >> create_tables >> load
    return dag


dag = build_dag(DAG_ID, MODE == "mapped")
mapped_dag = build_dag(MAPPED_DAG_ID, True)
