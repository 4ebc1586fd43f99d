"""gan3d-toy: an analytic shaded sphere whose colour and size come from z (see plugin.py)."""
