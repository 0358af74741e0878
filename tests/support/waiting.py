"""Waiting in the Python suites (tests/e2e, tests/package): one helper, one contract.

wait_until polls a condition until it holds or a deadline passes. The wait is always on
the condition: the sleep between two polls only paces the polling, it is never the wait
itself, so a test is as fast as the thing it waits for and fails with a message saying
what it waited for instead of hanging or racing.

The suites put this directory on sys.path (from their own file's location, so that a
suite run by hand finds it as ctest's run does) and `from waiting import wait_until`.
"""

import time


def wait_until(predicate, timeout=30.0, interval=0.01, what="condition", details=None):
    """Calls predicate() until it returns a true value, and returns that value.

    predicate is called at once, then again every `interval` s (plus its own run time).
    When a call made more than `timeout` s after the start still returns a false value,
    AssertionError is raised naming `what` ("timed out after 30 s waiting for <what>"),
    followed on a new line by the text details() returns when details is given (a log tail,
    a console: whatever explains the failure; it is called only then). Exceptions from
    predicate propagate unchanged.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{details()}" if details else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(interval)
