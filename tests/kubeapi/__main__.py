"""Run the Kubernetes API test server in the foreground (for benchmarks and manual kubectl use).

    python -m tests.kubeapi --seed DIR [--seed DIR2] [--crds DIR] [--port N] [--kubeconfig PATH] [--latency MS]

Prints `READY http://127.0.0.1:PORT` once serving; exits cleanly on SIGTERM/SIGINT. ``--latency`` holds every
request that long before answering it: the round trip and list time of an API server across a network, which
loopback does not have (bench/parallel.py uses it to show what reading clusters at once gains then).
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
import time
from types import FrameType

from .server import KubeAPIServer


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, seed, serve until a signal arrives."""
    parser = argparse.ArgumentParser(prog="python -m tests.kubeapi", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", action="append", default=[], metavar="DIR", help="seed from files (repeatable)")
    parser.add_argument(
        "--crds",
        action="append",
        default=None,
        metavar="DIR",
        help="CRD directories (default: the bundled tests/kubeapi/crds)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", metavar="PATH", help="write a kubeconfig for this server")
    parser.add_argument("--namespace", default=None, help="namespace of the kubeconfig context")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="milliseconds every request waits before it is answered (default: none)")
    args = parser.parse_args(argv)
    if args.latency < 0:
        parser.error("--latency must not be negative")

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = KubeAPIServer(crd_dirs=args.crds, host=args.host, port=args.port)
    if args.latency:
        server.add_fault(method=None, path_regex="", latency=args.latency / 1000)
    started = time.perf_counter()
    count = sum(server.seed_dir(d) for d in args.seed)
    seconds = time.perf_counter() - started
    gc.freeze()  # the seeded objects live forever: keep them out of every later GC pass
    server.start()
    if args.kubeconfig:
        server.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
    print(
        f"seeded {count} objects in {seconds:.2f}s; unknown kinds: {dict(server.unknown_kinds)}",
        file=sys.stderr,
        flush=True,
    )
    print(f"READY {server.url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
