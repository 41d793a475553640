"""train on minibatches: shuffled arrays, iterators, rng per step, state, metrics, evaluation."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.core import (
    InvalidArgumentError,
    get_state,
    set_state,
    transform,
    transform_with_state,
)
from minihaiku.layers import MLP
from minihaiku.training import (
    DataError,
    Loss,
    accuracy,
    mse_loss,
    quadratic_data,
    quadratic_model,
    softmax_cross_entropy,
    train,
)

xs, ys = quadratic_data()
model = quadratic_model((8, 1))
params0 = model.init(0, xs)
loss = mse_loss(model)


def hand_loop(loss_fn, params, batches, optimizer, keys=None):
    """The plain optax loop: one jitted step per batch."""

    @jax.jit
    def update(p, s, batch, key):
        args = (p, batch) if key is None else (p, batch, key)
        value, g = jax.value_and_grad(loss_fn)(*args)
        u, s = optimizer.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    s = optimizer.init(params)
    history = []
    for i, batch in enumerate(batches):
        params, s, value = update(params, s, batch, None if keys is None else keys[i])
        history.append(float(value))
    return params, history


def shuffled_batches(data, batch_size, seed, steps):
    n = len(jax.tree_util.tree_leaves(data)[0])
    per_epoch = n // batch_size
    out = []
    for step in range(steps):
        epoch, i = divmod(step, per_epoch)
        idx = np.random.default_rng((seed, epoch)).permutation(n)[
            i * batch_size : (i + 1) * batch_size
        ]
        out.append(jax.tree_util.tree_map(lambda x, idx=idx: np.asarray(x)[idx], data))
    return out


def assert_params_close(got, want, rtol=1e-6):
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=1e-7)


def test_batch_size_matches_a_hand_written_loop_over_the_same_shuffled_batches():
    # 128 examples, batch 48: 2 batches per epoch (the last 32 dropped), 7 steps = 4 epochs.
    batches = shuffled_batches((xs, ys), 48, 3, 7)
    want, history = hand_loop(loss, params0, batches, optax.adam(1e-2))
    r = train(
        model,
        params0,
        (xs, ys),
        optax.adam(1e-2),
        7,
        batch_size=48,
        seed=3,
        steps_per_dispatch=3,
        progress=False,
    )
    assert_params_close(r.params, want)
    np.testing.assert_allclose(r.losses, history, rtol=1e-6)
    assert r.final_loss == pytest.approx(float(loss(want, batches[-1])), rel=1e-6)


def test_each_epoch_is_a_new_permutation_and_the_partial_batch_is_dropped():
    data = np.arange(10, dtype=np.float32)[:, None]
    seen = []

    def record(p, batch):
        jax.debug.callback(
            lambda b: seen.append(np.asarray(b).ravel().tolist()), batch, ordered=True
        )
        return jnp.sum(p["~/w"] * batch)

    train(
        record, {"~/w": jnp.ones(())}, data, optax.sgd(0.0), 6, batch_size=4, seed=1, progress=False
    )
    epochs = [seen[0] + seen[1], seen[2] + seen[3], seen[4] + seen[5]]
    for e, got in enumerate(epochs):
        assert got == np.random.default_rng((1, e)).permutation(10)[:8].tolist()
    assert epochs[0] != epochs[1]


def test_an_iterator_of_batches_matches_a_hand_written_loop():
    batches = shuffled_batches((xs, ys), 32, 0, 9)
    want, history = hand_loop(loss, params0, batches, optax.sgd(0.01))
    r = train(
        model, params0, iter(batches), optax.sgd(0.01), 9, steps_per_dispatch=4, progress=False
    )
    assert_params_close(r.params, want)
    np.testing.assert_allclose(r.losses, history, rtol=1e-6)


def test_a_resumed_shuffled_run_is_bit_identical(tmp_path):
    kw = dict(batch_size=24, seed=5, steps_per_dispatch=4, progress=False)
    whole = train(model, params0, (xs, ys), optax.adam(1e-2), 20, **kw)
    train(model, params0, (xs, ys), optax.adam(1e-2), 10, checkpoint_dir=tmp_path, **kw)
    resumed = train(
        model, params0, (xs, ys), optax.adam(1e-2), 20, checkpoint_dir=tmp_path, resume=True, **kw
    )
    assert resumed.resumed_from == 10
    np.testing.assert_array_equal(resumed.losses, whole.losses)
    for k in whole.params:
        np.testing.assert_array_equal(resumed.params[k], whole.params[k])


def test_a_resumed_iterator_run_skips_the_consumed_batches(tmp_path):
    batches = shuffled_batches((xs, ys), 32, 0, 12)
    kw = dict(steps_per_dispatch=5, progress=False)
    whole = train(model, params0, iter(batches), optax.adam(1e-2), 12, **kw)
    train(model, params0, iter(batches), optax.adam(1e-2), 7, checkpoint_dir=tmp_path, **kw)
    resumed = train(
        model,
        params0,
        iter(batches),
        optax.adam(1e-2),
        12,
        checkpoint_dir=tmp_path,
        resume=True,
        **kw,
    )
    np.testing.assert_array_equal(resumed.losses, whole.losses)
    for k in whole.params:
        np.testing.assert_array_equal(resumed.params[k], whole.params[k])


def _key():
    from minihaiku.core import next_rng_key

    return next_rng_key()


def test_each_step_gets_fold_in_of_the_seed_key_and_resume_is_bit_identical(tmp_path):
    dropped = transform(
        lambda x: MLP([8, 1])(jnp.where(jax.random.bernoulli(_key(), 0.5, x.shape), x, 0.0)),
        apply_rng=True,
    )
    p = dropped.init(0, xs)
    d_loss = mse_loss(dropped, rng=True)
    keys = [jax.random.fold_in(jax.random.key(7), i) for i in range(8)]
    want, history = hand_loop(d_loss, p, [(xs, ys)] * 8, optax.sgd(0.05), keys)
    r = train(d_loss, p, (xs, ys), optax.sgd(0.05), 8, seed=7, steps_per_dispatch=3, progress=False)
    assert_params_close(r.params, want)
    np.testing.assert_allclose(r.losses, history, rtol=1e-6)
    train(
        d_loss,
        p,
        (xs, ys),
        optax.sgd(0.05),
        4,
        seed=7,
        steps_per_dispatch=3,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    resumed = train(
        d_loss,
        p,
        (xs, ys),
        optax.sgd(0.05),
        8,
        seed=7,
        steps_per_dispatch=3,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
    )
    np.testing.assert_array_equal(resumed.losses, r.losses)


def counting(x):
    n = get_state("n", (), jnp.int32, init="zeros")
    set_state("n", n + 1)
    return MLP([8, 1])(x)


stateful = transform_with_state(counting)


def test_state_is_carried_through_the_steps_checkpointed_and_restored(tmp_path):
    p, s = stateful.init(0, xs)
    r = train(
        stateful,
        p,
        (xs, ys),
        optax.adam(1e-2),
        9,
        state=s,
        steps_per_dispatch=4,
        checkpoint_dir=tmp_path / "a",
        checkpoint_every=5,
        progress=False,
    )
    assert int(r.state["~/n"]) == 9
    # The same MLP without the counter trains the same.
    twin = transform(lambda x: MLP([8, 1])(x))
    plain = train(twin, p, (xs, ys), optax.adam(1e-2), 9, steps_per_dispatch=4, progress=False)
    np.testing.assert_array_equal(r.losses, plain.losses)
    train(
        stateful,
        p,
        (xs, ys),
        optax.adam(1e-2),
        5,
        state=s,
        checkpoint_dir=tmp_path / "b",
        progress=False,
    )
    resumed = train(
        stateful,
        p,
        (xs, ys),
        optax.adam(1e-2),
        9,
        state=s,
        resume=True,
        steps_per_dispatch=4,
        checkpoint_dir=tmp_path / "b",
        progress=False,
    )
    assert int(resumed.state["~/n"]) == 9
    np.testing.assert_array_equal(resumed.losses, r.losses)


def test_a_state_model_without_state_is_an_error():
    p, _ = stateful.init(0, xs)
    with pytest.raises(
        InvalidArgumentError,
        match=r"^the loss is for a model with state \(made by transform_with_state\) but no "
        r"state was given\. Pass the state init returned",
    ):
        train(stateful, p, (xs, ys), optax.sgd(0.1), 3, progress=False)


def test_state_for_a_loss_without_state_is_an_error():
    with pytest.raises(InvalidArgumentError) as e:
        train(model, params0, (xs, ys), optax.sgd(0.1), 3, state={}, progress=False)
    assert str(e.value) == (
        "state= was given but the loss takes no state. Use a model made by "
        "transform_with_state, or a Loss(fn, has_state=True) whose fn is "
        "fn(params, state, batch) -> (loss, new_state)."
    )


def test_loss_has_state_is_the_flag_and_state_its_earlier_name():
    fn = lambda p, s, b: (0.0, s)
    assert Loss(fn, has_state=True).has_state is True
    assert Loss(fn, state=True).has_state is True  # the earlier keyword still works
    assert Loss(fn, False, True).has_state is True  # positional order unchanged
    assert Loss(fn).has_state is False and Loss(fn, has_state=True).state is True
    assert Loss(fn, has_state=True) == Loss(fn, state=True)


classifier = transform(lambda x: MLP([16, 3])(x))
cx = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
cy = (cx[:, 0] > 0).astype(np.int32) + (cx[:, 1] > 1).astype(np.int32)


def test_softmax_cross_entropy_logs_accuracy_per_step_and_evaluates():
    p = classifier.init(0, cx)
    ce = softmax_cross_entropy(classifier)
    r = train(
        ce,
        p,
        (cx, cy),
        optax.adam(1e-2),
        6,
        batch_size=20,
        steps_per_dispatch=4,
        evaluate=accuracy(classifier),
        eval_data=(cx, cy),
        eval_every=3,
        progress=False,
    )
    batches = shuffled_batches((cx, cy), 20, 0, 6)

    def plain(q, batch):
        logits = classifier.apply(q, batch[0])
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]))

    want, history = hand_loop(plain, p, batches, optax.adam(1e-2))
    np.testing.assert_allclose(r.losses, history, rtol=1e-6)
    assert r.metrics["accuracy"].shape == (6,)
    # The metric is taken with the params before each step, like the loss.
    q = p
    s = optax.adam(1e-2).init(p)
    for i, batch in enumerate(batches):
        acc = np.mean(np.argmax(classifier.apply(q, batch[0]), -1) == batch[1])
        assert r.metrics["accuracy"][i] == pytest.approx(acc)
        g = jax.grad(plain)(q, batch)
        u, s = optax.adam(1e-2).update(g, s, q)
        q = optax.apply_updates(q, u)
    assert [step for step, _ in r.evals] == [3, 6]
    final_acc = np.mean(np.argmax(classifier.apply(r.params, cx), -1) == cy)
    assert r.evals[-1][1]["accuracy"] == pytest.approx(final_acc)


def test_the_progress_bar_shows_the_latest_metric_and_evaluation(capsys):
    p = classifier.init(0, cx)
    train(
        softmax_cross_entropy(classifier),
        p,
        (cx, cy),
        optax.adam(1e-2),
        6,
        batch_size=20,
        steps_per_dispatch=2,
        evaluate=accuracy(classifier),
        eval_data=(cx, cy),
        eval_every=2,
        progress=True,
    )
    err = capsys.readouterr().err
    assert "accuracy=" in err and "eval_accuracy=" in err and "6/6" in err


def test_continuing_with_opt_state_equals_one_run():
    whole = train(model, params0, (xs, ys), optax.adam(1e-2), 10, progress=False)
    first = train(model, params0, (xs, ys), optax.adam(1e-2), 5, progress=False)
    second = train(
        model,
        first.params,
        (xs, ys),
        optax.adam(1e-2),
        5,
        opt_state=first.opt_state,
        progress=False,
    )
    np.testing.assert_array_equal(np.concatenate([first.losses, second.losses]), whole.losses)
    for k in whole.params:
        np.testing.assert_array_equal(second.params[k], whole.params[k])


# Errors, all before any step runs.


def test_a_batch_whose_shape_changes_is_an_error_naming_the_step():
    batches = [(xs[:32], ys[:32])] * 3 + [(xs[:31], ys[:31])]
    with pytest.raises(DataError) as e:
        train(model, params0, iter(batches), optax.sgd(0.01), 4, progress=False)
    assert str(e.value) == (
        "the batch for step 3 differs from the first batch: leaf [0] is (31, 1) float32 "
        "instead of (32, 1) float32; leaf [1] is (31, 1) float32 instead of (32, 1) "
        "float32. Every batch must have the same shapes and dtypes (one compiled step "
        "serves them all): drop or pad the last partial batch."
    )


def test_an_iterator_that_runs_dry_says_how_many_steps_were_done_and_keeps_a_checkpoint(
    tmp_path,
):
    batches = shuffled_batches((xs, ys), 32, 0, 7)
    with pytest.raises(DataError) as e:
        train(
            model,
            params0,
            iter(batches),
            optax.sgd(0.01),
            10,
            steps_per_dispatch=3,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    assert str(e.value) == (
        f"the data iterator ran dry at step 7: 6 of the 10 steps were done (the 1 "
        f"batches of the unfinished chunk were not used). A checkpoint at step 6 is in "
        f"{tmp_path}. Pass an iterator with at least one batch per step (e.g. "
        "itertools.cycle over epochs), or fewer steps."
    )
    more = itertools.chain(batches, shuffled_batches((xs, ys), 32, 1, 4))
    r = train(
        model,
        params0,
        more,
        optax.sgd(0.01),
        10,
        steps_per_dispatch=3,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
    )
    assert r.resumed_from == 6 and r.step == 10


def test_a_loss_that_is_not_a_scalar_is_an_error():
    with pytest.raises(InvalidArgumentError) as e:
        train(
            lambda p, b: (model.apply(p, b[0]) - b[1]) ** 2,
            params0,
            (xs, ys),
            optax.sgd(0.01),
            3,
            progress=False,
        )
    assert str(e.value) == (
        "the loss must return a float scalar, got shape (128, 1) float32. Reduce it "
        "(e.g. jnp.mean) over the batch; with has_aux=True return (loss, metrics)."
    )


def test_metrics_that_are_not_scalars_are_an_error():
    def with_metrics(p, b):
        err = model.apply(p, b[0]) - b[1]
        return jnp.mean(err**2), {"err": err, "max": jnp.max(err)}

    with pytest.raises(InvalidArgumentError) as e:
        train(with_metrics, params0, (xs, ys), optax.sgd(0.01), 3, has_aux=True, progress=False)
    assert str(e.value) == (
        "the loss's metrics must be scalars, got 'err' (128, 1). Reduce each metric "
        "over the batch (e.g. jnp.mean)."
    )


def test_a_has_aux_loss_that_returns_no_pair_is_an_error():
    with pytest.raises(
        InvalidArgumentError,
        match=r"^the loss must return a pair \(loss, metrics\), got an array of shape \(\)\. ",
    ):
        train(loss, params0, (xs, ys), optax.sgd(0.01), 3, has_aux=True, progress=False)


def test_float_labels_are_an_error_for_softmax_cross_entropy():
    p = classifier.init(0, cx)
    with pytest.raises(
        Exception,
        match=r"^softmax_cross_entropy expects integer class labels \(the y of the batch\), "
        r"got dtype float32",
    ):
        train(
            softmax_cross_entropy(classifier),
            p,
            (cx, cy.astype(np.float32)),
            optax.sgd(0.01),
            3,
            progress=False,
        )


def test_batch_size_larger_than_the_data_is_an_error():
    with pytest.raises(
        InvalidArgumentError, match=r"^batch_size=500 is larger than the 128 examples in data"
    ):
        train(model, params0, (xs, ys), optax.sgd(0.01), 3, batch_size=500, progress=False)


def test_a_loss_object_works_like_a_plain_function():
    a = train(Loss(loss), params0, (xs, ys), optax.sgd(0.01), 4, progress=False)
    b = train(loss, params0, (xs, ys), optax.sgd(0.01), 4, progress=False)
    np.testing.assert_array_equal(a.losses, b.losses)


def test_the_history_is_written_as_json_lines_next_to_the_checkpoints(tmp_path):
    import json

    p = classifier.init(0, cx)
    kw = dict(
        batch_size=20,
        steps_per_dispatch=2,
        evaluate=accuracy(classifier),
        eval_data=(cx, cy),
        eval_every=4,
        progress=False,
        checkpoint_dir=tmp_path,
    )
    train(
        softmax_cross_entropy(classifier),
        p,
        (cx, cy),
        optax.adam(1e-2),
        4,
        checkpoint_every=4,
        **kw,
    )
    r = train(
        softmax_cross_entropy(classifier), p, (cx, cy), optax.adam(1e-2), 6, resume=True, **kw
    )
    lines = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "eval" not in line]
    assert [line["step"] for line in steps] == list(range(6))
    assert [line["loss"] for line in steps] == pytest.approx(r.losses.tolist())
    assert [line["accuracy"] for line in steps[4:]] == pytest.approx(r.metrics["accuracy"].tolist())
    evals = [(line["step"], line["eval"]) for line in lines if "eval" in line]
    assert [s for s, _ in evals] == [4, 6]
    assert evals[-1][1] == pytest.approx(r.evals[-1][1])


def test_resume_from_a_result_continues_the_shuffling_and_the_keys_bit_for_bit():
    kw = dict(batch_size=24, seed=5, steps_per_dispatch=4, progress=False)
    whole = train(model, params0, (xs, ys), optax.adam(1e-2), 14, **kw)
    first = train(model, params0, (xs, ys), optax.adam(1e-2), 6, **kw)
    more = train(model, first.params, (xs, ys), optax.adam(1e-2), 14, resume_from=first, **kw)
    assert more.step == 14
    np.testing.assert_array_equal(more.losses, whole.losses)
    for k in whole.params:
        np.testing.assert_array_equal(more.params[k], whole.params[k])


def test_resume_from_an_iterator_reads_on_where_it_is():
    batches = shuffled_batches((xs, ys), 32, 0, 9)
    whole = train(model, params0, iter(batches), optax.sgd(0.01), 9, progress=False)
    stream = iter(batches)
    first = train(model, params0, stream, optax.sgd(0.01), 4, progress=False)
    more = train(model, first.params, stream, optax.sgd(0.01), 9, resume_from=first, progress=False)
    np.testing.assert_array_equal(more.losses, whole.losses)


def test_resume_from_errors():
    first = train(model, params0, (xs, ys), optax.sgd(0.01), 6, progress=False)
    with pytest.raises(InvalidArgumentError) as e:
        train(model, params0, (xs, ys), optax.sgd(0.01), 4, resume_from=first, progress=False)
    assert str(e.value) == (
        "steps=4 is below the step of resume_from (6); steps counts from step 0, so "
        "pass steps >= 6."
    )
    with pytest.raises(InvalidArgumentError, match=r"^resume=True continues from a checkpoint"):
        train(
            model,
            params0,
            (xs, ys),
            optax.sgd(0.01),
            8,
            resume_from=first,
            resume=True,
            checkpoint_dir="unused",
            progress=False,
        )
    with pytest.raises(Exception, match=r"^resume_from must be the TrainResult of an earlier"):
        train(model, params0, (xs, ys), optax.sgd(0.01), 8, resume_from={}, progress=False)
