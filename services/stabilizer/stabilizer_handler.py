"""TorchServe handler of the stabilizer model server: the embedded mode's stabilize Stage on chunks named by object keys."""

from deeperfour.serving.handler import StageHandler


class StabilizerHandler(StageHandler):
    stage_name = "stabilize"
