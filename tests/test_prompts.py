"""Prompts: registered from cells only when they change, loaded for use, promoted and rolled back like models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from lab_server import with_nbops_as_alice

from nbops import audit, catalog, lineage, prompts, registry, store
from nbops.errors import InvalidInput, NotFound, PolicyError

BIN = Path(sys.executable).parent
GREETING = "Hello {{name}}, you asked about {{topic}}."
CHAT_YAML = """\
- role: system
  content: You answer questions about {{product}} in one paragraph.
- role: user
  content: "{{question}}"
"""
CHAT = [
    {"role": "system", "content": "You answer questions about {{product}} in one paragraph."},
    {"role": "user", "content": "{{question}}"},
]
PASSED = "passed 0123456789abcdef0123456789abcdef 2026-02-03T04:05:06Z"


def nbops_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "nbops", *args],
        cwd=cwd,
        env={"PATH": str(BIN), "HOME": str(cwd)},
        capture_output=True,
        text=True,
    )


def add_model(name: str) -> None:
    """A registered model with one version (its source is never read by these tests)."""
    client = store.client()
    client.create_registered_model(name)
    client.create_model_version(name, "s3://nowhere/model")


def git_repository(folder: Path) -> str:
    """``folder`` as a git repository with one commit; returns the commit."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(folder)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "pyproject.toml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def events_of(model: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(e.action, e.alias, e.from_version, e.to_version or e.version) for e in audit.events(model=model)]


# --- registering ---------------------------------------------------------------------------------


def test_a_cell_registers_a_version_only_when_its_content_changes_with_diff_variables_and_lineage(
    project: Path,
) -> None:
    commit = git_repository(project)
    notebook = str(project / "prompts.ipynb")

    first = prompts.register("support-reply", GREETING, message="first", notebook=notebook, cell_hash="c1")
    assert (first.created, first.version, first.previous_version) == (True, "1", None)
    assert first.variables == ["name", "topic"]
    assert "+Hello {{name}}, you asked about {{topic}}." in first.diff

    again = prompts.register("support-reply", GREETING, notebook=notebook, cell_hash="c1")
    assert (again.created, again.version, again.diff) == (False, "1", "")
    assert again.variables == ["name", "topic"]
    assert "unchanged: version 1 has this content; nothing registered" in again.summary()
    assert [v["version"] for v in prompts.versions("support-reply")] == ["1"]

    changed = prompts.register(
        "support-reply",
        "Hi {{name}}!\nAbout {{topic}}:",
        message="shorter",
        notebook=notebook,
        cell_hash="c2",
    )
    assert (changed.created, changed.version, changed.previous_version) == (True, "2", "1")
    assert changed.diff.splitlines() == [
        "--- support-reply v1",
        "+++ support-reply v2",
        "@@ -1 +1,2 @@",
        "-Hello {{name}}, you asked about {{topic}}.",
        "+Hi {{name}}!",
        "+About {{topic}}:",
    ]
    newest, oldest = prompts.versions("support-reply")
    assert (newest["version"], newest["message"], oldest["message"]) == ("2", "shorter", "first")
    assert newest["tags"][lineage.TAG_NOTEBOOK] == notebook
    assert newest["tags"][lineage.TAG_CELL_HASH] == "c2"
    assert newest["tags"][lineage.TAG_GIT_COMMIT] == commit
    assert newest["tags"][prompts.TAG_CONTENT_HASH] == changed.content_hash == newest["content_hash"]
    # The audit log has one registration per version, under the prompt's address.
    assert events_of("prompts:/support-reply") == [
        ("register", None, None, "1"),
        ("register", None, None, "2"),
    ]
    assert events_of("support-reply") == []


def test_a_chat_prompt_from_yaml_is_the_same_prompt_as_from_json(project: Path) -> None:
    made = prompts.register("assistant", CHAT_YAML, chat=True)
    assert made.created and made.chat and made.template == CHAT
    assert made.variables == ["product", "question"]
    assert "+[system]" in made.diff and "+{{question}}" in made.diff
    same = prompts.register("assistant", json.dumps(CHAT, indent=2), chat=True)
    assert (same.created, same.version) == (False, "1")
    as_list = prompts.register("assistant", CHAT)
    assert (as_list.created, as_list.version) == (False, "1")
    loaded = prompts.load("assistant/1")
    assert loaded.template == CHAT
    assert loaded.format(product="nbops", question="How?") == [
        {"role": "system", "content": "You answer questions about nbops in one paragraph."},
        {"role": "user", "content": "How?"},
    ]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("- role: system\n  content: [unclosed", "the chat cell is not valid YAML or JSON at line 2"),
        ('[{"role": "user", "content": "x"},]', "the chat cell is not valid YAML or JSON at line 1"),
        (
            "role: user\ncontent: hello",
            "a chat prompt is a non-empty list of role/content messages, not a dict",
        ),
        ("[]", "not an empty list"),
        ("- role: usr\n  content: hello", "chat message 1 has role 'usr'; use one of system"),
        (
            "- role: user\n  content: hi\n- role: user",
            "chat message 2 must have exactly the keys role and content",
        ),
        ("- role: user\n  content: 3", "chat message 1 (user) needs text content"),
    ],
)
def test_a_bad_chat_cell_is_one_line_and_writes_nothing(project: Path, cell: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        prompts.register("assistant", cell, chat=True, alias="dev")
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert prompts.list_prompts() == []
    assert audit.events() == []


def test_a_prompt_cannot_take_a_registered_models_name(project: Path) -> None:
    add_model("churn")
    with pytest.raises(InvalidInput, match="'churn' is a registered model's name"):
        prompts.register("churn", GREETING)
    with pytest.raises(InvalidInput, match="is not a prompt name"):
        prompts.register("bad name!", GREETING)


# --- loading -------------------------------------------------------------------------------------


def test_load_by_alias_version_latest_and_the_prompts_uri(project: Path) -> None:
    prompts.register("support-reply", GREETING, alias="dev")
    prompts.register("support-reply", "Hi {{name}}.")
    assert prompts.load("support-reply@dev").version == 1
    assert prompts.load("prompts:/support-reply@dev").template == GREETING
    assert prompts.load("support-reply/2").template == "Hi {{name}}."
    assert prompts.load("prompts:/support-reply/1").version == 1
    assert prompts.load("support-reply").version == 2  # a bare name is its latest version
    assert [p["name"] for p in prompts.list_prompts()] == ["support-reply"]


def test_under_a_reproduction_new_prompt_text_registers_nothing(project: Path, monkeypatch, capsys) -> None:
    prompts.register("support-reply", GREETING, alias="dev")
    capsys.readouterr()
    monkeypatch.setenv(lineage.ENV_REPRODUCING, "churn/3")
    result = prompts.register("support-reply", "Hi {{name}}.", alias="dev")
    assert (result.held_back, result.created, result.version, result.previous_version) == (
        True,
        False,
        "",
        "1",
    )
    assert "prompt 'support-reply' has new text but was not registered" in capsys.readouterr().out
    assert result.summary().startswith("- prompt support-reply not registered")
    assert [str(v["version"]) for v in prompts.versions("support-reply")] == ["1"]
    assert prompts.load("support-reply@dev").version == 1
    assert prompts.register("support-reply", GREETING).version == "1"  # unchanged text still resolves


def test_rendering_names_every_undefined_variable_in_one_line(project: Path) -> None:
    prompts.register("support-reply", GREETING)
    assert (
        prompts.render("support-reply/1", name="Ada", topic="billing")
        == "Hello Ada, you asked about billing."
    )
    with pytest.raises(InvalidInput) as refused:
        prompts.render(prompts.load("support-reply/1"), topic="billing", extra="x")
    assert str(refused.value) == (
        "prompt support-reply version 1 needs name; pass it, e.g. nbops.prompts.render(prompt, name=...)."
    )
    with pytest.raises(InvalidInput, match="needs name, topic; pass them"):
        prompts.render("support-reply/1")


@pytest.mark.parametrize(
    ("address", "error", "message"),
    [
        (
            "nope@production",
            NotFound,
            "no prompt named 'nope'; nbops.prompts.list_prompts() shows the prompts.",
        ),
        ("support-reply@production", NotFound, "prompt 'support-reply' has no alias 'production'; "),
        ("support-reply/7", NotFound, "prompt 'support-reply' has no version 7; "),
        ("support reply", InvalidInput, "'support reply' is not a prompt address: write NAME@ALIAS"),
    ],
)
def test_an_unknown_prompt_alias_or_version_is_one_line(project: Path, address, error, message) -> None:
    prompts.register("support-reply", GREETING)
    with pytest.raises(error) as refused:
        prompts.load(address)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


# --- promotions, rollbacks, policy ---------------------------------------------------------------


def test_promote_rollback_history_and_audit_of_a_prompt(project: Path) -> None:
    prompts.register("support-reply", GREETING)
    prompts.register("support-reply", "Hi {{name}}.")
    address = "prompts:/support-reply"
    first = registry.promote(address, 1, "production", "first release")
    assert (first["model"], first["from_version"], first["to_version"]) == (address, None, "1")
    registry.promote(address, "2", "production", "shorter is better")
    assert prompts.load("support-reply@production").version == 2
    back = registry.rollback(address, "production", "v2 confuses customers")
    assert (back["from_version"], back["to_version"]) == ("2", "1")
    # MLflow's own prompt alias moved, and a load right after sees it (nothing cached).
    assert store.client().get_prompt_version_by_alias("support-reply", "production").version == 1
    assert prompts.load("support-reply@production").version == 1
    assert prompts.versions("support-reply")[1]["aliases"] == ["production"]
    timeline = registry.history(address)["production"]
    assert [(e["action"], e["from_version"], e["to_version"], e["reason"]) for e in timeline] == [
        ("promote", None, "1", "first release"),
        ("promote", "1", "2", "shorter is better"),
        ("rollback", "2", "1", "v2 confuses customers"),
    ]
    assert registry.rollback_target(address, "production") is None
    with pytest.raises(InvalidInput, match="has no earlier version to roll back to"):
        registry.rollback(address, "production", "again")
    assert [e.model for e in audit.events()] == [address] * 5
    assert audit.verify().ok
    registry.remove_alias(address, "production", "retired")
    assert store.client().get_prompt_version("support-reply", 1).aliases == []


def test_promoting_an_unknown_prompt_or_version_is_not_found(project: Path) -> None:
    prompts.register("support-reply", GREETING)
    with pytest.raises(NotFound, match=r"^no prompt named 'nope'; nbops.prompts.list_prompts"):
        registry.promote("prompts:/nope", 1, "production", "x")
    with pytest.raises(NotFound, match=r"^prompt 'support-reply' has no version 4"):
        registry.promote("prompts:/support-reply", 4, "production", "x")
    with pytest.raises(NotFound, match=r"^no prompt named 'nope'"):
        registry.rollback("prompts:/nope", "production", "x")
    with pytest.raises(InvalidInput, match="is not a prompt address"):
        registry.promote("prompts:/support-reply/1", 1, "production", "x")
    # Addressed without prompts:/ it is not a model, and nbops says so.
    with pytest.raises(NotFound, match=r"^no registered model named 'support-reply'"):
        registry.promote("support-reply", 1, "production", "x")
    assert audit.events(action="promote") == []


def test_the_policy_refuses_a_prompt_promotion_until_its_gate_passed(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text() + '\n[tool.nbops.policy]\nproduction = ["llm_quality"]\n'
    )
    prompts.register("support-reply", GREETING)
    address = "prompts:/support-reply"
    with pytest.raises(PolicyError) as refused:
        registry.promote(address, 1, "production", "ship it")
    assert str(refused.value).startswith(
        "prompts:/support-reply version 1 cannot become production: required gates not passed: "
        "llm_quality (not run)"
    )
    # Registering straight onto the guarded alias is refused before anything is written.
    with pytest.raises(PolicyError, match="cannot take alias 'production' as it is registered"):
        prompts.register("support-reply", "Hi {{name}}.", alias="production")
    assert [v["version"] for v in prompts.versions("support-reply")] == ["1"]
    assert events_of(address) == [("register", None, None, "1")]

    store.client().set_prompt_version_tag("support-reply", 1, "nbops.gate.llm_quality", PASSED)
    assert prompts.versions("support-reply")[0]["gates"] == {"llm_quality": "passed"}
    done = registry.promote(address, 1, "production", "ship it")
    assert done["to_version"] == "1" and "forced" not in done
    # An unchanged cell may carry the alias: the version it names has passed.
    kept = prompts.register("support-reply", GREETING, alias="production")
    assert (kept.created, kept.alias_moved) == (False, False)
    assert "support-reply@production already on version 1" in kept.summary()
    # A project policy for models' aliases applies per prompt too, and a prompt's own table overrides it.
    assert registry.required_gates("production", model=address) == ["llm_quality"]


# --- prompts are never models --------------------------------------------------------------------


def test_prompts_never_appear_among_models(project: Path) -> None:
    add_model("churn")
    prompts.register("support-reply", GREETING, alias="dev")
    prompts.register("assistant", CHAT)
    assert [m["name"] for m in registry.list_models()] == ["churn"]
    page = catalog.models()
    assert [m["name"] for m in page["models"]] == ["churn"] and page["total"] == 1
    one = catalog.models(max_results=1)  # paged: the total is counted in the store
    assert [m["name"] for m in one["models"]] == ["churn"] and one["total"] == 1
    assert one["next_page_token"] is None
    with pytest.raises(NotFound, match="no registered model named 'support-reply'"):
        registry.list_versions("support-reply")
    with pytest.raises(NotFound, match="no registered model named 'support-reply'"):
        catalog.versions("support-reply")
    listed = nbops_cli("registry", "list", "--json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)] == ["churn"]
    assert [p["name"] for p in prompts.list_prompts()] == ["assistant", "support-reply"]


# --- faces: the %%prompt magic, %promote/%rollback and the CLI -----------------------------------


@pytest.fixture
def shell(project: Path):
    ip = InteractiveShell.instance()
    ip.run_line_magic("colors", "nocolor")
    ip.run_line_magic("reload_ext", "nbops")
    yield ip


def test_the_prompt_magic_prints_variables_and_the_diff_and_says_when_nothing_changed(
    shell, project: Path, capsys
) -> None:
    shell.run_cell(f"%%prompt support-reply -m 'first version'\n{GREETING}\n").raise_error()
    out = capsys.readouterr().out
    assert "✓ registered prompt support-reply version 1" in out
    assert "variables: name, topic" in out and f"+{GREETING}" in out
    shell.run_cell(f"%%prompt support-reply\n\n{GREETING}\n\n").raise_error()
    assert "= prompt support-reply unchanged: version 1 has this content" in capsys.readouterr().out
    shell.run_cell(f"%%prompt support-reply --chat --alias dev\n{CHAT_YAML}").raise_error()
    out = capsys.readouterr().out
    assert "✓ registered chat prompt support-reply version 2 (after version 1)" in out
    assert "support-reply@dev → version 2" in out and "variables: product, question" in out
    (newest, oldest) = prompts.versions("support-reply")
    assert oldest["message"] == "first version" and newest["aliases"] == ["dev"]
    assert len(newest["tags"][lineage.TAG_CELL_HASH]) == 64


def test_a_bad_chat_cell_in_the_magic_is_one_line_and_writes_nothing(shell, project: Path, capsys) -> None:
    result = shell.run_cell("%%prompt assistant --chat\n- role: user\n  content: [oops\n")
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert str(result.error_in_exec).startswith("the chat cell is not valid YAML or JSON at line 2")
    assert prompts.list_prompts() == []


def test_promote_and_rollback_a_prompt_from_magics_and_the_command_line(shell, project: Path, capsys) -> None:
    prompts.register("support-reply", GREETING)
    prompts.register("support-reply", "Hi {{name}}.")
    shell.run_line_magic("promote", "prompts:/support-reply 1 --to production --reason 'first'")
    assert "✓ prompts:/support-reply@production → version 1" in capsys.readouterr().out
    done = nbops_cli(
        "promote", "prompts:/support-reply", "2", "--to", "production", "-r", "better", cwd=project
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "prompts:/support-reply@production → version 2 (was version 1)"
    shell.run_line_magic("rollback", "prompts:/support-reply --alias production --reason 'worse'")
    assert "rolled back to version 1 (was 2)" in capsys.readouterr().out
    missing = nbops_cli("rollback", "prompts:/nope", "--alias", "production", "-r", "x", cwd=project)
    assert missing.returncode == 4 and "no prompt named 'nope'" in missing.stderr
    assert [e.source for e in audit.events(action="promote")][1] == "cli"
    assert prompts.load("support-reply@production").version == 1


# --- the sidebar's models endpoint ---------------------------------------------------------------


@pytest.fixture
def jp_server_config(jp_server_config):
    return with_nbops_as_alice(jp_server_config)


async def test_the_sidebars_models_endpoint_leaves_prompts_out(jp_fetch, tracking_uri) -> None:
    add_model("churn")
    prompts.register("support-reply", GREETING)
    response = await jp_fetch("nbops", "api", "models")
    body = json.loads(response.body)
    assert [m["name"] for m in body["models"]] == ["churn"] and body["total"] == 1
    paged = json.loads((await jp_fetch("nbops", "api", "models", params={"max_results": 1})).body)
    assert [m["name"] for m in paged["models"]] == ["churn"] and paged["total"] == 1
