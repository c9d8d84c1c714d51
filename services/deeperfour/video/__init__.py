"""Video in and out: probing (PyAV), decoding and encoding through ffmpeg pipes with the source's audio muxed back,
and shot detection (PySceneDetect)."""
