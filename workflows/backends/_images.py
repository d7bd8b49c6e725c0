"""Container image references: ``[registry[:port]/]repository[:tag][@digest]``."""

from __future__ import annotations


def image_repository(image: str) -> str:
    """The reference without tag and digest (``reg:5000/app:1.2@sha256:..`` -> ``reg:5000/app``)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    # A colon before the last slash belongs to the registry's port, not to a tag.
    return name[:colon] if colon > slash else name


def with_version(image: str, version: str) -> str:
    """``image`` pointing at ``version``: a tag, or a digest when it is one (``sha256:...``)."""
    repository = image_repository(image)
    if version.startswith("sha256:"):
        return f"{repository}@{version}"
    return f"{repository}:{version}"
