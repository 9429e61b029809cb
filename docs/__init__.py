"""Documentation sources and the scripts that generate their figures and tables."""
