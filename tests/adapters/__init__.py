"""Tests of the modality adapters (maskaug.adapters)."""
