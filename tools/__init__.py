"""Repository tools, not part of the installed package: the local stack (`make up`, test fixtures), stub generation
(`make protos`), model archives (`make mars`) and the demo (`make demo`). Run them from the repository root
(`python -m tools.<name>`); they take the repository's paths as arguments, relative to the current directory."""
