"""The replay server's offline stand-in embeddings, seen through the openai SDK (lenient mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import StartServer, sync_client
from openai import AzureOpenAI

from helpers._support.tokenizer import get_encoding
from helpers.replay.config import Deployment
from helpers.replay.services.inference import embeddings as stand_in

RECORDINGS = "test_embeddings.yaml"
MODEL = "text-embedding-3-small"
SIMILAR = [("cat", "kitten"), ("How do I reset my password?", "I forgot my login credentials")]
UNRELATED = [("cat", "invoice"), ("How do I reset my password?", "The weather in Paris is sunny")]
TEXTS = ["cat", "kitten", "invoice", "A quarterly revenue report", "Sales figures for Q3"]


def lenient(start_server: StartServer, **config: object) -> AzureOpenAI:
    return sync_client(start_server(RECORDINGS, mode="lenient", **config))


def vectors(client: AzureOpenAI, texts: list[str], **kw: object) -> np.ndarray:
    response = client.embeddings.create(model=MODEL, input=texts, **kw)  # type: ignore[arg-type]
    return np.array([d.embedding for d in sorted(response.data, key=lambda d: d.index)])


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def run_python(code: str, **env: str) -> str:
    """Run code in a fresh interpreter (nothing cached from this test process)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
        cwd=Path(__file__).parent.parent,
    )
    return done.stdout


@pytest.mark.parametrize("dimensions", [None, 256, 64])
def test_related_texts_are_closer_than_unrelated_ones(
    start_server: StartServer, dimensions: int | None
) -> None:
    client = lenient(start_server)
    extra = {} if dimensions is None else {"dimensions": dimensions}
    for (a, near), (_, far) in zip(SIMILAR, UNRELATED, strict=True):
        va, vnear, vfar = vectors(client, [a, near, far], **extra)
        assert cos(va, vnear) > cos(va, vfar) + 0.2, (a, near, far)


def test_unrecorded_embeddings_are_marked_as_simulated(start_server: StartServer) -> None:
    raw = lenient(start_server).embeddings.with_raw_response.create(model=MODEL, input="kitten")
    assert raw.headers["x-replay-unrecorded"] == "true"


def test_recorded_embeddings_are_still_replayed_exactly(start_server: StartServer) -> None:
    raw = lenient(start_server).embeddings.with_raw_response.create(
        model=MODEL, input=["cat"], dimensions=4, encoding_format="float"
    )
    assert "x-replay-unrecorded" not in raw.headers
    recorded = [0.5, -0.5, 0.5, -0.5]  # tests/recordings/test_embeddings.yaml
    assert raw.parse().data[0].embedding == recorded
    simulated = vectors(lenient(start_server), ["cat"], dimensions=5)[0][:4]
    assert not np.allclose(simulated / np.linalg.norm(simulated), recorded, atol=0.1)


@pytest.mark.parametrize("dimensions", [1, 8, 255, 256, 257, 1000, 1536])
def test_dimensions_are_honoured_and_vectors_have_unit_length(
    start_server: StartServer, dimensions: int
) -> None:
    got = vectors(lenient(start_server), TEXTS, dimensions=dimensions)
    assert got.shape == (len(TEXTS), dimensions)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_deployment_size_is_the_default_length(start_server: StartServer) -> None:
    large = Deployment(kind="embeddings", model="text-embedding-3-large", dimensions=3072)
    client = lenient(start_server, deployments={"large": large})
    response = client.embeddings.create(model="large", input="cat")
    assert len(response.data[0].embedding) == 3072
    assert response.model == "text-embedding-3-large"


def test_shortened_vectors_are_the_renormalised_start_of_the_full_vector(
    start_server: StartServer,
) -> None:
    client = lenient(start_server)
    full = vectors(client, TEXTS)
    for dimensions in (8, 256, 700):
        short = vectors(client, TEXTS, dimensions=dimensions)
        prefix = full[:, :dimensions] / np.linalg.norm(full[:, :dimensions], axis=1, keepdims=True)
        assert np.allclose(short, prefix, atol=1e-5)


def test_base64_and_float_vectors_are_identical(start_server: StartServer) -> None:
    client = lenient(start_server)
    as_base64 = vectors(client, TEXTS, dimensions=32)  # the SDK asks for base64 and decodes it
    as_float = vectors(client, TEXTS, dimensions=32, encoding_format="float")
    assert np.array_equal(as_float.astype(np.float32), as_base64.astype(np.float32))


def test_token_arrays_embed_like_the_text_they_encode(start_server: StartServer) -> None:
    client = lenient(start_server)
    tokens = get_encoding("cl100k_base").encode("kitten")
    response = client.embeddings.create(model=MODEL, input=[tokens], encoding_format="float")
    assert np.array_equal(
        response.data[0].embedding, vectors(client, ["kitten"], encoding_format="float")[0]
    )


def test_vectors_are_the_same_after_a_restart_and_in_a_fresh_process(
    start_server: StartServer,
) -> None:
    first = start_server(RECORDINGS, mode="lenient")
    before = vectors(sync_client(first), TEXTS, encoding_format="float")
    first.stop()
    after = vectors(lenient(start_server), TEXTS, encoding_format="float")
    fresh = run_python(
        f"""
        import json
        from helpers.replay.services.inference.embeddings import vector_for
        print(json.dumps([vector_for(t, 1536) for t in {TEXTS!r}]))
        """
    )
    assert np.array_equal(before, after)
    assert np.array_equal(before, np.array(json.loads(fresh)))


def test_full_size_vectors_keep_the_cosines_of_wordllama_itself(start_server: StartServer) -> None:
    """The server's 1536-d vectors are an isometric image of the library's own 256-d ones."""
    library = run_python(
        f"""
        import json
        from pathlib import Path
        import wordllama
        from wordllama import WordLlama
        # wordllama 0.4.0 looks for its shipped tokenizer in tokenizer/, not the wheel's
        # tokenizers/, and would download it; pointing cache_dir at the package finds it.
        package = Path(wordllama.__file__).parent
        model = WordLlama.load(cache_dir=package, disable_download=True)
        print(json.dumps(model.embed({TEXTS!r}, norm=True).tolist()))
        """
    )
    theirs = np.array(json.loads(library))
    ours = vectors(lenient(start_server), TEXTS)
    assert ours.shape[1] == 1536 and theirs.shape[1] == 256
    assert np.allclose(ours @ ours.T, theirs @ theirs.T, atol=2e-5)


def test_stand_in_model_loads_without_network_cache_or_logging_setup(tmp_path: Path) -> None:
    out = run_python(
        """
        import json, logging, socket

        def refuse(*args, **kwargs):
            raise OSError("network used")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        from helpers.replay.services.inference.embeddings import vector_for
        vector = vector_for("offline", 16)
        print(json.dumps({"n": len(vector), "handlers": len(logging.getLogger().handlers)}))
        """,
        HOME=str(tmp_path),
        HF_HUB_OFFLINE="1",
    )
    assert json.loads(out) == {"n": 16, "handlers": 0}
    assert not (tmp_path / ".cache").exists()


def test_model_is_loaded_once_when_first_used_from_many_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real_load = stand_in.StandInModel.load

    def counting_load(package_dir: Path | None = None) -> stand_in.StandInModel:
        calls.append(1)
        return real_load(package_dir)

    monkeypatch.setattr(stand_in, "_model", None)
    monkeypatch.setattr(stand_in.StandInModel, "load", staticmethod(counting_load))
    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(lambda _: stand_in.stand_in_model(), range(16)))
    assert len(calls) == 1
    assert all(m is models[0] for m in models)
