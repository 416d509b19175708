"""helpers.rag through the official SDK against the replay server: upload, vector
store create and poll, an answer with file_search whose citations are checked, removal."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import StartServer, solution, v1_client
from openai.types.responses import Response

from helpers.rag import (
    Answer,
    Citation,
    CitationError,
    FileSearchError,
    KnowledgeBase,
    Retrieved,
    answer_of,
    ask,
    build_knowledge_base,
    check_citations,
    check_unsupported_citations,
    create_vector_store,
    remove_file,
    upload_files,
)

QUESTION = "How much is the fee for returning a bike late?"  # recorded in test_rag.yaml


@pytest.fixture
def corpus(tmp_path: Path) -> list[Path]:
    bikes = tmp_path / "bikes.md"
    bikes.write_text(
        "# Bike rentals\n\nHelmets are included with every rental. Returning a bike after "
        "8 pm costs a late fee of 5 euros.\n",
        encoding="utf-8",
    )
    cafe = tmp_path / "cafe.md"
    cafe.write_text(
        "# Cafe\n\nThe cafe serves oat milk cappuccino and vegan cake. It opens at 7 am.\n",
        encoding="utf-8",
    )
    return [bikes, cafe]


def test_a_recorded_answer_keeps_its_text_and_cites_the_uploaded_file_it_retrieved(
    start_server: StartServer, corpus: list[Path]
) -> None:
    client = v1_client(start_server("test_rag.yaml", mode="replay"))
    kb = build_knowledge_base(client, corpus, "test-kb")
    assert sorted(kb.files.values()) == ["bikes.md", "cafe.md"]
    assert client.vector_stores.retrieve(kb.vector_store_id).file_counts.completed == 2

    answer = ask(client, "gpt-5.4-mini", QUESTION, kb)
    assert answer.text.startswith("Returning a bike after 8 pm costs a late fee of 5 euros.")
    assert answer.queries == [QUESTION]
    assert answer.results[0].filename == "bikes.md" and "late fee" in answer.results[0].text
    bikes_id = next(k for k, v in kb.files.items() if v == "bikes.md")
    assert answer.citations and answer.citations[0].file_id == bikes_id
    assert answer.citations[0].sentence.endswith("late fee of 5 euros.")
    assert answer.cited_files == ["bikes.md"]


def test_removing_a_file_takes_it_out_of_the_next_answer(
    start_server: StartServer, corpus: list[Path]
) -> None:
    client = v1_client(start_server(mode="lenient"))
    kb = build_knowledge_base(client, corpus, "test-kb", chunk_size=200, chunk_overlap=100)
    before = ask(client, "gpt-5.4-mini", "late fee for bikes", kb)
    assert "bikes.md" in {r.filename for r in before.results}
    bikes_id = next(k for k, v in kb.files.items() if v == "bikes.md")
    kb = remove_file(client, kb, bikes_id)
    assert list(kb.files.values()) == ["cafe.md"]
    after = ask(client, "gpt-5.4-mini", "late fee for bikes", kb)
    assert "bikes.md" not in {r.filename for r in after.results}
    assert "bikes.md" not in after.cited_files
    assert "nothing relevant" in after.text
    assert [f.id for f in client.files.list().data] == list(kb.files)


def test_citations_of_files_not_uploaded_or_not_retrieved_are_rejected() -> None:
    answer = Answer(
        response_id="resp_1",
        text="Five euros.",
        queries=["fee"],
        results=[],
        citations=[Citation(file_id="file-x", filename="x.md", index=11, sentence="Five euros.")],
    )
    with pytest.raises(CitationError, match="not one of the uploaded files"):
        check_citations(answer, {"file-a": "a.md"})
    with pytest.raises(CitationError, match=r"uploaded as 'y\.md'"):
        check_citations(answer, {"file-x": "y.md"})
    retrieved = answer.model_copy(
        update={"results": [Retrieved(file_id="file-a", filename="a.md", score=1, text="t")]}
    )
    with pytest.raises(CitationError, match="did not retrieve"):
        check_citations(retrieved, {"file-x": "x.md", "file-a": "a.md"})


def test_bad_input_gets_an_exception_that_says_what_was_wrong(
    start_server: StartServer, tmp_path: Path
) -> None:
    client = v1_client(start_server(mode="lenient"))
    with pytest.raises(FileNotFoundError, match=r"nothing\.md"):
        upload_files(client, [tmp_path / "nothing.md"])
    with pytest.raises(ValueError, match="chunk_overlap"):
        create_vector_store(client, "kb", ["file-1"], chunk_size=200, chunk_overlap=150)
    with pytest.raises(ValueError, match="expires_after_days"):
        create_vector_store(client, "kb", ["file-1"], expires_after_days=0)
    with pytest.raises(ValueError, match="chunk_size"):
        create_vector_store(client, "kb", ["file-1"], chunk_size=50)
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(FileSearchError, match="failed to index"):
        build_knowledge_base(client, [image], "kb")
    kb = KnowledgeBase(vector_store_id="vs_x", files={})
    with pytest.raises(ValueError, match="question"):
        ask(client, "gpt-5.4-mini", "  ", kb)
    with pytest.raises(KeyError, match="file-9"):
        remove_file(client, kb, "file-9")


def test_a_recorded_stream_keeps_its_text_and_gets_the_search_events_and_citations(
    start_server: StartServer, corpus: list[Path]
) -> None:
    client = v1_client(start_server("test_rag.yaml", mode="replay"))
    kb = build_knowledge_base(client, corpus, "test-kb")
    with client.responses.stream(
        model="gpt-5.4-mini",
        input="When does the cafe open on Sundays?",  # recorded in test_rag.yaml, streamed
        tools=[{"type": "file_search", "vector_store_ids": [kb.vector_store_id]}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "On Sundays the cafe opens at 9 am; on weekdays it opens at 7 am."
    assert kinds.index("response.file_search_call.completed") < kinds.index(
        "response.output_text.delta"
    )
    answer = answer_of(final)
    assert answer.queries == ["When does the cafe open on Sundays?"]
    assert answer.results == []  # not asked for with include
    assert answer.cited_files == ["cafe.md"]
    check_citations(answer, kb.files)


def test_exercise_solution_passes() -> None:
    feedback = check_unsupported_citations(solution("14_rag").unsupported_citations)
    assert feedback.passed, feedback.message


def test_exercise_wrong_answer_is_rejected_helpfully() -> None:
    def uploads_only(response: Response, uploaded: dict[str, str]) -> list[str]:
        answer = answer_of(response)
        return sorted({c.filename for c in answer.citations if c.file_id not in uploaded})

    feedback = check_unsupported_citations(uploads_only)
    assert not feedback.passed
    assert "did not retrieve" in feedback.message
    assert "file_search_call's results do not include it" in feedback.message


def test_exercise_missing_results_taken_as_nothing_retrieved_is_rejected() -> None:
    def none_as_empty(response: Response, uploaded: dict[str, str]) -> list[str]:
        answer = answer_of(response)
        retrieved = {r.file_id for r in answer.results}
        return sorted({c.filename for c in answer.citations if c.file_id not in retrieved})

    feedback = check_unsupported_citations(none_as_empty)
    assert not feedback.passed and "results are None" in feedback.message
