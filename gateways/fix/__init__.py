"""FIX 4.2/4.4: tag=value codec (``codec``), session store (``store``) and the sans-IO
session state machine (``session``), shared by the FIX venue simulator and the client
gateway. See docs/fix.md."""
