"""DeeperFour: colorize, stabilize and cartoonize black-and-white films, in one process or on a cluster.

The package holds the runtime only (repository tools are in tools/). Subpackages:
    pipeline/      the hub: stage table, chunking, Stage objects, run_chunk, the embedded mode
    models/        the networks, their presets and weights
    video/         ffmpeg probe/decode/encode/mux, shot detection
    metrics/       temporal and quality metrics, compare videos
    train/         trainers of the three models
    distributed/   what the services share: object keys, storage, Kafka bus, job records, chunk codec
    serving/       TorchServe: the model servers' handler base and the client that calls them
    orchestrator/  gateway/  client/   the distributed services and the gRPC SDK
    v1/  torchserve/   generated protobuf/gRPC stubs (protos/)
Importing it is cheap (no torch, no gRPC) and changes nothing in the process; `modernize` loads the pipeline on
first use.
"""

__version__ = "0.1.0"


def modernize(input, output, **options):
    """Modernize a film in this process; see `deeperfour.pipeline.embedded.modernize`."""
    from deeperfour.pipeline.embedded import modernize as _modernize

    return _modernize(input, output, **options)
