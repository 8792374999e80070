"""The raw SpiffWorkflow step this project wraps: deserialize, complete one task, serialize.

Same diagram as the API benchmark, plain SpiffWorkflow with its default (Spiff) serializer and
default script engine: the physical limit the API is compared with.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from bench.steps import DIAGRAM as DIAGRAM_NAME
from bench.steps import PROCESS_ID, data_for

DIAGRAM = Path(__file__).with_name(DIAGRAM_NAME)


def _ready_user_task(wf: BpmnWorkflow):
    return next(t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual)


def measure(cases: int = 30) -> list[float]:
    """Milliseconds per step over ``cases`` whole cases (nine user tasks each)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DIAGRAM))
    spec, subs = parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    timings = []
    for _ in range(cases):
        wf = BpmnWorkflow(spec, subs)
        wf.do_engine_steps()
        state = serializer.serialize_json(wf)
        while True:
            t0 = time.perf_counter()
            wf = serializer.deserialize_json(state)
            task = _ready_user_task(wf)
            data = data_for(task.task_spec.bpmn_id)
            if data.get("amount"):
                data["amount"] = "3000.00"  # as the form layer would clean it
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
            state = serializer.serialize_json(wf)
            timings.append((time.perf_counter() - t0) * 1000)
            if wf.is_completed():
                break
    return timings


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 3), "n": len(ordered)}
