"""Stand-ins for the parts of Apache Airflow 2.x that our DAG file uses, for
tests/deploy (no Airflow installed here). They keep what the DAG's meaning
depends on, as Airflow 2.10 does it: DAG as a context manager that owns its
tasks (a duplicate task id is an error), operators that accept only their
documented arguments, `>>` between tasks, lists and XComArgs, TaskFlow's
@task returning an XComArg (a PythonOperator), XComArg.map, and dynamic task mapping:
Operator.partial(...).expand(...) makes a mapped operator whose upstream is
every task an expanded XComArg refers to; expand() takes only mappable
values (list, dict, XComArg), never an argument already given to partial().
Templates are rendered with Jinja2, and mapped values are not rendered
(MappedOperator.render_template_fields skips them). standins_run.py executes a
DAG in dependency order."""
from __future__ import annotations

_current = []   # the DAGs whose `with` block is open
dags = []       # every DAG made, in order


class DuplicateTaskIdFound(Exception):
    pass


class DAG:
    def __init__(self, dag_id, **kw):
        self.dag_id = dag_id
        self.kw = kw
        self.tasks = {}     # task_id -> operator, in creation order
        self.edges = []     # (upstream task_id, downstream task_id), in creation order
        dags.append(self)

    def __enter__(self):
        _current.append(self)
        return self

    def __exit__(self, *exc):
        _current.pop()
        return False

    def add(self, op):
        if op.task_id in self.tasks:
            raise DuplicateTaskIdFound("task id %r has already been added to the DAG" % op.task_id)
        self.tasks[op.task_id] = op

    def edge(self, up, down):
        if up.dag is not self or down.dag is not self:
            raise ValueError("tasks of different DAGs")
        if (up.task_id, down.task_id) not in self.edges:
            self.edges.append((up.task_id, down.task_id))

    def upstream(self, task_id):
        return [u for u, d in self.edges if d == task_id]


def _tasks(x):
    """The operators behind a task, an XComArg or a list of them."""
    if isinstance(x, (list, tuple)):
        return [t for i in x for t in _tasks(i)]
    if hasattr(x, "operator"):
        return [x.operator]
    return [x]


class DependencyMixin:
    def __rshift__(self, other):
        for a in _tasks(self):
            for b in _tasks(other):
                a.dag.edge(a, b)
        return other

    def __lshift__(self, other):
        for a in _tasks(other):
            for b in _tasks(self):
                a.dag.edge(a, b)
        return other

    def __rrshift__(self, other):   # [a, b] >> task
        return self.__lshift__(other)

    def __rlshift__(self, other):   # [a, b] << task
        return self.__rshift__(other)


BASE_ARGS = {
    "task_id", "owner", "email", "email_on_retry", "email_on_failure", "retries",
    "retry_delay", "retry_exponential_backoff", "max_retry_delay", "start_date", "end_date",
    "depends_on_past", "wait_for_downstream", "dag", "params", "default_args", "priority_weight",
    "queue", "pool", "pool_slots", "execution_timeout", "trigger_rule", "do_xcom_push",
    "map_index_template", "multiple_outputs", "doc_md", "executor_config",
}


class BaseOperator(DependencyMixin):
    ARGS: set = set()
    template_fields: tuple = ()

    def __init__(self, **kw):
        unknown = set(kw) - BASE_ARGS - self.ARGS
        if unknown:
            raise TypeError("%s got unexpected keyword arguments %s" % (type(self).__name__, sorted(unknown)))
        if "task_id" not in kw:
            raise TypeError("missing task_id")
        if not _current:
            raise RuntimeError("%s made outside a DAG" % kw["task_id"])
        self.task_id = kw["task_id"]
        self.kw = kw
        self.mapped = False
        self.dag = _current[-1]
        defaults = self.dag.kw.get("default_args", {})
        self.args = {**defaults, **kw}
        self.dag.add(self)

    @property
    def output(self):
        return XComArg(self)

    @classmethod
    def partial(cls, **kw):
        unknown = set(kw) - BASE_ARGS - cls.ARGS
        if unknown:
            raise TypeError("%s.partial() got unexpected keyword arguments %s" % (cls.__name__, sorted(unknown)))
        return OperatorPartial(cls, kw)

    def execute(self, context):
        raise NotImplementedError


class OperatorPartial:
    def __init__(self, cls, kw):
        self.cls, self.kw = cls, kw
        self.expanded = False
        partials.append(self)

    def expand(self, **mapped):
        if not mapped:
            raise TypeError("no arguments to expand against")
        for k, v in mapped.items():
            if k not in BASE_ARGS | self.cls.ARGS:
                raise TypeError("%s.expand() got an unexpected keyword argument %r" % (self.cls.__name__, k))
            if not isinstance(v, (list, dict, XComArg)):
                raise ValueError("%s.expand() got an unexpected type %r for keyword argument %s"
                                 % (self.cls.__name__, type(v).__name__, k))
            if k in self.kw:
                raise TypeError("%r is unmappable or already specified" % k)
        self.expanded = True
        return MappedOperator(self.cls, self.kw, mapped)


partials = []  # every partial(), to check none was left unexpanded


class MappedOperator(DependencyMixin):
    def __init__(self, cls, partial_kwargs, expand_input):
        self.operator_class = cls
        self.partial_kwargs = partial_kwargs
        self.expand_input = expand_input
        self.task_id = partial_kwargs["task_id"]
        self.mapped = True
        self.template_fields = cls.template_fields
        self.dag = _current[-1]
        self.dag.add(self)
        for v in expand_input.values():     # XComArg.apply_upstream_relationship
            if isinstance(v, XComArg):
                v.operator >> self

    def unmap(self, mapped_kwargs):
        """The operator of one map index, outside any DAG."""
        op = object.__new__(self.operator_class)
        op.kw = {**self.partial_kwargs, **mapped_kwargs}
        op.task_id = self.task_id
        op.dag = self.dag
        op.mapped = False
        op.args = {**self.dag.kw.get("default_args", {}), **op.kw}
        return op


class XComArg(DependencyMixin):
    key = "return_value"

    def __init__(self, operator):
        self.operator = operator

    def map(self, f):
        return MapXComArg(self, [f])

    def resolve(self, xcoms):
        return xcoms[self.operator.task_id]


class MapXComArg(XComArg):
    def __init__(self, arg, callables):
        super().__init__(arg.operator)
        self.arg = arg
        self.callables = callables

    def map(self, f):
        return MapXComArg(self.arg, [*self.callables, f])

    def resolve(self, xcoms):
        out = []
        for v in self.arg.resolve(xcoms):
            for f in self.callables:
                v = f(v)
            out.append(v)
        return out
