"""The targets and pay-plan loader runs on libyaml's parser, and its benchmark's baseline
really is the pure-Python one (benchmarks/targets_parse.py)."""

from __future__ import annotations

import yaml

from benchmarks.targets_parse import pure_python_parser, seconds_to_parse, targets_file
from schemas import yaml_document
from schemas.targets import parse_targets


def test_the_loader_uses_libyaml_when_pyyaml_has_it() -> None:
    assert yaml.__with_libyaml__, "PyYAML was installed without libyaml: targets parse ~4x slower"
    assert issubclass(yaml_document._Loader, yaml.CSafeLoader)


def test_the_baseline_swaps_in_the_pure_python_parser_and_both_agree() -> None:
    data = targets_file(30)
    fast = parse_targets(data, "t.yaml")
    with pure_python_parser():
        assert not issubclass(yaml_document._Loader, yaml.CSafeLoader)
        assert parse_targets(data, "t.yaml") == fast
    assert issubclass(yaml_document._Loader, yaml.CSafeLoader)
    assert seconds_to_parse(data, pure=True) > 0 and seconds_to_parse(data, pure=False) > 0
