"""Benchmarks: ``python -m bench`` (``make bench``) runs the five of the issue; the rest are
micro-benches run as scripts (see each file's docstring)."""
