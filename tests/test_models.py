"""The model catalogue (helpers/data/models.yaml): sourced, consistent, and watched.

The oracles are the pages themselves: expected dates below were typed by hand from Microsoft
Learn's *Model retirement schedule* (stored copy dated 2026-09-02) and *Region availability for
Foundry Models sold by Azure* (Global Batch list, 2026-08-28), never read back from the loader;
tokenizers are checked against tiktoken itself.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest
import tiktoken
import yaml
from conftest import StartServer, v1_client
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from helpers._support.models import (
    ROLES,
    Catalogue,
    Fact,
    ModelVersion,
    Stage,
    UnknownModelError,
    catalogue,
    choose_defaults,
    lifecycle_warnings,
    load_catalogue,
    max_output_tokens,
)
from helpers.replay import ReplayServer
from helpers.replay.config import DEFAULT_DEPLOYMENTS, NOTEBOOK_DEFAULTS, Deployment

CATALOGUE = Path(__file__).resolve().parent.parent / "helpers" / "data" / "models.yaml"
TODAY = date(2026, 12, 6)  # the day the catalogue was checked (the issue's "today")


def raw() -> dict[str, Any]:
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


def fact_mappings(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every mapping in the file that carries a ``value``: the facts, found without the loader."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if "value" in node:
            found.append((where, node))
        for key, child in node.items():
            found += fact_mappings(child, f"{where}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            label = f"{child.get('model')} {child.get('version')}" if isinstance(child, dict) else i
            found += fact_mappings(child, f"{where}[{label}]")
    return found


# --- the file ----------------------------------------------------------------------------------


def test_the_catalogue_validates_and_holds_the_models_the_issue_names() -> None:
    models = load_catalogue(CATALOGUE)
    held = {(m.model, m.version) for m in models.models}
    wanted = {
        ("gpt-5-mini", "2025-08-07"), ("gpt-5-nano", "2025-08-07"),
        ("gpt-4o", "2024-08-06"), ("gpt-4o", "2024-11-20"), ("gpt-4o-mini", "2024-07-18"),
        ("gpt-4.1", "2025-04-14"), ("gpt-4.1-mini", "2025-04-14"), ("gpt-4.1-nano", "2025-04-14"),
        ("gpt-5.4-mini", "2026-03-17"), ("gpt-5.4-nano", "2026-03-17"), ("gpt-5.5", "2026-04-24"),
        ("gpt-5.6-luna", "2026-07-09"), ("gpt-5.6-terra", "2026-07-09"),
        ("gpt-5.6-sol", "2026-07-09"), ("gpt-5.1", "2025-11-13"), ("gpt-5.2", "2025-12-11"),
        ("text-embedding-3-small", "1"), ("text-embedding-3-large", "1"),
    }  # fmt: skip
    assert wanted <= held, sorted(wanted - held)


def test_every_fact_has_a_source_or_says_where_it_comes_from() -> None:
    data = raw()
    sources = data["sources"]
    facts = fact_mappings(data["families"], "families") + fact_mappings(data["models"], "models")
    # The loader sees the same facts the file holds (none dropped, none invented).
    assert len(facts) == len(list(catalogue().facts())) > 250
    for where, fact in facts:
        assert ("source" in fact) != ("unverified" in fact), f"{where}: source xor unverified"
        if "source" in fact:
            assert fact["source"] in sources, f"{where}: unknown source {fact['source']}"
        else:
            assert len(fact["unverified"].split()) >= 4, f"{where}: say where the value comes from"
    for entry in data["models"]:
        for item in entry.get("history", []):
            assert item["source"] in sources, f"{entry['model']}: history {item['source']}"
    for key, source in sources.items():
        assert source["url"].startswith("https://"), key
        assert source["title"] and source["copy"], key
        assert "dated" in source, f"{key}: say the copy's date (or null when it has none)"


def test_learn_sources_name_the_date_in_their_key() -> None:
    # A key like schedule-2026-09-02 must not drift from the date the copy states.
    for key, source in raw()["sources"].items():
        stamp = re.search(r"\d{4}-\d{2}-\d{2}$", key)
        if stamp:
            assert source["dated"] == date.fromisoformat(stamp.group()), key


def test_a_fact_without_a_source_is_refused(tmp_path: Path) -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    unsourced = tmp_path / "unsourced.yaml"
    unsourced.write_text(
        text.replace(
            "retirement: {value: 2027-02-09, source: schedule-2026-09-02}",
            "retirement: {value: 2027-02-09}",
            1,
        )
    )
    with pytest.raises(pydantic.ValidationError, match="exactly one of 'source' or 'unverified'"):
        load_catalogue(unsourced)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(text.replace("source: models-2026-08-26}", "source: a-blog}", 1))
    with pytest.raises(pydantic.ValidationError, match="a-blog"):
        load_catalogue(unknown)


@pytest.mark.parametrize("entry", catalogue().models, ids=lambda m: m.label)
def test_dates_are_in_lifecycle_order(entry: ModelVersion) -> None:
    dates = [entry.ga.value, entry.legacy.value, entry.deprecation.value, entry.retirement.value]
    known = [d for d in dates if d is not None]
    assert known == sorted(known), f"GA <= legacy <= no new deployments <= retirement: {dates}"
    for item in entry.history:
        if item.deprecation and item.retirement:
            assert item.deprecation <= item.retirement, item


@pytest.mark.parametrize("entry", catalogue().models, ids=lambda m: m.label)
def test_the_dates_give_the_stage_the_schedule_states(entry: ModelVersion) -> None:
    models = catalogue()
    assert entry.stage.source is not None
    copy_date = models.sources[entry.stage.source].dated
    assert copy_date is not None
    assert entry.lifecycle_on(copy_date) is entry.stage.value


# --- what Learn says, typed by hand ------------------------------------------------------------

# (response name, GA, retirement) from the 2026-09-02 schedule; GA = the version (launch date).
SCHEDULE = [
    ("gpt-5-mini-2025-08-07", date(2025, 8, 7), date(2027, 2, 9)),
    ("gpt-5-nano-2025-08-07", date(2025, 8, 7), date(2027, 2, 9)),
    ("gpt-5.4-mini-2026-03-17", date(2026, 3, 17), date(2027, 9, 21)),
    ("gpt-5.4-nano-2026-03-17", date(2026, 3, 17), date(2027, 9, 21)),
    ("gpt-5.5-2026-04-24", date(2026, 4, 24), date(2027, 10, 26)),
    ("gpt-5.6-luna-2026-07-09", date(2026, 7, 9), date(2028, 1, 11)),
    ("gpt-5.6-terra-2026-07-09", date(2026, 7, 9), date(2028, 1, 11)),
    ("gpt-5.6-sol-2026-07-09", date(2026, 7, 9), date(2028, 1, 11)),
    ("gpt-4o-mini-2024-07-18", date(2024, 7, 18), date(2027, 4, 14)),
    ("gpt-4o-2024-08-06", date(2024, 8, 6), date(2027, 4, 14)),
]


@pytest.mark.parametrize(("name", "ga", "retirement"), SCHEDULE)
def test_dates_match_the_retirement_schedule(name: str, ga: date, retirement: date) -> None:
    entry = catalogue().lookup(name)
    assert (entry.ga.value, entry.retirement.value) == (ga, retirement)


@pytest.mark.parametrize(
    ("name", "day", "stage"),
    [
        ("gpt-4o-mini-2024-07-18", date(2026, 7, 6), Stage.GA),
        ("gpt-4o-mini-2024-07-18", date(2026, 7, 7), Stage.DEPRECATED),
        ("gpt-4o-mini-2024-07-18", TODAY, Stage.DEPRECATED),
        ("gpt-4o-mini-2024-07-18", date(2027, 4, 14), Stage.RETIRED),
        ("gpt-4o-2024-11-20", TODAY, Stage.LEGACY),
        ("gpt-5-mini-2025-08-07", date(2027, 2, 8), Stage.GA),
        ("gpt-5-mini-2025-08-07", date(2027, 2, 9), Stage.RETIRED),
        ("gpt-5.6-luna-2026-07-09", date(2026, 7, 8), Stage.UNRELEASED),
        ("gpt-5.6-luna-2026-07-09", TODAY, Stage.GA),
    ],
)
def test_lifecycle_on_a_day(name: str, day: date, stage: Stage) -> None:
    assert catalogue().lookup(name).lifecycle_on(day) is stage


def test_global_batch_matches_learns_list() -> None:
    # Region availability, Global Batch (2026-08-28): of the models here, these and no others.
    listed = {
        "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "gpt-4o-mini-2024-07-18",
        "gpt-5-2025-08-07", "gpt-5.1-2025-11-13", "gpt-5.4-mini-2026-03-17",
    }  # fmt: skip
    in_batch = {m.response_name for m in catalogue().models if m.global_batch.value}
    assert in_batch == listed


def test_gpt_5_6_takes_no_function_tools_with_reasoning_on_chat_completions() -> None:
    for tier in ("sol", "terra", "luna"):
        entry = catalogue().lookup(f"gpt-5.6-{tier}")
        assert entry.chat_tools_with_reasoning is not None
        assert (entry.chat_tools_with_reasoning.value, entry.chat_tools_with_reasoning.source) == (
            False,
            "models-2026-08-26",
        )


MODELS = [m for m in catalogue().models if m.kind != "router"]


@pytest.mark.parametrize("entry", MODELS, ids=lambda m: m.label)
def test_tokenizer_agrees_with_tiktoken(entry: ModelVersion) -> None:
    assert entry.tokenizer is not None
    assert tiktoken.encoding_name_for_model(entry.response_name) == entry.tokenizer.value


# --- model router --------------------------------------------------------------------------


def test_model_router_is_in_the_catalogue_with_learns_dates_and_models() -> None:
    router = catalogue().lookup("model-router-2025-11-18")
    assert (router.kind, router.stage.value, router.tokenizer) == ("router", Stage.GA, None)
    # Model retirement schedule, 2026-07-07 copy, Microsoft table.
    assert (router.ga.value, router.retirement.value) == (date(2025, 11, 18), date(2027, 5, 20))
    assert router.routes_to is not None and router.routes_to.verified
    assert {"gpt-5.4-mini-2026-03-17", "gpt-5.4-nano-2026-03-17", "o4-mini-2025-04-16",
            "claude-opus-4-7"} <= set(router.routes_to.value)  # fmt: skip
    # It fills no default role (a router is no model of its own).
    assert all(c.model is not router for c in choose_defaults(TODAY).values())


def test_the_router_notebook_4_uses_is_not_within_30_days_of_retiring() -> None:
    """Fails 30 days before model router 2025-11-18 retires (real clock), naming the line."""
    problems = lifecycle_warnings([DEFAULT_DEPLOYMENTS["model-router"].model], date.today())
    assert not problems, "\n".join(problems)
    moved = lifecycle_warnings(["model-router-2025-11-18"], date(2027, 4, 21))
    assert len(moved) == 1 and "helpers/data/models.yaml:" in moved[0]


def test_the_router_deployment_answers_with_catalogue_models_open_today() -> None:
    router = catalogue().lookup("model-router-2025-11-18")
    deployment = DEFAULT_DEPLOYMENTS["model-router"]
    assert deployment.is_router and deployment.kind == "chat"
    assert router.routes_to is not None
    for name in deployment.routes_to:
        entry = catalogue().lookup(name)  # its own limits and efforts rule its answers
        assert name in router.routes_to.value
        assert entry.kind == "chat" and entry.lifecycle_on(TODAY) is Stage.GA


def test_a_router_deployment_needs_a_subset_learn_lists() -> None:
    with pytest.raises(pydantic.ValidationError, match="needs routes_to"):
        Deployment(kind="chat", model="model-router-2025-11-18")
    with pytest.raises(pydantic.ValidationError, match=re.escape("gpt-5.6-luna-2026-07-09")):
        Deployment(
            kind="chat", model="model-router-2025-11-18", routes_to=("gpt-5.6-luna-2026-07-09",)
        )
    with pytest.raises(pydantic.ValidationError, match="model router deployment"):
        Deployment(kind="chat", model="gpt-5.4-mini", routes_to=("gpt-5.4-nano-2026-03-17",))


def test_the_router_answers_with_the_model_it_routes_to(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="lenient"))
    short = client.chat.completions.create(model="model-router", messages=MESSAGES)
    assert short.model == "gpt-5.4-nano-2026-03-17"  # the simulator's rule: short, no effort
    hard = client.chat.completions.create(
        model="model-router", messages=MESSAGES, reasoning_effort="high"
    )
    assert hard.model == "gpt-5.4-mini-2026-03-17"
    long = client.responses.create(model="model-router", input="Why? " * 200)
    assert long.model == "gpt-5.4-mini-2026-03-17"
    plain = client.responses.create(model="model-router", input="Hi")
    assert plain.model == "gpt-5.4-nano-2026-03-17"


def test_the_router_checks_a_request_against_the_answering_model(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(mode="lenient"))
    # gpt-5.4 takes no 'minimal' (the answering model's list, not the router's).
    with pytest.raises(openai.BadRequestError, match="'none', 'low', 'medium'"):
        client.chat.completions.create(
            model="model-router", messages=MESSAGES, reasoning_effort="minimal"
        )
    # Learn: the router ignores temperature for a reasoning model instead of refusing it.
    answer = client.chat.completions.create(
        model="model-router", messages=MESSAGES, temperature=0.2
    )
    assert answer.model == "gpt-5.4-nano-2026-03-17"
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.chat.completions.create(model="gpt-5.4-nano", messages=MESSAGES, temperature=0.2)


def test_max_output_tokens_for_a_response_model_name() -> None:
    assert max_output_tokens("gpt-5-mini-2025-08-07") == 128_000
    assert max_output_tokens("gpt-4o-2024-08-06") == 16_384
    assert max_output_tokens("gpt-4.1-nano-2025-04-14") == 32_768
    assert max_output_tokens("not-a-model") is None


# --- lookups -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("gpt-5-mini-2025-08-07", "gpt-5-mini 2025-08-07"),
        ("gpt-5-mini", "gpt-5-mini 2025-08-07"),
        ("text-embedding-3-small", "text-embedding-3-small 1"),
        ("gpt-4o-2024-11-20", "gpt-4o 2024-11-20"),
    ],
)
def test_lookup_by_response_or_deployment_model_name(name: str, label: str) -> None:
    assert catalogue().lookup(name).label == label


def test_a_bare_name_with_several_versions_is_refused_with_the_versions() -> None:
    assert catalogue().find("gpt-4o") is None
    with pytest.raises(UnknownModelError, match="gpt-4o-2024-08-06, gpt-4o-2024-11-20"):
        catalogue().lookup("gpt-4o")


def test_an_unknown_model_says_what_is_known() -> None:
    assert catalogue().find("gpt-9") is None
    with pytest.raises(UnknownModelError, match=r"'gpt-9' is not in .*gpt-5-mini-2025-08-07"):
        catalogue().lookup("gpt-9")


# --- the default-choice rule -------------------------------------------------------------------


def test_the_rule_picks_todays_defaults() -> None:
    picked = {role: c.model.response_name if c.model else None for role, c in
              choose_defaults(TODAY).items()}  # fmt: skip
    assert picked == {
        "chat": "gpt-5.4-mini-2026-03-17",  # gpt-5.6-terra: streaming unverified
        "small_chat": "gpt-5.4-nano-2026-03-17",  # gpt-5.6-luna: streaming unverified
        "batch": "gpt-5.4-mini-2026-03-17",  # the only mini in Learn's Global Batch list
        "embeddings": "text-embedding-3-small",
    }
    reasons = dict((m.response_name, r) for m, r in choose_defaults(TODAY)["chat"].excluded)
    # gpt-5-mini takes no reasoning_effort none (its efforts are minimal..high).
    assert reasons["gpt-5-mini-2025-08-07"] == ("no effort none",)
    assert reasons["gpt-5.6-terra-2026-07-09"] == ("streaming unverified",)


def test_gpt_5_mini_retiring_leaves_the_gpt_5_4_defaults_in_place() -> None:
    choices = choose_defaults(date(2027, 2, 9))
    assert choices["chat"].model is not None and choices["small_chat"].model is not None
    assert (choices["chat"].model.response_name, choices["small_chat"].model.response_name) == (
        "gpt-5.4-mini-2026-03-17",
        "gpt-5.4-nano-2026-03-17",
    )
    reasons = dict((m.response_name, r) for m, r in choices["chat"].excluded)
    assert reasons["gpt-5-mini-2025-08-07"] == ("Retired on 2027-02-09", "no effort none")


def test_after_gpt_5_4_retires_no_model_qualifies_for_chat() -> None:
    assert choose_defaults(date(2027, 9, 20))["chat"].model is not None
    choices = choose_defaults(date(2027, 9, 21))
    assert choices["chat"].model is None and choices["small_chat"].model is None
    assert choices["batch"].model is None
    reasons = dict((m.response_name, r) for m, r in choices["chat"].excluded)
    assert reasons["gpt-5.4-mini-2026-03-17"] == ("Retired on 2027-09-21",)
    assert reasons["gpt-5.6-terra-2026-07-09"] == ("streaming unverified",)
    small = dict((m.response_name, r) for m, r in choices["small_chat"].excluded)
    assert small["gpt-5.4-nano-2026-03-17"] == ("Retired on 2027-09-21",)


def _variant(entry: ModelVersion, version: str, **dates: date | None) -> ModelVersion:
    update: dict[str, Any] = {"version": version}
    for name, value in dates.items():
        update[name] = Fact[date | None](value=value, source="schedule-2026-09-02")
    return entry.model_copy(update=update)


def test_the_rule_prefers_the_later_retirement_and_skips_closed_models() -> None:
    models = catalogue()
    base = models.lookup("gpt-5.4-mini-2026-03-17")
    later = _variant(base, "2026-10-01", ga=date(2026, 10, 1), retirement=date(2028, 4, 1))
    closed = _variant(base, "2026-11-01", ga=date(2026, 11, 1), retirement=date(2028, 5, 1),
                      deprecation=TODAY)  # fmt: skip
    trial = Catalogue(
        checked=models.checked,
        sources=models.sources,
        families=models.families,
        models=(*models.models, later, closed),
    )
    choice = choose_defaults(TODAY, trial)["chat"]
    assert choice.model is later
    assert dict((m.version, r) for m, r in choice.excluded)["2026-11-01"] == (
        "Deprecated on 2026-12-06",
    )
    assert choose_defaults(TODAY - timedelta(days=1), trial)["chat"].model is closed
    # Without the variants, the catalogue's own mini is the pick.
    assert choose_defaults(TODAY, models)["chat"].model is base


def test_every_role_has_a_candidate_in_the_catalogue() -> None:
    for role in ROLES:
        assert any(m.kind == role.kind and m.size == role.size for m in catalogue().models), role


# --- the guard on the project's own defaults ---------------------------------------------------


def notebook_models() -> list[str]:
    return [DEFAULT_DEPLOYMENTS[name].model for name in NOTEBOOK_DEFAULTS]


def test_no_default_the_notebooks_use_is_within_30_days_of_a_lifecycle_date() -> None:
    """Fails 30 days before a default stops taking new deployments or retires (real clock)."""
    problems = lifecycle_warnings(notebook_models(), date.today())
    assert not problems, "\n".join(problems)


def test_the_guard_passes_today_and_fails_with_a_moved_clock() -> None:
    assert lifecycle_warnings(notebook_models(), TODAY) == []
    # 2027-09-21 (retirement) - 30 days = 2027-08-22: the first day the guard fails.
    assert lifecycle_warnings(notebook_models(), date(2027, 8, 21)) == []
    problems = lifecycle_warnings(notebook_models(), date(2027, 8, 22))
    assert len(problems) == 2  # gpt-5.4-mini (two deployments, one message) and gpt-5.4-nano
    lines = CATALOGUE.read_text(encoding="utf-8").splitlines()
    for problem, model in zip(problems, ["gpt-5.4-mini", "gpt-5.4-nano"], strict=True):
        assert f"{model}-2026-03-17 retires on 2027-09-21 (in 30 days, as of 2027-08-22)" in problem
        where = re.search(r"helpers/data/models\.yaml:(\d+) ", problem)
        assert where, problem
        line = int(where.group(1))
        assert lines[line - 1].strip() == f"- model: {model}"
        assert lines[line].strip() == 'version: "2026-03-17"'


def test_the_guard_names_an_unknown_model() -> None:
    (problem,) = lifecycle_warnings(["gpt-9-2030-01-01"], TODAY)
    assert problem.startswith("'gpt-9-2030-01-01' is not in helpers/data/models.yaml")
    assert problem.endswith("add it to the catalogue")


def test_the_batch_deployment_runs_a_global_batch_model() -> None:
    # Learn's Global Batch model list (2026-08-28) has gpt-5.4-mini; gpt-5-mini, which the
    # batch deployment ran before, is not on it (and its deployment is gone).
    batch = DEFAULT_DEPLOYMENTS["gpt-5.4-mini-batch"]
    assert batch.batch is True
    entry = catalogue().lookup(batch.model)
    assert entry.response_name == "gpt-5.4-mini-2026-03-17"
    assert entry.global_batch.value is True
    assert entry.global_batch.source == "regions-batch-2026-08-28"
    assert "gpt-5-mini-batch" not in DEFAULT_DEPLOYMENTS
    assert catalogue().lookup("gpt-5-mini-2025-08-07").global_batch.value is not True


# --- the replay server reads the catalogue -----------------------------------------------------


def test_default_deployments_take_family_and_efforts_from_the_catalogue() -> None:
    for name in ("gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.4-mini-batch"):
        deployment = DEFAULT_DEPLOYMENTS[name]
        # gpt-5.4 efforts: none..xhigh; minimal was a 2025-08-07 GPT-5 value.
        assert (deployment.family, deployment.reasoning_efforts) == (
            "reasoning",
            ("none", "low", "medium", "high", "xhigh"),
        ), name
    # The deprecated standard models are no longer built in; a standard deployment is one line.
    assert not {"gpt-4o", "gpt-4o-mini", "gpt-5-mini", "gpt-5-nano"} & set(DEFAULT_DEPLOYMENTS)
    standard = Deployment(kind="chat", model="gpt-4.1-mini-2025-04-14")
    assert (standard.family, standard.reasoning_efforts) == ("standard", ())
    assert DEFAULT_DEPLOYMENTS["text-embedding-3-small"].dimensions == 1536


def test_a_deployment_of_a_catalogue_model_needs_no_family() -> None:
    gpt51 = Deployment(kind="chat", model="gpt-5.1-2025-11-13")
    assert (gpt51.family, gpt51.reasoning_efforts) == (
        "reasoning",
        ("none", "low", "medium", "high"),
    )
    chosen = Deployment(kind="chat", model="gpt-5.1-2025-11-13", family="standard")
    assert (chosen.family, chosen.reasoning_efforts) == ("standard", ())
    unknown = Deployment(kind="chat", model="my-fine-tune")
    assert (unknown.family, unknown.reasoning_efforts) == ("standard", ())


TOOLS: list[ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}
]
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What time is it?"}]


@pytest.fixture
def newer_models(start_server: StartServer) -> ReplayServer:
    """A lenient server hosting gpt-5.6-luna and gpt-5.1, deployed by model name only."""
    return start_server(
        mode="lenient",
        deployments={
            "luna": {"kind": "chat", "model": "gpt-5.6-luna-2026-07-09"},
            "gpt-5.1": {"kind": "chat", "model": "gpt-5.1-2025-11-13"},
        },
    )


def test_gpt_5_6_answers_400_to_function_tools_with_reasoning(newer_models: ReplayServer) -> None:
    client = v1_client(newer_models)
    # Microsoft Learn (reasoning models): the request fails even without reasoning_effort,
    # because these models default to medium.
    extras: list[dict[str, Any]] = [{}, {"reasoning_effort": "low"}]
    for extra in extras:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="luna", messages=MESSAGES, tools=TOOLS, **extra)
        assert caught.value.param == "reasoning_effort"
        assert caught.value.body["message"] == (  # type: ignore[index]
            "Function tools with reasoning_effort are not supported for gpt-5.6-luna in "
            "/v1/chat/completions. To use function tools, use /v1/responses or set "
            "reasoning_effort to 'none'."
        )


def test_gpt_5_6_takes_function_tools_at_effort_none(newer_models: ReplayServer) -> None:
    client = v1_client(newer_models)
    answer = client.chat.completions.create(
        model="luna",
        messages=MESSAGES,
        tools=TOOLS,
        reasoning_effort="none",
    )
    assert answer.choices
    plain = client.chat.completions.create(model="luna", messages=MESSAGES)
    assert plain.choices


def test_gpt_5_1_takes_temperature_only_when_it_does_not_reason(
    newer_models: ReplayServer,
) -> None:
    client = v1_client(newer_models)
    # Its default effort is none (Learn); OpenAI's guide: temperature is then accepted.
    assert client.chat.completions.create(model="gpt-5.1", messages=MESSAGES, temperature=0.2)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-5.1",
            messages=MESSAGES,
            temperature=0.2,
            reasoning_effort="low",
        )
    assert (caught.value.code, caught.value.param) == ("unsupported_value", "temperature")


RUNWAY_DAYS = 180
"""No notebook output or recording may come from a model retiring within this many days."""

MODEL_VERSION = re.compile(r"\b((?:gpt|o\d|text-embedding)[\w.-]*?-20\d\d-\d\d-\d\d)\b")
"""A dated model name as Azure puts it in a response's ``model`` field."""


def _answering_models() -> dict[str, set[str]]:
    """Every dated model name in the notebooks' recordings and committed outputs, by file."""
    root = Path(__file__).resolve().parent.parent / "notebooks"
    found: dict[str, set[str]] = {}
    for path in [*root.glob("recordings/*.yaml"), *root.glob("[0-9][0-9]_*.ipynb")]:
        names = set(MODEL_VERSION.findall(path.read_text(encoding="utf-8")))
        found[path.name] = names
    return found


def test_no_notebook_answer_comes_from_a_closed_or_retiring_model() -> None:
    """The acceptance of the catalogue issue: every answer a notebook shows or replays comes
    from a GA model that retires more than 180 days from today."""
    problems = []
    seen = set()
    for file, names in _answering_models().items():
        for name in names:
            entry = catalogue().find(name)
            if entry is None:
                problems.append(f"{file}: {name} is not in the catalogue")
                continue
            seen.add(entry.response_name)
            stage = entry.lifecycle_on(TODAY)
            retires = entry.retirement.value
            if stage is not Stage.GA:
                problems.append(f"{file}: {name} is {stage} on {TODAY}")
            elif retires is not None and retires <= TODAY + timedelta(days=RUNWAY_DAYS):
                problems.append(f"{file}: {name} retires on {retires}, within {RUNWAY_DAYS} days")
    assert not problems, "\n".join(problems)
    assert "gpt-5.4-mini-2026-03-17" in seen  # the scan does find the answers it checks


def test_the_runway_check_catches_a_retiring_model() -> None:
    entry = catalogue().lookup("gpt-5-mini-2025-08-07")
    assert entry.retirement.value is not None
    assert entry.retirement.value <= TODAY + timedelta(days=RUNWAY_DAYS)
    assert MODEL_VERSION.findall('"model": "gpt-5-mini-2025-08-07"') == ["gpt-5-mini-2025-08-07"]


def test_a_routed_stream_names_the_answering_model_in_every_chunk(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(mode="lenient"))
    chunks = list(
        client.chat.completions.create(
            model="model-router", messages=MESSAGES, reasoning_effort="high", stream=True
        )
    )
    named = {chunk.model for chunk in chunks if chunk.model}
    assert named == {"gpt-5.4-mini-2026-03-17"}
    events = list(client.responses.create(model="model-router", input="Hi", stream=True))
    done = [e for e in events if e.type == "response.completed"]
    assert len(done) == 1 and done[0].response.model == "gpt-5.4-nano-2026-03-17"
