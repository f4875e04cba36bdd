"""Handing models to the engines that run them at scale: OCI images (and Kubernetes manifests).

``nbops deploy image MODEL@ALIAS`` writes a build context for a registered version (its model
directory, pinned requirements, optionally an offline wheelhouse, and a Dockerfile of nbops' own)
and builds it with podman or Docker; the image runs ``nbops serve``. Importing this package is
cheap: the submodules load MLflow and run the container engine only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .image import BuiltImage

__all__ = ["build_image"]


def build_image(model: str, **options: Any) -> BuiltImage:
    """Build the image of ``model`` ("NAME@ALIAS" or "NAME/VERSION"); see :func:`nbops.deploy.image.build`."""
    from .image import build

    return build(model, **options)
