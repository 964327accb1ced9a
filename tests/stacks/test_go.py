"""Go detection: the main package, the version of go.mod, a static binary in a slim runtime image."""

from __future__ import annotations

import pytest

from mist.errors import Unbuildable
from mist.stacks import Overrides
from stacks.repos import Build, assert_in_order, assert_parseable, instructions

GO_MOD = "module example.com/app\n\ngo 1.21.5\n\nrequire github.com/x/y v1.0.0\n"
MAIN = "package main\n\nfunc main() {}\n"


@pytest.mark.parametrize(("files", "package"), [
    ({"main.go": MAIN, "main_test.go": "package main\n"}, "."),
    ({"cmd/server/main.go": MAIN, "internal/x/x.go": "package x\n"}, "./cmd/server"),
    ({"cmd/server/main.go": MAIN, "cmd/lib/lib.go": "package lib\n", "cmd/README": ""}, "./cmd/server"),
    ({"server.go": "// a comment\npackage main\n", "util.go": "package main\n"}, "."),
])
def test_the_main_package_is_built(build: Build, files: dict[str, str], package: str) -> None:
    found = build({"go.mod": GO_MOD, "go.sum": "", **files})
    assert found.builder == "go"
    assert_parseable(found.dockerfile)
    assert_in_order(
        found.dockerfile, "FROM golang:1.21 AS build", "WORKDIR /src", "COPY go.mod go.sum ./", "RUN go mod download",
        "COPY . .", "ENV CGO_ENABLED=0", f"RUN go build -trimpath -o /out/app {package}", "FROM debian:bookworm-slim",
        "COPY --from=build /out/ /app/", 'CMD ["sh", "-c", "exec /app/app"]',
    )
    assert "Go 1.21 (from the go line of go.mod)" in found.findings


def test_without_go_sum_or_go_line(build: Build) -> None:
    found = build({"go.mod": "module x\n", "main.go": MAIN}, images={"go": "my-go", "go-runtime": "my-runtime"})
    assert_in_order(found.dockerfile, "FROM my-go AS build", "COPY go.mod ./", "FROM my-runtime")
    assert "Go 1.22 (the default: go.mod has no go line)" in found.findings


def test_vendored_modules_are_not_downloaded(build: Build) -> None:
    found = build({"go.mod": GO_MOD, "vendor/modules.txt": "", "main.go": MAIN})
    assert "RUN go mod download" not in found.dockerfile
    assert instructions(found.dockerfile)[:3] == ["FROM golang:1.21 AS build", "WORKDIR /src", "COPY . ."]


def test_build_and_start_commands_override(build: Build) -> None:
    found = build({"go.mod": GO_MOD, "cmd/a/main.go": MAIN, "cmd/b/main.go": MAIN, "Procfile": "web: ./server\n"},
                  overrides=Overrides(build_command="go build -o /out/server ./cmd/b"), build_args=["GOPROXY"])
    assert_in_order(found.dockerfile, "FROM golang:1.21 AS build", "ARG GOPROXY", "RUN go build -o /out/server ./cmd/b",
                    'CMD ["sh", "-c", "./server"]')


@pytest.mark.parametrize(("files", "message"), [
    ({"cmd/a/main.go": MAIN, "cmd/b/main.go": MAIN}, r"several main packages under cmd/ \(a, b\).*buildCommand"),
    ({"lib.go": "package lib\n"}, "no main package.*buildCommand"),
])
def test_an_unclear_main_package_is_said(build: Build, files: dict[str, str], message: str) -> None:
    with pytest.raises(Unbuildable, match=message):
        build({"go.mod": GO_MOD, **files})
