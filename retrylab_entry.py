"""The programs' first code: Ctrl-C is exit 130 with one line, never a traceback.

``cleanup``, ``sim`` and ``faultdns`` import numpy, httpx, simpy, rich... before their
``main`` can catch anything: 0.3 to 1 s in which a ``KeyboardInterrupt`` would end in a
traceback from deep inside an import.  So the console scripts (``[project.scripts]``)
point here, to a module that imports only what the interpreter has loaded at start-up
(``os``, ``sys``, the C ``_signal``), and which:

1. installs a SIGINT handler that writes ``PROG: interrupted`` to stderr and ends the
   process at once with status 130 (``os._exit``: nothing of ours is half done while
   modules are still importing, and no lock is held yet);
2. imports the program's ``_cli`` module (the slow part);
3. hands SIGINT back to Python (``KeyboardInterrupt``) for the run itself, where the
   programs have work to finish (a removal in progress completes, a store's lock is
   released, a server stops) and turn the interrupt into 130 themselves; one that
   escapes ``main`` is turned into 130 here;
4. from the moment ``main`` returns, is back to step 1's handler, so a Ctrl-C during
   the interpreter's shutdown is 130 too, with no traceback.

``python -m cleanup`` (and ``-m sim``, ``-m faultdns``) imports the package's
``__init__`` before ``__main__``; the first statement of each package ``__init__`` is
``import retrylab_entry``, whose :func:`guard_module_run` does step 1 only when the
interpreter is running that package with ``-m`` (``sys.argv[0]`` is ``"-m"`` while runpy
imports it), so a library ``import cleanup`` installs nothing.

What remains outside our reach: a SIGINT before the interpreter has run any of our code
(its own start-up and ``site``, a few tens of milliseconds).  Before Python installs its
handler the kernel's default ends the process by the signal, which a shell also reports as
130; after it, during ``site``, Python would print a ``KeyboardInterrupt`` traceback.
"""

from __future__ import annotations

# Only modules the interpreter has already loaded at start-up, or built into it: ``signal``
# itself builds IntEnums for a few milliseconds, in which a Ctrl-C gave a traceback, so
# the C module ``_signal`` is used.
import _signal  # type: ignore[import-not-found]  # (typeshed has no stub; same API as signal)
import os
import sys

TYPE_CHECKING = False  # not ``typing``'s: importing typing takes 2 ms

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

__all__ = [
    "EXIT_INTERRUPTED",
    "PROGRAMS",
    "cleanup",
    "faultdns",
    "guard",
    "guard_module_run",
    "run",
    "sim",
]

#: 128 + SIGINT: what a shell reports for a program ended by Ctrl-C.
EXIT_INTERRUPTED = 130


def guard(prog: str) -> None:
    """Step 1: from now on SIGINT ends the process with status 130 and one line on stderr."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        try:
            os.write(2, f"{prog}: interrupted\n".encode())
        finally:
            os._exit(EXIT_INTERRUPTED)

    _signal.signal(_signal.SIGINT, interrupted)


def guard_module_run() -> None:
    """:func:`guard` when the interpreter is running ``python -m`` one of our packages.

    Runs when this module is first imported, which each package's ``__init__`` does
    first: runpy imports the package with ``sys.argv[0] == "-m"`` and the package's
    name right after ``-m`` in ``sys.orig_argv``.  Otherwise (a library import, pytest)
    it installs nothing.
    """
    argv = list(getattr(sys, "orig_argv", []))
    if sys.argv[:1] != ["-m"] or "-m" not in argv:
        return
    at = argv.index("-m")
    target = argv[at + 1 : at + 2]
    if target and target[0] in PROGRAMS:
        guard(target[0])


#: The packages that are programs (``python -m NAME``, console script ``NAME``).
PROGRAMS = ("cleanup", "faultdns", "sim")


def run(prog: str, module: str, argv: list[str] | None = None) -> int:
    """Steps 1 to 4 for ``module.main``; returns the exit status.

    ``module`` is imported under :func:`guard`; its ``main(argv)`` returns a status.
    """
    guard(prog)
    __import__(module)
    main: Callable[[list[str] | None], int] = sys.modules[module].main
    try:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        return main(argv)
    except KeyboardInterrupt:
        guard(prog)
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:  # also after SystemExit (argparse's --help)
        guard(prog)


def cleanup() -> int:
    """The ``cleanup`` console script."""
    return run("cleanup", "cleanup._cli")


def sim() -> int:
    """The ``sim`` console script."""
    return run("sim", "sim._cli")


def faultdns() -> int:
    """The ``faultdns`` console script."""
    return run("faultdns", "faultdns._cli")


guard_module_run()
