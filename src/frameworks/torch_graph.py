"""The graph PyTorch built for one step, as a GraphDef for TensorBoard's Graphs tab.

torch.utils.tensorboard's add_graph imports TensorFlow (and traces, freezing control flow), so this
walks the autograd graph that the step itself recorded: one node per backward function, its inputs
the functions (or parameters) it came from.  Each DynamicNet depth gets its own scope, since each
builds a different graph; parameters sit in one shared scope, so the reused middle layer is visible.
"""
from __future__ import annotations

import torch
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef


def add_step_graph(graph: GraphDef, loss: torch.Tensor, scope: str, param_names: dict[int, str]) -> None:
    """Adds the autograd graph behind `loss` to `graph` under `scope` (call before backward())."""
    names: dict[object, str] = {}
    order: list[object] = []
    stack = [loss.grad_fn]
    while stack:  # depth-first over backward functions, each named once
        fn = stack.pop()
        if fn is None or fn in names:
            continue
        var = getattr(fn, "variable", None)  # AccumulateGrad: a leaf, i.e. a parameter
        if var is not None:
            names[fn] = f"parameters/{param_names.get(id(var), 'tensor')}"
        else:
            names[fn] = f"{scope}/{type(fn).__name__}_{len(order)}"
        order.append(fn)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    existing = {n.name for n in graph.node}
    for fn in order:
        name = names[fn]
        if name in existing:
            continue
        existing.add(name)
        op = "Parameter" if name.startswith("parameters/") else type(fn).__name__
        inputs = [names[next_fn] for next_fn, _ in getattr(fn, "next_functions", ()) if next_fn is not None]
        graph.node.append(NodeDef(name=name, op=op, input=inputs))


def autograd_nodes(loss: torch.Tensor) -> int:
    """How many nodes the graph behind `loss` has: what an eager step built, and will build again next
    step (backward functions, and the parameters it reaches).  A few microseconds for the seed models."""
    seen, stack = set(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return len(seen)
