"""Python SDK of the distributed mode.

from deeperfour.client import Client
job = Client("127.0.0.1:50051", token="…").submit("film.mp4", stages=["colorize", "stabilize"])
job.wait(progress=True)
job.download("out.mp4")
"""

from deeperfour.client.sdk import Client, Job

__all__ = ["Client", "Job"]
