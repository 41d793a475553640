"""Checkpointing: the checkpointer, tree digests, the directory lock and checks, orbax quieting."""

from minihaiku.training._checkpoints.checkpointer import Checkpointer, Restored
from minihaiku.training._checkpoints.digest import tree_digest
from minihaiku.training._checkpoints.dirs import ensure_writable_dir
from minihaiku.training._checkpoints.lock import LOCK_NAME, DirectoryLock

__all__ = [
    "LOCK_NAME",
    "Checkpointer",
    "DirectoryLock",
    "Restored",
    "ensure_writable_dir",
    "tree_digest",
]
