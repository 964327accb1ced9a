"""The base images generated Dockerfiles start from: MIST_BUILDER_IMAGES over the official ones."""

from __future__ import annotations

from collections.abc import Mapping

from mist.errors import InvalidInput

# `{version}` is replaced by the version detected in the repository (or the stack's default).
DEFAULT_IMAGES: dict[str, str] = {
    "python": "python:{version}-slim",
    "node": "node:{version}-slim",
    "go": "golang:{version}",
    "go-runtime": "debian:bookworm-slim",
    "static": "caddy:2",
}


def base_images(configured: Mapping[str, str]) -> dict[str, str]:
    """MIST_BUILDER_IMAGES merged over the defaults. An unknown key is a typo that would otherwise
    silently build with the default image, so it is refused by name."""
    unknown = sorted(set(configured) - set(DEFAULT_IMAGES))
    if unknown:
        raise InvalidInput(
            f"MIST_BUILDER_IMAGES: unknown key {', '.join(map(repr, unknown))};"
            f" the keys are {', '.join(DEFAULT_IMAGES)}"
        )
    for key, image in configured.items():
        # It becomes the argument of a FROM line: one word, nothing that could start another line.
        if not image or any(c.isspace() for c in image):
            raise InvalidInput(f"MIST_BUILDER_IMAGES: the image for {key!r} must be one non-empty word")
    return {**DEFAULT_IMAGES, **configured}


def image(images: Mapping[str, str], key: str, version: str = "") -> str:
    """The image for `key` with the detected version put in its `{version}`."""
    return images.get(key, DEFAULT_IMAGES[key]).replace("{version}", version)
