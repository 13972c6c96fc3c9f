"""Positions, P&L and the trading picture of a business-logic state, for people.

``tandem positions`` and ``make demo`` print it; it reads a State (restored from the
journal) and never changes it. Money is shown in dollars from 8-decimal fixed point.
"""

from __future__ import annotations

import numpy as np

from sequencer import positions as P
from sequencer import records as R
from sequencer.state import (
    KIND_CHILD, S_ALGOS, S_BOOKS, S_CHILDREN, S_KILL_GLOBAL, S_KILL_NEW, S_MD_REJECTED, S_ORDERS, State,
)


def dollars(x: int) -> float:
    return int(x) / R.PRICE_SCALE


def client_rows(state: State) -> list[dict]:
    """One row per client that has a position: cash, equity, buying power, P&L, fees."""
    st = state.kernel_args()
    out = np.zeros(4, np.int64)
    rows = []
    for cid in np.flatnonzero(state.clients["active"]).tolist():
        cl = state.clients[cid]
        if cl["first_position"] < 0:
            continue
        P.client_summary(st, cid, out)
        rows.append({
            "client": cid, "account": R.ascii_text(cl["account"]),
            "cash": dollars(cl["cash"]), "equity": dollars(out[0]), "gross_mv": dollars(out[1]),
            "buying_power": dollars(out[2]), "realized": dollars(cl["realized"]),
            "unrealized": dollars(out[3]), "fees": dollars(cl["fees"]),
            "open_orders": int(cl["open_orders"]), "margin_call": bool(cl["margin_call"]),
        })
    return rows


def firm_exposure(state: State) -> dict:
    """Gross and net exposure over every position, at the marks (book mids)."""
    marks = np.zeros(len(state.symbols), np.int64)
    P.marks(state.kernel_args(), marks)
    rows = state.position_rows()
    value = rows["qty"].astype(object) * marks[rows["symbol_id"]].astype(object)  # no int64 overflow
    return {"positions": int((rows["qty"] != 0).sum()),
            "gross": dollars(sum(abs(v) for v in value)), "net": dollars(sum(value))}


def summary(state: State) -> dict:
    sc = state.scalars
    orders = state.orders[: int(sc[S_ORDERS])]
    client_orders = orders[orders["kind"] != KIND_CHILD]
    by_strategy = np.bincount(client_orders["strategy"], minlength=R.STRATEGY_VWAP + 1)
    return {
        "client_orders": int(len(client_orders)),
        "routed_parents": int(by_strategy[list(R.ROUTED_STRATEGIES)].sum()),
        "algo_parents": int(sc[S_ALGOS]),
        "child_orders": int(sc[S_CHILDREN]),
        "books": int(sc[S_BOOKS]),
        "market_data_refused": int(sc[S_MD_REJECTED]),
        "kill_switch": {"global": bool(sc[S_KILL_GLOBAL]), "new_orders": bool(sc[S_KILL_NEW]),
                        "symbols": np.flatnonzero(state.symbols["killed"]).tolist(),
                        "clients": np.flatnonzero(state.clients["killed"]).tolist(),
                        "venues": np.flatnonzero(state.venues["killed"]).tolist()},
        "venues": [{"venue": v, "name": R.ascii_text(state.venues[v]["name"]),
                    "children": int(state.venues[v]["children"]),
                    "fill_ratio": round(int(state.venues[v]["fill_ratio"]) / (1 << 16), 3)}
                   for v in np.flatnonzero(state.venues["active"]).tolist()],
        "firm": firm_exposure(state),
    }


def format_clients(rows: list[dict], top: int = 10) -> str:
    """A fixed-width table of the clients with the largest gross market value."""
    rows = sorted(rows, key=lambda r: -r["gross_mv"])[:top]
    head = f"{'client':>6} {'account':<10} {'cash':>16} {'equity':>16} {'gross mv':>14} " \
           f"{'realized':>12} {'unrealized':>12} {'fees':>10} {'open':>5}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['client']:>6} {r['account']:<10} {r['cash']:>16,.2f} {r['equity']:>16,.2f} "
                     f"{r['gross_mv']:>14,.2f} {r['realized']:>12,.2f} {r['unrealized']:>12,.2f} "
                     f"{r['fees']:>10,.2f} {r['open_orders']:>5}{'  MARGIN CALL' if r['margin_call'] else ''}")
    return "\n".join(lines)
