"""Interop with other FIX engines (`make interop`): needs the `interop` extra (quickfix)."""
