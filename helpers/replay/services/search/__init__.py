"""Azure AI Search: indexes and documents, queries ranked by Lucene's BM25, vectors and RRF.

Everything about the service is here: its endpoints and front on the shared pipeline
(:mod:`.operations`), its documented request limits (:mod:`.limits`), text analysis
(:mod:`.analysis`), ranking (:mod:`.engine`), the OData subset (:mod:`.odata`), the index
store (:mod:`.store`), the time budget of a request (:mod:`.budget`) and its error answers
(:mod:`.errors`). Index contents are computed from the documents clients upload, never
recorded.
"""
