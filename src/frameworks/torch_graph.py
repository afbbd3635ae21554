"""The graph PyTorch built for one step, as a GraphDef for TensorBoard's Graphs tab, and its size.

torch.utils.tensorboard's add_graph imports TensorFlow (and traces, freezing control flow), so this walks
the autograd graph that the step itself recorded: its backward functions, each standing for the forward
op that recorded it.  It is laid out as TensorFlow lays out its own graphs: data/ and parameters/, then
forward/<layer>/ (a layer is named by the parameters it uses; a layer used k times, like DynamicNet's
shared middle layer, appears k times: middle_1 .. middle_k, all reading parameters/middle), loss/, the
gradients flowing back (gradients/), and update/ (one SGD update per parameter, fed by its gradients).
"""
from __future__ import annotations

import re

import torch
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef

_OP = {"Mm": "MatMul", "Addmm": "Linear", "Clamp": "ReLU", "ClampMin": "ReLU", "Relu": "ReLU", "Tanh": "Tanh",
       "T": "Transpose", "MseLoss": "MSELoss"}
_LOSS = {"MSELoss"}


def _op(fn) -> str:
    base = re.sub(r"Backward\d*$", "", type(fn).__name__)
    return _OP.get(base, base)


def _walk(loss: torch.Tensor) -> list:
    """The backward functions behind `loss`, each once, consumers before producers."""
    order, seen, stack = [], set(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        order.append(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return order


def autograd_nodes(loss: torch.Tensor) -> int:
    """How many nodes the graph behind `loss` has: what an eager step built, and will build again next step
    (backward functions, and the parameters they reach).  A few microseconds for the seed models."""
    return len(_walk(loss))


def step_graph(loss: torch.Tensor, param_names: dict[int, str]) -> GraphDef:
    """The step's graph behind `loss` (call before backward()); param_names: id(parameter) -> name."""
    order = _walk(loss)
    consumers: dict = {}
    for fn in order:
        for f, _ in fn.next_functions:
            if f is not None:
                consumers.setdefault(f, []).append(fn)

    def param(f) -> str:
        return param_names.get(id(f.variable), "tensor")

    def params_of(fn) -> list[str]:  # the parameters an op reads (through a transpose, for a Linear)
        out = []
        for f, _ in fn.next_functions:
            if f is not None and hasattr(f, "variable"):
                out.append(param(f))
            elif f is not None and _op(f) == "Transpose":
                out += params_of(f)
        return out

    forward = [fn for fn in reversed(order) if not hasattr(fn, "variable")]  # producers first
    scope, uses = {}, {}
    for fn in forward:
        op = _op(fn)
        if op in _LOSS:
            scope[fn] = "loss"
        elif op == "Transpose":
            scope[fn] = None  # folded into the Linear that uses it
        elif params_of(fn):
            layer = params_of(fn)[0].rsplit(".", 1)[0]
            uses[layer] = uses.get(layer, 0) + 1
            scope[fn] = (layer, uses[layer])
        else:  # parameter-free (ReLU, tanh, ...): the layer that feeds it
            prev = [f for f, _ in fn.next_functions if f is not None and not hasattr(f, "variable")]
            scope[fn] = scope.get(prev[0], ("input", 1)) if prev else ("input", 1)
    reused = {layer for layer, n in uses.items() if n > 1}

    name: dict = {}
    for fn in forward:
        s = scope[fn]
        if s is None:
            continue
        if s == "loss":
            name[fn] = f"loss/{_op(fn)}"
        else:
            layer, k = s
            name[fn] = f"forward/{layer}_{k}/{_op(fn)}" if layer in reused else f"forward/{layer}/{_op(fn)}"

    g, made = GraphDef(), set()

    def add(node: str, op: str, inputs=()) -> None:
        if node not in made:
            made.add(node)
            g.node.append(NodeDef(name=node, op=op, input=list(inputs)))

    def inputs_of(fn) -> list[str]:
        ins = []
        for f, _ in fn.next_functions:
            if f is None:  # a tensor no gradient flows to: the step's data
                ins.append("data/y" if _op(fn) in _LOSS else "data/x")
            elif hasattr(f, "variable"):
                ins.append("parameters/" + param(f))
            elif scope.get(f) is None:
                ins += inputs_of(f)
            else:
                ins.append(name[f])
        return ins

    add("data/x", "Data")
    add("data/y", "Data")
    for p in sorted(set(param_names.values())):
        add(f"parameters/{p}", "Parameter")
    for fn in forward:
        if fn in name:
            add(name[fn], _op(fn), inputs_of(fn))

    def grad(fn) -> str:  # gradients flow from consumer to producer: the forward edges reversed
        return "gradients/" + name[fn].split("/", 1)[1] + "_grad"

    for fn in order:
        if fn in name:
            add(grad(fn), type(fn).__name__, [grad(c) for c in consumers.get(fn, []) if c in name])
    for fn in order:
        if hasattr(fn, "variable"):
            users = []
            for c in consumers.get(fn, []):
                users += [c] if c in name else consumers.get(c, [])
            add(f"update/{param(fn)}", "SGD", [f"parameters/{param(fn)}", *sorted({grad(c) for c in users})])
    return g


def fx_graph(gm) -> GraphDef:
    """The graph torch.compile traced (Dynamo's FX graph of the forward pass and loss) as a GraphDef: its
    inputs (parameters and data) under inputs/, its ops under forward/, its result (the loss) under loss/."""
    g = GraphDef()
    names = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            names[node] = f"inputs/{node.name}"
        elif node.op == "output":
            names[node] = "loss/output"
        else:
            names[node] = f"forward/{node.name}"
        target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
        g.node.append(NodeDef(name=names[node], op=node.op if node.op in ("placeholder", "output") else target,
                              input=[names[i] for i in node.all_input_nodes]))
    return g
