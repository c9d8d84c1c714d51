"""The torch-free catalog the command line shows agrees with the model registry."""

from deeperfour.models import catalog
from deeperfour.models.cartoongan import STYLES
from deeperfour.models.registry import PRESETS


def test_catalog_names_every_preset_of_the_registry_by_stage():
    assert {name: catalog.stage_of(name) for name in PRESETS} == {name: p.stage for name, p in PRESETS.items()}
    assert sum(len(names) for names in catalog.PRESETS.values()) == len(PRESETS)
    for names in catalog.PRESETS.values():  # the lite preset first: the default, listed first in help
        assert names[0].endswith("-lite") and not PRESETS[names[0]].exact
    assert set(catalog.EXACT) == {name for name, p in PRESETS.items() if p.exact}
    assert catalog.STYLES == STYLES


def test_every_download_source_is_an_importable_model_with_a_pinned_hash():
    models = {s.model for s in catalog.SOURCES.values()}
    assert models == {"deoldify-artistic", "deoldify-stable", "deoldify-video"} | {f"cartoongan:{s}" for s in STYLES}
    for source in catalog.SOURCES.values():
        assert source.model.split(":")[0] in catalog.EXACT
        assert source.urls and all(u.startswith("https://") for u in source.urls)
        assert source.sha256 is not None and len(source.sha256) == 64
    assert catalog.SOURCES["deoldify-artistic"].size == 255_144_681
    assert catalog.SOURCES["deoldify-video"].size == catalog.SOURCES["deoldify-stable"].size == 874_066_230
