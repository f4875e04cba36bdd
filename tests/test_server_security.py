"""What the REST API refuses, through a real Jupyter server: strangers, forgeries, paths, markup, floods.

Each test names what a user (or an attacker) would see. Path-like identifiers are sent both as the
server receives a percent-encoded URL segment and raw on the wire, and the store is watched so a
refusal provably read nothing.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from jupyter_server.auth.authorizer import Authorizer
from mlflow import MlflowClient
from tornado.httpclient import HTTPClientError

from nbops import catalog, store
from nbops.server import ROUTES

SAMPLE = {"name": "churn", "version": "1", "deployment_id": "0123456789abcdef0123456789abcdef"}
BODIES = {
    "models/{name}/promote": {"version": "1", "alias": "champion", "reason": "ship it"},
    "models/{name}/rollback": {"alias": "champion", "reason": "undo"},
    "prompts/{name}/promote": {"version": "1", "alias": "production", "reason": "ship it"},
    "prompts/{name}/rollback": {"alias": "production", "reason": "undo"},
    "models/{name}/canary/promote": {"reason": "ship it"},
    "models/{name}/canary/abort": {"reason": "stop it"},
}
PATH_LIKE = [
    "../x",
    "a/../../x",
    "/etc/passwd",
    "%2e%2e%2f",
    "%252e%252e%252f",
    "..\\x",
    "C:\\x",
    "file:///etc/passwd",
    "x#/../..",
]


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["ServerApp"]["jpserver_extensions"]["nbops"] = True
    return jp_server_config


def every_route_and_method() -> list[tuple[str, str]]:
    return [
        (template, method.upper())
        for template, cls in ROUTES
        for method in ("get", "post", "put", "patch", "delete")
        if method in vars(cls)
    ]


def request_for(template: str, method: str) -> tuple[tuple[str, ...], dict]:
    parts = tuple(template.format(**SAMPLE).split("/"))
    kwargs = {"method": method}
    if method == "POST":
        kwargs["body"] = json.dumps(BODIES.get(template, {}))
    return parts, kwargs


async def fails(request) -> tuple[int, dict]:
    """Status and JSON body of a request that must fail; no traceback may be in it."""
    with pytest.raises(HTTPClientError) as info:
        await request
    text = info.value.response.body.decode()
    assert "Traceback" not in text and 'File "' not in text
    is_json = info.value.response.headers.get("Content-Type", "").startswith("application/json")
    return info.value.code, json.loads(text) if is_json else {}


@pytest.fixture
def store_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every attempt to reach the store, refused and recorded."""
    reads: list[str] = []

    def refuse(*args, **kwargs):
        reads.append("store")
        raise AssertionError("the store was read")

    monkeypatch.setattr(store, "client", refuse)
    monkeypatch.setattr(store, "settings", refuse)
    return reads


# --- authentication, authorization, XSRF ---------------------------------------------------------


@pytest.mark.parametrize(("template", "method"), every_route_and_method())
async def test_every_route_refuses_requests_without_a_token(
    jp_fetch, tracking_uri, store_reads, template, method
) -> None:
    parts, kwargs = request_for(template, method)
    code, _ = await fails(jp_fetch("nbops", "api", *parts, headers={"Authorization": ""}, **kwargs))
    assert code == 403
    assert store_reads == []


class DenyAll(Authorizer):
    """An authorizer that says no to everyone, for everything."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return False


class TestAnAuthorizerThatDeniesEverything:
    @pytest.fixture
    def jp_server_config(self, jp_server_config):
        jp_server_config["ServerApp"]["authorizer_class"] = DenyAll
        return jp_server_config

    @pytest.mark.parametrize(("template", "method"), every_route_and_method())
    async def test_is_obeyed_on_every_route_even_with_a_valid_token(
        self, jp_fetch, tracking_uri, store_reads, template, method
    ) -> None:
        parts, kwargs = request_for(template, method)
        code, _ = await fails(jp_fetch("nbops", "api", *parts, **kwargs))
        assert code == 403
        assert store_reads == []


async def login_cookie(jp_fetch) -> str:
    """The session cookie a browser holds after logging in with the token."""
    response = await jp_fetch("nbops", "api", "status")
    cookies = [c.split(";")[0] for c in response.headers.get_list("Set-Cookie")]
    (login,) = [c for c in cookies if c.startswith("username-")]
    return login


async def test_a_post_with_the_session_cookie_needs_the_xsrf_token(jp_fetch, tracking_uri) -> None:
    MlflowClient(tracking_uri).create_registered_model("churn")
    body = json.dumps({"alias": "champion", "reason": "undo"})
    cookie = await login_cookie(jp_fetch)
    cookie_only = {"Authorization": "", "Cookie": cookie}

    # The cookie alone authenticates a GET...
    assert (await jp_fetch("nbops", "api", "models", headers=cookie_only)).code == 200
    # ...but a POST a foreign page could forge with the same cookie is refused before nbops runs,
    code, answer = await fails(
        jp_fetch("nbops", "api", "models", "churn", "rollback", method="POST", body=body, headers=cookie_only)
    )
    assert code == 403 and "xsrf" in answer["message"].lower()
    # while a page that can read the _xsrf cookie (the JupyterLab sidebar) gets through to nbops,
    with_xsrf = {"Authorization": "", "Cookie": f"{cookie}; _xsrf=0123abcd", "X-XSRFToken": "0123abcd"}
    code, answer = await fails(
        jp_fetch("nbops", "api", "models", "churn", "rollback", method="POST", body=body, headers=with_xsrf)
    )
    assert code == 400 and "no earlier version to roll back to" in answer["message"]
    # and so does a token (a script or the CLI): tokens cannot be sent by another site's page.
    code, answer = await fails(
        jp_fetch("nbops", "api", "models", "churn", "rollback", method="POST", body=body)
    )
    assert code == 400 and "no earlier version to roll back to" in answer["message"]


# --- path-like identifiers -----------------------------------------------------------------------


async def raw_fetch(http_server_client, jp_base_url, jp_auth_header, path: str, **kwargs):
    """A request whose path goes on the wire exactly as given (jp_fetch would escape it again)."""
    return await http_server_client.fetch(
        f"{jp_base_url.rstrip('/')}/nbops/api/{path}", headers=dict(jp_auth_header), **kwargs
    )


def segment_requests(value: str) -> list[tuple[str, dict]]:
    """Every route with ``value`` as a path segment, percent-encoded as a browser would send it."""
    encoded = quote(value, safe="")
    promote = json.dumps(BODIES["models/{name}/promote"])
    return [
        (f"models/{encoded}/versions", {}),
        (f"models/{encoded}/versions/1", {}),
        (f"models/churn/versions/{encoded}", {}),
        (f"models/{encoded}/versions/1/monitoring", {}),
        (f"models/churn/versions/{encoded}/monitoring", {}),
        (f"models/{encoded}/promote", {"method": "POST", "body": promote}),
        (
            f"models/{encoded}/rollback",
            {"method": "POST", "body": json.dumps(BODIES["models/{name}/rollback"])},
        ),
        (f"prompts/{encoded}/versions", {}),
        (f"prompts/{encoded}/diff?from=1&to=2", {}),
        (f"prompts/{encoded}/usage?alias=production", {}),
        (f"deployments/{encoded}/traffic", {}),
        (f"models/{encoded}/canary/promote", {"method": "POST", "body": json.dumps({"reason": "r"})}),
        (f"models/{encoded}/canary/abort", {"method": "POST", "body": json.dumps({"reason": "r"})}),
        (
            f"prompts/{encoded}/promote",
            {"method": "POST", "body": json.dumps(BODIES["prompts/{name}/promote"])},
        ),
        (
            f"prompts/{encoded}/rollback",
            {"method": "POST", "body": json.dumps(BODIES["prompts/{name}/rollback"])},
        ),
    ]


def query_and_body_requests(value: str) -> list[tuple[str, dict]]:
    encoded = quote(value, safe="")
    return [
        (f"audit?model={encoded}", {}),
        (f"alerts?model={encoded}", {}),
        (f"readiness?model={encoded}", {}),
        (f"models/churn/versions/1/monitoring?metrics={encoded}", {}),
        (f"prompts/answer/diff?from={encoded}&to=1", {}),
        (f"prompts/answer/diff?from=1&to={encoded}", {}),
        (f"prompts/answer/usage?alias={encoded}", {}),
        (f"prompts/answer/usage?version={encoded}", {}),
        (
            "models/churn/promote",
            {"method": "POST", "body": json.dumps({"version": value, "alias": "champion", "reason": "r"})},
        ),
        (
            "models/churn/promote",
            {"method": "POST", "body": json.dumps({"version": "1", "alias": value, "reason": "r"})},
        ),
        ("models/churn/rollback", {"method": "POST", "body": json.dumps({"alias": value, "reason": "r"})}),
    ]


@pytest.mark.parametrize("value", PATH_LIKE)
async def test_path_like_names_and_versions_are_400s_that_read_nothing(
    http_server_client, jp_base_url, jp_auth_header, tracking_uri, store_reads, value
) -> None:
    for path, kwargs in segment_requests(value) + query_and_body_requests(value):
        code, body = await fails(raw_fetch(http_server_client, jp_base_url, jp_auth_header, path, **kwargs))
        assert code == 400, (path, body)
        assert body["error"] == "InvalidInput" and "\n" not in body["message"], path
    assert store_reads == []


@pytest.mark.parametrize(
    "path",
    [
        "models/%2e%2e%2fx/versions",  # decoded once by tornado: ../x
        "models/%252e%252e%252f/versions",  # decoded once: %2e%2e%2f, which must not be decoded again
        "models/%2e%2e/versions",
        "models/../versions",  # a raw .. segment is a name too
        "models/churn/versions/..",
        "models/churn/versions/%2e%2e%2f..%2f",
        "models/..%5Cx/versions",
        "models/C%3A%5Cx/versions/1",
        "models/file%3A%2F%2F%2Fetc%2Fpasswd/versions",
        "models/x%23%2F..%2F../versions",
        "audit?model=%2e%2e%2f",
        "audit?model=%252e%252e%252f",
        "readiness?model=%2e%2e%2f",
    ],
)
async def test_raw_encoded_traversals_on_the_wire_are_400s_that_read_nothing(
    http_server_client, jp_base_url, jp_auth_header, tracking_uri, store_reads, path
) -> None:
    code, body = await fails(raw_fetch(http_server_client, jp_base_url, jp_auth_header, path))
    assert code == 400 and body["error"] == "InvalidInput", body
    assert store_reads == []


async def test_unencoded_traversals_never_reach_nbops(
    http_server_client, jp_base_url, jp_auth_header, tracking_uri, store_reads
) -> None:
    """``models/../../x/versions`` matches no nbops route: Jupyter answers 404 and nbops reads nothing."""
    for path in ["models/../../x/versions", "models/a/../../x/versions/1"]:
        code, _ = await fails(raw_fetch(http_server_client, jp_base_url, jp_auth_header, path))
        assert code == 404
    assert store_reads == []


# --- markup in user text -------------------------------------------------------------------------

SCRIPT = "<script>alert('card')</script>"
#: What a Markdown model card may become: no scripts, images, frames, forms or styles.
SAFE_TAGS = {
    "h1",
    "h2",
    "h3",
    "p",
    "strong",
    "em",
    "code",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "ul",
    "li",
    "br",
}


def parse_html(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element of ``html`` with its attributes, as a browser's parser would see them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


IMAGE = '<img src=x onerror="alert(1)">'
LINK = "[click me](javascript:alert(document.cookie))"


async def test_markup_in_cards_descriptions_and_reasons_is_escaped_in_html_and_inert_in_json(
    jp_fetch, tracking_uri
) -> None:
    client = MlflowClient(tracking_uri)
    client.create_registered_model("churn", description=SCRIPT)
    client.create_model_version("churn", "s3://nowhere/model", description=f"{SCRIPT} {IMAGE} {LINK}")
    client.set_model_version_tag("churn", "1", "nbops.card.intended_use", f"{IMAGE} {LINK}")
    promote = {"version": "1", "alias": "champion", "reason": f"{SCRIPT} {LINK}"}
    await jp_fetch("nbops", "api", "models", "churn", "promote", method="POST", body=json.dumps(promote))

    response = await jp_fetch("nbops", "api", "models", "churn", "versions", "1")
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = json.loads(response.body)["card_html"]
    elements = parse_html(html)
    assert {tag for tag, _ in elements} <= SAFE_TAGS, elements
    for tag, attrs in elements:
        assert not [name for name, _ in attrs if name.startswith("on")], (tag, attrs)
        assert not [v for n, v in attrs if n in ("href", "src") and "javascript" in (v or "").lower()], attrs
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=" in html  # shown, as text
    assert "click me" in html

    # Text fields are data: returned exactly, as JSON strings, for the sidebar to show as text.
    detail = json.loads(response.body)
    assert detail["description"] == f"{SCRIPT} {IMAGE} {LINK}"
    (row,) = json.loads((await jp_fetch("nbops", "api", "models")).body)["models"]
    assert row["description"] == SCRIPT
    (event,) = json.loads((await jp_fetch("nbops", "api", "audit", params={"model": "churn"})).body)[
        "events"
    ][:1]
    assert event["reason"] == f"{SCRIPT} {LINK}"


# --- bodies and errors ---------------------------------------------------------------------------


async def test_an_oversized_body_is_a_413_before_it_is_parsed(jp_fetch, tracking_uri, store_reads) -> None:
    route = ("nbops", "api", "models", "churn", "promote")
    oversized = json.dumps({"version": "1", "alias": "champion", "reason": "x" * 64 * 1024}).encode()
    code, answer = await fails(jp_fetch(*route, method="POST", body=oversized))
    assert code == 413 and "at most 65,536" in answer["message"]
    # Not valid JSON either: the size is what is reported, because the body is never parsed.
    code, _ = await fails(jp_fetch(*route, method="POST", body=b"{" * (64 * 1024 + 1)))
    assert code == 413
    assert store_reads == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'["version", "1"]', "must be a JSON object, not list"),
        (b'"champion"', "must be a JSON object, not str"),
        (
            b'{"version": "1", "alias": "champion", "reason": "r", "actor": "mallory"}',
            "unknown field(s) 'actor'",
        ),
    ],
)
async def test_malformed_bodies_are_400s(jp_fetch, tracking_uri, store_reads, body, message) -> None:
    code, answer = await fails(
        jp_fetch("nbops", "api", "models", "churn", "promote", method="POST", body=body)
    )
    assert code == 400 and message in answer["message"]
    assert store_reads == []


async def test_an_internal_error_is_a_500_with_a_generic_message_and_no_details(
    jp_fetch, tracking_uri, monkeypatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("connection to postgresql://ml:hunter2@db failed in /srv/secret/path.py")

    monkeypatch.setattr(catalog, "models", broken)
    code, body = await fails(jp_fetch("nbops", "api", "models"))
    assert code == 500
    assert body == {
        "message": "nbops hit an internal error; the Jupyter server log has the details.",
        "error": "InternalError",
    }


async def test_forged_identity_fields_cannot_choose_the_audit_actor(jp_fetch, tracking_uri) -> None:
    """The actor is the authenticated Jupyter user; a body cannot name someone else."""
    client = MlflowClient(tracking_uri)
    client.create_registered_model("churn")
    client.create_model_version("churn", "s3://nowhere/model")
    body = {"version": "1", "alias": "champion", "reason": "r", "source": "cli"}
    code, answer = await fails(
        jp_fetch("nbops", "api", "models", "churn", "promote", method="POST", body=json.dumps(body))
    )
    assert code == 400 and "unknown field(s) 'source'" in answer["message"]
