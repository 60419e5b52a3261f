#!/usr/bin/env python3
"""Spreed WebRTC for Python: start the server (`python server.py [-c config.yaml] [-l logfile] [-v]`)."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

# tornado.log colours its own formatter with curses; ours has no colours, so the 0.5 MB stay unloaded
sys.modules.setdefault("curses", None)  # type: ignore[arg-type]

import tornado.httpserver  # noqa: E402
import tornado.netutil  # noqa: E402
import tornado.process  # noqa: E402

from handlers.app import make_app  # noqa: E402
from handlers.frontdoor import FrontDoor  # noqa: E402
from spreed import __version__  # noqa: E402
from spreed.config import PACKAGED_CONFIG, Config, ConfigError, load  # noqa: E402
from spreed.hub import Hub  # noqa: E402
from spreed.logsetup import setup as setup_logging  # noqa: E402

log = logging.getLogger("spreed")
SHUTDOWN_GRACE = 3.0
DEFAULT_CONFIG = "config.yaml"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spreed-webrtc", description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (default ./config.yaml)")
    parser.add_argument("-l", "--logfile", default="", help="log to this file instead of stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--check", action="store_true",
                        help="validate the config, print the effective settings (secrets masked) and warnings")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="run N worker processes on the same port (needs nats.url)")
    parser.add_argument("--version", action="version", version=f"Version {__version__}")
    return parser.parse_args(argv)


def bind(address: str, option: str, reuse_port: bool = False) -> list[socket.socket]:
    """host:port (IPv6 in brackets) or a Unix socket path starting with '/'; errors name `option`."""
    try:
        if address.startswith("/"):
            return [tornado.netutil.bind_unix_socket(address, mode=0o660)]
        host, _, port = address.rpartition(":")
        return tornado.netutil.bind_sockets(int(port), address=host.strip("[]") or None, reuse_port=reuse_port)
    except OSError as exc:
        raise ConfigError(option, f"cannot listen on {address} ({exc.strerror or exc})") from None
    except ValueError as exc:  # e.g. a Unix socket path where another kind of file exists
        raise ConfigError(option, f"cannot listen on {address} ({exc})") from None


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


async def serve(cfg: Config, reuse_port: bool = False) -> None:
    hub = Hub(cfg)
    closers: list[Any] = []
    if cfg.nats.get("url") or cfg.nats.get("channelling_trigger"):  # nats-py only when configured
        from spreed.cluster import ClusterError, attach
        try:
            closers = await attach(hub)
        except ClusterError as exc:
            raise ConfigError("nats.url", str(exc)) from None
    if cfg.sfu_urls:  # imported only when configured
        from spreed.sfu import attach as attach_sfu
        closers = await attach_sfu(hub) + closers
    app = make_app(hub)
    servers = []
    listeners = [(a, None, "http.listen") for a in cfg.listen]
    listeners += [(a, tls_context(cfg), "https.listen") for a in cfg.https_listen]
    for address, context, option in listeners:
        options = {"max_header_size": 1 << 20, "max_body_size": 1 << 20}
        server: Any = (tornado.httpserver.HTTPServer(app, ssl_options=context, **options) if context
                       else FrontDoor(app, **options))
        server.add_sockets(bind(address, option, reuse_port))
        servers.append(server)
        log.info("listening on %s://%s", "https" if context else "http", address)
    hub.start()
    # Everything built so far lives as long as the process: keep it out of the collector's way, and
    # collect less often (a full collection over thousands of sessions costs milliseconds of latency).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
    release_free_memory()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # The original re-read its config on SIGHUP without applying it; dying on a reload signal would be worse.
    loop.add_signal_handler(signal.SIGHUP, log.warning,
                            "SIGHUP ignored: settings apply at start-up, restart to change them")
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
    for close in closers:
        await close()


def check(cfg: Config) -> int:
    """`--check`: the settings in effect and what will hurt users; exit 0 when the config loads."""
    from spreed import doctor
    import yaml
    print("# effective settings (secrets hidden)")
    print(yaml.safe_dump(doctor.effective(cfg), default_flow_style=False, sort_keys=False).rstrip())
    advice = doctor.warnings(cfg)
    print("# warnings" if advice else "# no warnings")
    for line in advice:
        print(f"WARNING: {line}")
    for line in doctor.sfu_report(cfg):
        print(line)
    return 0


def run_loop(main: Any) -> None:
    """uvloop when it is installed (SPREED_EVENT_LOOP=asyncio opts out): it measures faster."""
    if os.environ.get("SPREED_EVENT_LOOP", "auto") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


def run(cfg: Config, processes: int) -> None:
    """One process, or N workers sharing the listening ports (SO_REUSEPORT) and a NATS bus."""
    if processes < 1:
        raise ConfigError("--processes", f"must be at least 1, got {processes}")
    if processes == 1:
        run_loop(serve(cfg))
        return
    if not cfg.nats.get("url"):
        raise ConfigError("--processes", "several processes share rooms over NATS: set nats.url")
    if any(a.startswith("/") for a in cfg.listen):
        raise ConfigError("http.listen", "Unix sockets cannot be shared by several processes")
    master = os.getpid()
    tornado.process.fork_processes(processes, max_restarts=100)
    follow_master(master)
    run_loop(serve(cfg, reuse_port=True))


def follow_master(master: int) -> None:
    """A worker ends (gracefully, by SIGTERM) when its master does: `kill <master>` must not leave
    workers holding the port. Linux only; elsewhere a service manager stops the whole group."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != master:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def release_free_memory() -> None:
    """Give the heap that start-up freed back to the system (glibc keeps it otherwise): on a
    512 MB Raspberry Pi the resident size before the first user is what counts."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["users"]:
        from spreed.users.cli import main as users_main
        return users_main(argv[1:])
    args = parse_args(argv)
    try:
        config_path = Path(args.config)
        if args.config == DEFAULT_CONFIG and not config_path.is_file():
            config_path = PACKAGED_CONFIG  # an installed server starts on its bundled defaults
        if not config_path.is_file():
            raise ConfigError("-c", f"config file not found: {args.config}")
        cfg = load(config_path)
        try:
            setup_logging(args.logfile or cfg.logfile, args.verbose)
        except OSError as exc:
            option = "-l" if args.logfile else "log.logfile"
            raise ConfigError(option, f"cannot open {exc.filename} ({exc.strerror})") from None
        if args.check:
            return check(cfg)
        run(cfg, args.processes)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
