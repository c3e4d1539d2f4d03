"""Compose's Alertmanager posts to the receiver set in ``.env``, never to the container's own
loopback: its start command, as ``docker compose config`` resolves it, run with a URL full of
characters sed treats specially, gives a config amtool accepts with only that URL in it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.unit.test_deploy_files import ROOT, docker_compose, with_passwords

ROUTING = ROOT / "deploy" / "prometheus" / "alertmanager.yml"


def test_compose_alertmanager_sends_to_the_env_receiver_only(tmp_path: Path) -> None:
    done = docker_compose("config", "--format", "json", env=with_passwords())
    assert done.returncode == 0, done.stderr
    service = json.loads(done.stdout)["services"]["alertmanager"]
    url = service["environment"]["ALERT_WEBHOOK_URL"]
    assert "&" in url and "127.0.0.1" not in url
    (command,) = service["command"]
    script = (command.replace("$$", "$")  # compose's escape, as the container's shell gets it
              .replace("/etc/alertmanager/alertmanager.yml", str(ROUTING))
              .replace("/alertmanager/alertmanager.yml", str(tmp_path / "alertmanager.yml"))
              .replace("exec /bin/alertmanager", "echo"))  # fmt: skip
    ran = subprocess.run(["/bin/sh", "-c", script], env={"ALERT_WEBHOOK_URL": url, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    config = (tmp_path / "alertmanager.yml").read_text()
    urls = [line.split("url:", 1)[1].strip() for line in config.splitlines() if "url:" in line]
    assert urls and set(urls) == {url}, urls
    amtool = shutil.which("amtool")
    assert amtool, "amtool missing: `make system-deps` installs prometheus-alertmanager"
    checked = subprocess.run([amtool, "check-config", str(tmp_path / "alertmanager.yml")],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_compose_refuses_to_start_without_an_alert_receiver() -> None:
    env = with_passwords()
    env.pop("ALERT_WEBHOOK_URL")
    done = docker_compose("config", "--quiet", env=env)
    assert done.returncode != 0 and "set ALERT_WEBHOOK_URL in .env" in done.stderr
