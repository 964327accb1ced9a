"""Locally built base images for the test-suite (no registry is reachable).

Every ``ensure_*`` function is idempotent and returns the image tag; it is
cheap when the image already exists in the engine.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

BUSYBOX_TAG = "mist-test/busybox:1"
PYTHON_TAG = "mist-test/python:bookworm"
REDIS_TAG = "mist-test/redis:7"

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEFAULT_CACHE_DIR = "/var/cache/mist-tests"

# Bump when the rootfs recipe changes so stale cached tarballs are not reused.
_PYTHON_ROOTFS_VERSION = 2
_DEBOOTSTRAP_INCLUDE = ("python3", "redis-server")


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _import(client: docker.DockerClient, src: str | bytes, tag: str, changes: list[str]) -> None:
    repository, _, version = tag.rpartition(":")
    if isinstance(src, bytes):
        client.api.import_image_from_data(src, repository=repository, tag=version, changes=changes)
    else:
        client.api.import_image(src=src, repository=repository, tag=version, changes=changes)
    # The import endpoint reports some failures only inside its JSON stream,
    # so confirm the tag really exists instead of trusting the HTTP status.
    client.images.get(tag)


# --------------------------------------------------------------------------- busybox


def _busybox_rootfs_tar(busybox: str = "/bin/busybox") -> bytes:
    applets = subprocess.run(
        [busybox, "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    buf = io.BytesIO()

    def add(name: str, *, mode: int, kind: bytes = tarfile.DIRTYPE,
            data: bytes = b"", link: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.linkname = kind, mode, link
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "root", "usr", "usr/bin", "var"):
            add(d, mode=0o755)
        add("tmp", mode=0o1777)
        add("bin/busybox", mode=0o755, kind=tarfile.REGTYPE, data=Path(busybox).read_bytes())
        for applet in applets:
            if applet != "busybox":
                add(f"bin/{applet}", mode=0o777, kind=tarfile.SYMTYPE, link="busybox")
        add("etc/passwd", mode=0o644, kind=tarfile.REGTYPE,
            data=b"root:x:0:0:root:/root:/bin/sh\n")
        add("etc/group", mode=0o644, kind=tarfile.REGTYPE, data=b"root:x:0:\n")
    return buf.getvalue()


def ensure_busybox_image(client: docker.DockerClient) -> str:
    """Tiny shell image built from the host's static busybox (~1 s)."""
    if not image_exists(client, BUSYBOX_TAG):
        # Concurrent callers may both import; that only retags identical content.
        _import(client, _busybox_rootfs_tar(), BUSYBOX_TAG,
                [f"ENV PATH={DEFAULT_PATH}", 'CMD ["sh"]'])
    return BUSYBOX_TAG


# --------------------------------------------------------------------------- python / redis


def cache_dir() -> Path:
    path = Path(os.environ.get("MIST_TEST_CACHE", DEFAULT_CACHE_DIR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def debian_mirror() -> str:
    """MIST_TEST_DEBIAN_MIRROR, else the mirror apt on this host uses for bookworm."""
    if env := os.environ.get("MIST_TEST_DEBIAN_MIRROR"):
        return env
    return _mirror_from_apt_sources(Path("/etc/apt")) or DEFAULT_DEBIAN_MIRROR


def _mirror_from_apt_sources(apt_dir: Path) -> str | None:
    candidates: list[tuple[str, list[str]]] = []  # (uri, suites)
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            # "deb [opts] URI suite comps..."; the [opts] block may contain spaces.
            words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                candidates.append((words[1], [words[2]]))
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text(errors="replace")):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                suites = fields.get("suites", "").split()
                candidates += [(uri, suites) for uri in fields.get("uris", "").split()]
    # Prefer the entry that serves the plain "bookworm" suite (not -security/-updates).
    for uri, suites in candidates:
        if "bookworm" in suites and uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    return None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # blocks while another pytest process builds
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as fh:
        points = [line.split()[1].replace("\\040", " ") for line in fh]
    return [p for p in points if p.startswith(prefix)]


def _remove_build_dir(build: Path) -> None:
    # debootstrap mounts proc/sys (and may bind-mount the host /dev) into the
    # target; if it died half-way those are still mounted, and rmtree through
    # a bind-mounted /dev would delete the host's device nodes.
    for point in sorted(_mounts_under(build), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)
    if _mounts_under(build):
        raise RuntimeError(f"refusing to delete {build}: still has mounts")
    shutil.rmtree(build, ignore_errors=True)


def _debootstrap_tarball(dest: Path, include: tuple[str, ...]) -> None:
    # Not TemporaryDirectory: its cleanup would rmtree even with mounts left inside.
    build = Path(tempfile.mkdtemp(prefix="rootfs-build-", dir=dest.parent))
    root = build / "rootfs"
    try:
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase",
             *([f"--include={','.join(include)}"] if include else []),
             "bookworm", str(root), debian_mirror()],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            log = root / "debootstrap" / "debootstrap.log"
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise RuntimeError(
                f"debootstrap failed ({proc.returncode}):\n"
                f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{tail}"
            )
        _trim_rootfs(root)
        # Default data dir for the redis role (tests usually mount a volume here).
        if include:
            (root / "data").mkdir(mode=0o755, exist_ok=True)
        _pack_rootfs(root, dest)
    finally:
        _remove_build_dir(build)


def _trim_rootfs(root: Path) -> None:
    """Size matters: every cold test run imports these tarballs."""
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc",
                 "usr/share/man", "usr/share/info", "usr/share/locale"):
        for child in (root / junk).glob("*"):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            elif child.name not in ("lock", "locale.alias"):
                child.unlink()
    for path in [*(root / "var/cache/apt").glob("*.bin"), *(root / "var/log").rglob("*")]:
        if not path.is_dir():  # keep log dirs (e.g. /var/log/redis) for packaged configs
            path.unlink()
    # Docker bind-mounts its own resolv.conf/hosts; don't ship the host's.
    for name in ("etc/resolv.conf", "etc/hostname"):
        (root / name).unlink(missing_ok=True)


def _pack_rootfs(root: Path, dest: Path) -> None:
    partial = dest.with_suffix(".partial")
    try:
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(root),
             "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
             "-cf", str(partial), "."],
            check=True,
        )
        os.replace(partial, dest)  # atomic: a half-written cache file never counts
    finally:
        partial.unlink(missing_ok=True)


def python_rootfs_tarball() -> Path:
    """Path of the cached Debian bookworm rootfs tarball, building it if needed."""
    directory = cache_dir()
    tarball = directory / f"bookworm-minbase-python3-redis-v{_PYTHON_ROOTFS_VERSION}.tar"
    with _file_lock(directory / "bookworm-rootfs.lock"):
        if not tarball.exists():
            _debootstrap_tarball(tarball, _DEBOOTSTRAP_INCLUDE)
    return tarball


def ensure_python_image(client: docker.DockerClient) -> str:
    """Debian bookworm minbase with python3 and redis-server.

    First build runs debootstrap (minutes); afterwards the cached tarball is
    only imported (seconds).
    """
    if image_exists(client, PYTHON_TAG):
        return PYTHON_TAG
    directory = cache_dir()
    tarball = python_rootfs_tarball()
    with _file_lock(directory / "bookworm-import.lock"):
        if not image_exists(client, PYTHON_TAG):  # another process may have won
            _import(client, str(tarball), PYTHON_TAG,
                    [f"ENV PATH={DEFAULT_PATH}", "ENV LANG=C.UTF-8", 'CMD ["python3"]'])
    return PYTHON_TAG


def ensure_redis_image(client: docker.DockerClient) -> str:
    """The python image under a redis-looking name (it ships redis-server)."""
    if not image_exists(client, REDIS_TAG):
        repository, _, version = REDIS_TAG.rpartition(":")
        client.images.get(ensure_python_image(client)).tag(repository, version)
    return REDIS_TAG


# --------------------------------------------------------------------------- builder images

# Bump when a builder recipe changes: cached tarballs carry it in their names and images in a
# label, so neither is reused stale.
_BUILDER_VERSION = 1
_BUILDER_LABEL = "mist.test.builder-version"


@dataclass(frozen=True)
class _Builder:
    tag: str
    packages: tuple[str, ...]  # installed into a copy of the minbase rootfs; none: the rootfs itself
    changes: tuple[str, ...]   # Dockerfile instructions given to the import
    remove: tuple[str, ...] = ()  # paths deleted after the install (directories with what they hold)
    files: tuple[tuple[str, str], ...] = ()  # (path, text) written after the install, executable


# Each offers what Mist uses from the official image of that name, and nothing needs more:
# python3 with -m venv and -m pip; node with npm; go; a shell to run a static binary; caddy.
_BUILDERS: dict[str, _Builder] = {
    "python": _Builder(
        "mist-test/builder-python:bookworm", ("python3", "python3-venv", "python3-pip"),
        ("ENV LANG=C.UTF-8", 'CMD ["python3"]'),
        # The official image lets pip install outside a venv; Debian's marker (PEP 668) would not.
        remove=("usr/lib/python3.11/EXTERNALLY-MANAGED",)),
    "node": _Builder("mist-test/builder-node:bookworm", ("nodejs", "npm"), ('CMD ["node"]',)),
    # No gcc (it is only recommended), so cgo is off; no network in builds, so Go neither
    # downloads modules nor toolchains nor asks the checksum database; no git, so no VCS stamp.
    "go": _Builder(
        "mist-test/builder-go:bookworm", ("golang-go",),
        ("ENV CGO_ENABLED=0", "ENV GOPROXY=off", "ENV GOSUMDB=off", "ENV GOTOOLCHAIN=local",
         "ENV GOFLAGS=-buildvcs=false", "ENV GOPATH=/go")),
    "go-runtime": _Builder("mist-test/builder-go-runtime:bookworm", (), ()),
    "static": _Builder(
        "mist-test/builder-static:bookworm", ("caddy",),
        # As the official caddy image: its state under /data and /config, its default command.
        ("ENV XDG_CONFIG_HOME=/config", "ENV XDG_DATA_HOME=/data",
         'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]')),
}


def builder_rootfs_tarball(name: str) -> Path:
    """Path of the cached rootfs tarball of builder `name`, building it (and the shared
    minbase rootfs it starts from) if needed."""
    directory = cache_dir()
    base = directory / f"bookworm-minbase-v{_BUILDER_VERSION}.tar"
    with _file_lock(directory / "builder-rootfs.lock"):
        if not base.exists():
            _debootstrap_tarball(base, ())
    if not _BUILDERS[name].packages:
        return base
    tarball = directory / f"builder-{name}-bookworm-v{_BUILDER_VERSION}.tar"
    with _file_lock(directory / f"builder-{name}.lock"):  # one lock each: images build side by side
        if not tarball.exists():
            _apt_install_tarball(base, tarball, _BUILDERS[name])
    return tarball


def _apt_install_tarball(base: Path, dest: Path, builder: _Builder) -> None:
    # Not debootstrap --include: its resolver cannot install npm's dependency tree; apt can.
    build = Path(tempfile.mkdtemp(prefix="rootfs-build-", dir=dest.parent))
    root = build / "rootfs"
    root.mkdir()
    try:
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-xpf", str(base), "-C", str(root)], check=True)
        shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
        # Maintainer scripts (caddy's) must not try to start services in the chroot.
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        mounts = [root / "proc"]
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
        env = {"PATH": DEFAULT_PATH, "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8"}
        try:
            # The tarball leaves /dev empty, and device nodes made here may not open (a sandbox's
            # device policy): bind the host's, which apt and maintainer scripts write to.
            for node in ("null", "zero", "full", "random", "urandom"):
                (root / "dev" / node).touch()
                mounts.append(root / "dev" / node)
                subprocess.run(["mount", "--bind", f"/dev/{node}", str(root / "dev" / node)], check=True)
            for command in (["apt-get", "update"],
                            ["apt-get", "install", "-y", "--no-install-recommends", *builder.packages],
                            ["apt-get", "clean"]):
                proc = subprocess.run(["chroot", str(root), *command], env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"{' '.join(command)} failed in the {builder.tag} rootfs "
                                       f"({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        finally:
            for point in reversed(mounts):
                subprocess.run(["umount", str(point)], check=False)
        policy.unlink()
        for path in builder.remove:
            if (root / path).is_dir():
                shutil.rmtree(root / path)
            else:
                (root / path).unlink(missing_ok=True)
        for path, text in builder.files:
            (root / path).write_text(text)
            (root / path).chmod(0o755)
        _trim_rootfs(root)
        _pack_rootfs(root, dest)
    finally:
        _remove_build_dir(build)


def _builder_current(client: docker.DockerClient, tag: str) -> bool:
    try:
        labels = client.images.get(tag).labels or {}
    except docker.errors.ImageNotFound:
        return False
    return labels.get(_BUILDER_LABEL) == str(_BUILDER_VERSION)


def ensure_builder_images(client: docker.DockerClient) -> dict[str, str]:
    """The base images Mist's generated Dockerfiles build from, made from Debian's packages;
    the answer is a value for MIST_BUILDER_IMAGES (``json.dumps`` it).

    The first build runs one debootstrap and one apt-get per image (minutes, downloads from
    Debian's mirror); afterwards the cached tarballs are only imported (seconds), and when the
    images exist this is a few engine look-ups.
    """
    missing = [name for name, builder in _BUILDERS.items() if not _builder_current(client, builder.tag)]
    if missing:
        builder_rootfs_tarball("go-runtime")  # the shared minbase rootfs, once, before the others
    # Downloads and unpacking overlap well, even on two cores.
    with ThreadPoolExecutor(len(missing) or 1) as pool:
        tarballs = dict(zip(missing, pool.map(builder_rootfs_tarball, missing), strict=True))
    for name, tarball in tarballs.items():
        _import_builder(client, _BUILDERS[name], tarball)
    return {name: builder.tag for name, builder in _BUILDERS.items()}


def _import_builder(client: docker.DockerClient, builder: _Builder, tarball: Path) -> None:
    with _file_lock(cache_dir() / "builder-import.lock"):
        if not _builder_current(client, builder.tag):  # another process may have won
            _import(client, str(tarball), builder.tag,
                    [f"ENV PATH={DEFAULT_PATH}", *builder.changes, f"LABEL {_BUILDER_LABEL}={_BUILDER_VERSION}"])


# --------------------------------------------------------------------------- swarm

PROXY_TAG = "mist-test/caddy:2"
NODE_TAG = "mist-test/swarm-node:bookworm"
# Bump when the node recipe changes (tarball name and image label), apart from the builders'.
_NODE_VERSION = 1
# socat: the node relays the registry's loopback address to the host (see support/swarm.py).
_NODE_INCLUDE = ("docker.io", "iptables", "ca-certificates", "socat")


def ensure_proxy_image(client: docker.DockerClient) -> str:
    """A stand-in for the official `caddy:2` as Mist's in-swarm proxy uses it (MIST_PROXY_IMAGE): only
    the `caddy` binary on PATH. It is the "static" builder (Debian's caddy 2.6) under that name."""
    builder = _BUILDERS["static"]
    if not _builder_current(client, builder.tag):
        builder_rootfs_tarball("go-runtime")  # the shared minbase rootfs it starts from
        _import_builder(client, builder, builder_rootfs_tarball("static"))
    repository, _, version = PROXY_TAG.rpartition(":")
    client.images.get(builder.tag).tag(repository, version)  # again each time: the builder may have been rebuilt
    return PROXY_TAG


def node_rootfs_tarball() -> Path:
    directory = cache_dir()
    tarball = directory / f"swarm-node-bookworm-v{_NODE_VERSION}.tar"
    with _file_lock(directory / "swarm-node.lock"):
        if not tarball.exists():
            _debootstrap_tarball(tarball, _NODE_INCLUDE)
    return tarball


def ensure_node_image(client: docker.DockerClient) -> str:
    """Debian bookworm with its docker.io engine, run as a second Swarm node (support/swarm.py
    `worker_node`). First build: one debootstrap (minutes); afterwards an import of the cached tarball."""
    labels: dict[str, str] = {}
    if image_exists(client, NODE_TAG):
        labels = client.images.get(NODE_TAG).labels or {}
    if labels.get(_BUILDER_LABEL) == f"swarm-node-{_NODE_VERSION}":
        return NODE_TAG
    tarball = node_rootfs_tarball()
    with _file_lock(cache_dir() / "builder-import.lock"):
        _import(client, str(tarball), NODE_TAG,
                [f"ENV PATH={DEFAULT_PATH}", 'CMD ["dockerd"]', f"LABEL {_BUILDER_LABEL}=swarm-node-{_NODE_VERSION}"])
    return NODE_TAG


# --------------------------------------------------------------------------- postgres

POSTGRES_TAG = "mist-test/postgres:15"
# Bump when the postgres recipe changes (tarball name and image label), apart from the builders'.
_POSTGRES_VERSION = 1
_POSTGRES_BIN = "/usr/lib/postgresql/15/bin"

# What Mist and its tests use of the official image's docker-entrypoint.sh: on first start (no
# PG_VERSION in PGDATA, a fresh volume) initdb with POSTGRES_USER / POSTGRES_PASSWORD and create
# POSTGRES_DB; TCP clients authenticate with scram, local socket clients are trusted (as there);
# the server runs as `postgres` and is exec'd, so the stop signal reaches it.
_POSTGRES_ENTRYPOINT = """#!/bin/sh
set -eu
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    find "$PGDATA" /var/run/postgresql \\! -user postgres -exec chown postgres:postgres '{}' +
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    database="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s\\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \\
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        echo 'CREATE DATABASE :"database";' | psql -v ON_ERROR_STOP=1 -q --username="$user" \\
            --dbname=postgres --set=database="$database"
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
"""

_POSTGRES = _Builder(
    POSTGRES_TAG, ("postgresql-15",),
    (f"ENV PATH={_POSTGRES_BIN}:{DEFAULT_PATH}", "ENV LANG=C.UTF-8", "ENV PGDATA=/var/lib/postgresql/data",
     # No STOPSIGNAL SIGINT as the official image has: an import takes no STOPSIGNAL. SIGTERM is
     # postgres's "smart" shutdown, which waits for clients, then the engine's SIGKILL.
     "VOLUME /var/lib/postgresql/data", "EXPOSE 5432",
     'ENTRYPOINT ["docker-entrypoint.sh"]', 'CMD ["postgres"]'),
    # The package's own cluster (made by its postinst): the entrypoint makes one per volume.
    remove=("etc/postgresql/15", "var/lib/postgresql/15"),
    files=(("usr/local/bin/docker-entrypoint.sh", _POSTGRES_ENTRYPOINT),),
)


def postgres_rootfs_tarball() -> Path:
    directory = cache_dir()
    builder_rootfs_tarball("go-runtime")  # the shared minbase rootfs
    tarball = directory / f"postgres-15-bookworm-v{_POSTGRES_VERSION}.tar"
    with _file_lock(directory / "postgres.lock"):
        if not tarball.exists():
            _apt_install_tarball(directory / f"bookworm-minbase-v{_BUILDER_VERSION}.tar", tarball, _POSTGRES)
    return tarball


def ensure_postgres_image(client: docker.DockerClient) -> str:
    """PostgreSQL 15 from Debian bookworm, started as the official postgres image starts (its
    POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, PGDATA a volume); pg_dump, pg_restore, psql
    and pg_isready on PATH. First build: one apt-get on the minbase rootfs (a minute or two)."""
    labels: dict[str, str] = {}
    if image_exists(client, POSTGRES_TAG):
        labels = client.images.get(POSTGRES_TAG).labels or {}
    if labels.get(_BUILDER_LABEL) == f"postgres-{_POSTGRES_VERSION}":
        return POSTGRES_TAG
    tarball = postgres_rootfs_tarball()
    with _file_lock(cache_dir() / "builder-import.lock"):
        _import(client, str(tarball), POSTGRES_TAG,
                [*_POSTGRES.changes, f"LABEL {_BUILDER_LABEL}=postgres-{_POSTGRES_VERSION}"])
    return POSTGRES_TAG
