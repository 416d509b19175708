"""The replay server's vector stores through the official SDK: files, batches, polling,
chunking, hybrid search, and the Responses ``file_search`` tool computed from them."""

from __future__ import annotations

import io

import pytest
from conftest import StartServer, sync_client, v1_client
from openai import BadRequestError, NotFoundError, OpenAI
from openai.types import StaticFileChunkingStrategyObjectParam

from helpers._support.tokenizer import get_encoding
from helpers.replay.services.vector_stores.store import PROCESSING_SECONDS, chunk_text

BIKES = (
    "# Bike rentals\n\nHelmets are included with every rental. Returning a bike after 8 pm "
    "costs a late fee of 5 euros. Electric bikes must be charged before they are returned.\n"
)
CAFE = (
    "# Cafe\n\nThe cafe serves oat milk cappuccino and vegan cake. It opens at 7 am on "
    "weekdays and at 9 am on Sundays.\n"
)


def static_chunks(size: int, overlap: int) -> StaticFileChunkingStrategyObjectParam:
    """The static chunking strategy: windows of ``size`` tokens, ``overlap`` shared."""
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


def upload(client: OpenAI, name: str, text: str) -> str:
    return client.files.create(
        file=(name, io.BytesIO(text.encode()), "text/markdown"), purpose="assistants"
    ).id


def test_batch_create_and_poll_indexes_files_and_search_ranks_the_relevant_one_first(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(mode="replay"))
    ids = [upload(client, "bikes.md", BIKES), upload(client, "cafe.md", CAFE)]
    store = client.vector_stores.create(
        name="kb", expires_after={"anchor": "last_active_at", "days": 7}
    )
    batch = client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=ids
    )
    assert batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.total) == (2, 2)
    retrieved = client.vector_stores.retrieve(store.id)
    assert retrieved.status == "completed" and retrieved.usage_bytes == len(BIKES) + len(CAFE)
    assert retrieved.last_active_at is not None
    assert retrieved.expires_at == retrieved.last_active_at + 7 * 86_400

    late = client.vector_stores.search(vector_store_id=store.id, query="late fee for returns")
    assert [r.filename for r in late.data] == ["bikes.md"]  # the cafe page is no evidence
    assert late.data[0].score == 1.0  # first in both legs
    opening = client.vector_stores.search(
        vector_store_id=store.id, query="opening hours on Sundays"
    )
    assert opening.data[0].filename == "cafe.md" and 0 < opening.data[-1].score <= 1
    coffee = client.vector_stores.search(vector_store_id=store.id, query="a hot coffee drink")
    assert coffee.data[0].filename == "cafe.md"  # semantic leg: no word in common with "cappuccino"
    one = client.vector_stores.search(vector_store_id=store.id, query="helmets", max_num_results=1)
    assert len(one.data) == 1 and "Helmets" in one.data[0].content[0].text


def test_a_file_is_in_progress_until_polled_or_processed_on_the_server_clock(
    start_server: StartServer,
) -> None:
    now = [1_700_000_000.0]
    client = v1_client(start_server(mode="replay", clock=lambda: now[0]))
    store = client.vector_stores.create(name="kb")
    first = client.vector_stores.files.create(
        vector_store_id=store.id, file_id=upload(client, "bikes.md", BIKES)
    )
    assert first.status == "in_progress"
    # Search skips files still processing.
    assert client.vector_stores.search(vector_store_id=store.id, query="helmets").data == []
    now[0] += PROCESSING_SECONDS
    assert client.vector_stores.search(vector_store_id=store.id, query="helmets").data

    second = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("cafe.md", io.BytesIO(CAFE.encode()))
    )
    assert second.status == "completed"  # the first poll finishes processing


def test_deleting_a_file_removes_its_chunks_from_search_results(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="replay"))
    bikes, cafe = upload(client, "bikes.md", BIKES), upload(client, "cafe.md", CAFE)
    store = client.vector_stores.create(name="kb", file_ids=[bikes, cafe])
    client.vector_stores.files.list(vector_store_id=store.id)  # a poll
    client.vector_stores.files.delete(file_id=bikes, vector_store_id=store.id)
    assert (
        client.vector_stores.search(vector_store_id=store.id, query="late fee helmets").data == []
    )
    assert client.vector_stores.search(vector_store_id=store.id, query="vegan cake").data
    client.files.delete(cafe)  # deleting the upload itself also takes it out of search
    assert client.vector_stores.search(vector_store_id=store.id, query="vegan cake").data == []
    with pytest.raises(NotFoundError, match="No file found"):
        client.vector_stores.files.retrieve(file_id=bikes, vector_store_id=store.id)


def test_chunking_uses_static_windows_with_the_requested_overlap(start_server: StartServer) -> None:
    encoding = get_encoding("cl100k_base")
    text = " ".join(f"Sentence number {n} talks about topic {n % 7}." for n in range(120))
    chunks = chunk_text(text, 100, 50)
    tokens = [encoding.encode(c) for c in chunks]
    assert all(len(t) <= 100 for t in tokens) and len(chunks) > 5
    assert tokens[0][50:] == tokens[1][:50]  # each window starts 50 tokens after the last

    split = chunk_text("日本語のテキストと café " * 300, 100, 50)
    assert len(split) > 1 and not any("\ufffd" in c for c in split)  # no character cut in two

    client = v1_client(start_server(mode="replay"))
    file_id = upload(client, "long.txt", text)
    store = client.vector_stores.create(name="kb")
    attached = client.vector_stores.files.create_and_poll(
        vector_store_id=store.id,
        file_id=file_id,
        chunking_strategy=static_chunks(100, 50),
    )
    assert attached.chunking_strategy is not None
    assert attached.chunking_strategy.static.max_chunk_size_tokens == 100  # type: ignore[union-attr]
    hits = client.vector_stores.search(vector_store_id=store.id, query="topic", max_num_results=50)
    assert len(hits.data) == len(chunks)
    default = client.vector_stores.files.create_and_poll(
        vector_store_id=client.vector_stores.create(name="d").id, file_id=file_id
    )
    assert default.chunking_strategy.static.chunk_overlap_tokens == 400  # type: ignore[union-attr]


def test_bad_requests_get_errors_that_name_the_parameter(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="replay"))
    file_id = upload(client, "bikes.md", BIKES)
    for size, overlap, param in (
        (50, 0, "chunking_strategy.static.max_chunk_size_tokens"),  # too small a window
        (200, 150, "chunking_strategy.static.chunk_overlap_tokens"),  # more than half of it
    ):
        with pytest.raises(BadRequestError) as refused:
            client.vector_stores.create(
                file_ids=[file_id], chunking_strategy=static_chunks(size, overlap)
            )
        assert refused.value.param == param
    with pytest.raises(NotFoundError, match="No vector store found with id 'vs_missing'"):
        client.vector_stores.retrieve("vs_missing")
    with pytest.raises(NotFoundError, match="file-missing"):
        client.vector_stores.create(file_ids=["file-missing"])
    store = client.vector_stores.create(name="kb")
    with pytest.raises(BadRequestError) as results:
        client.vector_stores.search(vector_store_id=store.id, query="x", max_num_results=51)
    assert results.value.param == "max_num_results"
    with pytest.raises(BadRequestError) as tool:
        client.responses.create(
            model="gpt-5.4-mini",
            input="hi",
            tools=[{"type": "file_search", "vector_store_ids": ["vs_nope"]}],
        )
    assert tool.value.param == "tools[0].vector_store_ids"


def test_list_pages_delete_and_the_dated_surface(start_server: StartServer) -> None:
    server = start_server(mode="replay")
    client = v1_client(server)
    for n in range(3):
        client.vector_stores.create(name=f"kb{n}")
    page = client.vector_stores.list(limit=2, order="asc")
    assert [s.name for s in page.data] == ["kb0", "kb1"] and page.has_more
    assert [
        s.name for s in client.vector_stores.list(after=page.data[-1].id, order="asc").data
    ] == ["kb2"]
    dated = sync_client(server)  # /openai/vector_stores?api-version=...
    assert {s.name for s in dated.vector_stores.list().data} == {"kb0", "kb1", "kb2"}
    deleted = dated.vector_stores.delete(page.data[0].id)
    assert deleted.deleted
    assert len(client.vector_stores.list().data) == 2


def test_a_stores_files_page_through_the_sdk_and_filter_by_status(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(mode="replay"))
    ids = [upload(client, f"doc{n}.md", f"# Doc {n}\n\nPage {n}.\n") for n in range(5)]
    store = client.vector_stores.create(name="kb")
    client.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=ids)
    first = client.vector_stores.files.list(vector_store_id=store.id, limit=2, order="asc")
    assert [f.id for f in first.data] == ids[:2] and first.has_more
    # The SDK follows `after` page by page: every file once, newest first by default.
    every = client.vector_stores.files.list(vector_store_id=store.id, limit=2)
    assert [f.id for f in every] == ids[::-1]
    done = client.vector_stores.files.list(vector_store_id=store.id, filter="completed")
    assert len(done.data) == 5 and not done.has_more
    assert client.vector_stores.files.list(vector_store_id=store.id, filter="failed").data == []
    with pytest.raises(BadRequestError) as too_many:
        client.vector_stores.files.list(vector_store_id=store.id, limit=101)
    assert (too_many.value.code, too_many.value.param) == ("integer_above_max_value", "limit")


def test_file_search_tool_lists_results_and_cites_the_files_retrieved(
    start_server: StartServer,
) -> None:
    client = v1_client(start_server(mode="lenient"))
    bikes, cafe = upload(client, "bikes.md", BIKES), upload(client, "cafe.md", CAFE)
    store = client.vector_stores.create(name="kb")
    client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[bikes, cafe]
    )
    response = client.responses.create(
        model="gpt-5.4-mini",
        input="What does returning a bike late cost?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
        include=["file_search_call.results"],
    )
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "file_search_call", "message"]
    call = response.output[1]
    assert call.type == "file_search_call" and call.results
    assert call.results[0].filename == "bikes.md" and "late fee" in (call.results[0].text or "")
    message = response.output[2]
    assert message.type == "message"
    text = message.content[0]
    assert text.type == "output_text" and "[unrecorded]" in text.text and "late fee" in text.text
    citations = [a for a in text.annotations if a.type == "file_citation"]
    assert citations and citations[0].file_id == bikes and citations[0].filename == "bikes.md"
    assert 0 < citations[0].index <= len(text.text)

    without = client.responses.create(
        model="gpt-5.4-mini",
        input="What does returning a bike late cost?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
    )
    assert without.output[1].type == "file_search_call" and without.output[1].results is None


def test_a_streamed_file_search_sends_the_search_events(start_server: StartServer) -> None:
    client = v1_client(start_server(mode="lenient"))
    store = client.vector_stores.create(name="kb", file_ids=[upload(client, "cafe.md", CAFE)])
    client.vector_stores.retrieve(store.id)
    with client.responses.stream(
        model="gpt-5.4-mini",
        input="When does the cafe open on Sundays?",
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds.index("response.file_search_call.searching") < kinds.index(
        "response.output_text.annotation.added"
    )
    message = final.output[-1]
    assert message.type == "message"
    text = message.content[0]
    assert text.type == "output_text"
    assert any(a.type == "file_citation" for a in text.annotations)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/vector_stores", [1, 2]),
        ("POST", "/vector_stores", {"name": 3, "file_ids": "file-1"}),
        ("POST", "/vector_stores", {"chunking_strategy": {"type": "static", "static": 800}}),
        ("POST", "/vector_stores", {"expires_after": {"anchor": "last_active_at", "days": True}}),
        ("POST", "/vector_stores/{vs}/search", {"query": [1]}),
        ("POST", "/vector_stores/{vs}/search", {"query": "x", "filters": {"type": "and"}}),
        ("POST", "/vector_stores/{vs}/search", {"query": "x", "filters": {"filters": "ab"}}),
        (
            "POST",
            "/vector_stores/{vs}/search",
            {"query": "x", "ranking_options": {"hybrid_search": 1}},
        ),
        ("POST", "/vector_stores/{vs}/files", {"file_id": 7}),
        ("POST", "/vector_stores/{vs}/file_batches", {"file_ids": []}),
        ("GET", "/vector_stores?limit=abc", None),
        ("GET", "/vector_stores/{vs}/files/file-none", None),
        (
            "POST",
            "/responses",
            {"model": "gpt-5.4-mini", "input": "x", "tools": [{"type": "file_search"}]},
        ),
    ],
)
def test_malformed_requests_get_azure_4xx_answers_never_a_server_error(
    start_server: StartServer, method: str, path: str, body: object
) -> None:
    server = start_server(mode="lenient")
    client = v1_client(server)
    store = client.vector_stores.create(name="kb", file_ids=[upload(client, "cafe.md", CAFE)])
    client.vector_stores.retrieve(store.id)
    url = f"{server.url}/openai/v1" + path.replace("{vs}", store.id)
    answer = client._client.request(method, url, json=body, headers={"api-key": server.api_key})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["message"]
