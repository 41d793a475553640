"""Mesh training runs on 8 forced CPU devices (used by test_mesh.py, in a subprocess).

Usage: python mesh_runs.py equivalence|resume [DIRECTORY]; prints one JSON object.
XLA_FLAGS=--xla_force_host_platform_device_count=8 must be set before jax loads.
"""

import json
import sys

import jax
import numpy as np
import optax
from jax.sharding import PartitionSpec as P

from minihaiku.core import transform
from minihaiku.initializers import lecun_normal
from minihaiku.layers import MLP, LayerNorm, MultiHeadAttention
from minihaiku.training import train

MESHES = [(8, 1), (4, 2), (2, 4), (1, 8)]


def mlp(x):
    return MLP([32, 16, 8])(x)


def block_and_head(x):
    """A transformer block (attention, layer norms, an MLP) and an MLP head."""
    # No attention biases: the key bias gets a zero gradient (softmax ignores a
    # constant), and adam turns its rounding noise into lr-sized steps.
    h = LayerNorm(-1, True, True)(x)
    x = x + MultiHeadAttention(4, 4, w_init=lecun_normal(), with_bias=False)(h, h, h)
    h = LayerNorm(-1, True, True)(x)
    x = x + MLP([32, 16])(h)
    return MLP([32, 8])(x)


#: Fully sharded data parallel and tensor parallel at once, by the layers' default
#: annotations: "embed" on 'data', "mlp" and "heads" on 'model'.
RULES = {"batch": "data", "embed": "data", "mlp": "model", "heads": "model"}


def specs(params):
    """Fully sharded data parallel and tensor parallel at once: every matrix's rows on
    'data', its columns on 'model'; every vector on 'model'."""
    return {k: P("data", "model") if v.ndim == 2 else P("model") for k, v in params.items()}


def problem(name):
    rng = np.random.default_rng(0)
    if name == "mlp":
        x, y = rng.normal(size=(16, 16)), rng.normal(size=(16, 8))
        model = transform(mlp)
    else:
        x, y = rng.normal(size=(16, 4, 16)), rng.normal(size=(16, 4, 8))
        model = transform(block_and_head)
    x, y = x.astype(np.float32), y.astype(np.float32)
    return model, model.init(0, x), (x, y)


def describe(result):
    return {
        "losses": result.losses.tolist(),
        "params": {k: np.asarray(v).ravel().tolist() for k, v in result.params.items()},
        "specs": {k: str(tuple(v.sharding.spec)) for k, v in result.params.items()},
        "shards": {k: list(v.addressable_shards[0].data.shape) for k, v in result.params.items()},
        "mu_specs": {k: str(tuple(v.sharding.spec)) for k, v in result.opt_state[0].mu.items()},
        "mesh": {
            str(k): int(v)
            for k, v in next(iter(result.params.values())).sharding.mesh.shape.items()
        },
    }


def equivalence():
    out = {}
    for name in ("transformer",):
        model, params, data = problem(name)
        kw = dict(progress=False, steps_per_dispatch=8)
        one = train(model, params, data, optax.adam(1e-2), 8, data_parallel=False, **kw)
        out[name] = {
            "one": {
                "losses": one.losses.tolist(),
                "params": {k: np.asarray(v).ravel().tolist() for k, v in one.params.items()},
            }
        }
        for shape in MESHES:
            mesh = jax.make_mesh(shape, ("data", "model"))
            r = train(
                model,
                params,
                data,
                optax.adam(1e-2),
                8,
                mesh=mesh,
                rules=RULES,
                **kw,
            )
            out[name][str(shape)] = describe(r)
    out["errors"] = errors()
    return out


def errors():
    """The messages of the errors that need a mesh axis of more than one device."""
    model, params, (x, y) = problem("mlp")
    mesh = jax.make_mesh((8, 1), ("data", "model"))
    got = {}
    tries = {
        "batch": lambda: train(
            model, params, (x[:12], y[:12]), optax.sgd(0.1), 1, progress=False, mesh=mesh
        ),
        "minibatch": lambda: train(
            model, params, (x, y), optax.sgd(0.1), 1, batch_size=6, progress=False, mesh=mesh
        ),
        "divide": lambda: train(
            lambda p, b: (p["~/w"] ** 2).sum(),
            {"~/w": np.ones((4, 6))},
            x,
            optax.sgd(0.1),
            1,
            progress=False,
            mesh=jax.make_mesh((2, 4), ("data", "model")),
            param_shardings={"~/w": P("data", "model")},
        ),
    }
    for what, run in tries.items():
        try:
            run()
        except Exception as e:
            got[what] = [type(e).__name__, str(e)]
    return got


def resume(directory):
    model, params, data = problem("mlp")
    kw = dict(progress=False, steps_per_dispatch=5, param_shardings=specs(params))
    first = train(
        model,
        params,
        data,
        optax.adam(1e-2),
        5,
        checkpoint_dir=directory,
        mesh=jax.make_mesh((4, 2), ("data", "model")),
        **kw,
    )
    other = jax.make_mesh((2, 4), ("data", "model"))
    resumed = train(
        model,
        params,
        data,
        optax.adam(1e-2),
        10,
        checkpoint_dir=directory,
        resume=True,
        mesh=other,
        **kw,
    )
    straight = train(model, params, data, optax.adam(1e-2), 10, resume_from=first, mesh=other, **kw)
    return {
        "first": describe(first),
        "resumed": describe(resumed),
        "straight": describe(straight),
        "resumed_from": resumed.resumed_from,
    }


if __name__ == "__main__":
    what = sys.argv[1]
    result = equivalence() if what == "equivalence" else resume(sys.argv[2])
    json.dump(result, sys.stdout)
