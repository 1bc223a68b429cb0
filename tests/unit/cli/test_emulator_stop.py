"""The emulator command stops on SIGTERM, whenever it lands (``cli.emulator.wait_for_stop``).

Before the fix the SIGTERM handler called ``threading.Event.set`` while the main thread sat in
``Event.wait``: a signal landing while the main thread held the event's lock deadlocked the
process, which then ignored every later SIGTERM (CI caught it once: the emulator did not stop
within 10 s of ``terminate()``). The first test delivers SIGTERM exactly there (a profile hook
fires it as the main thread enters ``Condition.wait``, or the C-level sleep of the fixed code);
with the old handler that child hangs until killed. The second signals at random moments."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_STRESS = textwrap.dedent(
    """
    import random, signal, threading, time
    from sessionkit.cli.emulator import wait_for_stop

    main = threading.get_ident()
    for _ in range(ROUNDS):
        ready = threading.Event()

        def send():  # started before the wait: ready() only sets an event, as printing would
            ready.wait()
            time.sleep(random.random() * 0.004)
            signal.pthread_kill(main, signal.SIGTERM)

        sender = threading.Thread(target=send)
        sender.start()
        wait_for_stop(ready.set)
        sender.join()
    # after the last round SIGTERM is back to its default: the process would die on it
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    print("stopped", ROUNDS, "times")
    """
)


_AT_THE_WAIT = textwrap.dedent(
    """
    import signal, sys, threading
    from sessionkit.cli.emulator import wait_for_stop

    main = threading.get_ident()
    sent = []

    def hook(frame, event, arg):
        # the moment the main thread starts waiting, deliver SIGTERM: inside Condition.wait
        # (an Event.wait holds the event's lock there) or at the C-level sleep
        if not sent and (
            (event == "call" and frame.f_code.co_qualname == "Condition.wait")
            or (event == "c_call" and getattr(arg, "__name__", "") == "sleep")
        ):
            sent.append(1)
            signal.pthread_kill(main, signal.SIGTERM)

    wait_for_stop(lambda: sys.setprofile(hook))
    sys.setprofile(None)
    print("stopped", len(sent))
    """
)


def test_sigterm_while_the_main_thread_starts_waiting_stops_it() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _AT_THE_WAIT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "stopped 1"), proc.stderr


def test_sigterm_at_any_moment_stops_the_wait() -> None:
    rounds = 2000
    proc = subprocess.run(
        [sys.executable, "-c", _STRESS.replace("ROUNDS", str(rounds))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"stopped {rounds} times"


def test_ctrl_c_stops_the_wait_too() -> None:
    code = textwrap.dedent(
        """
        import os, signal, threading
        from sessionkit.cli.emulator import wait_for_stop
        wait_for_stop(lambda: threading.Timer(0.05, os.kill,
                                              (os.getpid(), signal.SIGINT)).start())
        print("stopped")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "stopped"), proc.stderr
