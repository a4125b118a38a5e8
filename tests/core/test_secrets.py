"""Secret values inside ordinary files (issue 13 item 10): each rule finds what it should, leaves
ordinary text alone, and never moves a line."""

from __future__ import annotations

import pytest

from ragls.core.secrets import REDACTED, redact_secrets

GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS_ID = "AKIA" + "Q3EGRDPZW4SXHT7M"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9q8sKx2Lm"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "aFDrBz9vFqU4yP8oJm8Tg7QwCbnRMv8hY9vZ1mC4k1XJ2n5Q0bQ7vT3m1E5c2F4G\n"
    "-----END RSA PRIVATE KEY-----\n"
)

SECRET_CASES = [
    # (file language, text, the secret value that must disappear)
    ("python", f'AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\n', AWS_SECRET),
    ("python", f'aws_access_key_id = "{AWS_ID}"\n', AWS_ID),
    ("shell", f"export GITHUB_TOKEN={GITHUB}\ngit push\n", GITHUB),
    ("shell", f"curl -H 'Authorization: token {GITHUB}' https://api.github.com\n", GITHUB),
    ("", f"# Notes\n\nThe deploy key:\n\n{PEM}\nDone.\n", "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn"),
    ("json", '{"key": "' + PEM.replace("\n", "\\n") + '"}\n', "aFDrBz9vFqU4yP8oJm8"),
    ("yaml", "database:\n  user: app\n  password: s3cr3t-Pa55word\n", "s3cr3t-Pa55word"),
    ("yaml", "services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD=example\n", "example"),
    ("yaml", "    environment:\n      MYSQL_ROOT_PASSWORD: rootpw2024\n", "rootpw2024"),
    ("ini", "spring.datasource.password=hunter2hunter2\nspring.datasource.url=jdbc:h2:mem\n", "hunter2hunter2"),
    ("", "API_TOKEN=super-secret-value\n", "super-secret-value"),  # a hard link to .env under an innocent .txt name
    ("", "Connect with postgres://admin:Tr0ub4dor3@db.internal:5432/app\n", "Tr0ub4dor3"),
    ("javascript", "const slack = 'xoxb-" + "1234567890-abcdefghijklmnop';\n", "xoxb-1234567890-abcdefghijklmnop"),
    ("python", 'stripe.api_key = "sk_live_' + "4eC39HqLyjWDarjtT1zdp7dc" + '"\n', "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("python", 'client = OpenAI(api_key="sk-proj-' + "Ab3dEf6hIj9kLm2nOp5qRs8t" + '")\n', "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t"),
]


@pytest.mark.parametrize("language, text, secret", SECRET_CASES)
def test_secret_values_are_redacted_and_counted_without_moving_a_line(language, text, secret):
    redacted, count = redact_secrets(text, language)
    assert secret not in redacted
    assert REDACTED in redacted and count >= 1
    assert redacted.count("\n") == text.count("\n")


@pytest.mark.parametrize("language, text", [
    ("python", "password = get_password()\ntoken = self.token\nmax_tokens = 512\n"),
    ("python", 'if line == "-----BEGIN RSA PRIVATE KEY-----":\n    start = True\n'),
    ("python", "def tokenize(source):\n    tokens = []\n    return tokens\n"),
    ("yaml", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-creds\n        key: password\n"),
    ("yaml", "volumes:\n  - name: certs\n    secret:\n      secretName: my-tls-secret\n"),
    ("yaml", "password: ${DB_PASSWORD}\ntoken: '{{ .Values.token }}'\napi_key: <your-api-key>\n"),
    ("", "# Passwords\n\nThe password: is required for every login. A token: identifies a session.\n"),
    ("", "See https://user@example.com/path and http://localhost:8080/api for details.\n"),
    ("ini", "token_type=bearer\npassword_file=/run/secrets/db\ntoken_url=https://auth.example.com/token\n"),
])
def test_ordinary_text_is_left_alone(language, text):
    assert redact_secrets(text, language) == (text, 0)


def test_redaction_is_stable_and_counts_each_value_once():
    text = f"a = '{GITHUB}'\nb = '{GITHUB}'\n"
    once, count = redact_secrets(text, "python")
    assert count == 2
    assert redact_secrets(once, "python") == (once, 0)


# --- the one-pass gate scan: C and Python twins agree ------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from ragls.core import secrets  # noqa: E402


def test_the_c_gate_scan_is_built():
    assert secrets._secret_gates is not secrets._gates_python  # the install compiles ragls._speedups


_GATE_TEXT = st.text(alphabet=st.sampled_from(sorted(set("".join(g for g, _ in secrets._GATES) + "PASSWORDTokenApI_- \n" + "İKé€😀"))), max_size=80)


@settings(max_examples=400, deadline=None)
@given(_GATE_TEXT, st.lists(st.sampled_from(secrets._GATES), min_size=1, max_size=8, unique=True))
def test_the_c_gate_scan_equals_the_python_twin(text, gates):
    gates = tuple(gates)
    assert secrets._secret_gates(text, gates) == secrets._gates_python(text, gates)


def test_redaction_is_the_same_with_and_without_the_c_gates(monkeypatch):
    texts = [text for _lang, text, _secret in SECRET_CASES]
    native = [redact_secrets(t) for t in texts]
    monkeypatch.setattr(secrets, "_secret_gates", secrets._gates_python)
    assert [redact_secrets(t) for t in texts] == native
