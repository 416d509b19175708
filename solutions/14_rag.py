"""Solution to notebook 14's exercise: the citations a file-search answer cannot back up.

A ``file_citation`` annotation names a file id and a name. It is backed up when the id is one of
the files you uploaded and, if the response includes the search results
(``include=["file_search_call.results"]``), the search retrieved that file. Without results
(``None``) retrieval cannot be checked, so only the uploads are.
"""

from __future__ import annotations

from openai.types.responses import Response


def unsupported_citations(response: Response, uploaded: dict[str, str]) -> list[str]:
    """Sorted, distinct names of cited files not uploaded, or not retrieved by the search."""
    retrieved: set[str] | None = None
    cited: dict[str, str] = {}
    for item in response.output:
        if item.type == "file_search_call" and item.results is not None:
            retrieved = (retrieved or set()) | {r.file_id for r in item.results if r.file_id}
        elif item.type == "message":
            for part in item.content:
                if part.type != "output_text":
                    continue
                for annotation in part.annotations:
                    if annotation.type == "file_citation":
                        cited[annotation.file_id] = annotation.filename
    return sorted(
        {
            name
            for file_id, name in cited.items()
            if file_id not in uploaded or (retrieved is not None and file_id not in retrieved)
        }
    )
