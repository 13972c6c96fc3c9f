"""Byte-exact wire codecs for venue protocols (SoupBinTCP framing, OUCH 4.2)."""
