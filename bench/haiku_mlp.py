"""minihaiku.haiku against dm-haiku: un-jitted init and apply of one MLP (rough).

Usage: python bench/haiku_mlp.py   (in an environment with dm-haiku: hatch-test or bench)
"""

import timeit
import warnings

import jax
import jax.numpy as jnp

warnings.simplefilter("ignore")

import haiku  # noqa: E402

import minihaiku.haiku as mhk  # noqa: E402


def main() -> None:
    x = jnp.ones((8, 64))
    key = jax.random.PRNGKey(0)
    times = {}
    print("| library | init (ms) | apply (ms) |\n|---|---:|---:|")
    for name, hk in (("dm-haiku", haiku), ("minihaiku.haiku", mhk)):
        f = hk.transform(lambda x, hk=hk: hk.nets.MLP([256, 256, 256, 10])(x))
        params = f.init(key, x)
        jax.block_until_ready(f.apply(params, None, x))
        t_init = min(timeit.repeat(lambda f=f: f.init(key, x), number=20, repeat=15)) / 20
        t_apply = (
            min(timeit.repeat(lambda f=f, p=params: f.apply(p, None, x), number=50, repeat=15)) / 50
        )
        times[name] = (t_init, t_apply)
        print(f"| {name} | {t_init * 1e3:.2f} | {t_apply * 1e3:.3f} |")
    ours, theirs = times["minihaiku.haiku"], times["dm-haiku"]
    print(f"| ratio | {ours[0] / theirs[0]:.2f}x | {ours[1] / theirs[1]:.2f}x |")


if __name__ == "__main__":
    main()
