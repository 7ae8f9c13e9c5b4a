"""A render's budget of CPU time and text, and rendering under it.

Loops, calls and filters tick the budget, and each tick every so often reads
the thread's CPU clock; text built while rendering is charged to it; the
output is counted when a render is done. When it runs out,
:class:`LimitExceeded` names the limit and its setting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from service.settings import Settings

# Text built while rendering (literal text and expressions output, strings put
# together) may be this many times the size cap: a string built and then
# printed counts twice, and `{% set %}` blocks are built before being printed.
WORK_FACTOR = 8
# Loop turns, calls and filters between two reads of the CPU clock.
_TICKS_PER_CLOCK_READ = 64
# CPU seconds between two offers of the interpreter to other threads.
_YIELD_EVERY = 0.001


def size_text(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000} MB"
    if size % 1000 == 0:
        return f"{size // 1000} kB"
    return f"{size} bytes"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one rendered message may cost (CONSENTRY_TEMPLATE_*)."""

    cpu_seconds: float = 2.0
    max_bytes: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.template_cpu_seconds, settings.template_max_bytes)


DEFAULT_LIMITS = Limits()


class LimitExceeded(Exception):
    """A render ran out of its budget; the message names the limit and its setting."""


class Budget:
    """One render's (or one save-time check's) allowance of CPU time and text.

    The CPU clock is the thread's own, so a check running in a worker thread is
    not charged for what the event loop does meanwhile.
    """

    __slots__ = (
        "_countdown",
        "_deadline",
        "_next_yield",
        "_purpose",
        "limits",
        "output",
        "work",
        "work_limit",
    )

    def __init__(self, limits: Limits, purpose: str = "to render") -> None:
        self.limits = limits
        self._purpose = purpose
        self._deadline = time.thread_time() + limits.cpu_seconds
        self._next_yield = self._deadline - limits.cpu_seconds + _YIELD_EVERY
        self._countdown = _TICKS_PER_CLOCK_READ
        self.work_limit = limits.max_bytes * WORK_FACTOR
        self.output = 0
        self.work = 0

    def new_message(self) -> None:
        """Start counting text afresh; the CPU deadline stays."""
        self.output = 0
        self.work = 0

    def tick(self) -> None:
        self._countdown -= 1
        if self._countdown <= 0:
            self.read_clock()

    def check_time(self) -> None:
        now = time.thread_time()
        if now > self._next_yield:
            # Let other threads have the interpreter now rather than at the
            # next forced switch (5 ms): the event loop, whose requests hand
            # over between threads many times each, answers while a check
            # runs in a worker thread.
            self._next_yield = now + _YIELD_EVERY
            time.sleep(0)
        if now > self._deadline:
            raise LimitExceeded(
                f"the template took more than {self.limits.cpu_seconds:g} s of CPU time "
                f"{self._purpose} (limit: CONSENTRY_TEMPLATE_CPU_SECONDS)"
            )

    def fits(self, size: int) -> None:
        """Refuse to build `size` more characters of text, beyond the allowance."""
        if self.work + size > self.work_limit:
            raise LimitExceeded(
                f"the template makes more than {size_text(self.work_limit)} of text while "
                f"rendering; a message may be at most {size_text(self.limits.max_bytes)} "
                "(limit: CONSENTRY_TEMPLATE_MAX_BYTES)"
            )

    def charge(self, size: int) -> None:
        """Count `size` characters of text built (printed or put together)."""
        if self.work + size > self.work_limit:
            self.fits(size)
        self.work += size

    def read_clock(self) -> None:
        self._countdown = _TICKS_PER_CLOCK_READ
        self.check_time()

    def emit(self, size: int) -> None:
        """Count `size` bytes of the message's output."""
        self.output += size
        if self.output > self.limits.max_bytes:
            raise LimitExceeded(
                f"the rendered message is larger than {size_text(self.limits.max_bytes)} "
                "(limit: CONSENTRY_TEMPLATE_MAX_BYTES)"
            )


# The budget of the render running in this thread (or task); see metered().
CURRENT: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def current_budget() -> Budget:
    budget = CURRENT.get()
    if budget is None:
        raise RuntimeError("a sandboxed template was rendered outside render()")
    return budget


@contextmanager
def metered(budget: Budget) -> Iterator[Budget]:
    """Render under `budget` in this thread (or task)."""
    token = CURRENT.set(budget)
    try:
        yield budget
    finally:
        CURRENT.reset(token)


def render(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """Render under the current budget (or a default one). Everything the
    template outputs is charged as it is produced, so a runaway stops at the
    allowance; the message's size is counted in bytes when it is done."""
    budget = CURRENT.get()
    if budget is None:
        with metered(Budget(DEFAULT_LIMITS)):
            return render(template, variables)
    text = template.render(variables)
    budget.emit(len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass")))
    budget.check_time()
    return text


def charge(size: int) -> None:
    """Budget.charge for the current budget, as cheap as can be: it runs for
    every expression printed and every piece of literal text."""
    budget = CURRENT.get()
    if budget is None:
        raise RuntimeError("a sandboxed template was rendered outside render()")
    budget.work += size
    if budget.work > budget.work_limit:
        budget.work -= size
        budget.fits(size)
