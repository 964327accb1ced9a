"""One server secret per database: the first process to start on a database records its secret's
fingerprint, and a process holding another secret refuses to start. Otherwise credentials saved
through one process would be unreadable to another (a deploy would fail long after the mistake)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.models import Fact
from mist.errors import MistError
from mist.secretbox import SecretBox

FACT = "secret_key_fingerprint"


class KeyMismatch(MistError):
    """This process's server secret is not the one the database's credentials are encrypted with."""


def _record(session: Session, fingerprint: str) -> None:
    if session.get(Fact, FACT) is None:
        session.add(Fact(name=FACT, value=fingerprint))


def _recorded(session: Session) -> str:
    fact = session.get(Fact, FACT)
    return fact.value if fact is not None else ""


def check(db: Database, box: SecretBox) -> None:
    """Raises KeyMismatch naming the setting to fix. Blocking: call from a thread."""
    fingerprint = box.fingerprint()
    try:
        db.call(_record, fingerprint)
    except IntegrityError:
        pass  # another process recorded its secret at the same moment: compare with that one
    if db.call(_recorded) != fingerprint:
        raise KeyMismatch(
            f"the server secret in {box.secret_file} is not the one this database's credentials are "
            "encrypted with: every Mist process sharing a database must use the same secret "
            "(point MIST_SECRET_KEY_FILE at a copy of the first process's file)"
        )
