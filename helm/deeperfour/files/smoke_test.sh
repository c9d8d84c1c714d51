#!/bin/sh
# `helm test` smoke test: the gateway answers gRPC health, then a one-second grey clip with sound goes
# through the whole pipeline and comes back with the same number of frames.
# Needs (from the orchestrator image): python with grpcio-health-checking, Debian ffmpeg/ffprobe and
# the `deeperfour submit` command. GATEWAY, DEEPERFOUR_GATEWAY_TOKEN, STAGES (the enabled stages)
# and TIMEOUT come from the pod, and DEEPERFOUR_GATEWAY_CA_FILE when the gateway serves TLS.
set -eu
cd /tmp

python - <<'PY'
import os, sys
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
ca = os.environ.get("DEEPERFOUR_GATEWAY_CA_FILE")
if ca:
    with open(ca, "rb") as f:
        channel = grpc.secure_channel(os.environ["GATEWAY"], grpc.ssl_channel_credentials(f.read()))
else:
    channel = grpc.insecure_channel(os.environ["GATEWAY"])
with channel as ch:
    status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=30).status
if status != health_pb2.HealthCheckResponse.SERVING:
    sys.exit(f"gateway health is {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")
print("gateway: SERVING")
PY

ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=320x240:rate=24" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 1 -vf "hue=s=0" -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest clip.mp4

timeout "$TIMEOUT" deeperfour submit --address "$GATEWAY" --stages "$STAGES" --wait -o out.mp4 clip.mp4

frames_in=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 clip.mp4)
frames_out=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 out.mp4)
audio_out=$(ffprobe -v error -select_streams a -show_entries stream=codec_type -of csv=p=0 out.mp4 | wc -l)
echo "frames in=$frames_in out=$frames_out audio streams out=$audio_out"
[ "$frames_in" = "$frames_out" ] || { echo "frame count changed"; exit 1; }
[ "$audio_out" -ge 1 ] || { echo "audio stream lost"; exit 1; }
echo "smoke test passed"
