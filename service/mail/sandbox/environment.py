"""The sandbox environment for staff-written templates: Jinja's immutable
sandbox, with metered loops, operators, calls and filters.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator
from functools import update_wrapper
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter, is_internal_attribute
from markupsafe import Markup

from service.mail.sandbox.budget import charge, current_budget
from service.mail.sandbox.checks import check_format, check_percent, string_method
from service.mail.sandbox.filters import lipsum, metered_filter
from service.mail.sandbox.printing import (
    IMMUTABLE,
    PLAIN,
    PrintingEscapeFormatter,
    PrintingFormatter,
    finalize,
    printable,
)

# Longest string or list a template may build with `*`.
MAX_REPEAT = 10_000
# Integers a template multiplies stay below this many bits: squaring a number
# in a loop would otherwise spend seconds inside one multiplication.
MAX_INT_BITS = 4096


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
            finalize=finalize,
            optimized=False,
        )
        self.filters = {name: metered_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = lipsum

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        budget = current_budget()
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
            check_percent(left)
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
        budget = current_budget()
        budget.tick()
        # Jinja's own bookkeeping, passed along untouched.
        private = {key: kwargs.pop(key) for key in ("_loop_vars", "_block_vars") if key in kwargs}
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            args, kwargs = string_method(owner, name, args, kwargs)
        elif isinstance(owner, int) and name == "to_bytes" and args and isinstance(args[0], int):
            budget.fits(args[0])
        result = super().call(__context, __obj, *args, **kwargs, **private)
        if isinstance(result, str):
            budget.charge(len(result))
        return result

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if type(obj) in IMMUTABLE:  # skips the mutability checks, slow for other types
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
            formatter = PrintingEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = PrintingFormatter(self)
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            budget = current_budget()
            budget.tick()
            check_format(owner)
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
        budget = current_budget()
        tick = budget.tick
        for item in iterable:
            tick()
            yield item

    @staticmethod
    def printables(parts: tuple[Any, ...]) -> list[Any]:
        return [part if type(part) in PLAIN else printable(part) for part in parts]

    @staticmethod
    def charged(text: str) -> str:
        charge(len(text))
        return text

    charge = staticmethod(charge)


HTML_SANDBOX = Sandbox(autoescape=True)
# Subjects go into a header and text bodies into text/plain: HTML escaping there
# would show the reader "&amp;".
TEXT_SANDBOX = Sandbox(autoescape=False)
