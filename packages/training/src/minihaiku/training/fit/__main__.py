"""``python -m minihaiku.training.fit``: the same as the ``minihaiku-fit`` command."""

from minihaiku.training.fit._cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
