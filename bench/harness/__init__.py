"""The harness that bench/*.py and tests/e2e/*.py share: VMM command lines,
network namespaces, thread pinning, host load, statistics and result files, one
module each. Not a benchmark or a test: it measures and judges nothing itself,
and this file imports none of its modules (scripts do: from harness import vmm)."""
