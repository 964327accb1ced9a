"""The webhook kind: the payload's JSON POSTed to the target, signed like GitHub signs its webhooks.

The receiver checks `X-Mist-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the secret
it was given once, when the notification was created; `X-Mist-Delivery` names the delivery (the same
for each retry of it), so a receiver can ignore one it already handled.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx

from mist.notifications.outbox import ANSWER_CHARS, Outcome

SIGNATURE_HEADER = "X-Mist-Signature-256"
EVENT_HEADER = "X-Mist-Event"
DELIVERY_HEADER = "X-Mist-Delivery"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post(client: httpx.AsyncClient, url: str, secret: str, body: bytes, event: str, delivery_id: int) -> Outcome:
    """One attempt; any 2xx answer counts as delivered. Redirects are not followed: the receiver is
    the URL the owner gave, not wherever it points to."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Mist-Notifications",
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
        SIGNATURE_HEADER: sign(secret, body),
    }
    try:
        response = await client.post(url, content=body, headers=headers, follow_redirects=False)
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])
    # Read no more of the answer than is kept.
    return Outcome(response.is_success, response.status_code, response.text[:ANSWER_CHARS])
