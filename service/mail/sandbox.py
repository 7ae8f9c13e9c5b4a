"""The Jinja sandbox for what staff write, with a CPU-time and a size budget.

Marketers' templates are test-rendered when a campaign is saved and rendered
again for every recipient, so a few bytes of template must not be able to
stall a process or fill its memory: ``{% for a in range(99999) %}{% for b in
range(99999) %}`` runs for minutes, and ``{% set ns.s = ns.s ~ ns.s %}`` in a
loop doubles a string each turn. Every render runs under a :class:`Budget`:
loops, calls and filters tick it, and each tick every so often reads the
thread's CPU clock; text that expressions, concatenation, filters and string
methods build is charged to it; the caller counts the output it streams. When
the budget runs out, :class:`LimitExceeded` names the limit and its setting.

The sandbox also never prints a memory address: a Python object without a
text of its own (``<function … at 0x7f…>``) is refused when printed as it is,
and anything else turned into text loses its ``at 0x…`` part.
"""

from __future__ import annotations

import re
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import update_wrapper, wraps
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.filters import make_attrgetter
from jinja2.runtime import LoopContext
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    is_internal_attribute,
)
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from service.mail.views import CampaignView, ContactView

if TYPE_CHECKING:
    from service.settings import Settings

# Longest string or list a template may build with `*`.
MAX_REPEAT = 10_000
# Integers a template multiplies stay below this many bits: squaring a number
# in a loop would otherwise spend seconds inside one multiplication.
MAX_INT_BITS = 4096
# Text built while rendering (literal text and expressions output, strings put
# together) may be this many times the size cap: a string built and then
# printed counts twice, and `{% set %}` blocks are built before being printed.
WORK_FACTOR = 8
# Loop turns, calls and filters between two reads of the CPU clock.
_TICKS_PER_CLOCK_READ = 64
# CPU seconds between two offers of the interpreter to other threads.
_YIELD_EVERY = 0.001
_ADDRESS = re.compile(r"\s+at\s+0x[0-9a-fA-F]+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


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


_current: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def _budget() -> Budget:
    budget = _current.get()
    if budget is None:
        raise RuntimeError("a sandboxed template was rendered outside render()")
    return budget


@contextmanager
def metered(budget: Budget) -> Iterator[Budget]:
    """Render under `budget` in this thread (or task)."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def render(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """Render under the current budget (or a default one). Everything the
    template outputs is charged as it is produced, so a runaway stops at the
    allowance; the message's size is counted in bytes when it is done."""
    budget = _current.get()
    if budget is None:
        with metered(Budget(DEFAULT_LIMITS)):
            return render(template, variables)
    text = template.render(variables)
    budget.emit(len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass")))
    budget.check_time()
    return text


# -- what may be printed --------------------------------------------------------

_PLAIN = frozenset({str, Markup, int, float, bool})
_IMMUTABLE = _PLAIN | {ContactView, CampaignView, LoopContext, tuple}


def printable(value: Any) -> Any:
    """`value` made safe to turn into text: plain values and containers of them
    as they are, objects as their text without a memory address. Functions
    and iterators are refused: printing one is a mistake, and its text shows
    an address."""
    kind = type(value)
    if kind in _PLAIN or value is None or isinstance(value, jinja2.Undefined):
        return value
    if kind is list or kind is tuple:
        return kind(printable(item) for item in value)
    if kind is dict:
        return {printable(key): printable(item) for key, item in value.items()}
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, LoopContext):
        return str(value)  # "<LoopContext 1/3>"
    if callable(value):
        raise TemplateRuntimeError(
            f"a {_kind_of(value)} cannot be printed; call it with () or print a value"
        )
    if hasattr(value, "__next__"):
        raise TemplateRuntimeError(
            "a sequence produced item by item (by map, select or reverse, or a cycler) "
            "cannot be printed as it is; add |list or |join"
        )
    if isinstance(value, tuple | list):  # named tuples from groupby, and the like
        return tuple(printable(item) for item in value)
    return scrub(str(value))


def _kind_of(value: Any) -> str:
    if isinstance(value, type):
        return "class"
    if isinstance(value, jinja2.runtime.Macro):
        return "macro"
    return "function or method"


def scrub(text: str) -> str:
    """`text` without the memory addresses in default object representations."""
    if "0x" not in text:
        return text
    cleaned = _ADDRESS.sub("", text)
    # Removing an address from escaped text leaves it escaped.
    return Markup(cleaned) if isinstance(text, Markup) else cleaned  # noqa: S704


def _charge(size: int) -> None:
    """Budget.charge for the current budget, as cheap as can be: it runs for
    every expression printed and every piece of literal text."""
    budget = _current.get()
    if budget is None:
        raise RuntimeError("a sandboxed template was rendered outside render()")
    budget.work += size
    if budget.work > budget.work_limit:
        budget.work -= size
        budget.fits(size)


def _finalize(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is Markup:
        budget = _current.get()  # _charge, inlined: this runs for every {{ … }}
        if budget is None:
            raise RuntimeError("a sandboxed template was rendered outside render()")
        budget.work += len(value)
        if budget.work > budget.work_limit:
            budget.work -= len(value)
            budget.fits(len(value))
        return value
    if kind is int or kind is float or kind is bool:
        return value
    if value is None:
        return ""  # an empty optional field (`{{ contact.employer }}`) prints nothing
    value = printable(value)
    if isinstance(value, list | tuple | dict):
        value = scrub(str(value))
    if isinstance(value, str):
        _charge(len(value))
    return value


# -- checks for what builds text ------------------------------------------------


def _check_format(template: str) -> None:
    """Refuse widths that would build text beyond the budget: "{:>999999999}"."""
    budget = _budget()
    for _, field, spec, _ in string.Formatter().parse(template):
        if field is None or not spec:
            continue
        if "{" in spec:
            raise SecurityError("a width in a format string must be a number")
        for number in re.findall(r"\d+", spec):
            budget.fits(int(number))


def _check_percent(template: str) -> None:
    budget = _budget()
    for match in _PERCENT_SPEC.finditer(template):
        for number in match.groups():
            if number == "*":
                raise SecurityError("'*' widths are not available in email templates")
            if number is not None:
                budget.fits(int(number))


def _replaced_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    old_text, new_text = str(old), str(new)
    found = text.count(old_text) if old_text else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * len(new_text)


def _joined(items: Iterable[Any], separator: str) -> list[Any]:
    budget = _budget()
    listed = [printable(item) for item in items]
    size = sum(len(item) if isinstance(item, str) else 8 for item in listed)
    budget.fits(size + len(separator) * max(len(listed) - 1, 0))
    return listed


def _string_method(owner: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Check a call of a string method that can make a much longer string;
    return the arguments to call it with (a joined iterable, listed)."""
    budget = _budget()
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        budget.fits(args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            budget.fits(len(owner) + owner.count("\t") * tabsize)
    elif name == "replace" and len(args) >= 2:
        budget.fits(_replaced_size(owner, *args[:3]))
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        budget.fits(len(owner) * max(longest, 1))
    elif name == "join" and args:
        return (_joined(args[0], owner),), kwargs
    return args, kwargs


class _Printing:
    """A formatter that formats and converts (!s, !r) only printable values."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return super().convert_field(printable(value), conversion)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        return super().format_field(printable(value), format_spec)  # type: ignore[misc]


class _Formatter(_Printing, SandboxedFormatter):
    pass


class _EscapeFormatter(_Printing, SandboxedEscapeFormatter):
    pass


# -- filters --------------------------------------------------------------------

# Filters that turn their arguments into text (str(), escape()).
_TEXT_FILTERS = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "format",
        "indent",
        "lower",
        "pprint",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _check_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse filter calls that would build far more than they are given."""
    budget = _budget()
    value = args[0] if args else None
    text = value if isinstance(value, str) else ""
    if name == "center":
        width = _argument(args, kwargs, 1, "width")
        if isinstance(width, int):
            budget.fits(width)
    elif name == "indent":
        width = _argument(args, kwargs, 1, "width")
        per_line = len(width) if isinstance(width, str) else width
        if isinstance(per_line, int):
            budget.fits(len(text) + (text.count("\n") + 1) * per_line)
    elif name == "replace" and len(args) >= 3:
        budget.fits(_replaced_size(text, args[1], args[2], _argument(args, kwargs, 3, "count")))
    elif name == "format":
        _check_percent(text)
    elif name == "wordwrap":
        wrap = _argument(args, kwargs, 3, "wrapstring")
        budget.fits(len(text) * (1 + (len(wrap) if isinstance(wrap, str) else 1)))
    elif name in ("batch", "slice"):
        count = _argument(args, kwargs, 1, "linecount" if name == "batch" else "slices")
        if isinstance(count, int):
            budget.fits(count)
    elif name == "sum":
        start = _argument(args, kwargs, 2, "start")
        if start is not None and not isinstance(start, int | float):
            raise SecurityError("the sum filter adds numbers only")
    elif name == "tojson":
        indent = _argument(args, kwargs, 1, "indent")
        if (
            isinstance(indent, str | int)
            and (len(indent) if isinstance(indent, str) else indent) > 16
        ):
            raise SecurityError("the tojson filter indents by at most 16")


_NEEDS_CHECK = frozenset(
    {"center", "indent", "replace", "format", "wordwrap", "batch", "slice", "sum", "tojson"}
)


def _metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters given the context or environment first take it before the value.
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    makes_text = name in _TEXT_FILTERS
    checked = name in _NEEDS_CHECK

    @wraps(func)
    def metered(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        if makes_text:
            args = tuple(
                arg if index < skip or type(arg) in _PLAIN else printable(arg)
                for index, arg in enumerate(args)
            )
            if kwargs:
                kwargs = {key: printable(value) for key, value in kwargs.items()}
        if name == "join" and len(args) > skip:
            rest, kwargs = _join_arguments(args[0].environment, args[skip:], kwargs)
            args = (*args[:skip], *rest)
        if checked:
            _check_filter(name, args[skip:], kwargs)
        result = func(*args, **kwargs)
        if type(result) is str or type(result) is Markup:
            budget.charge(len(result))
        return result

    return metered


def _join_arguments(
    environment: jinja2.Environment, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The join filter's arguments with its items fetched (`attribute`), made
    printable and measured: join turns each item into text itself."""
    separator = _argument(args, kwargs, 1, "d")
    separator = separator if isinstance(separator, str) else ""
    items = args[0]
    attribute = _argument(args, kwargs, 2, "attribute")
    if attribute is not None:
        items = map(make_attrgetter(environment, attribute), items)
    return (_joined(items, separator), separator), {}


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 20 or max > 200:
        raise SecurityError("lipsum makes at most 20 paragraphs of at most 200 words")
    text: str = generate_lorem_ipsum(n=n, html=html, min=min, max=max)
    return text


# -- the environment ------------------------------------------------------------


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with loops that tick the budget on every turn and
    concatenation (`~`) that is checked and charged."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("metered_loop"), [node.iter], [], None, None
        ).set_lineno(node.iter.lineno)
        super().visit_For(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.charged({join}(environment.printables((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))))")

    def _output_child_to_const(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> str:
        # Nothing but literal text is evaluated at compile time: a constant is
        # escaped before it is finalized, so `{{ [1]|reverse }}` would print
        # an iterator's address, and it would run outside any budget.
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible
        return super()._output_child_to_const(node, frame, finalize)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        # Literal text is charged as it is output (expressions are, by
        # finalize): a loop printing it is stopped at the allowance, before
        # the output, or a {% set %} block's buffer, is joined.
        size = sum(len(child.data) for child in node.nodes if isinstance(child, nodes.TemplateData))
        if size:
            self.writeline(f"environment.charge({size})")
        super().visit_Output(node, frame)


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox for staff-written templates: metered, and refusing
    arithmetic that would stall the process. Immutable: `list.extend` and the
    like would let a loop double a list each turn.

    Intercepting the operators also stops Jinja folding them at compile time.
    """

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, autoescape: bool) -> None:
        # Not optimized: the optimizer evaluates constant expressions at
        # compile time, without the budget and without the checks here.
        super().__init__(
            autoescape=autoescape,
            undefined=jinja2.StrictUndefined,
            finalize=_finalize,
            optimized=False,
        )
        self.filters = {name: _metered_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = _lipsum

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        budget = _budget()
        budget.tick()
        if operator == "**":
            raise SecurityError("the ** operator is not available in email templates")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple | bytes)
                    and isinstance(count, int)
                    and len(sequence) * count > MAX_REPEAT
                ):
                    raise SecurityError(f"a repetition may not exceed {MAX_REPEAT} items")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS
            ):
                raise SecurityError("numbers this large are not available in email templates")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                budget.fits(len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _check_percent(left)
            right = (
                tuple(printable(item) for item in right)
                if type(right) is tuple
                else printable(right)
            )
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str | list | tuple):
            budget.charge(len(result))
        return result

    def call(
        __self,
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = _budget()
        budget.tick()
        # Jinja's own bookkeeping, passed along untouched.
        private = {key: kwargs.pop(key) for key in ("_loop_vars", "_block_vars") if key in kwargs}
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            args, kwargs = _string_method(owner, name, args, kwargs)
        elif isinstance(owner, int) and name == "to_bytes" and args and isinstance(args[0], int):
            budget.fits(args[0])
        result = super().call(__context, __obj, *args, **kwargs, **private)
        if isinstance(result, str):
            budget.charge(len(result))
        return result

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if type(obj) in _IMMUTABLE:  # skips the mutability checks, slow for other types
            return not (attr.startswith("_") or is_internal_attribute(obj, attr))
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed str.format and format_map, also checking widths
        ("{:>999999999}") and printing only printable values."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        formatter: SandboxedFormatter
        if isinstance(owner, Markup):
            formatter = _EscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _Formatter(self)
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            budget = _budget()
            budget.tick()
            _check_format(owner)
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            result = type(owner)(formatter.vformat(owner, args, kwargs))
            budget.charge(len(result))
            return result

        return update_wrapper(wrapper, value)

    # Called from the generated code (see _CodeGenerator).

    @staticmethod
    def metered_loop(iterable: Iterable[Any]) -> Iterator[Any]:
        budget = _budget()
        tick = budget.tick
        for item in iterable:
            tick()
            yield item

    @staticmethod
    def printables(parts: tuple[Any, ...]) -> list[Any]:
        return [part if type(part) in _PLAIN else printable(part) for part in parts]

    @staticmethod
    def charged(text: str) -> str:
        _charge(len(text))
        return text

    charge = staticmethod(_charge)


HTML_SANDBOX = Sandbox(autoescape=True)
# Subjects go into a header and text bodies into text/plain: HTML escaping there
# would show the reader "&amp;".
TEXT_SANDBOX = Sandbox(autoescape=False)
