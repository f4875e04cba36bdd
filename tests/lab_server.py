"""The Jupyter server the REST tests start (``pytest-jupyter``'s ``jp_fetch``): nbops on, a named user.

Token users are anonymous by default; a fixed name (``alice``) lets the tests check that the
audit log's actor is the authenticated Jupyter user.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider, User


class Alice(PasswordIdentityProvider):
    def generate_anonymous_user(self, handler: Any) -> User:
        return User("alice", "Alice", "Alice", "A", None, None)


def with_nbops_as_alice(jp_server_config: Any) -> Any:
    """``jp_server_config`` with the nbops server extension enabled and ``alice`` signed in."""
    jp_server_config["ServerApp"]["jpserver_extensions"]["nbops"] = True
    jp_server_config["ServerApp"]["identity_provider_class"] = Alice
    return jp_server_config
