"""Training CNeRF with gan3d's core loop: ``cnerf`` (stage 1, the compositional low-resolution
renderer) and ``cnerf-full`` (stage 2, the 2D decoder on the frozen stage-1 renderer)."""
