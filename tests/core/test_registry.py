"""The initializer registry, against the real installed plugin distributions.

The test environment installs two plugin distributions from tests/plugins:
acme-inits (registers 'acme_seven') and minihaiku-test-broken (fails to import).
"""

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from minihaiku.core import (
    DuplicateInitializerError,
    NotCallableError,
    PluginLoadError,
    PluginLoadWarning,
    Registry,
    UnknownInitializerError,
    get_initializer,
    get_param,
    hookimpl,
    list_initializers,
    transform,
)

BROKEN_WARNING = (
    "initializer plugin 'broken' = 'broken_inits' from minihaiku-test-broken failed to "
    "load: RuntimeError: broken_inits is broken on purpose; its initializers are not "
    "available, the other plugins keep working."
)


def fresh():
    reg = Registry()
    with pytest.warns(PluginLoadWarning) as w:
        reg.load_plugins()
    assert [str(x.message) for x in w] == [BROKEN_WARNING]
    return reg


class Plugin:
    def __init__(self, *names):
        self.names = names

    @hookimpl
    def minihaiku_register_initializers(self, register):
        for n in self.names:
            register(n, lambda value=1.0: lambda k, s, d: jnp.full(s, value, d))


def test_installed_plugins_are_loaded_with_their_owners():
    reg = fresh()
    listing = reg.list_initializers()
    assert listing["acme_seven"].plugin == "acme"
    assert listing["acme_seven"].distribution == "acme-inits"
    assert listing["normal"].plugin == "builtin"
    assert listing["normal"].distribution == "minihaiku-initializers"
    assert list(listing) == sorted(listing)


def test_a_broken_plugin_is_reported_and_the_others_keep_working():
    reg = fresh()
    (failure,) = reg.failed_plugins()
    assert (failure.entry_point, failure.value, failure.distribution) == (
        "broken",
        "broken_inits",
        "minihaiku-test-broken",
    )
    out = reg.get_initializer("acme_seven", value=3.0)(None, (2,), jnp.float32)
    np.testing.assert_array_equal(out, [3.0, 3.0])


def test_strict_mode_raises_naming_the_distribution_and_entry_point():
    reg = Registry()
    with pytest.raises(PluginLoadError) as e:
        reg.load_plugins(strict=True)
    assert str(e.value) == (
        "initializer plugin 'broken' = 'broken_inits' from minihaiku-test-broken failed "
        "to load: RuntimeError: broken_inits is broken on purpose. "
        "MINIHAIKU_STRICT_PLUGINS is set: unset it to skip broken plugins, or fix or "
        "uninstall minihaiku-test-broken."
    )
    assert isinstance(e.value, ImportError)


def test_strict_mode_from_the_environment(monkeypatch):
    monkeypatch.setenv("MINIHAIKU_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError):
        Registry().get_initializer("normal")


def test_autoload_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD", "1")
    reg = Registry()
    assert reg.list_initializers() == {}
    with pytest.raises(UnknownInitializerError) as e:
        reg.get_initializer("normal")
    assert str(e.value) == (
        "no initializer named 'normal' is registered (known: none). 'normal' is the "
        "default initializer (used when init=None); it is provided by the "
        "minihaiku-initializers package: pip install minihaiku-initializers, or pass "
        "init= a callable such as jax.nn.initializers.normal(1.0). Plugin autoload is "
        "off (MINIHAIKU_DISABLE_PLUGIN_AUTOLOAD is set)."
    )
    reg.register_plugin(Plugin("by_hand"), name="manual")
    assert reg.list_initializers()["by_hand"].plugin == "manual"
    assert reg.list_initializers()["by_hand"].distribution is None


def test_unknown_name_lists_the_known_ones():
    reg = fresh()
    with pytest.raises(UnknownInitializerError) as e:
        reg.get_initializer("gaussian")
    msg = str(e.value)
    assert msg.startswith("no initializer named 'gaussian' is registered (known: acme_seven, ")
    assert "he_normal" in msg and "orthogonal" in msg
    assert msg.endswith(
        "Note: initializer plugin 'broken' = 'broken_inits' from minihaiku-test-broken "
        "failed to load: RuntimeError: broken_inits is broken on purpose."
    )
    assert isinstance(e.value, KeyError)


def test_two_plugins_claiming_one_name_is_an_error_naming_both():
    reg = fresh()
    with pytest.raises(DuplicateInitializerError) as e:
        reg.register_plugin(Plugin("fresh_one", "acme_seven"), name="copycat")
    assert str(e.value) == (
        "initializer 'acme_seven' is registered twice: by plugin 'acme' (acme-inits) "
        "and by plugin 'copycat' (not installed from a distribution). Uninstall one of "
        "them, or rename the initializer in one plugin."
    )
    # Nothing of the rejected plugin was kept.
    assert "fresh_one" not in reg.list_initializers()


def test_a_plugin_registering_a_non_callable_factory():
    class Bad:
        @hookimpl
        def minihaiku_register_initializers(self, register):
            register("nope", 3)

    reg = Registry()
    reg._autoloaded = True  # only this plugin
    with pytest.raises(NotCallableError, match="registered initializer 'nope' with a int"):
        reg.register_plugin(Bad(), name="bad")


def test_module_level_plugin_through_the_shared_registry():
    init = get_initializer("acme_seven", value=2.0)
    np.testing.assert_array_equal(init(None, (2,), jnp.float32), [2.0, 2.0])
    params = transform(lambda: get_param("w", (3,), init="acme_seven")).init(0)
    np.testing.assert_array_equal(params["~/w"], [7.0, 7.0, 7.0])
    assert list_initializers()["acme_seven"].distribution == "acme-inits"


def test_registered_initializers_work_as_init_names():
    params = transform(lambda: get_param("w", (64, 64), init="orthogonal")).init(0)
    w = params["~/w"]
    np.testing.assert_allclose(w.T @ w, np.eye(64), atol=1e-5)


def test_default_initializer_is_cached_and_is_normal():
    assert get_initializer("normal") is get_initializer("normal")
    x = get_initializer("normal")(jax.random.PRNGKey(0), (4,), jnp.float32)
    np.testing.assert_array_equal(x, jax.random.normal(jax.random.PRNGKey(0), (4,)))


def test_warning_is_reported_once_at_the_callers_line():
    code = textwrap.dedent(
        """
        import warnings
        warnings.simplefilter("always")
        from minihaiku.core import get_initializer
        get_initializer("zeros")
        get_initializer("ones")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stderr.count("PluginLoadWarning") == 1
    assert r.stderr.startswith("<string>:5: PluginLoadWarning: " + BROKEN_WARNING)
