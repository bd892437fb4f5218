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

Step 1 starts before ``run`` is called, as this module is first imported (its first
statements after the imports): :func:`guard_program_start` does it when the interpreter
is running one of our programs, and nothing otherwise, so a library ``import cleanup``
installs nothing.  ``python -m cleanup`` (and ``-m sim``, ``-m faultdns``) imports the
package's ``__init__`` before ``__main__``, and the first statement of each package
``__init__`` is ``import retrylab_entry``; the console script pip writes imports this
module first and then runs a line of its own (a ``re.sub`` on ``sys.argv[0]``, which
compiles a pattern: milliseconds in which a Ctrl-C gave a traceback through that line).

What remains outside our reach: a SIGINT before that guard is in place: the
interpreter's own start-up and ``site`` (a few tens of milliseconds), and Python finding,
reading and compiling this module (the traceback then shows the statement that imports
it, and no line of this module after the guard).  Before Python installs its handler the
kernel's default ends the process by the signal, which a shell also reports as 130;
after it Python prints a ``KeyboardInterrupt`` traceback, or loses the signal where it
reports the ``KeyboardInterrupt`` and carries on (checking ``argv[0]`` as an import path,
an import's module-lock callback): a second Ctrl-C then ends the program.  From step 3
on, an interrupt a finaliser swallows that way is raised again
(:func:`_unraisable_after_interrupt`).
"""

from __future__ import annotations

# Only modules the interpreter has already loaded at start-up, or built into it: ``signal``
# itself builds IntEnums for a few milliseconds, in which a Ctrl-C gave a traceback, so
# the C module ``_signal`` is used.
import _signal  # type: ignore[import-not-found]  # (typeshed has no stub; same API as signal)
import _thread
import os
import sys

TYPE_CHECKING = False  # not ``typing``'s: importing typing takes 2 ms

if TYPE_CHECKING:
    from collections.abc import Callable
    from sys import UnraisableHookArgs
    from types import FrameType

__all__ = [
    "EXIT_INTERRUPTED",
    "PROGRAMS",
    "cleanup",
    "faultdns",
    "guard",
    "guard_program_start",
    "run",
    "sigint_deferred",
    "sim",
]

#: 128 + SIGINT: what a shell reports for a program ended by Ctrl-C.
EXIT_INTERRUPTED = 130

#: The packages that are programs (``python -m NAME``, console script ``NAME``).
PROGRAMS = ("cleanup", "faultdns", "sim")


#: The handler :func:`guard` installed last (for :func:`_interrupt` and :func:`_hand_back`).
_guarded: list[Callable[[int, FrameType | None], None]] = []
#: While ``run``'s ``main`` runs, the thread it runs in (:func:`_hand_back` signals
#: it, and only then); empty otherwise.
_main_running: list[int] = []


def guard(prog: str) -> None:
    """Step 1: from now on SIGINT ends the process with status 130 and one line on stderr."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        try:
            os.write(2, f"{prog}: interrupted\n".encode())
        finally:
            os._exit(EXIT_INTERRUPTED)

    _signal.signal(_signal.SIGINT, interrupted)
    _guarded[:] = [interrupted]


def guard_program_start() -> None:
    """:func:`guard` when the interpreter is starting one of our programs; else nothing.

    Runs as this module is first imported (module docstring).  A program is starting
    when runpy is importing the package of ``python -m NAME`` (``sys.argv[0]`` is
    ``"-m"`` then, and ``NAME`` is the module ``sys.orig_argv`` names: ``-m NAME``,
    ``-mNAME``, ``-Im NAME``), or when ``__main__`` is the console script ``NAME``
    that pip wrote next to the interpreter (``sys.argv[0]`` however it was spelt:
    relative, or a symlink to it, as pipx and ``uv tool`` install them).  A library
    import, pytest, or someone's own program that happens to be called ``sim`` elsewhere
    installs nothing.
    """
    prog = _starting_program()
    if prog is not None:
        guard(prog)


def _starting_program() -> str | None:
    """The program :func:`guard_program_start` finds starting, or None."""
    if sys.argv[:1] == ["-m"]:
        target = _module_option(list(getattr(sys, "orig_argv", [])))
        if target not in PROGRAMS:
            return None
        # our package, not someone else's ``sim`` that imports ours as a library (both
        # sides resolved: a checkout may be reached through a symlink)
        package_file = getattr(sys.modules.get(target or ""), "__file__", None) or ""
        ours = os.path.join(os.path.dirname(os.path.realpath(__file__)), target or "")
        return target if os.path.dirname(os.path.realpath(package_file)) == ours else None
    script = sys.argv[0] if sys.argv else ""
    name = os.path.basename(script)
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if name not in PROGRAMS or not script or main_file is None:
        return None
    if os.path.abspath(main_file) != os.path.abspath(script):
        return None
    beside = os.path.dirname(os.path.abspath(sys.executable))
    found = {os.path.dirname(os.path.abspath(script)), os.path.dirname(os.path.realpath(script))}
    return name if beside in found else None


#: The interpreter's options that take a value (``-c CMD``, ``-m MOD``, ``-W ARG``,
#: ``-X OPT``), written next to the letter or as the next argument.
_VALUED_OPTIONS = "cmWX"


def _module_option(argv: list[str]) -> str | None:
    """The module of ``-m`` in the interpreter's command line ``argv``
    (``sys.orig_argv``), or None: options may be grouped (``-Im NAME``) and a value
    written next to its letter (``-mNAME``)."""
    at = 1
    while at < len(argv):
        arg = argv[at]
        if arg in ("-", "--") or not arg.startswith("-"):
            return None  # a script, stdin, or the end of the options: no -m
        if arg.startswith("--"):
            at += 2 if arg == "--check-hash-based-pycs" else 1
            continue
        for k, letter in enumerate(arg[1:], 2):
            if letter == "c":
                return None  # -c CMD: the rest is the command's arguments
            if letter in _VALUED_OPTIONS:
                value = arg[k:] or (argv[at + 1] if at + 1 < len(argv) else "")
                if letter == "m":
                    return value
                at += 1 if arg[k:] else 2
                break
        else:
            at += 1
    return None


# As early as this module can: everything below runs under the guard.
guard_program_start()


def run(prog: str, module: str, argv: list[str] | None = None) -> int:
    """Steps 1 to 4 for ``module.main``; returns the exit status.

    ``module`` is imported under :func:`guard`; its ``main(argv)`` returns a status.
    """
    guard(prog)
    __import__(module)
    main: Callable[[list[str] | None], int] = sys.modules[module].main
    try:
        _signal.signal(_signal.SIGINT, _interrupt)
        try:
            _main_running[:] = [_thread.get_ident()]
            return main(argv)
        finally:  # the moment main ends: a hand-back after it would cut run's own work
            _main_running.clear()
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
    if frame is not None and frame.f_code in (run.__code__, guard.__code__):
        # in ``run`` itself, between catching an interrupt (or ``main`` returning) and
        # putting :func:`guard` back: nothing of the program's is left to finish, and
        # a KeyboardInterrupt here would escape ``run`` with a traceback
        _guarded[-1](signum, frame)
    _quiet_finalisers()
    raise KeyboardInterrupt


def _quiet_finalisers() -> None:
    """Silence what finalisers report, for the rest of an interrupted process.

    The channels: ``sys.unraisablehook`` (an exception in ``__del__`` or a weakref
    callback: ``Exception ignored in``), warnings (``ResourceWarning``, ``coroutine ...
    was never awaited``), and asyncio's logger (``Task was destroyed but it is
    pending!``).  Modules not loaded yet are left alone: nothing of theirs exists to
    finalise.  Under ``python -X dev`` nothing is silenced.  Either way the unraisable
    hook becomes :func:`_unraisable_after_interrupt`, which also hands on an interrupt a
    finaliser swallowed.
    """
    sys.unraisablehook = _unraisable_after_interrupt
    if sys.flags.dev_mode:
        return
    warnings = sys.modules.get("warnings")
    if warnings is not None:
        warnings.simplefilter("ignore")
    asyncio_log = sys.modules.get("asyncio.log")
    if asyncio_log is not None:
        asyncio_log.logger.disabled = True


def _unraisable_after_interrupt(unraisable: UnraisableHookArgs) -> None:
    """``sys.unraisablehook`` of an interrupted process (:func:`_quiet_finalisers`).

    Shows nothing (``python -X dev``: what Python's own hook shows).  A
    ``KeyboardInterrupt`` is the one exception it does not drop: :func:`_interrupt`
    raised it while the main thread ran a ``__del__`` or a weakref callback (an import's
    module-lock callback, a socket's finaliser), where Python reports it and carries on,
    so the Ctrl-C would be lost and the run go on.  :func:`_hand_back` raises it again.
    """
    if sys.flags.dev_mode:
        sys.__unraisablehook__(unraisable)
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        _hand_back()


#: How long after a finaliser swallowed an interrupt it is raised again (seconds).
_HAND_BACK_AFTER = 0.01


def _hand_back() -> None:
    """SIGINT again for the main thread, as if the user pressed Ctrl-C once more.

    Not from here: the main thread is still in the finaliser's report, and Python runs
    a signal's handler at the first bytecode that checks for one, which would be in this
    very hook (raising there is swallowed too).  A helper thread sends it
    :data:`_HAND_BACK_AFTER` later, when the main thread is back in the program's code,
    where the ``KeyboardInterrupt`` stops the run as any Ctrl-C does.  A real signal to
    the main thread (``pthread_kill``), not ``_thread.interrupt_main``'s flag: it also
    wakes a call the main thread is blocked in (a socket read, a sleep), which the flag
    alone would leave to finish first; delivered to whatever handler is in place then
    (the program's own, :func:`sigint_deferred`'s).  Only while ``main`` runs: once it
    has returned, its status stands.  At interpreter shutdown, when no thread can
    start, the process ends as :func:`guard`'s handler ends it.
    """

    def later() -> None:
        import time  # built into the interpreter

        time.sleep(_HAND_BACK_AFTER)
        if _main_running:
            _signal.pthread_kill(_main_running[-1], _signal.SIGINT)

    try:
        _thread.start_new_thread(later, ())
    except RuntimeError:  # "can't create new thread at interpreter shutdown"
        _guarded[-1](_signal.SIGINT, None)


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
