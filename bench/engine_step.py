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

DIAGRAM = Path(__file__).with_name("followup.bpmn")


def _ready_user_task(wf: BpmnWorkflow):  # noqa: ANN202 -- SpiffWorkflow task
    return next(t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual)


def measure(cases: int = 30, steps: int = 10) -> list[float]:
    """Milliseconds per step over ``cases`` cases of ``steps`` completions each."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DIAGRAM))
    spec, subs = parser.get_spec("bench_followup"), parser.get_subprocess_specs("bench_followup")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    timings = []
    for _ in range(cases):
        wf = BpmnWorkflow(spec, subs)
        wf.do_engine_steps()
        state = serializer.serialize_json(wf)
        for i in range(steps):
            data = ({"summary": "bench", "amount": "100.00", "follow_up": True} if i == 0
                    else {"more": i < steps - 1, "note": "ok"})
            t0 = time.perf_counter()
            wf = serializer.deserialize_json(state)
            task = _ready_user_task(wf)
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
            state = serializer.serialize_json(wf)
            timings.append((time.perf_counter() - t0) * 1000)
    return timings


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 3), "n": len(ordered)}
