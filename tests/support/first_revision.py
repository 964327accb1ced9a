"""Realistic rows for every table of the first migration (0001), references between them included:
what a database made by the first release of Mist holds, for upgrade tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

T0 = "2026-11-29 10:00:00.000000"
T1 = "2026-11-29 11:30:00.000000"

# Realistic rows for every table of revision 0001, references between them included.
FIRST_REVISION_ROWS: dict[str, list[dict]] = {
    "users": [
        {"id": 1, "username": "ada", "email": "ada@example.com", "password_hash": "$argon2id$v=19$a",
         "role": "owner", "created_at": T0},
        {"id": 2, "username": "bob", "email": "bob@example.com", "password_hash": "$argon2id$v=19$b",
         "role": "admin", "created_at": T0},
        {"id": 3, "username": "cy", "email": "cy@example.com", "password_hash": "$argon2id$v=19$c",
         "role": "user", "created_at": T1},
    ],
    "projects": [
        {"id": 1, "name": "shop", "description": "the web shop", "owner_id": 1, "created_at": T0, "updated_at": T1},
        {"id": 2, "name": "blog", "description": "", "owner_id": 3, "created_at": T1, "updated_at": T1},
        {"id": 3, "name": "orphan", "description": "owner gone", "owner_id": None, "created_at": T1,
         "updated_at": T1},
    ],
    "sessions": [
        {"id": 1, "token_hash": "a" * 64, "user_id": 1, "created_at": T0, "expires_at": "2036-12-13 10:00:00.000000"},
        {"id": 2, "token_hash": "b" * 64, "user_id": 3, "created_at": T1, "expires_at": "2036-12-13 11:30:00.000000"},
    ],
    "apps": [
        {"id": 1, "project_id": 1, "name": "web", "app_type": "web", "git_repository": "https://git.example.com/shop.git",
         "git_branch": "main", "dockerfile_path": "Dockerfile", "root_directory": "", "port": 8000,
         "template_name": "", "deployment_seq": 4, "created_at": T0, "updated_at": T1},
        {"id": 2, "project_id": 1, "name": "db", "app_type": "database", "git_repository": "", "git_branch": "",
         "dockerfile_path": "", "root_directory": "", "port": None, "template_name": "postgres",
         "deployment_seq": 1, "created_at": T0, "updated_at": T0},
        {"id": 3, "project_id": 2, "name": "worker", "app_type": "service",
         "git_repository": "git@git.example.com:cy/blog.git", "git_branch": "release",
         "dockerfile_path": "docker/Dockerfile", "root_directory": "svc", "port": None, "template_name": "",
         "deployment_seq": 2, "created_at": T1, "updated_at": T1},
    ],
    "project_members": [
        {"project_id": 1, "user_id": 1}, {"project_id": 1, "user_id": 3},
        {"project_id": 2, "user_id": 3}, {"project_id": 3, "user_id": 2},
    ],
    "deployments": [
        {"id": i, "app_id": app, "deployment_number": n, "commit_hash": f"{i:040x}", "commit_message": f"change {i}",
             "status": status, "stage": stage, "progress": progress, "message": "", "error_message": error,
             "is_active": active, "rolled_back_from": rolled_back_from, "image": f"mist-app-{app}:{i}" if image else "",
             "container_id": f"{i:064x}" if active else "", "claimed_by": "", "lease_expires_at": None,
             "started_at": T0, "finished_at": T1, "created_at": T0, "updated_at": T1}
        for i, app, n, status, stage, progress, error, active, rolled_back_from, image in (
            (1, 1, 1, "success", "completed", 100, "", 0, None, True),
            (2, 1, 2, "rolled_back", "completed", 100, "", 0, None, True),
            (3, 1, 3, "failed", "building_image", 50, "build failed: exit 1", 0, None, False),
            (4, 1, 4, "success", "completed", 100, "", 1, 2, True),
            (5, 2, 1, "success", "completed", 100, "", 1, None, True),
            (6, 3, 1, "success", "completed", 100, "", 0, None, True),
            (7, 3, 2, "success", "completed", 100, "", 1, 6, True),
        )
    ],
    "env_vars": [
        {"id": 1, "app_id": 1, "key": "GREETING", "value": "hello", "is_secret": 0, "build_time": 0, "runtime": 1},
        {"id": 2, "app_id": 1, "key": "API_KEY", "value": "gAAAAB-encrypted", "is_secret": 1, "build_time": 1,
         "runtime": 1},
        {"id": 3, "app_id": 2, "key": "POSTGRES_PASSWORD", "value": "gAAAAB-pw", "is_secret": 1, "build_time": 0,
         "runtime": 1},
        {"id": 4, "app_id": 3, "key": "DATABASE_URL", "value": "${{db.URL}}", "is_secret": 0, "build_time": 0,
         "runtime": 1},
    ],
}


def insert(path: Path, rows: dict[str, list[dict]], foreign_keys: bool = True) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        for table, table_rows in rows.items():
            for row in table_rows:
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
    connection.close()
