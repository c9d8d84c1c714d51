"""TorchServe handler of the colorizer model server: the embedded mode's colorize Stage on stored chunks."""

from deeperfour.serving.handler import StageHandler


class ColorizerHandler(StageHandler):
    stage_name = "colorize"
