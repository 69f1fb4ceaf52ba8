"""Scenario 1: the engine in process, no I/O, one core: instances run to completion per
second, Procflow against SpiffWorkflow on the same .bpmn files; and run cost by data size."""

from __future__ import annotations

from functools import partial
from typing import Any

from bench import spiff_peer
from bench.common import (
    SIZES,
    Row,
    Stat,
    interleaved_rates,
    make_data,
    pin_to_one_core,
    timed_loop,
    unpin,
)
from bench.procflow_side import load_definition, run_in_memory
from procflow.model.definition import ProcessDefinition

LABELS = {
    "straight": "(a) start -> 3 rule tasks -> end",
    "gateways": "(b) exclusive gateway + parallel fork/join",
    "usertask": "(c) user task executed by an action",
}
GOAL_RATIO = 10.0
FLAT_GOAL = 1.2
WINDOW = 1.0


def _engine_loop(
    definition: ProcessDefinition, data: dict[str, Any], window: float
) -> tuple[int, float]:
    return timed_loop(lambda _: run_in_memory(definition, data), window)


def run() -> list[Row]:
    cpu = pin_to_one_core()
    try:
        rows = [_compare(model) for model in LABELS]
        rows.append(_flatness())
    finally:
        unpin()
    for row in rows:
        row.extra["cpu"] = cpu
    return rows


def _compare(model: str) -> Row:
    data = make_data(1024)
    definition = load_definition(model)
    spec = spiff_peer.load_spec(model)
    for _ in range(200):  # warm caches (CEL programs, SpiffWorkflow's compiled scripts)
        run_in_memory(definition, data)
        spiff_peer.run_to_completion(spec, data)
    found = interleaved_rates(
        {
            "procflow": lambda w: timed_loop(lambda _: run_in_memory(definition, data), w),
            "spiff": lambda w: timed_loop(lambda _: spiff_peer.run_to_completion(spec, data), w),
        },
        WINDOW,
        "inst/s",
    )
    ours, peer = found["procflow"], found["spiff"]
    ratio = ours.median / peer.median
    has_goal = model != "usertask"
    return Row(
        scenario=f"1 engine {LABELS[model]}, 1 KB",
        procflow=ours,
        peer=peer,
        peer_name="SpiffWorkflow",
        ratio=ratio,
        goal=f">= {GOAL_RATIO:g}x SpiffWorkflow" if has_goal else "(no goal; reported)",
        met=ratio >= GOAL_RATIO if has_goal else None,
    )


def _flatness() -> Row:
    definition = load_definition("straight")
    datasets = {label: make_data(size) for label, size in SIZES.items()}
    for data in datasets.values():
        for _ in range(50):
            run_in_memory(definition, data)
    rates = interleaved_rates(
        {label: partial(_engine_loop, definition, data) for label, data in datasets.items()},
        WINDOW,
        "inst/s",
    )
    costs = {
        label: Stat([1e6 / r for r in rate.samples], "us/inst") for label, rate in rates.items()
    }
    small, large = costs["1 KB"], costs["1 MB"]
    ratio = large.median / small.median
    return Row(
        scenario="1 engine (a): run cost 1 MB vs 1 KB data",
        procflow=large,
        peer=small,
        peer_name="Procflow at 1 KB",
        ratio=ratio,
        goal=f"<= {FLAT_GOAL:g}x",
        met=ratio <= FLAT_GOAL,
        notes=", ".join(f"{label}: {cost.show()}" for label, cost in costs.items()),
        extra={"by_size": {label: cost.as_json() for label, cost in costs.items()}},
    )
