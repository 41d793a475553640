"""train() refuses what would do nothing silently: resuming backwards, unmatched frozen patterns."""

import optax
import pytest

from minihaiku.core import InvalidArgumentError
from minihaiku.training import check_frozen_matches, quadratic_data, quadratic_model, train

xs, ys = quadratic_data()
model = quadratic_model()
params0 = model.init(0, xs)
PATHS = (
    "'~/MLP_0/__call__/Linear_0/__call__/b', '~/MLP_0/__call__/Linear_0/__call__/w', "
    "'~/MLP_0/__call__/Linear_1/__call__/b', ..."
)


def run(steps, **kw):
    return train(model, params0, (xs, ys), optax.sgd(0.003), steps, progress=False, **kw)


def test_resuming_to_fewer_steps_than_the_checkpoint_is_an_error(tmp_path):
    run(20, checkpoint_dir=tmp_path)
    with pytest.raises(InvalidArgumentError) as e:
        run(10, checkpoint_dir=tmp_path, resume=True)
    assert str(e.value) == (
        f"steps=10 is below the step of the checkpoint to resume (20 in {tmp_path}); "
        "steps counts from step 0, so pass steps >= 20, or start afresh in another "
        "directory."
    )


@pytest.mark.parametrize(
    ("frozen", "pattern"),
    [
        ("~/MLP_0/Linear_0/*", "~/MLP_0/Linear_0/*"),
        (["~/MLP_0/__call__/Linear_0/*", "*/Linear_9/*"], "*/Linear_9/*"),
    ],
)
def test_a_frozen_pattern_that_matches_nothing_is_an_error(frozen, pattern):
    with pytest.raises(InvalidArgumentError) as e:
        run(5, frozen=frozen)
    assert str(e.value) == (
        f"frozen pattern {pattern!r} matches no parameter. The parameter paths look like "
        f"{PATHS}; fix the pattern (a glob such as '~/MLP_0/__call__/Linear_0/*') or "
        "leave it out."
    )


def test_a_frozen_predicate_that_matches_nothing_is_an_error():
    def in_encoder(path):
        return "encoder" in path

    with pytest.raises(InvalidArgumentError) as e:
        run(5, frozen=in_encoder)
    assert str(e.value) == (
        f"the frozen predicate 'in_encoder' matches no parameter. The parameter paths "
        f"look like {PATHS}; fix the predicate or pass frozen=None."
    )


def test_matching_patterns_and_predicates_pass():
    paths = list(params0)
    check_frozen_matches(None, paths)
    check_frozen_matches("*/b", paths)
    check_frozen_matches(["*/b", "*/w"], paths)
    check_frozen_matches(lambda p: p.endswith("/w"), paths)
