"""Tests of the spectrogram, video and RGB-D adapters and their recipes."""
