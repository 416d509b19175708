"""The model catalogue: what each model version is, until when, and where each fact comes from.

``helpers/data/models.yaml`` lists every model version the cookbook knows: lifecycle stage and
dates (GA, no new deployments, retirement), family, reasoning efforts, APIs, limits, tokenizer,
and for each fact the Learn page and the date of the copy it was read from. This module loads
it once (pydantic v2), answers lookups by model name, computes a model's lifecycle on any date,
and applies the project's rule for choosing default models::

    from helpers._support.models import catalogue, choose_defaults

    catalogue().lookup("gpt-5-mini-2025-08-07").lifecycle_on(date(2027, 3, 1))  # Stage.RETIRED
    choose_defaults(date(2026, 12, 6))["chat"].model                            # gpt-5.4-mini ...

``python -m helpers._support.models`` (``make models``) prints the catalogue as a table and the
defaults the rule picks today. The replay server reads the catalogue too (its default
deployments and its family rules), so it may import this module; this module imports nothing
else from the project but the exception root (:mod:`helpers._support.errors`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ..errors import CookbookError

__all__ = [
    "CATALOGUE_FILE",
    "ROLES",
    "Catalogue",
    "Choice",
    "Fact",
    "ModelVersion",
    "Role",
    "Stage",
    "UnknownModelError",
    "catalogue",
    "choose_defaults",
    "lifecycle_warnings",
    "load_catalogue",
    "max_output_tokens",
]

CATALOGUE_FILE = "data/models.yaml"
"""The catalogue's path inside the ``helpers`` package (shipped as package data)."""

DISPLAY_PATH = "helpers/data/models.yaml"
"""How messages name the catalogue file, so a reader knows which line to edit."""

T = TypeVar("T")
Api = Literal["chat_completions", "responses", "embeddings"]
Family = Literal["reasoning", "standard"]
Size = Literal["frontier", "mini", "nano", "small", "large", "router"]

_DATED_NAME = re.compile(r"^(?P<model>.+)-(?P<version>\d{4}-\d{2}-\d{2})$")


class Stage(StrEnum):
    """Lifecycle stages as Microsoft Learn names them (*Microsoft Foundry Models lifecycle and
    support policy*), plus ``Unreleased`` for a date before a model's launch."""

    UNRELEASED = "Unreleased"
    PREVIEW = "Preview"
    GA = "GA"
    LEGACY = "Legacy"
    DEPRECATED = "Deprecated"
    RETIRED = "Retired"

    @property
    def open_to_new_deployments(self) -> bool:
        """Preview, GA and Legacy take new deployments; Deprecated only from existing customers."""
        return self in (Stage.PREVIEW, Stage.GA, Stage.LEGACY)


class UnknownModelError(CookbookError, LookupError):
    """A model name the catalogue does not hold, or holds in several versions."""


class Fact(BaseModel, Generic[T]):
    """One value and where it comes from: a source in the catalogue, or an ``unverified`` note."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: T
    source: str | None = Field(default=None, description="A key of the catalogue's sources.")
    unverified: str | None = Field(
        default=None, description="Where a value no Learn page read states comes from."
    )
    bound: Literal["exact", "no later than"] = "exact"
    note: str | None = None

    @model_validator(mode="after")
    def _one_basis(self) -> Fact[T]:
        if (self.source is None) == (self.unverified is None):
            raise ValueError("a fact needs exactly one of 'source' or 'unverified'")
        if self.unverified is not None and not self.unverified.strip():
            raise ValueError("'unverified' must say where the value comes from")
        return self

    @property
    def verified(self) -> bool:
        return self.source is not None


class Source(BaseModel):
    """A page (or library) facts are read from, and the date of the copy that was read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://")
    publisher: Literal["Microsoft Learn", "Microsoft", "OpenAI"]
    dated: date | None = Field(description="The date the copy states (ms.date); null if none.")
    copy_: str = Field(alias="copy", min_length=1, description="Which stored copy was read.")


class Limits(BaseModel):
    """Token limits as the models page states them (and the embedding size)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context_window: int | None = Field(default=None, gt=0)
    max_input: int | None = Field(default=None, gt=0)
    max_output: int | None = Field(default=None, gt=0)
    dimensions: int | None = Field(default=None, gt=0)


class HistoryEntry(BaseModel):
    """What an older copy of a page said; kept so that moved dates stay visible."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    stage: Stage | None = None
    deprecation: date | None = None
    retirement: date | None = None
    note: str | None = None


class FamilyRules(BaseModel):
    """What a model family accepts: parameters fixed at their default, parameters rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_only: Fact[dict[str, float]]
    rejected: Fact[tuple[str, ...]]


class ModelVersion(BaseModel):
    """One model version: lifecycle, capabilities, limits, each with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    version: str = Field(min_length=1)
    kind: Literal["chat", "embeddings", "router"]
    family: Family
    size: Size
    stage: Fact[Stage] = Field(description="The stage the latest schedule copy states.")
    ga: Fact[date | None]
    legacy: Fact[date | None]
    deprecation: Fact[date | None] = Field(description="No new deployments from this date.")
    retirement: Fact[date | None]
    history: tuple[HistoryEntry, ...] = ()
    apis: Fact[tuple[Api, ...]]
    global_standard: Fact[bool | None]
    global_batch: Fact[bool | None]
    structured_outputs: Fact[bool | None] | None = None
    function_tools: Fact[bool | None] | None = None
    chat_tools_with_reasoning: Fact[bool | None] | None = Field(
        default=None,
        description="Function tools on Chat Completions with a reasoning effort other than none.",
    )
    streaming: Fact[bool | None] | None = None
    reasoning_efforts: Fact[tuple[str, ...]] | None = None
    default_effort: Fact[str | None] | None = None
    sampling_with_effort_none: Fact[tuple[str, ...] | None] | None = Field(
        default=None,
        description="Sampling parameters accepted with any value when reasoning_effort is none.",
    )
    limits: Fact[Limits]
    tokenizer: Fact[Literal["o200k_base", "cl100k_base"]] | None = Field(
        default=None, description="None only for a router: the answering model's tokenizer counts."
    )
    routes_to: Fact[tuple[str, ...]] | None = Field(
        default=None,
        description="A router (model router): the models it may answer with, as a response's "
        "``model`` names them.",
    )

    _line: int = PrivateAttr(default=0)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value

    @model_validator(mode="after")
    def _complete(self) -> ModelVersion:
        missing: list[str] = []
        if self.kind == "router":
            if self.routes_to is None or not self.routes_to.value:
                missing.append("routes_to")
            if missing:
                raise ValueError(f"{self.label}: missing {', '.join(missing)}")
            return self
        if self.tokenizer is None:
            missing.append("tokenizer")
        if self.kind == "chat":
            for name in ("structured_outputs", "function_tools", "streaming"):
                if getattr(self, name) is None:
                    missing.append(name)
        elif self.limits.value.dimensions is None:
            missing.append("limits.dimensions")
        if self.family == "reasoning":
            for name in ("chat_tools_with_reasoning", "reasoning_efforts", "default_effort"):
                if getattr(self, name) is None:
                    missing.append(name)
        if missing:
            raise ValueError(f"{self.label}: missing {', '.join(missing)}")
        return self

    @property
    def label(self) -> str:
        return f"{self.model} {self.version}"

    @property
    def response_name(self) -> str:
        """The name Azure puts in a response's ``model`` field (``gpt-5.4-mini-2026-03-17``)."""
        return (
            f"{self.model}-{self.version}" if _DATED_NAME.match(f"x-{self.version}") else self.model
        )

    @property
    def line(self) -> int:
        """The line of the catalogue file where this entry starts."""
        return self._line

    @property
    def efforts(self) -> tuple[str, ...]:
        return self.reasoning_efforts.value if self.reasoning_efforts else ()

    @property
    def effort_none(self) -> Fact[bool | None] | None:
        """Whether the model takes ``reasoning_effort: none``: a sourced refusal of function tools
        with reasoning names none as the way out (gpt-5.6); otherwise the effort list says."""
        tools = self.chat_tools_with_reasoning
        if tools is not None and tools.value is False and tools.verified:
            return Fact[bool | None](
                value=True, source=tools.source, note="'unless reasoning_effort is none'"
            )
        fact = self.reasoning_efforts
        if fact is None:
            return None
        return Fact[bool | None](
            value="none" in fact.value, source=fact.source, unverified=fact.unverified
        )

    def lifecycle_on(self, day: date) -> Stage:
        """The stage on ``day``, from the dates: retirement, deprecation, legacy, launch."""
        if self.retirement.value is not None and day >= self.retirement.value:
            return Stage.RETIRED
        if self.deprecation.value is not None and day >= self.deprecation.value:
            return Stage.DEPRECATED
        if self.legacy.value is not None and day >= self.legacy.value:
            return Stage.LEGACY
        if self.ga.value is not None and day < self.ga.value:
            return Stage.UNRELEASED
        return Stage.PREVIEW if self.stage.value is Stage.PREVIEW else Stage.GA

    def facts(self) -> Iterator[tuple[str, Fact[Any]]]:
        """Every fact of this entry, with its field name."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Fact):
                yield name, value


class Catalogue(BaseModel):
    """The whole file: when it was checked, its sources, family rules and model versions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checked: date
    sources: dict[str, Source]
    families: dict[Family, FamilyRules]
    models: tuple[ModelVersion, ...]

    _path: str = PrivateAttr(default=DISPLAY_PATH)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        seen: set[tuple[str, str]] = set()
        for entry in self.models:
            key = (entry.model, entry.version)
            if key in seen:
                raise ValueError(f"{entry.label} is listed twice")
            seen.add(key)
        unknown = sorted(
            f"{where}: {fact.source}"
            for where, fact in self.facts()
            if fact.source is not None and fact.source not in self.sources
        )
        unknown += sorted(
            f"{entry.label}: history {item.source}"
            for entry in self.models
            for item in entry.history
            if item.source not in self.sources
        )
        if unknown:
            raise ValueError(f"sources not listed under 'sources': {', '.join(unknown)}")
        if set(self.families) != {"reasoning", "standard"}:
            raise ValueError("families must describe 'reasoning' and 'standard'")
        return self

    def facts(self) -> Iterator[tuple[str, Fact[Any]]]:
        """Every fact in the file, labelled with where it sits."""
        for family, rules in self.families.items():
            yield f"families.{family}.default_only", rules.default_only
            yield f"families.{family}.rejected", rules.rejected
        for entry in self.models:
            for name, fact in entry.facts():
                yield f"{entry.label}: {name}", fact

    def where(self, entry: ModelVersion) -> str:
        """``helpers/data/models.yaml:LINE (model version)``: the line to edit for an entry."""
        return f"{self._path}:{entry.line} ({entry.label})"

    def find(self, name: str) -> ModelVersion | None:
        """The entry for a model name, or None if the name is unknown or names several versions.

        ``name`` is a response's ``model`` field or a deployment's model
        (``gpt-5.4-mini-2026-03-17``, ``text-embedding-3-small``), or a bare name with one version.
        """
        matches = self._matches(name)
        return matches[0] if len(matches) == 1 else None

    def lookup(self, name: str) -> ModelVersion:
        """Like :meth:`find`, but says what is wrong instead of answering None."""
        matches = self._matches(name)
        if len(matches) == 1:
            return matches[0]
        if matches:
            versions = ", ".join(m.response_name for m in matches)
            raise UnknownModelError(f"{name!r} has several versions in {self._path}: {versions}")
        raise UnknownModelError(
            f"{name!r} is not in {self._path}; known: "
            + ", ".join(sorted(m.response_name for m in self.models))
        )

    def _matches(self, name: str) -> list[ModelVersion]:
        exact = [m for m in self.models if m.response_name == name]
        if exact:
            return exact
        dated = _DATED_NAME.match(name)
        if dated:
            return [
                m
                for m in self.models
                if m.model == dated["model"] and m.version == dated["version"]
            ]
        return [m for m in self.models if m.model == name]


def _entry_lines(text: str) -> list[int]:
    """The 1-based line where each item of the top-level ``models`` list starts."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "models" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate a catalogue file (default: the one shipped in the package)."""
    if path is None:
        text = resources.files("helpers").joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
        shown = DISPLAY_PATH
    else:
        text = path.read_text(encoding="utf-8")
        shown = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{shown}: not valid YAML: {exc}") from exc
    result = Catalogue.model_validate(data)
    result._path = shown
    for entry, line in zip(result.models, _entry_lines(text), strict=True):
        entry._line = line
    return result


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded once."""
    return load_catalogue()


def max_output_tokens(model: str) -> int | None:
    """Most completion tokens a model returns (models page), or None if the catalogue does not
    know the model. For ``helpers/replay/limits.py``'s per-model output limit."""
    entry = catalogue().find(model)
    return entry.limits.value.max_output if entry else None


# -------------------------------------------------------------------- the default-choice rule


@dataclass(frozen=True)
class Role:
    """A default the project needs, and what a model must offer to fill it."""

    name: str
    kind: Literal["chat", "embeddings"]
    size: Size
    apis: frozenset[str]
    needs: tuple[str, ...] = ()
    family: Family | None = None
    batch: bool = False


CHAT_NEEDS = ("structured_outputs", "function_tools", "effort_none", "streaming")

ROLES: tuple[Role, ...] = (
    Role("chat", "chat", "mini", frozenset({"chat_completions", "responses"}), CHAT_NEEDS,
         "reasoning"),
    Role("small_chat", "chat", "nano", frozenset({"chat_completions", "responses"}), CHAT_NEEDS,
         "reasoning"),
    Role("batch", "chat", "mini", frozenset({"chat_completions"}), ("structured_outputs",),
         "reasoning", batch=True),
    Role("embeddings", "embeddings", "small", frozenset({"embeddings"})),
)  # fmt: skip
"""The defaults the notebooks use. chat / small_chat: the deployments most notebooks call
(Chat Completions and the Responses API, structured outputs, function tools, the effort
``none`` that Chat Completions needs for function tools from gpt-5.4 on, streaming); batch: the
Batch API deployment (section 6); embeddings: the 1,536-d model of the search and RAG
sections."""

RULE = """\
A model fills a role on a given day when:
  1. it is GA that day (not Preview, Legacy, Deprecated or Retired), so it is open to new
     deployments;
  2. Learn lists it as available as a Global Standard deployment;
  3. it has every API and capability the notebooks use for that role, each confirmed by a
     source (an unverified or unknown capability does not count): Chat Completions and the
     Responses API, structured outputs, function tools, streaming, and the reasoning effort
     none (function tools on Chat Completions need it from gpt-5.4 on; the notebooks reason
     with tools on the Responses API); for the batch role, a place in Learn's Global Batch
     model list;
  4. it is of the role's kind and size (chat: mini, small chat: nano, batch: mini, embeddings:
     small).
Among the models that fill a role, the rule picks the one that retires last (no retirement date
counts as latest; then the later launch)."""


@dataclass(frozen=True)
class Choice:
    """The model the rule picks for a role on a day, and why the other candidates do not fit."""

    role: Role
    day: date
    model: ModelVersion | None
    excluded: tuple[tuple[ModelVersion, tuple[str, ...]], ...]


def reasons_against(entry: ModelVersion, role: Role, day: date) -> tuple[str, ...]:
    """Why ``entry`` cannot fill ``role`` on ``day`` (empty: it can)."""
    reasons: list[str] = []
    stage = entry.lifecycle_on(day)
    if stage is not Stage.GA:
        reasons.append(f"{stage} on {day}")
    if entry.global_standard.value is not True or not entry.global_standard.verified:
        reasons.append("not confirmed as Global Standard")
    missing = sorted(role.apis - set(entry.apis.value))
    if missing:
        reasons.append(f"no {', '.join(missing)}")
    if role.family and entry.family != role.family:
        reasons.append(f"not a {role.family} model")
    for need in role.needs:
        fact = entry.effort_none if need == "effort_none" else getattr(entry, need)
        if fact is None or fact.value is False:
            reasons.append(f"no {need.replace('_', ' ')}")
        elif fact.value is not True or not fact.verified:
            reasons.append(f"{need.replace('_', ' ')} unverified")
    if role.batch and (entry.global_batch.value is not True or not entry.global_batch.verified):
        reasons.append("not in Learn's Global Batch model list")
    return tuple(reasons)


def _lateness(entry: ModelVersion) -> tuple[date, date, str]:
    return (entry.retirement.value or date.max, entry.ga.value or date.min, entry.response_name)


def choose_defaults(day: date | None = None, models: Catalogue | None = None) -> dict[str, Choice]:
    """The model the rule (:data:`RULE`) picks for each role in :data:`ROLES` on ``day``."""
    day = day or date.today()
    models = models or catalogue()
    choices: dict[str, Choice] = {}
    for role in ROLES:
        candidates = [m for m in models.models if m.kind == role.kind and m.size == role.size]
        judged = [(m, reasons_against(m, role, day)) for m in candidates]
        fit = [m for m, reasons in judged if not reasons]
        chosen = max(fit, key=_lateness) if fit else None
        excluded = tuple((m, reasons) for m, reasons in judged if reasons)
        choices[role.name] = Choice(role, day, chosen, excluded)
    return choices


def lifecycle_warnings(
    names: Iterable[str], day: date, margin_days: int = 30, models: Catalogue | None = None
) -> list[str]:
    """One message per model that stops taking new deployments, or retires, within
    ``margin_days`` of ``day`` (or already has), naming the catalogue line to update."""
    models = models or catalogue()
    margin = timedelta(days=margin_days)
    messages: list[str] = []
    for name in dict.fromkeys(names):
        try:
            entry = models.lookup(name)
        except UnknownModelError as exc:
            messages.append(f"{exc}: add it to the catalogue")
            continue
        for what, fact in (
            ("takes no new deployments", entry.deprecation),
            ("retires", entry.retirement),
        ):
            when = fact.value
            if when is None or day < when - margin:
                continue
            days = (when - day).days
            timing = f"in {days} days" if days > 0 else f"{-days} days ago" if days else "today"
            messages.append(
                f"{entry.response_name} {what} on {when} ({timing}, as of {day}); "
                f"choose another default (make models) or, if Microsoft moved the date, "
                f"update {models.where(entry)}"
            )
    return messages


# --------------------------------------------------------------------------------- make models


def _day(value: date | None, bound: str = "exact") -> str:
    if value is None:
        return "-"
    return f"<={value}" if bound == "no later than" else value.isoformat()


def _fact_day(fact: Fact[date | None]) -> str:
    return _day(fact.value, fact.bound) + ("?" if fact.value and not fact.verified else "")


def _count(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n // 1000}k" if n >= 10_000 else str(n)


def _apis(entry: ModelVersion) -> str:
    short = {"chat_completions": "chat", "responses": "resp", "embeddings": "emb"}
    names = [short[a] for a in entry.apis.value]
    if entry.global_batch.value:
        names.append("batch")
    return ",".join(names)


def _limits(entry: ModelVersion) -> str:
    lim = entry.limits.value
    if entry.kind == "embeddings":
        return f"in {_count(lim.max_input)}, {lim.dimensions}-d"
    return f"{_count(lim.context_window)}/{_count(lim.max_input)}/{_count(lim.max_output)}"


def table(models: Catalogue, day: date) -> list[str]:
    """The catalogue as text rows, one per model version, lifecycle computed for ``day``."""
    header = ("model", "version", f"on {day}", "GA", "no new depl.", "retires", "family",
              "APIs", "ctx/in/out", "source")  # fmt: skip
    rows = [header]
    for e in sorted(models.models, key=lambda m: (m.kind, m.model, m.version)):
        source = models.sources[e.stage.source] if e.stage.source else None
        rows.append(
            (e.model, e.version, str(e.lifecycle_on(day)), _fact_day(e.ga),
             _fact_day(e.deprecation), _fact_day(e.retirement), e.family, _apis(e), _limits(e),
             f"{e.stage.source} ({source.dated})" if source else "unverified")
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def report(day: date, models: Catalogue) -> list[str]:
    """What ``make models`` prints."""
    lines = [
        f"Model catalogue {models._path}, checked {models.checked}; lifecycle as of {day}.",
        "",
    ]
    lines += table(models, day)
    lines += [
        "",
        "<=date: first copy that shows the stage; ?: unverified (see the file).",
        "ctx/in/out: context window / max input / max output tokens (models page).",
        "",
        f"Defaults the rule picks on {day}:",
    ]
    for name, choice in choose_defaults(day, models).items():
        if choice.model is None:
            lines.append(f"  {name:<11} none qualifies")
        else:
            retire = choice.model.retirement.value
            left = f", retires {retire} ({(retire - day).days} days)" if retire else ""
            lines.append(f"  {name:<11} {choice.model.response_name}{left}")
        for entry, reasons in choice.excluded:
            lines.append(f"  {'':<11}   not {entry.response_name}: {'; '.join(reasons)}")
    lines += ["", "The rule:", *(f"  {line}" for line in RULE.splitlines())]
    unverified = sum(1 for _, fact in models.facts() if not fact.verified)
    lines += ["", f"{unverified} unverified facts; each says where its value comes from."]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers._support.models",
        description="Print the model catalogue and the defaults the project's rule picks.",
    )
    parser.add_argument(
        "--on", type=date.fromisoformat, default=None, help="the day to judge (default: today)"
    )
    parser.add_argument("--file", type=Path, default=None, help="another catalogue file")
    args = parser.parse_args(argv)
    models = load_catalogue(args.file) if args.file else catalogue()
    print("\n".join(report(args.on or date.today(), models)))
    return 0
