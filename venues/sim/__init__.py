"""Venue simulator (issue 5).

``engine.py`` is the deterministic core: one price-time book per symbol (the core's
``sequencer.matching`` engine), OUCH 4.2 order entry in and out, an ITCH 5.0 stream of
every book change, and seeded background liquidity. It has no I/O and no clock of its
own: same config, same seed and same inputs give the same bytes. ``soup_server.py``
carries OUCH sessions over SoupBinTCP.
"""
