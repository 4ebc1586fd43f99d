"""Fixtures of the evaluator tests (photos, detectors); the helpers live in eval_helpers.py."""

from eval_helpers import astronaut, dlib_detector, dlib_embedder, faces192, grace_hopper, mtcnn_detector  # noqa: F401
