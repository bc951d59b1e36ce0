"""Test helpers shipped with raysearch: conformance suites and a simulated-clock driver."""
