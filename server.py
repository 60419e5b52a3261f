#!/usr/bin/env python3
"""Spreed WebRTC for Python: start the server (`python server.py [-c config.yaml] [-l logfile] [-v]`)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import ssl
import sys
from pathlib import Path

import tornado.httpserver
import tornado.netutil

from handlers.app import make_app
from spreed import __version__
from spreed.config import Config, ConfigError, load
from spreed.hub import Hub
from spreed.logsetup import setup as setup_logging

log = logging.getLogger("spreed")
SHUTDOWN_GRACE = 3.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spreed-webrtc", description=__doc__)
    parser.add_argument("-c", "--config", default="config.yaml", help="config file (default ./config.yaml)")
    parser.add_argument("-l", "--logfile", default="", help="log to this file instead of stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=f"Version {__version__}")
    return parser.parse_args(argv)


def bind(address: str) -> list[socket.socket]:
    """host:port (IPv6 in brackets) or a Unix socket path starting with '/'."""
    if address.startswith("/"):
        return [tornado.netutil.bind_unix_socket(address, mode=0o660)]
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or None
    try:
        return tornado.netutil.bind_sockets(int(port), address=host)
    except OSError as exc:
        raise ConfigError("listen", f"cannot listen on {address} ({exc.strerror})") from None


def tls_context(cfg: Config) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                               "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
                               }[cfg.https_min_version]
    try:
        context.load_cert_chain(cfg.https_certificate, cfg.https_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("https.certificate", f"cannot load certificate/key ({exc})") from None
    if cfg.users_enabled and cfg.users_mode == "certificate":
        # client certificates are verified if given, against our CA (users.certificate_certificate)
        context.verify_mode = ssl.CERT_OPTIONAL
        try:
            context.load_verify_locations(cfg.users.get("certificate_certificate", ""))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("users.certificate_certificate", f"cannot load CA ({exc})") from None
    return context


async def serve(cfg: Config) -> None:
    hub = Hub(cfg)
    app = make_app(hub)
    servers = []
    listeners = [(a, None) for a in cfg.listen] + [(a, tls_context(cfg)) for a in cfg.https_listen]
    for address, context in listeners:
        server = tornado.httpserver.HTTPServer(app, ssl_options=context, max_header_size=1 << 20,
                                               max_body_size=1 << 20)
        server.add_sockets(bind(address))
        servers.append(server)
        log.info("listening on %s://%s", "https" if context else "http", address)
    hub.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("Spreed WebRTC %s ready", __version__)
    await stop.wait()
    log.info("shutting down")
    for server in servers:
        server.stop()
    for session in list(hub.sessions.values()):
        if session.conn is not None:
            session.conn.close(1001, "going away")
    await asyncio.sleep(0.2)
    hub.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["users"]:
        from spreed.users.cli import main as users_main
        return users_main(argv[1:])
    args = parse_args(argv)
    try:
        config_path = Path(args.config)
        if not config_path.is_file():
            raise ConfigError("-c", f"config file not found: {args.config}")
        cfg = load(config_path)
        setup_logging(args.logfile or cfg.logfile, args.verbose)
        asyncio.run(serve(cfg))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
