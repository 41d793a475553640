"""export / load_exported: a transformed function as a serialized jax.export file."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    ExportedModel,
    ExportError,
    MinihaikuError,
    export,
    get_state,
    load_exported,
    quantize,
    quantized,
    set_state,
    transform,
    transform_with_state,
)
from minihaiku.layers import MLP, Linear

EXAMPLES = Path(__file__).parents[2] / "examples"
MAGIC = b"MINIHAIKU-EXPORT\n"


def _example(name):
    spec = importlib.util.spec_from_file_location(f"_export_test_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def digits():
    """The digits classifier's MLP (64 pixels -> 10 logits), its params, 16 images."""
    model = transform(lambda x: MLP([128, 10])(x))
    x = jax.random.uniform(jax.random.key(1), (16, 64))
    return model, model.init(0, x), x


def test_the_digits_mlp_round_trips_with_embedded_params(digits, tmp_path):
    model, params, x = digits
    path = export(model, params, x, path=tmp_path / "digits.mhx")
    assert path == (tmp_path / "digits.mhx").absolute()
    served = load_exported(path)
    assert isinstance(served, ExportedModel)
    np.testing.assert_allclose(served(x), model.apply(params, x), rtol=1e-6, atol=1e-6)
    assert served.inputs == ["float32[16,64]"]
    assert served.outputs == ["float32[16,10]"]
    assert served.header["embedded"] is True
    assert served.header["format_version"] == 1
    assert served.header["params"]["~/MLP_0/__call__/Linear_0/__call__/w"] == {
        "dtype": "float32",
        "shape": [64, 128],
    }


def test_a_symbolic_batch_dimension_takes_any_batch_size(digits, tmp_path):
    model, params, x = digits
    served = load_exported(export(model, params, x, path=tmp_path / "m.mhx", batch_axes=0))
    assert served.inputs == ["float32[batch,64]"]
    assert served.outputs == ["float32[batch,10]"]
    for n in (1, 3, 16, 40):
        xs = jax.random.uniform(jax.random.key(n), (n, 64))
        np.testing.assert_allclose(served(xs), model.apply(params, xs), rtol=1e-6, atol=1e-6)


def test_params_as_arguments_are_checked_by_path_shape_and_dtype(digits, tmp_path):
    model, params, x = digits
    served = load_exported(export(model, params, x, path=tmp_path / "m.mhx", embed_params=False))
    other = jax.tree_util.tree_map(lambda v: v + 1.0, params)
    np.testing.assert_allclose(served(other, x), model.apply(other, x), rtol=1e-6, atol=1e-5)
    w = "~/MLP_0/__call__/Linear_0/__call__/w"
    with pytest.raises(ExportError) as e:
        served({k: v for k, v in params.items() if k != w}, x)
    assert str(e.value) == (
        f"{served.path}: the params do not match the exported ones: missing [{w!r}], "
        "unexpected []. Pass the params the model was exported with."
    )
    with pytest.raises(ExportError) as e:
        served({**params, w: params[w].astype(jnp.bfloat16)}, x)
    assert str(e.value) == (
        f"{served.path}: params {w!r} is bfloat16[64, 128], but the model was exported "
        "with float32[64, 128]."
    )
    with pytest.raises(ExportError) as e:
        served()
    assert str(e.value) == (
        f"{served.path}: the model was exported with embed_params=False: call it with "
        "the params first."
    )


def test_loading_needs_none_of_the_models_python_code(digits, tmp_path):
    model, params, x = digits
    path = export(model, params, x, path=tmp_path / "m.mhx", batch_axes=0)
    np.save(tmp_path / "x.npy", np.asarray(x[:5]))
    code = (
        "import sys, numpy as np\n"
        "from minihaiku.core import load_exported\n"
        f"out = load_exported({str(path)!r})(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "assert 'minihaiku.layers' not in sys.modules, 'the layers were imported'\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.asarray(out))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    out = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(out, model.apply(params, x[:5]), rtol=1e-6, atol=1e-6)


def test_the_char_lm_next_token_logits_round_trip(tmp_path):
    lm = _example("char_lm")
    config = lm.Config(vocab_size=11, seq_len=8, d_model=16, num_heads=2, num_layers=2,
                       mlp_width=32, dropout=0.1)  # fmt: skip
    tokens = jax.random.randint(jax.random.key(0), (3, 8), 0, 11)
    params = lm.build_model(config).init(jax.random.key(0), tokens)
    # the same module at the same path: the trained params fit; only the last position
    next_token = transform(lambda t: lm.CharTransformer(config)(t)[:, -1])
    served = load_exported(export(next_token, params, tokens, path=tmp_path / "lm.mhx",
                                  batch_axes=0))  # fmt: skip
    assert served.inputs == ["int32[batch,8]"] and served.outputs == ["float32[batch,11]"]
    for n in (1, 5):
        t = jax.random.randint(jax.random.key(n), (n, 8), 0, 11)
        want = lm.build_model(config).apply(params, None, t)[:, -1]
        np.testing.assert_allclose(served(t), want, rtol=1e-5, atol=1e-5)


def test_a_quantized_model_exports_its_int8_weights(digits, tmp_path):
    model, params, x = digits
    q = quantize(params, "*/w")
    small = export(quantized(model), q, x, path=tmp_path / "q.mhx")
    big = export(model, params, x, path=tmp_path / "f.mhx")
    served = load_exported(small)
    np.testing.assert_allclose(served(x), quantized(model).apply(q, x), rtol=1e-6, atol=1e-6)
    assert small.stat().st_size < 0.45 * big.stat().st_size  # int8 constants
    args = load_exported(export(quantized(model), q, x, path=tmp_path / "a.mhx",
                                embed_params=False))  # fmt: skip
    assert args.header["params"]["~/MLP_0/__call__/Linear_0/__call__/w"]["dtype"] == "int8"
    np.testing.assert_allclose(args(q, x), quantized(model).apply(q, x), rtol=1e-6, atol=1e-6)


def _counter():
    def f(x):
        n = get_state("n", (), jnp.int32, init="zeros")
        set_state("n", n + 1)
        return Linear(3)(x) + n

    model = transform_with_state(f)
    x = jnp.arange(8.0).reshape(2, 4)
    params, state = model.init(0, x)
    return model, params, state, x


@pytest.mark.parametrize("embed", [True, False])
def test_a_transform_with_state_exports_its_state_and_returns_the_new_one(embed, tmp_path):
    model, params, state, x = _counter()
    state = {**state, "~/n": jnp.array(4)}
    served = load_exported(export(model, params, x, state=state, path=tmp_path / "s.mhx",
                                  embed_params=embed))  # fmt: skip
    out, new_state = served(x) if embed else served(params, state, x)
    want, want_state = model.apply(params, state, x)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    assert int(new_state["~/n"]) == int(want_state["~/n"]) == 5
    assert served.header["kind"] == "transform_with_state"


def test_state_must_be_given_for_a_stateful_function_and_only_there(digits, tmp_path):
    model, params, state, x = _counter()
    with pytest.raises(ExportError) as e:
        export(model, params, x, path=tmp_path / "s.mhx")
    assert str(e.value) == (
        "export: a transform_with_state function needs its state: pass "
        "state=<the state from init or training>."
    )
    model, params, x = digits
    with pytest.raises(ExportError) as e:
        export(model, params, x, state={}, path=tmp_path / "s.mhx")
    assert str(e.value) == (
        "export: state= is only for transform_with_state functions; this one takes no "
        "state. Leave state out."
    )


def test_batch_axes_errors(digits, tmp_path):
    model, params, x = digits
    with pytest.raises(ExportError) as e:
        export(model, params, x, path=tmp_path / "m.mhx", batch_axes=2)
    assert str(e.value) == (
        "export: example argument 0 has an array of shape (16, 64), which has no axis 2 "
        "to make the batch dimension. Pass batch_axes with None for that argument, e.g. "
        "batch_axes=(0, None)."
    )
    with pytest.raises(ExportError) as e:
        export(model, params, x, path=tmp_path / "m.mhx", batch_axes=(0, 0))
    assert str(e.value) == (
        "export: batch_axes must be None, one int for every example argument, or one int "
        "or None per example argument (1), got (0, 0)."
    )


def test_other_arguments_and_shapes(tmp_path):
    model = transform(lambda x, scale: Linear(2)(x) * scale)
    x = jnp.ones((4, 3))
    params = model.init(0, x, 1.0)
    served = load_exported(export(model, params, x, jnp.float32(2.0), path=tmp_path / "m.mhx",
                                  batch_axes=(0, None), platforms=["cpu", "cuda"]))  # fmt: skip
    assert served.inputs == ["float32[batch,3]", "float32[]"]
    assert served.header["platforms"] == ["cpu", "cuda"]  # lowered for a GPU too
    np.testing.assert_allclose(served(x[:2], jnp.float32(3.0)), model.apply(params, x[:2], 3.0))
    assert re.fullmatch(r"ExportedModel\('.*m\.mhx', embedded params, inputs=\[.*\]\)",
                        repr(served))  # fmt: skip


# --- the file format: a newer version, a truncated or damaged file ---------------------


@pytest.fixture
def artifact(tmp_path):
    model = transform(lambda x: Linear(2)(x))
    x = jnp.ones((1, 3))
    return export(model, model.init(0, x), x, path=tmp_path / "m.mhx")


def _parts(path):
    data = path.read_bytes()
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 8], "little")
    start = len(MAGIC) + 8
    return json.loads(data[start : start + size]), data[start + size :]


def _write(path, header, payload):
    text = json.dumps(header).encode()
    path.write_bytes(MAGIC + len(text).to_bytes(8, "little") + text + payload)


def test_the_file_starts_with_the_magic_and_a_json_header(artifact):
    header, payload = _parts(artifact)
    assert artifact.read_bytes().startswith(MAGIC)
    assert header["payload_bytes"] == len(payload)
    keys = "format_version kind embedded params inputs outputs jax_version minihaiku_version"
    assert set(header) >= {*keys.split(), "payload_bytes", "payload_sha256"}


def test_a_newer_format_version_is_a_clear_error(artifact):
    header, payload = _parts(artifact)
    _write(artifact, {**header, "format_version": 2}, payload)
    with pytest.raises(ExportError) as e:
        load_exported(artifact)
    assert str(e.value) == (
        f"{artifact}: written in export format version 2, but this minihaiku-core reads "
        "versions up to 1. Upgrade minihaiku-core to load it, or export the model again "
        "with this one."
    )
    assert isinstance(e.value, MinihaikuError) and isinstance(e.value, ValueError)


def test_a_file_of_another_kind_is_a_clear_error(tmp_path):
    path = tmp_path / "x.mhx"
    path.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ExportError) as e:
        load_exported(path)
    assert str(e.value) == (
        f"{path}: not a minihaiku export file (it does not start with "
        "b'MINIHAIKU-EXPORT\\n'). Load files written by minihaiku.core.export."
    )


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError) as e:
        load_exported(tmp_path / "nope.mhx")
    assert str(e.value) == (
        f"load_exported: cannot read {tmp_path / 'nope.mhx'} (No such file or directory)."
    )


def _damaged(path, why):
    return (
        f"{path}: the file is truncated or damaged ({why}). Export the model again, or "
        "copy the file again."
    )


def test_truncated_files_are_clear_errors(artifact):
    data = artifact.read_bytes()
    header, payload = _parts(artifact)
    size = len(data) - len(payload) - len(MAGIC) - 8
    short = len(payload) - 100
    cases = [
        (len(MAGIC) + 3, f"{len(MAGIC) + 3} bytes, shorter than the header's length field"),
        (len(MAGIC) + 8 + 10, f"the header needs {size} bytes, 10 are left"),
        (len(data) - 100, f"the header announces {len(payload)} bytes of StableHLO, found {short}"),
    ]
    for cut, why in cases:
        artifact.write_bytes(data[:cut])
        with pytest.raises(ExportError) as e:
            load_exported(artifact)
        assert str(e.value) == _damaged(artifact, why)


def test_a_damaged_payload_fails_its_checksum(artifact):
    data = bytearray(artifact.read_bytes())
    data[-50] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ExportError) as e:
        load_exported(artifact)
    assert str(e.value) == _damaged(artifact, "the StableHLO's sha256 does not match the header's")


def test_a_damaged_header_is_a_clear_error(artifact):
    data = artifact.read_bytes()
    start = len(MAGIC) + 8
    artifact.write_bytes(data[:start] + b"[" + data[start + 1 :])
    with pytest.raises(ExportError, match=re.escape("the header is not valid: JSONDecodeError")):
        load_exported(artifact)


def test_a_payload_that_is_not_stablehlo_is_a_clear_error(artifact):
    header, _ = _parts(artifact)
    import hashlib

    junk = b"\x00" * 64
    _write(artifact, {**header, "payload_bytes": 64,
                      "payload_sha256": hashlib.sha256(junk).hexdigest()}, junk)  # fmt: skip
    with pytest.raises(ExportError, match=r"the StableHLO inside cannot be deserialized \("):
        load_exported(artifact)


def test_an_apply_rng_model_takes_its_key_or_none_as_an_argument(tmp_path):
    from minihaiku.core import next_rng_key

    def f(x):
        noise = jax.random.normal(next_rng_key(), x.shape[-1:])
        return Linear(2)(x + noise)

    model = transform(f, apply_rng=True)
    x = jnp.ones((3, 4))
    params = model.init(0, x)
    served = load_exported(export(model, params, jax.random.key(0), x, path=tmp_path / "k.mhx",
                                  batch_axes=(None, 0)))  # fmt: skip
    assert served.inputs == ["key<fry>[]", "float32[batch,4]"]
    for seed in (1, 2):
        key = jax.random.key(seed)
        np.testing.assert_allclose(served(key, x[:2]), model.apply(params, key, x[:2]), rtol=1e-6)
    plain = transform(lambda x: Linear(2)(x), apply_rng=True)
    served = load_exported(export(plain, params, None, x, path=tmp_path / "n.mhx"))
    assert served.inputs == ["float32[3,4]"]
    np.testing.assert_allclose(served(None, x), plain.apply(params, None, x), rtol=1e-6)


def test_importing_core_does_not_import_jax_export():
    # JAX 0.6 does not import jax.export itself, and importing it needs absl-py there:
    # a core-only install must import without it.
    import subprocess
    import sys

    code = (
        "import sys, jax; before = 'jax.export' in sys.modules; "
        "import minihaiku.core; print(before, 'jax.export' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.split()
    assert after == before


def test_export_without_a_usable_jax_export_says_what_to_install(monkeypatch, tmp_path):
    import sys

    import jax

    from minihaiku.core import ExportError, export, transform

    monkeypatch.delattr(jax, "export", raising=False)
    monkeypatch.setitem(sys.modules, "jax.export", None)
    with pytest.raises(
        ExportError,
        match=r"^export needs jax\.export, which failed to import \(ModuleNotFoundError: .*\)\. "
        r"Install what it names \(e\.g\. pip install absl-py flatbuffers\), or a newer jax\.$",
    ):
        export(transform(lambda x: x), {}, jnp.ones(2), path=tmp_path / "m.mhx")
