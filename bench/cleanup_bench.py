#!/usr/bin/env python3
"""``cleanup run`` on a big node: how long the store phase takes (issue 9).

A 10,000-image node in a ``MemoryStore`` file (the store the simulation and the tests
use; containerd and crictl spend their time in ``ctr``/``crictl`` instead), a previous
list naming all of them and a current list naming all but ``--delete`` (default 1,000),
served by a local HTTP server.  Each round creates the node afresh and runs the whole
cleanup (``run_cleanup``: fetch both lists, lock, read, resolve identities, plan,
remove the images one at a time, each removal re-reading and atomically rewriting the
file) and reports the wall time
of the whole run and of planning alone (a dry run).  ``--code DIR`` runs another copy
of the ``cleanup`` package (e.g. the code before issue 9, from ``git archive``) so the
two can be compared on the same machine::

    .venv/bin/python bench/cleanup_bench.py --rounds 3
    git archive a8670fb cleanup | tar -x -C /tmp/before
    .venv/bin/python bench/cleanup_bench.py --rounds 3 --code /tmp/before
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ARCHIVE = "/harvester-iso/bundle/harvester/images-lists-archive"


def serve(lists: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = lists.get(self.path)
            self.send_response(200 if body is not None else 404)
            body = body if body is not None else b"404\n"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_once(
    cleanup: Any, port: int, path: Path, images: list[str], delete: int, dry_run: bool
) -> float:
    cleanup.MemoryStore.create(path, images)
    store = cleanup.MemoryStore(path)
    clock = cleanup.SystemClock()
    client = cleanup.make_http_client(cleanup.StubResolver(["127.0.0.1:9"]), clock=clock)
    try:
        repo = cleanup.RepoClient(f"http://127.0.0.1:{port}", client)
    except TypeError:  # older code took the clock
        repo = cleanup.RepoClient(f"http://127.0.0.1:{port}", client, clock=clock)
    start = time.perf_counter()
    with client:
        report = cleanup.run_cleanup(
            repo,
            previous_version="v1",
            policy=cleanup.get_policy("harvester-v1.5"),
            store=store,
            clock=clock,
            rng=random.Random(0),
            dry_run=dry_run,
        )
    elapsed = time.perf_counter() - start
    assert report.outcome == "success", report.error
    expected = delete
    assert len(report.planned) == expected, len(report.planned)
    if not dry_run:
        assert len(report.deleted) == expected
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--delete", type=int, default=1_000, help="images the run removes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--code", type=Path, help="directory holding the cleanup package")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.code is not None:
        sys.path.insert(0, str(args.code.resolve()))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import cleanup

    images = [f"docker.io/rancher/image-{i:05d}:v1" for i in range(args.images)]
    current = images[args.delete :]
    lists = {
        f"{ARCHIVE}/v1/image_list_all.txt": ("\n".join(images) + "\n").encode(),
        f"{ARCHIVE}/current/image_list_all.txt": ("\n".join(current) + "\n").encode(),
    }
    server = serve(lists)
    port = server.server_address[1]
    plans, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            node = Path(tmp) / "node.json"
            plans.append(run_once(cleanup, port, node, images, args.delete, True))
            runs.append(run_once(cleanup, port, node, images, args.delete, False))
    server.shutdown()
    result = {
        "code": str(args.code or "this checkout"),
        "images": args.images,
        "deleted": args.delete,
        "rounds": args.rounds,
        "dry_run_s": round(statistics.median(plans), 3),
        "run_s": round(statistics.median(runs), 3),
        "per_removal_ms": round(statistics.median(runs) / max(args.delete, 1) * 1000, 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>15}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
