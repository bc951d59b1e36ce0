"""Resource checks of raysearch.run: a request must fit on one node, alive or addable."""

from __future__ import annotations

from raysearch.tune.resources import concurrency_for, unfit_message

CPU_NODE = {"CPU": 8.0, "memory": 3e10}
GPU_NODE = {"CPU": 48.0, "GPU": 4.0}
HEAD = {"CPU": 0.0}


def test_request_must_fit_one_node_not_the_sum():
    # 8 + 8 CPUs across two nodes, but no single node has 12
    message = unfit_message({"cpu": 12}, [CPU_NODE, CPU_NODE])
    assert message is not None and "12 CPU" in message and "8 CPU" in message
    # GPU and CPU must be on the same node
    assert unfit_message({"cpu": 40, "gpu": 1}, [CPU_NODE, {"CPU": 8.0, "GPU": 1.0}]) is not None
    assert unfit_message({"cpu": 4, "gpu": 0.25}, [CPU_NODE, GPU_NODE]) is None


def test_autoscaler_groups_count_as_nodes():
    # a cluster scaled to zero: only a head with no CPU is alive
    assert unfit_message({"cpu": 1, "gpu": 1}, [HEAD]) is not None
    assert unfit_message({"cpu": 1, "gpu": 1}, [HEAD, GPU_NODE]) is None


def test_concurrency_packs_per_node():
    assert concurrency_for({"cpu": 1}, [CPU_NODE, CPU_NODE], []) == 16
    assert concurrency_for({"cpu": 3}, [CPU_NODE], []) == 2
    assert concurrency_for({"cpu": 1, "gpu": 0.25}, [GPU_NODE], []) == 16
    assert concurrency_for({"cpu": 1}, [HEAD], []) == 1  # never zero
    assert concurrency_for({"cpu": 2, "gpu": 1}, [HEAD], [(GPU_NODE, 3)]) == 12
    assert concurrency_for({"cpu": 1}, [HEAD], [(CPU_NODE, -1)]) == 64
