"""actr_py benchmarks: every figure next to its raw baseline from the same run.

Run ``python -m benchmarks [--quick] [--only NAME] [--json FILE]``.
"""
