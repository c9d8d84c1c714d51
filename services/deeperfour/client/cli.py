"""`deeperfour submit | status | watch | download | cancel`: the SDK on the command line.

The lead's cli.py calls `add_client_commands(subparsers)`; each command sets `args.func(args) -> int` and raises
DeeperFourError for problems meant for people.
"""

from __future__ import annotations

import argparse

from deeperfour.pipeline import table


def add_client_commands(subparsers) -> None:
    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--address",
            default=None,
            help="gateway host:port (default $DEEPERFOUR_GATEWAY_ADDRESS or 127.0.0.1:$DEEPERFOUR_GATEWAY_PORT)",
        )
        p.add_argument("--token", default=None, help="gateway token (default $DEEPERFOUR_GATEWAY_TOKEN)")
        p.add_argument(
            "--ca-file",
            default=None,
            help="PEM certificate(s) of the CA that signed a TLS gateway's certificate; implies --tls "
            "(default $DEEPERFOUR_GATEWAY_CA_FILE)",
        )
        p.add_argument(
            "--tls",
            action="store_true",
            default=None,
            help="connect with TLS, trusting the system's CAs (default $DEEPERFOUR_GATEWAY_TLS)",
        )
        p.add_argument(
            "--tls-server-name",
            default=None,
            help="the name in the gateway's certificate when it differs from the address's host, e.g. through "
            "kubectl port-forward (default $DEEPERFOUR_GATEWAY_TLS_SERVER_NAME)",
        )
        return p

    p = common(subparsers.add_parser("submit", help="send a film to the distributed stack"))
    p.add_argument("input", help="local film, or s3://<bucket>/<key> of an object in the stack's bucket")
    p.add_argument("--stages", default=",".join(table.DEFAULT), help="comma-separated stages, in order")
    p.add_argument("--chunk-frames", type=int, default=0, help="frames per chunk (0: the orchestrator's default)")
    p.add_argument("--format", default="", help="output container (mp4, mkv, mov, ...)")
    p.add_argument("--wait", action="store_true", help="wait for the job, with a progress bar")
    p.add_argument("-o", "--output", default=None, help="with --wait: download the film here")
    p.set_defaults(func=_submit)

    p = common(subparsers.add_parser("status", help="show a job (or every job without an id)"))
    p.add_argument("job_id", nargs="?")
    p.set_defaults(func=_status)

    p = common(subparsers.add_parser("watch", help="follow a job's progress until it ends"))
    p.add_argument("job_id")
    p.set_defaults(func=_watch)

    p = common(subparsers.add_parser("download", help="download a finished job's film"))
    p.add_argument("job_id")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_download)

    p = common(subparsers.add_parser("cancel", help="cancel a job"))
    p.add_argument("job_id")
    p.set_defaults(func=_cancel)


def _client(args):
    from deeperfour.client import Client

    return Client(
        args.address, token=args.token, tls=args.tls, ca_file=args.ca_file, tls_server_name=args.tls_server_name
    )


def _line(job) -> str:
    from deeperfour.distributed.jobs import state_name

    text = f"{job.job_id}  {state_name(job.state):9}  {job.chunks_done}/{job.chunks_total} chunks  {job.input_name}"
    if job.output_key:
        text += f"  -> {job.output_key}"
    if job.error:
        text += f"  error: {job.error}"
    return text


def _submit(args) -> int:
    with _client(args) as client:
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        job = client.submit(args.input, stages=stages, chunk_frames=args.chunk_frames, output_format=args.format)
        print(job.id)
        if args.wait or args.output:
            job.wait(progress=True)
            if args.output:
                print(job.download(args.output))
    return 0


def _status(args) -> int:
    with _client(args) as client:
        jobs = [client.job(args.job_id).info] if args.job_id else client.jobs()
        for job in jobs:
            print(_line(job))
    return 0


def _watch(args) -> int:
    from deeperfour.distributed.jobs import state_name

    with _client(args) as client:
        job = client.job(args.job_id)
        for event in job.watch():
            print(
                f"{state_name(event.state):9}  {event.chunks_done}/{event.chunks_total} chunks"
                + (f"  {event.message}" if event.message else ""),
                flush=True,
            )
        job.wait()
    return 0


def _download(args) -> int:
    with _client(args) as client:
        print(client.job(args.job_id).download(args.output))
    return 0


def _cancel(args) -> int:
    with _client(args) as client:
        print(_line(client.job(args.job_id).cancel().info))
    return 0
