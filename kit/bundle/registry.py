"""The rows of lusoris/vmaf's model/tiny/registry.json the vmaf-tune profile proposes, and the registry's rules as
upstream states them (registry.schema.json, validate_model_registry.py): a row that breaks one is never written (exit
2). Light on purpose (re only): the CLI checks `--model-license` and `--model-license-url` with the same functions."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from kit.errors import InputError
from kit.infra.records import Record, omit_none

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_ID = 64
ONNX_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_./-]*\.onnx$")
SIGSTORE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_./-]*\.sigstore\.json$")
MAX_PATH = 256  # onnx and sigstore_bundle alike
SHA_PATTERN = re.compile(r"^[0-9a-f]{64}$")
KINDS = ("fr", "nr", "filter")
MAX_NOTES, MAX_DESCRIPTION = 512, 256
MIN_OPSET, MAX_OPSET = 7, 21
MAX_LICENSE, MAX_LICENSE_URL = 128, 512
SIGSTORE_SUFFIX = ".sigstore.json"  # <onnx><this>: the bundle `cosign sign-blob --bundle` writes beside each model

# RFC 3986: a URI is made of unreserved characters (2.3), reserved ones (2.2) and %XX escapes (2.1)
_UNRESERVED = r"\-A-Za-z0-9._~"  # for a regex character class
_SUB_DELIMS = "!$&'()*+,;="
URI_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._~-" + ":/?#[]@" + _SUB_DELIMS + "%")
LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{re.escape(_SUB_DELIMS)}:@]|{_PCT})"
# http(s)://[userinfo@]host[:port] path-abempty [?query] [#fragment] (3.2 to 3.5)
HTTP_URI = re.compile(
    rf"[Hh][Tt][Tt][Pp][Ss]?://"
    rf"(?:(?:[{_UNRESERVED}{re.escape(_SUB_DELIMS)}:]|{_PCT})*@)?"
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{re.escape(_SUB_DELIMS)}]|{_PCT})+)(?::[0-9]*)?"
    rf"(?:/{_PCHAR}*)*(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?", re.ASCII)


@dataclass(frozen=True)
class RegistryRow(Record):
    """One entry of model/tiny/registry.json, with only the keys its schema allows."""

    id: str
    kind: str
    onnx: str
    sha256: str
    license: str
    license_url: str
    sigstore_bundle: str
    opset: int | None = omit_none()
    smoke: bool | None = omit_none()
    notes: str | None = omit_none()
    description: str | None = omit_none()


def license_problem(text: str) -> str | None:
    """Why `text` cannot be a row's `license` (an SPDX identifier or expression), or None."""
    if not text.strip():
        return "the license is empty"
    if len(text) > MAX_LICENSE:
        return f"the license is {len(text)} characters long; the registry allows {MAX_LICENSE}"
    if not text.isprintable() or not text.isascii():
        return "the license holds characters an SPDX expression does not (only printable ASCII)"
    return None


def license_url_problem(text: str) -> str | None:
    """Why `text` cannot be a row's `license_url` (an absolute http(s) URI, RFC 3986), or None."""
    if len(text) > MAX_LICENSE_URL:
        return f"the license URL is {len(text)} characters long; the registry allows {MAX_LICENSE_URL}"
    if (bad := next((c for c in text if c not in URI_CHARACTERS), None)) is not None:
        encoded = "".join(f"%{b:02X}" for b in bad.encode("utf-8", "surrogatepass"))
        return (f"the license URL holds spaces or characters a URI does not (RFC 3986): {bad!r}; percent-encode it "
                f"({encoded})")
    if (m := LONE_PERCENT.search(text)) is not None:
        return (f"the license URL holds a % not followed by two hex digits (at character {m.start() + 1}): "
                "write a % itself as %25")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # an unclosed [ of an IPv6 host
        return f"the license URL is not an absolute http(s) address ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "the license URL is not an absolute http(s) address"
    if HTTP_URI.fullmatch(text) is None:
        return ("the license URL is not an absolute http(s) URI as RFC 3986 writes one (a host, then a path, "
                "?query and #fragment; [ and ] only around an IPv6 host)")
    return None


@dataclass(frozen=True)
class Breach:
    text: str
    hint: str


SEEDS_HINT = "choose seeds with fewer digits (--seeds): the row id is fr_regressor_v2_ensemble_v1_seed<N>"


def field_problems(key: str, value: str, limit: int, pattern: re.Pattern[str]) -> list[Breach]:
    """A row field upstream bounds in length and pattern (the id, the onnx and sigstore paths)."""
    out = []
    if len(value) > limit:
        out.append(Breach(f"{key} {value!r} is {len(value)} characters long; the registry allows {limit}",
                          SEEDS_HINT))
    if not pattern.match(value):
        out.append(Breach(f"{key} {value!r} does not match {pattern.pattern}", SEEDS_HINT))
    return out


def row_problems(row: RegistryRow) -> list[Breach]:
    out = [*field_problems("id", row.id, MAX_ID, ID_PATTERN),
           *field_problems("onnx", row.onnx, MAX_PATH, ONNX_PATTERN),
           *field_problems("sigstore_bundle", row.sigstore_bundle, MAX_PATH, SIGSTORE_PATTERN)]
    out += [Breach(why, hint) for why, hint in (
        (license_problem(row.license), "set --model-license to the models' SPDX license identifier"),
        (license_url_problem(row.license_url), "set --model-license-url to the license text's address")) if why]
    kit_bugs = [(row.kind in KINDS, f"kind {row.kind!r} is not one of {', '.join(KINDS)}"),
                (bool(SHA_PATTERN.match(row.sha256)), "sha256 is not 64 lowercase hex digits"),
                (row.opset is None or MIN_OPSET <= row.opset <= MAX_OPSET,
                 f"opset {row.opset} is outside {MIN_OPSET}..{MAX_OPSET}"),
                (row.notes is None or len(row.notes) <= MAX_NOTES, f"notes are longer than {MAX_NOTES}"),
                (row.description is None or len(row.description) <= MAX_DESCRIPTION,
                 f"the description is longer than {MAX_DESCRIPTION}")]
    out += [Breach(text, "a bug in the kit: please report it") for ok, text in kit_bugs if not ok]
    return out


SINGLE_ID = "fr_regressor_v2"  # the one member vmaf-tune's proxy loads alone
ENSEMBLE_ID = "fr_regressor_v2_ensemble_v1"  # the ensemble manifest's id and its members' prefix


def with_tag(base: str, tag: str) -> str:
    """An id or file stem with the teacher's tag, so another teacher's proxy never takes vmaf_v0.6.1's name."""
    return f"{base}_{tag}" if tag else base


def member_id(seed: int, tag: str = "") -> str:
    return f"{with_tag(ENSEMBLE_ID, tag)}_seed{seed}"


def proposed_ids(seeds: Sequence[int], tag: str = "") -> list[str]:
    """The ids of the rows a profile of these seeds proposes (each seed's member, and the single model)."""
    return [with_tag(SINGLE_ID, tag), *(member_id(s, tag) for s in seeds)]


def refuse_breaches(rows: list[RegistryRow]) -> None:
    """Exit 2 naming every row's breach and an id proposed twice (the validator refuses a duplicate id), with the hint
    of the first: a row upstream would reject is never written."""
    ids = [row.id for row in rows]
    breaches = [b for row in rows for b in row_problems(row)] + [
        Breach(f"id {i!r} is proposed twice", "a bug in the kit: please report it")
        for i in sorted({i for i in ids if ids.count(i) > 1})]
    if breaches:
        raise InputError("the vmaf-tune registry rows would break model/tiny/registry.json's rules: "
                         + "; ".join(b.text for b in breaches), hint=breaches[0].hint)


def check_proposed(seeds: Sequence[int], license: str, license_url: str, tag: str = "") -> None:
    """Before any refit: the rows these seeds, teacher tag and license settings would give, checked."""
    rows = [RegistryRow(i, "fr", f"{i}.onnx", "0" * 64, license, license_url, f"{i}.onnx{SIGSTORE_SUFFIX}")
            for i in proposed_ids(seeds, tag)]
    refuse_breaches(rows)
