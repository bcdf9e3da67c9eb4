"""Load benchmarks of SPEC.md §8 (`make bench`); never imported by the app or the tests."""
