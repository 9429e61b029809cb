"""Scripts that generate the documentation's figures and tables."""
