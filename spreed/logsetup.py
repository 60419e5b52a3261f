"""Logging: one line per event with time, level and logger; to stderr or a file."""
from __future__ import annotations

import logging
import sys


def setup(logfile: str = "", verbose: bool = False) -> None:
    handler: logging.Handler
    handler = logging.FileHandler(logfile, encoding="utf-8") if logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("tornado.access").setLevel(logging.DEBUG if verbose else logging.WARNING)
