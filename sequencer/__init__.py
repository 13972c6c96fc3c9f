"""The deterministic core: records, state, kernels, sequencing.

Numba's on-disk cache (``cache=True``) checks only the source file of the function it
compiled. Our kernels inline helpers and freeze constants from sibling modules
(records, state, book, risk ...), so an edit there would leave stale machine code.
Keying the cache directory by a hash of the kernel modules makes any edit there
start a fresh cache: no manual clearing, ever. A ``NUMBA_CACHE_DIR`` set by the user
still wins.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


# The modules whose code or constants end up in compiled kernels (tools, the agent and
# the scenario runner are left out, so editing them does not recompile the kernels).
KERNEL_MODULES = ("records.py", "state.py", "book.py", "matching.py", "kernel_base.py", "positions.py",
                  "risk.py", "router.py", "orders.py", "algos.py", "kernels.py", "intake.py")


def _point_numba_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    here = Path(__file__).resolve().parent
    h = hashlib.blake2b(digest_size=8)
    for name in KERNEL_MODULES:
        src = here / name
        if src.exists():
            h.update(name.encode())
            h.update(src.read_bytes())
    import numba

    numba.config.CACHE_DIR = str(here / "__pycache__" / f"numba-{h.hexdigest()}")


_point_numba_cache()
