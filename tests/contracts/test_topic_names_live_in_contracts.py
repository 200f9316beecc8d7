"""No topic string outside contracts/: services, stand-ins and deploy files derive names from the registry.

Files under a ``generated/`` folder are written from the registry by a generator, and a test of their own
proves they equal a fresh generation; they are the only exception.
"""

from pathlib import Path

from contracts.topics import TOPICS

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["runtime", "services", "standins", "deploy"]


def test_no_topic_name_is_written_outside_contracts():
    names = [t.name for t in TOPICS]
    offenders = []
    for base in SCANNED:
        for path in (ROOT / base).rglob("*"):
            if path.suffix not in {".py", ".yaml", ".yml", ".json", ".toml", ".tmpl", ".sh"} or not path.is_file():
                continue
            if "generated" in path.relative_to(ROOT).parts:
                continue
            text = path.read_text(errors="replace")
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n in text]
    assert offenders == []
