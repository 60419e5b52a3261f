"""Load and validate config.yaml (the original server.conf sections and option names).

Every problem raises ConfigError naming the option, so start-up can print one line and exit 2.
"""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import __version__
from .limits import OPTION_NAMES, AbuseLimits

DEFAULT_SERVER_TOKEN = "i-did-not-change-the-public-token-boo"
MODULE_NAMES = ("screensharing", "youtube", "presentation", "contacts")
ROOM_TYPES = ("Room", "Conference")
USERS_MODES = ("", "sharedsecret", "httpheader", "certificate", "jwt")
GENERATED_SECRETS = {"sessionSecret": 32, "encryptionSecret": 32}
PACKAGE_DIR = Path(__file__).resolve().parent
# The web client and the default config travel inside the package (in a checkout: symlinks to the
# top-level static/ and config.yaml), so `pip install .` carries them along.
PROJECT_ROOT = PACKAGE_DIR
PACKAGED_CONFIG = PACKAGE_DIR / "default-config.yaml"


class ConfigError(Exception):
    """A bad configuration value; str() is the one line shown at start-up."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"config error: {option}: {problem}")
        self.option = option


@dataclass
class Limits(AbuseLimits):
    """Transport and abuse limits (section `limits:`); `enabled: false` switches the abuse ones off."""
    enabled: bool = True
    max_message_bytes: int = 1 << 20
    messages_per_second: int = 20
    send_queue_messages: int = 1024
    send_queue_bytes: int = 8 << 20
    ping_interval: float = 54.0
    ping_timeout: float = 60.0


@dataclass
class Config:
    # [http]
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1:8080"])
    root: Path = PROJECT_ROOT
    base_path: str = "/"
    stats: bool = False
    metrics: bool = False
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    allowed_origins: list[str] = field(default_factory=list)  # besides the server's own; "*" for any
    # [https]
    https_listen: list[str] = field(default_factory=list)
    https_certificate: str = ""
    https_key: str = ""
    https_min_version: str = "TLSv1.2"
    # [app]
    title: str = "Spreed WebRTC"
    ver: str = ""
    stun_uris: list[str] = field(default_factory=list)
    turn_uris: list[str] = field(default_factory=list)
    turn_secret: bytes = b""
    renegotiation: bool = False
    session_secret: bytes = b""
    encryption_secret: bytes = b""
    token_file: str = ""
    global_room: str = ""
    default_room_enabled: bool = True
    authorize_room_join: bool = False
    authorize_room_creation: bool = False
    server_token: str = DEFAULT_SERVER_TOKEN
    server_realm: str = "local"
    plugin: str = ""
    csp: str = ""
    csp_report_only: str = ""
    room_idle_seconds: float = 60.0
    test_hooks: bool = False
    # [modules]
    modules: dict[str, bool] = field(default_factory=lambda: {m: True for m in MODULE_NAMES})
    # [log]
    logfile: str = ""
    # [users]
    users_enabled: bool = False
    users_mode: str = ""
    users_allow_registration: bool = False
    users: dict[str, str] = field(default_factory=dict)
    # [nats]
    nats: dict[str, Any] = field(default_factory=dict)
    # [roomtypes], in file order
    room_types: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    # [sfu] (ours): Janus for conferences; empty sfu_urls = pure mesh, nothing of spreed.sfu loaded
    sfu_urls: list[str] = field(default_factory=list)
    sfu_api_secret: str = ""
    sfu_min_participants: int = 3
    sfu_bitrate: int = 600_000
    secrets_file: str = ""
    version: str = __version__

    @property
    def static_ver(self) -> str:
        return self.ver + self.version.replace(".", "")

    @property
    def computed_realm(self) -> str:
        return f"{self.server_realm}.{self.server_token}"

    @property
    def enabled_modules(self) -> list[str]:
        return [name for name in MODULE_NAMES if self.modules.get(name, True)]


# ---------------------------------------------------------------- value parsers

_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


def _bool(option: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(option, f"expected a boolean (true/false), got {value!r}")


def _str(option: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise ConfigError(option, "expected a single value")
    return str(value)


def _list(option: str, value: Any) -> list[str]:
    """A YAML list or a space-separated string; empties and duplicates dropped, order kept."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split()
    out: list[str] = []
    for item in items:
        if isinstance(item, (dict, list)):
            raise ConfigError(option, "expected a list of strings")
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


def _number(option: str, value: Any, minimum: float, integer: bool = True) -> Any:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ConfigError(option, f"expected a number, got {value!r}") from None
    if isinstance(value, bool) or number < minimum:
        raise ConfigError(option, f"must be a number >= {minimum}, got {value!r}")
    return number


def _secret(option: str, value: Any, lengths: tuple[int, ...] | None, minimum: int = 0) -> bytes:
    """Hex-decoded when it is hex, its raw bytes otherwise (as the original did)."""
    text = _str(option, value)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = text.encode()
    if lengths and len(raw) not in lengths:
        raise ConfigError(option, f"must be {'/'.join(map(str, lengths))} bytes (hex or raw), got {len(raw)}")
    if len(raw) < minimum:
        raise ConfigError(option, f"must be at least {minimum} bytes (hex or raw), got {len(raw)}")
    return raw


def _address(option: str, addr: str) -> str:
    if addr.startswith("/"):
        return addr
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(option, f"bad address {addr!r} (expected host:port)")
    if host.startswith("[") != host.endswith("]"):
        raise ConfigError(option, f"bad address {addr!r}")
    return addr


# ---------------------------------------------------------------- loading

def _sections(data: Any, path: str) -> dict[str, dict[str, Any]]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "the file must hold a mapping of sections")
    out: dict[str, dict[str, Any]] = {}
    for name, body in data.items():
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigError(str(name), "a section must be a mapping of options")
        if str(name).lower() == "roomtypes":
            out["roomtypes"] = {str(k): v for k, v in body.items()}
        else:
            out[str(name).lower()] = {str(k).lower(): v for k, v in body.items()}
    return out


def read_yaml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(str(path), f"not valid YAML{where}") from None
    return _sections(data, str(path))


def load_secrets(path: Path) -> dict[str, str]:
    """Secrets generated on first start, kept so that tokens survive restarts."""
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        raise ConfigError("app.secretsFile", f"cannot read {path}") from None
    if not isinstance(data, dict):
        raise ConfigError("app.secretsFile", f"{path} must hold a mapping")
    return {str(k): str(v) for k, v in data.items()}


def save_secrets(path: Path, values: dict[str, str]) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# Generated by spreed-webrtc on first start. Keep it private and keep it:\n")
            handle.write("# session tokens stay valid across restarts only with the same secrets.\n")
            yaml.safe_dump(values, handle, default_flow_style=False)
        os.chmod(path, 0o600)
    except OSError as exc:
        raise ConfigError("app.secretsFile", f"cannot write {path} ({exc.strerror})") from None


def _fill_secrets(app: dict[str, Any], config_path: Path | None, cfg: Config) -> None:
    wanted = [k for k in (*GENERATED_SECRETS, "serverToken") if not app.get(k.lower())]
    if not wanted:
        return
    # Beside the config file by default; a relative app.secretsFile is relative to it, like other paths.
    where = _str("app.secretsFile", app.get("secretsfile")) or "spreed-secrets.yaml"
    packaged = config_path is not None and config_path.resolve() == PACKAGED_CONFIG.resolve()
    path = _resolve(None if packaged else config_path, where)  # never write into an installed package
    stored = load_secrets(path)
    changed = False
    for key in wanted:
        if key not in stored:
            stored[key] = secrets.token_hex(GENERATED_SECRETS.get(key, 16))
            changed = True
        app[key.lower()] = stored[key]
    if changed:
        save_secrets(path, stored)
    cfg.secrets_file = str(path)


def load(path: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read a config file (or none), apply overrides (section -> options), validate, return Config."""
    config_path = Path(path) if path else None
    sections = read_yaml(config_path) if config_path else {}
    for name, options in _sections(overrides or {}, "overrides").items():
        sections.setdefault(name, {}).update(options)
    return build(sections, config_path)


def build(sections: dict[str, dict[str, Any]], config_path: Path | None = None) -> Config:
    cfg = Config()
    _http(cfg, sections.get("http", {}), config_path)
    _https(cfg, sections.get("https", {}))
    app = dict(sections.get("app", {}))
    _fill_secrets(app, config_path, cfg)
    _app(cfg, app, config_path)
    for name in MODULE_NAMES:
        cfg.modules[name] = _bool(f"modules.{name}", sections.get("modules", {}).get(name, True))
    cfg.logfile = _str("log.logfile", sections.get("log", {}).get("logfile"))
    _users(cfg, sections.get("users", {}))
    cfg.nats = dict(sections.get("nats", {}))
    _roomtypes(cfg, sections.get("roomtypes", {}))
    _limits(cfg, sections.get("limits", {}))
    _sfu(cfg, sections.get("sfu", {}))
    return cfg


def _resolve(config_path: Path | None, value: str) -> Path:
    candidate = Path(value).expanduser()
    if not candidate.is_absolute() and config_path is not None:
        candidate = config_path.parent / candidate
    return candidate


def _http(cfg: Config, http: dict[str, Any], config_path: Path | None) -> None:
    if "listen" in http:
        cfg.listen = [_address("http.listen", a) for a in _list("http.listen", http["listen"])]
    if http.get("root"):
        cfg.root = _resolve(config_path, _str("http.root", http["root"]))
    if not (cfg.root / "static").is_dir():
        raise ConfigError("http.root", f"{cfg.root} has no static/ folder")
    base = _str("http.basepath", http.get("basepath", "/")) or "/"
    if not base.startswith("/"):
        raise ConfigError("http.basePath", f"must start with '/', got {base!r}")
    cfg.base_path = base if base.endswith("/") else base + "/"
    cfg.stats = _bool("http.stats", http.get("stats", False))
    cfg.metrics = _bool("http.metrics", http.get("metrics", False))
    if "trustedproxies" in http:
        cfg.trusted_proxies = _list("http.trustedProxies", http["trustedproxies"])
        for entry in cfg.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigError("http.trustedProxies", f"bad address {entry!r} (an IP or a network)") from None
    cfg.allowed_origins = [_origin(o) for o in _list("http.allowedOrigins", http.get("allowedorigins"))]


def _origin(value: str) -> str:
    """`*`, or an origin as browsers send it: scheme://host[:port], lower case, no path."""
    if value == "*":
        return value
    scheme, sep, host = value.lower().rstrip("/").partition("://")
    if not sep or scheme not in ("http", "https") or not host or "/" in host:
        raise ConfigError("http.allowedOrigins", f"bad origin {value!r} (expected https://host[:port] or *)")
    return f"{scheme}://{host}"


def _https(cfg: Config, https: dict[str, Any]) -> None:
    cfg.https_listen = [_address("https.listen", a) for a in _list("https.listen", https.get("listen"))]
    cfg.https_certificate = _str("https.certificate", https.get("certificate"))
    cfg.https_key = _str("https.key", https.get("key"))
    cfg.https_min_version = _str("https.minVersion", https.get("minversion")) or "TLSv1.2"
    if cfg.https_min_version not in ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"):
        raise ConfigError("https.minVersion", f"unknown TLS version {cfg.https_min_version!r}")
    if cfg.https_listen:
        for option, value in (("https.certificate", cfg.https_certificate), ("https.key", cfg.https_key)):
            if not value:
                raise ConfigError(option, "is required when https.listen is set")
            if not Path(value).is_file():
                raise ConfigError(option, f"file not found: {value}")


def _app(cfg: Config, app: dict[str, Any], config_path: Path | None) -> None:
    cfg.title = _str("app.title", app.get("title")) or cfg.title
    cfg.ver = _str("app.ver", app.get("ver"))
    cfg.stun_uris = _list("app.stunURIs", app.get("stunuris"))
    cfg.turn_uris = _list("app.turnURIs", app.get("turnuris"))
    cfg.turn_secret = _str("app.turnSecret", app.get("turnsecret")).encode()
    cfg.renegotiation = _bool("app.renegotiation", app.get("renegotiation", False))
    cfg.session_secret = _secret("app.sessionSecret", app.get("sessionsecret"), None, minimum=32)
    cfg.encryption_secret = _secret("app.encryptionSecret", app.get("encryptionsecret"), (16, 24, 32))
    token_file = _str("app.tokenFile", app.get("tokenfile"))
    if token_file:
        resolved = _resolve(config_path, token_file)
        if not resolved.is_file():
            raise ConfigError("app.tokenFile", f"file not found: {token_file}")
        cfg.token_file = str(resolved)
    cfg.global_room = _str("app.globalRoom", app.get("globalroom"))
    cfg.default_room_enabled = _bool("app.defaultRoomEnabled", app.get("defaultroomenabled", True))
    cfg.authorize_room_join = _bool("app.authorizeRoomJoin", app.get("authorizeroomjoin", False))
    cfg.authorize_room_creation = _bool("app.authorizeRoomCreation", app.get("authorizeroomcreation", False))
    cfg.server_token = _str("app.serverToken", app.get("servertoken")) or DEFAULT_SERVER_TOKEN
    cfg.server_realm = _str("app.serverRealm", app.get("serverrealm")) or "local"
    cfg.plugin = _str("app.plugin", app.get("plugin"))
    cfg.csp = _str("app.contentSecurityPolicy", app.get("contentsecuritypolicy"))
    cfg.csp_report_only = _str("app.contentSecurityPolicyReportOnly", app.get("contentsecuritypolicyreportonly"))
    cfg.room_idle_seconds = _number("app.roomIdleSeconds", app.get("roomidleseconds", 60), 0.1, integer=False)
    cfg.test_hooks = _bool("app.testHooks", app.get("testhooks", False))
    for option in ("extra", "extra.d"):
        value = _str(f"app.{option}", app.get(option))
        if value and not _resolve(config_path, value).is_dir():
            raise ConfigError(f"app.{option}", f"not a directory: {value}")


def _users(cfg: Config, users: dict[str, Any]) -> None:
    cfg.users_enabled = _bool("users.enabled", users.get("enabled", False))
    cfg.users_mode = _str("users.mode", users.get("mode"))
    if cfg.users_mode not in USERS_MODES:
        raise ConfigError("users.mode", f"unknown mode {cfg.users_mode!r} (sharedsecret, httpheader, certificate or jwt)")
    cfg.users_allow_registration = _bool("users.allowRegistration", users.get("allowregistration", False))
    if "jwt_algorithms" in users:  # a list, kept space-separated like every other users option
        users = {**users, "jwt_algorithms": " ".join(_list("users.jwt_algorithms", users["jwt_algorithms"]))}
    cfg.users = {k: _str(f"users.{k}", v) for k, v in users.items() if not isinstance(v, bool)}


def _roomtypes(cfg: Config, roomtypes: dict[str, Any]) -> None:
    for pattern, kind in roomtypes.items():
        option = f"roomtypes.{pattern}"
        if kind not in ROOM_TYPES:
            raise ConfigError(option, f"unknown room type {kind!r} (Room or Conference)")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(option, f"bad regular expression ({exc})") from None
        # `Room` entries are kept: rules apply in file order, so one can exempt names from a later rule.
        cfg.room_types.append((regex, kind))


def _limits(cfg: Config, limits: dict[str, Any]) -> None:
    lim = cfg.limits
    lim.enabled = _bool("limits.enabled", limits.get("enabled", True))
    lim.max_message_bytes = _number("limits.maxMessageBytes", limits.get("maxmessagebytes", lim.max_message_bytes), 1024)
    lim.messages_per_second = _number("limits.messagesPerSecond", limits.get("messagespersecond", lim.messages_per_second), 1)
    lim.send_queue_messages = _number("limits.sendQueueMessages", limits.get("sendqueuemessages", lim.send_queue_messages), 16)
    lim.send_queue_bytes = _number("limits.sendQueueBytes", limits.get("sendqueuebytes", lim.send_queue_bytes), 65536)
    lim.ping_interval = _number("limits.pingInterval", limits.get("pinginterval", lim.ping_interval), 0.05, integer=False)
    lim.ping_timeout = _number("limits.pingTimeout", limits.get("pingtimeout", lim.ping_timeout), 0.05, integer=False)
    for name, option in OPTION_NAMES.items():  # the abuse limits (docs/security.md)
        default = getattr(lim, name)
        integer = isinstance(default, int)
        value = limits.get(option.lower(), default)
        setattr(lim, name, _number(f"limits.{option}", value, 1 if integer else 0.01, integer))


def _sfu(cfg: Config, sfu: dict[str, Any]) -> None:
    """Section `sfu:`; several URLs place each room on one Janus by a stable hash of its id."""
    cfg.sfu_urls = _list("sfu.url", sfu.get("url"))
    for url in cfg.sfu_urls:
        if not re.match(r"^wss?://[^/\s]+", url):
            raise ConfigError("sfu.url", f"expected Janus's websocket address (ws://host:port), got {url!r}")
    cfg.sfu_api_secret = _str("sfu.apiSecret", sfu.get("apisecret"))
    cfg.sfu_min_participants = _number("sfu.minParticipants", sfu.get("minparticipants", 3), 2)
    cfg.sfu_bitrate = _number("sfu.bitrate", sfu.get("bitrate", cfg.sfu_bitrate), 32_000)
