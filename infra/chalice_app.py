"""What `chalice package` will emit for the app, read from Chalice's own application graph.

The merge template (infra/template.py) has to name the resources Chalice generates: the functions,
their role, the SQS event of each queue consumer, the DynamoDB event of each stream consumer and the
REST API. Chalice derives those logical
ids from the app's function names; asking its graph builder (the code `chalice package` runs) is
cheap (no dependency build) and keeps us from guessing. infra/template.py checks the packaged
template against this afterwards, so a change in Chalice's naming fails the build, not the deploy.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.cli.factory import CLIFactory
from chalice.constants import DEFAULT_LAMBDA_TIMEOUT
from chalice.deploy import models
from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder
from chalice.utils import to_cfn_resource_name

# Fixed by Chalice's SAM generator (chalice/package.py, _generate_restapi).
REST_API = "RestAPI"
API_HANDLER = "APIHandler"


@dataclass(frozen=True)
class Function:
    name: str  # the Chalice name: the decorated Python function ("send_mail"), or "api_handler"
    logical_id: str
    timeout: int
    environment: Mapping[str, str]
    role: str | None  # logical id of the role Chalice generates for it (None: a pre-created role ARN)
    reserved_concurrency: int | None = None  # .chalice/config.json's, per stage


@dataclass(frozen=True)
class SqsTrigger:
    function: str  # Chalice name of the consuming function
    event_id: str  # key of the event under the function's Properties.Events
    queue: str  # the queue named in the decorator (nominal: the template points at the real one)
    batch_size: int


@dataclass(frozen=True)
class StreamTrigger:
    function: str  # Chalice name of the `@app.on_dynamodb_record` function
    event_id: str  # key of the event under the function's Properties.Events
    # The stream ARN named in the decorator: nominal (Chalice needs a literal), the template points
    # the trigger at the StreamArn of the table whose Table.stream_handler names the function.
    stream_arn: str


@dataclass(frozen=True)
class ChaliceApp:
    functions: tuple[Function, ...]
    sqs_triggers: tuple[SqsTrigger, ...]
    rest_api: str | None
    xray: bool
    stream_triggers: tuple[StreamTrigger, ...] = ()

    def function(self, name: str) -> Function:
        for function in self.functions:
            if function.name == name:
                return function
        known = ", ".join(sorted(f.name for f in self.functions))
        raise LookupError(f"the Chalice app has no function {name!r} (it has: {known})")

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(sorted({f.role for f in self.functions if f.role is not None}))


@contextmanager
def _importing_app_of(project_dir: Path) -> Iterator[None]:
    """Chalice imports a project's app.py as the module `app`, and puts the project on sys.path for
    good. Unless this project's app is the one loaded already, whatever `app` was loaded (or none)
    steps aside while this project's is read, then comes back with sys.path as it was: reading a
    small project of a test must not replace the app other code imports."""
    loaded = sys.modules.get("app")
    if loaded is not None and Path(str(getattr(loaded, "__file__", ""))).resolve() == (
        project_dir.resolve() / "app.py"
    ):
        yield
        return
    path = list(sys.path)
    sys.modules.pop("app", None)
    try:
        yield
    finally:
        if loaded is None:
            sys.modules.pop("app", None)
        else:
            sys.modules["app"] = loaded
        sys.path[:] = path


def read_app(project_dir: Path, stage: str) -> ChaliceApp:
    """Builds Chalice's application graph for `stage` (imports app.py, like `chalice package`)."""
    with _importing_app_of(project_dir):  # the config imports app.py when the graph first asks
        config = CLIFactory(str(project_dir)).create_config_obj(chalice_stage_name=stage)
        application = ApplicationGraphBuilder().build(config, stage)
    resources: list[Any] = DependencyBuilder().build_dependencies(application)

    rest_apis = [r for r in resources if isinstance(r, models.RestAPI)]
    api_handler = rest_apis[0].lambda_function.resource_name if rest_apis else None
    functions = []
    for resource in resources:
        if not isinstance(resource, models.LambdaFunction):
            continue
        role = resource.role
        functions.append(
            Function(
                name=resource.resource_name,
                logical_id=API_HANDLER
                if resource.resource_name == api_handler
                else to_cfn_resource_name(resource.resource_name),
                # Chalice fills its default in later (the deployer's InjectDefaults step).
                timeout=DEFAULT_LAMBDA_TIMEOUT if resource.timeout is None else int(resource.timeout),
                environment=dict(resource.environment_variables or {}),
                role=to_cfn_resource_name(role.resource_name)
                if isinstance(role, models.ManagedIAMRole)
                else None,
                reserved_concurrency=resource.reserved_concurrency,
            )
        )
    triggers = [
        SqsTrigger(
            function=r.lambda_function.resource_name,
            event_id=to_cfn_resource_name(r.resource_name),
            queue=r.queue.arn if isinstance(r.queue, models.QueueARN) else str(r.queue),
            batch_size=int(r.batch_size),
        )
        for r in resources
        if isinstance(r, models.SQSEventSource)
    ]
    streams = [
        StreamTrigger(
            function=r.lambda_function.resource_name,
            event_id=to_cfn_resource_name(r.resource_name),
            stream_arn=str(r.stream_arn),
        )
        for r in resources
        if isinstance(r, models.DynamoDBEventSource)
    ]
    return ChaliceApp(
        functions=tuple(functions),
        sqs_triggers=tuple(triggers),
        stream_triggers=tuple(streams),
        rest_api=REST_API if rest_apis else None,
        xray=any(bool(getattr(r, "xray", False)) for r in resources if isinstance(r, models.LambdaFunction)),
    )
