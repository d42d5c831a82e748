"""The AWS calls of the scale benchmark's operations (bench/scale.py) do not grow with the number of
records: a bounded run on Amazon's DynamoDB Local, 200 then 600 processes, through the same HTTP
routes, loader and check as `python -m bench.scale` (which goes to 100,000)."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from bench import scale
from chalicelib import bootstrap

pytestmark = pytest.mark.xdist_group("contract")


def test_calls_per_operation_stay_the_same_as_the_tables_grow(dynamodb_local_endpoint: str) -> None:
    import app as app_module

    services, tokens, tables = scale._setup(dynamodb_local_endpoint)
    sizes: list[dict[str, Any]] = []
    with bootstrap.use(services), Client(app_module.app, stage_name="local") as client:
        world = scale.World(services, client, tokens, scale.Targets())
        for size in (200, 600):
            scale.grow(world, dynamodb_local_endpoint, tables, size)
            sizes.append({"processes": size, "operations": scale.measure(world, runs=3)})
    assert world.loaded == 600
    first: dict[str, Any] = sizes[0]["operations"]
    assert set(first) == set(scale.operations(world)), "every operation was measured"
    for result in first.values():
        assert result["total_calls"] >= 1  # the hook saw the calls (a broken hook counts nothing)
    lookup = next(v for k, v in first.items() if k.startswith("public lookup"))
    assert lookup["aws_calls"] == {"DynamoDB.GetItem": 1}
    assert scale._check_constant({"by_size": sizes}), sizes
