"""What every widget's Python side shares: its front end, and the formats of its static fallback.

anywidget loads a widget's JavaScript as one ES module, and nbops ships no bundler.
Each view in ``static/`` is a plain module that imports its helpers from
``static/common.js``; ``esm(name)`` puts that file in place of the import line, so
the browser gets one module and the helpers have one definition. ``css(name)`` puts
``static/common.css`` before the view's own sheet in the same way. Both are read
once, when a widget module is imported (as anywidget reads a ``pathlib.Path``).

The formatters here are the Python twins of those in ``common.js``: the static HTML
and plain text of an exported notebook show what the live widget shows.
``tests/test_widget_formats.py`` runs both against the same cases. Durations are
``nbops.tracking.format_duration``.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"
NO_VALUE = "—"

#: JupyterLab colour variables (with fallbacks) for each run status; common.css colours the badges alike.
STATUS_COLORS = {
    "FINISHED": "var(--jp-success-color1, #388e3c)",
    "FAILED": "var(--jp-error-color1, #d32f2f)",
    "KILLED": "var(--jp-warn-color1, #f57c00)",
    "RUNNING": "var(--jp-brand-color1, #1976d2)",
}

# A view's one import of the helpers (prettier may wrap the names over several lines).
_IMPORT = re.compile(r'^import\s*\{[^}]*\}\s*from\s*"\./common\.js";?[ \t]*$', re.MULTILINE)
# ``export`` before a declaration of common.js: in the composed module the helpers are local.
_EXPORT = re.compile(r"^export (?=function |const |let |class )", re.MULTILINE)


# -- the front end ------------------------------------------------------------------------


@cache
def _common_js() -> str:
    return _EXPORT.sub("", (STATIC / "common.js").read_text(encoding="utf-8"))


@cache
def esm(name: str) -> str:
    """The module of view ``static/<name>``, its ``import ... from "./common.js"`` replaced by that file."""
    source = (STATIC / name).read_text(encoding="utf-8")
    imports = _IMPORT.findall(source)
    if len(imports) != 1:
        raise RuntimeError(
            f"{name} must import its helpers in one line from ./common.js, found {len(imports)}"
        )
    return _IMPORT.sub(lambda _match: _common_js(), source, count=1)


@cache
def css(name: str) -> str:
    """``static/common.css``, then the view's own ``static/<name>`` (which wins where both set a property)."""
    return "\n".join((STATIC / sheet).read_text(encoding="utf-8") for sheet in ("common.css", name))


# -- the static fallback --------------------------------------------------------------------


def with_static_fallback(bundle: Any, html_text: str, plain_text: str) -> Any:
    """Add ``text/html`` and a useful ``text/plain`` to a widget's mimebundle.

    Front ends that render widgets pick the widget view; nbconvert (when the
    notebook carries no widget state) and untrusted or widget-less viewers pick
    the HTML. ipywidgets returns a dict, anywidget a ``(data, metadata)`` pair.
    """
    if bundle is None:
        return None
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    data["text/html"] = html_text
    data["text/plain"] = plain_text
    return bundle


def status_html(status: str) -> str:
    """A run status in its colour (the static twin of ``statusBadge``)."""
    color = STATUS_COLORS.get(status, "var(--jp-ui-font-color2, #616161)")
    return f'<span class="nbops-status" style="color: {color}; font-weight: 600">{html.escape(status)}</span>'


# -- numbers, rounded as JavaScript rounds ---------------------------------------------------
# Python's format() rounds a tie (0.5078125 to 6 digits) to even, JavaScript's toFixed and
# toExponential away from zero. These round the float's exact value as JavaScript does.


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# Enough digits for any float's exact value, so rounding it never raises.
_EXACT = Context(prec=1000, rounding=ROUND_HALF_UP)


def _rounded(value: float, exponent: int) -> Decimal:
    """``value`` rounded to a multiple of 10**exponent, ties away from zero."""
    return Decimal(value).quantize(Decimal(1).scaleb(exponent), context=_EXACT)


def _trim_zeros(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _with_exponent(mantissa: str, exponent: int) -> str:
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _scientific(value: float, decimals: int) -> tuple[str, int]:
    """Mantissa (``decimals`` after the point) and exponent, like JavaScript's toExponential."""
    exponent = Decimal(value).adjusted()
    mantissa = _rounded(value, exponent - decimals)
    if mantissa.adjusted() > exponent:  # 9.996 to two decimals is 1.00e+01
        exponent += 1
        mantissa = _rounded(value, exponent - decimals)
    return f"{mantissa.scaleb(-exponent):.{decimals}f}", exponent


def fixed(value: float, decimals: int) -> str:
    """``decimals`` digits after the point, like JavaScript's toFixed."""
    return f"{_rounded(value + 0.0, -decimals):.{decimals}f}"  # -0.0 + 0.0 is 0.0, as toFixed has it


def exponential(value: float, decimals: int) -> str:
    """Scientific notation: ``exponential(0.000123, 2)`` is ``1.23e-04``."""
    mantissa, exponent = _scientific(value, decimals)
    return _with_exponent(mantissa, exponent)


def significant(value: float, digits: int) -> str:
    """``digits`` significant digits as ``%g`` writes them: 0.123457, 12.3, 1.23457e+06, 1e-05."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    mantissa, exponent = _scientific(value, digits - 1)
    if exponent < -4 or exponent >= digits:
        return _with_exponent(_trim_zeros(mantissa), exponent)
    return _trim_zeros(fixed(value, digits - 1 - exponent))


def grouped(value: float) -> str:
    """A whole number with thousands separators: 1234.5 is ``1,235``."""
    return f"{int(_rounded(value, 0)):,}"


# -- the formats (common.js formats the same way) --------------------------------------------


def format_value(value: Any) -> str:
    """A param or metric: text as it is, whole numbers as they are, others to 6 significant digits."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if value.is_integer() and abs(value) <= 2**53 - 1:
            return str(int(value))
        return significant(value, 6)
    return str(value)


def format_number(value: Any) -> str:
    """Statistics, compactly: ``0.1235``, ``12.35``, ``1,235``, ``1.23e-05``; ``—`` for none."""
    if not _is_number(value):
        return NO_VALUE
    value = float(value)
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return grouped(value)
    if abs(value) < 1e-3:
        return exponential(value, 2)
    return significant(value, 4)


def format_pvalue(value: Any) -> str:
    """p-values: ``0.042``; scientific below 1e-3 (``1.2e-05``); ``—`` for none."""
    if not _is_number(value):
        return NO_VALUE
    value = float(value)
    if value == 0:
        return "0"
    if value < 1e-3:
        return exponential(value, 1)
    return significant(value, 3)


def format_share(value: Any) -> str:
    """A share as a percentage with one decimal: 0.125 is ``12.5%``."""
    return f"{fixed(float(value) * 100, 1)}%" if _is_number(value) else NO_VALUE


def format_count(value: Any) -> str:
    return grouped(float(value)) if _is_number(value) else NO_VALUE


def format_time(epoch_ms: float | None, seconds: bool = True) -> str:
    """Local time, to the second unless ``seconds`` is false.

    Runs compared side by side often start in the same minute.
    """
    if not epoch_ms:
        return NO_VALUE
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(epoch_ms / 1000).strftime(pattern)
