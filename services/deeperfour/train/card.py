"""Model cards: model_store/<preset>.md next to each trained weights file (data, config, command, metrics)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_card(weights, *, title: str, summary: str, data: str, config, command: str, training: dict,
               metrics: str, notes: str = "") -> Path:
    """Writes <weights without .safetensors>.md; `metrics` is markdown (tables and the commands that made them)."""
    weights, config = Path(weights), Path(config)
    log = training.get("log")
    last = ""
    if log and Path(log).exists():
        rows = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
        if rows:
            last = "Last logged step: `" + json.dumps(rows[-1]) + "`\n"
    text = f"""# {title}

{summary}

| | |
|---|---|
| file | `{weights.name}` ({weights.stat().st_size / 1e6:.2f} MB, sha256 `{_sha256(weights)[:16]}…`) |
| steps | {training.get('steps_done')} in {training.get('minutes')} min on a shared 2-core CPU |
| config | `services/deeperfour/train/configs/{config.name}` |

## Data

{data}

## Command

```
{command}
```

{last}
## Config

```yaml
{config.read_text().strip()}
```

## Metrics

{metrics}
"""
    if notes:
        text += f"\n## Notes\n\n{notes}\n"
    out = weights.with_suffix(".md")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out
