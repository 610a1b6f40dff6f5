"""Every DAG loads, and follows the project's conventions: DAG files only wire (each task one
call into a plain module, no settings read when the file is parsed), every task's retries are
chosen on purpose."""

import ast
import json

import pytest

from tests.conftest import REPO

DAG_FILES = sorted(p.name for p in (REPO / "dags").glob("*.py"))
MAX_TASK_STATEMENTS = 2  # a task body calls one function (orchestration/ or the role's package)
# names whose use in a DAG file reads settings, the environment or Variables when it is parsed
SETTINGS_READS = {"Settings", "task_settings", "api_settings", "Variable", "environ", "getenv"}
LOGIC = (
    ast.If,
    ast.IfExp,
    ast.For,
    ast.While,
    ast.Try,
    ast.With,
    ast.Match,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.ClassDef,
)


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= len(DAG_FILES)


def test_conventions(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag_id.startswith("lakewatch_"), dag_id
        assert "lakewatch" in dag.tags, dag_id
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.catchup is False, dag_id
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", (dag_id, t.task_id)
            assert retries_set(dag, t), f"{dag_id}.{t.task_id}: retries left to Airflow's default"


def retries_set(dag, task) -> bool:
    """Retries chosen in the DAG's ``default_args`` or passed to the task itself: Airflow's
    default (0) is never what a step that calls AWS wants, nor a decision anyone made."""
    given = getattr(task, "_BaseOperator__init_kwargs", {})  # what the operator was passed
    return "retries" in (dag.default_args or {}) or "retries" in given


def test_the_retries_check_finds_a_task_left_to_the_default(airflow_db):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG("lakewatch_probe", schedule=None) as bare:
        implicit = EmptyOperator(task_id="implicit")
        explicit = EmptyOperator(task_id="explicit", retries=0)
    assert not retries_set(bare, implicit) and retries_set(bare, explicit)
    with DAG("lakewatch_probe_defaults", schedule=None, default_args={"retries": 1}) as dflt:
        inherited = EmptyOperator(task_id="inherited")
    assert retries_set(dflt, inherited)


def _decorator_names(node) -> set[str]:
    """``task``, ``task.sensor``, ``task(pool=...)``: the decorator's first name."""
    names = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        while isinstance(target, ast.Attribute):
            target = target.value
        if isinstance(target, ast.Name):
            names.add(target.id)
    return names


def _task_problems(fn) -> list[str]:
    body = fn.body[1:] if ast.get_docstring(fn) else fn.body
    problems = []
    if len(body) > MAX_TASK_STATEMENTS:
        problems.append(f"task {fn.name} has {len(body)} statements")
    for node in ast.walk(fn):
        if isinstance(node, ast.Import | ast.ImportFrom):
            problems.append(f"task {fn.name} imports at line {node.lineno}")
        if node is not fn and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            problems.append(f"task {fn.name} defines {node.name}")
    return problems


def _function_problems(tree) -> list[str]:
    """Module level: only the ``@dag`` function; inside it, only ``@task`` functions."""
    problems = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if "dag" not in _decorator_names(node):
                problems.append(f"module-level function {node.name}")
                continue
            for inner in node.body:
                if not isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if "task" in _decorator_names(inner):
                    problems.extend(_task_problems(inner))
                else:
                    problems.append(f"helper {inner.name} inside the DAG")
    return problems


def logic_in(source: str) -> list[str]:
    """What in a DAG file is more than wiring: branches, loops, comprehensions, helpers, long
    or importing task bodies, and reads of settings while the file is parsed."""
    tree = ast.parse(source)
    problems = _function_problems(tree)
    for node in ast.walk(tree):
        if isinstance(node, LOGIC):
            problems.append(f"{type(node).__name__} at line {node.lineno}")
        name = getattr(node, "id", None) or getattr(node, "attr", None)
        if name in SETTINGS_READS:
            problems.append(f"{name} read at line {node.lineno}")
        if isinstance(node, ast.ImportFrom) and node.module == "lakewatch.settings":
            problems.append(f"lakewatch.settings imported at line {node.lineno}")
    return problems


@pytest.mark.parametrize("name", DAG_FILES)
def test_dag_files_only_wire(name):
    """Logic lives in plugins/lakewatch, where it is tested without Airflow's scheduler."""
    assert logic_in((REPO / "dags" / name).read_text()) == [], name


def test_the_wiring_check_finds_logic():
    source = """
from lakewatch.settings import Settings

CONN = Settings().aws_conn_id
TYPES = {k: ("a" if k else "b") for k in "xy"}


def _helper():
    return 1


@dag(dag_id="lakewatch_x")
def lakewatch_x():
    @task
    def long(*, params=None):
        from lakewatch.backends import backend_for

        settings = task_settings()
        if params["x"]:
            return backend_for(settings)
        return None

    @task.sensor(mode="reschedule")
    def short(doc):
        \"\"\"One call.\"\"\"
        return steps.short(doc)

    long() >> short({})
"""
    found = logic_in(source)
    assert "module-level function _helper" in found
    assert "task long has 4 statements" in found and "task long imports at line 16" in found
    assert not any("short" in p for p in found)
    for kind in ("Settings read", "task_settings read", "DictComp", "IfExp", "If at"):
        assert any(p.startswith(kind) for p in found), (kind, found)
    assert any(p.startswith("lakewatch.settings imported") for p in found)


def test_extract_is_a_daily_partition(dagbag):
    dag = dagbag.dags["lakewatch_extract"]
    assert dag.timetable.__class__.__name__ == "CronDataIntervalTimetable"
    assert {t.task_id for t in dag.tasks} == {"extract_pairs"}
    assert [o.name for o in dag.get_task("extract_pairs").outlets] == ["lakewatch_training_pairs"]
    # one task on both backends, its Athena SQL a rendered template field the UI shows
    task = dag.get_task("extract_pairs")
    assert task.__class__.__name__ == "ExtractDayOperator"
    assert {"counts_sql", "unload_sql", "splits_sql"} <= set(task.template_fields)


def test_train_graph(dagbag):
    dag = dagbag.dags["lakewatch_train"]
    assert dag.max_active_runs == 1
    ids = {t.task_id for t in dag.tasks}
    assert ids == {
        "plan",
        "training_job",
        "choose_training",
        "train_local",
        "train_sagemaker",
        "wait_for_training",
        "reuse_training",
        "register",
        "deploy",
        "wait_for_endpoint",
        "finish_deploy",
        "publish_detector",
        "smoke_check",
    }
    endpoint_tasks = ("deploy", "wait_for_endpoint", "finish_deploy", "publish_detector")
    assert {dag.get_task(t).pool for t in (*endpoint_tasks, "smoke_check")} == {
        "lakewatch_endpoint"
    }
    # the endpoint's minutes in Creating/Updating hold no worker slot
    assert dag.get_task("wait_for_endpoint").mode == "reschedule"
    assert dag.get_task("finish_deploy").upstream_task_ids == {"deploy", "wait_for_endpoint"}
    assert dag.get_task("publish_detector").upstream_task_ids == {"register", "finish_deploy"}
    assert "publish_detector" in dag.get_task("smoke_check").upstream_task_ids
    assert dag.params["epochs"] is None and dag.params["mini_batch_size"] is None  # schedule
    assert dag.get_task("register").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("train_sagemaker").__class__.__name__ == "SageMakerTrainingOperator"
    assert dag.get_task("train_sagemaker").deferrable  # hours of waiting in the triggerer
    assert dag.get_task("wait_for_training").mode == "reschedule"
    # the connection, like every other setting, is resolved when the task runs
    for task_id in ("train_sagemaker", "wait_for_training"):
        assert dag.get_task(task_id).aws_conn_id == "{{ lakewatch_aws_conn_id() }}"
    # smoke_check retries throttling; its refusal is an AirflowFailException, never retried
    assert dag.get_task("smoke_check").retries >= 1
    assert [o.name for o in dag.get_task("smoke_check").outlets] == ["lakewatch_deployed_model"]


def test_the_sagemaker_connection_is_the_variables_when_the_task_runs(dagbag, monkeypatch):
    dag = dagbag.dags["lakewatch_train"]
    monkeypatch.setenv("AIRFLOW_VAR_LAKEWATCH", json.dumps({"aws_conn_id": "aws_sagemaker"}))
    for task_id in ("train_sagemaker", "wait_for_training"):
        task = dag.get_task(task_id)
        rendered = task.render_template(task.aws_conn_id, {}, jinja_env=dag.get_template_env())
        assert rendered == "aws_sagemaker", task_id


def test_every_dag_alerts_on_failure_and_nightly_ones_when_late(dagbag):
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    from lakewatch.settings import Settings

    for dag_id, dag in dagbag.dags.items():
        [notifier] = (
            dag.on_failure_callback
            if isinstance(dag.on_failure_callback, list)
            else [dag.on_failure_callback]
        )
        assert isinstance(notifier, SnsNotifier), dag_id
        assert notifier.target_arn == Settings().alerts_topic, dag_id
    for dag_id in ("lakewatch_extract", "lakewatch_train", "lakewatch_recalibrate"):
        deadline = dagbag.dags[dag_id].deadline
        [alert] = deadline if isinstance(deadline, list) else [deadline]
        assert alert.callback.kwargs["dag_id"] == dag_id
