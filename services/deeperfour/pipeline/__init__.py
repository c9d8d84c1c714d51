"""The pipeline, the hub every mode goes through: the stage table (table.py, torch-free), the chunking rule
(chunks.py), frame conversions (frames.py), the Stage objects and their shot state (stages.py, state.py),
`run_chunk` (runner.py) and the embedded mode (embedded.py)."""
