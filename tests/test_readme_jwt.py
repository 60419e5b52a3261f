"""The README's JWT examples for integrators (Python with pyjwt, shell with openssl) mint tokens that
the server's jwt mode accepts, with the claims they promise."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from helpers import project_root
from spreed.users.base import RequestFacts
from spreed.users.jwtmode import JwtMode

KEY = "an-integrators-secret-of-32-bytes-or-more"


def readme_block(language: str) -> str:
    text = (project_root() / "README.md").read_text()
    section = text.split("### jwt:", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"README's jwt section has no {language} block"
    return match.group(1)


def verify(token: str):
    login = JwtMode.from_options({"jwt_key": KEY}).login({"jwt": token}, RequestFacts())
    assert login is not None, "the server refuses the README's token"
    return login


def test_python_example_mints_a_login_and_a_moderator_login():
    namespace: dict = {"JWT_KEY": KEY}
    exec(compile(readme_block("python"), "README.md (python)", "exec"), namespace)  # noqa: S102
    login, chair = verify(namespace["login"]), verify(namespace["chair"])
    assert (login.userid, login.name, login.room, login.moderator) == ("alice", "Alice", "team", False)
    assert (chair.userid, chair.room, chair.moderator) == ("carol", "team", True)


@pytest.mark.parametrize("moderator", ["false", "true"])
def test_shell_example_with_openssl(moderator):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    env = {**os.environ, "JWT_KEY": KEY, "MODERATOR": moderator}
    token = subprocess.run(["bash", "-c", readme_block("sh")], env=env, capture_output=True, text=True,
                           check=True, timeout=30).stdout.strip()
    login = verify(token)
    assert (login.userid, login.name, login.room) == ("alice", "Alice", "team")
    assert login.moderator is (moderator == "true")
