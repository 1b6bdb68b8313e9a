# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Group commit of the SQLite WAL: rows committed without their own fsync (`Store.transaction(sync=False)`)
reach the disk through one `fdatasync` of the `-wal` file shared by every caller waiting at the time.

A commit in WAL mode appends its frames to the `-wal` file; with synchronous=NORMAL SQLite syncs that
file only before a checkpoint (and the database after it), so an fsync of the `-wal` file by anyone
makes every commit before it durable, as synchronous=FULL would have at each commit. The file is
opened for each flush: a missing one means every commit was checkpointed into the synced database.
"""

from __future__ import annotations

import os
import threading


class WalFlush:
    """Tickets for deferred commits of one database and the flush that covers them.

    Thread safety: `written` runs on the writer's thread; `flush` and `check` on any thread.
    """

    def __init__(self, wal_path: str) -> None:
        self.wal_path = wal_path
        self._lock = threading.Lock()  # the tickets
        self._sync_lock = threading.Lock()  # one flush at a time; taken before _lock
        self._written = self.synced = 0
        self._failed: OSError | None = None

    def check(self) -> None:
        """Raises OSError after a failed flush: the page cache proves nothing after one (restart the server)."""
        if self._failed is not None:
            raise OSError(f"an earlier flush of {self.wal_path} failed ({self._failed}); restart the server")

    def written(self) -> None:
        """Counts one deferred commit (after its COMMIT returned)."""
        with self._lock:
            self._written += 1

    def flush(self) -> None:
        """Returns once every deferred commit counted before the call is on disk."""
        with self._lock:
            ticket = self._written
        with self._sync_lock:
            self.check()
            if self.synced >= ticket:
                return  # another caller's flush covered these commits
            with self._lock:
                target = self._written
            try:
                fd = os.open(self.wal_path, os.O_RDONLY)
            except FileNotFoundError:  # no WAL: every commit was checkpointed into the synced database
                self.synced = target
                return
            try:
                os.fdatasync(fd)
            except OSError as e:
                self._failed = e
                raise
            finally:
                os.close(fd)
            self.synced = target
