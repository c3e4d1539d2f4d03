"""``python -m streams``: run one worker with settings from the environment."""

from deploy.cli import main

raise SystemExit(main(["worker"]))
