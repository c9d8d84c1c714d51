"""TorchServe handler of the stabilizer model server: the embedded mode's stabilize Stage on stored chunks."""

from deeperfour.serving.handler import StageHandler


class StabilizerHandler(StageHandler):
    stage_name = "stabilize"
