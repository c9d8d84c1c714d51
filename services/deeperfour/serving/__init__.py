"""TorchServe side of the distributed mode: the shared handler and the .mar builder."""
