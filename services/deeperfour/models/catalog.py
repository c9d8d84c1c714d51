"""The names the command line shows before any network is built: presets per stage, CartoonGAN styles, and where the
published checkpoints are downloaded from. Torch-free, so `deeperfour --help` stays instant; a unit test checks that
it agrees with registry.PRESETS and cartoongan.STYLES.
"""

from __future__ import annotations

from dataclasses import dataclass

from deeperfour.errors import WeightsError

STYLES = ("hayao", "hosoda", "paprika", "shinkai")  # the four published CartoonGAN checkpoints

# stage -> its presets, lite first (the default)
PRESETS: dict[str, tuple[str, ...]] = {
    "colorize": ("colorizer-lite", "deoldify-video", "deoldify-stable", "deoldify-artistic"),
    "stabilize": ("stabilizer-lite", "lai2018"),
    "cartoonize": ("cartoonizer-lite", "cartoongan"),
}
EXACT = ("deoldify-video", "deoldify-stable", "deoldify-artistic", "lai2018", "cartoongan")  # published architectures
BACKBONE = "mobilenet_v2-imagenet"  # the lite colorizer's pretrained encoder (models/mobilenet.py)


def stage_of(preset: str) -> str | None:
    return next((stage for stage, names in PRESETS.items() if preset in names), None)


def store_name(preset: str, style: str | None = None) -> str:
    """The store name of a preset's weights: '<preset>', or 'cartoongan-<style>' (hayao by default). Presets without
    styles ignore `style` (it is meant for the cartoonize stage only)."""
    if preset != "cartoongan":
        return preset
    style = (style or STYLES[0]).lower()
    if style not in STYLES:
        raise WeightsError(f"unknown CartoonGAN style {style!r}; valid: {', '.join(STYLES)}")
    return f"{preset}-{style}"


@dataclass(frozen=True)
class Source:
    """Where a published checkpoint lives and what it must be. `urls` are tried in order; size/sha256 are None when
    nothing is known (the download then records the hash it computed)."""

    model: str  # what `weights import --model` calls it: a preset name or cartoongan:STYLE
    filename: str
    urls: tuple[str, ...]
    size: int | None
    sha256: str | None
    pinned_by: str  # who published the size/hash (none of them was verified by this project)


_DEEPAI = "https://data.deepai.org/deoldify/"
_HF = "https://huggingface.co/spensercai/DeOldify/resolve/main/"
_CARTOONGAN = "https://github.com/clibdev/CartoonGAN-Test-Pytorch-Torch/releases/latest/download/"
_THIRD_PARTY = "third-party installers (not verified by DeeperFour)"
_CARTOONGAN_HASHES = {  # from the mirror's README (not verified by DeeperFour)
    "hayao": "8ab0e492efb3b705487db38679e363dc8b1f016692913bbe100587d695a9e2b5",
    "hosoda": "c666eea7700864d5972765cc43e926d900174648297bfef494006dc230fd1bf0",
    "paprika": "0629352a54838e56a2ad7fca3e6e51e6889d4338c37469f9ddb43e5929ef9475",
    "shinkai": "c3547f611e780e79aebde7f7bc2b6c278555d701620f125583d666351044c486",
}

SOURCES: dict[str, Source] = {
    s.model: s
    for s in [
        Source(
            "deoldify-artistic",
            "ColorizeArtistic_gen.pth",
            (_DEEPAI + "ColorizeArtistic_gen.pth", _HF + "ColorizeArtistic_gen.pth"),
            255_144_681,
            "3f750246fa220529323b85a8905f9b49c0e5d427099185334d048fb5b5e22477",
            _THIRD_PARTY,
        ),
        Source(
            "deoldify-stable",
            "ColorizeStable_gen.pth",
            ("https://www.dropbox.com/s/axsd2g85uyixaho/ColorizeStable_gen.pth?dl=1", _HF + "ColorizeStable_gen.pth"),
            874_066_230,
            "ca9cd7f43fb8b222c9a70f7b292e305a000694b0ff9d2ae4a6747b1a2e1ee5af",
            _THIRD_PARTY,
        ),
        Source(
            "deoldify-video",
            "ColorizeVideo_gen.pth",
            (_DEEPAI + "ColorizeVideo_gen.pth", _HF + "ColorizeVideo_gen.pth"),
            874_066_230,
            "e3d98bb6a222354c79f95485c2f078a89dc724e9183662506d9e0f5aafac83ad",
            _THIRD_PARTY,
        ),
        *(
            Source(
                f"cartoongan:{style}",
                f"cartoongan-{style}.pth",
                (f"{_CARTOONGAN}cartoongan-{style}.pth",),
                None,
                _CARTOONGAN_HASHES[style],
                "the mirror's README (not verified by DeeperFour)",
            )
            for style in STYLES
        ),
    ]
}
