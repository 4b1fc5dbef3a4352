"""Dataset exports: one module per output format, streamed from the verified samples."""
