"""The install paths a user takes, each from built wheels into a fresh virtual environment.

Builds the five packages, the example plugin and the test plugin as wheels
(not editable), then installs: only minihaiku-core; core plus initializers;
everything (with the plot extra); core plus the example plugin; the dm-haiku
drop-in (minihaiku-haiku with what it needs, without training). Each
environment runs a script that checks what works there and what does not.
"""

import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.install


def uv_bin():
    try:
        import uv

        return uv.find_uv_bin()
    except ImportError:
        found = shutil.which("uv")
        if found is None:
            pytest.fail("these tests need uv (the hatch test environment installs it)")
        return found


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    sources = {
        "core": ROOT / "packages" / "core",
        "initializers": ROOT / "packages" / "initializers",
        "layers": ROOT / "packages" / "layers",
        "training": ROOT / "packages" / "training",
        "haiku": ROOT / "packages" / "haiku",
        "example": ROOT / "examples" / "acme-inits",
        "acme": ROOT / "tests" / "plugins" / "acme_inits",
    }
    found = {}
    for name, src in sources.items():
        target = out / name
        subprocess.run(
            [uv_bin(), "build", "-q", "--wheel", "--out-dir", str(target), str(src)], check=True
        )
        (wheel,) = target.glob("*.whl")
        found[name] = wheel
    return found


def venv_with(tmp_path, wheels, names, extra=()):
    venv = tmp_path / "venv"
    subprocess.run([uv_bin(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    pins = [f"jax=={version('jax')}", f"jaxlib=={version('jaxlib')}"]
    files = [str(wheels[n]) for n in names]
    subprocess.run(
        [uv_bin(), "pip", "install", "-q", "--python", str(python), *files, *pins, *extra],
        check=True,
    )
    return python


def run(python, code, cwd):
    r = subprocess.run(
        [str(python), "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_only_core(tmp_path, wheels):
    python = venv_with(tmp_path, wheels, ["core", "acme"])
    out = run(
        python,
        """
        import importlib.util
        import jax, jax.numpy as jnp
        import minihaiku.core as mc
        from minihaiku.core import Module, get_param, transform, UnknownInitializerError

        assert "site-packages" in mc.__file__, mc.__file__
        for missing in ("initializers", "layers", "training"):
            assert importlib.util.find_spec("minihaiku." + missing) is None, missing

        class Scale(Module):
            def __call__(self, x):
                return x * get_param("s", x.shape[-1:], init=jax.nn.initializers.ones)

        init, apply = transform(lambda x: Scale()(x))
        params = init(0, jnp.ones((2, 3)))
        assert list(params) == ["~/Scale_0/__call__/s"], params
        assert apply(params, jnp.full((2, 3), 2.0)).tolist() == [[2.0] * 3] * 2

        seven = transform(lambda: get_param("w", (2,), init="acme_seven")).init(0)
        assert seven["~/w"].tolist() == [7.0, 7.0]
        assert sorted(mc.list_initializers()) == ["acme_seven"]
        try:
            transform(lambda: get_param("w", (2,))).init(0)
        except UnknownInitializerError as e:
            print(e)
    """,
        tmp_path,
    )
    assert out == (
        "no initializer named 'normal' is registered (known: acme_seven). 'normal' is the "
        "default initializer (used when init=None); it is provided by the "
        "minihaiku-initializers package: pip install minihaiku-initializers, or pass init= a "
        "callable such as jax.nn.initializers.normal(1.0).\n"
    )


def test_core_and_initializers(tmp_path, wheels):
    python = venv_with(tmp_path, wheels, ["core", "initializers"])
    out = run(
        python,
        """
        import importlib.util
        import jax.numpy as jnp
        from minihaiku.core import get_param, list_initializers, transform
        assert importlib.util.find_spec("minihaiku.layers") is None
        params = transform(lambda: get_param("w", (64, 64), init="orthogonal")).init(0)
        w = params["~/w"]
        assert float(jnp.abs(w.T @ w - jnp.eye(64)).max()) < 1e-4
        default = transform(lambda: get_param("v", (10000,))).init(0)["~/v"]
        assert abs(float(default.std()) - 1.0) < 0.05
        print(list_initializers()["he_normal"].distribution)
    """,
        tmp_path,
    )
    assert out == "minihaiku-initializers\n"


def test_everything_with_the_plot_extra(tmp_path, wheels):
    python = venv_with(
        tmp_path,
        wheels,
        ["core", "initializers", "layers", "training"],
        extra=[f"minihaiku-training[plot] @ {wheels['training'].as_uri()}"],
    )
    fit = python.parent / "minihaiku-fit"
    r = subprocess.run(
        [str(fit), "--steps", "50", "--out", str(tmp_path / "run"), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("final loss ")
    assert (tmp_path / "run" / "fit.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "run" / "metrics.json").exists()
    out = run(
        python,
        """
        import minihaiku.layers, minihaiku.training
        print(minihaiku.layers.__version__, minihaiku.training.__version__)
    """,
        tmp_path,
    )
    assert out.split() == [version("minihaiku-layers"), version("minihaiku-training")]


def test_the_example_plugin(tmp_path, wheels):
    python = venv_with(tmp_path, wheels, ["core", "example"])
    out = run(
        python,
        """
        import jax.numpy as jnp
        from minihaiku.core import get_initializer, get_param, list_initializers, transform
        info = list_initializers()["acme_sinusoid"]
        print(info.plugin, info.distribution)
        w = transform(lambda: get_param("w", (2, 2), init="acme_sinusoid")).init(0)["~/w"]
        assert jnp.allclose(w.ravel(), jnp.sin(jnp.arange(4.0)))
        big = get_initializer("acme_sinusoid", amplitude=2.0)(None, (3,), jnp.float32)
        assert jnp.allclose(big, 2 * jnp.sin(jnp.arange(3.0)))
    """,
        tmp_path,
    )
    assert out == "acme-example acme-example-inits\n"


def test_the_haiku_drop_in_without_training(tmp_path, wheels):
    python = venv_with(tmp_path, wheels, ["core", "initializers", "layers", "haiku"])
    out = run(
        python,
        """
        import importlib.util
        from pathlib import Path
        import jax
        import minihaiku.haiku as hk
        f = hk.transform(lambda x: hk.nets.MLP([3, 2])(x))
        params = f.init(jax.random.key(0), jax.numpy.ones((1, 4)))
        print(sorted(params), f.apply(params, None, jax.numpy.ones((1, 4))).shape)
        print(importlib.util.find_spec("minihaiku.training") is None)
        print((Path(hk.__file__).parent / "py.typed").exists())
    """,
        tmp_path,
    )
    assert out.splitlines() == ["['mlp/~/linear_0', 'mlp/~/linear_1'] (1, 2)", "True", "True"]
