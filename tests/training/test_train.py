"""minihaiku.training.train: results, loss history, frozen params, errors."""

import jax
import numpy as np
import optax
import pytest

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError, NotCallableError
from minihaiku.training import (
    NonFiniteLossError,
    mse_loss,
    quadratic_data,
    quadratic_model,
    run_quadratic_fit,
    train,
)

xs, ys = quadratic_data()
model = quadratic_model()
params0 = model.init(0, xs)
loss = mse_loss(model)


def hand_loop(params, steps, lr=0.003):
    @jax.jit
    def update(p):
        value, g = jax.value_and_grad(loss)(p, (xs, ys))
        return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), value

    history = []
    for _ in range(steps):
        params, value = update(params)
        history.append(float(value))
    return params, history


def test_train_matches_a_hand_written_sgd_loop():
    want, history = hand_loop(params0, 30)
    r = train(model, params0, (xs, ys), optax.sgd(0.003), 30, steps_per_dispatch=7, progress=False)
    assert r.step == 30 and list(r.params) == list(params0)
    for k in want:
        np.testing.assert_allclose(r.params[k], want[k], rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(r.losses, history, rtol=2e-5)
    np.testing.assert_allclose(r.final_loss, float(loss(want, (xs, ys))), rtol=2e-5)
    assert r.steps_per_second > 0 and r.compile_seconds > 0


def test_a_loss_function_works_as_well_as_a_model():
    a = train(loss, params0, (xs, ys), optax.sgd(0.003), 10, progress=False)
    b = train(model, params0, (xs, ys), optax.sgd(0.003), 10, progress=False)
    np.testing.assert_array_equal(a.losses, b.losses)


def test_the_given_params_are_left_alone():
    before = {k: np.asarray(v).copy() for k, v in params0.items()}
    train(model, params0, (xs, ys), optax.sgd(0.003), 5, progress=False)
    for k in before:
        np.testing.assert_array_equal(params0[k], before[k])


def test_report_is_called_after_each_dispatch():
    seen = []
    r = train(
        model,
        params0,
        (xs, ys),
        optax.sgd(0.003),
        10,
        steps_per_dispatch=4,
        progress=False,
        report=lambda step, value: seen.append((step, value)),
    )
    assert [s for s, _ in seen] == [4, 8, 10]
    assert seen[-1][1] == pytest.approx(float(r.losses[-1]))


def test_progress_bar_reports_the_steps(capsys):
    train(model, params0, (xs, ys), optax.sgd(0.003), 10, progress=True)
    err = capsys.readouterr().err
    assert "10/10" in err and "loss=" in err


def test_the_bar_closes_on_the_numbers_of_the_result(monkeypatch):
    import tqdm.auto

    bars = []

    class Bar:
        def __init__(self, **kwargs):
            self.postfix = None
            bars.append(self)

        def update(self, n):
            pass

        def set_postfix(self, values, refresh=True):
            self.postfix = dict(values)

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    r = train(
        model,
        params0,
        (xs, ys),
        optax.sgd(0.003),
        300,
        progress=True,
        evaluate=lambda p, d: {"mse": loss(p, d)},
        eval_data=(xs, ys),
        eval_every=200,
    )
    assert [step for step, _ in r.evals] == [200, 300]
    assert bars[0].postfix == {
        "loss": f"{r.final_loss:.4g}",
        "eval_mse": f"{r.evals[-1][1]['mse']:.4g}",
    }


@pytest.mark.parametrize(
    "frozen",
    [
        "~/MLP_0/__call__/Linear_0/*",
        ["~/MLP_0/__call__/Linear_0/__call__/w", "~/MLP_0/__call__/Linear_0/__call__/b"],
        lambda path: "Linear_0" in path,
        lambda path, value: "Linear_0" in path and value.ndim >= 1,
    ],
)
def test_frozen_params_get_no_updates(frozen):
    r = train(model, params0, (xs, ys), optax.adam(1e-2), 20, frozen=frozen, progress=False)
    for k, v in r.params.items():
        if "Linear_0" in k:
            np.testing.assert_array_equal(v, params0[k])
        else:
            assert not np.array_equal(v, params0[k])
    assert all("Linear_0" not in k for k in r.opt_state[0].mu)


def test_freezing_everything_is_an_error():
    with pytest.raises(InvalidArgumentError) as e:
        train(model, params0, (xs, ys), optax.sgd(0.1), 5, frozen="*", progress=False)
    assert str(e.value) == (
        "frozen='*' freezes every parameter (6); nothing would train. Loosen the "
        "pattern or predicate."
    )


def test_bad_frozen_spec():
    with pytest.raises(InvalidArgumentTypeError, match=r"^frozen must be a predicate path"):
        train(model, params0, (xs, ys), optax.sgd(0.1), 5, frozen=3, progress=False)


def test_non_finite_loss_names_the_step():
    with pytest.raises(NonFiniteLossError) as e:
        train(model, params0, (xs, ys), optax.sgd(1e4), 50, steps_per_dispatch=10, progress=False)
    msg = str(e.value)
    assert msg.startswith("the loss is ")
    assert f"at step {e.value.step}; the run diverged." in msg
    assert 0 < e.value.step < 50
    assert isinstance(e.value, FloatingPointError)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"steps": -1}, InvalidArgumentError, "steps must be >= 0, got -1."),
        ({"steps": 2.5}, InvalidArgumentTypeError, "steps must be an int, got float 2.5."),
        (
            {"steps_per_dispatch": 0},
            InvalidArgumentError,
            "steps_per_dispatch must be >= 1, got 0.",
        ),
        (
            {"optimizer": "sgd"},
            InvalidArgumentTypeError,
            "optimizer must be an optax GradientTransformation such as optax.sgd(0.003), got str.",
        ),
        (
            {"loss": 3},
            NotCallableError,
            "loss must be a function loss(params, data) -> scalar or a transformed model, "
            "got int 3.",
        ),
        (
            {"params": [1]},
            InvalidArgumentTypeError,
            "params must be the mapping init returned, got list.",
        ),
        (
            {"checkpoint_every": 5},
            InvalidArgumentError,
            "checkpoint_every needs a checkpoint_dir to save into.",
        ),
        (
            {"resume": True},
            InvalidArgumentError,
            "resume needs the checkpoint_dir of the run to continue.",
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    args = {
        "loss": model,
        "params": params0,
        "data": (xs, ys),
        "optimizer": optax.sgd(0.1),
        "steps": 5,
        "progress": False,
        **kwargs,
    }
    with pytest.raises(error) as e:
        train(**args)
    assert str(e.value) == message


def test_the_main_job_reaches_a_low_loss_in_5000_steps():
    fit = run_quadratic_fit(progress=False)
    assert fit.result.step == 5000
    assert fit.result.final_loss < 0.005
    assert fit.result.losses.shape == (5000,)
    assert fit.result.losses[0] > 100 * fit.result.final_loss


@pytest.mark.parametrize(
    ("steps", "reports"),
    [(100, [100]), (450, [225, 450]), (5000, list(range(250, 5001, 250)))],
)
def test_default_chunking_few_dispatches_for_short_runs(steps, reports):
    seen = []
    train(
        model,
        params0,
        (xs, ys),
        optax.sgd(0.003),
        steps,
        progress=False,
        report=lambda step, value: seen.append(step),
    )
    assert seen == reports
