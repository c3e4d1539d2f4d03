"""``python -m streams``: run one worker with settings from the environment."""

from schemas.settings import load_settings
from streams.worker import run_worker

raise SystemExit(run_worker(load_settings()))
