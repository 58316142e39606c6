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
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG

DAG_ID = "sales_data_aggregation"
# The reference's task order; the ids are salespipe's command names.
TASKS = ["preflight", "stage", "transform", "create-tables", "load"]
COMMAND = "{task} --ds {{ ds }}"

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


def make_task(task: str):
    """One pipeline task as an operator of the chosen kind."""
    command = COMMAND.replace("{task}", task)
    if RUNNER == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator
        from docker.types import Mount

        mounts = []
        environment = {"DATA_DIR": "/data", **_env(PLAIN_NAMES)}
        if os.environ.get("HOST_DATA_DIR"):
            mounts.append(
                Mount(source=os.environ["HOST_DATA_DIR"], target="/data", type="bind", read_only=True)
            )
            # The host's DATA_DIR (a path on the host) means nothing inside.
            environment["DATA_DIR"] = "/data"
        return DockerOperator(
            task_id=task,
            image=os.environ.get("PIPELINE_IMAGE", "salespipe:latest"),
            command=command,  # the image's ENTRYPOINT is salespipe
            docker_url=os.environ.get("DOCKER_HOST", "unix://var/run/docker.sock"),
            network_mode=os.environ.get("PIPELINE_NETWORK", "bridge"),
            environment=environment,
            private_environment=_env(SECRET_NAMES),
            mounts=mounts,
            mount_tmp_dir=False,
            auto_remove="success",
        )
    from airflow.operators.bash import BashOperator

    return BashOperator(task_id=task, bash_command=SALESPIPE_BIN + " " + command)


with DAG(
    dag_id="sales_data_aggregation",
    description="Regional sales CSVs -> Parquet lake -> star schema warehouse (salespipe)",
    default_args=default_args,
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,  # True: one run per missed ds (see the docstring: backfill)
    max_active_runs=1,
    tags=["salespipe", "etl"],
) as dag:
    preflight = make_task("preflight")
    stage = make_task("stage")
    transform = make_task("transform")
    create_tables = make_task("create-tables")
    load = make_task("load")

    preflight >> stage >> transform >> create_tables >> load
