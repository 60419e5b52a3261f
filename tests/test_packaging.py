"""`pip install .` gives a working `spreed-webrtc` command with the client and default config inside."""
from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

from cluster_harness import free_port, wait_for_port
from helpers import project_root


def share_dependencies(python: Path) -> None:
    """Lets the new venv import the dependencies this interpreter has, wherever they live.

    The suite may run on a plain interpreter or inside a virtual environment (the README's way); a
    venv made with system site-packages would only see the base interpreter's packages.
    """
    paths = [p for p in site.getsitepackages() if Path(p).is_dir()]
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            check=True, capture_output=True, text=True, timeout=30).stdout.strip()
    (Path(target) / "_spreed_test_dependencies.pth").write_text("\n".join(paths) + "\n")


def test_wheel_installs_a_working_command(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(project_root()), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels)], check=True, timeout=300)
    (wheel,) = wheels.glob("spreed_webrtc-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    share_dependencies(python)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, timeout=300)
    command = env_dir / "bin" / "spreed-webrtc"
    assert command.exists()

    # from an empty folder, with no config: the bundled defaults (secrets land in the working folder)
    workdir = tmp_path / "run"
    workdir.mkdir()
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    check = subprocess.run([str(command), "--check"], cwd=workdir, capture_output=True, text=True, timeout=60,
                           env=clean_env)
    assert check.returncode == 0, check.stderr
    assert "listen:" in check.stdout and (workdir / "spreed-secrets.yaml").exists()
    assert str(project_root()) not in check.stdout  # it runs from the installed package, not this checkout

    port = free_port()
    config = workdir / "config.yaml"
    config.write_text(f"http:\n  listen: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([str(command), "-c", str(config)], cwd=workdir, env=clean_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/some-room", timeout=5) as response:
            page = response.read().decode()
        context = json.loads(re.search(r'id="globalcontext" type="application/json">(.*?)</script>', page).group(1))
        static = context["S"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/robots.txt", timeout=5) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{static}/status/status.js", timeout=5) as response:
            assert response.status == 200 and b"sparkline" in response.read()
    finally:
        proc.terminate()
        proc.wait(10)
        time.sleep(0.1)
