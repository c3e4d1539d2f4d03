"""A simulated dialer: realistic CDR v1 traffic with faults, and the exact totals it must give.

Used by the demo, the tests and the benchmarks; the pipeline itself never imports it.
"""

from simulator.faults import REASONS, SimEvent
from simulator.model import KINDS, SimulationSpec, daytime_zone, roster
from simulator.traffic import Truth, TruthBuilder, compute_truth, generate, produce

__all__ = ["KINDS", "REASONS", "SimEvent", "SimulationSpec", "Truth", "TruthBuilder", "compute_truth",
           "daytime_zone", "generate", "produce", "roster"]  # fmt: skip
