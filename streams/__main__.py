"""``python -m streams``: run one worker with settings from the environment."""

import sys

from schemas.settings import SettingsError, load_settings
from streams.worker import run_worker

try:
    settings = load_settings()
except SettingsError as exc:
    print("\n".join(f"callfloor worker: {problem}" for problem in exc.problems), file=sys.stderr)
    raise SystemExit(2) from None
raise SystemExit(run_worker(settings))
