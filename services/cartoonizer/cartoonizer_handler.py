"""TorchServe handler of the cartoonizer model server: the embedded mode's cartoonize Stage on stored chunks."""

from deeperfour.serving.handler import StageHandler


class CartoonizerHandler(StageHandler):
    stage_name = "cartoonize"
