"""Installing only minihaiku-core (from its built wheel, not editable) works.

Builds and installs minihaiku-core and the acme-inits test plugin into a fresh
virtual environment that has neither minihaiku-initializers nor the other
packages, then runs a script there.
"""

import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    import jax, jax.numpy as jnp
    import minihaiku.core as mc
    from minihaiku.core import Module, get_param, transform, UnknownInitializerError

    assert "site-packages" in mc.__file__, mc.__file__
    assert importlib.util.find_spec("minihaiku.initializers") is None
    assert importlib.util.find_spec("minihaiku.layers") is None

    class Scale(Module):
        def __call__(self, x):
            return x * get_param("s", x.shape[-1:], init=jax.nn.initializers.ones)

    init, apply = transform(lambda x: Scale()(x))
    params = init(0, jnp.ones((2, 3)))
    assert list(params) == ["~/Scale_0/__call__/s"], params
    assert apply(params, jnp.full((2, 3), 2.0)).tolist() == [[2.0] * 3] * 2

    seven = transform(lambda: get_param("w", (2,), init="acme_seven")).init(0)
    assert seven["w"].tolist() == [7.0, 7.0]
    assert mc.list_initializers()["acme_seven"].distribution == "acme-inits"
    assert sorted(mc.list_initializers()) == ["acme_seven"]

    try:
        transform(lambda: get_param("w", (2,))).init(0)
    except UnknownInitializerError as e:
        print(e)
    else:
        sys.exit("init=None should fail without minihaiku-initializers")
    """
)


@pytest.mark.install
def test_only_core_installed_from_its_wheel(tmp_path):
    try:
        import uv as uv_package

        uv = uv_package.find_uv_bin()
    except ImportError:
        uv = shutil.which("uv")
    if uv is None:
        pytest.fail("this test needs uv (the hatch test environment installs it)")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    pins = [f"jax=={version('jax')}", f"jaxlib=={version('jaxlib')}"]
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "--reinstall-package",
            "minihaiku-core",
            str(ROOT / "packages" / "core"),
            str(ROOT / "tests" / "plugins" / "acme_inits"),
            *pins,
        ],
        check=True,
    )
    r = subprocess.run([str(python), "-c", SCRIPT], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "no initializer named 'normal' is registered (known: acme_seven). 'normal' is "
        "the default initializer (used when init=None); it is provided by the "
        "minihaiku-initializers package: pip install minihaiku-initializers, or pass "
        "init= a callable such as jax.nn.initializers.normal(1.0).\n"
    )
