"""``python -m gan3d`` (and ``torchrun ... -m gan3d evaluate run.toml``) is the ``gan3d`` command."""

import sys

from .cli.main import main

sys.exit(main())
