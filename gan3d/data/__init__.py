"""Training data: readers for the methods' data sets, camera-label tools and the training sampler."""

from .datasets import ImageDataset, collate, open_dataset
from .labels import LabelProblem, check_labels, label_problems, mirror_labels
from .masks import CELEBAMASK_CLASSES, CNERF_CLASSES, celebamask_to_cnerf, cnerf_channels
from .sampler import InfiniteSampler

__all__ = ["ImageDataset", "collate", "open_dataset", "LabelProblem", "check_labels", "label_problems",
           "mirror_labels", "CELEBAMASK_CLASSES", "CNERF_CLASSES", "celebamask_to_cnerf", "cnerf_channels",
           "InfiniteSampler"]
