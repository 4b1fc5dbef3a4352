"""Dataset exports: one module per output format, streamed from the verified samples.

* :mod:`~pipeline.export.stage`: ``export_dataset`` / ``export_datasets``, the stage entry;
* :mod:`~pipeline.export.common`: input, split rule, chosen-path steps, schema cleaning, writers;
* :mod:`~pipeline.export.card`: dataset card and ``SHA256SUMS``;
* formats: :mod:`~pipeline.export.toolllama`, :mod:`~pipeline.export.openai_chat`,
  :mod:`~pipeline.export.sharegpt`, :mod:`~pipeline.export.rl`, :mod:`~pipeline.export.retriever`.
"""
