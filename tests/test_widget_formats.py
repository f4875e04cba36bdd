"""One definition of each format: the Python core, the widgets' static fallback and their live views agree.

``tests/data/format_cases.json`` holds the project's cases for durations and values (the
sidebar's ``format.ts`` is tested against them too). ``EXTRA`` pins what those leave open:
rounding ties (Python's ``format`` rounds to even, JavaScript away from zero), exponents,
non-finite numbers, and the statistics, shares, counts and times the widgets show.
The JavaScript side is ``nbops/widgets/static/common.js`` run by a real ``node``; each
widget's composed front end is loaded by node as well, as the browser loads it.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nbops.tracking import format_duration
from nbops.widgets import common

CASES = json.loads((Path(__file__).parent / "data" / "format_cases.json").read_text(encoding="utf-8"))

PYTHON: dict[str, Callable[..., str]] = {
    "formatDuration": format_duration,
    "formatValue": common.format_value,
    "formatNumber": common.format_number,
    "formatPValue": common.format_pvalue,
    "formatShare": common.format_share,
    "formatCount": common.format_count,
    "formatTime": common.format_time,
}

NAN, INF = float("nan"), float("inf")
# (JavaScript function, arguments, what both sides show)
EXTRA: list[tuple[str, list[Any], str]] = [
    ("formatDuration", [999.6], "999 ms"),  # floored, never "1000 ms"
    ("formatDuration", [850.5], "850 ms"),
    ("formatDuration", [59_950], "59.9 s"),
    ("formatDuration", [60_999], "1 min"),
    ("formatDuration", [90_061_000], "25 h 1 min"),
    ("formatDuration", [NAN], "—"),
    ("formatDuration", [INF], "—"),
    ("formatValue", [1e-05], "1e-05"),
    ("formatValue", [0.000123456789], "0.000123457"),
    ("formatValue", [1234567.891], "1.23457e+06"),
    ("formatValue", [3.0], "3"),
    ("formatValue", [-2.5], "-2.5"),
    ("formatValue", [0.5078125], "0.507813"),  # a tie: 65 of 128 right
    ("formatValue", [2.0**60], "1.15292e+18"),  # past 2**53 a float is no longer a whole number to trust
    ("formatValue", [NAN], "nan"),
    ("formatValue", [-INF], "-inf"),
    ("formatValue", [""], ""),
    ("formatNumber", [None], "—"),
    ("formatNumber", [0], "0"),
    ("formatNumber", [0.123456], "0.1235"),
    ("formatNumber", [12.3456], "12.35"),
    ("formatNumber", [999.94], "999.9"),
    ("formatNumber", [999.96], "1000"),
    ("formatNumber", [1234.5], "1,235"),
    ("formatNumber", [-1234.5], "-1,235"),
    ("formatNumber", [0.0001234], "1.23e-04"),
    ("formatNumber", [-2.5], "-2.5"),
    ("formatNumber", [1.0625], "1.063"),  # a tie
    ("formatNumber", [NAN], "—"),
    ("formatPValue", [None], "—"),
    ("formatPValue", [0.0], "0"),
    ("formatPValue", [0.5], "0.5"),
    ("formatPValue", [0.0421], "0.0421"),
    ("formatPValue", [0.001], "0.001"),
    ("formatPValue", [0.00099], "9.9e-04"),
    ("formatPValue", [1e-300], "1.0e-300"),
    ("formatPValue", [0.0625], "0.0625"),
    ("formatShare", [0.125], "12.5%"),
    ("formatShare", [0.5], "50.0%"),
    ("formatShare", [None], "—"),
    ("formatCount", [1234], "1,234"),
    ("formatCount", [0], "0"),
    ("formatCount", [None], "—"),
]
ALL = [
    *(("formatDuration", [ms], text) for ms, text in CASES["duration"]),
    *(("formatValue", [value], text) for value, text in CASES["value"]),
    *EXTRA,
]
# Local times, in a zone with a daylight-saving rule: 1700000000123 is 22:13:20 UTC.
TIMES = [
    ("formatTime", [1_700_000_000_123], "2023-11-14 23:13:20"),
    ("formatTime", [1_700_000_000_123, False], "2023-11-14 23:13"),
    ("formatTime", [1_690_000_000_000], "2023-07-22 06:26:40"),
    ("formatTime", [0], "—"),
    ("formatTime", [None], "—"),
]
ZONE = "Europe/Berlin"

WIDGETS = ["RunCard", "CompareWidget", "RegistryWidget", "DriftReport", "MetricChart"]


def _data_url(source: str) -> str:
    return "data:text/javascript;base64," + base64.b64encode(source.encode()).decode()


def _encode(value: Any) -> Any:
    """JSON has no NaN or infinities: send them as their JavaScript names."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"number": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    return value


def _node(script: str, env: dict[str, str] | None = None) -> Any:
    """Run an ES module under node; what it prints as JSON."""
    node = shutil.which("node")
    assert node, "node is not on PATH: the widgets' JavaScript cannot be checked (apt-get install nodejs)"
    done = subprocess.run(
        [node, "--input-type=module"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _in_javascript(cases: list[tuple[str, list[Any], str]], env: dict[str, str] | None = None) -> list[str]:
    calls = json.dumps([[name, [_encode(arg) for arg in args]] for name, args, _ in cases])
    common_js = (common.STATIC / "common.js").read_text(encoding="utf-8")
    script = f"""
const helpers = await import({json.dumps(_data_url(common_js))});
const decode = (v) => (v !== null && typeof v === "object" && "number" in v ? Number(v.number) : v);
const calls = {calls};
console.log(JSON.stringify(calls.map(([name, args]) => helpers[name](...args.map(decode)))));
"""
    return _node(script, env)


def _differences(cases: list[tuple[str, list[Any], str]], got: list[str]) -> list[str]:
    return [
        f"{name}({', '.join(map(repr, args))}) = {shown!r}, not {text!r}"
        for (name, args, text), shown in zip(cases, got, strict=True)
        if shown != text
    ]


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process in ``ZONE``, as the browser of a user there would be."""
    monkeypatch.setenv("TZ", ZONE)
    time.tzset()
    yield ZONE
    monkeypatch.undo()
    time.tzset()


def test_python_formats_as_the_cases_say() -> None:
    got = [PYTHON[name](*args) for name, args, _ in ALL]
    assert _differences(ALL, got) == []


def test_the_widgets_javascript_formats_as_the_cases_say() -> None:
    assert _differences(ALL, _in_javascript(ALL)) == []


def test_times_are_local_and_the_same_on_both_sides(zone: str) -> None:
    assert _differences(TIMES, [PYTHON[name](*args) for name, args, _ in TIMES]) == []
    assert _differences(TIMES, _in_javascript(TIMES, {"TZ": zone})) == []


# -- one helper module, composed into every widget's front end -------------------------------


def _widget(name: str) -> Any:
    import nbops.widgets

    return getattr(nbops.widgets, name)


def _view_sources() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(common.STATIC.glob("*.js"))
        if path.name != "common.js"
    }


def test_every_widget_loads_as_one_module_with_the_shared_helpers() -> None:
    modules = {name: _widget(name)._esm for name in WIDGETS}
    for name, module in modules.items():
        assert module.count("function formatDuration(") == 1, name
        assert not re.search(r"^import\b", module, re.MULTILINE), name
    script = f"""
const modules = {json.dumps({name: _data_url(module) for name, module in modules.items()})};
const loaded = {{}};
for (const [name, url] of Object.entries(modules)) {{
  const mod = await import(url);
  loaded[name] = [Object.keys(mod), typeof mod.default.render];
}}
console.log(JSON.stringify(loaded));
"""
    # A view that defined a helper again would not load: a module may declare a name once.
    assert _node(script) == {name: [["default"], "function"] for name in WIDGETS}


def test_views_import_every_helper_they_use_and_define_none() -> None:
    # Each view stays a module of its own (for editors, linters and node): it imports what it uses.
    common_js = (common.STATIC / "common.js").read_text(encoding="utf-8")
    shared = set(re.findall(r"^export (?:function|const) (\w+)", common_js, re.MULTILINE))
    assert {"h", "svg", "formatDuration", "formatValue", "statusBadge", "batched", "watch"} <= shared
    for name, source in _view_sources().items():
        (names,) = re.findall(r'^import\s*\{([^}]*)\}\s*from "\./common\.js";', source, re.MULTILINE)
        imported = {n.strip() for n in names.split(",") if n.strip()}
        body = source[source.index('from "./common.js";') :]
        local = set(re.findall(r"\b(?:const|let|function) (\w+)", body))
        assert not local & imported, f"{name} defines {sorted(local & imported)} again"
        words = set(re.findall(r"(?<![\w.$\"'-])([A-Za-z_$][\w$]*)", body))
        assert imported <= shared, f"{name} imports {sorted(imported - shared)}, which common.js lacks"
        assert (words & shared) - local == imported, (
            f"{name} uses {sorted((words & shared) - local - imported)}"
        )


def test_every_widget_sheet_starts_with_the_shared_one() -> None:
    shared = (common.STATIC / "common.css").read_text(encoding="utf-8")
    for name in WIDGETS:
        sheet = _widget(name)._css
        assert sheet.startswith(shared), name
        assert sheet.count(".nbops-badge-failed {") == 1, name


def test_a_view_that_does_not_import_the_helpers_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "common.js").write_text("export function h() {}\n")
    (tmp_path / "lonely.js").write_text("function h() {}\nexport default { render() {} };\n")
    monkeypatch.setattr(common, "STATIC", tmp_path)
    common.esm.cache_clear()
    common._common_js.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"lonely\.js must import its helpers .* found 0"):
            common.esm("lonely.js")
    finally:
        common.esm.cache_clear()
        common._common_js.cache_clear()


def test_the_shared_classes_are_not_the_sidebars() -> None:
    # JupyterLab loads the sidebar's stylesheet for the whole page: a shared widget class named
    # like one of its classes (.nbops-table, .nbops-title) would take its smaller, greyer look.
    def classes(sheets: list[Path]) -> set[str]:
        rules = [re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.DOTALL) for sheet in sheets]
        return {name for text in rules for name in re.findall(r"\.(nbops-[\w-]+)", text)}

    sidebar = classes(sorted((Path(__file__).parents[1] / "lab_extension" / "style").glob("*.css")))
    assert sidebar, "the sidebar's stylesheets were not found"
    assert classes([common.STATIC / "common.css"]) & sidebar == set()
