"""helpers.hybrid_search.grounding: Azure AI Search retrieval, numbered sources, checked citations.

The official SDKs talk to one replay server: its search service ranks the bike-care corpus
(notebooks/data/bike_care.jsonl) itself, from documents uploaded here with vectors from the
lenient-mode embeddings stand-in; gpt-5.4-mini's answers are the curated recordings in
tests/recordings/test_hybrid_search.yaml, written for exactly the prompts these tests build
(tests/recordings/curate_test_hybrid_search.py). A question with no recording gets lenient mode's
marked placeholder.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import RECORDINGS, solution
from openai import AzureOpenAI
from openai.types.chat import ChatCompletion
from rag_index import CHAT, TOP, build_index, openai_client, search_client
from recordings.curate_test_hybrid_search import HELMET, LOCK, RANGE, SPONGY

from helpers.hybrid_search import check_rrf
from helpers.hybrid_search.grounding import (
    SYSTEM_PROMPT,
    AnswerError,
    GroundedAnswer,
    Retriever,
    Source,
    UngroundedAnswerError,
    answer,
    ask,
    build_messages,
    parse_citations,
)
from helpers.replay import ReplayConfig, ReplayServer, azure


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    config = ReplayConfig(mode="lenient", recordings=[RECORDINGS / "test_hybrid_search.yaml"])
    with ReplayServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def retriever(server: ReplayServer) -> Retriever:
    return build_index(server)


@pytest.fixture(scope="module")
def client(server: ReplayServer) -> AzureOpenAI:
    return openai_client(server)


def source(number: int, title: str = "A title", content: str = "Some content.") -> Source:
    return Source(number=number, id=f"doc-{number}", title=title, content=content, score=0.5)


# -- citations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Pump it up [2].", [2]),
        ("Both say so [1][3], and [1] again.", [1, 3]),
        ("Lists [3, 1] and [2; 4].", [3, 1, 2, 4]),
        ("A range [2-4] and an en dash [6\u20137].", [2, 3, 4, 6, 7]),
        ("Spaces [ 5 ] are fine.", [5]),
        ("Not citations: [a], [], [link](http://x), [1.5], list[int].", []),
        ("Zero is a number too [0].", [0]),
    ],
)
def test_parse_citations_reads_each_bracket_form(text: str, numbers: list[int]) -> None:
    assert parse_citations(text) == numbers


def test_parse_citations_does_not_expand_an_absurd_range() -> None:
    assert parse_citations("[1-100000]") == [1, 100000]


def test_references_are_listed_by_number_and_cited_sources_in_citation_order() -> None:
    sources = [source(1, "Tyres"), source(2, "Chains"), source(3, "Brakes")]
    body = azure.chat_completion(
        completion_id="chatcmpl-1", model="gpt-5.4-mini-2026-03-17", content="Oil it [3], pump [1]."
    )
    completion = ChatCompletion.model_validate(body)
    result = GroundedAnswer(
        "Q?", "Oil it [3], pump [1].", sources, [sources[2], sources[0]], [], completion
    )
    assert result.with_references().splitlines()[-2:] == ["[1] Tyres (doc-1)", "[3] Brakes (doc-3)"]
    assert [s.number for s in result.uncited] == [2]


# -- the prompt ---------------------------------------------------------------------------------


def test_messages_number_every_source_and_end_with_the_question() -> None:
    sources = [source(1, "Tyres", "Check pressure."), source(2, "Chains", "Oil it.")]
    system, user = build_messages("  How often?  ", sources)
    assert system["role"] == "system" and "[1]" in str(system["content"])
    assert user["role"] == "user"
    content = str(user["content"])
    assert content.index("[1] Tyres\nCheck pressure.") < content.index("[2] Chains\nOil it.")
    assert content.endswith("Question: How often?")


def test_messages_carry_the_instructions_as_a_developer_message_when_asked() -> None:
    first, user = build_messages("Why?", [source(1)], instructions_role="developer")
    assert first == {"role": "developer", "content": SYSTEM_PROMPT}
    assert user["role"] == "user"


@pytest.mark.parametrize(
    ("question", "sources", "message"),
    [
        ("   ", [source(1)], "question is empty"),
        ("Why?", [], "no sources"),
        ("Why?", [source(2), source(1)], "numbered 1 to 2 in order"),
    ],
)
def test_messages_refuse_bad_input(question: str, sources: list[Source], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_messages(question, sources)


# -- retrieval (computed by the search simulator) -------------------------------------------------


def test_hybrid_retrieval_ranks_the_relevant_passage_first(retriever: Retriever) -> None:
    sources = retriever.retrieve(RANGE)
    assert [s.number for s in sources] == list(range(1, TOP + 1))
    assert sources[0].id == "ebike-range-cold"
    assert {"ebike-battery-storage", "winter-storage"} & {s.id for s in sources[1:]}
    scores = [s.score for s in sources]
    assert scores == sorted(scores, reverse=True)
    assert 0 < scores[0] <= 2 / 61  # Reciprocal Rank Fusion of two lists: at most 1/61 each


def test_keyword_retrieval_finds_an_error_code(retriever: Retriever) -> None:
    sources = retriever.retrieve("E12", mode="keyword")
    assert [s.id for s in sources] == ["ebike-error-e12"]


def test_vector_retrieval_finds_a_paraphrase(retriever: Retriever) -> None:
    sources = retriever.retrieve("my brakes feel soft and squishy", mode="vector")
    assert sources[0].id.startswith("brake-")
    assert all(1 / 3 <= s.score <= 1 for s in sources)  # cosine similarity, as Azure scales it


def test_retriever_filter_limits_the_candidates(server: ReplayServer) -> None:
    base = build_index(server)
    tyres = Retriever(
        base.search_client, base.embeddings_client, embedding_model=base.embedding_model,
        dimensions=base.dimensions, filter="category eq 'tyres'", top=5,
    )  # fmt: skip
    sources = tyres.retrieve("How often should I add sealant?")
    assert sources[0].id == "tubeless-sealant"
    assert {s.id for s in sources} <= {"tyre-pressure", "puncture-repair", "tubeless-sealant"}


def test_retriever_maps_differently_named_fields(server: ReplayServer) -> None:
    build_index(server)
    renamed = Retriever(
        search_client(server), openai_client(server), embedding_model="text-embedding-3-small",
        dimensions=256, mode="keyword", title_field="category", content_field="title", top=1,
    )  # fmt: skip
    (found,) = renamed.retrieve("sealant")
    assert (found.id, found.title, found.content) == (
        "tubeless-sealant",
        "tyres",
        "Tubeless sealant top-ups",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [({"mode": "semantic"}, "mode must be"), ({"top": 0}, "top must be at least 1")],
)
def test_retriever_refuses_bad_options(
    server: ReplayServer, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Retriever(search_client(server), openai_client(server), embedding_model="e", **options)  # type: ignore[arg-type]


def test_retriever_refuses_an_empty_question_or_an_unknown_mode(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="question is empty"):
        retriever.retrieve(" ")
    with pytest.raises(ValueError, match="mode must be"):
        retriever.retrieve("brakes", mode="semantic")  # type: ignore[arg-type]


# -- answers (curated gpt-5.4-mini recordings) -----------------------------------------------------


def test_grounded_answer_cites_the_sources_it_was_given(
    client: AzureOpenAI, retriever: Retriever
) -> None:
    result = ask(client, retriever, RANGE, model=CHAT, reasoning_effort="low")
    assert result.completion.model == "gpt-5.4-mini-2026-03-17"
    usage = result.completion.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert (usage.completion_tokens_details.reasoning_tokens or 0) > 0
    assert result.grounded and result.unknown_citations == []
    assert [s.id for s in result.cited] == ["ebike-range-cold", "ebike-battery-storage"]
    assert [s.number for s in result.uncited] == [3]
    assert result.check() is result
    references = result.with_references()
    assert references.startswith(result.text)
    assert references.endswith(
        "Sources:\n[1] Why e-bike range drops in winter (ebike-range-cold)\n"
        "[2] E-bike battery care (ebike-battery-storage)"
    )


def test_a_citation_with_no_source_is_flagged(client: AzureOpenAI, retriever: Retriever) -> None:
    result = ask(client, retriever, HELMET, model=CHAT)
    assert len(result.sources) == 3
    assert result.unknown_citations == [4]
    assert [s.id for s in result.cited] == ["helmet"]
    assert not result.grounded
    assert "[4] (no such source)" in result.with_references()
    with pytest.raises(UngroundedAnswerError, match=r"cites \[4\] but only sources \[1\] to \[3\]"):
        result.check()


def test_an_answer_citing_nothing_is_not_grounded(
    client: AzureOpenAI, retriever: Retriever
) -> None:
    result = ask(client, retriever, LOCK, model=CHAT)
    assert "don't know" in result.text
    assert result.cited == [] and result.unknown_citations == []
    assert not result.grounded
    assert result.with_references() == result.text
    with pytest.raises(UngroundedAnswerError, match="cites no source") as caught:
        result.check()
    assert caught.value.answer is result


def test_an_answer_cut_off_while_reasoning_raises(
    client: AzureOpenAI, retriever: Retriever
) -> None:
    with pytest.raises(AnswerError, match="max_completion_tokens"):
        ask(client, retriever, SPONGY, model=CHAT, max_completion_tokens=64)


def test_an_unrecorded_question_gets_a_marked_answer_and_still_retrieves(
    client: AzureOpenAI, retriever: Retriever
) -> None:
    sources = retriever.retrieve("What does error E12 on the display mean?")
    assert sources[0].id == "ebike-error-e12"
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT, messages=build_messages("What does error E12 on the display mean?", sources)
    )
    assert raw.headers["x-replay-unrecorded"] == "true"
    result = answer(client, "What does error E12 on the display mean?", sources, model=CHAT)
    assert isinstance(result, GroundedAnswer)
    assert result.text.startswith("[unrecorded]")
    assert not result.grounded


def test_exercise_solution_passes() -> None:
    feedback = check_rrf(solution("10_hybrid_search").rrf)
    assert feedback.passed, feedback


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def ranks_from_zero(rankings: list[list[str]]) -> list[tuple[str, float]]:
        scores: dict[str, float] = {}
        for ranking in rankings:
            for rank, key in enumerate(ranking):
                scores[key] = scores.get(key, 0.0) + 1 / (60 + rank)
        return sorted(scores.items(), key=lambda item: -item[1])

    feedback = check_rrf(ranks_from_zero)
    assert not feedback.passed
    assert "'puncture' scored" in str(feedback) and "ranks count from 1" in str(feedback)


def test_exercise_keys_in_one_list_only_are_rejected_helpfully() -> None:
    def first_two_lists(rankings: list[list[str]]) -> list[tuple[str, float]]:
        return solution("10_hybrid_search").rrf(rankings[:2])  # type: ignore[no-any-return]

    feedback = check_rrf(first_two_lists)
    assert not feedback.passed and "'puncture' scored" in str(feedback)
    assert "for every list" in str(feedback)
