"""`python -m reasonrl train ...`, and so `accelerate launch [--config_file F] -m reasonrl train ...`."""
import sys

from reasonrl.cli import main

sys.exit(main())
