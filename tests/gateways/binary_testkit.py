"""Shared by the binary protocol and session tests."""

import struct

from gateways.binary import protocol as P

ORDER = struct.Struct("<BBHIqQQ")


def reference_code(b: bytes) -> int:
    """The validation rules of docs/binary.md, written out again with struct (session
    messages are not orders: 0)."""
    t, side, sym, qty, price, clid, slot = ORDER.unpack(b)
    if t in (16, 17, 18, 19):
        return 0
    if t not in (1, 2, 3):
        return P.PR_UNKNOWN_TYPE
    if t == 1 and side not in (1, 2, 5):
        return P.PR_BAD_SIDE
    if t == 1 and sym == 0:
        return P.PR_BAD_SYMBOL
    if t in (1, 3) and qty == 0:
        return P.PR_BAD_QUANTITY
    if t in (1, 3) and price < 0:
        return P.PR_BAD_PRICE
    if clid == 0:
        return P.PR_BAD_CLIENT_ORDER_ID
    if t in (2, 3) and slot == 0:
        return P.PR_BAD_ORIG_ID
    return 0
