"""Load order, conflicts, misspelled hooks, strict retries and lookups during loading.

The plugin distributions here are written on the fly into a tmp dir (a
``*.dist-info`` folder with METADATA and entry_points.txt, plus the module) and
put on ``sys.path`` only for one fresh ``Registry`` or one subprocess, so the
shared test environment never sees a conflicting plugin.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    DuplicateInitializerError,
    PluginLoadError,
    PluginLoadWarning,
    Registry,
    hookimpl,
    list_initializers,
)

BROKEN_WARNING = (
    "initializer plugin 'broken' = 'broken_inits' from minihaiku-test-broken failed to "
    "load: RuntimeError: broken_inits is broken on purpose; its initializers are not "
    "available, the other plugins keep working."
)

FILL = """
import jax.numpy as jnp
from minihaiku.core import hookimpl


def fill(value={value}):
    return lambda key, shape, dtype: jnp.full(shape, value, dtype)
"""


def make_dist(root, dist, module, body, eps=None, version="1.0.0"):
    """Writes module.py and dist-info for ``dist`` with entry points ``eps`` into root."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = eps or {module: module}
    lines = "".join(f"{k} = {v}\n" for k, v in eps.items())
    (info / "entry_points.txt").write_text("[minihaiku.initializers]\n" + lines)
    return root


def registers(*names, value=9.0):
    calls = "".join(f"    register({n!r}, fill)\n" for n in names)
    return (
        FILL.format(value=value)
        + "\n\n@hookimpl\ndef minihaiku_register_initializers(register):\n"
        + calls
    )


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """Puts tmp_path on sys.path for this test only (after the process registry loaded)."""
    list_initializers()  # the process registry must never see these plugins
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tmpplug_")]:
        del sys.modules[name]


def load(reg, *, expect):
    with pytest.warns(PluginLoadWarning) as w:
        reg.load_plugins()
    assert [str(x.message) for x in w] == expect
    return reg


def test_a_plugin_whose_entry_point_sorts_first_cannot_replace_a_builtin(on_path):
    make_dist(
        on_path,
        "aaa-evil",
        "tmpplug_evil",
        registers("normal", "evil_only"),
        eps={"aaa": "tmpplug_evil"},
    )
    dup = (
        "initializer plugin 'aaa' = 'tmpplug_evil' from aaa-evil failed to load: "
        "DuplicateInitializerError: initializer 'normal' is registered twice: by plugin "
        "'builtin' (minihaiku-initializers) and by plugin 'aaa' (aaa-evil). Built-in "
        "names cannot be replaced: rename the initializer in plugin 'aaa'; its "
        "initializers are not available, the other plugins keep working."
    )
    reg = load(Registry(), expect=[dup, BROKEN_WARNING])
    listing = reg.list_initializers()
    assert listing["normal"].plugin == "builtin"
    assert listing["zeros"].distribution == "minihaiku-initializers"
    assert "evil_only" not in listing
    x = reg.get_initializer("normal")(jax.random.PRNGKey(0), (4,), jnp.float32)
    np.testing.assert_array_equal(x, jax.random.normal(jax.random.PRNGKey(0), (4,)))
    failure = reg.failed_plugins()[0]
    assert (failure.entry_point, failure.distribution) == ("aaa", "aaa-evil")
    assert isinstance(failure.error, DuplicateInitializerError)


def test_replacing_a_builtin_in_strict_mode_raises_naming_both_plugins(on_path):
    make_dist(
        on_path, "aaa-evil", "tmpplug_evil2", registers("normal"), eps={"aaa": "tmpplug_evil2"}
    )
    reg = Registry()
    with pytest.raises(PluginLoadError) as e:
        reg.load_plugins(strict=True)
    assert str(e.value) == (
        "initializer plugin 'aaa' = 'tmpplug_evil2' from aaa-evil failed to load: "
        "DuplicateInitializerError: initializer 'normal' is registered twice: by plugin "
        "'builtin' (minihaiku-initializers) and by plugin 'aaa' (aaa-evil). Built-in "
        "names cannot be replaced: rename the initializer in plugin 'aaa'. "
        "MINIHAIKU_STRICT_PLUGINS is set: unset it to skip broken plugins, or fix or "
        "uninstall aaa-evil."
    )
    assert isinstance(e.value.__cause__, DuplicateInitializerError)


def test_third_party_conflicts_go_by_distribution_name_not_entry_point_name(on_path):
    # Entry point 'a' sorts first, but its distribution 'b-dist' sorts after 'a-dist'.
    make_dist(
        on_path, "b-dist", "tmpplug_b", registers("shared", value=2.0), eps={"a": "tmpplug_b"}
    )
    make_dist(
        on_path, "a-dist", "tmpplug_a", registers("shared", value=1.0), eps={"z": "tmpplug_a"}
    )
    dup = (
        "initializer plugin 'a' = 'tmpplug_b' from b-dist failed to load: "
        "DuplicateInitializerError: initializer 'shared' is registered twice: by plugin "
        "'z' (a-dist) and by plugin 'a' (b-dist). Uninstall one of them, or rename the "
        "initializer in one plugin; its initializers are not available, the other "
        "plugins keep working."
    )
    reg = load(Registry(), expect=[dup, BROKEN_WARNING])
    assert reg.list_initializers()["shared"].plugin == "z"
    out = reg.get_initializer("shared")(None, (2,), jnp.float32)
    np.testing.assert_array_equal(out, [1.0, 1.0])
    order = [(p.name, p.distribution, p.loaded) for p in reg.registry_report().plugins]
    assert order == [
        ("builtin", "minihaiku-initializers", True),
        ("z", "a-dist", True),
        ("acme", "acme-inits", True),
        ("a", "b-dist", False),
        ("broken", "minihaiku-test-broken", False),
    ]


def test_a_misspelled_hook_is_reported_naming_the_plugin(on_path):
    body = """
    from minihaiku.core import hookimpl

    @hookimpl
    def minihaiku_register_initializer(register):
        register("typo_init", None)
    """
    make_dist(on_path, "typo-inits", "tmpplug_typo", body, eps={"typo": "tmpplug_typo"})
    reason = (
        "initializer plugin 'typo' = 'tmpplug_typo' from typo-inits failed to load: "
        "PluginLoadError: plugin 'typo' implements the hook "
        "'minihaiku_register_initializer', which minihaiku does not define; did you "
        "mean 'minihaiku_register_initializers'? The only minihaiku hook is "
        "minihaiku_register_initializers(register)"
    )
    reg = load(
        Registry(),
        expect=[
            BROKEN_WARNING,
            reason + "; its initializers are not available, the other plugins keep working.",
        ],
    )
    assert [f.entry_point for f in reg.failed_plugins()] == ["broken", "typo"]
    with pytest.raises(PluginLoadError) as e:
        Registry().load_plugins(strict=True)
    # broken (minihaiku-test-broken) loads before typo-inits and fails first.
    assert "'broken'" in str(e.value)


def test_a_misspelled_hook_in_strict_mode_raises(on_path):
    body = """
    from minihaiku.core import hookimpl

    @hookimpl
    def minihaiku_register_initializer(register):
        pass
    """
    make_dist(on_path, "aaa-typo", "tmpplug_typo2", body, eps={"typo": "tmpplug_typo2"})
    with pytest.raises(
        PluginLoadError,
        match=r"^initializer plugin 'typo' = 'tmpplug_typo2'"
        r" from aaa-typo failed to load: PluginLoadError: plugin 'typo' "
        r"implements the hook 'minihaiku_register_initializer'",
    ):
        Registry().load_plugins(strict=True)


def test_a_plugin_without_any_hook_is_reported(on_path):
    make_dist(on_path, "aaa-empty", "tmpplug_empty", "X = 1\n", eps={"empty": "tmpplug_empty"})
    make_dist(
        on_path,
        "aaa-undecorated",
        "tmpplug_undec",
        "def minihaiku_register_initializers(register):\n    pass\n",
        eps={"undec": "tmpplug_undec"},
    )
    tail = "; its initializers are not available, the other plugins keep working."
    load(
        Registry(),
        expect=[
            "initializer plugin 'empty' = 'tmpplug_empty' from aaa-empty failed to load: "
            "PluginLoadError: plugin 'empty' registers no initializers: it has no "
            "minihaiku_register_initializers hook. Define @hookimpl def "
            "minihaiku_register_initializers(register) in it (from minihaiku.core import "
            "hookimpl)" + tail,
            "initializer plugin 'undec' = 'tmpplug_undec' from aaa-undecorated failed to "
            "load: PluginLoadError: plugin 'undec' registers no initializers: its "
            "minihaiku_register_initializers is not decorated with "
            "@minihaiku.core.hookimpl. Define @hookimpl def "
            "minihaiku_register_initializers(register) in it (from minihaiku.core import "
            "hookimpl)" + tail,
            BROKEN_WARNING,
        ],
    )


def test_register_plugin_refuses_a_misspelled_hook_and_leaves_nothing_behind():
    class Typo:
        @hookimpl
        def minihaiku_register_initialisers(self, register):
            register("typo", None)

    reg = Registry()
    reg._autoloaded = True  # only this plugin
    with pytest.raises(PluginLoadError) as e:
        reg.register_plugin(Typo(), name="typo")
    assert str(e.value) == (
        "plugin 'typo' implements the hook 'minihaiku_register_initialisers', which "
        "minihaiku does not define; did you mean 'minihaiku_register_initializers'? The "
        "only minihaiku hook is minihaiku_register_initializers(register)."
    )
    assert reg.registry_report().plugins == ()

    # The name is free again.
    class Good:
        @hookimpl
        def minihaiku_register_initializers(self, register):
            register("good", lambda: lambda k, s, d: jnp.zeros(s, d))

    assert reg.register_plugin(Good(), name="typo") == "typo"


def test_register_plugin_refuses_a_taken_plugin_name():
    class One:
        @hookimpl
        def minihaiku_register_initializers(self, register):
            register("one_init", lambda: lambda k, s, d: jnp.zeros(s, d))

    reg = Registry()
    reg._autoloaded = True
    reg.register_plugin(One(), name="one")
    with pytest.raises(PluginLoadError) as e:
        reg.register_plugin(One(), name="one")
    assert str(e.value) == (
        "a plugin named 'one' (not installed from a distribution) is already "
        "registered; give this plugin another name."
    )


def test_register_plugin_cannot_replace_a_builtin_even_before_first_use():
    class Evil:
        @hookimpl
        def minihaiku_register_initializers(self, register):
            register("normal", lambda: lambda k, s, d: jnp.full(s, 5.0, d))

    reg = Registry()
    with (
        pytest.warns(PluginLoadWarning, match="broken"),
        pytest.raises(DuplicateInitializerError) as e,
    ):
        reg.register_plugin(Evil(), name="evil")
    assert str(e.value) == (
        "initializer 'normal' is registered twice: by plugin 'builtin' "
        "(minihaiku-initializers) and by plugin 'evil' (not installed from a "
        "distribution). Built-in names cannot be replaced: rename the initializer in "
        "plugin 'evil'."
    )
    assert reg.list_initializers()["normal"].plugin == "builtin"


def test_a_strict_retry_blames_the_same_broken_plugin():
    reg = Registry()
    messages = []
    for _ in range(2):
        with pytest.raises(PluginLoadError) as e:
            reg.load_plugins(strict=True)
        messages.append(str(e.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith("initializer plugin 'broken' = 'broken_inits'")
    # Nothing stayed loaded: a non-strict load now loads the healthy plugins again.
    with pytest.warns(PluginLoadWarning) as w:
        listing = reg.list_initializers()
    assert [str(x.message) for x in w] == [BROKEN_WARNING]
    assert listing["acme_seven"].plugin == "acme"
    assert listing["normal"].plugin == "builtin"
    assert [p.name for p in reg.registry_report().plugins] == ["builtin", "acme", "broken"]


def run_with(path, code, **env):
    env = {**os.environ, "PYTHONPATH": str(path), **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_a_plugin_can_look_up_a_builtin_while_it_is_loaded(tmp_path):
    body = """
    from minihaiku.core import get_initializer, hookimpl

    NORMAL_AT_IMPORT = get_initializer("normal")


    @hookimpl
    def minihaiku_register_initializers(register):
        normal = get_initializer("normal")
        assert normal is not None

        def doubled():
            return lambda key, shape, dtype: 2 * normal(key, shape, dtype)

        register("doubled_normal", doubled)
    """
    make_dist(tmp_path, "aaa-lookup", "tmpplug_lookup", body, eps={"aaa": "tmpplug_lookup"})
    r = run_with(
        tmp_path,
        """
        import json, warnings
        warnings.simplefilter("ignore")
        import jax, jax.numpy as jnp
        from minihaiku.core import failed_plugins, get_initializer, list_initializers
        x = get_initializer("doubled_normal")(jax.random.PRNGKey(0), (3,), jnp.float32)
        import tmpplug_lookup
        print(json.dumps({
            "x": x.tolist(),
            "owner": list_initializers()["doubled_normal"].plugin,
            "failed": [f.entry_point for f in failed_plugins()],
            "at_import": tmpplug_lookup.NORMAL_AT_IMPORT is not None,
        }))
        """,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["owner"] == "aaa"
    assert out["failed"] == ["broken"]
    assert out["at_import"] is True
    want = 2 * jax.random.normal(jax.random.PRNGKey(0), (3,))
    np.testing.assert_allclose(out["x"], want, rtol=1e-6)
