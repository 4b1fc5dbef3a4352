"""Every ToolBench format in one place.

* :mod:`pipeline.toolbench.documents`: tool documents (``<Category>/<tool>.json``), read into the
  catalog and written from it;
* :mod:`pipeline.toolbench.queries`: query files (``G1_query.json`` and the like) and the resolver
  that finds their ``api_list`` entries in a run's catalog;
* :mod:`pipeline.toolbench.answers`: answer files (``<query_id>_<method>.json``), written from
  trajectories;
* :mod:`pipeline.toolbench.names`: how names are compared across these files and the catalog.
"""
