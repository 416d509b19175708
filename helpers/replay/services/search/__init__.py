"""Azure AI Search: indexes and documents, queries ranked by BM25, vectors and RRF.

Everything about the service is here: its routes (:mod:`.routes`), ranking
(:mod:`.engine`), the OData subset (:mod:`.odata`), the index store (:mod:`.store`) and
its error answers (:mod:`.errors`). Index contents are computed from the documents
clients upload, never recorded.
"""
