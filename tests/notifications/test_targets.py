"""mist.notifications.targets: what each kind accepts, and what is shown of it afterwards."""

from __future__ import annotations

import pytest

from mist.errors import InvalidInput
from mist.notifications import targets

SLACK = "https://hooks.slack.com/services/T0001/B0002/XXXXsecretTOKEN"
DISCORD = "https://discord.com/api/webhooks/123456789/abc_DEF-secretTOKEN"


@pytest.mark.parametrize(("kind", "target"), [
    ("webhook", "file:///etc/passwd"), ("webhook", "ftp://example.com/x"), ("webhook", "gopher://x"),
    ("webhook", "javascript:alert(1)"), ("webhook", "http://"), ("webhook", "http://exa mple.com/"),
    ("webhook", "http://example.com:99999/"), ("webhook", "example.com/hook"), ("webhook", "http://x/a\nb"),
    ("slack", "https://example.com/services/T/B/C"), ("slack", "http://hooks.slack.com/services/T/B/C"),
    ("slack", "https://hooks.slack.com.evil.com/services/T/B/C"), ("discord", "https://discord.com/api/x/1/2"),
    ("discord", "https://evil.com/api/webhooks/1/abc"), ("email", ""), ("email", "not-an-address"),
    ("email", "a@b.c, <script>@x"), ("email", ",".join(f"u{i}@example.com" for i in range(21))),
    ("sms", "+15550100"),
])
def test_bad_targets_are_refused_naming_the_field(kind: str, target: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        targets.check(kind, target)
    assert refused.value.message.startswith(("target:", "kind:"))


def test_good_targets_are_kept_as_given() -> None:
    assert targets.check("webhook", " https://ci.example.com/hook?x=1 ") == "https://ci.example.com/hook?x=1"
    assert targets.check("slack", SLACK + "/") == SLACK
    assert targets.check("discord", DISCORD) == DISCORD
    assert targets.check("email", "a@example.com, b@example.com,a@example.com") == "a@example.com, b@example.com"


def test_tokens_and_url_secrets_are_masked_when_shown() -> None:
    assert targets.shown("slack", SLACK) == "https://hooks.slack.com/services/T0001/B0002/********"
    assert targets.shown("discord", DISCORD) == "https://discord.com/api/webhooks/123456789/********"
    assert targets.shown("webhook", "https://bot:hunter2@ci.example.com/h?token=abc&x=") == (
        "https://********@ci.example.com/h?token=********&x=********")
    assert targets.shown("webhook", "https://ci.example.com/h") == "https://ci.example.com/h"
    assert targets.shown("email", "a@example.com") == "a@example.com"


def test_secrets_are_cut_from_any_text() -> None:
    hidden = targets.secrets_in("slack", SLACK)
    assert targets.redact(f"posted to {SLACK}: invalid XXXXsecretTOKEN", hidden) == (
        "posted to ********: invalid ********")
    assert "hunter2" not in targets.redact("auth hunter2 refused",
                                           targets.secrets_in("webhook", "https://u:hunter2@h/"))
