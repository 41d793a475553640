"""Params to and from safetensors: flat path keys, dtypes kept (bfloat16 too), checked loads."""

import json
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy

from minihaiku.training import (
    ParamsFileError,
    load_params,
    quadratic_data,
    quadratic_model,
    save_params,
)

xs, _ = quadratic_data()
PARAMS = quadratic_model().init(0, xs)


def header(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n])


def test_params_round_trip_exactly(tmp_path):
    path = save_params(tmp_path / "p.safetensors", PARAMS)
    got = load_params(path, like=PARAMS)
    assert list(got) == list(PARAMS)
    for k in PARAMS:
        assert got[k].dtype == PARAMS[k].dtype
        np.testing.assert_array_equal(got[k], PARAMS[k])


def test_the_file_is_plain_safetensors_that_other_readers_load(tmp_path):
    path = save_params(tmp_path / "p.safetensors", PARAMS)
    h = header(path)
    assert h["__metadata__"] == {"format": "minihaiku.params/1"}
    assert h["~/MLP_0/__call__/Linear_0/__call__/w"]["dtype"] == "F32"
    assert h["~/MLP_0/__call__/Linear_0/__call__/w"]["shape"] == [1, 128]
    other = safetensors.numpy.load_file(path)
    for k in PARAMS:
        np.testing.assert_array_equal(other[k], PARAMS[k])


def test_bfloat16_ints_and_scalars_round_trip(tmp_path):
    params = {
        "~/w": jnp.array([[1.5, -2.25], [3.0, 1e-3]], jnp.bfloat16),
        "~/n": jnp.array([1, -2, 3], jnp.int32),
        "~/s": jnp.array(0.5, jnp.float16),
        "~/e": jnp.zeros((0, 3), jnp.float32),
    }
    path = save_params(tmp_path / "p.safetensors", params)
    assert header(path)["~/w"]["dtype"] == "BF16"
    got = load_params(path)
    for k, v in params.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(v))


def test_a_load_that_does_not_match_names_each_path(tmp_path):
    path = save_params(tmp_path / "p.safetensors", {"~/w": jnp.zeros((2, 3)), "~/x": jnp.zeros(1)})
    like = {"~/w": jnp.zeros((3, 2), jnp.bfloat16), "~/b": jnp.zeros(2)}
    with pytest.raises(ParamsFileError) as e:
        load_params(path, like=like)
    assert str(e.value) == (
        f"{path} does not match the given params: missing '~/b'; not in the model: "
        "'~/x'; '~/w' is float32[2, 3] in the file but bfloat16[3, 2] in the model. Load "
        "it into the model that wrote it, or without like= to inspect it."
    )


def test_files_that_are_not_safetensors(tmp_path):
    with pytest.raises(
        ParamsFileError, match=r"^cannot read .*missing\.safetensors \(No such file"
    ):
        load_params(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04garbage pickle")
    with pytest.raises(ParamsFileError, match=r"is not a safetensors file, or it is damaged"):
        load_params(bad)


def test_save_refuses_what_is_not_flat_params(tmp_path):
    with pytest.raises(ParamsFileError) as e:
        save_params(tmp_path / "p.safetensors", {"~/w": {"x": jnp.zeros(1)}, "~/b": jnp.zeros(1)})
    assert str(e.value) == (
        "save_params: params['~/w'] is a dict; params must map path strings to arrays "
        "(a flat mapping, as init returns)."
    )
    # dm-haiku's nested layout is one level deep ({module: {name: array}})
    with pytest.raises(ParamsFileError, match=r"^save_params: params\['m/w'\] is a dict; "):
        save_params(tmp_path / "p.safetensors", {"m": {"w": {"x": jnp.zeros(1)}}})
    with pytest.raises(ParamsFileError, match=r"^save_params takes the flat params mapping"):
        save_params(tmp_path / "p.safetensors", [1, 2])


def test_save_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ParamsFileError, match=r"^cannot write .*p\.safetensors \("):
        save_params(tmp_path / "nowhere" / "p.safetensors", PARAMS)
    assert not (tmp_path / "nowhere").exists()


def test_complex64_and_float8_round_trip(tmp_path):
    params = {
        "~/c": jnp.array([1 + 2j, -0.5j], jnp.complex64),
        "~/f8": jnp.array([1.0, -2.0], jnp.float8_e4m3fn),
        "~/f8b": jnp.array([0.5], jnp.float8_e5m2),
    }
    path = save_params(tmp_path / "p.safetensors", params)
    assert header(path)["~/c"]["dtype"] == "C64"
    got = load_params(path, like=params)
    for k, v in params.items():
        assert got[k].dtype == v.dtype
        assert jnp.array_equal(got[k], v)
    # safetensors' own numpy reader reads C64 too (it lacks BF16 and float8).
    path = save_params(tmp_path / "c.safetensors", {"~/c": params["~/c"]})
    np.testing.assert_array_equal(safetensors.numpy.load_file(path)["~/c"], params["~/c"])


def test_save_refuses_a_dtype_that_load_cannot_read(tmp_path):
    path = tmp_path / "p.safetensors"
    with pytest.raises(ParamsFileError) as e:
        save_params(path, {"~/c": np.ones(2, np.complex128)})
    assert str(e.value) == (
        f"save_params: {path}: params['~/c'] has dtype complex128, which a params file cannot "
        "hold; supported: bool, uint8, int8, uint16, int16, uint32, int32, uint64, int64, "
        "float16, bfloat16, float32, float64, float8_e4m3fn, float8_e5m2, complex64. Cast it "
        "(e.g. complex128 to complex64) before saving."
    )
    assert not path.exists()


def test_save_refuses_the_reserved_metadata_name(tmp_path):
    path = tmp_path / "p.safetensors"
    with pytest.raises(ParamsFileError) as e:
        save_params(path, {"~/w": jnp.ones(2), "__metadata__": jnp.ones(2)})
    assert str(e.value) == (
        f"save_params: {path}: the parameter path '__metadata__' is reserved by safetensors "
        "for the file's metadata; rename that parameter."
    )
    assert not path.exists()


def test_like_accepts_python_scalars_and_shape_dtype_structs(tmp_path):
    params = {"~/s": jnp.float32(1.5), "~/n": jnp.int32(2), "~/w": jnp.ones((2, 3))}
    path = save_params(tmp_path / "p.safetensors", params)
    got = load_params(path, like={"~/s": 0.0, "~/n": 3, "~/w": jnp.zeros((2, 3))})
    assert got["~/s"].dtype == jnp.float32 and got["~/n"].dtype == jnp.int32
    shapes = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in params.items()}
    assert list(load_params(path, like=shapes)) == list(params)
    wrong = dict(shapes, **{"~/w": jax.ShapeDtypeStruct((3, 2), jnp.float32)})
    with pytest.raises(ParamsFileError, match=r"'~/w' is float32\[2, 3\] in the file but "):
        load_params(path, like=wrong)


def test_like_that_is_not_params_is_a_clear_error(tmp_path):
    path = save_params(tmp_path / "p.safetensors", {"~/s": jnp.float32(1.5)})
    with pytest.raises(ParamsFileError) as e:
        load_params(path, like={"~/s": "1.5"})
    assert str(e.value) == (
        f"load_params: {path}: like['~/s'] is a str; like= takes params (a flat mapping of "
        "arrays, e.g. a fresh init's, or their jax.ShapeDtypeStruct)."
    )
    with pytest.raises(ParamsFileError) as e:
        load_params(path, like=[1.5])
    assert str(e.value) == (
        f"load_params: {path}: like= takes the flat params mapping init returns, got list."
    )


def test_big_endian_arrays_are_saved_little_endian(tmp_path):
    path = save_params(tmp_path / "p.safetensors", {"~/w": np.arange(3, dtype=">f4")})
    got = load_params(path)["~/w"]
    assert got.dtype == jnp.float32
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0])
