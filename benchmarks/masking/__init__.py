"""Speed benchmarks of maskaug's high-pass and masking policies."""
