"""Access codes (`app.tokenFile`): the first field of each line, `#` comments, re-read when the file changes."""
from __future__ import annotations

import csv
import logging
import os

log = logging.getLogger("spreed.tokens")
MAX_CODE_LENGTH = 100


class TokenFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime: float | None = None
        self._codes: frozenset[str] = frozenset()

    def _reload(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return  # vanished: keep what we had
        if mtime == self._mtime:
            return
        codes = set()
        try:
            with open(self.path, encoding="utf-8", errors="replace", newline="") as handle:
                for line in handle:
                    line = line.rstrip("\r\n").lstrip()
                    if not line or line.startswith("#"):
                        continue
                    # CSV with ':' as separator (the original's format): a quoted first field may hold ':'.
                    # Records may have any number of fields (the original rejected the whole file).
                    fields = next(csv.reader([line], delimiter=":", skipinitialspace=True), [""])
                    code = fields[0].lower() if fields else ""
                    if code:
                        codes.add(code)
        except OSError as exc:
            log.warning("cannot read token file %s: %s", self.path, exc)
            return
        self._codes, self._mtime = frozenset(codes), mtime

    def check(self, code: str) -> bool:
        self._reload()
        return code.lower() in self._codes
