"""``python -m aws_model.ledger CLOUD_ASSEMBLY PROFILE``: the ledger of a synthesized profile."""

import sys

from aws_model.ledger.cli import main

sys.exit(main(sys.argv[1:]))
