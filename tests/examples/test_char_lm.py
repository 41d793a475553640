"""examples/char_lm.py runs as one command, learns, samples, and can be reused by path."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import InvalidArgumentError

pytest.importorskip("matplotlib")

EXAMPLE = Path(__file__).parents[2] / "examples" / "char_lm.py"
TINY = [
    "--seq-len", "32", "--d-model", "32", "--heads", "2", "--layers", "1",
    "--mlp-width", "64", "--batch-size", "16", "--lr", "3e-3",
]  # fmt: skip


@pytest.fixture(scope="module")
def lm():
    spec = importlib.util.spec_from_file_location("char_lm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["char_lm"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["char_lm"]


@pytest.fixture(scope="module")
def tiny(lm):
    config = lm.Config(vocab_size=11, seq_len=8, d_model=16, num_heads=2, num_layers=2,
                       mlp_width=32, dropout=0.5)  # fmt: skip
    model = lm.build_model(config)
    params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 8), jnp.int32))
    return config, model, params


def test_a_short_run_lowers_the_loss_prints_a_sample_and_writes_the_curves(lm, tmp_path, capsys):
    args = [*TINY, "--steps", "60", "--eval-every", "20", "--sample-chars", "40"]
    summary = lm.main([*args, "--prompt", "KING:", "--out", str(tmp_path), "--no-progress"])
    # Chance is ln(61) = 4.1 nats; 60 steps take a fresh model (about 4.7)
    # below 3.2 (seed 0: 2.85) on the training batches and the held-out text.
    assert summary["first_loss"] > 4.0
    assert summary["final_loss"] < summary["first_loss"] - 1.0
    assert summary["held_out_loss"] < 3.2
    out = capsys.readouterr().out
    sample = summary["sample"]
    assert out.startswith(sample + "\n")
    assert sample.startswith("KING:") and len(sample) == len("KING:") + 40
    vocab, _, _ = lm.load_text()
    assert set(sample) <= set(vocab.chars)
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    lines = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "eval" not in x] == list(range(60))
    assert all(0.0 <= x["accuracy"] <= 1.0 for x in lines if "eval" not in x)
    assert [x["step"] for x in lines if "eval" in x] == [20, 40, 60]
    assert lines[-1]["eval"]["loss"] == pytest.approx(summary["held_out_loss"])


def test_the_shipped_text_is_a_real_slice_of_shakespeare_with_its_provenance(lm):
    text = lm.TEXT.read_text(encoding="utf-8")
    assert 50_000 <= len(text.encode()) <= 200_000
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    readme = (lm.TEXT.parent / "README.md").read_text()
    assert "karpathy/char-rnn" in readme and "public domain" in readme
    vocab, train_tokens, held_out = lm.load_text()
    assert len(vocab) == 61 and vocab.decode(vocab.encode("ROMEO:")) == "ROMEO:"
    assert len(train_tokens) == int(0.9 * len(text)) and len(held_out) == len(text) - len(
        train_tokens
    )
    assert vocab.decode(held_out[:10]) == text[len(train_tokens) : len(train_tokens) + 10]


def test_batches_are_reproducible_random_windows_with_targets_shifted_by_one(lm):
    tokens = np.arange(1000, dtype=np.int32)
    x, y = next(lm.batches(tokens, 16, 8, seed=3))
    assert x.shape == y.shape == (8, 16)
    # tokens[i] == i, so each window is consecutive and y is x + 1.
    np.testing.assert_array_equal(x - x[:, :1], np.broadcast_to(np.arange(16), (8, 16)))
    np.testing.assert_array_equal(y, x + 1)
    again, _ = next(lm.batches(tokens, 16, 8, seed=3))
    other, _ = next(lm.batches(tokens, 16, 8, seed=4))
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x, other)


def test_eval_windows_tile_the_held_out_text_without_overlap(lm):
    x, y = lm.eval_windows(np.arange(50, dtype=np.int32), 8, count=100)
    assert x.shape == (6, 8)  # (50 - 1) // 8 windows
    np.testing.assert_array_equal(x.ravel(), np.arange(48))
    np.testing.assert_array_equal(y.ravel(), np.arange(1, 49))


def test_the_model_has_the_documented_parameters(lm, tiny):
    config, _, params = tiny
    shapes = {k: v.shape for k, v in params.items()}
    block = "~/CharTransformer_0/__call__/"
    assert shapes[block + "tokens/embeddings"] == (11, 16)
    assert shapes[block + "positions/embeddings"] == (8, 16)
    assert shapes[block + "MultiHeadAttention_1/__call__/query/__call__/w"] == (16, 16)
    assert shapes[block + "MLP_0/__call__/Linear_0/__call__/w"] == (16, 32)
    assert shapes[block + "MLP_1/__call__/Linear_1/__call__/w"] == (32, 16)
    assert shapes[block + "LayerNorm_4/__call__/scale"] == (16,)
    assert shapes[block + "logits/__call__/w"] == (16, 11)
    # 2 blocks x (4 attention Linears + 2 MLP Linears) x (w, b), 5 LayerNorms x
    # (scale, offset), 2 embeddings, the logits' w and b.
    assert len(params) == 2 * 6 * 2 + 5 * 2 + 2 + 2
    assert "LayerNorm_5" not in " ".join(params)


def test_the_model_is_causal(tiny):
    _, model, params = tiny
    tokens = jnp.array([[1, 2, 3, 4, 5, 6, 7, 8]])
    changed = tokens.at[0, 5].set(0)
    apply = jax.jit(model.apply)
    a = apply(params, None, tokens)
    b = apply(params, None, changed)
    assert a.shape == (1, 8, 11)
    np.testing.assert_allclose(a[0, :5], b[0, :5], rtol=1e-6, atol=1e-6)
    assert not np.allclose(a[0, 5:], b[0, 5:])


def test_dropout_applies_only_when_apply_gets_a_key(tiny):
    _, model, params = tiny
    tokens = jnp.array([[1, 2, 3, 4, 5, 6, 7, 8]])
    apply = jax.jit(model.apply)
    without = apply(params, None, tokens)
    np.testing.assert_array_equal(without, apply(params, None, tokens))
    one = apply(params, jax.random.key(1), tokens)
    np.testing.assert_array_equal(one, apply(params, jax.random.key(1), tokens))
    assert not np.allclose(one, without)
    assert not np.allclose(one, apply(params, jax.random.key(2), tokens))


def test_greedy_sampling_matches_a_hand_written_loop_past_the_context_length(lm, tiny):
    config, model, params = tiny
    prompt = [3, 1, 4, 1, 5, 9]  # 6 + 12 characters: the window slides
    sample = lm.make_sampler(model, config, num_chars=12, temperature=0.0)
    out = np.asarray(sample(params, jnp.array(prompt), jax.random.key(0)))
    apply = jax.jit(model.apply)
    expected = list(prompt)
    for _ in range(12):
        window = jnp.array([expected[-config.seq_len :]])
        expected.append(int(jnp.argmax(apply(params, None, window)[0, -1])))
    assert out.tolist() == expected


def test_temperature_sampling_is_reproducible_from_the_key(lm, tiny):
    config, model, params = tiny
    sample = lm.make_sampler(model, config, num_chars=20, temperature=1.0)
    a = sample(params, jnp.array([1, 2]), jax.random.key(0))
    np.testing.assert_array_equal(a, sample(params, jnp.array([1, 2]), jax.random.key(0)))
    assert not np.array_equal(a, sample(params, jnp.array([1, 2]), jax.random.key(1)))
    assert a[:2].tolist() == [1, 2] and ((a >= 0) & (a < 11)).all()


def test_generate_keeps_a_prompt_longer_than_the_context(lm, tiny):
    config, model, params = tiny
    vocab = lm.Vocab("abcdefghijk")
    text = lm.generate(model, config, params, vocab, "abcdefghijkabc", num_chars=5)
    assert text.startswith("abcdefghijkabc") and len(text) == 19


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"d_model": 30, "num_heads": 4},
            r"Config: d_model=30 does not divide into num_heads=4 heads; choose d_model a "
            r"multiple of num_heads\.",
        ),
        ({"num_layers": 0}, r"Config\.num_layers must be an int >= 1, got 0\."),
        ({"seq_len": 2.5}, r"Config\.seq_len must be an int >= 1, got 2\.5\."),
        (
            {"dropout": 1.0},
            r"Config\.dropout must be in \[0, 1\) \(the probability of dropping an entry\), "
            r"got 1\.0\.",
        ),
    ],
)
def test_a_bad_config_is_refused(lm, kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        lm.Config(vocab_size=10, **kwargs)


def test_a_prompt_with_characters_outside_the_vocabulary_is_refused_before_training(lm, tmp_path):
    with pytest.raises(
        InvalidArgumentError,
        match=r"the text 'KING€:' has characters that are not in the vocabulary: '€'\. Use "
        r"only characters of the training text \(\"\\n !&',-\.:;\?ABC",
    ):
        lm.main(["--prompt", "KING€:", "--out", str(tmp_path), "--steps", "1"])
    assert not (tmp_path / "history.jsonl").exists()


def test_bad_sampling_and_data_arguments_are_refused(lm, tiny):
    config, model, params = tiny
    with pytest.raises(
        InvalidArgumentError,
        match=r"make_sampler: temperature must be >= 0 \(0 samples greedily\), got -1\.0\.",
    ):
        lm.make_sampler(model, config, 5, -1.0)
    with pytest.raises(
        InvalidArgumentError,
        match=r"make_sampler: num_chars must be an int >= 0 \(how many characters to add\), "
        r"got -1\.",
    ):
        lm.make_sampler(model, config, -1, 1.0)
    with pytest.raises(
        InvalidArgumentError, match=r"generate: the prompt is empty; give at least one character\."
    ):
        lm.generate(model, config, params, lm.Vocab("ab"), "")
    with pytest.raises(
        InvalidArgumentError,
        match=r"batches: the text has 8 characters, too few for windows of seq_len \+ 1 = 9; ",
    ):
        next(lm.batches(np.arange(8), 8, 2))
    with pytest.raises(
        InvalidArgumentError,
        match=r"eval_windows: the held-out text has 8 characters, too few for one window of "
        r"seq_len \+ 1 = 9; hold out more text\.",
    ):
        lm.eval_windows(np.arange(8), 8)
    with pytest.raises(
        InvalidArgumentError,
        match=r"CharTransformer ~/CharTransformer_0: got 9 tokens, more than the 8 positions "
        r"of Config\.seq_len; pass at most 8\.",
    ):
        model.apply(params, None, jnp.zeros((1, 9), jnp.int32))


def test_bf16_and_float16_compute_train_like_float32_with_float32_params(lm, tmp_path):
    # Tolerance: bfloat16 keeps 8 mantissa bits (float16 11); over 30 steps of this
    # tiny model the per-step training loss moved at most 0.0026 (bf16) and 0.0004
    # (float16, with dynamic loss scaling) from float32's: the bounds leave 8x room.
    args = [*TINY, "--steps", "30", "--eval-every", "30", "--sample-chars", "5", "--no-progress"]
    losses = {}
    for compute in ("float32", "bfloat16", "float16"):
        out = tmp_path / compute
        summary = lm.main([*args, "--out", str(out), "--compute", compute])
        assert summary["compute"] == compute
        lines = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
        losses[compute] = np.array([x["loss"] for x in lines if "eval" not in x])
    assert losses["float32"][-1] < losses["float32"][0] - 1.0  # it trained
    np.testing.assert_allclose(losses["bfloat16"], losses["float32"], atol=0.02, rtol=0)
    np.testing.assert_allclose(losses["float16"], losses["float32"], atol=0.004, rtol=0)
    assert not np.array_equal(losses["bfloat16"], losses["float32"])  # the policy acted


def test_the_compute_policy_keeps_params_float32_and_ends_with_the_run(lm, tiny):
    from minihaiku.core import Policy, get_policy, param_policies, policy_scope

    config, model, params = tiny
    x = jnp.zeros((1, 8), jnp.int32)
    with policy_scope(lm.CharTransformer, Policy("float32", "bfloat16", "float32")):
        mixed = jax.jit(model.init)(jax.random.key(0), x)
        policies = param_policies(model, x)
        logits = model.apply(mixed, None, x)
    assert {v.dtype for v in mixed.values()} == {jnp.dtype("float32")}
    for path in params:
        np.testing.assert_array_equal(mixed[path], params[path], err_msg=path)
    assert logits.dtype == jnp.float32
    assert str(policies["~/CharTransformer_0/__call__/logits/__call__/w"]).startswith(
        "params=float32,compute=bfloat16"
    )
    # The LayerNorms keep their float32 default under the model's policy.
    norm = next(p for p in policies if "LayerNorm" in p)
    assert str(policies[norm]).startswith("params=float32,compute=float32")
    assert get_policy(lm.CharTransformer) is None


def test_every_option_in_help_has_a_text_and_shows_its_default(lm, help_options):
    options = help_options(lm.main)
    assert len(options) == 18 and "--steps" in options and "--no-progress" in options
    for option, text in options.items():
        assert re.search(r"\(default: .+\)$", text), (option, text)
        assert re.sub(r"\(default: .+\)$", "", text).strip(), (option, text)
    assert options["--steps"] == "training steps (default: 2000)"
    assert options["--prompt"].endswith("(default: 'MENENIUS:\\n')")
    assert options["--out"].endswith("(default: char-lm-run)")
