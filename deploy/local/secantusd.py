"""Runs SecantusDB (the embedded default's MongoDB-protocol server) with a short GIL switch
interval.

SecantusDB serves each connection on its own Python thread. With CPython's default 5 ms switch
interval, a request arriving after an idle gap waits for the GIL, several times as long as the
operation itself (docs/benchmarks.md). Real MongoDB is unaffected.
Usage is the same as `secantusd-py`; SECANTUS_SWITCH_INTERVAL_S overrides the interval.
"""

import os
import sys

from secantus.cli import main

if __name__ == "__main__":
    sys.setswitchinterval(float(os.environ.get("SECANTUS_SWITCH_INTERVAL_S", "0.0002")))
    sys.exit(main())
