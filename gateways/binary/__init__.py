"""The 32-byte binary order-entry protocol: message layouts and batch codec
(``protocol``), the response store (``store``) and the sans-IO session state machine
(``session``). See docs/binary.md."""
