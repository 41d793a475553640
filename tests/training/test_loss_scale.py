"""train(..., loss_scale=): dynamic loss scaling for float16 compute, hand-checked."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    Module,
    policy_scope,
    transform,
)
from minihaiku.layers import MLP
from minihaiku.training import (
    DynamicLossScale,
    LossScaleState,
    NonFiniteLossError,
    ScaledOptState,
    StaticLossScale,
    mse_loss,
    train,
)

F16_POLICY = "params=float32,compute=float16,output=float32"


class Net(Module):
    def __call__(self, x):
        return MLP([8, 1], activation=jnp.tanh)(x)


@pytest.fixture(autouse=True)
def _restore_policies():
    with policy_scope():
        yield


@pytest.fixture(scope="module")
def problem():
    model = transform(lambda x: Net()(x))
    xs = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
    ys = xs**2
    return model, model.init(0, xs), (xs, ys)


def _scale(state):
    return float(state.scale), int(state.counter)


# ---- the scale's arithmetic -----------------------------------------------------------------


def test_dynamic_scale_halves_on_overflow_and_doubles_after_period_good_steps():
    ls = DynamicLossScale(initial=16.0, period=3, factor=2.0, min_scale=2.0)
    s = ls.init()
    got = []
    for finite in [True, True, True, True, False, True, False, False, False, False]:
        s = ls.adjust(s, jnp.bool_(finite))
        got.append(_scale(s))
    assert got == [
        (16.0, 1),
        (16.0, 2),
        (32.0, 0),  # third good step in a row: doubled, counter reset
        (32.0, 1),
        (16.0, 0),  # overflow: halved, counter reset
        (16.0, 1),
        (8.0, 0),
        (4.0, 0),
        (2.0, 0),
        (2.0, 0),  # never below min_scale
    ]


def test_dynamic_scale_does_not_grow_to_infinity():
    ls = DynamicLossScale(initial=2.0**127, period=1)
    assert _scale(ls.adjust(ls.init(), jnp.bool_(True))) == (2.0**127, 0)


def test_scaling_and_unscaling_multiply_and_divide_by_the_scale():
    ls = StaticLossScale(8.0)
    s = ls.init()
    assert float(ls.scale_loss(jnp.float32(1.5), s)) == 12.0
    np.testing.assert_array_equal(ls.unscale({"g": jnp.array([8.0, 16.0])}, s)["g"], [1.0, 2.0])
    assert _scale(ls.adjust(s, jnp.bool_(False))) == (8.0, 0)  # static: never changes


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: DynamicLossScale(initial=0.0), InvalidArgumentError, "DynamicLossScale initial "
         "must be positive and finite, got 0.0."),
        (lambda: DynamicLossScale(period=2.5), InvalidArgumentTypeError, "DynamicLossScale "
         "period must be a int, got float 2.5."),
        (lambda: DynamicLossScale(factor=1.0), InvalidArgumentError, "DynamicLossScale factor "
         "must be above 1 (it multiplies the scale up and divides it down), got 1.0."),
        (lambda: DynamicLossScale(initial=1.0, min_scale=4.0), InvalidArgumentError,
         "DynamicLossScale initial=1.0 is below min_scale=4.0; start at or above the minimum."),
        (lambda: StaticLossScale(float("inf")), InvalidArgumentError, "StaticLossScale scale "
         "must be positive and finite, got inf."),
        (lambda: StaticLossScale("big"), InvalidArgumentTypeError, "StaticLossScale scale must "
         "be a number, got str 'big'."),
    ],
)  # fmt: skip
def test_bad_loss_scale_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


# ---- inside train() -------------------------------------------------------------------------


def test_a_forced_overflow_skips_the_step_and_halves_the_scale(problem):
    model, params, data = problem
    with policy_scope(Net, F16_POLICY):
        # scale 2**40: the loss's cotangent overflows float16 on the way back
        result = train(
            model, params, data, optax.sgd(0.1), 1, loss_scale=DynamicLossScale(initial=2.0**40),
            progress=False,
        )  # fmt: skip
    for path, value in params.items():
        np.testing.assert_array_equal(result.params[path], value, err_msg=path)  # skipped
    assert isinstance(result.opt_state, ScaledOptState)
    assert _scale(result.opt_state.loss_scale) == (2.0**39, 0)
    assert result.loss_scale == 2.0**39
    np.testing.assert_array_equal(result.metrics["overflow"], [1.0])
    np.testing.assert_array_equal(result.metrics["loss_scale"], [2.0**40])
    assert np.isfinite(result.losses).all()


def test_the_scale_falls_until_the_float16_gradients_are_finite_then_training_runs(problem):
    model, params, data = problem
    with policy_scope(Net, F16_POLICY):
        result = train(
            model, params, data, optax.sgd(0.1), 40,
            loss_scale=DynamicLossScale(initial=2.0**40, period=1000), progress=False,
        )  # fmt: skip
    overflow, scales = result.metrics["overflow"], result.metrics["loss_scale"]
    skipped = int(overflow.sum())
    assert 0 < skipped < 40
    # every skipped step comes first, and each halves the scale; then the scale stays
    np.testing.assert_array_equal(overflow, [1.0] * skipped + [0.0] * (40 - skipped))
    np.testing.assert_array_equal(scales[: skipped + 1], 2.0 ** (40 - np.arange(skipped + 1)))
    assert (scales[skipped:] == scales[skipped]).all()
    # float16's largest value is 65504: the scale that worked keeps the cotangents below it
    assert scales[skipped] <= 2.0**16
    np.testing.assert_array_equal(result.losses[: skipped + 1], result.losses[0])  # no update yet
    assert result.final_loss < result.losses[0]


def test_the_scale_grows_after_period_finite_steps(problem):
    model, params, data = problem
    result = train(
        model, params, data, optax.sgd(0.1), 7,
        loss_scale=DynamicLossScale(initial=4.0, period=3), progress=False,
    )  # fmt: skip
    np.testing.assert_array_equal(result.metrics["loss_scale"], [4, 4, 4, 8, 8, 8, 16])
    assert _scale(result.opt_state.loss_scale) == (16.0, 1)


def test_a_power_of_two_scale_gives_the_unscaled_run_up_to_float32_rounding(problem):
    # Multiplying by 2**k is exact, so only XLA's freedom to fuse the scaled program
    # differently remains (1 ulp here and there).
    model, params, data = problem
    plain = train(model, params, data, optax.adam(1e-2), 30, progress=False)
    for ls in (StaticLossScale(2.0**10), DynamicLossScale(initial=2.0**10, period=7)):
        scaled = train(model, params, data, optax.adam(1e-2), 30, loss_scale=ls, progress=False)
        np.testing.assert_allclose(scaled.losses, plain.losses, rtol=1e-6, atol=0)
        for path in params:
            np.testing.assert_allclose(
                scaled.params[path], plain.params[path], rtol=1e-5, atol=1e-7, err_msg=path
            )
        assert not scaled.metrics["overflow"].any()


def test_a_skipped_step_with_a_non_finite_loss_does_not_stop_the_run(problem):
    model, params, (xs, ys) = problem
    bad = ys.copy()
    bad[0, 0] = np.inf  # batch 2 makes the loss infinite

    def batches():
        for i in range(8):
            yield (xs, bad) if i == 2 else (xs, ys)

    loss = mse_loss(model)
    with pytest.raises(NonFiniteLossError, match=r"the loss is (nan|inf) at step 2; the run"):
        train(loss, params, batches(), optax.sgd(0.1), 8, progress=False)
    result = train(
        loss, params, batches(), optax.sgd(0.1), 8, loss_scale=DynamicLossScale(initial=8.0),
        progress=False,
    )  # fmt: skip
    assert not np.isfinite(result.losses[2]) and np.isfinite(np.delete(result.losses, 2)).all()
    np.testing.assert_array_equal(result.metrics["overflow"], [0, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(result.metrics["loss_scale"], [8, 8, 8, 4, 4, 4, 4, 4])
    assert all(np.isfinite(v).all() for v in result.params.values())


def test_resume_continues_the_scale_bit_for_bit(problem, tmp_path):
    model, params, data = problem
    ls = DynamicLossScale(initial=2.0**20, period=2)

    def run(steps, directory, resume=False):
        return train(
            model, params, data, optax.adam(1e-2), steps, loss_scale=ls, progress=False,
            checkpoint_dir=directory, checkpoint_every=3, steps_per_dispatch=3, resume=resume,
        )  # fmt: skip

    with policy_scope(Net, F16_POLICY):
        whole = run(9, tmp_path / "whole")
        run(3, tmp_path / "parts")
        resumed = run(9, tmp_path / "parts", resume=True)
    assert resumed.resumed_from == 3
    assert whole.metrics["overflow"][:3].sum() > 0  # the scale moved before the checkpoint
    np.testing.assert_array_equal(resumed.losses, whole.losses)
    np.testing.assert_array_equal(resumed.metrics["loss_scale"], whole.metrics["loss_scale"][3:])
    for a, b in zip(
        jax.tree_util.tree_leaves(resumed.opt_state),
        jax.tree_util.tree_leaves(whole.opt_state),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    for path in params:
        np.testing.assert_array_equal(resumed.params[path], whole.params[path], err_msg=path)
    assert isinstance(resumed.opt_state.loss_scale, LossScaleState)


def test_resume_from_a_result_continues_its_scale(problem):
    model, params, data = problem
    ls = DynamicLossScale(initial=4.0, period=3)
    first = train(model, params, data, optax.sgd(0.1), 4, loss_scale=ls, progress=False)
    more = train(model, params, data, optax.sgd(0.1), 7, loss_scale=ls, resume_from=first,
                 progress=False)  # fmt: skip
    np.testing.assert_array_equal(more.metrics["loss_scale"], [8, 8, 16])


def test_train_refuses_a_bad_loss_scale_or_a_mismatched_opt_state(problem):
    model, params, data = problem
    with pytest.raises(
        InvalidArgumentTypeError,
        match=re.escape(
            "loss_scale must be a DynamicLossScale or a StaticLossScale (or None), got float. "
            "For float16 training use loss_scale=DynamicLossScale()."
        ),
    ):
        train(model, params, data, optax.sgd(0.1), 1, loss_scale=1024.0, progress=False)
    scaled = train(model, params, data, optax.sgd(0.1), 1, loss_scale=StaticLossScale(4.0),
                   progress=False)  # fmt: skip
    with pytest.raises(
        InvalidArgumentError,
        match=re.escape(
            "opt_state comes from a loss-scaled run (a ScaledOptState) but loss_scale is "
            "None; pass the same loss_scale to continue it, or opt_state.inner to drop the "
            "scale."
        ),
    ):
        train(model, params, data, optax.sgd(0.1), 1, opt_state=scaled.opt_state, progress=False)


def test_a_loss_metric_named_like_the_scale_metrics_is_refused(problem):
    model, params, data = problem

    def loss(p, batch):
        value = jnp.mean((model.apply(p, batch[0]) - batch[1]) ** 2)
        return value, {"overflow": value}

    with pytest.raises(
        InvalidArgumentError,
        match=re.escape(
            "the loss's metrics ['overflow'] clash with the ones a loss-scaled run adds "
            "['loss_scale', 'overflow']; rename them."
        ),
    ):
        train(loss, params, data, optax.sgd(0.1), 1, has_aux=True,
              loss_scale=DynamicLossScale(), progress=False)  # fmt: skip


DATA_PARALLEL = """
import json, sys
import jax, jax.numpy as jnp, numpy as np, optax
from minihaiku.core import Module, policy_scope, transform
from minihaiku.layers import MLP
from minihaiku.training import DynamicLossScale, train

class Net(Module):
    def __call__(self, x):
        return MLP([8, 1], activation=jnp.tanh)(x)

model = transform(lambda x: Net()(x))
xs = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
params = model.init(0, xs)
with policy_scope(Net, sys.argv[1]):
    r = train(model, params, (xs, xs**2), optax.sgd(0.1), 40, data_parallel=True,
              loss_scale=DynamicLossScale(initial=2.0**40, period=1000), progress=False)
json.dump({"devices": jax.device_count(), "losses": r.losses.tolist(),
           "overflow": r.metrics["overflow"].tolist(),
           "loss_scale": r.metrics["loss_scale"].tolist()}, sys.stdout)
"""


@pytest.mark.multiprocess
def test_data_parallel_loss_scaling_skips_the_same_steps_as_one_device(problem, eight_devices_run):
    model, params, data = problem
    with policy_scope(Net, F16_POLICY):
        one = train(
            model, params, data, optax.sgd(0.1), 40,
            loss_scale=DynamicLossScale(initial=2.0**40, period=1000), progress=False,
        )  # fmt: skip
    eight = eight_devices_run("-c", DATA_PARALLEL, F16_POLICY)
    assert eight["devices"] == 8
    assert int(one.metrics["overflow"].sum()) > 0  # the overflow path ran
    np.testing.assert_array_equal(eight["overflow"], one.metrics["overflow"])
    np.testing.assert_array_equal(eight["loss_scale"], one.metrics["loss_scale"])
    # float16 compute: the split batch's summation order differs from one device's
    np.testing.assert_allclose(eight["losses"], one.losses, rtol=1e-3, atol=1e-4)
