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
3. hands SIGINT back to Python (``KeyboardInterrupt``, raised by :func:`_interrupt`,
   see below) for the run itself, where the
   programs have work to finish (a removal in progress completes, a store's lock is
   released, a server stops) and turn the interrupt into 130 themselves; one that
   escapes ``main`` is turned into 130 here;
4. from the moment ``main`` returns, is back to step 1's handler, so a Ctrl-C during
   the interpreter's shutdown is 130 too, with no traceback; and clears CPython's mark
   of an unhandled interrupt, which an interrupt handled inside ``main`` can leave
   behind and which would end ``python -m`` by the signal (:func:`_forget_handled_interrupts`).

A ``KeyboardInterrupt`` can land between any two bytecodes of the main thread, also in
the middle of a constructor: an object whose finaliser then runs on a half-built
``self`` (``asyncio``'s event loop: ``BaseEventLoop.__del__`` closes it and meets an
``AttributeError``) prints ``Exception ignored in: ...`` and a traceback through
``sys.unraisablehook`` while the program exits; a coroutine or task cut off before it
ran says ``RuntimeWarning: coroutine ... was never awaited`` or ``Task was destroyed
but it is pending!``.  Two defences, because the first covers only what we build:

- :func:`sigint_deferred` holds SIGINT while our main-thread event loops are built,
  started and stopped (``sim._dns.DNSPeer``, ``faultdns.FaultDNSServer.start``) and
  delivers it once they are whole, so no interrupt leaves one half built or half run.
  (``pthread_sigmask`` cannot do this: the kernel hands a process-directed SIGINT to
  another thread, whose C handler still schedules the Python handler on the main one.)
- for every other object, ours or a library's, found or not yet: step 3's handler is
  :func:`_interrupt`, which before raising ``KeyboardInterrupt`` turns the finalisers'
  report channels quiet (:func:`_quiet_finalisers`): the unraisable hook, warnings, and
  asyncio's logger.  It does so only once the process has been interrupted, so a normal
  run still shows every ``Exception ignored in`` (a real bug in a finaliser); an
  interrupted run is ending and says why in one line.  ``python -X dev`` keeps them
  all, for whoever debugs an interrupted run.

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
    "sigint_deferred",
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
        _signal.signal(_signal.SIGINT, _interrupt)
        return main(argv)
    except KeyboardInterrupt:
        guard(prog)
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:  # also after SystemExit (argparse's --help)
        guard(prog)
        _forget_handled_interrupts()


def _forget_handled_interrupts() -> None:
    """Clear CPython's "unhandled KeyboardInterrupt" mark, once ``run`` has handled them all.

    CPython (3.11 to 3.13, ``run_eval_code_obj`` in Python/pythonrun.c) marks a
    ``KeyboardInterrupt`` as unhandled whenever one leaves code that ``exec``/``eval`` ran
    from a *string*, even if a caller then catches it; ``Py_RunMain`` (Modules/main.c)
    reads the mark after ``python -m`` (and ``-c``) ends and kills the process with
    SIGINT (bpo-1054041), whatever status it was ending with.  ``dataclasses`` and
    ``namedtuple`` build their methods that way, so a Ctrl-C landing while a module
    imported inside ``main`` defines a dataclass (``h11``'s events, under ``python -m
    faultdns stats``) ended the process by the signal (-2) right after ``PROG:
    interrupted`` (seen under load in CI).  The same function clears the mark as it
    starts each evaluation of a string, so evaluating an empty one clears it: by here
    every interrupt was handled (``run`` catches what ``main`` does not), and one that
    arrives later is :func:`guard`'s, which never raises.
    """
    exec("")  # an empty string: the evaluation that clears the mark (docstring)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Step 3's SIGINT handler: Python's own ``KeyboardInterrupt``, once the finalisers
    of what it may cut in half are quiet (module docstring).

    Quieted here, in the handler, and not where ``run`` catches the interrupt: a
    program that catches it itself (``cleanup``'s ``main``, ``sim serve``'s loop) frees
    the traceback, and with it a half-built object, long before ``run`` sees anything.
    Being a Python function and not ``signal.default_int_handler`` matters only to
    ``asyncio.Runner`` and anyio's runner, which put in their own SIGINT handling only
    when they find Python's; the programs run no event loop that way in the main thread.
    """
    _quiet_finalisers()
    raise KeyboardInterrupt


def _quiet_finalisers() -> None:
    """Silence what finalisers report, for the rest of an interrupted process.

    The channels: ``sys.unraisablehook`` (an exception in ``__del__`` or a weakref
    callback: ``Exception ignored in``), warnings (``ResourceWarning``, ``coroutine ...
    was never awaited``), and asyncio's logger (``Task was destroyed but it is
    pending!``).  Modules not loaded yet are left alone: nothing of theirs exists to
    finalise.  Under ``python -X dev`` nothing is silenced.
    """
    if sys.flags.dev_mode:
        return
    sys.unraisablehook = _ignore_unraisable
    warnings = sys.modules.get("warnings")
    if warnings is not None:
        warnings.simplefilter("ignore")
    asyncio_log = sys.modules.get("asyncio.log")
    if asyncio_log is not None:
        asyncio_log.logger.disabled = True


def _ignore_unraisable(unraisable: object) -> None:
    """``sys.unraisablehook`` of an interrupted process (:func:`_quiet_finalisers`)."""


class _SigintDeferred:
    """The context manager of :func:`sigint_deferred`."""

    __slots__ = ("_held", "_previous")

    def __init__(self) -> None:
        self._held = False
        self._previous: object = None

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        self._held = True

    def __enter__(self) -> None:
        try:
            previous = _signal.getsignal(_signal.SIGINT)
            if previous is not None:  # None: a handler installed from C, left alone
                _signal.signal(_signal.SIGINT, self._hold)
                self._previous = previous
        except ValueError:  # not the main thread, where no KeyboardInterrupt is raised
            pass

    def __exit__(self, *exc: object) -> None:
        previous, self._previous = self._previous, None
        if previous is None:
            return
        _signal.signal(_signal.SIGINT, previous)
        if self._held:
            # Delivered as the kernel would have: to whatever handler is in place now
            # (raise(3) runs the Python handler before ``raise_signal`` returns).
            _signal.raise_signal(_signal.SIGINT)


def sigint_deferred() -> _SigintDeferred:
    """``with sigint_deferred(): ...``: a SIGINT that arrives inside is delivered on leaving.

    For building, starting and stopping objects with a finaliser in the main thread
    (an asyncio event loop, its server), so that an interrupt never leaves one half
    built (module docstring).  Inside, the SIGINT handler is a recorder; on leaving, the
    previous handler is put back and, if a SIGINT came, the signal is raised again for
    it: ``KeyboardInterrupt`` from the ``with`` statement's end, our 130 exit under
    :func:`guard`, nothing under ``SIG_IGN``, whatever a caller's own handler does.
    Outside the main thread (where Python runs no signal handler) it does nothing.
    Keep the block short and bounded: Ctrl-C waits for it.
    """
    return _SigintDeferred()


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
