"""Where :func:`train` gets its batches: one full batch, an iterable, or shuffled arrays."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from minihaiku.core import InvalidArgumentError
from minihaiku.core.checks import check_int
from minihaiku.training._errors import DataError
from minihaiku.training._leaves import check_batch_leaves, check_not_empty

__all__ = ["ArrayBatches", "FullBatch", "IterBatches", "Source", "make_source"]


class FullBatch:
    """The same batch at every step (the chunk takes it as a fixed argument)."""

    stacked = False

    def __init__(self, data: Any) -> None:
        self.data = data

    def example(self) -> Any:
        return self.data


def _signature(tree: Any) -> tuple[Any, list[tuple[str, tuple[int, ...], str]]]:
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return treedef, [
        (jax.tree_util.keystr(path), np.shape(x), str(np.asarray(x).dtype)) for path, x in leaves
    ]


class IterBatches:
    """Batches drawn from an iterator; a resumed run skips the ``start`` consumed ones."""

    stacked = True

    def __init__(self, data: Iterable[Any], start: int, step: int | None = None) -> None:
        self._it: Iterator[Any] = iter(data)
        for i in range(start):
            if next(self._it, _END) is _END:
                raise DataError(
                    f"the data iterator ran dry after {i} batches while skipping the "
                    f"{start} batches the resumed run already consumed (steps 0 to "
                    f"{start - 1}). Pass the same data as the run that wrote the "
                    "checkpoint."
                )
        first = next(self._it, _END)
        if first is _END:
            raise DataError(
                f"the data iterator gave no batch for step {start if step is None else step}. "
                "Pass an iterator "
                "that yields at least one batch per step."
            )
        check_batch_leaves(first, "batch", "the data iterator's first batch: ")
        check_not_empty(first, "batch", "the data iterator's first batch")
        self._first = first
        self._buffer: list[Any] = [first]
        self._sig = _signature(first)

    def example(self) -> Any:
        return self._first

    def _check(self, batch: Any, step: int) -> None:
        sig = _signature(batch)
        if sig == self._sig:
            return
        (want_def, want), (got_def, got) = self._sig, sig
        if want_def != got_def:
            detail = f"its structure is {got_def} instead of {want_def}"
        else:
            detail = "; ".join(
                f"leaf {p or '<root>'} is {gs} {gd} instead of {ws} {wd}"
                for (p, ws, wd), (_, gs, gd) in zip(want, got, strict=True)
                if (ws, wd) != (gs, gd)
            )
        raise DataError(
            f"the batch for step {step} differs from the first batch: {detail}. Every "
            "batch must have the same shapes and dtypes (one compiled step serves "
            "them all): drop or pad the last partial batch."
        )

    def take(self, step: int, n: int) -> Any:
        """Stacks the batches of steps ``step`` to ``step + n - 1`` (axis 0)."""
        batches = self._buffer
        self._buffer = []
        while len(batches) < n:
            batch = next(self._it, _END)
            if batch is _END:
                raise _DryError(step, len(batches))
            batches.append(batch)
        for i, batch in enumerate(batches):
            self._check(batch, step + i)
        return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *batches)


class _DryError(Exception):
    """The iterator ended ``got`` batches into the chunk starting at ``step``."""

    def __init__(self, step: int, got: int) -> None:
        super().__init__(step, got)
        self.step = step
        self.got = got

    def error(self, done: int, steps: int, directory: Path | None) -> DataError:
        """The error for the user: ``done`` steps done, a checkpoint in ``directory``."""
        kept = f"A checkpoint at step {done} is in {directory}." if directory else ""
        return DataError(
            f"the data iterator ran dry at step {self.step + self.got}: {done} of the "
            f"{steps} steps were done (the {self.got} batches of the unfinished chunk "
            f"were not used). {kept} Pass an iterator with at least one batch per "
            "step (e.g. itertools.cycle over epochs), or fewer steps."
        )


_END = object()


class ArrayBatches:
    """Minibatches of in-memory arrays, shuffled per epoch; the last partial batch dropped.

    The order of epoch ``e`` is ``np.random.default_rng((seed, e)).permutation(n)``,
    so any step's batch is known from the seed and the step alone.
    """

    stacked = True

    def __init__(self, data: Any, batch_size: int, seed: int) -> None:
        check_batch_leaves(data, "data")
        leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(data)]
        if not leaves or any(x.ndim == 0 for x in leaves):
            raise InvalidArgumentError(
                "batch_size= needs data whose leaves are arrays with the examples on "
                "axis 0, e.g. (xs, ys)."
            )
        sizes = {x.shape[0] for x in leaves}
        if len(sizes) > 1:
            raise InvalidArgumentError(
                f"the data's arrays hold different numbers of examples {sorted(sizes)} "
                "(axis 0); every array must hold one row per example."
            )
        check_not_empty(data, "data")
        self.n = sizes.pop()
        if batch_size > self.n:
            raise InvalidArgumentError(
                f"batch_size={batch_size} is larger than the {self.n} examples in data; "
                "pass a smaller batch_size, or the data as one full batch."
            )
        self.data = jax.tree_util.tree_map(np.asarray, data)
        self.batch_size = batch_size
        self.per_epoch = self.n // batch_size
        self.seed = seed
        self._perm: tuple[int, np.ndarray] | None = None

    def order(self, epoch: int) -> np.ndarray:
        """The permutation of the examples in ``epoch``."""
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng((self.seed, epoch)).permutation(self.n))
        return self._perm[1]

    def indices(self, step: int) -> np.ndarray:
        epoch, i = divmod(step, self.per_epoch)
        return self.order(epoch)[i * self.batch_size : (i + 1) * self.batch_size]

    def example(self) -> Any:
        return jax.tree_util.tree_map(lambda x: x[: self.batch_size], self.data)

    def take_indices(self, step: int, n: int) -> np.ndarray:
        """The example indices of steps ``step`` to ``step + n - 1``, shape ``(n, batch_size)``."""
        parts, at, stop = [], step, step + n
        while at < stop:  # one slice of each epoch's permutation
            epoch, i = divmod(at, self.per_epoch)
            k = min(stop - at, self.per_epoch - i)
            order = self.order(epoch)[i * self.batch_size : (i + k) * self.batch_size]
            parts.append(order.reshape(k, self.batch_size))
            at += k
        return np.concatenate(parts).astype(np.int32 if self.n < 2**31 else np.int64)

    def take(self, step: int, n: int) -> Any:
        """Stacks the batches of steps ``step`` to ``step + n - 1`` (axis 0)."""
        idx = self.take_indices(step, n)
        return jax.tree_util.tree_map(lambda x: x[idx], self.data)


Source = FullBatch | IterBatches | ArrayBatches


def _is_stream(data: Any) -> bool:
    if isinstance(data, (tuple, list, Mapping, np.ndarray, jax.Array)):
        return False
    return isinstance(data, Iterator) or (
        isinstance(data, Iterable) and not isinstance(data, (str, bytes))
    )


def make_source(data: Any, batch_size: int | None, seed: int, start: int, skip: int) -> Source:
    """Picks the source for ``data`` (see :func:`train`); an iterator first skips ``skip``."""
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", "", minimum=1)
        if _is_stream(data):
            raise InvalidArgumentError(
                "batch_size= splits in-memory arrays into minibatches; data is an "
                "iterator, whose items are already batches. Leave batch_size out."
            )
        return ArrayBatches(data, int(batch_size), seed)
    if _is_stream(data):
        return IterBatches(data, skip, start)
    check_batch_leaves(data, "data")
    check_not_empty(data, "data")
    return FullBatch(data)
