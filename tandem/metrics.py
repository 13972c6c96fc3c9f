"""``tandem metrics``: the processes' counters as Prometheus metrics.

Every long-running process keeps its counters in a shared-memory file in ``run_dir``
(``tandem/counters.py``): the sequencer in ``sequencer.counters``, each gateway in
``gateway-<kind>-<source id>.counters``. The exporter reads them at each scrape — no
process is asked anything, so a scrape never slows the hot loops — and serves the text
exposition format on ``GET /metrics`` (127.0.0.1 unless configured otherwise):

    # TYPE tandem_sequencer_inputs_journaled_total counter
    tandem_sequencer_inputs_journaled_total{instance="sequencer"} 3363387
    # TYPE tandem_gateway_sessions_logged_on gauge
    tandem_gateway_sessions_logged_on{instance="gateway-fix-301"} 2

Counters get the ``_total`` suffix; values that say how things are now (``counters.GAUGES``)
are gauges. A file left by a stopped process keeps its last values (its ``role`` gauge
says 0 for a sequencer stopped cleanly).
"""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tandem.counters import GAUGES, Counters, counters_files

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(run_dir) -> str:
    """The exposition text for every counters file in ``run_dir``."""
    metrics: dict[str, list[str]] = {}
    for instance, path, names in counters_files(run_dir):
        try:
            values = Counters(path, names, create=False).snapshot()
        except (OSError, ValueError) as e:   # a file being created or cut short: skip it this scrape
            log.warning("metrics: cannot read %s: %s", path, e)
            continue
        prefix = "tandem_sequencer_" if instance == "sequencer" else "tandem_gateway_"
        for name, value in values.items():
            metric = prefix + name + ("" if name in GAUGES else "_total")
            metrics.setdefault(metric, []).append(f'{metric}{{instance="{instance}"}} {value}')
    lines = []
    for metric in sorted(metrics):
        kind = "gauge" if not metric.endswith("_total") else "counter"
        lines.append(f"# TYPE {metric} {kind}")
        lines += metrics[metric]
    return "\n".join(lines) + "\n"


def server(run_dir, host: str = "127.0.0.1", port: int = 9464) -> ThreadingHTTPServer:
    """An HTTP server answering ``GET /metrics`` (``serve_forever()`` runs it)."""
    run_dir = Path(run_dir)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            body = render(run_dir).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):   # scrapes every few seconds: not worth a line each
            log.debug("metrics: %s " + fmt, self.address_string(), *args)

    return ThreadingHTTPServer((host, port), Handler)
