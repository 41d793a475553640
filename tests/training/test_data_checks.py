"""Empty data, non-array leaves, non-number evaluations: clear errors (issue 19, items 11-13)."""

import itertools

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from minihaiku.core import InvalidArgumentError, InvalidArgumentTypeError
from minihaiku.training import DataError, DataTypeError, Loss, train

xs = np.ones((4, 1), np.float32)
params0 = {"w": jnp.zeros(())}


def loss(p, batch):
    x, y = batch
    return jnp.mean((p["w"] * x - y) ** 2)


def dict_loss(p, batch):
    return jnp.mean((p["w"] * batch["x"] - batch["y"]) ** 2)


def run(data, the_loss=loss, **kw):
    return train(the_loss, params0, data, optax.sgd(0.1), 3, progress=False, **kw)


EMPTY = np.zeros((0, 1), np.float32)


def empty_message(name, leaf, what=None):
    return (
        f"{what or name} holds no examples: every array in it has 0 rows on axis 0 "
        f"({name}{leaf} has shape (0, 1)), and a loss over no examples is NaN. Give it at "
        "least one example."
    )


# Item 11: data with no examples (was: "the loss is nan at step 0; the run diverged. Lower
# the learning rate").


@pytest.mark.parametrize("batch_size", [None, 2])
def test_data_with_no_examples_is_a_data_error_not_a_divergence(batch_size):
    with pytest.raises(DataError) as e:
        run((EMPTY, EMPTY), batch_size=batch_size)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == empty_message("data", "[0]")


def test_a_dict_of_empty_arrays_names_its_first_leaf():
    with pytest.raises(DataError) as e:
        run({"x": EMPTY, "y": EMPTY}, dict_loss)
    assert str(e.value) == empty_message("data", "['x']")


def test_an_iterator_whose_first_batch_is_empty_is_a_data_error():
    with pytest.raises(DataError) as e:
        run(itertools.repeat((EMPTY, EMPTY)))
    assert str(e.value) == empty_message("batch", "[0]", "the data iterator's first batch")


def test_empty_eval_data_is_a_data_error():
    with pytest.raises(DataError) as e:
        run((xs, xs), evaluate=lambda p, b: {"err": loss(p, b)}, eval_data=(EMPTY, EMPTY))
    assert str(e.value) == empty_message("eval_data", "[0]")


def test_data_where_only_some_arrays_are_empty_is_not_refused_as_empty():
    def with_mask(p, batch):
        x, y, _ = batch
        return jnp.mean((p["w"] * x - y) ** 2)

    r = run((xs, xs, np.zeros((0,), np.float32)), with_mask)
    assert r.step == 3


# Item 13: a leaf that is not an array (was: a bare jit TypeError naming an internal function).


def not_numbers(where):
    return (
        f"{where}, not an array of numbers (every leaf of a batch goes into the compiled "
        "step). Convert it, e.g. np.asarray(..., np.float32), or leave it out."
    )


@pytest.mark.parametrize("batch_size", [None, 2])
def test_a_string_in_the_batch_is_a_data_type_error_naming_its_path(batch_size):
    with pytest.raises(DataTypeError) as e:
        run({"x": xs, "y": xs, "name": "cats"}, dict_loss, batch_size=batch_size)
    assert isinstance(e.value, DataError) and isinstance(e.value, TypeError)
    assert str(e.value) == not_numbers("data['name'] is a str")


def test_an_array_of_strings_in_the_batch_is_named_with_its_dtype():
    with pytest.raises(DataTypeError) as e:
        run((xs, np.array(["a", "b", "c", "d"])), batch_size=2)
    assert str(e.value) == not_numbers("data[1] is an array of dtype <U1")


def test_an_object_in_an_iterator_batch_is_named():
    with pytest.raises(DataTypeError) as e:
        run(itertools.repeat((xs, object())))
    assert str(e.value) == "the data iterator's first batch: " + not_numbers(
        "batch[1] is an object"
    )


def test_a_string_in_eval_data_is_named():
    with pytest.raises(DataTypeError) as e:
        run((xs, xs), evaluate=lambda p, b: {"err": loss(p, b)}, eval_data=(xs, "y"))
    assert str(e.value) == not_numbers("eval_data[1] is a str")


def test_python_numbers_and_bool_arrays_are_still_accepted_as_leaves():
    def scaled(p, batch):
        x, y, scale, mask = batch
        return scale * jnp.mean(jnp.where(mask, (p["w"] * x - y) ** 2, 0.0))

    assert run((xs, xs, 2.0, np.ones((4, 1), bool)), scaled).step == 3


# Item 12: evaluate= returning non-numbers (was: a bare jit TypeError naming an internal
# function).


def eval_message(got):
    return (
        f"evaluate's result must be a dict of scalars (name -> number){got}. Return numbers "
        "or 0-d arrays, e.g. {'accuracy': jnp.mean(...)}."
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("high", "'acc' is a str"),
        (None, "'acc' is None"),
        ([1.0], "'acc' is a list"),
        (np.array(["a"]), "'acc' is an array of dtype <U1"),
    ],
)
def test_evaluate_returning_a_non_number_names_evaluate_the_key_and_the_type(value, got):
    with pytest.raises(InvalidArgumentTypeError) as e:
        run((xs, xs), evaluate=lambda p, b: {"err": loss(p, b), "acc": value}, eval_data=(xs, xs))
    assert isinstance(e.value, TypeError)
    assert str(e.value) == eval_message("; " + got)


def test_evaluate_returning_a_string_names_its_type():
    with pytest.raises(InvalidArgumentTypeError) as e:
        run((xs, xs), evaluate=lambda p, b: "fine", eval_data=(xs, xs))
    assert str(e.value) == eval_message(", got a str")


def test_evaluate_returning_numbers_of_python_types_still_works():
    r = run((xs, xs), evaluate=lambda p, b: {"err": loss(p, b), "n": 4}, eval_data=(xs, xs))
    assert r.evals[-1][1]["n"] == 4.0


def test_evaluate_returning_a_non_scalar_array_keeps_its_shape_message():
    with pytest.raises(InvalidArgumentError) as e:
        run((xs, xs), evaluate=lambda p, b: {"x": b[0]}, eval_data=(xs, xs))
    assert str(e.value) == "evaluate must return a dict of scalars, got {'x': (4, 1)}."


# The same fault in the loss's own outputs.


def test_a_loss_metric_that_is_a_string_names_the_metric():
    def aux(p, b):
        return loss(p, b), {"acc": "x"}

    with pytest.raises(InvalidArgumentTypeError) as e:
        run((xs, xs), Loss(aux, has_aux=True))
    assert str(e.value) == (
        "the loss's metrics must be a dict of scalars (name -> number); 'acc' is a str. "
        "Return numbers or 0-d arrays."
    )


def test_a_loss_returning_a_string_says_so():
    with pytest.raises(InvalidArgumentTypeError) as e:
        run((xs, xs), lambda p, b: "low")
    assert str(e.value) == (
        "the loss must return a float scalar, got a str. Return jnp.mean(...) of the "
        "examples' losses; with has_aux=True return (loss, metrics)."
    )
