"""TorchServe handler of the colorizer model server: the embedded mode's colorize Stage on chunks named by object keys."""

from deeperfour.serving.handler import StageHandler


class ColorizerHandler(StageHandler):
    stage_name = "colorize"
