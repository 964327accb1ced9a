"""Which app (or project) the user means: a numeric id, or a name unique among those they see."""

from __future__ import annotations

from mist.client.errors import ClientError

ProjectApp = tuple[dict, dict]  # (project, app) as the API answers them


def describe(pair: ProjectApp) -> str:
    project, app = pair
    return f"{app['name']} (id {app['id']}, project {project['name']})"


def resolve_app(pairs: list[ProjectApp], ref: str) -> ProjectApp:
    """The (project, app) that `ref` names.

    A number is an app id first (a name made of digits still matches when no app has that id).
    A name must match exactly one app; when several projects have an app of that name, the error
    lists them with their ids so the user can pick one.
    """
    ref = ref.strip()
    if not ref:
        raise ClientError("no app given: name an app or give its id (see `mist apps`)")
    if ref.isdigit():
        by_id = [p for p in pairs if p[1]["id"] == int(ref)]
        if by_id:
            return by_id[0]
    by_name = [p for p in pairs if p[1]["name"] == ref]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        candidates = ", ".join(describe(p) for p in sorted(by_name, key=lambda p: p[1]["id"]))
        raise ClientError(f"the app name {ref!r} is ambiguous: {candidates}; give the app's id instead")
    what = f"no app with id or name {ref!r}" if ref.isdigit() else f"no app named {ref!r}"
    if not pairs:
        raise ClientError(f"{what}: you see no apps on this server")
    # A case-insensitive match is a likely typo worth pointing at.
    near = [p for p in pairs if p[1]["name"].lower() == ref.lower()]
    hint = f" (did you mean {', '.join(describe(p) for p in near)}?)" if near else " (see `mist apps`)"
    raise ClientError(what + hint)


def resolve_project(projects: list[dict], ref: str) -> dict:
    """The project that `ref` names, by the same rules as an app: an id first, else a unique name.

    Project names need not be unique, so a name two projects share is refused with their ids.
    """
    ref = ref.strip()
    if not ref:
        raise ClientError("no project given: name a project or give its id (see `mist projects list`)")
    if ref.isdigit():
        by_id = [p for p in projects if p["id"] == int(ref)]
        if by_id:
            return by_id[0]
    by_name = sorted((p for p in projects if p["name"] == ref), key=lambda p: p["id"])
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        ids = ", ".join(str(p["id"]) for p in by_name)
        raise ClientError(f"the project name {ref!r} is ambiguous: projects {ids} have it; "
                          "give the project's id instead")
    what = f"no project with id or name {ref!r}" if ref.isdigit() else f"no project named {ref!r}"
    if not projects:
        raise ClientError(f"{what}: you see no projects on this server (create one: mist projects create NAME)")
    near = [p for p in projects if p["name"].lower() == ref.lower()]
    hint = (f" (did you mean {', '.join(repr(p['name']) + ' (id ' + str(p['id']) + ')' for p in near)}?)"
            if near else " (see `mist projects list`)")
    raise ClientError(what + hint)
