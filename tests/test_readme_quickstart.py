"""The README's two commands work as written on an externally managed Python (Debian 12, Raspberry Pi OS).

The first command is read from README.md and run in a fresh copy of the repository with Debian's
`/usr/bin/python3` first on PATH: if it ever goes back to a bare `pip install`, PEP 668 stops it
and this test fails. The second command must be what `.ci/run` runs.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from cluster_harness import free_port
from helpers import project_root

SYSTEM_PYTHON = Path("/usr/bin/python3")


def quick_start_commands() -> list[str]:
    """The indented command lines of the README's "Quick start" section, in order."""
    text = (project_root() / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def externally_managed(python: Path) -> bool:
    stdlib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    return (Path(stdlib) / "EXTERNALLY-MANAGED").exists()


def fresh_copy(target: Path) -> None:
    """The repository's tracked files as they are in the work tree (nothing generated, no .venv)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=project_root(), capture_output=True, check=True,
                            timeout=30).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = project_root() / name
        if not source.exists() and not source.is_symlink():
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, destination)


def debian_first_path(bin_dir: Path) -> str:
    """PATH with a `python3` that is Debian's and nothing of pyenv or a virtual environment."""
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(SYSTEM_PYTHON)
    keep = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and ".pyenv" not in p and not (Path(p) / "activate").exists()]
    return os.pathsep.join([str(bin_dir), "/usr/bin", "/bin", *keep])


def test_readme_has_the_two_commands_and_ci_runs_the_second():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    start, tests = commands
    assert "server.py" in start and "pytest" in tests
    ci = (project_root() / ".ci" / "run").read_text()
    assert tests in ci, ".ci/run must run exactly the README's test command"


def test_system_pip_install_is_refused_so_this_check_means_something():
    """On Debian the bare `pip install` that the README must not use fails (PEP 668)."""
    if not SYSTEM_PYTHON.exists() or not externally_managed(SYSTEM_PYTHON):
        pytest.skip("no externally managed /usr/bin/python3 here (not Debian 12 / Raspberry Pi OS)")
    result = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "tornado"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "externally-managed-environment" in result.stdout + result.stderr or "No module named pip" in result.stderr


def test_readme_start_command_works_with_debians_python(tmp_path):
    if not SYSTEM_PYTHON.exists() or not externally_managed(SYSTEM_PYTHON):
        pytest.skip("no externally managed /usr/bin/python3 here (not Debian 12 / Raspberry Pi OS)")
    start = quick_start_commands()[0]
    checkout = tmp_path / "checkout"
    fresh_copy(checkout)
    port = free_port()
    config = checkout / "config.yaml"
    bundled = config.read_text()
    assert "listen: 127.0.0.1:8080" in bundled
    config.write_text(bundled.replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{port}", 1))

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYENV_VERSION") and not k.startswith("PIP_")}
    env["PATH"] = debian_first_path(tmp_path / "bin")
    log = (tmp_path / "start.log").open("w")
    proc = subprocess.Popen(["bash", "-c", start], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        body = wait_for_config(port, proc, deadline=time.time() + 420)
        assert body is not None, (tmp_path / "start.log").read_text()[-3000:]
        assert b'"Version"' in body
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
    venv_python = checkout / ".venv" / "bin" / "python3"
    assert venv_python.resolve() == SYSTEM_PYTHON.resolve(), "the venv must be made from Debian's python3"
    assert (checkout / "spreed-secrets.yaml").exists(), "missing secrets are generated and kept"


def wait_for_config(port: int, proc: subprocess.Popen, deadline: float) -> bytes | None:
    """GET /api/v1/config until it answers; None when the command ended or time ran out."""
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/config", timeout=2) as response:
                if response.status == 200:
                    return response.read()
        except OSError:
            pass
        time.sleep(0.5)
    return None

